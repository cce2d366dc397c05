#!/usr/bin/env bash
# bench/gpu/traccc-workers.sh: P7 with frontend threads — the traccc example served over gRPC
# (network path) against direct in-process calls at mu = 200, 1 and 4 instances, with the server's
# --workers 1 (one event loop takes every byte in) and 4 (four frontend threads share the port),
# in one go (< 7 minutes). Like bench/gpu/traccc.sh but without its C++ tests and agreement runs.
# Runs on the device machine from the repo root; carry .gpu-carry (Node >= 22.12: make-carry.sh
# with Node 24 on PATH, then traccc-carry.sh) and dist (npm run build).
# Results under $OUT: run.log, build.log, w1/ and w4/ (results.{json,md}, server-*.log).
set -uo pipefail
. bench/gpu/lib.sh
gpu_prelude traccc-workers
START=$SECONDS
left() { local l=$((400 - (SECONDS - START))); echo $((l > 10 ? l : 10)); }

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/nvidia-smi.csv"
cuda_on_path
echo "== unpack"
unpack_node || exit 1
node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 12) ? 0 : 1)' ||
  { echo "node $(node --version) cannot share ports (needs >= 22.12): rebuild .gpu-carry with Node 24"; exit 1; }
unpack_wheels whl-traccc || exit 1
[ -f dist/index.js ] || { echo "dist/ was not carried (npm run build, carry dist)"; exit 1; }

echo "== build (CUDA, sm_90)"
t0=$SECONDS
rm -rf examples/traccc/build
timeout 240 node node_modules/cmake-js/bin/cmake-js compile -d examples/traccc/addon -O examples/traccc/build \
  --CDTENSORBIND_CUDA=ON --CDTENSORBIND_CUDA_ARCHITECTURES=90 --parallel "$(nproc)" > "$OUT/build.log" 2>&1
rc=$?; tail -3 "$OUT/build.log"; echo "build rc $rc in $((SECONDS - t0)) s"
[ $rc -eq 0 ] || { grep -iE "error" "$OUT/build.log" | head -30; exit 1; }

bench_rc=0
for w in 4 1; do
  echo "== --workers $w: served vs direct at mu = 200, 1 and 4 instances ($(left) s left)"
  # Two client processes at least, so that with one instance two connections (two frontend threads) take events in.
  TENSORBIND_WORKERS=$w timeout "$(left)" python3 bench/traccc/run.py --device cuda --mu 200 --instances 1,4 \
    --events 10 --seconds 3 --pairs 2 --min-clients 2 --out "$OUT/w$w"
  bench_rc=$(( bench_rc || $? ))
  cat "$OUT/w$w/results.md" 2>/dev/null
  grep -h "frontend" "$OUT/w$w"/server-*.log 2>/dev/null | head -3
done
for d in "$OUT"/w*; do rm -rf "$d/events"; done
echo "== done in $((SECONDS - START)) s (bench rc $bench_rc)"
exit $bench_rc
