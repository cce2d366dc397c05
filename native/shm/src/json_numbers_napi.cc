// Node-API boundary of json_numbers: the HTTP frontend's JSON `data` arrays to and from bytes.
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "json_numbers.h"

namespace tensorbind {
namespace {

JsonKind KindArg(const Napi::CallbackInfo& info, std::size_t i) {
  JsonKind kind;
  if (info.Length() <= i || !info[i].IsString() || !JsonKindOf(info[i].As<Napi::String>().Utf8Value(), &kind))
    throw Napi::TypeError::New(info.Env(), "expected a datatype that JSON numbers carry");
  return kind;
}

Napi::Uint8Array BytesArg(const Napi::CallbackInfo& info, std::size_t i) {
  if (info.Length() <= i || !info[i].IsTypedArray() ||
      info[i].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
    throw Napi::TypeError::New(info.Env(), "expected a Uint8Array");
  return info[i].As<Napi::Uint8Array>();
}

std::size_t SizeArg(const Napi::CallbackInfo& info, std::size_t i, std::size_t max) {
  if (info.Length() <= i || !info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), "expected a number");
  const double v = info[i].As<Napi::Number>().DoubleValue();
  if (!(v >= 0) || v > static_cast<double>(max) || v != static_cast<double>(static_cast<std::size_t>(v)))
    throw Napi::RangeError::New(info.Env(), "offset or count out of range");
  return static_cast<std::size_t>(v);
}

// formatJsonArray(bytes, datatype) -> Buffer holding `[v0,v1,...]` (json_numbers.h).
Napi::Value FormatJson(const Napi::CallbackInfo& info) {
  Napi::Uint8Array bytes = BytesArg(info, 0);
  const JsonKind kind = KindArg(info, 1);
  const std::size_t size = JsonKindSize(kind);
  if (bytes.ByteLength() % size != 0) throw Napi::RangeError::New(info.Env(), "byte length is not whole elements");
  // Scratch reused from call to call (never zero-filled): a 1 MiB tensor's text is a few MiB.
  thread_local std::unique_ptr<char[]> scratch;
  thread_local std::size_t capacity = 0;
  const std::size_t count = bytes.ByteLength() / size;
  const std::size_t need = JsonArrayCapacity(count);
  if (need > capacity) {
    scratch.reset(new char[need]);
    capacity = need;
  }
  const std::size_t length = FormatJsonArray(kind, bytes.Data(), count, scratch.get());
  auto out = Napi::Buffer<char>::Copy(info.Env(), scratch.get(), length);
  if (capacity > (std::size_t{64} << 20)) {
    scratch.reset();
    capacity = 0;
  }
  return out;
}

// parseJsonArray(body, begin, end, datatype, count, maxDepth, out) -> whether `out` now holds
// the `count` elements of the array text body[begin, end); false leaves the decision to JS.
Napi::Value ParseJson(const Napi::CallbackInfo& info) {
  Napi::Uint8Array body = BytesArg(info, 0);
  const std::size_t begin = SizeArg(info, 1, body.ByteLength());
  const std::size_t end = SizeArg(info, 2, body.ByteLength());
  const JsonKind kind = KindArg(info, 3);
  Napi::Uint8Array out = BytesArg(info, 6);
  const std::size_t count = SizeArg(info, 4, out.ByteLength());
  if (!info[5].IsNumber()) throw Napi::TypeError::New(info.Env(), "maxDepth must be a number");
  const int max_depth = info[5].As<Napi::Number>().Int32Value();
  if (begin > end || count * JsonKindSize(kind) != out.ByteLength())
    throw Napi::RangeError::New(info.Env(), "the output does not hold count elements");
  const char* text = reinterpret_cast<const char*>(body.Data());
  return Napi::Boolean::New(info.Env(),
                            ParseJsonArray(kind, text + begin, text + end, count, max_depth, out.Data()));
}

// scanJsonInputData(body, end) -> [inputIndex, begin, end, ...] of each inputs[i].data array in
// body[0, end), or null when the text is not one the scan follows unambiguously.
Napi::Value ScanJson(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Uint8Array body = BytesArg(info, 0);
  const std::size_t end = SizeArg(info, 1, body.ByteLength());
  const char* text = reinterpret_cast<const char*>(body.Data());
  std::vector<std::size_t> found;
  if (!ScanJsonInputData(text, text + end, &found)) return env.Null();
  Napi::Array result = Napi::Array::New(env, found.size());
  for (std::size_t i = 0; i < found.size(); ++i) result.Set(i, Napi::Number::New(env, static_cast<double>(found[i])));
  return result;
}

}  // namespace

void InitJsonNumbers(Napi::Env env, Napi::Object exports) {
  exports.Set("formatJsonArray", Napi::Function::New(env, FormatJson, "formatJsonArray"));
  exports.Set("parseJsonArray", Napi::Function::New(env, ParseJson, "parseJsonArray"));
  exports.Set("scanJsonInputData", Napi::Function::New(env, ScanJson, "scanJsonInputData"));
}

}  // namespace tensorbind
