#!/usr/bin/env python3
"""api_test.py BUILD_DIR: `mlexp serve` end to end, stdlib and numpy only.

Trains small models into a temporary models directory (a digits MLP, a tiny
colour-image classifier on an image folder made here), writes a tensor model by
hand and a broken one, starts the server on a free port with throwaway web/
and wasm/ folders, then checks every URL and endpoint of docs/web.md, every
error (bad JSON, wrong shapes, unknown models, huge bodies, wrong methods,
path traversal, symlinks leading out), image uploads (PNG, JPEG, multipart)
against `mlexp predict`, JSON predictions against `mlexp predict --preprocess`,
concurrent requests, a request finishing after SIGTERM, a clean exit 0 and,
under the sanitizer build, no leak or error report. Prints "ok NAME" /
"FAIL NAME: why" and ends with "N passed, N failed"."""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

import numpy as np

BUILD = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/release")
BIN = os.path.join(BUILD, "mlexp")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
T = tempfile.mkdtemp(prefix="mlexp_api.")
os.environ.setdefault("MLEXP_DATA", os.path.join(ROOT, "data"))
passed = failed = 0


def ok(name):
    global passed
    passed += 1
    print("ok   " + name, flush=True)


def bad(name, why):
    global failed
    failed += 1
    print("FAIL %s: %s" % (name, why), flush=True)


def check(name, cond, why=""):
    (ok if cond else lambda n: bad(n, why or "condition false"))(name)
    return cond


def run(*args, **kw):
    return subprocess.run([BIN] + list(args), capture_output=True, text=True, timeout=600, **kw)


# ---- files the test makes ----

