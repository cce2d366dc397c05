// Registers dupFd (socket_reader_napi.cc) on the addon's exports.
#pragma once

#include <napi.h>

namespace tensorbind {
void InitSocketReader(Napi::Env env, Napi::Object exports);
}  // namespace tensorbind
