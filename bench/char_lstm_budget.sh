#!/usr/bin/env bash
# char_lstm_budget.sh MINUTES [FILE]: mlexp and PyTorch (2 threads, OpenBLAS)
# each train the character LSTM of experiments/moby_dick.json for the same
# wall-clock budget on the same text (default: Moby Dick), one after the
# other, with the same model, split (the last 5% held out), stream layout
# (64 streams of 100 characters, states carried) and optimizer (Adam 1e-3,
# global norm clip 5); then both validation cross-entropies per character.
# mlexp's budget covers training only, as PyTorch's does (both then validate
# and mlexp writes its model directory, outside the budget).
# SIDE_BY_SIDE=1 runs the two at the same time with one thread each instead:
# each has one of the cores for the same minutes, which halves the wall time
# (the 30-minute comparison in half an hour) and shares any outside load.
set -eu
cd "$(dirname "$0")/.."
minutes=${1:?usage: char_lstm_budget.sh MINUTES [FILE]}
file=${2:-${MLEXP_DATA:-data}/moby_dick.txt}
[ -s "$file" ] || { echo "char_lstm_budget: $file not found (scripts/setup.sh fetches Moby Dick)" >&2; exit 1; }
[ -x build/release/mlexp ] || make -s BUILD=release
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
seconds=$(/usr/bin/python3 -c "print(float('$minutes') * 60)")

run_mlexp() {
  build/release/mlexp train moby_dick --data "$file" --epochs 100000 --time-budget "$minutes" --threads "$1" \
    --out "$out/mlexp" >"$out/mlexp.log" 2>&1 || { tail -n 5 "$out/mlexp.log" >&2; return 1; }
}
run_torch() {
  /usr/bin/python3 bench/char_lstm_torch.py --threads "$1" --data "$file" --budget "$seconds" >"$out/torch.json"
}
if [ "${SIDE_BY_SIDE:-0}" = 1 ]; then
  echo "training for $minutes minutes on $file, mlexp and PyTorch at the same time, 1 thread each"
  run_mlexp 1 & pm=$!
  run_torch 1 & pt=$!
  wait $pm && wait $pt
else
  echo "training for $minutes minutes each on $file, 2 threads"
  echo "mlexp..."
  run_mlexp 2
  echo "PyTorch..."
  run_torch 2
fi

/usr/bin/python3 - "$out" <<'PY'
import json, math, sys
d = sys.argv[1]
meta = json.load(open(f"{d}/mlexp/metadata.json"))
hist = json.load(open(f"{d}/mlexp/history.json"))["epochs"]
t = json.load(open(f"{d}/torch.json"))
o_val = meta["metrics"]["val_loss"]
o_chars = meta["training"]["characters"]
o_secs = meta["training"]["seconds"]
print()
print(f"{'':34s}{'mlexp':>12s}{'PyTorch':>12s}")
print(f"{'validation nats / character':34s}{o_val:12.4f}{t['val_loss']:12.4f}")
print(f"{'validation bits / character':34s}{o_val / math.log(2):12.4f}{t['val_bits_per_char']:12.4f}")
print(f"{'characters trained':34s}{o_chars:12d}{t['steps'] * 6400:12d}")
print(f"{'training characters/s':34s}{o_chars / o_secs:12.0f}{t['train_chars_per_s']:12.0f}")
print(f"{'training seconds':34s}{o_secs:12.1f}{t['seconds']:12.1f}")
print(f"\nmlexp: {len(hist)} epoch(s), the last cut by the budget; lower cross-entropy is better "
      f"({'mlexp' if o_val < t['val_loss'] else 'PyTorch'} lower)")
print("\nmlexp's sample at temperature 0.5:")
import re, html
page = open(f"{d}/mlexp/report.html").read()
m = re.search(r"Temperature 0.5</h3><pre class=\"sample\">(.*?)</pre>", page, re.S)
print(html.unescape(m.group(1))[:400] if m else "(none)")
PY
