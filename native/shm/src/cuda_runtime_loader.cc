#include "cuda_runtime_loader.h"

#include <dlfcn.h>

#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <stdexcept>

namespace tensorbind {

namespace {

constexpr int kCudaSuccess = 0;
constexpr int kMemcpyHostToDevice = 1;
constexpr int kMemcpyDeviceToHost = 2;
constexpr unsigned int kIpcMemLazyEnablePeerAccess = 1;

void* OpenLibrary(std::string* tried) {
  // TENSORBIND_CUDART names the library outright; then the usual names and the toolkit's place.
  const char* env = std::getenv("TENSORBIND_CUDART");
  const char* names[] = {env,
                         "libcudart.so",
                         "libcudart.so.13",
                         "libcudart.so.12",
                         "libcudart.so.11.0",
                         "/usr/local/cuda/lib64/libcudart.so",
                         "/usr/local/cuda/targets/x86_64-linux/lib/libcudart.so"};
  for (const char* name : names) {
    if (name == nullptr || *name == '\0') continue;
    if (void* lib = dlopen(name, RTLD_NOW | RTLD_LOCAL)) return lib;
    *tried += std::string(tried->empty() ? "" : ", ") + name;
  }
  return nullptr;
}

template <typename Fn>
Fn Symbol(void* lib, const char* name) {
  return reinterpret_cast<Fn>(dlsym(lib, name));
}

}  // namespace

CudaRuntime* CudaRuntime::Get(std::string* why) {
  static std::once_flag once;
  static CudaRuntime* runtime = nullptr;
  static std::string reason;
  std::call_once(once, [] {
    std::string tried;
    void* lib = OpenLibrary(&tried);
    if (lib == nullptr) {
      reason = "no CUDA runtime library found (tried " + tried + "; set TENSORBIND_CUDART)";
      return;
    }
    auto* r = new CudaRuntime();
    r->get_count_ = Symbol<GetCountFn>(lib, "cudaGetDeviceCount");
    r->set_device_ = Symbol<SetDeviceFn>(lib, "cudaSetDevice");
    r->ipc_open_ = Symbol<IpcOpenFn>(lib, "cudaIpcOpenMemHandle");
    r->ipc_close_ = Symbol<IpcCloseFn>(lib, "cudaIpcCloseMemHandle");
    r->memcpy_ = Symbol<MemcpyFn>(lib, "cudaMemcpy");
    r->error_string_ = Symbol<ErrorStringFn>(lib, "cudaGetErrorString");
    if (!r->get_count_ || !r->set_device_ || !r->ipc_open_ || !r->ipc_close_ || !r->memcpy_ || !r->error_string_) {
      reason = "the CUDA runtime library lacks the IPC or copy functions";
      delete r;
      return;
    }
    // The driver API tells an allocation's extent, so a registration cannot claim more.
    if (void* driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL))
      r->address_range_ = Symbol<AddressRangeFn>(driver, "cuMemGetAddressRange_v2");
    runtime = r;
  });
  if (runtime == nullptr && why != nullptr) *why = reason;
  return runtime;
}

void CudaRuntime::Check(int status, const char* what) {
  if (status != kCudaSuccess) throw std::runtime_error(std::string(what) + ": " + error_string_(status));
}

void CudaRuntime::Use(int device) { Check(set_device_(device), "cudaSetDevice"); }

int CudaRuntime::DeviceCount() {
  int n = 0;
  return get_count_(&n) == kCudaSuccess ? n : 0;
}

void* CudaRuntime::OpenIpc(const IpcHandle& handle, int device) {
  Use(device);
  void* ptr = nullptr;
  Check(ipc_open_(&ptr, handle, kIpcMemLazyEnablePeerAccess), "cudaIpcOpenMemHandle");
  return ptr;
}

void CudaRuntime::CloseIpc(void* ptr, int device) {
  Use(device);
  Check(ipc_close_(ptr), "cudaIpcCloseMemHandle");
}

void CudaRuntime::CopyToHost(void* dst, const void* src, std::size_t bytes, int device) {
  Use(device);
  Check(memcpy_(dst, src, bytes, kMemcpyDeviceToHost), "cudaMemcpy (device to host)");
}

void CudaRuntime::CopyToDevice(void* dst, const void* src, std::size_t bytes, int device) {
  Use(device);
  Check(memcpy_(dst, src, bytes, kMemcpyHostToDevice), "cudaMemcpy (host to device)");
}

std::size_t CudaRuntime::BytesToEnd(void* ptr, int device) {
  if (address_range_ == nullptr) return 0;
  Use(device);
  unsigned long long base = 0;
  std::size_t size = 0;
  auto p = static_cast<unsigned long long>(reinterpret_cast<std::uintptr_t>(ptr));
  if (address_range_(&base, &size, p) != kCudaSuccess || p < base) return 0;
  return size - static_cast<std::size_t>(p - base);
}

}  // namespace tensorbind
