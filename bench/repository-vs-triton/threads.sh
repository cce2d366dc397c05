#!/usr/bin/env bash
# bench/repository-vs-triton/threads.sh: where a served Python-backend identity spends its CPU,
# thread by thread. Serves P11's identity model (one instance, max_batch_size 8) with
# `tensorbind serve --model-repository` on CPU 0, drives it with perf_analyzer on CPU 1, and
# prints for each case the CPU µs per request of every thread of the Node process that used any
# (MainThread, V8's GC/compiler helpers "V8Worker", libuv's pool) and of the Python worker.
#
#   bench/repository-vs-triton/threads.sh ["http:1 http:8 grpc:1 grpc:8"] [node flags...]
#
# The first case of a fresh server includes V8's warm-up (compiling the hot path): repeat it
# ("http:1 http:1 ...") and read the second for the steady state. Environment:
#   TENSORBIND_ROOT  another built checkout to serve (before/after a change; default: this one)
#   SHAPE            FP32 elements per request (default 1024: 4 KiB)
#   WINDOW_MS        perf_analyzer's measurement interval (default 2000)
#   CONFIG_EXTRA     a line added to config.pbtxt, e.g. "dynamic_batching { }"
#   TENSORBIND_PYTHON the workers' interpreter (a wrapper running them under cProfile, say)
#   PERF=1           also `perf record` the server (cpu-clock, call graphs) from the second case
#                    on; give --perf-basic-prof as a node flag to name JIT frames
# Examples:
#   bench/repository-vs-triton/threads.sh "grpc:8 grpc:8" --trace-gc
#   TENSORBIND_EXTERNAL_MEMORY_GC=v8 bench/repository-vs-triton/threads.sh
# Needs: npm run build, npm run build:native, .venv with perf_analyzer (scripts/setup-python.sh).
set -euo pipefail
HERE=$(cd "$(dirname "$0")/../.." && pwd)
ROOT=${TENSORBIND_ROOT:-$HERE}
CASES=${1:-"http:1 http:1 http:8 grpc:1 grpc:8"}
shift || true
WORK=$(mktemp -d /tmp/tb-threads-XXXXXX)
SPID=""
PERF_PID=""
cleanup() {
  [ -n "$PERF_PID" ] && kill -INT "$PERF_PID" 2>/dev/null && wait "$PERF_PID" 2>/dev/null
  [ -n "$SPID" ] && kill -INT "$SPID" 2>/dev/null && wait "$SPID" 2>/dev/null
  echo "files (server log, profiles): $WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/models/identity/1"
cat > "$WORK/models/identity/config.pbtxt" <<CFG
backend: "python"
max_batch_size: 8
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
${CONFIG_EXTRA:-}
CFG
cat > "$WORK/models/identity/1/model.py" <<'PY'
import triton_python_backend_utils as pb_utils

class TritonPythonModel:
    def execute(self, requests):
        return [pb_utils.InferenceResponse([pb_utils.Tensor("OUTPUT0",
            pb_utils.get_input_tensor_by_name(r, "INPUT0").as_numpy())]) for r in requests]
PY
PORT=$((20000 + RANDOM % 20000))
cd "$WORK" # --cpu-prof and friends write here
TENSORBIND_PYTHON="${TENSORBIND_PYTHON:-$HERE/.venv/bin/python}" taskset -c 0 node "$@" "$ROOT/bin/tensorbind.js" serve \
  --model-repository "$WORK/models" --http-port $PORT --grpc-port $((PORT + 1)) --metrics-port $((PORT + 2)) \
  --log-level warn --ready-file "$WORK/ready.json" > "$WORK/server.log" 2>&1 &
SPID=$!
for _ in $(seq 300); do [ -s "$WORK/ready.json" ] && break; sleep 0.1; done
WPID=$(pgrep -P $SPID -f tensorbind.worker | head -1)
HZ=$(getconf CLK_TCK)
# tid, name, utime + stime of every thread of the server
threads() { for t in /proc/$SPID/task/*; do
  echo "$(basename "$t") $(tr ' ' _ < "$t/comm") $(cut -d')' -f2 "$t/stat" | awk '{print $12 + $13}')"; done | sort; }
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
count() { curl -s "localhost:$PORT/v2/models/identity/stats" | "$HERE/.venv/bin/python" -c \
  'import json, sys; print(json.load(sys.stdin)["model_stats"][0]["inference_count"])'; }
i=0
for c in $CASES; do
  proto=${c%:*}; conc=${c#*:}
  url=127.0.0.1:$PORT; [ "$proto" = grpc ] && url=127.0.0.1:$((PORT + 1))
  if [ "${PERF:-}" = 1 ] && [ $i = 1 ]; then
    perf record -e cpu-clock -F 4000 -g -p $SPID -o "$WORK/perf.data" > /dev/null 2>&1 &
    PERF_PID=$!
    sleep 0.5
  fi
  i=$((i + 1))
  threads > "$WORK/t0"; W0=$(cpu "$WPID"); N0=$(count)
  rps=$(taskset -c 1 "$HERE/.venv/bin/perf_analyzer" -m identity -i "$proto" -u "$url" -b 1 \
    --shape "INPUT0:${SHAPE:-1024}" --input-data zero --concurrency-range "$conc:$conc" \
    --measurement-interval "${WINDOW_MS:-2000}" -s 100 --max-trials 3 | awk '/Throughput/ {print $2}' | tail -1)
  N=$(( $(count) - N0 )); threads > "$WORK/t1"
  echo "== $proto c$conc: ${rps:-?} infer/s; $N requests; load $(cut -d' ' -f1 /proc/loadavg)"
  join "$WORK/t0" "$WORK/t1" | awk -v N="$N" -v HZ="$HZ" -v P=$SPID '{ d = $5 - $3; total += d;
    if (d > 0) printf "  %-10s %-16s %7.1f µs/request\n", ($1 == P ? "main" : $1), $2, d * 1e6 / HZ / N }
    END { printf "  node, all threads           %7.1f µs/request\n", total * 1e6 / HZ / N }'
  echo "  python worker               $(( ($(cpu "$WPID") - W0) * 1000000 / HZ / N )) µs/request"
done
