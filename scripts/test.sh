#!/usr/bin/env bash
# test.sh: install what the tests need (scripts/setup.sh --test), then build
# and run every test twice: gcc optimised (-O3), then clang with
# AddressSanitizer and UndefinedBehaviorSanitizer. Each suite is the engine
# tests (build/*/mx_tests), the command line tests (tests/cli_test.sh) and
# the HTTP API of mlexp serve (tests/api_test.py); the WebAssembly engine
# (build/wasm/) is checked against the optimised native one in node
# (tests/wasm/test_wasm.mjs), and the pages in Debian's Chromium against
# mlexp serve (tests/browser/run.mjs; screenshots in build/test-artifacts/).
# The last line sums them: "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
if ! ./scripts/setup.sh --test; then
  echo "setup failed"
  echo "0 passed, 1 failed"
  exit 1
fi
export MX_ROOT=$PWD MLEXP_DATA=$PWD/data
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
jobs=$(nproc 2>/dev/null || echo 2)
passed=0 failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# suite NAME CMD...: run, show the output, add its summary line to the totals
suite() {
  local name=$1; shift
  echo "== $name"
  "$@" 2>&1 | tee "$log"
  local last
  last=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
  if [ -z "$last" ]; then
    echo "FAIL $name: no summary line (crashed?)"
    failed=$((failed + 1))
    return
  fi
  passed=$((passed + $(echo "$last" | cut -d' ' -f1)))
  failed=$((failed + $(echo "$last" | cut -d' ' -f3)))
}

# build VARIANT MAKE_ARGS...: a failed build counts as a failed test
build() {
  local name=$1; shift
  echo "== build $name"
  if make -j"$jobs" "$@" all >"$log" 2>&1; then
    echo "ok   build $name"
    passed=$((passed + 1))
    return 0
  fi
  cat "$log"
  echo "FAIL build $name"
  failed=$((failed + 1))
  return 1
}

if build "gcc -O3" BUILD=release CC=gcc; then
  suite "engine (gcc -O3)" build/release/mx_tests
  suite "cli (gcc -O3)" tests/cli_test.sh build/release
  suite "api (gcc -O3)" /usr/bin/python3 tests/api_test.py build/release
  if build "wasm (emscripten)" BUILD=release CC=gcc wasm build/release/tests/wasm/native_step; then
    suite "wasm (node)" node tests/wasm/test_wasm.mjs build/release
    suite "browser (Chromium)" node tests/browser/run.mjs build/release build/test-artifacts/browser
  fi
fi
if build "clang ASan+UBSan" BUILD=asan CC=clang; then
  suite "engine (clang ASan+UBSan)" build/asan-clang/mx_tests
  suite "cli (clang ASan+UBSan)" tests/cli_test.sh build/asan-clang
  suite "api (clang ASan+UBSan)" /usr/bin/python3 tests/api_test.py build/asan-clang
  [ -s build/wasm/mlexp.js ] &&
    suite "browser (Chromium, ASan+UBSan server)" node tests/browser/run.mjs build/asan-clang build/test-artifacts/browser-asan
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
