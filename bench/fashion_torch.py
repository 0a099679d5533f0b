#!/usr/bin/python3
"""The Fashion-MNIST CNN in PyTorch, the peer of bench/fashion_bench.c.

Same architecture (Conv2D 32 3x3 same relu, MaxPool 2, Conv2D 64 3x3 same
relu, MaxPool 2, Dense 128 relu, Dense 10), Adam 1e-3, batch 32, one epoch
over the 60,000 training images, then batch-256 inference over the 10,000
test images. Prints one JSON line: seconds, images/s, peak memory.

Usage: fashion_torch.py [--threads N] [--channels-last] [--data DIR]
"""
import argparse
import gzip
import json
import os
import resource
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 32, 3, padding=1)
        self.c2 = nn.Conv2d(32, 64, 3, padding=1)
        self.d1 = nn.Linear(7 * 7 * 64, 128)
        self.d2 = nn.Linear(128, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        x = F.relu(self.d1(torch.flatten(x, 1)))
        return self.d2(x)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--limit", type=int, default=0, help="train on the first N images only")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    xtr = torch.tensor(idx(os.path.join(a.data, "train-images-idx3-ubyte.gz")), dtype=torch.float32).unsqueeze(1) / 255
    ytr = torch.tensor(idx(os.path.join(a.data, "train-labels-idx1-ubyte.gz")).astype(np.int64))
    xte = torch.tensor(idx(os.path.join(a.data, "t10k-images-idx3-ubyte.gz")), dtype=torch.float32).unsqueeze(1) / 255
    if a.limit:
        xtr, ytr = xtr[:a.limit], ytr[:a.limit]
    xtr = xtr.contiguous(memory_format=fmt)
    xte = xte.contiguous(memory_format=fmt)
    net = Net().to(memory_format=fmt)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)

    net.train()
    t0 = time.perf_counter()
    perm = torch.randperm(len(xtr))
    for i in range(0, len(xtr), 32):
        idxs = perm[i:i + 32]
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(xtr[idxs]), ytr[idxs])
        loss.backward()
        opt.step()
    train_s = time.perf_counter() - t0
    train_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    net.eval()
    with torch.no_grad():
        net(xte[:256])  # warm-up
        t0 = time.perf_counter()
        for i in range(0, len(xte), 256):
            net(xte[i:i + 256])
        infer_s = time.perf_counter() - t0
    print(json.dumps({"peer": "pytorch %s%s" % (torch.__version__, " channels_last" if a.channels_last else ""),
                      "threads": a.threads, "train_seconds": train_s, "train_images_per_s": len(xtr) / train_s,
                      "infer_seconds": infer_s, "infer_images_per_s": len(xte) / infer_s,
                      "peak_rss_mib": train_rss, "final_loss": loss.item()}))


if __name__ == "__main__":
    main()
