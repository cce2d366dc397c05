// tensorbind native model API: the per-call Context (inputs, outputs) and the per-instance
// Instance (index, device, stream). No Node-API, no CUDA headers.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "errors.h"
#include "tensor.h"
#include "types.h"

#if TENSORBIND_CUDA
#include <cuda_runtime_api.h>
#endif

namespace tensorbind {

/// What one model instance runs on. Each instance has its own worker thread; on a GPU instance
/// that thread has already selected `device()` and owns `stream()`.
class Instance {
 public:
  Instance(int index, int device, void* stream, HostAllocator* allocator)
      : index_(index), device_(device), stream_(stream), allocator_(allocator) {}

  /// 0 ≤ index < the number of instances of this model.
  int index() const noexcept { return index_; }
  /// The CUDA device of this instance, or -1 for a CPU instance.
  int device() const noexcept { return device_; }
  bool on_gpu() const noexcept { return device_ >= 0; }
#if TENSORBIND_CUDA
  /// This instance's CUDA stream (non-blocking); tensorbind synchronises it after each call.
  cudaStream_t stream() const noexcept { return static_cast<cudaStream_t>(stream_); }
#endif
  /// The stream as an opaque handle (for code compiled without CUDA headers).
  void* stream_handle() const noexcept { return stream_; }
  HostAllocator& allocator() const noexcept { return *allocator_; }

 private:
  int index_;
  int device_;
  void* stream_;
  HostAllocator* allocator_;
};

struct TensorDecl {
  std::string name;
  DataType dtype;
  Shape shape;
  bool optional = false;
};

/**
 * One call of a model function: read inputs, write outputs.
 *
 *   auto x = ctx.input<float>("X");                        // dtype-checked, read-only, no copy
 *   auto y = ctx.output<float>("Y", x.shape());            // allocated by tensorbind
 *   ctx.set_output("IDS", std::move(ids), {n});            // adopt a vector: sizes known at the end
 */
class Context {
 public:
  Context(const Instance& instance, const std::vector<InputRecord>& inputs,
          const std::vector<std::string>& requested, const std::vector<TensorDecl>* declared_outputs,
          const std::unordered_map<std::string, OutputTarget>* targets = nullptr)
      : instance_(instance),
        inputs_(inputs),
        requested_(requested),
        declared_outputs_(declared_outputs),
        targets_(targets) {}
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  // ---- inputs

  /// Whether the request carries this input (optional inputs may be absent).
  bool has_input(std::string_view name) const noexcept { return find_input(name) >= 0; }

  /// The input as a typed, read-only view; throws when it is absent or of another datatype.
  template <typename T>
  TensorView<T> input(std::string_view name) const {
    const InputRecord& r = raw_input(name);
    if (r.dtype != dtype_of<T>) {
      throw Error("input '" + r.name + "' is " + name_of(r.dtype) + ", but the model reads it as " +
                  name_of(dtype_of<T>));
    }
    return TensorView<T>(r);
  }

  /// The input's bytes and metadata, whatever its datatype.
  const InputRecord& raw_input(std::string_view name) const {
    int i = find_input(name);
    if (i < 0) throw InvalidArgument("missing input '" + std::string(name) + "'");
    return inputs_[static_cast<std::size_t>(i)];
  }

  /// A BYTES input's elements, as views of the request's bytes.
  std::vector<std::string_view> input_strings(std::string_view name) const {
    const InputRecord& r = raw_input(name);
    if (r.dtype != DataType::BYTES) throw Error("input '" + r.name + "' is not BYTES");
    std::vector<std::string_view> out;
    out.reserve(element_count(r.shape));
    std::size_t off = 0;
    while (off + 4 <= r.bytes) {
      std::uint32_t len;
      std::memcpy(&len, r.data + off, 4);  // little-endian u32 length prefix, as on the wire
      off += 4;
      if (len > r.bytes - off) throw InvalidArgument("input '" + r.name + "': BYTES element runs past the end");
      out.emplace_back(reinterpret_cast<const char*>(r.data + off), len);
      off += len;
    }
    return out;
  }

  const std::vector<InputRecord>& inputs() const noexcept { return inputs_; }

  // ---- outputs

  /// Whether the client asked for this output (skip work for outputs nobody wants).
  bool wants(std::string_view name) const noexcept {
    return std::find(requested_.begin(), requested_.end(), name) != requested_.end();
  }

  /// The client's memory named for output `name` (a shared-memory region; `device` >= 0 for a
  /// CUDA region given to a device_memory() model), or nullptr.
  const OutputTarget* output_target(const std::string& name) const noexcept { return find_target(name); }

