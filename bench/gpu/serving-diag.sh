#!/usr/bin/env bash
# bench/gpu/serving-diag.sh: where does a served traccc event (mu = 200, ~7 MB request) spend its
# time? On the GPU machine, for the gRPC receive window (65535 = Node's default, 16 MiB = ours)
# and 1 / 4 instances: events/s through perf_analyzer (C++ client, the event's own tensors) and
# through the example's Python tritonclient client, the server's CPU seconds per event, and
# direct in-process calls (traccc-reco --threads k) as the reference. Also HTTP via perf_analyzer.
# Carry: .gpu-carry (make-carry.sh, traccc-carry.sh, carry-perf-analyzer.sh) and dist.
# Results: $OUT/diag.log and $OUT/diag.md. About 4 minutes.
set -uo pipefail
. bench/gpu/lib.sh
gpu_prelude diag diag.log
cuda_on_path
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader

# --- unpack: node, node_modules, tritonclient wheels, perf_analyzer
unpack_node || exit 1
unpack_wheels whl-traccc || exit 1
unpack_perf_analyzer || { echo "perf_analyzer not carried (bench/gpu/carry-perf-analyzer.sh)"; exit 1; }

# --- build and events
[ -x examples/traccc/build/core/traccc-reco ] || node node_modules/cmake-js/bin/cmake-js compile -d examples/traccc/addon \
  -O examples/traccc/build --CDTENSORBIND_CUDA=ON --CDTENSORBIND_CUDA_ARCHITECTURES=90 --parallel "$(nproc)" > "$OUT/build.log" 2>&1 \
  || { tail -20 "$OUT/build.log"; exit 1; }
B=examples/traccc/build/core
"$B/traccc-gen" --mu 200 --events 8 --seed 3 --out "$T/ev" > /dev/null || exit 1
# perf_analyzer --input-data DIR: one raw file per input, named after it
python3 - "$T/ev" "$T/pa" <<'EOF' > "$T/shapes"
import sys, pathlib, numpy as np
src, dst = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]); dst.mkdir(exist_ok=True)
pos = np.load(sorted(src.glob("*cell_positions.npy"))[0]); prop = np.load(sorted(src.glob("*cell_properties.npy"))[0])
pos.astype("<i8").tofile(dst / "CELL_POSITIONS"); prop.astype("<f4").tofile(dst / "CELL_PROPERTIES")
print(f"--shape CELL_POSITIONS:{pos.shape[0]},4 --shape CELL_PROPERTIES:{prop.shape[0]},2")
EOF
SHAPES=$(cat "$T/shapes"); echo "event 0: $SHAPES"

cpu_s() { awk '{print ($14+$15)/100}' "/proc/$1/stat"; }
md="$OUT/diag.md"
echo "| window | k | client | conc | ev/s | server CPU ms/event | p50 ms |" > "$md"; echo "|---|---|---|---|---|---|---|" >> "$md"

for k in 1 4; do
  d=$("$B/traccc-reco" --dir "$T/ev" --events 8 --device cuda --threads $k --throughput 3 --quiet 2>&1 | grep -oE "[0-9.]+ events/s" | head -1)
  echo "direct k=$k: $d"; echo "| - | $k | direct (traccc-reco) | $k | ${d%% *} | | |" >> "$md"
  for w in 65535 16777216; do
    serve_until_ready "$T/ready.json" "$OUT/server-$k-$w.log" 30 \
      env TRACCC_DEVICE=cuda TRACCC_INSTANCES=$k TENSORBIND_GRPC_FLOW_CONTROL_WINDOW=$w TENSORBIND_MAX_BODY_BYTES=$((256 << 20)) \
      node bin/tensorbind.js serve examples/traccc/models.ts --http-port 0 --grpc-port 0 --metrics-port 0 \
      --log-level warn --ready-file "$T/ready.json" || continue
    GRPC=$(ready_field grpc)
    HTTP=$(ready_field http)
    for proto in grpc http; do
      [ $proto = http ] && [ $w != 16777216 ] && continue
      url=$GRPC; [ $proto = http ] && url=$HTTP
      c0=$(cpu_s $SPID)
      timeout 180 "$PA" -m traccc -i $proto -u "$url" $SHAPES --input-data "$T/pa" --concurrency-range $((2 * k)):$((2 * k)) \
        --request-count $((60 * k)) > "$T/pa.txt" 2>&1
      c1=$(cpu_s $SPID)
      tput=$(grep -oE "Throughput: [0-9.]+" "$T/pa.txt" | head -1 | awk '{print $2}')
      p50=$(grep -oE "p50 latency: [0-9]+" "$T/pa.txt" | head -1 | awk '{print $3/1000}')
      n=$(grep -oE "Request count: [0-9]+" "$T/pa.txt" | head -1 | awk '{print $3}')
      cpu=$(python3 -c "print(round(1000*($c1-$c0)/max(1,${n:-0}+1),2))")
      echo "k=$k window=$w perf_analyzer $proto: ${tput:-FAILED} ev/s, server CPU ${cpu} ms/event, p50 ${p50:-?} ms"
      [ -z "$tput" ] && tail -5 "$T/pa.txt"
      echo "| $w | $k | perf_analyzer $proto | $((2 * k)) | ${tput:-fail} | $cpu | ${p50:-} |" >> "$md"
    done
    c0=$(cpu_s $SPID)
    python3 examples/traccc/client.py --url "$GRPC" --events "$T/ev" --concurrency $((2 * k)) --repeat $((4 * k)) \
      --json "$T/client.json" > "$T/client.txt" 2>&1
    c1=$(cpu_s $SPID)
    python3 - "$T/client.json" "$c0" "$c1" "$w" "$k" >> "$md" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1])); c0, c1 = float(sys.argv[2]), float(sys.argv[3])
ev = r.get("events", 0); eps = r.get("events_per_s", 0); p50 = r.get("latency_ms_p50", 0)
print(f"| {sys.argv[4]} | {sys.argv[5]} | python tritonclient | {2*int(sys.argv[5])} | {eps:.1f} | {1000*(c1-c0)/max(1,ev):.2f} | {p50:.1f} |")
EOF
    tail -1 "$md"
    stop_server
  done
done
cat "$md"
