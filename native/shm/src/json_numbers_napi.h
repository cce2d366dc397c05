// Registers the JSON number functions (json_numbers_napi.cc) on the addon's exports.
#pragma once

#include <napi.h>

namespace tensorbind {
void InitJsonNumbers(Napi::Env env, Napi::Object exports);
}  // namespace tensorbind
