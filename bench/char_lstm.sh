#!/usr/bin/env bash
# char_lstm.sh [REPEATS]: the character LSTM of experiments/moby_dick.json
# (vocab 83, Embedding 256, LSTM 1024 stateful, Dense 83; Adam, global norm
# clip 5; batch 64 x 100 characters) in mlexp and in PyTorch (2 threads,
# OpenBLAS), alternating in the same run so both see the same machine load.
# Training characters/s over STEPS steps and generation characters/s (batch 1,
# one character per step, states carried); medians of REPEATS runs (default
# 3) and the ratios. STEPS=10 GEN=300 by default (environment).
set -eu
cd "$(dirname "$0")/.."
reps=${1:-3}
steps=${STEPS:-10}
gen=${GEN:-300}
bin=build/release/bench/char_lstm_bench
[ -x "$bin" ] || make -s BUILD=release bench-bin
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "character LSTM: training $steps steps of 64 x 100 characters, then $gen generated characters, 2 threads each"
for i in $(seq 1 "$reps"); do
  echo "run $i/$reps"
  "$bin" --threads 2 --steps "$steps" --gen "$gen" >>"$out/mlexp.jsonl"
  /usr/bin/python3 bench/char_lstm_torch.py --speed --threads 2 --steps "$steps" --gen "$gen" >>"$out/torch.jsonl"
done

/usr/bin/python3 - "$out" <<'PY'
import json, statistics, sys
d = sys.argv[1]
def load(name):
    return [json.loads(l) for l in open(f"{d}/{name}.jsonl")]
def med(rows, key):
    return statistics.median(r[key] for r in rows)
ours, torch = load("mlexp"), load("torch")
print()
print(f"{'characters/s':28s}{'mlexp':>12s}{'PyTorch':>12s}{'ratio':>10s}")
for label, key in (("training (batch 64 x 100)", "train_chars_per_s"), ("generation (batch 1)", "generate_chars_per_s")):
    o, t = med(ours, key), med(torch, key)
    print(f"{label:28s}{o:12.0f}{t:12.0f}{o / t:9.2f}x")
print(f"\nmedians of {len(ours)} runs, 2 threads each; runs: mlexp {[round(r['train_chars_per_s']) for r in ours]}, "
      f"PyTorch {[round(r['train_chars_per_s']) for r in torch]} (training chars/s)")
PY
