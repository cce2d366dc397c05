#!/usr/bin/env bash
# bench/gpu/metrics.sh: on an NVIDIA GPU machine, serve examples/python-torch (model `mlp`) on
# cuda:0 with the metrics port on, load the GPU (a PyTorch matmul loop plus inference requests),
# scrape /metrics before and during the load, and check that the nv_gpu_* series appear with
# sensible values next to nvidia-smi's own readings (metrics_check.py says what is checked).
#
# Runs on the device machine (no Node.js, no pyzmq there) from the repo root, with the ignored
# paths .gpu-carry, dist and native/shm/build/Release carried, like bench/gpu/run-on-gpu.sh:
#   bash bench/gpu/make-carry.sh     (on a tree that has prom-client in package.json: after merging)
#   device command: bash bench/gpu/metrics.sh    carry: [".gpu-carry", "dist", "native/shm/build/Release"]
# Optionally also .gpu-carry/perf-analyzer.tar.xz (bench/gpu/carry-perf-analyzer.sh): then
# perf_analyzer --collect-metrics runs against the server and must report the GPU gauges.
# Outputs under $OUT (or ./gpu-out): run.log, nvidia-smi.csv, server.log, metrics-idle.txt,
# metrics-load.txt, metrics-after.txt, snapshot.json, check.json, perf-analyzer.txt and
# perf-metrics.csv; exit 0 when every check passes. About 2 minutes.
set -uo pipefail
. bench/gpu/lib.sh
gpu_prelude gpu-metrics
nvidia-smi --query-gpu=index,uuid,name,driver_version,utilization.gpu,memory.total,memory.used,power.draw,power.limit --format=csv | tee "$OUT/nvidia-smi.csv"
python3 -c 'import sys,torch;print(sys.version.split()[0],"torch",torch.__version__,"cuda",torch.version.cuda,torch.cuda.get_device_name(0))'

echo "== unpack"
unpack_node || exit 1
unpack_wheels whl zmq || exit 1
export PYTHONPATH="$PWD/python:$PYTHONPATH"
node -e 'require.resolve("prom-client")' || { echo "prom-client is missing from the carried node_modules: rebuild .gpu-carry from this branch"; exit 1; }

echo "== serve (metrics every 500 ms)"
export TENSORBIND_DEVICE=cuda:0 TENSORBIND_PYTHON="$(command -v python3)"
serve_until_ready "$T/ready.json" "$OUT/server.log" 60 \
  node bin/tensorbind.js serve examples/python-torch/models.ts --http-port 0 --grpc-port 0 --metrics-port 0 \
  --metrics-interval-ms 500 --ready-file "$T/ready.json" || exit 1
cat "$T/ready.json"; echo

echo "== load and scrape"
PYTHONUNBUFFERED=1 timeout 300 python3 bench/gpu/metrics_check.py "$T/ready.json" "$OUT"
rc=$?

echo "== perf_analyzer --collect-metrics (when carried: bench/gpu/carry-perf-analyzer.sh)"
if unpack_perf_analyzer; then
  set -- "$(ready_field http)" "$(ready_field metrics)"
  # (a time limit: --request-count was seen to hang after its last answer)
  timeout 180 "$PA" -m mlp -u "$1" -i http -b 8 --shape x:8 --concurrency-range 4:4 --request-count 4000 \
    --collect-metrics --metrics-url "$2" --metrics-interval 250 --verbose-csv -f "$OUT/perf-metrics.csv" > "$OUT/perf-analyzer.txt" 2>&1
  parc=$?
  tail -25 "$OUT/perf-analyzer.txt"; cat "$OUT/perf-metrics.csv"
  if [ $parc -ne 0 ] || grep -q "Unable to parse" "$OUT/perf-analyzer.txt" || ! grep -q "GPU-" "$OUT/perf-metrics.csv"; then
    echo "FAIL  perf_analyzer --collect-metrics (exit $parc)"; rc=1
  else
    echo "PASS  perf_analyzer --collect-metrics read the GPU gauges"
  fi
else
  echo "perf_analyzer not carried: skipped"
fi

echo "== stop"
stop_server
sleep 0.5
if pgrep -af "tensorbind\.worker|nvidia-smi --query-gpu=index,uuid"; then echo "WARNING: processes left behind"; rc=1; else echo "no worker or nvidia-smi left"; fi
tail -5 "$OUT/server.log"
exit $rc
