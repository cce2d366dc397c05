#!/usr/bin/env bash
# bench/gpu/batching.sh: dynamic batching on vs off (performance.md P6) on an NVIDIA GPU, in one go:
# bench/batching/run.mjs serves its PyTorch MLP (one Python worker, device cuda:0) and its JS
# function, each with batching on and off, and drives them with perf_analyzer over HTTP at
# concurrency 32 (A B A B pairs); then the same with the MLP on the machine's CPU, for contrast.
#
# Runs on the device machine (no Node.js, no pyzmq, no network) from the repository root. Carry:
#   .gpu-carry              bench/gpu/make-carry.sh (node.xz, node_modules.tar.gz, whl/pyzmq-*.whl)
#                           plus .gpu-carry/perf-analyzer.tar.xz from bench/gpu/carry-perf-analyzer.sh
#   dist                    npm run build
#   native/shm/build/Release    npm run build:native (the shared-memory addon)
# Writes under $OUT (default ./gpu-out): run.log, batching-cuda.txt, batching-cpu.txt (Markdown
# table + raw JSON each), nvidia-smi.csv, summary.txt. About 3–5 minutes on an H100.
# BENCH_DEVICES (default "cuda:0 cpu") and BENCH_PAIRS / BENCH_INTERVAL_MS change what runs.
set -uo pipefail
. bench/gpu/lib.sh
gpu_prelude gpu-batching
uptime
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/nvidia-smi.csv" || true
python3 -c 'import sys,torch,numpy,pyarrow;print(sys.version.split()[0],"torch",torch.__version__,"cuda",torch.version.cuda,"numpy",numpy.__version__,"pyarrow",pyarrow.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU")' \
  || fail "python3 with torch, numpy and pyarrow is needed"

echo "== unpack"
unpack_node || fail "node"
unpack_wheels whl zmq || fail "no pyzmq wheel in $CARRY/whl"
export PYTHONPATH="$PWD/python:$PYTHONPATH"
python3 -c 'import zmq;print("pyzmq",zmq.__version__)' || fail "pyzmq"
[ -f dist/index.js ] || fail "dist/ was not carried (npm run build, carry dist)"
[ -f native/shm/build/Release/tensorbind_shm.node ] || fail "native/shm/build/Release was not carried (npm run build:native)"
unpack_perf_analyzer || fail "perf_analyzer not carried (bench/gpu/carry-perf-analyzer.sh)"
export TENSORBIND_PYTHON="$(command -v python3)"

rc=0
for device in ${BENCH_DEVICES:-cuda:0 cpu}; do
  name=${device%%:*}
  echo "== batching on vs off, MLP on $device"
  BENCH_DEVICE=$device timeout 220 node bench/batching/run.mjs --pairs "${BENCH_PAIRS:-2}" \
    --interval-ms "${BENCH_INTERVAL_MS:-2000}" --json > "$OUT/batching-$name.txt" || { echo "run on $device failed"; rc=1; }
  sed -n '/^Machine/,/^{/p' "$OUT/batching-$name.txt" | sed '$d' | tee -a "$OUT/summary.txt"
done
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv | tee -a "$OUT/summary.txt" || true
exit $rc
