#!/usr/bin/env bash
# bench/gpu/metrics.sh: on an NVIDIA GPU machine, serve examples/python-torch (model `mlp`) on
# cuda:0 with the metrics port on, load the GPU (a PyTorch matmul loop plus inference requests),
# scrape /metrics before and during the load, and check that the nv_gpu_* series appear with
# sensible values next to nvidia-smi's own readings (metrics_check.py says what is checked).
#
# Runs on the device machine (no Node.js, no pyzmq there) from the repo root, with the ignored
# paths .gpu-carry, dist and native/build/Release carried, like bench/gpu/run-on-gpu.sh:
#   bash bench/gpu/make-carry.sh     (on a tree that has prom-client in package.json: after merging)
#   device command: bash bench/gpu/metrics.sh    carry: [".gpu-carry", "dist", "native/build/Release"]
# Outputs under $OUT (or ./gpu-out): run.log, nvidia-smi.csv, server.log, metrics-idle.txt,
# metrics-load.txt, snapshot.json, check.json; exit 0 when every check passes. About 2 minutes.
set -uo pipefail
OUT="${OUT:-$PWD/gpu-out}"; mkdir -p "$OUT"
CARRY="${CARRY:-.gpu-carry}"
T=/tmp/tb-gpu-metrics; rm -rf "$T"; mkdir -p "$T/bin" "$T/site"
exec > >(tee -a "$OUT/run.log") 2>&1
echo "== machine"; date -u; uname -a; nproc
nvidia-smi --query-gpu=index,uuid,name,driver_version,utilization.gpu,memory.total,memory.used,power.draw,power.limit --format=csv | tee "$OUT/nvidia-smi.csv"
python3 -c 'import sys,torch;print(sys.version.split()[0],"torch",torch.__version__,"cuda",torch.version.cuda,torch.cuda.get_device_name(0))'

echo "== unpack"
xz -dc "$CARRY/node.xz" > "$T/bin/node" && chmod +x "$T/bin/node" || exit 1
[ -d node_modules ] || tar -xzf "$CARRY/node_modules.tar.gz" -C . || exit 1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$T/site" "$CARRY"/whl/*.whl || exit 1
export PATH="$T/bin:$PATH" PYTHONPATH="$PWD/python:$T/site${PYTHONPATH:+:$PYTHONPATH}"
node --version
node -e 'require.resolve("prom-client")' || { echo "prom-client is missing from the carried node_modules: rebuild .gpu-carry from this branch"; exit 1; }

echo "== serve (metrics every 500 ms)"
export TENSORBIND_DEVICE=cuda:0 TENSORBIND_PYTHON="$(command -v python3)"
node bin/tensorbind.js serve examples/python-torch/models.ts --http-port 0 --grpc-port 0 --metrics-port 0 \
  --metrics-interval-ms 500 --ready-file "$T/ready.json" > "$OUT/server.log" 2>&1 &
SPID=$!
trap 'kill $SPID 2>/dev/null; wait $SPID 2>/dev/null' EXIT
for _ in $(seq 1 1200); do
  [ -s "$T/ready.json" ] && break
  kill -0 $SPID 2>/dev/null || { echo "server exited before ready"; tail -50 "$OUT/server.log"; exit 1; }
  sleep 0.05
done
[ -s "$T/ready.json" ] || { echo "server not ready in 60 s"; tail -50 "$OUT/server.log"; exit 1; }
cat "$T/ready.json"; echo

echo "== load and scrape"
PYTHONUNBUFFERED=1 timeout 300 python3 bench/gpu/metrics_check.py "$T/ready.json" "$OUT"
rc=$?

echo "== stop"
kill -TERM $SPID; wait $SPID; echo "server exit $?"
trap - EXIT
sleep 0.5
if pgrep -af "tensorbind\.worker|nvidia-smi --query-gpu=index,uuid"; then echo "WARNING: processes left behind"; rc=1; else echo "no worker or nvidia-smi left"; fi
tail -5 "$OUT/server.log"
exit $rc
