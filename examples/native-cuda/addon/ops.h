// The operations, on the CPU (cpu.cc) and on the GPU (kernels.cu, CUDA builds only).
#pragma once

#include <tensorbind/model.h>

#include <cstddef>

namespace cuda_ops {

// z = a * x + y
void saxpy_cpu(float a, const float* x, const float* y, float* z, std::size_t n);
// The sum of x, accumulated in double precision.
double sum_cpu(const float* x, std::size_t n);

#if TENSORBIND_CUDA
// Model bodies for a GPU instance: inputs to the device, kernel, outputs back.
void saxpy_gpu(tensorbind::Context& ctx);
void sum_gpu(tensorbind::Context& ctx);
#endif

}  // namespace cuda_ops
