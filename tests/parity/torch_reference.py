#!/usr/bin/python3
"""Reference values from PyTorch for the parity test (tests/test_parity.c).

Usage: torch_reference.py DIR

DIR holds a model saved by mlexp (model.json + shards), x.npy (N, H, W, C)
and y.npy (N,) class labels. The Keras Sequential model is rebuilt in
PyTorch with the same weights (NHWC and HWIO layouts converted), run in
training mode (batch statistics), and the script writes into DIR:

  ref_logits.npy     pre-softmax outputs of the first forward pass
  ref_loss.npy       sparse categorical cross-entropy (mean)
  ref_grad_<i>.npy   gradient of weight i of the manifest, in Keras layout
  ref_moving_<i>.npy BatchNormalization moving statistics after that pass
  ref_adam.npy       losses of ten Adam steps on the same batch, Keras's rule
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float32)


def load_weights(d, manifest):
    out = []
    for group in manifest:
        data = b"".join(open(os.path.join(d, p), "rb").read() for p in group["paths"])
        off = 0
        for w in group["weights"]:
            n = int(np.prod(w["shape"])) if w["shape"] else 1
            a = np.frombuffer(data, dtype="<f4", count=n, offset=off).reshape(w["shape"]).copy()
            out.append((w["name"], a))
            off += 4 * n
    return out


def tf_same_pad(size, k, s, d=1):
    out = (size + s - 1) // s
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


ACT = {
    "linear": lambda x: x,
    "relu": F.relu,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu6": lambda x: torch.clamp(x, 0, 6),
    "elu": F.elu,
}


class Keras(torch.nn.Module):
    """A Keras Sequential config with its weights, evaluated in NHWC."""

    def __init__(self, layers, weights):
        super().__init__()
        self.layers = layers
        self.params = torch.nn.ParameterList()
        self.names = []
        self.buffers_ = {}
        for name, a in weights:
            short = name.split("/")[-1]
            t = torch.tensor(a)
            if short in ("moving_mean", "moving_variance"):
                self.buffers_[name] = t
            else:
                self.params.append(torch.nn.Parameter(t))
            self.names.append(name)
        self.by_name = {}
        pi = 0
        for name, _ in weights:
            short = name.split("/")[-1]
            if short in ("moving_mean", "moving_variance"):
                self.by_name[name] = self.buffers_[name]
            else:
                self.by_name[name] = self.params[pi]
                pi += 1

    def w(self, layer, short):
        return self.by_name.get(layer + "/" + short)

    def forward(self, x):
        """Returns (logits before a final softmax, output)."""
        logits = None
        for i, l in enumerate(self.layers):
            cls, c = l["class_name"], l["config"]
            name = c["name"]
            act = c.get("activation", "linear")
            last = i == len(self.layers) - 1
            if cls == "InputLayer":
                continue
            if cls == "Conv2D":
                k = self.w(name, "kernel")  # HWIO
                s = c["strides"]
                kh, kw = k.shape[0], k.shape[1]
                xc = x.permute(0, 3, 1, 2)
                if c["padding"] == "same":
                    pt, pb = tf_same_pad(xc.shape[2], kh, s[0])
                    pl, pr = tf_same_pad(xc.shape[3], kw, s[1])
                    xc = F.pad(xc, (pl, pr, pt, pb))
                y = F.conv2d(xc, k.permute(3, 2, 0, 1), self.w(name, "bias"), stride=tuple(s))
                x = y.permute(0, 2, 3, 1)
            elif cls == "MaxPooling2D":
                assert c["padding"] == "valid"
                p = c["pool_size"]
                st = c["strides"] or p
                x = F.max_pool2d(x.permute(0, 3, 1, 2), tuple(p), tuple(st)).permute(0, 2, 3, 1)
            elif cls == "BatchNormalization":
                mm, mv = self.w(name, "moving_mean"), self.w(name, "moving_variance")
                x = F.batch_norm(x.permute(0, 3, 1, 2), mm, mv, self.w(name, "gamma"), self.w(name, "beta"),
                                 training=True, momentum=1 - c["momentum"], eps=c["epsilon"]).permute(0, 2, 3, 1)
            elif cls == "Flatten":
                x = x.reshape(x.shape[0], -1)  # NHWC order, as Keras
            elif cls == "Dropout":
                assert c["rate"] == 0, "parity runs with dropout off"
            elif cls == "Dense":
                x = x @ self.w(name, "kernel")
                if self.w(name, "bias") is not None:
                    x = x + self.w(name, "bias")
            else:
                raise SystemExit("torch_reference.py: layer %s not supported here" % cls)
            if act == "softmax":
                assert last
                logits = x
                x = F.softmax(x, dim=-1)
            elif cls in ("Conv2D", "Dense"):
                x = ACT[act](x)
        return (logits if logits is not None else x), x


def main():
    d = sys.argv[1]
    model = json.load(open(os.path.join(d, "model.json")))
    layers = model["modelTopology"]["config"]["layers"]
    weights = load_weights(d, model["weightsManifest"])
    net = Keras(layers, weights)
    x = torch.tensor(np.load(os.path.join(d, "x.npy")))
    y = torch.tensor(np.load(os.path.join(d, "y.npy")).astype(np.int64))

    logits, _ = net(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    np.save(os.path.join(d, "ref_logits.npy"), logits.detach().numpy())
    np.save(os.path.join(d, "ref_loss.npy"), np.array([loss.item()], dtype=np.float32))
    for i, (name, _) in enumerate(weights):
        t = net.by_name[name]
        if isinstance(t, torch.nn.Parameter):
            np.save(os.path.join(d, "ref_grad_%d.npy" % i), t.grad.numpy())
        else:
            np.save(os.path.join(d, "ref_moving_%d.npy" % i), t.numpy())

    # ten Adam steps with Keras's update (and defaults), fresh weights
    net = Keras(layers, weights)
    lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-7
    m = [torch.zeros_like(p) for p in net.params]
    v = [torch.zeros_like(p) for p in net.params]
    losses = []
    for t in range(1, 11):
        for p in net.params:
            p.grad = None
        logits, _ = net(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        losses.append(loss.item())
        alpha = lr * (1 - b2 ** t) ** 0.5 / (1 - b1 ** t)
        with torch.no_grad():
            for p, mi, vi in zip(net.params, m, v):
                mi.mul_(b1).add_((1 - b1) * p.grad)
                vi.mul_(b2).add_((1 - b2) * p.grad * p.grad)
                p.sub_(alpha * mi / (vi.sqrt() + eps))
    np.save(os.path.join(d, "ref_adam.npy"), np.array(losses, dtype=np.float32))


if __name__ == "__main__":
    main()
