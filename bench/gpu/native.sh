#!/usr/bin/env bash
# bench/gpu/native.sh: the native CUDA example (examples/native-cuda) on an NVIDIA GPU, in one go:
#   1. build it with the machine's nvcc (CMake must say "CUDA on", sm_90 among the architectures);
#   2. direct in-process calls (no server): `saxpy`/`sum` on GPU 0 checked against the C++
#      `saxpy_cpu`/`sum_cpu` (sizes 1 … 64 MiB), then the time of `saxpy` calls on 64 MiB tensors;
#   3. serve it (`saxpy`, `sum` on GPU 0), check the served GPU results against the served C++
#      ones, and time the same 64 MiB calls over HTTP (binary tensors, keep-alive) at
#      concurrency 1 and 2: served / direct is the service overhead (target P7 ≥ 0.97);
#      then again with two instances on GPU 0;
#   4. a short perf_analyzer run (1 MiB tensors, HTTP and gRPC) when perf_analyzer is carried.
#
# Runs on the device machine (no Node.js, no network) from the repository root. Carry:
#   .gpu-carry   made by bench/gpu/make-carry.sh (node.xz, node_modules.tar.gz; its pyzmq wheel is
#                not needed here)
#   dist         `npm run build`
#   and, optionally, .gpu-carry/perf-analyzer.tar.xz (11 MB) made by bench/gpu/carry-perf-analyzer.sh
#                from the perf_analyzer that scripts/install-perf-analyzer.sh installs; without it
#                step 4 is skipped
# Writes everything under $OUT (default ./gpu-out): run.log, build.log, direct.json, served-*.json,
# perf-*.txt, server-*.log, summary.txt. About 2–4 minutes on an H100.
set -uo pipefail
. bench/gpu/lib.sh
gpu_prelude gpu-native
elapsed() { python3 -c "import time;print(round(time.time()-$1,3))"; }

nvidia-smi --query-gpu=name,driver_version,memory.total,pcie.link.gen.max,pcie.link.width.max --format=csv | tee "$OUT/nvidia-smi.csv"
cuda_on_path
nvcc --version | tail -2; cmake --version | head -1; g++ --version | head -1

echo "== unpack node"
unpack_node || fail "node"
[ -f dist/index.js ] || fail "dist/ was not carried (npm run build, carry dist)"

echo "== build examples/native-cuda"
t0=$(date +%s.%N)
rm -rf examples/native-cuda/build
node node_modules/cmake-js/bin/cmake-js compile -d examples/native-cuda/addon -O examples/native-cuda/build \
  > "$OUT/build.log" 2>&1 || { tail -40 "$OUT/build.log"; fail "build"; }
grep "tensorbind: CUDA" "$OUT/build.log"
grep -q "tensorbind: CUDA on" "$OUT/build.log" || fail "CMake did not switch CUDA on"
echo "built in $(elapsed "$t0") s"
ADDON=examples/native-cuda/build/Release/cuda_ops.node

echo "== direct in-process calls (check vs C++, then 64 MiB saxpy)"
node bench/gpu/native-bench.mjs direct "$ADDON" --calls 40 | tee "$OUT/direct.json" || fail "direct"

serve() { # serve <name> <gpus> : starts the server, waits for its ready file
  serve_until_ready "$T/ready.json" "$OUT/server-$1.log" 30 \
    env CUDA_EXAMPLE_GPUS="$2" TENSORBIND_MAX_BODY_BYTES=$((512 << 20)) \
    node bin/tensorbind.js serve examples/native-cuda/models.ts --http-port 0 --grpc-port 0 \
    --log-level info --ready-file "$T/ready.json" || fail "server $1 not ready"
}

echo "== served, one instance on GPU 0"
serve one 0
node bench/gpu/native-bench.mjs served "$T/ready.json" --calls 40 --concurrency 1,2 | tee "$OUT/served-one.json" || fail "served"

if unpack_perf_analyzer; then
  echo "== perf_analyzer (saxpy, 1 MiB X and Y, concurrency 2)"
  HTTP=$(ready_field http)
  GRPC=$(ready_field grpc)
  for proto in http grpc; do
    url=$HTTP; [ $proto = grpc ] && url=$GRPC
    timeout 180 "$PA" -m saxpy -i $proto -u "$url" --shape A:1 --shape X:262144 --shape Y:262144 --input-data random \
      --concurrency-range 2:2 --request-count 2000 2>&1 | tee "$OUT/perf-$proto.txt" | grep -E "Throughput|Avg latency|p99"
  done
else
  echo "== perf_analyzer not carried: skipped (carry .tools/perf-analyzer to include it)"
fi
nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv | tee "$OUT/gpu-memory.csv"
stop_server

echo "== served, two instances on GPU 0"
serve two 0,0
node bench/gpu/native-bench.mjs served "$T/ready.json" --calls 40 --concurrency 2,4 | tee "$OUT/served-two.json" || fail "served (two instances)"
stop_server
grep -E "native model loaded|error" "$OUT/server-two.log" | head -5

echo "== summary"
python3 - "$OUT" <<'EOF' | tee "$OUT/summary.txt"
import json, sys
out = sys.argv[1]
d = json.load(open(f"{out}/direct.json"))
one = json.load(open(f"{out}/served-one.json"))
two = json.load(open(f"{out}/served-two.json"))
print(f"saxpy, X and Y {d['mib']} MiB FP32 each, Z {d['mib']} MiB back; GPU results vs C++: all checks passed")
for c in d["checks"]:
    print(f"  n={c['n']}: saxpy worst error {c['saxpy_worst_err']:.2e}, sum {c['sum_worst_err']:.2e} (relative to max(1, |value|))")
print(f"direct in-process, 1 instance: {d['calls_per_s']:.2f} calls/s (median {d['median_ms']:.2f} ms, p99 {d['p99_ms']:.2f} ms)")
print(f"direct in-process, 2 instances on GPU 0 (one caller each): {d['two_instances_calls_per_s']:.2f} calls/s")
for label, s, ref in (("1 instance", one, d["calls_per_s"]), ("2 instances", two, d["two_instances_calls_per_s"])):
    for r in s["results"]:
        print(f"served HTTP, {label}, concurrency {r['concurrency']}: {r['calls_per_s']:.2f} req/s "
              f"(median {r['median_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms), served/direct ({label}) = {r['calls_per_s'] / ref:.3f}")
EOF
echo "done"
