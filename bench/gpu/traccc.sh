#!/usr/bin/env bash
# bench/gpu/traccc.sh: the traccc example on an NVIDIA GPU, in one go (< 8 minutes):
#   1. builds the addon and the drivers with CUDA (cmake-js, sm_90);
#   2. runs the C++ tests, including CUDA-vs-CPU agreement and concurrent GPU instances;
#   3. compares GPU and CPU reconstructions of the same events (mu = 20 and 200);
#   4. times the GPU chain stage by stage at mu = 200;
#   5. measures events/s served (tensorbind gRPC or HTTP, k processes of the example's tritonclient client,
#      2 in flight each) against direct in-process calls (k threads) at mu = 20, 50, 100, 200, k = 1..4
#      instances, alternating direct/served, with request/response sizes and GPU utilisation.
# Runs on the device machine from the repo root (no Node.js, no network there). Carry:
#   .gpu-carry (bench/gpu/make-carry.sh, then bench/gpu/traccc-carry.sh) and dist (npm run build).
# Results under $OUT: run.log, cpp-tests.txt, agreement-mu*.json, stages-mu200.txt,
# bench-mu200/ and bench-mu20-100/ (results.{json,md}, server-*.log), gpu-util.csv, build.log.
# TRACCC_INSTANCES (default 1,2,3,4): the instance counts of step 5 at mu = 200; MIN_CLIENTS (default
# 1): at least this many served client processes (2 events in flight each) in step 5.
# Options: --shared-memory none|system|cuda: how the served clients send the cells (system: a
#   region per client; cuda: a torch allocation on cuda:0 per client, which the model reads as
#   device pointers, docs/SHARED_MEMORY.md); --protocol grpc|http (default grpc): the served clients'
#   protocol (http: tritonclient.http with binary tensors, to the server's HTTP port; not with
#   --shared-memory cuda); --quick: build, then only step 5 at mu = 200 with one pair.
set -uo pipefail
SHM=none QUICK=0 PROTOCOL=grpc
while [ $# -gt 0 ]; do
  case "$1" in
    --shared-memory) SHM="$2"; shift 2 ;;
    --protocol) PROTOCOL="$2"; shift 2 ;;
    --quick) QUICK=1; shift ;;
    *) echo "unknown option $1"; exit 2 ;;
  esac
done
case "$SHM" in
  none|system|cuda) ;;
  *) echo "--shared-memory must be none, system or cuda"; exit 2 ;;
esac
case "$PROTOCOL" in
  grpc|http) ;;
  *) echo "--protocol must be grpc or http"; exit 2 ;;
esac
[ "$PROTOCOL:$SHM" = http:cuda ] && { echo "--shared-memory cuda is gRPC only: use --protocol grpc"; exit 2; }
. bench/gpu/lib.sh
gpu_prelude traccc
START=$SECONDS
left() { local l=$((460 - (SECONDS - START))); echo $((l > 10 ? l : 10)); }

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/nvidia-smi.csv"
cuda_on_path
nvcc --version | tail -2; cmake --version | head -1; g++ --version | head -1; python3 --version
if [ "$SHM" = cuda ]; then
  # The server opens clients' CUDA IPC handles with the runtime it loads with dlopen (the toolkit's).
  NVCC_DIR="$(dirname "$(command -v nvcc 2>/dev/null || echo /usr/local/cuda/bin/nvcc)")"
  export LD_LIBRARY_PATH="$NVCC_DIR/../lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" TENSORBIND_SHM_EXTENSION=all
  [ -f native/shm/build/Release/tensorbind_shm.node ] || { echo "native/shm/build/Release was not carried"; exit 1; }
fi

echo "== unpack"
unpack_node || exit 1
unpack_wheels whl-traccc || exit 1
python3 -c "import tritonclient.$PROTOCOL, numpy; print('tritonclient.$PROTOCOL ok, numpy', numpy.__version__)" || exit 1
[ -f dist/index.js ] || { echo "dist/ was not carried (npm run build, carry dist)"; exit 1; }

echo "== build (CUDA, sm_90)"
t0=$SECONDS
rm -rf examples/traccc/build
timeout 240 node node_modules/cmake-js/bin/cmake-js compile -d examples/traccc/addon -O examples/traccc/build \
  --CDTENSORBIND_CUDA=ON --CDTENSORBIND_CUDA_ARCHITECTURES=90 --parallel "$(nproc)" > "$OUT/build.log" 2>&1
rc=$?; tail -5 "$OUT/build.log"; echo "build rc $rc in $((SECONDS - t0)) s"
[ $rc -eq 0 ] || { grep -iE "error" "$OUT/build.log" | head -30; exit 1; }
grep -q "traccc example: CUDA ON" "$OUT/build.log" || { echo "CMake did not switch CUDA on"; exit 1; }
B=examples/traccc/build/core

tests_rc=0
if [ "$QUICK" = 0 ]; then
echo "== C++ tests (CUDA agreement included)"
timeout 120 "$B/traccc-tests" | tee "$OUT/cpp-tests.txt"; tests_rc=${PIPESTATUS[0]}

echo "== GPU vs CPU on the same events"
timeout 60 "$B/traccc-reco" --mu 20 --events 10 --seed 5 --device cuda --compare cpu --json "$OUT/agreement-mu20.json"
timeout 90 "$B/traccc-reco" --mu 200 --events 3 --seed 5 --device cuda --compare cpu --json "$OUT/agreement-mu200.json"

echo "== GPU stages at mu = 200 (direct, one instance)"
timeout 60 "$B/traccc-reco" --mu 200 --events 5 --seed 6 --device cuda --repeat 5 | tee "$OUT/stages-mu200.txt"
fi
PAIRS=2; [ "$QUICK" = 1 ] && PAIRS=1

echo "== served vs direct at mu = 200, 1-4 instances, 2 pairs ($(left) s left)"
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv -lms 500 > "$OUT/gpu-util.csv" 2>&1 &
SMI=$!
timeout "$(left)" python3 bench/traccc/run.py --device cuda --mu 200 --instances "${TRACCC_INSTANCES:-1,2,3,4}" \
  --events 10 --seconds 2.5 --pairs "$PAIRS" --shared-memory "$SHM" --protocol "$PROTOCOL" --min-clients "${MIN_CLIENTS:-1}" --out "$OUT/bench-mu200"
bench_rc=$?
echo "== served vs direct at mu = 20, 50, 100, 1-4 instances, 1 pair ($(left) s left)"
if [ "$QUICK" = 0 ] && [ "$(left)" -gt 60 ]; then
  timeout "$(left)" python3 bench/traccc/run.py --device cuda --mu 20,50,100 --instances 1,2,3,4 \
    --events 10 --seconds 2 --pairs 1 --shared-memory "$SHM" --protocol "$PROTOCOL" --out "$OUT/bench-mu20-100"
  bench_rc=$(( bench_rc || $? ))
fi
kill $SMI 2>/dev/null
for d in "$OUT"/bench-*; do rm -rf "$d/events"; done
echo "== done in $((SECONDS - START)) s (tests rc $tests_rc, bench rc $bench_rc)"
exit $(( tests_rc != 0 || bench_rc != 0 ))
