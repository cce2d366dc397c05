#!/usr/bin/env bash
# bench/gpu/traccc-workers.sh: P7 with frontend threads — the traccc example served over gRPC
# (network path) against direct in-process calls at mu = 200, 1 and 4 instances, with the server's
# --workers 1 (one event loop takes every byte in) and 4 (four frontend threads share the port),
# in one go (< 7 minutes). Like bench/gpu/traccc.sh but without its C++ tests and agreement runs.
# Runs on the device machine from the repo root; carry .gpu-carry (Node >= 22.12: make-carry.sh
# with Node 24 on PATH, then traccc-carry.sh) and dist (npm run build).
# Results under $OUT: run.log, build.log, w1/ and w4/ (results.{json,md}, server-*.log), top.txt.
# Variants: WORKERS="4 8" INSTANCES=4 MIN_CLIENTS=8 bash bench/gpu/traccc-workers.sh
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
# CPU per thread every 2 s (a thread near 100% is the bound) while the benchmark runs: names what bounds the served runs.
top -H -b -d 2 -w 200 > "$OUT/top-raw.txt" 2>&1 &
TOP=$!
for w in ${WORKERS:-4 1}; do
  echo "== --workers $w: served vs direct at mu = 200, instances ${INSTANCES:-1,4} ($(left) s left)"
  # Two client processes at least, so that with one instance two connections (two frontend threads) take events in.
  TENSORBIND_WORKERS=$w timeout "$(left)" python3 bench/traccc/run.py --device cuda --mu 200 --instances "${INSTANCES:-1,4}" \
    --events 10 --seconds 3 --pairs 2 --min-clients "${MIN_CLIENTS:-2}" --out "$OUT/w$w"
  bench_rc=$(( bench_rc || $? ))
  cat "$OUT/w$w/results.md" 2>/dev/null
  grep -h "frontend" "$OUT/w$w"/server-*.log 2>/dev/null | head -3
done
kill $TOP 2>/dev/null
# The busiest processes: server (node), clients (python3 client), direct runs (traccc-reco).
awk '$1 ~ /^[0-9]+$/ && $9+0 > 50 {print $9, $12}' "$OUT/top-raw.txt" | sort -k2 | awk '{n[$2]++; s[$2]+=$1; if ($1>m[$2]) m[$2]=$1} END {for (k in n) printf "%s: %d samples > 50%%, mean %.0f%%, max %.0f%%\n", k, n[k], s[k]/n[k], m[k]}' | tee "$OUT/top.txt"
rm -f "$OUT/top-raw.txt"
for d in "$OUT"/w*; do rm -rf "$d/events"; done
echo "== done in $((SECONDS - START)) s (bench rc $bench_rc)"
exit $bench_rc
