#!/usr/bin/env bash
# demo.sh [--port N] [--host H] [--models DIR]: the main job. Install what is
# needed (scripts/setup.sh, which also builds the engine in WebAssembly),
# build mlexp, and serve the web demo with the default models (models/, which
# mlexp trained: see models/README.md) until Ctrl-C.
set -eu
cd "$(dirname "$0")/.."
./scripts/setup.sh
log=$(mktemp)
if ! make -j"$(nproc 2>/dev/null || echo 2)" BUILD=release all >"$log" 2>&1; then
  cat "$log" >&2
  rm -f "$log"
  echo "demo: the build failed" >&2
  exit 1
fi
rm -f "$log"
echo "demo: open the URL below in a browser; Ctrl-C stops the server"
exec build/release/mlexp serve --models models "$@"
