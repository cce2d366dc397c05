#!/usr/bin/env bash
# Packs perf_analyzer (as scripts/install-perf-analyzer.sh installs it: the wheel's binary plus a
# private glibc) into .gpu-carry/perf-analyzer.tar.xz (~11 MB; 44 MB unpacked), which
# bench/gpu/native.sh unpacks and runs on the device machine. Takes about a minute (xz).
#   bash bench/gpu/carry-perf-analyzer.sh [perf-analyzer-dir]
set -euo pipefail
cd "$(dirname "$0")/../.."
SRC="${1:-.tools/perf-analyzer}"
if [ ! -d "$SRC" ] && [ -L .venv ]; then SRC="$(dirname "$(readlink -f .venv)")/.tools/perf-analyzer"; fi
[ -x "$SRC/wheel/perf_analyzer/bin/perf_analyzer" ] || { echo "no perf_analyzer under $SRC (scripts/install-perf-analyzer.sh)" >&2; exit 1; }
mkdir -p .gpu-carry
. bench/gpu/lib.sh
exclude_carry
tar -C "$(dirname "$SRC")" -cf - "$(basename "$SRC")" | xz -T2 -6 > .gpu-carry/perf-analyzer.tar.xz
du -sh .gpu-carry/perf-analyzer.tar.xz
