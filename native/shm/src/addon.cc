// Node-API boundary of the shm addon. Each mapping is exposed as exactly one external
// ArrayBuffer (V8 aborts when two external buffers cover the same memory); the buffer's
// finalizer owns the Mapping and unmaps it, and unmap() may do so earlier by detaching
// the buffer first, so no JS view can ever touch unmapped memory.
#include <napi.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "client_region_napi.h"
#include "json_numbers_napi.h"
#include "shm_mapping.h"
#include "dup_fd_napi.h"

namespace tensorbind {
namespace {

// Live mappings by address, so unmap(buffer) can find the Mapping its finalizer owns.
std::mutex registry_mutex;
std::unordered_map<void*, Mapping*> registry;

void FinalizeMapping(Napi::Env /*env*/, void* /*data*/, Mapping* raw) {
  std::unique_ptr<Mapping> mapping(raw);
  std::lock_guard<std::mutex> lock(registry_mutex);
  auto it = registry.find(mapping->addr());
  if (it != registry.end() && it->second == raw) registry.erase(it);
}  // ~Mapping unmaps (a no-op when unmap() already did)

}  // namespace

Napi::ArrayBuffer Expose(Napi::Env env, std::unique_ptr<Mapping> mapping) {
  void* addr = mapping->addr();
  std::size_t length = mapping->length();
  {
    std::lock_guard<std::mutex> lock(registry_mutex);
    registry[addr] = mapping.get();
  }
  Mapping* owned = mapping.release();  // from here on the buffer's finalizer owns it
  return Napi::ArrayBuffer::New(env, addr, length, FinalizeMapping, owned);
}

Napi::Error ToJsError(Napi::Env env, const ShmError& e) {
  Napi::Error err = Napi::Error::New(env, e.what());
  err.Set("code", Napi::String::New(env, e.code()));
  return err;
}

namespace {

std::string NameArg(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsString()) {
    throw Napi::TypeError::New(info.Env(), "segment name must be a string");
  }
  return info[0].As<Napi::String>().Utf8Value();
}

// create(byteLength, prefix = "/tb-") -> { name, buffer }
Napi::Value Create(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "byteLength must be a number");
  double length = info[0].As<Napi::Number>().DoubleValue();
  if (!(length >= 1) || length > 9007199254740991.0) throw Napi::RangeError::New(env, "invalid byteLength");
  std::string prefix = "/tb-";
  if (info.Length() >= 2 && info[1].IsString()) prefix = info[1].As<Napi::String>().Utf8Value();
  if (prefix.size() < 2 || prefix[0] != '/' || prefix.find('/', 1) != std::string::npos || prefix.size() > 200) {
    throw Napi::TypeError::New(env, "segment prefix must start with '/' and contain no other '/'");
  }
  std::string name;
  try {
    auto mapping = CreateSegment(static_cast<std::size_t>(length), prefix, &name);
    Napi::Object result = Napi::Object::New(env);
    result.Set("name", Napi::String::New(env, name));
    result.Set("buffer", Expose(env, std::move(mapping)));
    return result;
  } catch (const ShmError& e) {
    throw ToJsError(env, e);
  }
}

// open(name) -> ArrayBuffer over the whole segment
Napi::Value Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = NameArg(info);
  try {
    return Expose(env, OpenSegment(name));
  } catch (const ShmError& e) {
    throw ToJsError(env, e);
  }
}

// unlink(name) -> false when the name was already gone
Napi::Value Unlink(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string name = NameArg(info);
  try {
    return Napi::Boolean::New(env, UnlinkSegment(name));
  } catch (const ShmError& e) {
    throw ToJsError(env, e);
  }
}

