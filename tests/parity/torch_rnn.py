#!/usr/bin/python3
"""Reference values from PyTorch for the recurrent parity test (tests/test_parity.c).

Usage: torch_rnn.py DIR

DIR holds a Sequential model saved by mlexp (model.json + shards) of
recurrent layers (LSTM, GRU with reset_after=True, SimpleRNN; tanh and
sigmoid), Dense layers and a final softmax, x.npy (N, T, I) and y.npy (N,)
class labels. The model is rebuilt from torch.nn.LSTM / GRU / RNN with the
same weights (Keras's gate order i, f, c, o is torch's i, f, g, o; Keras's
GRU z, r, h is torch's r, z, n, whose n is Keras's reset_after=True form),
and the script writes into DIR:

  ref_logits.npy    the outputs before the softmax
  ref_loss.npy      sparse categorical cross-entropy (mean)
  ref_grad_<i>.npy  the gradient of weight i of the manifest, in Keras layout
  ref_grad_x.npy    the gradient of the input
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

from torch_reference import load_weights  # this script's folder is on the path


def gates(a, order, u):
    """Keras gate blocks (last axis) in torch's order: rows of (gates * u, ...)."""
    return np.concatenate([a[..., k * u:(k + 1) * u] for k in order], axis=-1)


class Keras(torch.nn.Module):
    def __init__(self, layers, weights):
        super().__init__()
        self.layers = [l for l in layers if l["class_name"] != "InputLayer"]
        self.keras = {name: a for name, a in weights}
        self.mods = torch.nn.ModuleList()
        self.grad_map = []  # per manifest weight: (module parameter names, how to bring the gradient back)
        for l in self.layers:
            cls, c = l["class_name"], l["config"]
            name = c["name"]
            if cls == "Dense":
                k = self.keras[name + "/kernel"]
                m = torch.nn.Linear(k.shape[0], k.shape[1], bias=c["use_bias"])
                with torch.no_grad():
                    m.weight.copy_(torch.tensor(k.T))
                    if c["use_bias"]:
                        m.bias.copy_(torch.tensor(self.keras[name + "/bias"]))
            else:
                assert not c.get("go_backwards") and not c.get("stateful"), "parity runs forward, not stateful"
                assert c["activation"] == "tanh" and c.get("recurrent_activation", "sigmoid") == "sigmoid"
                k, r = self.keras[name + "/kernel"], self.keras[name + "/recurrent_kernel"]
                u = c["units"]
                b = self.keras.get(name + "/bias")
                if cls == "LSTM":
                    m = torch.nn.LSTM(k.shape[0], u, batch_first=True)
                    order = [0, 1, 2, 3]
                    bi, bh = (b, np.zeros_like(b)) if b is not None else (None, None)
                elif cls == "GRU":
                    assert c["reset_after"], "torch.nn.GRU is the reset_after=True form"
                    m = torch.nn.GRU(k.shape[0], u, batch_first=True)
                    order = [1, 0, 2]
                    bi, bh = (b[0], b[1]) if b is not None else (None, None)
                else:
                    m = torch.nn.RNN(k.shape[0], u, batch_first=True)
                    order = [0]
                    bi, bh = (b, np.zeros_like(b)) if b is not None else (None, None)
                with torch.no_grad():
                    m.weight_ih_l0.copy_(torch.tensor(gates(k, order, u).T))
                    m.weight_hh_l0.copy_(torch.tensor(gates(r, order, u).T))
                    if bi is None:
                        m.bias_ih_l0.zero_()
                        m.bias_hh_l0.zero_()
                    else:
                        m.bias_ih_l0.copy_(torch.tensor(gates(bi, order, u)))
                        m.bias_hh_l0.copy_(torch.tensor(gates(bh, order, u)))
                if b is None:
                    m.bias_ih_l0.requires_grad_(False)
                    m.bias_hh_l0.requires_grad_(False)
                m.order, m.units = order, u
            self.mods.append(m)

    def forward(self, x):
        for l, m in zip(self.layers, self.mods):
            cls, c = l["class_name"], l["config"]
            if cls == "Dense":
                x = m(x)
                act = c["activation"]
                if act == "softmax":
                    return x  # logits; the loss applies the softmax
                x = {"linear": lambda v: v, "tanh": torch.tanh, "relu": F.relu}[act](x)
            else:
                y, _ = m(x)
                x = y if c["return_sequences"] else y[:, -1]
        return x

    def keras_grads(self):
        """Every manifest weight's gradient, in Keras's layout and order."""
        out = []
        for l, m in zip(self.layers, self.mods):
            cls, c = l["class_name"], l["config"]
            if cls == "Dense":
                out.append(m.weight.grad.numpy().T)
                if c["use_bias"]:
                    out.append(m.bias.grad.numpy())
                continue
            inv = np.argsort(m.order)  # torch block j holds Keras gate order[j]
            u = m.units
            back = lambda a: np.concatenate([a[..., k * u:(k + 1) * u] for k in inv], axis=-1)
            out.append(back(m.weight_ih_l0.grad.numpy().T))
            out.append(back(m.weight_hh_l0.grad.numpy().T))
            if self.keras.get(c["name"] + "/bias") is not None:
                gi, gh = back(m.bias_ih_l0.grad.numpy()), back(m.bias_hh_l0.grad.numpy())
                # Keras's single bias is torch's input bias (the recurrent one stays 0)
                out.append(np.stack([gi, gh]) if cls == "GRU" else gi)
        return out


def main():
    d = sys.argv[1]
    torch.set_default_dtype(torch.float32)
    model = json.load(open(os.path.join(d, "model.json")))
    net = Keras(model["modelTopology"]["config"]["layers"], load_weights(d, model["weightsManifest"]))
    x = torch.tensor(np.load(os.path.join(d, "x.npy")), requires_grad=True)
    y = torch.tensor(np.load(os.path.join(d, "y.npy")).astype(np.int64))
    logits = net(x)
    loss = F.cross_entropy(logits, y)
    loss.backward()
    np.save(os.path.join(d, "ref_logits.npy"), logits.detach().numpy())
    np.save(os.path.join(d, "ref_loss.npy"), np.array([loss.item()], dtype=np.float32))
    np.save(os.path.join(d, "ref_grad_x.npy"), x.grad.numpy())
    for i, g in enumerate(net.keras_grads()):
        np.save(os.path.join(d, "ref_grad_%d.npy" % i), np.ascontiguousarray(g, dtype=np.float32))


if __name__ == "__main__":
    main()
