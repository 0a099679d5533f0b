#!/usr/bin/python3
"""torchvision's MobileNetV2 (random weights, eval, no_grad), the peer of
bench/mobilenet_bench.c: batch-1 latency (median of 30) and batch-32
throughput (median of 5), for the faster of NCHW and channels_last.
Prints one JSON line."""
import json
import statistics
import time

import torch
import torchvision

torch.set_num_threads(2)
net = torchvision.models.mobilenet_v2().eval()


def median_seconds(model, batch, reps, fmt):
    x = torch.randn(batch, 3, 224, 224).contiguous(memory_format=fmt)
    with torch.no_grad():
        model(x)
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t)
    return statistics.median(times)


best1, best32 = float("inf"), float("inf")
for fmt in (torch.contiguous_format, torch.channels_last):
    m = net.to(memory_format=fmt)
    best1 = min(best1, median_seconds(m, 1, 30, fmt))
    best32 = min(best32, median_seconds(m, 32, 5, fmt))
print(json.dumps({"peer": "pytorch %s torchvision %s" % (torch.__version__, torchvision.__version__), "threads": 2,
                  "batch1_ms": best1 * 1e3, "batch32_images_per_s": 32 / best32}))
