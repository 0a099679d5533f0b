#!/usr/bin/python3
"""Reference values from PyTorch for the GAN parity test (tests/test_gan.c).

Usage: torch_gan.py DIR

DIR holds two models saved by mlexp, DIR/generator and DIR/discriminator
(model.json + shards, Keras Sequential configs), real.npy (N, H, W, C) and
noise_<s>.npy (N, Z) for steps s = 0, 1. Both are rebuilt in PyTorch with
the same weights and trained as the TensorFlow DCGAN tutorial's train_step
does: generator in training mode (batch statistics), L_G = BCE(1, D(G(z))),
L_D = BCE(1, D(x)) + BCE(0, D(G(z))) from logits, both gradients at the
weights of before the step, then Adam (Keras's rule) on each model with its
own loss only. Writes into DIR:

  ref_losses.npy            (steps, 2) L_G and L_D of each step
  ref_fake.npy              G(z) of step 0 (training mode)
  ref_grad_g_<i>.npy, ref_grad_d_<i>.npy   step 0's gradient of every trainable
                            weight (dL_G/dw for G, dL_D/dw for D), manifest order
  ref_g_<i>.npy, ref_d_<i>.npy   every weight of the manifests after the steps
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_reference import load_weights, tf_same_pad  # noqa: E402

torch.set_default_dtype(torch.float32)
STEPS = 2
LR, B1, B2, EPS = 1e-3, 0.9, 0.999, 1e-7  # the test compiles both with these


class Net:
    """A Keras Sequential config with its weights, evaluated in NHWC."""

    def __init__(self, d):
        model = json.load(open(os.path.join(d, "model.json")))
        self.layers = model["modelTopology"]["config"]["layers"]
        self.names = [n for n, _ in load_weights(d, model["weightsManifest"])]
        self.w = {}
        for name, a in load_weights(d, model["weightsManifest"]):
            moving = name.split("/")[-1].startswith("moving_")
            self.w[name] = torch.tensor(a, requires_grad=not moving)
        self.params = [self.w[n] for n in self.names if self.w[n].requires_grad]

    def get(self, layer, short):
        return self.w.get(layer + "/" + short)

    def __call__(self, x):
        for l in self.layers:
            cls, c = l["class_name"], l["config"]
            name = c["name"]
            if cls == "InputLayer":
                continue
            if cls == "Dense":
                x = x @ self.get(name, "kernel")
                if self.get(name, "bias") is not None:
                    x = x + self.get(name, "bias")
            elif cls == "BatchNormalization":
                ch = x.dim() - 1
                xt = x if ch == 1 else x.permute(0, 3, 1, 2)
                y = F.batch_norm(xt, self.get(name, "moving_mean"), self.get(name, "moving_variance"),
                                 self.get(name, "gamma"), self.get(name, "beta"), training=True,
                                 momentum=1 - c["momentum"], eps=c["epsilon"])
                x = y if ch == 1 else y.permute(0, 2, 3, 1)
            elif cls == "LeakyReLU":
                x = F.leaky_relu(x, c.get("alpha", 0.3))
            elif cls == "Reshape":
                x = x.reshape([x.shape[0]] + c["target_shape"])
            elif cls == "Conv2D":
                k, s = self.get(name, "kernel"), c["strides"]
                xc = x.permute(0, 3, 1, 2)
                assert c["padding"] == "same"
                pt, pb = tf_same_pad(xc.shape[2], k.shape[0], s[0])
                pl, pr = tf_same_pad(xc.shape[3], k.shape[1], s[1])
                xc = F.pad(xc, (pl, pr, pt, pb))
                x = F.conv2d(xc, k.permute(3, 2, 0, 1), self.get(name, "bias"), stride=tuple(s)).permute(0, 2, 3, 1)
            elif cls == "Conv2DTranspose":
                # TF's 'same': the full transposed convolution, cropped to in * stride
                k, s = self.get(name, "kernel"), c["strides"]  # (kh, kw, out, in)
                xc = x.permute(0, 3, 1, 2)
                h, w = xc.shape[2] * s[0], xc.shape[3] * s[1]
                assert c["padding"] == "same"
                full = F.conv_transpose2d(xc, k.permute(3, 2, 0, 1), stride=tuple(s))
                pt = max(k.shape[0] - s[0], 0) // 2
                pl = max(k.shape[1] - s[1], 0) // 2
                y = full[:, :, pt:pt + h, pl:pl + w]
                if self.get(name, "bias") is not None:
                    y = y + self.get(name, "bias").reshape(1, -1, 1, 1)
                x = y.permute(0, 2, 3, 1)
            elif cls == "Flatten":
                x = x.reshape(x.shape[0], -1)  # NHWC order, as Keras
            elif cls == "Dropout":
                assert c["rate"] == 0, "parity runs with dropout off"
            else:
                raise SystemExit("torch_gan.py: layer %s not supported here" % cls)
            act = c.get("activation", "linear") if cls in ("Dense", "Conv2D", "Conv2DTranspose") else "linear"
            x = {"linear": lambda t: t, "tanh": torch.tanh, "sigmoid": torch.sigmoid}[act](x)
        return x


class Adam:
    def __init__(self, params):
        self.params, self.t = params, 0
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]

    def step(self, grads):
        self.t += 1
        alpha = LR * (1 - B2 ** self.t) ** 0.5 / (1 - B1 ** self.t)
        with torch.no_grad():
            for p, g, m, v in zip(self.params, grads, self.m, self.v):
                m.mul_(B1).add_((1 - B1) * g)
                v.mul_(B2).add_((1 - B2) * g * g)
                p.sub_(alpha * m / (v.sqrt() + EPS))


def main():
    d = sys.argv[1]
    gen, disc = Net(os.path.join(d, "generator")), Net(os.path.join(d, "discriminator"))
    real = torch.tensor(np.load(os.path.join(d, "real.npy")))
    g_opt, d_opt = Adam(gen.params), Adam(disc.params)
    losses = []
    for s in range(STEPS):
        z = torch.tensor(np.load(os.path.join(d, "noise_%d.npy" % s)))
        fake = gen(z)
        if s == 0:
            np.save(os.path.join(d, "ref_fake.npy"), fake.detach().numpy())
        real_out, fake_out = disc(real), disc(fake)
        lg = F.binary_cross_entropy_with_logits(fake_out, torch.ones_like(fake_out))
        ld = (F.binary_cross_entropy_with_logits(real_out, torch.ones_like(real_out)) +
              F.binary_cross_entropy_with_logits(fake_out, torch.zeros_like(fake_out)))
        gg = torch.autograd.grad(lg, gen.params, retain_graph=True)
        gd = torch.autograd.grad(ld, disc.params)
        if s == 0:
            for tag, net, grads in (("g", gen, gg), ("d", disc, gd)):
                for i, n in enumerate(net.names):
                    if net.w[n].requires_grad:
                        k = [j for j, p in enumerate(net.params) if p is net.w[n]][0]
                        np.save(os.path.join(d, "ref_grad_%s_%d.npy" % (tag, i)), grads[k].numpy())
        g_opt.step(gg)
        d_opt.step(gd)
        losses.append([lg.item(), ld.item()])
    np.save(os.path.join(d, "ref_losses.npy"), np.array(losses, dtype=np.float32))
    for tag, net in (("g", gen), ("d", disc)):
        for i, n in enumerate(net.names):
            np.save(os.path.join(d, "ref_%s_%d.npy" % (tag, i)), net.w[n].detach().numpy())


if __name__ == "__main__":
    main()
