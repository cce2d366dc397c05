// Registers dupFd (dup_fd_napi.cc) on the addon's exports.
#pragma once

#include <napi.h>

namespace tensorbind {
void InitDupFd(Napi::Env env, Napi::Object exports);
}  // namespace tensorbind
