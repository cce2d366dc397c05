// Node-API surface of clients' regions (client_region_napi.cc), and the helpers of addon.cc
// it shares: one external ArrayBuffer per mapping, errors with errno-style codes.
#pragma once

#include <napi.h>

#include <memory>

#include "shm_mapping.h"

namespace tensorbind {

Napi::ArrayBuffer Expose(Napi::Env env, std::unique_ptr<Mapping> mapping);
Napi::Error ToJsError(Napi::Env env, const ShmError& e);
void InitClientRegions(Napi::Env env, Napi::Object exports);
#if TENSORBIND_SHM_CUDA
void InitCudaRegions(Napi::Env env, Napi::Object exports);
#endif

}  // namespace tensorbind
