// Clients' CUDA regions (the CUDA shared-memory extension), for src/shm/cuda-regions.ts:
//   cudaDevices() -> { count, reason }        count 0 when there is no runtime or no GPU
//   cudaOpenIpc(handle: Uint8Array(64), device) -> { pointer: bigint, bytes } (bytes to the
//                                                  allocation's end; 0 when the driver cannot say)
//   cudaCloseIpc(pointer: bigint, device)
//   cudaCopyToHost(pointer: bigint, dest: Uint8Array, device)
//   cudaCopyToDevice(pointer: bigint, src: Uint8Array, device)
// Pointers cross as bigints already offset by the caller; bounds are checked in TypeScript.
#include <cstdint>
#include <cstring>
#include <stdexcept>

#include "client_region_napi.h"
#include "cuda_runtime_loader.h"

namespace tensorbind {
namespace {

CudaRuntime* Runtime(Napi::Env env) {
  std::string why;
  CudaRuntime* r = CudaRuntime::Get(&why);
  if (r == nullptr) throw Napi::Error::New(env, why);
  return r;
}

int DeviceArg(const Napi::CallbackInfo& info, std::size_t i) {
  if (info.Length() <= i || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), "device must be a number");
  return info[i].As<Napi::Number>().Int32Value();
}

void* PointerArg(const Napi::CallbackInfo& info, std::size_t i) {
  if (info.Length() <= i || !info[i].IsBigInt()) throw Napi::TypeError::New(info.Env(), "pointer must be a bigint");
  bool lossless = true;
  std::uint64_t v = info[i].As<Napi::BigInt>().Uint64Value(&lossless);
  if (!lossless) throw Napi::RangeError::New(info.Env(), "pointer out of range");
  return reinterpret_cast<void*>(static_cast<std::uintptr_t>(v));
}

Napi::Uint8Array BytesArg(const Napi::CallbackInfo& info, std::size_t i) {
  if (info.Length() <= i || !info[i].IsTypedArray()) throw Napi::TypeError::New(info.Env(), "expected a Uint8Array");
  return info[i].As<Napi::Uint8Array>();
}

Napi::Value CudaDevices(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  std::string why;
  CudaRuntime* r = CudaRuntime::Get(&why);
  int count = r == nullptr ? 0 : r->DeviceCount();
  if (r != nullptr && count == 0) why = "the CUDA runtime sees no device";
  out.Set("count", Napi::Number::New(env, count));
  out.Set("reason", Napi::String::New(env, why));
  return out;
}

template <typename F>
Napi::Value Guard(Napi::Env env, F f) {
  try {
    return f();
  } catch (const std::runtime_error& e) {
    throw Napi::Error::New(env, e.what());
  }
}

Napi::Value CudaOpenIpc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto bytes = BytesArg(info, 0);
  if (bytes.ByteLength() != sizeof(IpcHandle)) throw Napi::RangeError::New(env, "a CUDA IPC handle is 64 bytes");
  IpcHandle handle;
  std::memcpy(handle.reserved, bytes.Data(), sizeof handle.reserved);
  int device = DeviceArg(info, 1);
  return Guard(env, [&] {
    CudaRuntime* r = Runtime(env);
    void* ptr = r->OpenIpc(handle, device);
    Napi::Object out = Napi::Object::New(env);
    out.Set("pointer", Napi::BigInt::New(env, static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(ptr))));
    out.Set("bytes", Napi::Number::New(env, static_cast<double>(r->BytesToEnd(ptr, device))));
    return out;
  });
}

Napi::Value CudaCloseIpc(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  void* ptr = PointerArg(info, 0);
  int device = DeviceArg(info, 1);
  return Guard(env, [&] {
    Runtime(env)->CloseIpc(ptr, device);
    return env.Undefined();
  });
}

Napi::Value CudaCopyToHost(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  void* src = PointerArg(info, 0);
  auto dest = BytesArg(info, 1);
  int device = DeviceArg(info, 2);
  return Guard(env, [&] {
    Runtime(env)->CopyToHost(dest.Data(), src, dest.ByteLength(), device);
    return env.Undefined();
  });
}

Napi::Value CudaCopyToDevice(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  void* dst = PointerArg(info, 0);
  auto src = BytesArg(info, 1);
  int device = DeviceArg(info, 2);
  return Guard(env, [&] {
    Runtime(env)->CopyToDevice(dst, src.Data(), src.ByteLength(), device);
    return env.Undefined();
  });
}

}  // namespace

void InitCudaRegions(Napi::Env env, Napi::Object exports) {
  exports.Set("cudaDevices", Napi::Function::New(env, CudaDevices, "cudaDevices"));
  exports.Set("cudaOpenIpc", Napi::Function::New(env, CudaOpenIpc, "cudaOpenIpc"));
  exports.Set("cudaCloseIpc", Napi::Function::New(env, CudaCloseIpc, "cudaCloseIpc"));
  exports.Set("cudaCopyToHost", Napi::Function::New(env, CudaCopyToHost, "cudaCopyToHost"));
  exports.Set("cudaCopyToDevice", Napi::Function::New(env, CudaCopyToDevice, "cudaCopyToDevice"));
}

}  // namespace tensorbind