def png_bytes(pixels):
    """(h, w) gray or (h, w, 3) RGB uint8 array as an 8-bit PNG."""
    a = np.asarray(pixels, np.uint8)
    h, w = a.shape[:2]
    colour = 2 if a.ndim == 3 else 0
    raw = b"".join(b"\0" + a[y].tobytes() for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, colour, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def png_header_only(w, h):
    """A PNG whose header claims w x h pixels, with a token of image data."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b"")


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


def setup_models():
    models = os.path.join(T, "models")
    r = run("train", "digits_mlp", "--epochs", "1", "--limit", "500", "--threads", "2",
            "--out", os.path.join(models, "digits_mlp"))
    check("train_digits_mlp", r.returncode == 0, r.stderr[-500:])

    # a colour classifier on an image folder: reddish vs bluish 20x24 photos
    rng = np.random.RandomState(0)
    for cls, ch in (("blue", 2), ("red", 0)):
        for i in range(10):
            img = rng.randint(0, 80, (20, 24, 3))
            img[:, :, ch] += 150
            write(os.path.join(T, "rgb", cls, "%02d.png" % i), png_bytes(img))
    exp = {
        "name": "tiny_rgb", "title": "Red or blue",
        "dataset": {"name": "image_folder", "path": os.path.join(T, "rgb"), "image_size": [12, 16],
                    "channels": 3, "resize": "area"},
        "preprocessing": {"scale": 1 / 255, "offset": -0.5},
        "model": {"class_name": "Sequential", "config": {"name": "tiny_rgb", "layers": [
            {"class_name": "InputLayer", "config": {"batch_input_shape": [None, 12, 16, 3]}},
            {"class_name": "Conv2D", "config": {"filters": 4, "kernel_size": 3, "activation": "relu"}},
            {"class_name": "GlobalAveragePooling2D", "config": {}},
            {"class_name": "Dense", "config": {"units": 2, "activation": "softmax"}}]}},
        "training": {"epochs": 1, "batch_size": 4, "seed": 1, "optimizer": "adam",
                     "loss": "sparse_categorical_crossentropy"},
    }
    write(os.path.join(T, "tiny_rgb.json"), json.dumps(exp))
    r = run("train", os.path.join(T, "tiny_rgb.json"), "--threads", "2", "--out", os.path.join(models, "tiny_rgb"))
    check("train_tiny_rgb", r.returncode == 0, r.stderr[-500:])

    # a regression by hand: Dense(3) on 4 numbers, y = x W + b
    w = np.arange(12, dtype=np.float32).reshape(4, 3) / 10 - 0.5
    b = np.array([0.25, -1, 2], np.float32)
    topo = {"class_name": "Sequential", "config": {"name": "reg", "layers": [
        {"class_name": "InputLayer", "config": {"name": "x", "batch_input_shape": [None, 4]}},
        {"class_name": "Dense", "config": {"name": "out", "units": 3}}]}}
    manifest = [{"paths": ["w.bin"], "weights": [{"name": "out/kernel", "shape": [4, 3], "dtype": "float32"},
                                                 {"name": "out/bias", "shape": [3], "dtype": "float32"}]}]
    d = os.path.join(models, "tensor_reg")
    write(os.path.join(d, "model.json"), json.dumps({"format": "layers-model", "modelTopology": topo,
                                                     "weightsManifest": manifest}))
    write(os.path.join(d, "w.bin"), w.tobytes() + b.tobytes())
    write(os.path.join(d, "metadata.json"), json.dumps({"loss": "mean_squared_error"}))

    write(os.path.join(models, "broken", "model.json"), '{"format": "layers-model", "modelTopology": ')
    write(os.path.join(models, "not_a_model", "notes.txt"), "no model.json here")
    write(os.path.join(T, "secret.txt"), "TOP SECRET")
    os.symlink(os.path.join(T, "secret.txt"), os.path.join(models, "digits_mlp", "leak.txt"))
    return models, w, b


def setup_web():
    web, wasm = os.path.join(T, "web"), os.path.join(T, "wasm")
    files = {"index.html": "<!doctype html><title>mlexp</title>", "app.js": "export const a = 1;\n",
             "lib.mjs": "export default 2;\n", "css/style.css": "body { margin: 0 }\n",
             "icon.svg": "<svg xmlns='http://www.w3.org/2000/svg'/>", "data.json": "{\"a\": 1}",
             "sub/index.html": "<p>sub</p>"}
    for name, text in files.items():
        write(os.path.join(web, name), text)
    write(os.path.join(web, "img.png"), png_bytes(np.zeros((2, 2), np.uint8)))
    write(os.path.join(wasm, "mlexp.wasm"), b"\0asm\1\0\0\0")
    write(os.path.join(wasm, "mlexp.js"), "// engine\n")
    os.symlink(os.path.join(T, "secret.txt"), os.path.join(web, "escape.txt"))
    os.symlink(os.path.join(web, "app.js"), os.path.join(web, "inner.js"))  # inside: fine
    # network descriptions for the backprop page: one good, one broken, one
    # not a description, and files the list skips (a symlink leading out)
    ex = os.path.join(T, "examples", "explain")
    write(os.path.join(ex, "tiny.json"), json.dumps({"name": "A tiny net", "description": "one unit",
                                                     "inputs": [1], "layers": [{"type": "Dense", "units": 1}]}))
    write(os.path.join(ex, "cut.json"), "{\"name\": ")
    write(os.path.join(ex, "list.json"), "[1, 2]")
    write(os.path.join(ex, "notes.txt"), "not listed")
    write(os.path.join(ex, "odd name.json"), "{}")
    os.symlink(os.path.join(T, "secret.txt"), os.path.join(ex, "leak.json"))
    return web, wasm


# ---- the server ----

SERVERS = []  # stopped at the end even when the test itself crashes


class Server:
    def __init__(self, *args):
        SERVERS.append(self)
        self.err = open(os.path.join(T, "serve.err"), "w+")
        self.p = subprocess.Popen([BIN, "serve", "--host", "127.0.0.1", "--port", "0"] + list(args),
                                  stdout=subprocess.PIPE, stderr=self.err, text=True)
        self.line = self.p.stdout.readline().strip()  # "serving http://127.0.0.1:PORT/ (...)"
        m = re.search(r":(\d+)/", self.line)
        self.port = int(m.group(1)) if m else 0

    def stop(self, sig=signal.SIGTERM):
        if self.p.poll() is None:
            self.p.send_signal(sig)
        try:
            out, _ = self.p.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.p.kill()
            out, _ = self.p.communicate()
        self.err.seek(0)
        return self.p.returncode, out, self.err.read()


def request(port, method, path, body=None, headers=None, timeout=60):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    c.request(method, path, body=body, headers=headers or {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, data


def api(port, method, path, obj=None, headers=None):
    body = json.dumps(obj) if obj is not None and not isinstance(obj, (bytes, str)) else obj
    status, h, data = request(port, method, path, body, headers or {"Content-Type": "application/json"})
    try:
        j = json.loads(data) if data else None
    except ValueError:
        j = None
    return status, h, j


def isolated(h):
    return (h.get("cross-origin-opener-policy") == "same-origin" and
            h.get("cross-origin-embedder-policy") == "require-corp" and
            h.get("cross-origin-resource-policy") == "same-origin")


def expect_error(name, port, method, path, status, obj=None, headers=None, pattern=None):
    s, h, j = api(port, method, path, obj, headers)
    why = "got %s %s" % (s, j)
    good = s == status and isinstance(j, dict) and isinstance(j.get("error"), str) and isolated(h)
    if good and pattern:
        good = re.search(pattern, j["error"]) is not None
    check(name, good, why)
    return h


def raw(port, data, timeout=30, read_until_close=True):
    """Send bytes as they are (no client-side path clean-up) and return the answer."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
    except OSError:  # the server may answer (413) and close before all is sent
        pass
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
            if not read_until_close and b"\r\n\r\n" in out:
                head, _, rest = out.partition(b"\r\n\r\n")
                m = re.search(rb"content-length: *(\d+)", head, re.I)
                if m and len(rest) >= int(m.group(1)):
                    break
    except socket.timeout:
        pass
    s.close()
    return out


def status_of(resp):
    m = re.match(rb"HTTP/1\.[01] (\d+)", resp)
    return int(m.group(1)) if m else 0


def multipart(fields, boundary="mlexpBoundary123"):
    out = b""
    for name, filename, ctype, data in fields:
        out += b"--" + boundary.encode() + b"\r\n"
        disp = 'form-data; name="%s"' % name + ('; filename="%s"' % filename if filename else "")
        out += ("Content-Disposition: %s\r\n" % disp).encode()
        if ctype:
            out += ("Content-Type: %s\r\n" % ctype).encode()
        out += b"\r\n" + data + b"\r\n"
    return out + b"--" + boundary.encode() + b"--\r\n", "multipart/form-data; boundary=" + boundary


def cli_predict(model_dir, x, preprocess=True):
    xp, yp = os.path.join(T, "x.npy"), os.path.join(T, "y.npy")
    np.save(xp, np.asarray(x, np.float32))
    args = ["predict", model_dir, "--input", xp, "--output", yp] + (["--preprocess"] if preprocess else [])
    r = run(*args)
    return np.load(yp) if r.returncode == 0 else None


def cli_top(model_dir, image, k):
    """{label: percent} printed by mlexp predict --image"""
    r = run("predict", model_dir, "--image", image, "--top", str(k))
    return {m.group(2).strip(): float(m.group(1)) for m in re.finditer(r"^\s+([\d.]+)%\s+(.*)$", r.stdout, re.M)}


def api_top(j, classes):
    p = j["predictions"][0]["probabilities"]
    return {classes[i]: 100 * p[i] for i in range(len(p))}


def close_tops(cli, api_p):
    return bool(cli) and all(abs(api_p[k] - v) <= 0.006 for k, v in cli.items())


def main():
    models, reg_w, reg_b = setup_models()
    web, wasm = setup_web()
    srv = Server("--models", models, "--web", web, "--wasm", wasm, "--examples", os.path.join(T, "examples"),
                 "--max-body", "1M", "--threads", "2")
    port = srv.port
    check("start_line", re.fullmatch(r"serving http://127\.0\.0\.1:\d+/ \(3 models from .*models, 1 broken\)",
                                     srv.line) is not None, repr(srv.line))
    if not port:
        print("%d passed, %d failed" % (passed, failed + 1))
        return
    mlp_dir = os.path.join(models, "digits_mlp")

    # ---- GET /api/models ----
    s, h, j = api(port, "GET", "/api/models")
    check("list_status", s == 200 and h.get("content-type") == "application/json" and isolated(h), "%s %s" % (s, h))
    ms = {m["name"]: m for m in (j or {}).get("models", [])}
    check("list_names", list(ms) == ["broken", "digits_mlp", "tensor_reg", "tiny_rgb"], list(ms))
    check("list_broken", "error" in ms.get("broken", {}) and "model.json" in ms["broken"]["error"], ms.get("broken"))
    d = ms.get("digits_mlp", {})
    check("list_drawing", d.get("kind") == "drawing" and d.get("page") == "/draw.html?model=digits_mlp" and
          d.get("input_shape") == [28, 28, 1] and d.get("output_shape") == [10] and
          d.get("classes") == [str(i) for i in range(10)] and isinstance(d.get("test_accuracy"), float) and
          d.get("params") == 118282 and d.get("title", "").startswith("Handwritten digits"), d)
    t = ms.get("tiny_rgb", {})
    check("list_image", t.get("kind") == "image" and t.get("page") == "/classify.html?model=tiny_rgb" and
          t.get("input_shape") == [12, 16, 3] and t.get("classes") == ["blue", "red"], t)
    r = ms.get("tensor_reg", {})
    check("list_tensor", r.get("kind") == "tensor" and r.get("page") is None and r.get("classes") is None and
          r.get("title") == "tensor_reg" and r.get("test_accuracy") is None and r.get("params") == 15, r)

    # ---- GET /api/models/NAME ----
    s, h, j = api(port, "GET", "/api/models/digits_mlp")
    info = run("info", mlp_dir).stdout
    j = j or {}
    check("detail_summary", s == 200 and j.get("summary") and info.startswith(j["summary"]) and
          "Total params: 118,282" in j["summary"], (s, j.get("summary")))
    check("detail_fields", j.get("dataset") == "opencv_digits" and abs(j["preprocessing"]["scale"] - 1 / 255) < 1e-8
          and j["preprocessing"]["offset"] == 0 and j.get("resize") == "bilinear" and
          j.get("params") == {"trainable": 118282, "non_trainable": 0, "total": 118282} and
          j.get("metrics", {}).get("test_samples") == 500 and len(j.get("history", {}).get("epochs", [])) == 1 and
          j.get("files") == {"model": "/models/digits_mlp/model.json", "report": "/models/digits_mlp/report.html"}
          and j.get("kind") == "drawing" and j.get("description"), j)
    s, h, j = api(port, "GET", "/api/models/tensor_reg")
    check("detail_no_metadata", s == 200 and j["history"] is None and j["metrics"] is None and
          j["files"]["report"] is None and j["description"] is None and j["dataset"] is None and
          j["preprocessing"] == {"scale": 1, "offset": 0}, j)
    expect_error("detail_broken_500", port, "GET", "/api/models/broken", 500, pattern="did not load")
    expect_error("detail_unknown_404", port, "GET", "/api/models/nosuch", 404, pattern="unknown model 'nosuch'")
    expect_error("api_unknown_404", port, "GET", "/api/nosuch", 404)
    expect_error("api_model_action_404", port, "GET", "/api/models/digits_mlp/frobnicate", 404)

    # ---- files ----
    for path, ctype, src in (("/", "text/html", "web/index.html"), ("/app.js", "text/javascript", "web/app.js"),
                             ("/lib.mjs", "text/javascript", "web/lib.mjs"),
                             ("/css/style.css", "text/css", "web/css/style.css"),
                             ("/icon.svg", "image/svg+xml", "web/icon.svg"),
                             ("/data.json", "application/json", "web/data.json"),
                             ("/img.png", "image/png", "web/img.png"), ("/sub/", "text/html", "web/sub/index.html"),
                             ("/sub", "text/html", "web/sub/index.html"), ("/inner.js", "text/javascript", "web/app.js"),
                             ("/wasm/mlexp.wasm", "application/wasm", "wasm/mlexp.wasm"),
                             ("/wasm/mlexp.js", "text/javascript", "wasm/mlexp.js"),
                             ("/models/digits_mlp/model.json", "application/json", "models/digits_mlp/model.json"),
                             ("/models/digits_mlp/group1-shard1of1.bin", "application/octet-stream",
                              "models/digits_mlp/group1-shard1of1.bin"),
                             ("/models/digits_mlp/report.html", "text/html", "models/digits_mlp/report.html"),
                             ("/examples/explain/tiny.json", "application/json", "examples/explain/tiny.json")):
        s, h, data = request(port, "GET", path)
        with open(os.path.join(T, src), "rb") as f:
            want = f.read()
        check("file " + path, s == 200 and h.get("content-type", "").startswith(ctype) and data == want and
              isolated(h), "%s %s %d bytes" % (s, h.get("content-type"), len(data)))
    s, h, data = request(port, "HEAD", "/app.js")
    check("file_head", s == 200 and data == b"" and h.get("content-length") == str(len(b"export const a = 1;\n")),
          (s, h))
    for path in ("/nosuch.html", "/wasm/nosuch.wasm", "/models/nosuch/model.json", "/models/digits_mlp/nosuch",
                 "/models/digits_mlp", "/examples/explain/nosuch.json"):
        expect_error("file_404 " + path, port, "GET", path, 404)

    # ---- paths that try to leave their folder ----
    for name, path in (("dotdot", "/../secret.txt"), ("dotdot_deep", "/../../../../etc/passwd"),
                       ("encoded", "/%2e%2e/secret.txt"), ("encoded_upper", "/%2E%2E%2Fsecret.txt"),
                       ("encoded_slash", "/..%2fsecret.txt"), ("wasm_dotdot", "/wasm/../secret.txt"),
                       ("wasm_absolute", "/wasm//etc/passwd"), ("wasm_encoded_absolute", "/wasm/%2Fetc%2Fpasswd"),
                       ("model_dotdot", "/models/digits_mlp/../../secret.txt"),
                       ("model_dotdot_inside", "/models/digits_mlp/%2e%2e/digits_mlp/model.json"),
                       ("dot", "/./index.html"), ("nul", "/index.html%00.png"), ("nul_api", "/api/models%00"),
                       ("symlink_out", "/escape.txt"), ("model_symlink_out", "/models/digits_mlp/leak.txt"),
                       ("examples_dotdot", "/examples/../secret.txt"), ("examples_absolute", "/examples//etc/passwd"),
                       ("examples_symlink_out", "/examples/explain/leak.json")):
        resp = raw(port, b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        code = status_of(resp)
        check("traversal_" + name, code in (400, 404) and b"TOP SECRET" not in resp and b"root:" not in resp and
              b"cross-origin-embedder-policy: require-corp" in resp.lower(), resp[:200])

    # ---- methods ----
    h = expect_error("method_post_file", port, "POST", "/index.html", 405, "{}")
    check("method_post_file_allow", h.get("allow") == "GET, HEAD", h.get("allow"))
    h = expect_error("method_delete_list", port, "DELETE", "/api/models", 405)
    check("method_delete_list_allow", h.get("allow") == "GET, HEAD", h.get("allow"))
    h = expect_error("method_get_predict", port, "GET", "/api/models/digits_mlp/predict", 405)
    check("method_get_predict_allow", h.get("allow") == "POST", h.get("allow"))
    h = expect_error("method_put_predict", port, "PUT", "/api/models/digits_mlp/predict", 405, "{}")
    h = expect_error("method_post_examples", port, "POST", "/api/models/digits_mlp/examples", 405, "{}")
    check("method_post_examples_allow", h.get("allow") == "GET, HEAD", h.get("allow"))

    # ---- examples ----
    s, h, j = api(port, "GET", "/api/models/digits_mlp/examples?count=5&offset=100")
    ex = (j or {}).get("examples", [])
    check("examples", s == 200 and j.get("total") == 1000 and len(ex) == 5 and
          [e["index"] for e in ex] == list(range(100, 105)) and all(e["shape"] == [28, 28, 1] for e in ex) and
          all(len(e["pixels"]) == 784 and all(isinstance(v, int) and 0 <= v <= 255 for v in e["pixels"])
              for e in ex) and all(e["label"] == str(e["class"]) for e in ex) and
          any(v > 0 for v in ex[0]["pixels"]), (s, str(j)[:300]))
    s, h, j = api(port, "GET", "/api/models/digits_mlp/examples")
    check("examples_default_count", s == 200 and len(j["examples"]) == 10 and j["examples"][0]["index"] == 0, s)
    s, h, j = api(port, "GET", "/api/models/digits_mlp/examples?offset=998&count=100")
    check("examples_end", s == 200 and [e["index"] for e in j["examples"]] == [998, 999], s)
    s, h, j = api(port, "GET", "/api/models/tiny_rgb/examples?count=3")
    check("examples_image_folder", s == 200 and j["total"] == 4 and j["examples"][0]["shape"] == [12, 16, 3] and
          j["examples"][0]["label"] in ("blue", "red") and len(j["examples"][0]["pixels"]) == 12 * 16 * 3,
          (s, str(j)[:300]))
    for q in ("count=0", "count=101", "count=abc", "offset=-1", "offset=1001", "count=5x"):
        expect_error("examples_bad " + q, port, "GET", "/api/models/digits_mlp/examples?" + q, 400)
    expect_error("examples_no_dataset", port, "GET", "/api/models/tensor_reg/examples", 404, pattern="dataset")
    expect_error("examples_unknown_model", port, "GET", "/api/models/nosuch/examples", 404)

    # ---- the network descriptions of the backprop page ----
    s, h, j = api(port, "GET", "/api/explain/examples")
    ex = {e["name"]: e for e in (j or {}).get("examples", [])}
    check("networks_list", s == 200 and list(ex) == ["cut", "list", "tiny"] and
          ex["tiny"] == {"name": "tiny", "title": "A tiny net", "description": "one unit",
                         "url": "/examples/explain/tiny.json"}, (s, j))
    check("networks_errors", "cut.json:1:" in ex.get("cut", {}).get("error", "") and
          "not a network description" in ex.get("list", {}).get("error", "") and
          "TOP" not in json.dumps(j), j)
    h = expect_error("networks_post", port, "POST", "/api/explain/examples", 405, "{}")
    check("networks_post_allow", h.get("allow") == "GET, HEAD", h.get("allow"))
    expect_error("networks_unknown", port, "GET", "/api/explain/nosuch", 404)

    # ---- predictions from JSON against mlexp predict --preprocess ----
    s, h, j = api(port, "GET", "/api/models/digits_mlp/examples?count=4&offset=300")
    raw_x = np.array([e["pixels"] for e in j["examples"]], np.float32).reshape(4, 28, 28, 1)
    want = cli_predict(mlp_dir, raw_x)
    check("cli_predict_ran", want is not None and want.shape == (4, 10))

    def probs(j):
        return np.array([p["probabilities"] for p in j["predictions"]], np.float32) if j and "predictions" in j else None

    def same(name, j, rows, status=200, s=200):
        p = probs(j)
        check(name, s == status and p is not None and want is not None and p.shape == (len(rows), 10) and
              np.abs(p - want[rows]).max() <= 1e-5, "%s %s" % (s, str(j)[:300]))

    s, h, j = api(port, "POST", "/api/models/digits_mlp/predict", {"inputs": raw_x.tolist()})
    same("predict_batch", j, [0, 1, 2, 3], s=s)
    preds = (j or {}).get("predictions", [])
    check("predict_fields", j and j.get("model") == "digits_mlp" and j.get("classes") == [str(i) for i in range(10)]
          and all(p["class"] == int(np.argmax(p["probabilities"])) and p["label"] == str(p["class"]) and
                  abs(p["probability"] - max(p["probabilities"])) < 1e-7 and
                  abs(sum(p["probabilities"]) - 1) < 1e-4 for p in preds) and len(preds) == 4, str(j)[:300])
    s, h, j = api(port, "POST", "/api/models/digits_mlp/predict", {"inputs": raw_x[1].tolist()})
    same("predict_one_nested", j, [1], s=s)
    s, h, j = api(port, "POST", "/api/models/digits_mlp/predict", {"inputs": raw_x[2].reshape(-1).tolist()})
    same("predict_one_flat", j, [2], s=s)
    s, h, j = api(port, "POST", "/api/models/digits_mlp/predict", {"inputs": raw_x.reshape(4, -1).tolist()})
    same("predict_batch_flat", j, [0, 1, 2, 3], s=s)
    s, h, j = api(port, "POST", "/api/models/digits_mlp/predict",
                  {"inputs": (raw_x[:2] / 255).tolist(), "preprocessed": True})
    same("predict_preprocessed", j, [0, 1], s=s)
    s, h, j = api(port, "POST", "/api/models/digits_mlp/predict", {"inputs": raw_x[3].tolist()},
                  {"Content-Type": "text/plain"})
    same("predict_any_text_type", j, [3], s=s)
    s, h, j = api(port, "POST", "/api/models/tensor_reg/predict", {"inputs": [[1, 2, 3, 4], [0, -1, 0.5, 2]]})
    x = np.array([[1, 2, 3, 4], [0, -1, 0.5, 2]], np.float32)
    got = np.array([p["outputs"] for p in j["predictions"]]) if j and "predictions" in j else None
    check("predict_tensor", s == 200 and got is not None and got.shape == (2, 3) and
          np.abs(got - (x @ reg_w + reg_b)).max() < 1e-5 and j["classes"] is None, str(j)[:300])

    # ---- bad JSON and shapes: 400 with a message, and the server keeps going ----
    P = "/api/models/digits_mlp/predict"
    expect_error("bad_json", port, "POST", P, 400, '{"inputs": [1, 2', pattern="bad JSON")
    expect_error("bad_json_empty", port, "POST", P, 400, "", pattern="bad JSON")
    expect_error("bad_not_object", port, "POST", P, 400, "[1, 2]", pattern="inputs")
    expect_error("bad_no_inputs", port, "POST", P, 400, {"input": [1]}, pattern="inputs")
    expect_error("bad_duplicate_key", port, "POST", P, 400, '{"inputs": [1], "inputs": [2]}', pattern="bad JSON")
    expect_error("bad_shape", port, "POST", P, 400, {"inputs": np.zeros((28, 28)).tolist()},
                 pattern=r"\(28, 28\).*\(28, 28, 1\).*\(N, 28, 28, 1\).*784")
    expect_error("bad_shape_batch", port, "POST", P, 400, {"inputs": np.zeros((2, 28, 27, 1)).tolist()},
                 pattern=r"\(2, 28, 27, 1\)")
    expect_error("bad_shape_scalar", port, "POST", P, 400, {"inputs": 5}, pattern=r"\(\) \(a number\)")
    ragged = np.zeros((28, 28, 1)).tolist()
    ragged[5] = ragged[5][:27]
    expect_error("bad_ragged", port, "POST", P, 400, {"inputs": ragged}, pattern=r"inputs\[5\] has 27 items")
    strings = np.zeros((784,)).tolist()
    strings[9] = "x"
    expect_error("bad_string", port, "POST", P, 400, {"inputs": strings}, pattern=r"inputs\[9\] is a string")
    expect_error("bad_null", port, "POST", P, 400, {"inputs": [[None] * 784]}, pattern=r"inputs\[0\]\[0\] is null")
    expect_error("bad_empty", port, "POST", P, 400, {"inputs": []}, pattern="empty")
    expect_error("bad_huge_number", port, "POST", P, 400, '{"inputs": [' + "0, " * 783 + "1e39]}",
                 pattern=r"inputs\[783\] is beyond float32")
    expect_error("bad_deep", port, "POST", P, 400, {"inputs": [[[[[[[[[[[1]]]]]]]]]]]}, pattern="deep")
    expect_error("bad_preprocessed", port, "POST", P, 400, {"inputs": [0] * 784, "preprocessed": "yes"},
                 pattern="preprocessed")
    expect_error("predict_unknown_model", port, "POST", "/api/models/nosuch/predict", 404, {"inputs": [1]})
    expect_error("predict_broken_model", port, "POST", "/api/models/broken/predict", 500, {"inputs": [1]})
    expect_error("predict_tensor_wrong_shape", port, "POST", "/api/models/tensor_reg/predict", 400,
                 {"inputs": [1, 2, 3]}, pattern=r"\(3,\).*\(4,\)")

    # ---- image uploads ----
    digit = raw_x[0, :, :, 0].astype(np.uint8)
    png = png_bytes(digit)
    s, h, j = api(port, "POST", P, png, {"Content-Type": "image/png"})
    same("upload_png_raw", j, [0], s=s)
    body, ctype = multipart([("note", None, None, b"hello"), ("image", "digit.png", "image/png", png)])
    s, h, j = api(port, "POST", P, body, {"Content-Type": ctype})
    same("upload_png_multipart", j, [0], s=s)
    photos = [p for p in (os.path.join(ROOT, "data/photos/fruits.jpg"), os.path.join(ROOT, "data/photos/baboon.jpg"))
              if os.path.exists(p)]
    check("photos_present", len(photos) == 2, "data/photos/*.jpg (scripts/setup.sh)")
    rgb_dir = os.path.join(models, "tiny_rgb")
    big = np.random.RandomState(5).randint(0, 255, (37, 53, 3))
    write(os.path.join(T, "big.png"), png_bytes(big))
    for path in photos + [os.path.join(T, "big.png")]:
        with open(path, "rb") as f:
            data = f.read()
        kind = "image/jpeg" if path.endswith(".jpg") else "image/png"
        for mname, mdir, classes in (("tiny_rgb", rgb_dir, ["blue", "red"]),
                                     ("digits_mlp", mlp_dir, [str(i) for i in range(10)])):
            s, h, j = api(port, "POST", "/api/models/%s/predict" % mname, data, {"Content-Type": kind})
            cli = cli_top(mdir, path, len(classes))
            check("upload_vs_cli %s %s" % (mname, os.path.basename(path)),
                  s == 200 and close_tops(cli, api_top(j, classes)), "%s cli %s api %s" % (s, cli, str(j)[:200]))
    if photos:
        with open(photos[0], "rb") as f:
            jpg = f.read()
        body, ctype = multipart([("file", "fruits.jpg", "image/jpeg", jpg)])
        s, h, j = api(port, "POST", "/api/models/tiny_rgb/predict", body, {"Content-Type": ctype})
        check("upload_jpeg_multipart", s == 200 and close_tops(cli_top(rgb_dir, photos[0], 2),
                                                               api_top(j, ["blue", "red"])), s)
        expect_error("upload_jpeg_truncated", port, "POST", P, 400, jpg[:len(jpg) // 2],
                     {"Content-Type": "image/jpeg"}, pattern="JPEG")
        broken = bytearray(jpg)
        broken[2:200] = b"\x37" * 198
        expect_error("upload_jpeg_garbage", port, "POST", P, 400, bytes(broken), {"Content-Type": "image/jpeg"},
                     pattern="JPEG")
    expect_error("upload_png_corrupt", port, "POST", P, 400, png[:40] + b"\0" * 30 + png[70:],
                 {"Content-Type": "image/png"}, pattern="PNG")
    expect_error("upload_png_truncated", port, "POST", P, 400, png[:len(png) - 20], {"Content-Type": "image/png"},
                 pattern="PNG")
    expect_error("upload_not_image", port, "POST", P, 400, b"GIF89a not really", {"Content-Type": "image/gif"},
                 pattern="not a PNG or JPEG")
    expect_error("upload_empty", port, "POST", P, 400, b"", {"Content-Type": "image/png"}, pattern="no image")
    expect_error("upload_too_many_pixels", port, "POST", P, 413, png_header_only(5000, 5000),
                 {"Content-Type": "image/png"}, pattern="5000x5000")
    expect_error("upload_huge_header", port, "POST", P, 400, png_header_only(20000, 20000),
                 {"Content-Type": "image/png"}, pattern="20000x20000")
    body, ctype = multipart([("note", None, None, b"no file here")])
    expect_error("upload_multipart_no_file", port, "POST", P, 400, body, {"Content-Type": ctype}, pattern="upload")
    expect_error("upload_multipart_no_boundary", port, "POST", P, 400, b"--x\r\n\r\n",
                 {"Content-Type": "multipart/form-data"})
    expect_error("upload_to_tensor_model", port, "POST", "/api/models/tensor_reg/predict", 400, png,
                 {"Content-Type": "image/png"}, pattern="not images")

    # ---- bodies over --max-body (1M here) ----
    big_body = b'{"inputs": [' + b"0," * 600000 + b'0]}'
    resp = raw(port, b"POST " + P.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: %d\r\n\r\n" % len(big_body) + big_body)
    check("body_too_large", status_of(resp) == 413 and b"max-body" in resp and
          b"cross-origin-opener-policy" in resp.lower(), resp[:200])
    # a Content-Length over the limit is refused before any of the body is sent
    t0 = time.time()
    resp = raw(port, b"POST " + P.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: 100000000\r\n\r\n", timeout=10, read_until_close=False)
    check("body_too_large_early", status_of(resp) == 413 and time.time() - t0 < 5 and b'"error"' in resp, resp[:200])
    chunks = b"".join(b"%x\r\n" % 65536 + b"1" * 65536 + b"\r\n" for _ in range(20)) + b"0\r\n\r\n"
    resp = raw(port, b"POST " + P.encode() + b" HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
               b"Content-Type: application/json\r\nConnection: close\r\n\r\n" + chunks)
    check("body_too_large_chunked", status_of(resp) == 413, resp[:200])

    # ---- concurrent clients get the same answers as one ----
    results, errors = [], []

    def client(k):
        try:
            for i in range(15):
                rows = [(k + i) % 4]
                s, h, j = api(port, "POST", P, {"inputs": raw_x[rows].tolist()})
                results.append((rows[0], s, probs(j)))
                if i % 5 == 0:
                    s2, _, _ = api(port, "GET", "/api/models/digits_mlp/examples?count=2")
                    results.append((-1, s2, None))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))
    threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    good = not errors and want is not None and all(
        s == 200 and (row < 0 or np.abs(p[0] - want[row]).max() <= 1e-5) for row, s, p in results)
    check("concurrent", good and len(results) == 8 * 18, (errors[:2], len(results)))

    # ---- still serving after all that ----
    s, h, j = api(port, "GET", "/api/models")
    check("still_serving", s == 200 and len(j["models"]) == 4, s)

    # ---- a port in use is a clear error ----
    r = subprocess.run([BIN, "serve", "--port", str(port), "--models", models], capture_output=True, text=True,
                       timeout=60)
    check("port_in_use", r.returncode != 0 and "already in use" in r.stderr and str(port) in r.stderr, r.stderr)
    r = run("serve", "--port", "70000")
    check("bad_port_option", r.returncode == 2 and "--port" in r.stderr, r.stderr)
    r = run("serve", "--max-body", "lots")
    check("bad_max_body_option", r.returncode == 2 and "--max-body" in r.stderr, r.stderr)
    r = run("serve", "--help")
    check("serve_help", r.returncode == 0 and "--max-body" in r.stdout and "--models" in r.stdout, r.stdout)

    # ---- SIGTERM lets a request in flight finish, then exit 0 ----
    c = socket.create_connection(("127.0.0.1", port), timeout=30)
    body = json.dumps({"inputs": raw_x[0].tolist()}).encode()
    c.sendall(b"POST " + P.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body) + body[:100])
    time.sleep(0.5)
    srv.p.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    c.sendall(body[100:])
    resp = b""
    while True:
        chunk = c.recv(65536)
        if not chunk:
            break
        resp += chunk
    c.close()
    check("in_flight_finishes", status_of(resp) == 200 and b"connection: close" in resp.lower(), resp[:200])
    rc, out, err = srv.stop()
    check("sigterm_exit_0", rc == 0 and re.search(r"SIGTERM: stopped after \d+ requests", out) is not None,
          "rc %s out %r" % (rc, out[-300:]))
    check("broken_model_reported", "broken" in err and "does not load" in err, err[-500:])
    check("no_sanitizer_reports", "Sanitizer" not in err and "runtime error" not in err, err[-2000:])

    # ---- no models directory: serves nothing, SIGINT stops ----
    srv2 = Server("--models", os.path.join(T, "none"), "--web", web)
    check("no_models_start", re.fullmatch(r"serving http://127\.0\.0\.1:\d+/ \(0 models from .*none\)", srv2.line)
          is not None, srv2.line)
    s, h, j = api(srv2.port, "GET", "/api/models") if srv2.port else (0, {}, None)
    check("no_models_list", s == 200 and j == {"models": []}, (s, j))
    # the repository's examples/ by default
    s, h, j = api(srv2.port, "GET", "/api/explain/examples") if srv2.port else (0, {}, None)
    sig = [e for e in (j or {}).get("examples", []) if e["name"] == "sigmoid_221"]
    check("networks_default", s == 200 and sig and sig[0]["title"] == "2-2-1 sigmoid network" and
          sig[0]["url"] == "/examples/explain/sigmoid_221.json", (s, str(j)[:300]))
    s, h, data = request(srv2.port, "GET", "/examples/explain/sigmoid_221.json") if srv2.port else (0, {}, b"")
    with open(os.path.join(ROOT, "examples", "explain", "sigmoid_221.json"), "rb") as f:
        check("networks_default_file", s == 200 and data == f.read(), s)
    rc, out, err = srv2.stop(signal.SIGINT)
    check("sigint_exit_0", rc == 0 and "SIGINT: stopped" in out and "Sanitizer" not in err, (rc, out, err[-1000:]))


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a crash of the test itself counts as a failure
        import traceback
        traceback.print_exc()
        bad("api_test", repr(e))
    finally:
        for srv_left in SERVERS:
            if srv_left.p.poll() is None:
                srv_left.p.kill()
                srv_left.p.wait()
        shutil.rmtree(T, ignore_errors=True)
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
