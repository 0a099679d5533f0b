#!/usr/bin/python3
"""compare_weights.py A B: weights present in both TF.js model directories
(matched by name) must be bit-identical; prints how many were compared.
Used to check that transfer learning leaves a frozen base untouched."""
import json, os, sys
import numpy as np


def weights(d):
    m = json.load(open(os.path.join(d, "model.json")))
    out = {}
    for g in m["weightsManifest"]:
        data = b"".join(open(os.path.join(d, p), "rb").read() for p in g["paths"])
        off = 0
        for w in g["weights"]:
            n = int(np.prod(w["shape"])) if w["shape"] else 1
            out[w["name"].split(":")[0]] = np.frombuffer(data, "<f4", n, off)
            off += 4 * n
    return out


a, b = weights(sys.argv[1]), weights(sys.argv[2])
common = [k for k in a if k in b]
bad = [k for k in common if not np.array_equal(a[k], b[k])]
print("%d weights compared, %d differ%s" % (len(common), len(bad), (": " + ", ".join(bad[:5])) if bad else ""))
sys.exit(1 if bad or not common else 0)
