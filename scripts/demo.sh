#!/usr/bin/env bash
# Sets up everything (npm packages, build, shared-memory addon, Python venv) and serves the
# example models: the quickstart JS models and the NumPy model in Python workers.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm install --no-audit --no-fund
npm run build --silent
[ -f native/build/Release/tensorbind_shm.node ] || npm run build:native --silent
SKIP_PERF_ANALYZER=1 bash scripts/setup-python.sh
export TENSORBIND_PYTHON="$PWD/.venv/bin/python"
exec node bin/tensorbind.js serve examples/quickstart/models.ts examples/python-numpy/models.ts "$@"
