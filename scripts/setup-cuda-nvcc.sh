#!/usr/bin/env bash
# Installs a CUDA compiler from PyPI into .tools/cuda (nvcc, cicc, ptxas, the runtime headers
# and static runtime: ~130 MB download, ~350 MB on disk, seconds to install), so that machines
# without a CUDA toolkit, CI among them, can compile the native CUDA sources
# (test/integration/native-cuda-build.test.ts). No GPU or driver is needed to compile.
# PyPI's CUDA 12 nvcc wheels lack the nvcc driver; the CUDA 13 ones are complete.
#
# Then: CUDACXX=.tools/cuda/bin/nvcc npx cmake-js compile -d examples/native-cuda/addon ...
# Environment: PYTHON (default: .venv/bin/python, else python3), TOOLS (default <repo>/.tools)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="${TOOLS:-$ROOT/.tools}"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
[[ -x "$PY" ]] || PY=python3
CUDA_VERSION=13.5.37
PACKAGES=("nvidia-cuda-nvcc==$CUDA_VERSION" "nvidia-nvvm==$CUDA_VERSION" "nvidia-cuda-crt==$CUDA_VERSION"
  "nvidia-cuda-runtime==$CUDA_VERSION" "nvidia-cuda-cccl==13.3.5.0.6")
stamp="$TOOLS/cuda-pip/.tensorbind-setup"
want="${PACKAGES[*]}"
if [[ -x "$TOOLS/cuda/bin/nvcc" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  exit 0
fi
rm -rf "$TOOLS/cuda-pip" "$TOOLS/cuda"
mkdir -p "$TOOLS"
"$PY" -m pip install --quiet --no-deps --no-compile --target "$TOOLS/cuda-pip" "${PACKAGES[@]}"
ln -s cuda-pip/nvidia/cu13 "$TOOLS/cuda"
# CMake's FindCUDAToolkit looks for libcudart.so; the wheel ships only the versioned name.
ln -sf libcudart.so.13 "$TOOLS/cuda/lib/libcudart.so"
"$TOOLS/cuda/bin/nvcc" --version | tail -2
echo "$want" >"$stamp"
