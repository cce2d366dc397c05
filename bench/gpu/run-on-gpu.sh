#!/usr/bin/env bash
# bench/gpu/run-on-gpu.sh: serve examples/python-torch (model `mlp`, framework "torch") on an
# NVIDIA GPU (TENSORBIND_DEVICE=cuda:0) and check it against direct calls of model.py's `infer`.
# Runs on the device machine (no Node.js, no pyzmq there) from the repo root, with the
# ignored paths .gpu-carry, dist and native/shm/build/Release carried (see docs/perf-results/gpu.md
# for how .gpu-carry is made). Writes its outputs under $OUT (or ./gpu-out when unset).
set -uo pipefail
. bench/gpu/lib.sh
gpu_prelude gpu
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/nvidia-smi.csv"
python3 -c 'import sys,torch,numpy,pyarrow;print(sys.version.split()[0],"torch",torch.__version__,"cuda",torch.version.cuda,"numpy",numpy.__version__,"pyarrow",pyarrow.__version__,torch.cuda.get_device_name(0))'

echo "== unpack"
t0=$(date +%s.%N)
unpack_node || exit 1
unpack_wheels whl zmq || exit 1
export PYTHONPATH="$PWD/python:$PYTHONPATH"
echo "unpacked in $(python3 -c "import time;print(round(time.time()-$t0,3))") s"
python3 -c 'import zmq;print("pyzmq",zmq.__version__)' || exit 1

echo "== serve"
export TENSORBIND_DEVICE=cuda:0 TENSORBIND_PYTHON="$(command -v python3)"
t0=$(date +%s.%N)
serve_until_ready "$T/ready.json" "$OUT/server.log" 60 \
  node bin/tensorbind.js serve examples/python-torch/models.ts --http-port 0 --grpc-port 0 \
  --ready-file "$T/ready.json" || exit 1
echo "ready in $(python3 -c "import time;print(round(time.time()-$t0,3))") s (spawn -> ready file, torch import + CUDA init included): $(cat "$T/ready.json")"

echo "== check + throughput"
PYTHONUNBUFFERED=1 python3 bench/gpu/client.py "$T/ready.json" | tee "$OUT/result.txt"
rc=${PIPESTATUS[0]}
nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv | tee -a "$OUT/result.txt"
stop_server
tail -20 "$OUT/server.log"
exit $rc
