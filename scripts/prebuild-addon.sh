#!/usr/bin/env bash
# Prebuilds the shared-memory addon (native/shm) for Linux glibc on x86-64 and arm64 into
# native/shm/prebuilds/linux-<arch>/tensorbind_shm.napi.glibc.node, which the npm package ships:
# where `npm install` cannot compile (no CMake or C++ compiler), the server loads these
# (src/core/shm-addon-module.ts). Node-API: one binary serves every Node version.
# The other architecture is cross-compiled with Debian's g++-<triple> (g++-aarch64-linux-gnu,
# g++-x86-64-linux-gnu); a platform whose compiler is missing is skipped with a warning, unless
# PREBUILD_REQUIRE_ALL=1 (CI and `npm pack`).
set -euo pipefail
cd "$(dirname "$0")/.."
CMAKE_JS="node node_modules/cmake-js/bin/cmake-js"
host=$(uname -m)
status=0
for arch in x64 arm64; do
  case $arch in x64) triple=x86_64-linux-gnu machine=x86_64 ;; arm64) triple=aarch64-linux-gnu machine=aarch64 ;; esac
  out="native/shm/prebuilds/linux-$arch"
  build="native/shm/build-prebuild-$arch"
  args=(compile -d native/shm -O "$build")
  if [ "$machine" != "$host" ]; then
    if ! command -v "$triple-g++" >/dev/null; then
      echo "prebuild-addon: no $triple-g++ for linux-$arch (apt-get install g++-$triple): skipped" >&2
      status=1
      continue
    fi
    args+=(--CDCMAKE_SYSTEM_NAME=Linux "--CDCMAKE_SYSTEM_PROCESSOR=$machine"
      "--CDCMAKE_C_COMPILER=$triple-gcc" "--CDCMAKE_CXX_COMPILER=$triple-g++")
  fi
  $CMAKE_JS "${args[@]}" >"$build.log" 2>&1 || { tail -20 "$build.log" >&2; exit 1; }
  mkdir -p "$out"
  cp "$build/Release/tensorbind_shm.node" "$out/tensorbind_shm.napi.glibc.node"
  rm -rf "$build" "$build.log"
  echo "prebuild-addon: $out/tensorbind_shm.napi.glibc.node ($(file -b "$out/tensorbind_shm.napi.glibc.node" | cut -d, -f1-2))"
done
if [ $status -ne 0 ] && [ "${PREBUILD_REQUIRE_ALL:-0}" = 1 ]; then exit 1; fi
exit 0