// unmap(buffer) -> unmaps now and detaches the buffer (all views become empty); false if not ours
Napi::Value Unmap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArrayBuffer()) throw Napi::TypeError::New(env, "expected an ArrayBuffer");
  auto buffer = info[0].As<Napi::ArrayBuffer>();
  Mapping* mapping = nullptr;
  {
    std::lock_guard<std::mutex> lock(registry_mutex);
    auto it = registry.find(buffer.Data());
    if (it == registry.end()) return Napi::Boolean::New(env, false);
    mapping = it->second;
    registry.erase(it);
  }
  // Unmap before detaching: detaching may run the finalizer, which deletes the Mapping.
  mapping->Unmap();
  buffer.Detach();
  return Napi::Boolean::New(env, true);
}

// isMapping(buffer) -> whether the buffer is a live mapping made by this addon
Napi::Value IsMapping(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArrayBuffer()) return Napi::Boolean::New(env, false);
  auto buffer = info[0].As<Napi::ArrayBuffer>();
  std::lock_guard<std::mutex> lock(registry_mutex);
  auto it = registry.find(buffer.Data());
  return Napi::Boolean::New(env, it != registry.end() && it->second->length() == buffer.ByteLength());
}

// address(buffer) -> where its bytes start in this process (for alignment, and zero-copy tests)
Napi::Value Address(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArrayBuffer()) throw Napi::TypeError::New(env, "expected an ArrayBuffer");
  auto addr = reinterpret_cast<std::uintptr_t>(info[0].As<Napi::ArrayBuffer>().Data());
  return Napi::Number::New(env, static_cast<double>(addr));
}

// borrow(address, byteLength) -> an ArrayBuffer over memory of this process that another thread
// owns and keeps alive until the borrower says it is done (frontend threads read the engine's
// outputs this way instead of copying them). It frees nothing when collected.
Napi::Value Borrow(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber())
    throw Napi::TypeError::New(env, "borrow(address: number, byteLength: number)");
  double addr = info[0].As<Napi::Number>().DoubleValue();
  double length = info[1].As<Napi::Number>().DoubleValue();
  if (!(addr > 0) || !(length > 0) || addr != static_cast<double>(static_cast<std::uintptr_t>(addr)) ||
      length != static_cast<double>(static_cast<std::size_t>(length)))
    throw Napi::RangeError::New(env, "borrow: address and byteLength must be positive integers");
  void* data = reinterpret_cast<void*>(static_cast<std::uintptr_t>(addr));
  napi_value value;
  napi_status status =
      napi_create_external_arraybuffer(env, data, static_cast<std::size_t>(length), nullptr, nullptr, &value);
  if (status != napi_ok) throw Napi::Error::New(env, "borrow: this runtime does not allow external buffers");
  return Napi::Value(env, value);
}

// liveMappings() -> number of mappings not yet unmapped (for leak tests)
Napi::Value LiveMappings(const Napi::CallbackInfo& info) {
  std::lock_guard<std::mutex> lock(registry_mutex);
  return Napi::Number::New(info.Env(), static_cast<double>(registry.size()));
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("create", Napi::Function::New(env, Create, "create"));
  exports.Set("open", Napi::Function::New(env, Open, "open"));
  exports.Set("unlink", Napi::Function::New(env, Unlink, "unlink"));
  exports.Set("unmap", Napi::Function::New(env, Unmap, "unmap"));
  exports.Set("isMapping", Napi::Function::New(env, IsMapping, "isMapping"));
  exports.Set("address", Napi::Function::New(env, Address, "address"));
  exports.Set("liveMappings", Napi::Function::New(env, LiveMappings, "liveMappings"));
  exports.Set("borrow", Napi::Function::New(env, Borrow, "borrow"));
  InitClientRegions(env, exports);
  InitJsonNumbers(env, exports);
  InitDupFd(env, exports);
#if TENSORBIND_SHM_CUDA
  InitCudaRegions(env, exports);
#endif
  return exports;
}

}  // namespace tensorbind

Napi::Object InitShmAddon(Napi::Env env, Napi::Object exports) { return tensorbind::Init(env, exports); }

NODE_API_MODULE(tensorbind_shm, InitShmAddon)
