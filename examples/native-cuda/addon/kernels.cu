// The GPU versions: compiled only when the CMake helper finds a CUDA compiler.
#include <tensorbind/cuda.h>
#include <tensorbind/model.h>

#include "ops.h"

namespace tb = tensorbind;

namespace cuda_ops {
namespace {

__global__ void saxpy_kernel(float a, const float* __restrict__ x, const float* __restrict__ y,
                             float* __restrict__ z, std::size_t n) {
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x)
    z[i] = a * x[i] + y[i];
}

// Grid-stride partial sums in double, a shared-memory tree per block, one atomicAdd per block.
__global__ void sum_kernel(const float* __restrict__ x, std::size_t n, double* out) {
  __shared__ double partial[256];
  double s = 0;
  for (std::size_t i = blockIdx.x * std::size_t{blockDim.x} + threadIdx.x; i < n;
       i += std::size_t{gridDim.x} * blockDim.x)
    s += x[i];
  partial[threadIdx.x] = s;
  __syncthreads();
  for (unsigned stride = blockDim.x / 2; stride > 0; stride >>= 1) {
    if (threadIdx.x < stride) partial[threadIdx.x] += partial[threadIdx.x + stride];
    __syncthreads();
  }
  if (threadIdx.x == 0) atomicAdd(out, partial[0]);
}

unsigned blocks_for(std::size_t n) {
  std::size_t b = (n + 255) / 256;
  return static_cast<unsigned>(b < 4096 ? (b == 0 ? 1 : b) : 4096);
}

}  // namespace

void saxpy_gpu(tb::Context& ctx) {
  auto a = ctx.input<float>("A");
  auto x = ctx.input<float>("X");
  auto y = ctx.input<float>("Y");
  auto dx = tb::cuda::to_device(ctx, x);
  auto dy = tb::cuda::to_device(ctx, y);
  tb::cuda::DeviceBuffer<float> dz(x.size(), ctx.stream());
  saxpy_kernel<<<blocks_for(x.size()), 256, 0, ctx.stream()>>>(a[0], dx.data(), dy.data(), dz.data(), x.size());
  tb::cuda::check(cudaGetLastError(), "saxpy_kernel");
  tb::cuda::to_host(ctx, "Z", x.shape(), dz);  // tensorbind synchronises the stream after the call
}

void sum_gpu(tb::Context& ctx) {
  auto x = ctx.input<float>("X");
  auto dx = tb::cuda::to_device(ctx, x);
  tb::cuda::DeviceBuffer<double> dsum(1, ctx.stream());
  dsum.zero();
  sum_kernel<<<blocks_for(x.size()), 256, 0, ctx.stream()>>>(dx.data(), x.size(), dsum.data());
  tb::cuda::check(cudaGetLastError(), "sum_kernel");
  tb::cuda::to_host(ctx, "SUM", {1}, dsum);
}

}  // namespace cuda_ops
