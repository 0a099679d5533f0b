#!/usr/bin/env bash
# run.sh [REPEATS]: the Fashion-MNIST CNN benchmark, mlexp against PyTorch
# (2 threads, OpenBLAS) in the same run, alternating so that both see the
# same machine load. Reports medians of REPEATS runs (default 3), the ratios,
# and mlexp's share of the machine's FP32 peak (OpenBLAS SGEMM measured now).
set -eu
cd "$(dirname "$0")/.."
export MX_ROOT=$PWD MLEXP_DATA=$PWD/data
reps=${1:-3}
bin=build/release/bench/fashion_bench
[ -x "$bin" ] || make -s BUILD=release bench-bin
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "Fashion CNN: one training epoch (60,000 images, batch 32, Adam) and batch-256 inference (10,000 images)"
for i in $(seq 1 "$reps"); do
  echo "run $i/$reps"
  "$bin" --threads 2 >>"$out/mlexp.jsonl"
  /usr/bin/python3 bench/fashion_torch.py --threads 2 >>"$out/torch.jsonl"
  /usr/bin/python3 bench/fashion_torch.py --threads 2 --channels-last >>"$out/torch_cl.jsonl"
done

OPENBLAS_NUM_THREADS=2 /usr/bin/python3 - "$out" <<'EOF'
import json, statistics, sys, time
import numpy as np

d = sys.argv[1]
def load(name):
    return [json.loads(l) for l in open(f"{d}/{name}.jsonl")]
def med(rows, key):
    return statistics.median(r[key] for r in rows)

ours, nchw, cl = load("mlexp"), load("torch"), load("torch_cl")
# PyTorch at its best here: the faster memory format for each measurement
t_train = min(med(nchw, "train_seconds"), med(cl, "train_seconds"))
t_infer = max(med(nchw, "infer_images_per_s"), med(cl, "infer_images_per_s"))
o_train, o_infer = med(ours, "train_seconds"), med(ours, "infer_images_per_s")

# the machine's FP32 peak as OpenBLAS SGEMM reaches it on 2 threads
a = np.random.rand(2048, 2048).astype(np.float32)
np.dot(a, a)
times = []
for _ in range(5):
    t = time.perf_counter(); np.dot(a, a); times.append(time.perf_counter() - t)
peak = 2 * 2048 ** 3 / statistics.median(times) / 1e9
flops = 25.4e6 * 60000  # forward + backward per image, Fashion CNN

print()
print(f"{'':28s}{'mlexp':>12s}{'PyTorch':>12s}{'ratio':>10s}")
print(f"{'train epoch, seconds':28s}{o_train:12.2f}{t_train:12.2f}{t_train / o_train:9.2f}x")
print(f"{'train, images/s':28s}{60000 / o_train:12.0f}{60000 / t_train:12.0f}")
print(f"{'inference b256, images/s':28s}{o_infer:12.0f}{t_infer:12.0f}{o_infer / t_infer:9.2f}x")
print(f"{'peak memory (train), MiB':28s}{med(ours, 'peak_rss_mib'):12.0f}{med(nchw, 'peak_rss_mib'):12.0f}")
print()
print(f"mlexp training: {flops / o_train / 1e9:.1f} GFLOP/s = {100 * flops / o_train / 1e9 / peak:.0f}% of the "
      f"SGEMM peak measured now ({peak:.0f} GFLOP/s, OpenBLAS, 2 threads)")
print(f"medians of {len(ours)} runs; PyTorch NCHW train {med(nchw, 'train_seconds'):.2f} s, channels_last "
      f"{med(cl, 'train_seconds'):.2f} s")
EOF
