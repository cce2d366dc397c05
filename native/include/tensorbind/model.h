// tensorbind native model API: declaring model functions. No Node-API, no CUDA headers.
//
//   static void vector_add(tensorbind::Context& ctx) { ... }
//   static auto& decl = tensorbind::model("vector_add", vector_add)
//                           .input("A", tensorbind::DataType::FP32, {-1})
//                           .input("B", tensorbind::DataType::FP32, {-1})
//                           .output("SUM", tensorbind::DataType::FP32, {-1});
//
// A class with per-instance state (device buffers, loaded geometry) is declared with
// `tensorbind::model<Reconstruct>("reconstruct")`: one object per instance, constructed on the
// instance's own thread (its GPU already selected) from a `const tensorbind::Instance&`, and
// called through `void operator()(tensorbind::Context&)`.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "context.h"
#include "types.h"

namespace tensorbind {

/// What runs one instance's calls: a function, a lambda, or an object of the model's class.
class Runner {
 public:
  virtual ~Runner() = default;
  virtual void run(Context& ctx) = 0;
};

/// A model function and its declaration (inputs, outputs, batching), built by chained calls.
class ModelDef {
 public:
  using Factory = std::function<std::unique_ptr<Runner>(const Instance&)>;

  ModelDef(std::string name, Factory factory) : name_(std::move(name)), factory_(std::move(factory)) {}
  ModelDef(const ModelDef&) = delete;
  ModelDef& operator=(const ModelDef&) = delete;

  /// Declares an input. Shapes exclude the batch dimension when max_batch_size > 0; -1 is any size.
  ModelDef& input(std::string name, DataType dtype, Shape shape) {
    inputs_.push_back(TensorDecl{std::move(name), dtype, std::move(shape), false});
    return *this;
  }
  /// Declares an input that requests may leave out (check with ctx.has_input()).
  ModelDef& optional_input(std::string name, DataType dtype, Shape shape) {
    inputs_.push_back(TensorDecl{std::move(name), dtype, std::move(shape), true});
    return *this;
  }
  /// Declares an output; -1 dimensions are sized by the function at run time.
  ModelDef& output(std::string name, DataType dtype, Shape shape) {
    outputs_.push_back(TensorDecl{std::move(name), dtype, std::move(shape), false});
    return *this;
  }
  /// > 0: the first dimension of every tensor is the batch dimension, up to this size.
  ModelDef& max_batch_size(int n) {
    max_batch_size_ = n;
    return *this;
  }

  /// The model's code reads inputs and writes outputs with CUDA when they are device memory
  /// (TensorView::is_device(), OutputSpan::is_device()): a client's CUDA shared-memory region
  /// then reaches it as a device pointer, not copied. Without it such tensors are staged through
  /// host memory.
  ModelDef& device_memory(bool on = true) {
    device_memory_ = on;
    return *this;
  }

  const std::string& name() const noexcept { return name_; }
  bool takes_device_memory() const noexcept { return device_memory_; }
  const std::vector<TensorDecl>& inputs() const noexcept { return inputs_; }
  const std::vector<TensorDecl>& outputs() const noexcept { return outputs_; }
  /// -1 when not declared (bind() decides).
  int max_batch_size() const noexcept { return max_batch_size_; }
  std::unique_ptr<Runner> make_runner(const Instance& instance) const { return factory_(instance); }

 private:
  std::string name_;
  Factory factory_;
  std::vector<TensorDecl> inputs_;
  std::vector<TensorDecl> outputs_;
  int max_batch_size_ = -1;
  bool device_memory_ = false;
};

namespace detail {

template <typename F>
class CallableRunner final : public Runner {
 public:
  explicit CallableRunner(F f) : f_(std::move(f)) {}
  void run(Context& ctx) override { f_(ctx); }

 private:
  F f_;
};

template <typename C>
class ObjectRunner final : public Runner {
 public:
  explicit ObjectRunner(const Instance& instance) : object_(make(instance)) {}
  void run(Context& ctx) override { (*object_)(ctx); }

 private:
  static std::unique_ptr<C> make(const Instance& instance) {
    if constexpr (std::is_constructible_v<C, const Instance&>) {
      return std::make_unique<C>(instance);
    } else {
      static_assert(std::is_default_constructible_v<C>,
                    "a model class needs a constructor taking (const tensorbind::Instance&) or none");
      return std::make_unique<C>();
    }
  }
  std::unique_ptr<C> object_;
};

}  // namespace detail

/// Every model this addon declares, in declaration order (one registry per addon).
inline std::vector<std::unique_ptr<ModelDef>>& registry() {
  static std::vector<std::unique_ptr<ModelDef>> models;
  return models;
}

/// Declares a model function: `void fn(tensorbind::Context&)` or any callable of that signature.
template <typename F>
ModelDef& model(std::string name, F fn) {
  static_assert(std::is_invocable_v<F&, Context&>, "a model function takes (tensorbind::Context&)");
  auto factory = [fn](const Instance&) -> std::unique_ptr<Runner> {
    return std::make_unique<detail::CallableRunner<F>>(fn);
  };
  registry().push_back(std::make_unique<ModelDef>(std::move(name), std::move(factory)));
  return *registry().back();
}

/// Declares a model class: one object per instance, made on the instance's thread.
template <typename C>
ModelDef& model(std::string name) {
  static_assert(std::is_invocable_v<C&, Context&>, "a model class needs void operator()(tensorbind::Context&)");
  auto factory = [](const Instance& instance) -> std::unique_ptr<Runner> {
    return std::make_unique<detail::ObjectRunner<C>>(instance);
  };
  registry().push_back(std::make_unique<ModelDef>(std::move(name), std::move(factory)));
  return *registry().back();
}

}  // namespace tensorbind
