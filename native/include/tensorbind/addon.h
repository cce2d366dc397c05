// tensorbind native model API: the Node-API side of an addon. Include it (through
// <tensorbind/tensorbind.h>) in the one source file that says TENSORBIND_ADDON().
//
// The addon exports `tensorbind`: { apiVersion, cuda, models, Instance }. Each Instance owns one
// worker thread that runs the model's calls one after another, so the JavaScript thread keeps
// serving (health checks, other models) while a call runs. Results come back through a
// thread-safe function; request buffers stay referenced until their call has finished.
#pragma once

#include <napi.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#if defined(__has_include)
#if __has_include(<cxxabi.h>)
#include <cxxabi.h>
#define TENSORBIND_HAVE_CXXABI 1
#endif
#endif

#include "context.h"
#include "errors.h"
#include "model.h"
#include "pool.h"
#include "tensor.h"
#include "types.h"
#if TENSORBIND_CUDA
#include "cuda.h"
#endif

namespace tensorbind {
namespace detail {

/// The type of the exception in flight, demangled where the ABI allows ("std::out_of_range").
inline std::string current_exception_type() {
#ifdef TENSORBIND_HAVE_CXXABI
  if (const std::type_info* t = abi::__cxa_current_exception_type()) {
    int status = 0;
    std::unique_ptr<char, void (*)(void*)> name(abi::__cxa_demangle(t->name(), nullptr, nullptr, &status), std::free);
    if (status == 0 && name) return name.get();
    return t->name();
  }
#endif
  return "C++ exception";
}

/// One unit of work for an instance's thread; holds no JavaScript handles, so it may die anywhere.
struct Work {
  enum class Kind { Start, Run, Stop } kind;
  std::uint64_t id = 0;
  std::vector<InputRecord> inputs;
  std::vector<std::string> requested;
  std::unordered_map<std::string, OutputTarget> targets;  // clients' regions for outputs, by name
  std::vector<std::unique_ptr<Storage>> aligned_copies;  // inputs copied to be aligned (or BOOL 0/1)
  std::deque<OutputRecord> outputs;
  bool failed = false;
  ErrorKind error_kind = ErrorKind::Internal;
  std::string error;
};

/// Records the exception in flight on `w` (call from a catch block).
inline void capture_error(Work& w) {
  w.failed = true;
  try {
    throw;
  } catch (const Error& e) {
    w.error_kind = e.kind();
    w.error = e.what();
  } catch (const std::bad_alloc&) {
    w.error_kind = ErrorKind::Unavailable;
    w.error = "out of host memory (std::bad_alloc)";
  } catch (const std::exception& e) {
    w.error = current_exception_type() + ": " + e.what();
  } catch (...) {
    w.error = "unknown exception (" + current_exception_type() + ")";
  }
}

inline const ModelDef* find_model(const std::string& name) {
  for (const auto& m : registry())
    if (m->name() == name) return m.get();
  return nullptr;
}

class InstanceWrap;
/// Runs on the JavaScript thread when an instance's thread has finished work.
inline void OnInstanceDone(Napi::Env env, Napi::Function, InstanceWrap* self, void*);

/**
 * `new Instance(model, index, gpu)` from JavaScript. start() starts the thread (it selects the
 * GPU, makes the stream and the model's per-instance object), run() queues a call, stop() ends
 * the thread after the calls already queued. All three return promises.
 */
class InstanceWrap : public Napi::ObjectWrap<InstanceWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Instance",
                       {InstanceMethod("start", &InstanceWrap::Start), InstanceMethod("run", &InstanceWrap::Run),
                        InstanceMethod("stop", &InstanceWrap::Stop), InstanceMethod("release", &InstanceWrap::Release),
                        InstanceMethod("poolStats", &InstanceWrap::PoolStats)});
  }

  explicit InstanceWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<InstanceWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsString() || !info[1].IsNumber() || !info[2].IsNumber())
      throw Napi::TypeError::New(env, "new Instance(model: string, index: number, gpu: number)");
    std::string name = info[0].As<Napi::String>().Utf8Value();
    def_ = find_model(name);
    if (def_ == nullptr) throw Napi::Error::New(env, "this addon declares no model function '" + name + "'");
    index_ = info[1].As<Napi::Number>().Int32Value();
    gpu_ = info[2].As<Napi::Number>().Int32Value();
    tsfn_ = Tsfn::New(env, "tensorbind.native", 0, 1, this);
    tsfn_.Unref(env);  // an idle instance must not keep the process alive
    cleanup_ = env.AddCleanupHook(std::function<void()>([this]() {
      cleanup_ran_ = true;  // Node-API frees the hook after running it: Remove() must not follow
      Shutdown();
    }));
  }

  ~InstanceWrap() override {
    Shutdown();
    if (!cleanup_ran_) cleanup_.Remove(Env());
  }

 private:
  using Tsfn = Napi::TypedThreadSafeFunction<InstanceWrap, void, &OnInstanceDone>;
  friend void OnInstanceDone(Napi::Env env, Napi::Function, InstanceWrap* self, void*);

  /// What the JavaScript thread keeps per call until it settles.
  struct Pending {
    Napi::Promise::Deferred deferred;
    Napi::ObjectReference keep_alive;  // the request's buffers
  };

  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (started_) throw Napi::Error::New(env, "instance already started");
    started_ = true;
    auto w = std::make_unique<Work>();
    w->kind = Work::Kind::Start;
    Napi::Promise p = Track(env, *w, Napi::Value());
    thread_ = std::thread([this, first = std::move(w)]() mutable { Loop(std::move(first)); });
    return p;
  }

  // Device memory as JavaScript names it: { pointer: bigint, bytes: number, device: number }.
  struct DeviceMemory {
    const std::byte* data;
    std::size_t bytes;
    int device;
  };
  static DeviceMemory device_memory(Napi::Env env, Napi::Value v) {
    if (!v.IsObject()) throw Napi::TypeError::New(env, "expected a Uint8Array or { pointer, bytes, device }");
    auto o = v.As<Napi::Object>();
    Napi::Value p = o.Get("pointer"), b = o.Get("bytes"), d = o.Get("device");
    if (!p.IsBigInt() || !b.IsNumber() || !d.IsNumber())
      throw Napi::TypeError::New(env, "device memory needs pointer (bigint), bytes and device (numbers)");
    bool lossless = true;
    std::uint64_t addr = p.As<Napi::BigInt>().Uint64Value(&lossless);
    int device = d.As<Napi::Number>().Int32Value();
    double bytes = b.As<Napi::Number>().DoubleValue();
    if (!lossless || device < 0 || bytes < 0)
      throw Napi::RangeError::New(env, "device memory: pointer, bytes or device out of range");
    return DeviceMemory{reinterpret_cast<const std::byte*>(static_cast<std::uintptr_t>(addr)),
                        static_cast<std::size_t>(bytes), device};
  }

  // run(names: string[], dtypes: number[], shapes: number[][], datas: (Uint8Array | DeviceMemory)[],
  //     requested: string[], targets?: { [output]: Uint8Array | DeviceMemory })  — targets: clients'
  //     shared memory for outputs; DeviceMemory only for models that declare device_memory()
  Napi::Value Run(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!started_ || stopping_) throw Napi::Error::New(env, "instance is not running");
    if (info.Length() < 5 || !info[0].IsArray() || !info[1].IsArray() || !info[2].IsArray() || !info[3].IsArray() ||
        !info[4].IsArray())
      throw Napi::TypeError::New(env, "run(names, dtypes, shapes, datas, requested)");
    auto names = info[0].As<Napi::Array>();
    auto dtypes = info[1].As<Napi::Array>();
    auto shapes = info[2].As<Napi::Array>();
    auto datas = info[3].As<Napi::Array>();
    auto requested = info[4].As<Napi::Array>();
    auto w = std::make_unique<Work>();
    w->kind = Work::Kind::Run;
    std::uint32_t n = names.Length();
    w->inputs.reserve(n);
    for (std::uint32_t i = 0; i < n; ++i) {
      InputRecord r;
      r.name = names.Get(i).As<Napi::String>().Utf8Value();
      std::uint32_t code = dtypes.Get(i).As<Napi::Number>().Uint32Value();
      if (!is_valid(code)) throw Napi::TypeError::New(env, "bad datatype code");
      r.dtype = static_cast<DataType>(code);
      auto shape = shapes.Get(i).As<Napi::Array>();
      r.shape.resize(shape.Length());
      for (std::uint32_t d = 0; d < shape.Length(); ++d) r.shape[d] = shape.Get(d).As<Napi::Number>().Int64Value();
      Napi::Value d = datas.Get(i);
      if (d.IsTypedArray()) {
        auto bytes = d.As<Napi::Uint8Array>();
        r.data = reinterpret_cast<const std::byte*>(bytes.Data());
        r.bytes = bytes.ByteLength();
      } else {
        DeviceMemory m = device_memory(env, d);
        r.data = m.data;
        r.bytes = m.bytes;
        r.device = m.device;
      }
      w->inputs.push_back(std::move(r));
    }
    w->requested.reserve(requested.Length());
    for (std::uint32_t i = 0; i < requested.Length(); ++i)
      w->requested.push_back(requested.Get(i).As<Napi::String>().Utf8Value());
    Napi::Value keep = datas;
    if (info.Length() > 5 && info[5].IsObject()) {
      auto targets = info[5].As<Napi::Object>();
      auto keys = targets.GetPropertyNames();
      for (std::uint32_t i = 0; i < keys.Length(); ++i) {
        Napi::Value v = targets.Get(keys.Get(i));
        std::string key = keys.Get(i).As<Napi::String>().Utf8Value();
        if (v.IsTypedArray()) {
          auto t = v.As<Napi::Uint8Array>();
          w->targets[key] = OutputTarget{reinterpret_cast<std::byte*>(t.Data()), t.ByteLength()};
        } else if (v.IsObject()) {
          DeviceMemory m = device_memory(env, v);
          w->targets[key] = OutputTarget{const_cast<std::byte*>(m.data), m.bytes, m.device};
        }
      }
      Napi::Array both = Napi::Array::New(env, 2);  // the call keeps both alive until it is answered
      both.Set(0u, datas);
      both.Set(1u, targets);
      keep = both;
    }
    Napi::Promise p = Track(env, *w, keep);
    Enqueue(std::move(w));
    return p;
  }

  // release(tokens: number[]): the responses over these pooled outputs are written; their blocks
  // may serve the next calls (the ArrayBuffers are not read after).
  Napi::Value Release(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "release(tokens: number[])");
    auto tokens = info[0].As<Napi::Array>();
    for (std::uint32_t i = 0; i < tokens.Length(); ++i) {
      Napi::Value t = tokens.Get(i);
      if (t.IsNumber()) leases_->end(static_cast<std::uint64_t>(t.As<Napi::Number>().Int64Value()));
    }
    return env.Undefined();
  }

  // poolStats(): { blocks, bytes, leased } of the output pool (zeros before the first call).
  Napi::Value PoolStats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::shared_ptr<BlockPool> pool;
    {
      std::lock_guard<std::mutex> lock(mu_);
      pool = pool_;
    }
    BlockPool::Stats st = pool ? pool->stats() : BlockPool::Stats{};
    Napi::Object o = Napi::Object::New(env);
    o.Set("blocks", static_cast<double>(st.blocks));
    o.Set("bytes", static_cast<double>(st.bytes));
    o.Set("leased", static_cast<double>(st.leased));
    return o;
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!started_ || stopping_) {
      auto d = Napi::Promise::Deferred::New(env);
      d.Resolve(env.Undefined());
      return d.Promise();
    }
    stopping_ = true;
    auto w = std::make_unique<Work>();
    w->kind = Work::Kind::Stop;
    Napi::Promise p = Track(env, *w, Napi::Value());
    Enqueue(std::move(w));
    return p;
  }

  /// Registers a call that will settle on the JavaScript thread; keeps this object alive meanwhile.
  Napi::Promise Track(Napi::Env env, Work& w, Napi::Value keep) {
    w.id = ++next_id_;
    Pending pending{Napi::Promise::Deferred::New(env), Napi::ObjectReference()};
    if (!keep.IsEmpty()) pending.keep_alive = Napi::Persistent(keep.As<Napi::Object>());
    Napi::Promise p = pending.deferred.Promise();
    pending_.emplace(w.id, std::move(pending));
    if (pending_.size() == 1) {
      Ref();
      tsfn_.Ref(env);
    }
    return p;
  }

  void Enqueue(std::unique_ptr<Work> w) {
    std::unique_lock<std::mutex> lock(mu_);
    if (exited_) {  // the thread ended (a failed start): answer at once
      if (w->kind != Work::Kind::Stop) {
        w->failed = true;
        w->error_kind = ErrorKind::Unavailable;
        w->error = "model instance is not running";
      }
      done_.push_back(std::move(w));
      lock.unlock();
      tsfn_.NonBlockingCall();
      return;
    }
    queue_.push_back(std::move(w));
    lock.unlock();
    cv_.notify_one();
  }

  // ---- the instance's thread

  void Loop(std::unique_ptr<Work> start) {
    PooledHostAllocator host_allocator;
    std::unique_ptr<HostAllocator> gpu_allocator;
    std::unique_ptr<Runner> runner;
    void* stream_handle = nullptr;
#if TENSORBIND_CUDA
    std::unique_ptr<cuda::Stream> stream;
#endif
    std::unique_ptr<Instance> instance;
    try {
      if (gpu_ >= 0) {
#if TENSORBIND_CUDA
        cuda::check(cudaSetDevice(gpu_), ("CUDA device " + std::to_string(gpu_)).c_str());
        stream = std::make_unique<cuda::Stream>();
        stream_handle = stream->get();
        gpu_allocator = std::make_unique<cuda::PinnedPool>();
#else
        throw Error("instance " + std::to_string(index_) + " asks for GPU " + std::to_string(gpu_) +
                    ", but this addon was built without CUDA (no CUDA compiler was found when it was built)");
#endif
      }
      instance = std::make_unique<Instance>(index_, gpu_, stream_handle,
                                            gpu_allocator ? gpu_allocator.get() : &host_allocator);
      runner = def_->make_runner(*instance);
      std::lock_guard<std::mutex> lock(mu_);
      pool_ = instance->allocator().pool();
    } catch (...) {
      capture_error(*start);
    }
    bool ok = !start->failed;
    Finish(std::move(start));
    while (ok) {
      std::unique_ptr<Work> w;
      {
        std::unique_lock<std::mutex> lock(mu_);
        // Idle: free output blocks nobody has used for a while, so a burst leaves no memory behind.
        while (queue_.empty() && !shutdown_) {
          if (cv_.wait_for(lock, kTrimEvery) == std::cv_status::timeout && queue_.empty() && pool_) {
            std::shared_ptr<BlockPool> pool = pool_;
            lock.unlock();
            pool->trim(kTrimAge);
            lock.lock();
          }
        }
        if (shutdown_) break;  // collected or the environment is going away: queued calls are dropped
        w = std::move(queue_.front());
        queue_.pop_front();
      }
      if (w->kind == Work::Kind::Stop) {
        runner.reset();  // the model's destructor runs here, on its own thread
        {
          std::lock_guard<std::mutex> lock(mu_);
          exited_ = true;
        }
        Finish(std::move(w));
        return;
      }
      Execute(*w, *instance, *runner);
      Finish(std::move(w));
    }
    runner.reset();
    // A failed start, or a shutdown: fail whatever is still queued.
    std::unique_lock<std::mutex> lock(mu_);
    exited_ = true;
    while (!queue_.empty()) {
      auto w = std::move(queue_.front());
      queue_.pop_front();
      if (w->kind != Work::Kind::Stop) {
        w->failed = true;
        w->error_kind = ErrorKind::Unavailable;
        w->error = "model instance is not running";
      }
      lock.unlock();
      Finish(std::move(w));
      lock.lock();
    }
  }

  void Execute(Work& w, const Instance& instance, Runner& runner) {
    try {
      // Typed views need aligned elements; request bytes may sit at any offset of a body. A C++
      // bool must hold 0 or 1, which binary BOOL tensors need not.
      for (auto& in : w.inputs) {
        std::size_t align = size_of(in.dtype);
        if (in.device >= 0) {  // a client's CUDA region: never touched on the host
          if (align > 1 && reinterpret_cast<std::uintptr_t>(in.data) % align != 0)
            throw InvalidArgument("input '" + in.name + "': shared_memory_offset is not a multiple of its element size");
          continue;
        }
        if (in.dtype == DataType::BOOL) {
          const auto* p = reinterpret_cast<const unsigned char*>(in.data);
          if (std::any_of(p, p + in.bytes, [](unsigned char c) { return c > 1; })) {
            auto copy = std::make_unique<HostStorage>(in.bytes);
            auto* q = reinterpret_cast<unsigned char*>(copy->data());
            for (std::size_t i = 0; i < in.bytes; ++i) q[i] = p[i] != 0;
            in.data = copy->data();
            w.aligned_copies.push_back(std::move(copy));
          }
        } else if (align > 1 && reinterpret_cast<std::uintptr_t>(in.data) % align != 0) {
          auto copy = std::make_unique<HostStorage>(in.bytes);
          std::memcpy(copy->data(), in.data, in.bytes);
          in.data = copy->data();
          w.aligned_copies.push_back(std::move(copy));
        }
      }
      Context ctx(instance, w.inputs, w.requested, &def_->outputs(), &w.targets);
      runner.run(ctx);
#if TENSORBIND_CUDA
      if (instance.on_gpu()) cuda::check(cudaStreamSynchronize(instance.stream()), "after the model function");
#endif
      w.outputs = std::move(ctx.outputs());
    } catch (...) {
      w.outputs.clear();
      capture_error(w);
#if TENSORBIND_CUDA
      if (instance.on_gpu()) cudaStreamSynchronize(instance.stream());  // let queued copies finish before buffers go
#endif
    }
  }

  void Finish(std::unique_ptr<Work> w) {
    bool quiet;
    {
      std::lock_guard<std::mutex> lock(mu_);
      quiet = shutdown_;
      if (!quiet) done_.push_back(std::move(w));
    }
    if (!quiet) tsfn_.NonBlockingCall();
  }

  // ---- back on the JavaScript thread

  void Drain(Napi::Env env) {
    std::deque<std::unique_ptr<Work>> done;
    {
      std::lock_guard<std::mutex> lock(mu_);
      done.swap(done_);
    }
    for (auto& w : done) {
      auto it = pending_.find(w->id);
      if (it == pending_.end()) continue;
      Pending pending = std::move(it->second);
      pending_.erase(it);
      Napi::HandleScope scope(env);
      if (w->kind == Work::Kind::Stop && thread_.joinable()) thread_.join();
      if (w->failed) {
        Napi::Error err = Napi::Error::New(env, w->error);
        err.Set("kind", Napi::Number::New(env, static_cast<int>(w->error_kind)));
        pending.deferred.Reject(err.Value());
      } else if (w->kind == Work::Kind::Run) {
        try {
          pending.deferred.Resolve(Outputs(env, *w));
        } catch (const Napi::Error& e) {
          pending.deferred.Reject(e.Value());
        }
      } else {
        pending.deferred.Resolve(env.Undefined());
      }
      if (w->kind == Work::Kind::Start && w->failed && thread_.joinable()) thread_.join();
      pending.keep_alive.Reset();
    }
    if (pending_.empty() && !done.empty()) {
      tsfn_.Unref(env);
      Unref();  // may let this object be collected: nothing may follow
    }
  }

  // [[name, dtype, shape, ArrayBuffer | inputIndex], ...]
  Napi::Array Outputs(Napi::Env env, Work& w) {
    Napi::Array out = Napi::Array::New(env, w.outputs.size());
    std::uint32_t i = 0;
    for (auto& o : w.outputs) {
      Napi::Array entry = Napi::Array::New(env, 4);  // a 5th element: the lease token of a pooled output
      entry.Set(0u, Napi::String::New(env, o.name));
      entry.Set(1u, Napi::Number::New(env, static_cast<double>(o.dtype)));
      Napi::Array shape = Napi::Array::New(env, o.shape.size());
      for (std::uint32_t d = 0; d < o.shape.size(); ++d)
        shape.Set(d, Napi::Number::New(env, static_cast<double>(o.shape[d])));
      entry.Set(2u, shape);
      if (o.forwarded_input >= 0) {
        entry.Set(3u, Napi::Number::New(env, o.forwarded_input));
      } else if (o.in_target) {
        entry.Set(3u, Napi::String::New(env, "target"));  // already in the client's memory
      } else if (PooledStorage* p = o.storage ? o.storage->pooled() : nullptr; p != nullptr && p->size() > 0) {
        std::uint64_t token = 0;
        entry.Set(3u, LendPooled(env, std::move(o.storage), *leases_, leases_, &token));
        if (token != 0) entry.Set(4u, Napi::Number::New(env, static_cast<double>(token)));
      } else {
        entry.Set(3u, ToArrayBuffer(env, std::move(o.storage)));
      }
      out.Set(i++, entry);
    }
    return out;
  }

  /// A pooled block as an external ArrayBuffer, lent to JavaScript until release(token) or the
  /// buffer's collection; `*token` is 0 where external buffers are forbidden (then a copy, and
  /// the block goes back at once).
  static Napi::ArrayBuffer LendPooled(Napi::Env env, std::unique_ptr<Storage> storage, Leases& leases,
                                      const std::shared_ptr<Leases>& shared, std::uint64_t* token) {
    PooledStorage* p = storage->pooled();
    std::shared_ptr<BlockPool> pool = p->pool();
    BlockPool::Block* block = p->block();
    std::byte* data = p->data();
    std::size_t n = p->size();
    *token = leases.add(std::move(storage));
    auto* view = new PooledView{shared, pool, block, *token};
    pool->add_view(block);
    napi_value value;
    napi_status status = napi_create_external_arraybuffer(
        env, data, n,
        [](napi_env, void*, void* hint) {
          std::unique_ptr<PooledView> v(static_cast<PooledView*>(hint));
          v->leases->end(v->token);
          v->pool->drop_view(v->block);
        },
        view, &value);
    if (status == napi_ok) return Napi::ArrayBuffer(env, value);
    Napi::ArrayBuffer copy = Napi::ArrayBuffer::New(env, n);
    std::memcpy(copy.Data(), data, n);
    leases.end(*token);
    pool->drop_view(block);
    delete view;
    *token = 0;
    return copy;
  }

  /// Hands the storage to an external ArrayBuffer whose finalizer frees it: no copy. Where the
  /// runtime forbids external buffers, the bytes are copied instead.
  static Napi::ArrayBuffer ToArrayBuffer(Napi::Env env, std::unique_ptr<Storage> storage) {
    std::size_t n = storage ? storage->size() : 0;
    if (n == 0) return Napi::ArrayBuffer::New(env, 0);
    std::byte* data = storage->data();
    napi_value value;
    Storage* raw = storage.get();
    napi_status status = napi_create_external_arraybuffer(
        env, data, n, [](napi_env, void*, void* hint) { std::unique_ptr<Storage> owned(static_cast<Storage*>(hint)); },
        raw, &value);
    if (status == napi_ok) {
      storage.release();  // the finalizer owns it now
      return Napi::ArrayBuffer(env, value);
    }
    Napi::ArrayBuffer copy = Napi::ArrayBuffer::New(env, n);
    std::memcpy(copy.Data(), data, n);
    return copy;
  }

  /// Ends the thread without calling back into JavaScript (collection, environment teardown).
  void Shutdown() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shutdown_) return;
      shutdown_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    tsfn_.Abort();
  }

  static constexpr std::chrono::milliseconds kTrimEvery{1000};
  static constexpr std::chrono::milliseconds kTrimAge{2000};

  const ModelDef* def_ = nullptr;
  std::shared_ptr<Leases> leases_ = std::make_shared<Leases>();
  std::shared_ptr<BlockPool> pool_;  // the instance's output pool, once its thread has made it (mu_)
  int index_ = 0;
  int gpu_ = -1;
  bool started_ = false;
  bool stopping_ = false;
  std::uint64_t next_id_ = 0;
  std::unordered_map<std::uint64_t, Pending> pending_;  // JavaScript thread only
  Tsfn tsfn_;
  Napi::Env::CleanupHook<std::function<void()>> cleanup_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Work>> queue_;  // to the instance's thread
  std::deque<std::unique_ptr<Work>> done_;   // back to the JavaScript thread
  bool shutdown_ = false;
  bool exited_ = false;
  bool cleanup_ran_ = false;
};

