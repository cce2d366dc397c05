// tensorbind native model API: CUDA helpers (RAII streams, device and pinned buffers, copies
// between request tensors and the device). Include only where TENSORBIND_CUDA is 1 (the CMake
// helper defines it when it finds a CUDA compiler); everything here is host code, so it compiles
// with g++ as well as nvcc.
#pragma once

#if !TENSORBIND_CUDA
#error "tensorbind/cuda.h needs a CUDA build (TENSORBIND_CUDA=1); guard it with #if TENSORBIND_CUDA"
#endif

#include <cuda_runtime_api.h>

#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "context.h"
#include "errors.h"
#include "pool.h"
#include "tensor.h"

namespace tensorbind {
namespace cuda {

/// Throws a tensorbind::Error for a failed CUDA call (Unavailable when the device is out of memory).
inline void check(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return;
  std::string msg = std::string(what) + ": " + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")";
  if (err == cudaErrorMemoryAllocation) throw Unavailable(msg);
  throw Error(msg);
}

/// A non-blocking CUDA stream on the current device.
class Stream {
 public:
  Stream() { check(cudaStreamCreateWithFlags(&s_, cudaStreamNonBlocking), "cudaStreamCreate"); }
  ~Stream() {
    if (s_ != nullptr) cudaStreamDestroy(s_);
  }
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const noexcept { return s_; }
  void synchronize() const { check(cudaStreamSynchronize(s_), "cudaStreamSynchronize"); }

 private:
  cudaStream_t s_ = nullptr;
};

/// Device memory for n elements of T, allocated and freed in stream order (cudaMallocAsync),
/// so a buffer may go out of scope while kernels that use it are still queued.
template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(std::size_t n, cudaStream_t stream) : n_(n), stream_(stream) {
    if (n > 0) check(cudaMallocAsync(reinterpret_cast<void**>(&p_), n * sizeof(T), stream), "cudaMallocAsync");
  }
  ~DeviceBuffer() { reset(); }
  DeviceBuffer(DeviceBuffer&& o) noexcept
      : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)), stream_(o.stream_) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      reset();
      p_ = std::exchange(o.p_, nullptr);
      n_ = std::exchange(o.n_, 0);
      stream_ = o.stream_;
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  T* data() noexcept { return p_; }
  const T* data() const noexcept { return p_; }
  std::size_t size() const noexcept { return n_; }
  std::size_t byte_size() const noexcept { return n_ * sizeof(T); }
  cudaStream_t stream() const noexcept { return stream_; }

  /// Queues a copy of n host elements into the buffer.
  void upload(const T* host, std::size_t n) {
    if (n > n_) throw Error("DeviceBuffer::upload: more elements than the buffer holds");
    if (n > 0) check(cudaMemcpyAsync(p_, host, n * sizeof(T), cudaMemcpyHostToDevice, stream_), "cudaMemcpyAsync H2D");
  }
  /// Queues a copy of the first n elements to host memory (valid after the stream synchronises).
  void download(T* host, std::size_t n) const {
    if (n > n_) throw Error("DeviceBuffer::download: more elements than the buffer holds");
    if (n > 0) check(cudaMemcpyAsync(host, p_, n * sizeof(T), cudaMemcpyDeviceToHost, stream_), "cudaMemcpyAsync D2H");
  }
  void zero() {
    if (n_ > 0) check(cudaMemsetAsync(p_, 0, n_ * sizeof(T), stream_), "cudaMemsetAsync");
  }

 private:
  void reset() noexcept {
    if (p_ != nullptr) cudaFreeAsync(p_, stream_);
    p_ = nullptr;
    n_ = 0;
  }
  T* p_ = nullptr;
  std::size_t n_ = 0;
  cudaStream_t stream_ = nullptr;
};

/// Page-locked host memory for n elements of T (portable across devices).
template <typename T>
class PinnedBuffer {
 public:
  explicit PinnedBuffer(std::size_t n) : n_(n) {
    if (n > 0) check(cudaHostAlloc(reinterpret_cast<void**>(&p_), n * sizeof(T), cudaHostAllocPortable), "cudaHostAlloc");
  }
  ~PinnedBuffer() {
    if (p_ != nullptr) cudaFreeHost(p_);
  }
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  T* data() noexcept { return p_; }
  std::size_t size() const noexcept { return n_; }

 private:
  T* p_ = nullptr;
  std::size_t n_;
};

/**
 * The host allocator of a GPU instance: outputs of 1 MiB and more get page-locked memory, so
 * the device-to-host copy is a direct DMA and the same bytes then go to the client without a
 * further copy. Page-locking is slow (milliseconds for 64 MiB), so blocks come from a BlockPool
 * (pool.h): they go back when the response has been written (or when JavaScript collects its
 * buffer) and serve the next call; up to `cache_limit` bytes of free blocks are kept.
 */
class PinnedPool final : public HostAllocator {
 public:
  static constexpr std::size_t kMinPinned = std::size_t{1} << 20;

  explicit PinnedPool(std::size_t cache_limit = std::size_t{512} << 20)
      : pool_(std::make_shared<BlockPool>(&alloc, &release, cache_limit)) {}

  std::unique_ptr<Storage> allocate(std::size_t bytes) override {
    if (bytes < kMinPinned) return std::make_unique<HostStorage>(bytes);
    BlockPool::Block* b = pool_->take(bytes);
    if (b == nullptr) return std::make_unique<HostStorage>(bytes);  // pageable memory instead
    return std::make_unique<PooledStorage>(pool_, b, bytes);
  }
  std::shared_ptr<BlockPool> pool() noexcept override { return pool_; }

 private:
  static void* alloc(std::size_t bytes) {
    void* p = nullptr;
    if (cudaHostAlloc(&p, bytes, cudaHostAllocPortable) == cudaSuccess) return p;
    cudaGetLastError();  // not sticky
    return nullptr;
  }
  static void release(void* p) { cudaFreeHost(p); }
  std::shared_ptr<BlockPool> pool_;
};

/// Copies an input tensor to a new device buffer on the instance's stream.
template <typename T>
DeviceBuffer<T> to_device(const Context& ctx, const TensorView<T>& input) {
  DeviceBuffer<T> d(input.size(), ctx.stream());
  d.upload(input.data(), input.size());
  return d;
}

/// Allocates output `name` with `shape` (page-locked when large) and queues its copy from the
/// device; tensorbind synchronises the stream before answering, so no explicit sync is needed.
template <typename T>
OutputSpan<T> to_host(Context& ctx, const std::string& name, Shape shape, const DeviceBuffer<T>& src) {
  OutputSpan<T> out = ctx.output<T>(name, std::move(shape));
  if (out.size() > src.size()) throw Error("to_host: output '" + name + "' is larger than the device buffer");
  src.download(out.data(), out.size());
  return out;
}

/// Reads one value from device memory now (synchronises the stream): e.g. a count that sizes an output.
template <typename T>
T read_value(const Context& ctx, const T* device_ptr) {
  T v{};
  check(cudaMemcpyAsync(&v, device_ptr, sizeof(T), cudaMemcpyDeviceToHost, ctx.stream()), "cudaMemcpyAsync");
  check(cudaStreamSynchronize(ctx.stream()), "cudaStreamSynchronize");
  return v;
}

}  // namespace cuda
}  // namespace tensorbind
