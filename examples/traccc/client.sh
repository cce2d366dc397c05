#!/usr/bin/env bash
# Generates a small event set once (mu = 20 by default) and runs the Python client against a
# traccc service on localhost: `npm run example:traccc` in one terminal, this in another.
#   MU=200 EVENTS=10 CONCURRENCY=4 URL=localhost:8001 bash examples/traccc/client.sh
set -euo pipefail
cd "$(dirname "$0")"
MU="${MU:-20}" EVENTS="${EVENTS:-20}" SEED="${SEED:-1}"
DIR="events/mu${MU}-n${EVENTS}-s${SEED}"
[ -f "$DIR/meta.json" ] || ./build/core/traccc-gen --mu "$MU" --events "$EVENTS" --seed "$SEED" --out "$DIR"
PY="${PYTHON:-../../.venv/bin/python}"
exec "$PY" client.py --url "${URL:-localhost:8001}" --events "$DIR" --concurrency "${CONCURRENCY:-2}" "$@"
