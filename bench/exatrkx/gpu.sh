#!/usr/bin/env bash
# bench/exatrkx/gpu.sh: the ExaTrkX example on an NVIDIA GPU, in one go (~4 minutes):
#   1. the six stages called directly on cuda:0 (networks, frnn with torch.cdist, wcc by label
#      propagation) against the CPU pipeline's labels saved here (mu = 20 and 200);
#   2. the model repository served with KIND_GPU instances, the example's tritonclient client
#      checking every answer against the direct GPU pipeline;
#   3. served against direct (both on the GPU), events/s at c = 1, 4, 8 (bench/exatrkx/run.py).
# Runs on the device machine from the repo root (no Node.js, no network, no SciPy there). Make the
# events here first (SciPy and the generator are needed for them):
#   .venv/bin/python examples/exatrkx/make_events.py --mu 20 --events 8 --out examples/exatrkx/gpu-events/mu20
#   .venv/bin/python examples/exatrkx/make_events.py --mu 200 --events 2 --out examples/exatrkx/gpu-events/mu200
# EXATRKX_GPU_INSTANCES (default 1): instances per GPU step; EXATRKX_STEPS (default "1 2 3"): which
# of the steps above to run (4: py-spy samples of the workers during a c = 1 run; carry .whl-pyspy,
# a py-spy wheel); EXATRKX_MUS (default "mu20 mu200"): which event sets. EXATRKX_MPS=1:
# run under CUDA MPS (the six step workers then share the GPU without context switches; see
# docs/PERFORMANCE.md, ExaTrkX on the H100).
# Carry: .gpu-carry/node.xz .gpu-carry/node_modules.tar.gz .gpu-carry/whl .gpu-carry/whl-traccc dist
#   native/shm/build/Release examples/exatrkx/gpu-events. Results under $OUT.
set -uo pipefail
. bench/gpu/lib.sh
gpu_prelude exatrkx
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/nvidia-smi.csv"
python3 -c 'import sys,torch,numpy;print(sys.version.split()[0],"torch",torch.__version__,"cuda",torch.version.cuda,"numpy",numpy.__version__,torch.cuda.get_device_name(0))' ||
  fail "python3 with torch and numpy is needed"
unpack_node || exit 1
unpack_wheels whl zmq || exit 1
unpack_wheels whl-traccc || exit 1
E=examples/exatrkx/gpu-events
[ -d "$E/mu20" ] || fail "$E was not carried (make it with make_events.py, see the header)"
export OMP_NUM_THREADS=1 TENSORBIND_PYTHON=python3 PYTHONPATH="$PWD/python${PYTHONPATH:+:$PYTHONPATH}"

if [ "${EXATRKX_MPS:-0}" = 1 ]; then
  export CUDA_MPS_PIPE_DIRECTORY="$T/mps" CUDA_MPS_LOG_DIRECTORY="$T/mps-log"
  mkdir -p "$CUDA_MPS_PIPE_DIRECTORY" "$CUDA_MPS_LOG_DIRECTORY"
  nvidia-cuda-mps-control -d || fail "EXATRKX_MPS=1: nvidia-cuda-mps-control -d failed"
  trap 'echo quit | nvidia-cuda-mps-control; _gpu_on_exit' EXIT
  echo "CUDA MPS on"
