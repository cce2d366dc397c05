#!/usr/bin/env bash
# bench/gpu/shm.sh: the CUDA shared-memory extension on an NVIDIA GPU (< 5 minutes):
#   1. serve a JS identity and a PyTorch model on cuda:0 (bench/gpu/shm-models.ts, --shm-extension all);
#   2. bench/gpu/shm_client.py: CUDA regions (torch tensors shared by IPC handle) over HTTP;
#      results must equal the non-shm path; a 64 MiB identity timed both ways;
#   3. perf_analyzer --shared-memory cuda against the identity, HTTP and gRPC, when it is carried.
# Runs on the device machine from the repository root. Carry (55 MiB): .gpu-carry/node.xz,
# .gpu-carry/node_modules.tar.gz, .gpu-carry/whl (bench/gpu/make-carry.sh),
# .gpu-carry/perf-analyzer.tar.xz (bench/gpu/carry-perf-analyzer.sh), dist, native/shm/build/Release.
# Writes run.log, server.log, client.txt, perf-*.txt and summary.txt under $OUT.
set -uo pipefail
. bench/gpu/lib.sh
gpu_prelude shm
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/nvidia-smi.csv"
cuda_on_path
# The server loads the CUDA runtime with dlopen: the toolkit's, next to nvcc.
NVCC_DIR="$(dirname "$(command -v nvcc 2>/dev/null || echo /usr/local/cuda/bin/nvcc)")"
export LD_LIBRARY_PATH="$NVCC_DIR/../lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

echo "== unpack"
unpack_node || exit 1
unpack_wheels whl zmq || exit 1
export PYTHONPATH="$PWD/python:$PYTHONPATH"
python3 -c 'import torch, zmq; print("torch", torch.__version__, torch.cuda.get_device_name(0))' || exit 1
[ -f native/shm/build/Release/tensorbind_shm.node ] || fail "native/shm/build/Release was not carried"

echo "== serve"
export TENSORBIND_PYTHON="$(command -v python3)"
serve_until_ready "$T/ready.json" "$OUT/server.log" 90 \
  node bin/tensorbind.js serve bench/gpu/shm-models.ts --http-port 0 --grpc-port 0 --metrics-port 0 \
  --shm-extension all --max-body-bytes 268435456 --ready-file "$T/ready.json" || fail "server did not start"
cat "$T/ready.json"; echo

echo "== client: CUDA regions vs the non-shm path"
PYTHONUNBUFFERED=1 timeout 150 python3 bench/gpu/shm_client.py "$T/ready.json" | tee "$OUT/client.txt"
client_rc=${PIPESTATUS[0]}
echo "client rc $client_rc" | tee -a "$OUT/summary.txt"

echo "== perf_analyzer --shared-memory cuda"
if unpack_perf_analyzer; then
  for proto in http grpc; do
    url="$(ready_field "$proto")"
    timeout 60 "$PA" -m identity -u "$url" -i "$proto" --shared-memory cuda --shape INPUT0:262144 \
      --output-shared-memory-size 1048576 --concurrency-range 1:1 --request-count 100 > "$OUT/perf-$proto.txt" 2>&1
    rc=$?; tail -6 "$OUT/perf-$proto.txt"; echo "perf_analyzer $proto rc $rc" | tee -a "$OUT/summary.txt"
  done
else
  echo "perf_analyzer not carried: skipped" | tee -a "$OUT/summary.txt"
fi
stop_server
grep -iE "error|fail" "$OUT/server.log" | head -20
cat "$OUT/summary.txt"
