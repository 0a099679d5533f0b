#!/usr/bin/env bash
# run.sh [ROUNDS]: mlexp's WebAssembly engine against TensorFlow.js's wasm
# backend (4.22, SIMD, threaded where the page is cross-origin isolated) in
# Debian's Chromium, both predicting with the same Fashion CNN weights
# (models/fashion_cnn, or trained for one epoch when absent) in the same page,
# at batch 1 and 64: medians of every call after a warm-up, and the ratios.
# Twice: TF.js choosing its threads itself (it takes half the reported
# cores: one on a 2-core machine), then told it has twice our threads so
# that both use as many.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=${1:-10}

./scripts/setup.sh # the engine, and build/wasm/
if ! command -v chromium >/dev/null || ! command -v npm >/dev/null; then
  echo "bench: installing chromium npm"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium npm >/dev/null
fi
mods=bench/wasm/node_modules
if [ ! -d "$mods/playwright-core" ] || [ bench/wasm/package-lock.json -nt "$mods/playwright-core" ]; then
  echo "bench: installing playwright-core and TensorFlow.js (bench/wasm/package-lock.json)"
  npm ci --prefix bench/wasm --silent --no-audit --no-fund
  touch "$mods/playwright-core"
fi
make -s -j2 BUILD=release all wasm

models=$PWD/models
if [ ! -s "$models/fashion_cnn/model.json" ]; then
  models=$PWD/build/bench-models
  if [ ! -s "$models/fashion_cnn/model.json" ]; then
    echo "bench: training fashion_cnn for one epoch (no models/fashion_cnn)"
    build/release/mlexp train fashion_cnn --epochs 1 --out "$models/fashion_cnn" >/dev/null
  fi
fi

threads=$(nproc 2>/dev/null || echo 2)
[ "$threads" -le 8 ] || threads=8
echo "== TF.js choosing its threads"
node bench/wasm/run.mjs --models "$models" --rounds "$rounds" --threads "$threads" --profile 1
echo "== TF.js with $threads threads"
node bench/wasm/run.mjs --models "$models" --rounds "$rounds" --threads "$threads" --tf-threads "$threads"
