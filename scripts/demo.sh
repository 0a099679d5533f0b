#!/usr/bin/env bash
# demo.sh: the main job until the web demo exists: install what is needed,
# build, train the digits CNN on the 4,000 OpenCV training digits, evaluate
# it on the 1,000 test digits, and say where the model and its report are.
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh
make -s -j"$(nproc 2>/dev/null || echo 2)" BUILD=release all
out=runs/digits_cnn
build/release/mlexp train digits_cnn --out "$out"
echo
build/release/mlexp eval "$out"
echo
echo "report: file://$PWD/$out/report.html"
