#!/usr/bin/env bash
# Sets up everything (npm packages, build, shared-memory addon, the native CPU example, Python
# venv) and serves the example models: the quickstart JS models, the NumPy model in Python
# workers and the C++ vector operations.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build --silent
[ -f native/shm/build/Release/tensorbind_shm.node ] || npm run build:native --silent
[ -f examples/native-cpu/build/Release/vector_ops.node ] ||
  npx cmake-js compile -d examples/native-cpu/addon -O examples/native-cpu/build >/dev/null
SKIP_PERF_ANALYZER=1 bash scripts/setup-python.sh
export TENSORBIND_PYTHON="$PWD/.venv/bin/python"
exec node bin/tensorbind.js serve examples/quickstart/models.ts examples/python-numpy/models.ts \
  examples/native-cpu/models.ts "$@"
