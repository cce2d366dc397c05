#!/usr/bin/env bash
# Sets up only what serving needs (npm packages, build, shared-memory addon, the native CPU
# example, a Python venv with numpy/pyzmq/pyarrow) and serves the example models: the quickstart
# JS models, the NumPy model in Python workers and the C++ vector operations. The test tools
# (tritonclient, perf_analyzer, PyTorch) are .ci/run's business, not the demo's.
# Arguments go to `tensorbind serve` (e.g. --http-port 0).
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf 'demo: [%s/5] %s (%ss so far)\n' "$1" "$2" "$SECONDS" >&2; }

step 1 "npm packages"
[ -d node_modules ] || npm ci --no-audit --no-fund --loglevel=error
step 2 "TypeScript build"
npm run build --silent
step 3 "shared-memory addon and the C++ example (CMake)"
[ -f native/shm/build/Release/tensorbind_shm.node ] || npm run build:native --silent >/dev/null
[ -f examples/native-cpu/build/Release/vector_ops.node ] ||
  npx cmake-js compile -d examples/native-cpu/addon -O examples/native-cpu/build >/dev/null
step 4 "Python venv for the NumPy model (.venv)"
SERVE_ONLY=1 bash scripts/setup-python.sh
export TENSORBIND_PYTHON="$PWD/.venv/bin/python"
step 5 "serving"
exec node bin/tensorbind.js serve examples/quickstart/models.ts examples/python-numpy/models.ts \
  examples/native-cpu/models.ts "$@"
