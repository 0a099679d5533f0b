#!/usr/bin/env bash
# setup.sh [--test]: install what mlexp needs on Debian bookworm.
# Idempotent and quiet when everything is already there. --test adds what
# the tests and benchmarks need (clang, PyTorch with OpenBLAS, numpy).
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(gcc make libc6-dev libjansson-dev libpng-dev libjpeg-dev zlib1g-dev dataset-fashion-mnist)
if [ "${1:-}" = "--test" ]; then
  # OpenBLAS: without it Debian's torch falls back to the reference BLAS, no fair peer
  pkgs+=(clang libclang-rt-14-dev python3-numpy python3-torch libopenblas0-pthread)
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

# The 5,000 OpenCV digits: only digits.png from the opencv-doc package (96 MB),
# without installing the package.
if [ ! -s data/digits.png ]; then
  echo "setup: fetching digits.png from Debian's opencv-doc"
  mkdir -p data
  tmp=$(mktemp -d)
  chmod 755 "$tmp"
  [ $updated = 1 ] || as_root apt-get update -qq
  (cd "$tmp" && apt-get download -qq -o APT::Sandbox::User=root opencv-doc >/dev/null)
  dpkg-deb --fsys-tarfile "$tmp"/opencv-doc_*.deb | tar -x -C "$tmp" --wildcards '*/examples/data/digits.png'
  cp "$(find "$tmp" -name digits.png | head -n 1)" data/digits.png
  rm -rf "$tmp"
fi

# The TF.js parity tests (tests/test_tfjs.c): node, npm and the pinned
# @tensorflow/tfjs of tests/tfjs/package-lock.json, installed again when the
# lockfile is newer than the installed package.
if [ "${1:-}" = "--test" ]; then
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "setup: installing nodejs npm"
    [ $updated = 1 ] || as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
  tfjs=tests/tfjs/node_modules/@tensorflow/tfjs
  if [ ! -d "$tfjs" ] || [ tests/tfjs/package-lock.json -nt "$tfjs" ]; then
    echo "setup: installing @tensorflow/tfjs for the TF.js parity tests"
    npm ci --prefix tests/tfjs --silent --no-audit --no-fund
    touch "$tfjs" # npm keeps the tarball's dates: mark the install time
  fi
fi
