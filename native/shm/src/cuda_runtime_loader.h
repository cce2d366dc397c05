// The few CUDA runtime calls clients' CUDA regions need, loaded with dlopen at first use: the
// addon builds and runs without CUDA, and a server on a GPU node finds the runtime it has.
#pragma once

#include <cstddef>
#include <string>

namespace tensorbind {

// cudaIpcMemHandle_t: 64 opaque bytes (CUDA's driver_types.h).
struct IpcHandle {
  char reserved[64];
};

class CudaRuntime {
 public:
  // The loaded runtime, or nullptr (with the reason in `why`) when there is none.
  static CudaRuntime* Get(std::string* why);
  int DeviceCount();
  // Opens a client's allocation on `device`; throws std::runtime_error with CUDA's message.
  void* OpenIpc(const IpcHandle& handle, int device);
  void CloseIpc(void* ptr, int device);
  void CopyToHost(void* dst, const void* src, std::size_t bytes, int device);
  void CopyToDevice(void* dst, const void* src, std::size_t bytes, int device);
  // Bytes from `ptr` to the end of its allocation (driver API), 0 when it cannot be told.
  std::size_t BytesToEnd(void* ptr, int device);

 private:
  CudaRuntime() = default;
  void Check(int status, const char* what);
  void Use(int device);
  using GetCountFn = int (*)(int*);
  using SetDeviceFn = int (*)(int);
  using IpcOpenFn = int (*)(void**, IpcHandle, unsigned int);
  using IpcCloseFn = int (*)(void*);
  using MemcpyFn = int (*)(void*, const void*, std::size_t, int);
  using ErrorStringFn = const char* (*)(int);
  using AddressRangeFn = int (*)(unsigned long long*, std::size_t*, unsigned long long);
  AddressRangeFn address_range_ = nullptr;
  GetCountFn get_count_ = nullptr;
  SetDeviceFn set_device_ = nullptr;
  IpcOpenFn ipc_open_ = nullptr;
  IpcCloseFn ipc_close_ = nullptr;
  MemcpyFn memcpy_ = nullptr;
  ErrorStringFn error_string_ = nullptr;
};

}  // namespace tensorbind
