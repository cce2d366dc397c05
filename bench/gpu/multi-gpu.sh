#!/usr/bin/env bash
# bench/gpu/multi-gpu.sh: the traccc example spread over several GPUs (issue 20), in one go
# (< 9 minutes on a 4-GPU node):
#   1. builds the addon and the drivers with CUDA (cmake-js, sm_90) and lists the GPUs;
#   2. checks that every GPU reconstructs what GPU 0 does (the C++ agreement test per GPU, via
#      CUDA_VISIBLE_DEVICES) and that the served model config shows KIND_GPU with the GPU list;
#   3. measures events/s served (tensorbind gRPC, 2 client requests in flight per instance) with
#      1, 2 and 4 GPUs x 2 instances each (`instances: { count: 2, gpus: [0..N-1] }`), against
#      direct in-process calls measured the same way (traccc-reco --threads 2N --gpus N: thread i
#      on GPU i % N), alternating direct/served, at mu = 200;
#   4. writes scaling.md: events/s and the speed-up from 1 GPU, served and direct, against the
#      targets (>= 1.8x at 2 GPUs, >= 3.4x at 4), and whether every run's physics (efficiency,
#      fake and duplicate rates) equals the 1-GPU run's.
# Needs a machine with 2 or more GPUs (GPU counts above the machine's are skipped and said so).
# Runs on the device machine from the repo root (no Node.js, no network there). Carry:
#   .gpu-carry (bench/gpu/make-carry.sh, then bench/gpu/traccc-carry.sh) and dist (npm run build).
# Results under $OUT: run.log, gpus.csv, agreement-gpu*.txt, config-*.json, bench-gpus*/
# (results.{json,md}, server-*.log), gpu-util.csv, scaling.md, build.log.
# Options: --mu MU (default 200), --seconds S per timed run (default 3), --pairs P (default 2).
set -uo pipefail
MU=200 SECS=3 PAIRS=2
while [ $# -gt 0 ]; do
  case "$1" in
    --mu) MU="$2"; shift 2 ;;
    --seconds) SECS="$2"; shift 2 ;;
    --pairs) PAIRS="$2"; shift 2 ;;
    *) echo "unknown option $1"; exit 2 ;;
  esac
done
. bench/gpu/lib.sh
gpu_prelude multi-gpu
START=$SECONDS
left() { local l=$((500 - (SECONDS - START))); echo $((l > 10 ? l : 10)); }

nvidia-smi --query-gpu=index,uuid,name,driver_version,memory.total --format=csv | tee "$OUT/gpus.csv"
NGPU=$(nvidia-smi --query-gpu=index --format=csv,noheader | wc -l)
echo "GPUs on this machine: $NGPU"
[ "$NGPU" -ge 2 ] || fail "this script needs 2 or more GPUs; the machine has $NGPU"
nvidia-smi topo -m > "$OUT/topology.txt" 2>&1 || true
cuda_on_path
nvcc --version | tail -2; python3 --version

echo "== unpack"
unpack_node || exit 1
unpack_wheels whl-traccc || exit 1
python3 -c 'import tritonclient.grpc, numpy' || exit 1
[ -f dist/index.js ] || { echo "dist/ was not carried (npm run build, carry dist)"; exit 1; }

echo "== build (CUDA, sm_90)"
rm -rf examples/traccc/build
timeout 240 node node_modules/cmake-js/bin/cmake-js compile -d examples/traccc/addon -O examples/traccc/build \
  --CDTENSORBIND_CUDA=ON --CDTENSORBIND_CUDA_ARCHITECTURES=90 --parallel "$(nproc)" > "$OUT/build.log" 2>&1 ||
  { grep -iE "error" "$OUT/build.log" | head -30; fail "build"; }
grep -q "traccc example: CUDA ON" "$OUT/build.log" || fail "CMake did not switch CUDA on"
B=examples/traccc/build/core

echo "== every GPU agrees with the CPU chain (C++ test per GPU)"
agree_rc=0
for ((g = 0; g < NGPU; g++)); do
  CUDA_VISIBLE_DEVICES=$g timeout 60 "$B/traccc-tests" cuda_agrees_with_cpu > "$OUT/agreement-gpu$g.txt" 2>&1
  rc=$?; echo "GPU $g: $(tail -1 "$OUT/agreement-gpu$g.txt") (rc $rc)"
  agree_rc=$((agree_rc || rc))
