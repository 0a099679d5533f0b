#!/usr/bin/python3
"""The character LSTM in PyTorch, the peer of bench/char_lstm_bench.c and of
experiments/moby_dick.json.

Same model (Embedding(vocab, 256), LSTM(1024) returning sequences, Dense(vocab);
the softmax is in the loss, as mlexp fuses it), Adam (lr 1e-3, Keras's epsilon 1e-7), gradients clipped to a
global norm of 5, batch 64 of 100 characters. The text is laid out as the
experiment does it (src/data/chars.c): the first 95% for training, split into
64 parallel streams read 100 characters at a time with the LSTM states
carried from one batch to the next (truncated backpropagation through time),
reset every epoch; the last 5% for validation, read the same way.

  --speed: training characters/s over --steps steps (after 2 warm-up steps)
           and generation characters/s (batch 1, one character per step,
           the states carried). Random characters if no --data.
  --budget S: train on --data for S seconds of wall-clock time, then the
           validation cross-entropy per character. With --layout windows it
           trains instead on the windows shuffled every epoch, each from zero
           states (the alternative to streams that experiments/moby_dick.json
           weighs); validation reads the held-out streams either way.
Prints one JSON line.
"""
import argparse
import json
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class CharLSTM(nn.Module):
    def __init__(self, vocab, embed=256, units=1024):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, units, batch_first=True)
        self.dense = nn.Linear(units, vocab)

    def forward(self, x, state=None):
        y, state = self.lstm(self.embed(x), state)
        return self.dense(y), state


def streams(ids, batch, seq):
    """(windows, batch, seq) inputs and targets: stream b is the b-th of
    `batch` equal slices; window s of every stream follows window s - 1."""
    per = (len(ids) - 1) // batch
    windows = per // seq
    n = windows * seq
    x = torch.stack([ids[b * per:b * per + n] for b in range(batch)])  # (batch, n)
    y = torch.stack([ids[b * per + 1:b * per + n + 1] for b in range(batch)])
    x = x.view(batch, windows, seq).transpose(0, 1)  # (windows, batch, seq)
    y = y.view(batch, windows, seq).transpose(0, 1)
    return x, y


def load_text(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    vocab = sorted(set(text))
    index = {c: i for i, c in enumerate(vocab)}
    return torch.tensor([index[c] for c in text], dtype=torch.long), vocab


def train_step(model, opt, x, y, state, clip):
    state = tuple(s.detach() for s in state) if state is not None else None
    logits, state = model(x, state)
    loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)
    opt.step()
    return loss.item(), state


@torch.no_grad()
def validate(model, xv, yv):
    state, total, count = None, 0.0, 0
    for s in range(xv.shape[0]):
        logits, state = model(xv[s], state)
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), yv[s].reshape(-1), reduction="sum").item()
        count += yv[s].numel()
    return total / count


@torch.no_grad()
def generate_speed(model, vocab, n):
    state = None
    x = torch.zeros(1, 1, dtype=torch.long)
    g = torch.Generator().manual_seed(1)
    t = time.perf_counter()
    for _ in range(n):
        logits, state = model(x, state)
        p = torch.softmax(logits[0, -1] / 0.5, 0)
        x = torch.multinomial(p, 1, generator=g).view(1, 1)
    return n / (time.perf_counter() - t)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--data", default=None)
    ap.add_argument("--vocab", type=int, default=83)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--seq", type=int, default=100)
    ap.add_argument("--units", type=int, default=1024)
    ap.add_argument("--speed", action="store_true")
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--gen", type=int, default=300, help="characters generated for --speed")
    ap.add_argument("--budget", type=float, default=0, help="seconds of training")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--layout", choices=["streams", "windows"], default="streams")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    ids, vocab = load_text(a.data) if a.data else (None, None)
    nv = len(vocab) if vocab else a.vocab
    model = CharLSTM(nv, units=a.units)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    clip = 5.0

    if a.speed:
        if ids is None:
            ids = torch.randint(0, nv, (a.batch * a.seq * (a.steps + 3) + 1,), generator=torch.Generator().manual_seed(1))
        x, y = streams(ids, a.batch, a.seq)
        state = None
        for s in range(2):  # warm-up
            _, state = train_step(model, opt, x[s % x.shape[0]], y[s % x.shape[0]], state, clip)
        t = time.perf_counter()
        for s in range(a.steps):
            _, state = train_step(model, opt, x[s % x.shape[0]], y[s % x.shape[0]], state, clip)
        train_cps = a.steps * a.batch * a.seq / (time.perf_counter() - t)
        gen_cps = generate_speed(model, vocab, a.gen)
        print(json.dumps({"train_chars_per_s": train_cps, "generate_chars_per_s": gen_cps, "threads": a.threads}))
        return

    if ids is None or a.budget <= 0:
        ap.error("--budget SECONDS needs --data FILE (or use --speed)")
    n_train = int(len(ids) * 0.95)
    x, y = streams(ids[:n_train], a.batch, a.seq)
    xv, yv = streams(ids[n_train:], a.batch, a.seq)
    t0 = time.perf_counter()
    steps, epochs, state, loss = 0, 0, None, float("nan")
    if a.layout == "windows":  # every window a sample of its own
        xw, yw = x.reshape(-1, a.seq), y.reshape(-1, a.seq)
    while time.perf_counter() - t0 < a.budget:
        state = None  # states reset every epoch
        if a.layout == "windows":
            perm = torch.randperm(xw.shape[0])
            x, y = xw[perm].view(-1, a.batch, a.seq), yw[perm].view(-1, a.batch, a.seq)
        for s in range(x.shape[0]):
            loss, state = train_step(model, opt, x[s], y[s], None if a.layout == "windows" else state, clip)
            steps += 1
            if time.perf_counter() - t0 >= a.budget:
                break
        epochs += 1
    seconds = time.perf_counter() - t0
    val = validate(model, xv, yv)
    print(json.dumps({"seconds": seconds, "steps": steps, "epochs_started": epochs, "train_loss": loss,
                      "train_chars_per_s": steps * a.batch * a.seq / seconds, "val_loss": val,
                      "val_bits_per_char": val / math.log(2), "threads": a.threads, "layout": a.layout}))


if __name__ == "__main__":
    main()
