#!/usr/bin/env bash
# serve.sh [RUNS] [SECONDS] [MODEL_DIR]: mlexp serve under load. wrk (2
# threads, 32 connections) POSTs a real test digit as JSON to
# /api/models/NAME/predict for SECONDS (default 30), RUNS times (default 3)
# against one server process; reports requests/s, latency percentiles and
# errors per run, and the server's resident memory (VmRSS) before, during
# (peak) and after each run: it must stay flat from run to run.
# MODEL_DIR defaults to a digits CNN trained here for one epoch on 1,000
# digits (accuracy does not matter for speed). SERVE_ARGS adds options to
# mlexp serve (e.g. SERVE_ARGS="--threads 2").
set -eu
cd "$(dirname "$0")/.."
export MLEXP_DATA=$PWD/data
runs=${1:-3} secs=${2:-30} model=${3:-}
bin=build/release/mlexp
command -v wrk >/dev/null || { echo "serve.sh: needs wrk (apt-get install wrk)"; exit 1; }
make -s -j2 BUILD=release build/release/mlexp
tmp=$(mktemp -d /tmp/mlexp_serve_bench.XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

mkdir -p "$tmp/models"
if [ -z "$model" ]; then
  "$bin" train digits_cnn --epochs 1 --limit 1000 --out "$tmp/models/digits_cnn" >/dev/null 2>&1
else
  ln -s "$(cd "$model" && pwd)" "$tmp/models/$(basename "$model")"
fi
name=$(ls "$tmp/models")

"$bin" serve --port 0 --models "$tmp/models" ${SERVE_ARGS:-} >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 100); do grep -q serving "$tmp/out" 2>/dev/null && break; sleep 0.1; done
url=$(grep -o 'http://[^ ]*' "$tmp/out")
echo "$(cat "$tmp/out")"
rss() { awk '/VmRSS/ {print $2}' "/proc/$pid/status"; } # KiB

# a real digit: test sample 707 (a 7) of the model's dataset, as the page would send it
/usr/bin/python3 - "$url" "$name" "$tmp/post.lua" <<'EOF'
import json, sys, urllib.request
url, name, out = sys.argv[1:]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
ex = json.load(opener.open(f"{url}api/models/{name}/examples?count=1&offset=707"))["examples"][0]
body = json.dumps({"inputs": [[[v] for v in ex["pixels"][r * 28:(r + 1) * 28]] for r in range(28)]})
with open(out, "w") as f:
    f.write(f'''wrk.method = "POST"
wrk.body = {json.dumps(body)}
wrk.headers["Content-Type"] = "application/json"
function done(s, latency, requests)
  io.write(string.format("RESULT %.1f %.3f %.3f %.3f %d %d\\n", s.requests / (s.duration / 1e6),
    latency:percentile(50) / 1e3, latency:percentile(90) / 1e3, latency:percentile(99) / 1e3,
    s.errors.status, s.errors.connect + s.errors.read + s.errors.write + s.errors.timeout))
end
''')
print(f"body: test digit 707 (label {ex['label']}), {len(body)} bytes of JSON")
EOF

before0=$(rss)
printf '%-4s %10s %9s %9s %9s %8s %8s %11s %11s %11s\n' run req/s p50_ms p90_ms p99_ms non2xx sockerr rss_before rss_peak rss_after
for i in $(seq "$runs"); do
  before=$(rss)
  (peak=0; while kill -0 "$pid" 2>/dev/null; do r=$(rss); [ "$r" -gt "$peak" ] && peak=$r && echo "$peak" >"$tmp/peak"; sleep 0.5; done) &
  sampler=$!
  wrk -t2 -c32 -d"${secs}s" -s "$tmp/post.lua" "${url}api/models/$name/predict" >"$tmp/wrk$i" 2>&1
  kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null || true
  sleep 1
  after=$(rss)
  read -r _ rps p50 p90 p99 non2xx sockerr < <(grep '^RESULT' "$tmp/wrk$i")
  printf '%-4s %10s %9s %9s %9s %8s %8s %8s KiB %8s KiB %8s KiB\n' "$i" "$rps" "$p50" "$p90" "$p99" "$non2xx" "$sockerr" \
    "$before" "$(cat "$tmp/peak")" "$after"
done
kill -TERM "$pid"
wait "$pid" && echo "server: $(tail -n 1 "$tmp/out") (exit 0); RSS at start $before0 KiB"
pid=
echo "(wrk -t2 -c32 -d${secs}s on a shared 2-core machine: server and load generator compete for the same cores)"
