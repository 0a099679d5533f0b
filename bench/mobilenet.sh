#!/usr/bin/env bash
# mobilenet.sh [REPEATS]: MobileNetV2 at 224x224, mlexp against PyTorch
# (torchvision, 2 threads) in the same run: batch-1 latency and batch-32
# throughput, medians over REPEATS alternating runs (default 3), and ratios.
set -eu
cd "$(dirname "$0")/.."
reps=${1:-3}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
[ -x build/release/bench/mobilenet_bench ] || make -s BUILD=release bench-bin
node tests/tfjs/mobilenet_v2.js "$out/mnv2" >/dev/null
for i in $(seq 1 "$reps"); do
  echo "run $i/$reps"
  build/release/bench/mobilenet_bench "$out/mnv2" --threads 2 >>"$out/mlexp.jsonl"
  /usr/bin/python3 bench/mobilenet_torch.py >>"$out/torch.jsonl"
done
/usr/bin/python3 - "$out" <<'PY'
import json, statistics, sys
d = sys.argv[1]
rows = lambda n: [json.loads(l) for l in open(f"{d}/{n}.jsonl")]
ours, peer = rows("mlexp"), rows("torch")
med = lambda r, k: statistics.median(x[k] for x in r)
o1, p1 = med(ours, "batch1_ms"), med(peer, "batch1_ms")
o32, p32 = med(ours, "batch32_images_per_s"), med(peer, "batch32_images_per_s")
print()
print(f"{'MobileNetV2 224x224':28s}{'mlexp':>10s}{'PyTorch':>10s}{'ratio':>9s}")
print(f"{'batch 1, ms':28s}{o1:10.1f}{p1:10.1f}{p1 / o1:8.2f}x")
print(f"{'batch 32, images/s':28s}{o32:10.1f}{p32:10.1f}{o32 / p32:8.2f}x")
print(f"medians of {len(ours)} runs; {peer[0]['peer']}")
PY