fi
STEPS="${EXATRKX_STEPS:-1 2 3}" MUS="${EXATRKX_MUS:-mu20 mu200}" N="${EXATRKX_GPU_INSTANCES:-1}"
step() { case " $STEPS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
R="$T/model_repository"; cp -r examples/exatrkx/model_repository "$R"
sed -i "s/count: 1, kind: KIND_CPU/count: $N, kind: KIND_GPU, gpus: [ 0 ]/" "$R"/{embed,filter,gnn,frnn,wcc}/config.pbtxt
grep -h instance_group "$R"/*/config.pbtxt | sort | uniq -c

# serve_repository NAME SECONDS: the GPU repository served in the background (SPID), its gRPC
# address in G once ready; the log in $OUT/server-NAME.log.
serve_repository() {
  timeout "$2" node bin/tensorbind.js serve --model-repository "$R" --http-port 0 --grpc-port 0 --metrics-port 0 \
    --ready-file "$T/ready-$1.json" > "$OUT/server-$1.log" 2>&1 &
  SPID=$!
  for _ in $(seq 120); do [ -s "$T/ready-$1.json" ] && break; sleep 1; done
  [ -s "$T/ready-$1.json" ] || { tail -20 "$OUT/server-$1.log"; fail "server not ready"; }
  G=$(python3 -c "import json;print(json.load(open('$T/ready-$1.json'))['grpc'])")
}

if step 1; then
echo "== 1. CPU labels against the direct GPU pipeline"
for mu in $MUS; do
  timeout 120 python3 bench/exatrkx/compare_devices.py --events-dir "$E/$mu" --device cuda:0 --json "$OUT/devices-$mu.json" | tail -1
done
fi

if step 2; then
echo "== 2. the repository on the GPU (KIND_GPU), answers against the direct GPU pipeline"
serve_repository answers 150
for mu in $MUS; do
  timeout 120 python3 examples/exatrkx/client.py --url "$G" --events-dir "$E/$mu" --events 8 --concurrency 4 \
    --device cuda:0 --json "$OUT/client-$mu.json" | tail -3
done
kill -TERM "$SPID"; wait "$SPID"; SPID=
fi

if step 3; then
echo "== 3. served vs direct on the GPU ($MUS), $N instance(s) per GPU step"
for mu in $MUS; do
  timeout 150 python3 bench/exatrkx/run.py --serve repository --repository "$R" --device cuda:0 \
    --events-dir "$E/$mu" --concurrency 1,4,8 --seconds 4 --pairs 1 --out "$OUT/bench-$mu" | tail -3
done
fi
if step 4; then
echo "== 4. where a served event's time goes at c = 1: py-spy samples of every worker ($N instance(s) per GPU step)"
# Carry .whl-pyspy (a py-spy wheel) too. Samples of busy threads only (no --idle): what each step
# worker does with its share of an event, by function, native frames (torch, CUDA) included;
# 25 s covers the run below (direct then served, 8 s each, plus its warm-up check). Read it with
# bench/exatrkx/spy_summary.py spy.tar.gz.
python3 -m pip install -q --no-index --no-deps --no-compile --target "$T/spy" .whl-pyspy/*.whl || fail "carry .whl-pyspy"
SPY="$T/spy/bin/py-spy"
serve_repository spy 200
mu=$(echo $MUS | cut -d' ' -f1)
# warm every instance, then record while a c = 1 client runs
timeout 100 python3 bench/exatrkx/run.py --url "$G" --device cuda:0 --events-dir "$E/$mu" --concurrency 1 \
  --seconds 3 --pairs 1 --out "$T/warm4" > /dev/null 2>&1
mkdir -p "$T/spy-out"
for pid in $(pgrep -f "tensorbind.worker|tensorbind._proxy.prewarm"); do
  "$SPY" record --pid "$pid" --duration 25 --rate 1000 --native --nonblocking --format raw \
    -o "$T/spy-out/$pid.txt" > "$T/spy-out/$pid.log" 2>&1 &
done
sleep 1
timeout 60 python3 bench/exatrkx/run.py --url "$G" --device cuda:0 --events-dir "$E/$mu" --concurrency 1 \
  --seconds 8 --pairs 1 --out "$OUT/bench4-$mu" | tail -3
wait $(jobs -p | grep -v "^$SPID$") 2>/dev/null
tar -czf "$OUT/spy.tar.gz" -C "$T" spy-out
kill -TERM "$SPID"; wait "$SPID"; SPID=
fi
echo "== done"