done

echo "== the served config shows the instance group"
for n in 2 4; do
  [ "$n" -le "$NGPU" ] || continue
  if serve_until_ready "$T/ready.json" "$OUT/server-config-$n.log" 120 \
    env TRACCC_DEVICE=cuda TRACCC_INSTANCES=2 TRACCC_GPUS=$n \
    node bin/tensorbind.js serve examples/traccc/models.ts --http-port 0 --grpc-port 0 --metrics-port 0 \
    --ready-file "$T/ready.json"; then
    python3 -c 'import json, sys, urllib.request as u; print(u.urlopen(json.load(open(sys.argv[1]))["http"] + "/v2/models/traccc/config").read().decode())' \
      "$T/ready.json" > "$OUT/config-$n.json"
    python3 - "$OUT/config-$n.json" "$n" <<'PY'
import json, sys
group = json.load(open(sys.argv[1]))["instance_group"]
want = [{"kind": "KIND_GPU", "count": 2, "gpus": list(range(int(sys.argv[2])))}]
got = [{k: g[k] for k in ("kind", "count", "gpus")} for g in group]
print("instance_group", "ok" if got == want else f"WRONG: {got} != {want}")
PY
    stop_server
  fi
done

echo "== served vs direct, 1/2/4 GPUs x 2 instances, mu = $MU ($(left) s left)"
nvidia-smi --query-gpu=index,utilization.gpu,memory.used --format=csv -lms 500 > "$OUT/gpu-util.csv" 2>&1 &
SMI=$!
bench_rc=0
for n in 1 2 4; do
  if [ "$n" -gt "$NGPU" ]; then echo "skip $n GPUs: the machine has $NGPU"; continue; fi
  timeout "$(left)" python3 bench/traccc/run.py --device cuda --mu "$MU" --instances 2 --gpus "$n" \
    --events 10 --seconds "$SECS" --pairs "$PAIRS" --out "$OUT/bench-gpus$n"
  bench_rc=$((bench_rc || $?))
done
kill $SMI 2>/dev/null
for d in "$OUT"/bench-*; do rm -rf "$d/events"; done

echo "== scaling"
python3 - "$OUT" <<'PY' | tee "$OUT/scaling.md"
import json, statistics, sys
from pathlib import Path
out = Path(sys.argv[1])
runs = {}
for d in sorted(out.glob("bench-gpus*")):
    rows = json.loads((d / "results.json").read_text())["rows"] if (d / "results.json").exists() else []
    if rows:
        runs[int(d.name.removeprefix("bench-gpus"))] = rows[0]
if 1 not in runs:
    print("no 1-GPU run: no scaling"); sys.exit(1)
base = runs[1]
med = lambda r, k: statistics.median(r[k])
target = {2: 1.8, 4: 3.4}
print("| GPUs | instances | direct ev/s | served ev/s | direct speed-up | served speed-up | target | physics = 1 GPU |")
print("| ---- | --------- | ----------- | ----------- | --------------- | --------------- | ------ | --------------- |")
ok = True
for n, r in sorted(runs.items()):
    ds, ss = med(r, "direct_events_per_s") / med(base, "direct_events_per_s"), med(r, "served_events_per_s") / med(base, "served_events_per_s")
    same = all(r[k] == base[k] for k in ("efficiency", "fake_rate", "duplicate_rate"))
    t = target.get(n)
    ok = ok and same and (t is None or ss >= t)
    print(f"| {n} | {2 * n} | {med(r, 'direct_events_per_s'):.1f} | {med(r, 'served_events_per_s'):.1f} | {ds:.2f}x | {ss:.2f}x "
          f"| {'' if t is None else f'>= {t}x'} | {'yes' if same else 'NO'} |")
print("\nall targets met" if ok else "\nsome target missed (see above)")
sys.exit(0 if ok else 1)
PY
scale_rc=${PIPESTATUS[0]}
echo "== done in $((SECONDS - START)) s (agreement rc $agree_rc, bench rc $bench_rc, scaling rc $scale_rc)"
exit $(( agree_rc != 0 || bench_rc != 0 || scale_rc != 0 ))