  /// Allocates an output of this shape and returns a writable span over it (uninitialised).
  template <typename T>
  OutputSpan<T> output(const std::string& name, Shape shape) {
    check_output(name, dtype_of<T>, shape);
    std::size_t n = element_count(shape);
    std::size_t bytes = n * sizeof(T);
    // The client's region, when it named one this output fits (and aligned for T): no copy later.
    // A device target (a CUDA region) reaches only models that declared device_memory().
    const OutputTarget* target = find_target(name);
    bool direct = target != nullptr && bytes > 0 && bytes <= target->bytes &&
                  reinterpret_cast<std::uintptr_t>(target->data) % alignof(T) == 0;
    std::unique_ptr<Storage> storage = direct ? std::make_unique<ExternalStorage>(target->data, bytes)
                                              : instance_.allocator().allocate(bytes);
    T* data = reinterpret_cast<T*>(storage->data());
    OutputRecord& rec = add_output(name, dtype_of<T>, std::move(shape), std::move(storage));
    rec.in_target = direct;
    return OutputSpan<T>(data, n, &rec.shape, direct ? target->device : -1);
  }

  /// Adopts a vector as an output, without a copy: for outputs whose size is known only at the end.
  template <typename T>
  void set_output(const std::string& name, std::vector<T>&& data, Shape shape) {
    static_assert(!std::is_same_v<T, bool>,
                  "std::vector<bool> packs bits: fill ctx.output<bool>(name, shape) instead");
    check_output(name, dtype_of<T>, shape);
    if (data.size() != element_count(shape)) {
      throw Error("output '" + name + "': " + std::to_string(data.size()) + " elements do not fill shape " +
                  to_string(shape));
    }
    add_output(name, dtype_of<T>, std::move(shape), std::make_unique<VectorStorage<T>>(std::move(data)));
  }

  /// Sets a BYTES output from strings (encoded with the wire's u32 length prefixes).
  void set_output_strings(const std::string& name, const std::vector<std::string>& values, Shape shape) {
    check_output(name, DataType::BYTES, shape);
    if (values.size() != element_count(shape)) throw Error("output '" + name + "': element count does not fill its shape");
    std::size_t bytes = 0;
    for (const auto& v : values) bytes += 4 + v.size();
    auto storage = instance_.allocator().allocate(bytes);
    std::byte* p = storage->data();
    for (const auto& v : values) {
      auto len = static_cast<std::uint32_t>(v.size());
      std::memcpy(p, &len, 4);
      if (!v.empty()) std::memcpy(p + 4, v.data(), v.size());
      p += 4 + v.size();
    }
    add_output(name, DataType::BYTES, std::move(shape), std::move(storage));
  }

  /// Answers an input unchanged as an output (same bytes, no copy), e.g. for pass-through tensors.
  void forward(std::string_view input, const std::string& output) {
    int i = find_input(input);
    if (i < 0) throw InvalidArgument("missing input '" + std::string(input) + "'");
    const InputRecord& r = inputs_[static_cast<std::size_t>(i)];
    check_output(output, r.dtype, r.shape);
    OutputRecord& rec = add_output(output, r.dtype, r.shape, nullptr);
    rec.forwarded_input = i;
  }

  // ---- the instance

  const Instance& instance() const noexcept { return instance_; }
  int device() const noexcept { return instance_.device(); }
#if TENSORBIND_CUDA
  cudaStream_t stream() const noexcept { return instance_.stream(); }
#endif

  /// The outputs set so far (tensorbind takes them after the call).
  std::deque<OutputRecord>& outputs() noexcept { return outputs_; }

 private:
  const OutputTarget* find_target(const std::string& name) const noexcept {
    if (targets_ == nullptr) return nullptr;
    auto it = targets_->find(name);
    return it == targets_->end() ? nullptr : &it->second;
  }

  int find_input(std::string_view name) const noexcept {
    for (std::size_t i = 0; i < inputs_.size(); ++i)
      if (inputs_[i].name == name) return static_cast<int>(i);
    return -1;
  }

  void check_output(const std::string& name, DataType dtype, const Shape& shape) const {
    for (auto d : shape)
      if (d < 0) throw Error("output '" + name + "': shape " + to_string(shape) + " has a negative dimension");
    for (const auto& o : outputs_)
      if (o.name == name) throw Error("output '" + name + "' is set twice");
    if (declared_outputs_ == nullptr || declared_outputs_->empty()) return;
    for (const auto& d : *declared_outputs_) {
      if (d.name != name) continue;
      if (d.dtype != dtype)
        throw Error("output '" + name + "' is declared " + name_of(d.dtype) + " but written as " + name_of(dtype));
      return;
    }
    throw Error("output '" + name + "' is not declared by this model");
  }

  OutputRecord& add_output(const std::string& name, DataType dtype, Shape shape, std::unique_ptr<Storage> storage) {
    outputs_.push_back(OutputRecord{name, dtype, std::move(shape), std::move(storage), -1});
    return outputs_.back();
  }

  const Instance& instance_;
  const std::vector<InputRecord>& inputs_;
  const std::vector<std::string>& requested_;
  const std::vector<TensorDecl>* declared_outputs_;
  const std::unordered_map<std::string, OutputTarget>* targets_;
  std::deque<OutputRecord> outputs_;  // a deque: spans keep pointing at their record's shape
};

}  // namespace tensorbind