inline void OnInstanceDone(Napi::Env env, Napi::Function, InstanceWrap* self, void*) {
  if (static_cast<napi_env>(env) == nullptr || self == nullptr) return;  // the environment is going away
  self->Drain(env);
}

inline Napi::Object Declarations(Napi::Env env) {
  auto specs = [&](const std::vector<TensorDecl>& decls) {
    Napi::Object o = Napi::Object::New(env);
    for (const auto& d : decls) {
      Napi::Object spec = Napi::Object::New(env);
      spec.Set("datatype", name_of(d.dtype));
      Napi::Array shape = Napi::Array::New(env, d.shape.size());
      for (std::uint32_t i = 0; i < d.shape.size(); ++i) shape.Set(i, static_cast<double>(d.shape[i]));
      spec.Set("shape", shape);
      spec.Set("optional", d.optional);
      o.Set(d.name, spec);
    }
    return o;
  };
  Napi::Object models = Napi::Object::New(env);
  for (const auto& m : registry()) {
    Napi::Object decl = Napi::Object::New(env);
    if (!m->inputs().empty()) decl.Set("inputs", specs(m->inputs()));
    if (!m->outputs().empty()) decl.Set("outputs", specs(m->outputs()));
    if (m->max_batch_size() >= 0) decl.Set("maxBatchSize", m->max_batch_size());
    if (m->takes_device_memory()) decl.Set("deviceMemory", true);
    models.Set(m->name(), decl);
  }
  return models;
}

inline Napi::Object Init(Napi::Env env, Napi::Object exports) {
  Napi::Object api = Napi::Object::New(env);
  api.Set("apiVersion", TENSORBIND_API_VERSION);
  api.Set("cuda", static_cast<bool>(TENSORBIND_CUDA));
  api.Set("models", Declarations(env));
  api.Set("Instance", InstanceWrap::Define(env));
  exports.Set("tensorbind", api);
  return exports;
}

}  // namespace detail
}  // namespace tensorbind

/// Makes this shared library a tensorbind addon. Write it once, in one source file.
#define TENSORBIND_ADDON()                                                                               \
  static Napi::Object TensorbindAddonInit(Napi::Env env, Napi::Object exports) {                        \
    return ::tensorbind::detail::Init(env, exports);                                                     \
  }                                                                                                      \
  NODE_API_MODULE(NODE_GYP_MODULE_NAME, TensorbindAddonInit)
