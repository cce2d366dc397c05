#!/usr/bin/env bash
# Build .gpu-carry/ for bench/gpu/run-on-gpu.sh (the device machine has no Node.js and no pyzmq):
#   .gpu-carry/node.xz               this machine's node binary (x86-64), stripped, xz -T2
#   .gpu-carry/node_modules.tar.gz   production deps only, linux-x64 prebuilds only, no docs/tests/maps/.ts
#   .gpu-carry/whl/pyzmq-*.whl       for the device's Python 3.12
# and lists it in git's info/exclude. Then call the device tool with
#   command: bash bench/gpu/run-on-gpu.sh   carry: [".gpu-carry", "dist", "native/shm/build/Release"]
# Run `npm run build` and `npm run build:native` first. xz of node takes minutes on 2 busy cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
. bench/gpu/lib.sh
C=.gpu-carry; mkdir -p "$C/whl"
exclude_carry
# stripped first: Node 24's symbols are ~18 MB, and the carry limit is 64 MiB in all
if [ ! -s "$C/node.xz" ]; then
  cp "$(command -v node)" "$C/node.stripped" && strip "$C/node.stripped" 2>/dev/null || true
  xz -T2 -c "$C/node.stripped" > "$C/node.xz" && rm -f "$C/node.stripped"
fi
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
cp package.json package-lock.json "$T/" && cp -a node_modules "$T/"
(cd "$T" && npm prune --omit=dev --ignore-scripts >/dev/null 2>&1)
(cd "$T/node_modules" &&
  rm -rf zeromq/build/darwin zeromq/build/win32 zeromq/build/linux/arm64 zeromq/build/linux/x64/node/musl-* zeromq/src @types &&
  find . -type f \( -name '*.map' -o -name '*.md' -o -name '*.markdown' -o -name '*.ts' \) -delete &&
  find . -type d \( -name test -o -name tests -o -name docs -o -name example -o -name examples \) -prune -exec rm -rf {} +)
tar -C "$T" -czf "$C/node_modules.tar.gz" node_modules
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
  --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 pyzmq -d "$C/whl"
du -sh "$C" "$C"/*
