#!/usr/bin/env bash
# bench/gpu/cuda-shm-zero-copy.sh: CUDA shared memory end to end on one GPU, in one call (< 6 min):
#   1. P7 with CUDA shared memory: bench/gpu/traccc.sh --shared-memory cuda --quick at mu = 200,
#      1 and 4 instances (the traccc model takes the client's cells as device pointers); each row
#      also checks that 3 events through CUDA regions get the outputs the request body gets;
#   2. bench/gpu/shm.sh: a PyTorch model on cuda:0 and a JS identity through CUDA regions (results
#      equal the non-shm path) and perf_analyzer --shared-memory cuda, HTTP and gRPC.
# Carry: .gpu-carry, dist, native/shm/build/Release. Results under $OUT/traccc and $OUT/shm.
set -uo pipefail
OUT="${OUT:-$PWD/gpu-out}"
START=$SECONDS
OUT="$OUT/traccc" TRACCC_INSTANCES=1,4 timeout 250 bash bench/gpu/traccc.sh --shared-memory cuda --quick
traccc_rc=$?
echo "== traccc rc $traccc_rc after $((SECONDS - START)) s"
OUT="$OUT/shm" timeout $((340 - (SECONDS - START))) bash bench/gpu/shm.sh
shm_rc=$?
echo "== shm rc $shm_rc after $((SECONDS - START)) s"
grep -h "shared memory vs request body\|served/direct\|^| 200" "$OUT"/traccc/run.log "$OUT"/traccc/bench-mu200/results.md 2>/dev/null
exit $(( traccc_rc != 0 || shm_rc != 0 ))
