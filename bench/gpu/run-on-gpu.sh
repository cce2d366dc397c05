#!/usr/bin/env bash
# bench/gpu/run-on-gpu.sh: serve examples/python-torch (model `mlp`, framework "torch") on an
# NVIDIA GPU (TENSORBIND_DEVICE=cuda:0) and check it against direct calls of model.py's `infer`.
# Runs on the device machine (no Node.js, no pyzmq there) from the repo root, with the
# ignored paths .gpu-carry, dist and native/build/Release carried (see docs/perf-results/gpu.md
# for how .gpu-carry is made). Writes its outputs under $OUT (or ./gpu-out when unset).
set -uo pipefail
OUT="${OUT:-$PWD/gpu-out}"; mkdir -p "$OUT"
CARRY="${CARRY:-.gpu-carry}"
T=/tmp/tb-gpu; mkdir -p "$T/bin" "$T/site"
exec > >(tee -a "$OUT/run.log") 2>&1
echo "== machine"; date -u; uname -a; nproc
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/nvidia-smi.csv"
python3 -c 'import sys,torch,numpy,pyarrow;print(sys.version.split()[0],"torch",torch.__version__,"cuda",torch.version.cuda,"numpy",numpy.__version__,"pyarrow",pyarrow.__version__,torch.cuda.get_device_name(0))'

echo "== unpack"
t0=$(date +%s.%N)
xz -dc "$CARRY/node.xz" > "$T/bin/node" && chmod +x "$T/bin/node" || exit 1
[ -d node_modules ] || tar -xzf "$CARRY/node_modules.tar.gz" -C . || exit 1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$T/site" "$CARRY"/whl/*.whl || exit 1
export PATH="$T/bin:$PATH" PYTHONPATH="$PWD/python:$T/site${PYTHONPATH:+:$PYTHONPATH}"
echo "unpacked in $(python3 -c "import time;print(round(time.time()-$t0,3))") s; node $(node --version)"
python3 -c 'import zmq;print("pyzmq",zmq.__version__)' || exit 1

echo "== serve"
export TENSORBIND_DEVICE=cuda:0 TENSORBIND_PYTHON="$(command -v python3)"
rm -f "$T/ready.json"
t0=$(date +%s.%N)
node bin/tensorbind.js serve examples/python-torch/models.ts --http-port 0 --grpc-port 0 \
  --ready-file "$T/ready.json" > "$OUT/server.log" 2>&1 &
SPID=$!
trap 'kill $SPID 2>/dev/null; wait $SPID 2>/dev/null' EXIT
for _ in $(seq 1 1200); do
  [ -s "$T/ready.json" ] && break
  kill -0 $SPID 2>/dev/null || { echo "server exited before ready"; tail -50 "$OUT/server.log"; exit 1; }
  sleep 0.05
done
[ -s "$T/ready.json" ] || { echo "server not ready in 60 s"; tail -50 "$OUT/server.log"; exit 1; }
echo "ready in $(python3 -c "import time;print(round(time.time()-$t0,3))") s (spawn -> ready file, torch import + CUDA init included): $(cat "$T/ready.json")"

echo "== check + throughput"
PYTHONUNBUFFERED=1 python3 bench/gpu/client.py "$T/ready.json" | tee "$OUT/result.txt"
rc=${PIPESTATUS[0]}
nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv | tee -a "$OUT/result.txt"
kill -TERM $SPID; wait $SPID; echo "server exit $?"
tail -20 "$OUT/server.log"
exit $rc
