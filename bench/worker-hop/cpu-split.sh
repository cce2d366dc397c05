#!/usr/bin/env bash
# bench/worker-hop/cpu-split.sh: where the server's CPU goes per request, process by process.
# Serves a one-model Triton repository (a Python-backend identity) with tensorbind on CPU 0, drives
# it with perf_analyzer on CPU 1 (4 KiB FP32, HTTP), and prints, for the server (Node) and its
# worker, CPU µs per request and voluntary context switches per request over the run.
#
#   bench/worker-hop/cpu-split.sh [CONCURRENCY]               the data socket (default)
#   TENSORBIND_WORKER_HOP=zeromq bench/worker-hop/cpu-split.sh  the ZeroMQ hop, for comparison
#
# Needs: npm run build, npm run build:native, .venv with perf_analyzer (scripts/setup-python.sh).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CONC=${1:-1}
WORK=$(mktemp -d /tmp/tb-cpusplit-XXXXXX)
trap 'kill -INT $SPID 2>/dev/null; wait $SPID 2>/dev/null; rm -rf "$WORK"' EXIT
mkdir -p "$WORK/models/identity/1"
cat > "$WORK/models/identity/config.pbtxt" <<'CFG'
backend: "python"
max_batch_size: 8
input [ { name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
output [ { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] } ]
instance_group [ { count: 1 kind: KIND_CPU } ]
CFG
cat > "$WORK/models/identity/1/model.py" <<'PY'
import triton_python_backend_utils as pb_utils

class TritonPythonModel:
    def execute(self, requests):
        return [pb_utils.InferenceResponse([pb_utils.Tensor("OUTPUT0",
            pb_utils.get_input_tensor_by_name(r, "INPUT0").as_numpy())]) for r in requests]
PY
PORT=$((20000 + RANDOM % 20000))
TENSORBIND_PYTHON="$ROOT/.venv/bin/python" taskset -c 0 node "$ROOT/bin/tensorbind.js" serve \
  --model-repository "$WORK/models" --http-port $PORT --grpc-port $((PORT + 1)) --metrics-port $((PORT + 2)) \
  --log-level warn --ready-file "$WORK/ready.json" &
SPID=$!
for _ in $(seq 300); do [ -s "$WORK/ready.json" ] && break; sleep 0.1; done
WPID=$(pgrep -P $SPID -f tensorbind.worker | head -1)
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
ctx() { cat /proc/"$1"/task/*/status | awk '/^voluntary_ctxt_switches/ {s += $2} END {print s}'; }
count() { curl -s "localhost:$PORT/v2/models/identity/stats" | "$ROOT/.venv/bin/python" -c \
  'import json, sys; print(json.load(sys.stdin)["model_stats"][0]["inference_count"])'; }
C0=$(cpu $SPID); W0=$(cpu "$WPID"); X0=$(ctx $SPID); Y0=$(ctx "$WPID"); N0=$(count)
taskset -c 1 "$ROOT/.venv/bin/perf_analyzer" -m identity -i http -u 127.0.0.1:$PORT -b 1 --shape INPUT0:1024 \
  --input-data zero --concurrency-range "$CONC:$CONC" --measurement-interval 3000 -s 100 --max-trials 3 \
  | grep -E "Throughput|p50 latency|Avg request latency" || true
N=$(( $(count) - N0 ))
HZ=$(getconf CLK_TCK)
echo "hop: ${TENSORBIND_WORKER_HOP:-socket}; concurrency $CONC; $N requests; load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "server (node):   $(( ($(cpu $SPID) - C0) * 1000000 / HZ / N )) µs CPU/request, $(echo "scale=1; ($(ctx $SPID) - X0) / $N" | bc) context switches/request"
echo "worker (python): $(( ($(cpu "$WPID") - W0) * 1000000 / HZ / N )) µs CPU/request, $(echo "scale=1; ($(ctx "$WPID") - Y0) / $N" | bc) context switches/request"
