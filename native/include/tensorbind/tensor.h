// tensorbind native model API: tensor views (inputs, read-only) and output spans (writable,
// owned by tensorbind and handed to JavaScript without a copy). No Node-API, no CUDA.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string>
#include <utility>
#include <vector>

#include "errors.h"
#include "types.h"

namespace tensorbind {

class BlockPool;
class PooledStorage;

/// Memory that backs one output. Its owner moves from the model function to tensorbind and
/// then to the JavaScript ArrayBuffer that exposes it, whose finalizer destroys it.
class Storage {
 public:
  virtual ~Storage() = default;
  virtual std::byte* data() noexcept = 0;
  virtual std::size_t size() const noexcept = 0;
  /// Memory lent by a pool (pool.h): tensorbind gives it back once the response is written.
  virtual PooledStorage* pooled() noexcept { return nullptr; }
};

/// Host memory aligned to 64 bytes (cache lines, AVX-512), uninitialised.
class HostStorage final : public Storage {
 public:
  explicit HostStorage(std::size_t bytes) : size_(bytes) {
    if (bytes == 0) return;
    std::size_t rounded = (bytes + 63) / 64 * 64;
    mem_.reset(static_cast<std::byte*>(std::aligned_alloc(64, rounded)));
    if (!mem_) throw std::bad_alloc();
  }
  std::byte* data() noexcept override { return mem_.get(); }
  std::size_t size() const noexcept override { return size_; }

 private:
  struct Free {
    void operator()(std::byte* p) const noexcept { std::free(p); }
  };
  std::unique_ptr<std::byte, Free> mem_;
  std::size_t size_;
};

/// A std::vector adopted as an output: the natural container when the size is known only at the end.
template <typename T>
class VectorStorage final : public Storage {
 public:
  explicit VectorStorage(std::vector<T>&& v) : v_(std::move(v)) {}
  std::byte* data() noexcept override { return reinterpret_cast<std::byte*>(v_.data()); }
  std::size_t size() const noexcept override { return v_.size() * sizeof(T); }

 private:
  std::vector<T> v_;
};

/// Allocates the host memory of outputs; a GPU instance substitutes a pinned-memory pool.
class HostAllocator {
 public:
  virtual ~HostAllocator() = default;
  virtual std::unique_ptr<Storage> allocate(std::size_t bytes) { return std::make_unique<HostStorage>(bytes); }
  /// The pool large outputs come from, if any (its statistics are visible to JavaScript).
  virtual std::shared_ptr<BlockPool> pool() noexcept { return nullptr; }
};

/// One input as tensorbind hands it over: the request's bytes, not copied.
struct InputRecord {
  std::string name;
  DataType dtype;
  Shape shape;
  const std::byte* data;
  std::size_t bytes;
  /// -1: `data` is host memory. Else the CUDA device whose memory `data` points into (a client's
  /// CUDA shared-memory region), given only to models that declare device_memory().
  int device = -1;
};

/// A read-only, typed view of an input tensor (row-major, little-endian). Valid during the call.
template <typename T>
class TensorView {
 public:
  using value_type = T;
  explicit TensorView(const InputRecord& r)
      : rec_(&r), data_(reinterpret_cast<const T*>(r.data)), size_(r.bytes / sizeof(T)) {}

  const std::string& name() const noexcept { return rec_->name; }
  /// Whether data() is device memory (then read it in kernels, never on the host).
  bool is_device() const noexcept { return rec_->device >= 0; }
  /// The CUDA device of data(), or -1 for host memory.
  int device() const noexcept { return rec_->device; }
  const Shape& shape() const noexcept { return rec_->shape; }
  std::size_t rank() const noexcept { return rec_->shape.size(); }
  /// Dimension i; throws when i is out of range.
  std::int64_t dim(std::size_t i) const { return rec_->shape.at(i); }
  std::size_t size() const noexcept { return size_; }
  std::size_t byte_size() const noexcept { return size_ * sizeof(T); }
  bool empty() const noexcept { return size_ == 0; }
  const T* data() const noexcept { return data_; }
  const T& operator[](std::size_t i) const noexcept { return data_[i]; }
  const T* begin() const noexcept { return data_; }
  const T* end() const noexcept { return data_ + size_; }

 private:
  const InputRecord* rec_;
  const T* data_;
  std::size_t size_;
};

/// A writable, typed span over an output that tensorbind owns. Valid during the call.
template <typename T>
class OutputSpan {
 public:
  using value_type = T;
  OutputSpan(T* data, std::size_t size, const Shape* shape, int device = -1)
      : data_(data), size_(size), shape_(shape), device_(device) {}

  /// Whether data() is device memory (a client's CUDA region): write it in kernels, not with fill().
  bool is_device() const noexcept { return device_ >= 0; }
  /// The CUDA device of data(), or -1 for host memory.
  int device() const noexcept { return device_; }
  const Shape& shape() const noexcept { return *shape_; }
  std::size_t size() const noexcept { return size_; }
  std::size_t byte_size() const noexcept { return size_ * sizeof(T); }
  T* data() noexcept { return data_; }
  T& operator[](std::size_t i) noexcept { return data_[i]; }
  T* begin() noexcept { return data_; }
  T* end() noexcept { return data_ + size_; }
  void fill(const T& v) noexcept {
    for (auto& x : *this) x = v;
  }

 private:
  T* data_;
  std::size_t size_;
  const Shape* shape_;
  int device_;
};

/// One finished output: where its bytes are, or which input it forwards unchanged.
struct OutputRecord {
  std::string name;
  DataType dtype;
  Shape shape;
  std::unique_ptr<Storage> storage;  // null when forwarding an input
  int forwarded_input = -1;          // index into the inputs, or -1
  bool in_target = false;            // written straight into the client's memory (OutputTarget)
};

/// Memory the client named for an output (a shared-memory region): output<T>() writes there
/// when the output fits, and tensorbind then copies nothing. Valid during the call.
struct OutputTarget {
  std::byte* data;
  std::size_t bytes;
  int device = -1;  // -1: host memory; else device memory of this CUDA device (a CUDA region)
};

/// Storage over memory tensorbind does not own (an OutputTarget).
class ExternalStorage final : public Storage {
 public:
  ExternalStorage(std::byte* data, std::size_t bytes) : data_(data), size_(bytes) {}
  std::byte* data() noexcept override { return data_; }
  std::size_t size() const noexcept override { return size_; }

 private:
  std::byte* data_;
  std::size_t size_;
};

}  // namespace tensorbind
