// openClientRegion(name) -> { buffer, handle }; regionSize(handle) -> bytes now (-1 closed);
// closeRegion(handle). The buffer is an ordinary mapping of the addon (unmap() detaches it);
// the handle keeps the descriptor open for the size checks and closes it when collected.
#include "client_region.h"
#include "client_region_napi.h"

namespace tensorbind {
namespace {

using Handle = Napi::External<ClientRegion>;

ClientRegion* HandleArg(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsExternal()) throw Napi::TypeError::New(info.Env(), "expected a region handle");
  return info[0].As<Handle>().Data();
}

Napi::Value OpenClientRegion(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "segment name must be a string");
  std::string name = info[0].As<Napi::String>().Utf8Value();
  std::unique_ptr<ClientRegion> region;
  try {
    region = ClientRegion::Open(name);
  } catch (const ShmError& e) {
    throw ToJsError(env, e);
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("buffer", Expose(env, region->TakeMapping()));
  result.Set("handle", Handle::New(env, region.release(), [](Napi::Env, ClientRegion* r) { delete r; }));
  return result;
}

Napi::Value RegionSize(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(HandleArg(info)->CurrentSize()));
}

Napi::Value CloseRegion(const Napi::CallbackInfo& info) {
  HandleArg(info)->Close();
  return info.Env().Undefined();
}

}  // namespace

void InitClientRegions(Napi::Env env, Napi::Object exports) {
  exports.Set("openClientRegion", Napi::Function::New(env, OpenClientRegion, "openClientRegion"));
  exports.Set("regionSize", Napi::Function::New(env, RegionSize, "regionSize"));
  exports.Set("closeRegion", Napi::Function::New(env, CloseRegion, "closeRegion"));
}

}  // namespace tensorbind
