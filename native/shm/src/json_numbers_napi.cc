// Node-API boundary of json_numbers: the HTTP frontend's JSON `data` arrays to and from bytes.
#include <napi.h>

#include <cstdlib>
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
  // Scratch reused from call to call (never zero-filled), dropped when it grew large.
  thread_local JsonText text;
  text.size = 0;
  if (!FormatJsonArray(kind, bytes.Data(), bytes.ByteLength() / size, &text))
    throw Napi::Error::New(info.Env(), "out of memory formatting JSON");
  auto out = Napi::Buffer<char>::Copy(info.Env(), text.data, text.size);
  if (text.capacity > (std::size_t{64} << 20)) {
    std::free(text.data);
    text.data = nullptr;
    text.capacity = 0;
  }
  return out;
}

// The arguments of parseJsonArray and parseJsonArrayAsync, checked.
struct ParseArgs {
  Napi::Uint8Array body, out;
  std::size_t begin, end, count;
  JsonKind kind;
  int max_depth;
  const char* text() const { return reinterpret_cast<const char*>(body.Data()); }
};

ParseArgs ReadParseArgs(const Napi::CallbackInfo& info) {
  ParseArgs a;
  a.body = BytesArg(info, 0);
  a.begin = SizeArg(info, 1, a.body.ByteLength());
  a.end = SizeArg(info, 2, a.body.ByteLength());
  a.kind = KindArg(info, 3);
  a.out = BytesArg(info, 6);
  a.count = SizeArg(info, 4, a.out.ByteLength());
  if (!info[5].IsNumber()) throw Napi::TypeError::New(info.Env(), "maxDepth must be a number");
  a.max_depth = info[5].As<Napi::Number>().Int32Value();
  if (a.begin > a.end || a.count * JsonKindSize(a.kind) != a.out.ByteLength())
    throw Napi::RangeError::New(info.Env(), "the output does not hold count elements");
  return a;
}

// parseJsonArray(body, begin, end, datatype, count, maxDepth, out) -> whether `out` now holds
// the `count` elements of the array text body[begin, end); false leaves the decision to JS.
Napi::Value ParseJson(const Napi::CallbackInfo& info) {
  ParseArgs a = ReadParseArgs(info);
  return Napi::Boolean::New(
      info.Env(), ParseJsonArray(a.kind, a.text() + a.begin, a.text() + a.end, a.count, a.max_depth, a.out.Data()));
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

// The same two conversions on a libuv pool thread, so a large array never holds the event loop.
// The JS arrays are held by references until the promise settles; the caller keeps their memory
// valid (heap buffers it owns, not memory that another request may reuse meanwhile).
class ParseWorker : public Napi::AsyncWorker {
 public:
  ParseWorker(Napi::Env env, ParseArgs a)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        body_ref_(Napi::Persistent(a.body)),
        out_ref_(Napi::Persistent(a.out)),
        text_(a.text()),
        begin_(a.begin),
        end_(a.end),
        kind_(a.kind),
        count_(a.count),
        max_depth_(a.max_depth),
        out_(a.out.Data()) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { ok_ = ParseJsonArray(kind_, text_ + begin_, text_ + end_, count_, max_depth_, out_); }
  void OnOK() override { deferred_.Resolve(Napi::Boolean::New(Env(), ok_)); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::Reference<Napi::Uint8Array> body_ref_, out_ref_;
  const char* text_;
  std::size_t begin_, end_;
  JsonKind kind_;
  std::size_t count_;
  int max_depth_;
  std::uint8_t* out_;
  bool ok_ = false;
};

class FormatWorker : public Napi::AsyncWorker {
 public:
  FormatWorker(Napi::Env env, Napi::Uint8Array bytes, JsonKind kind)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        bytes_ref_(Napi::Persistent(bytes)),
        data_(bytes.Data()),
        count_(bytes.ByteLength() / JsonKindSize(kind)),
        kind_(kind) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override {
    if (!FormatJsonArray(kind_, data_, count_, &text_)) SetError("out of memory formatting JSON");
  }
  void OnOK() override { deferred_.Resolve(Napi::Buffer<char>::Copy(Env(), text_.data, text_.size)); }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::Reference<Napi::Uint8Array> bytes_ref_;
  const std::uint8_t* data_;
  std::size_t count_;
  JsonKind kind_;
  JsonText text_;
};

class ScanWorker : public Napi::AsyncWorker {
 public:
  ScanWorker(Napi::Env env, Napi::Uint8Array body, std::size_t end)
      : Napi::AsyncWorker(env),
        deferred_(Napi::Promise::Deferred::New(env)),
        body_ref_(Napi::Persistent(body)),
        text_(reinterpret_cast<const char*>(body.Data())),
        end_(end) {}
  Napi::Promise Promise() { return deferred_.Promise(); }
  void Execute() override { ok_ = ScanJsonInputData(text_, text_ + end_, &found_); }
  void OnOK() override {
    Napi::Env env = Env();
    if (!ok_) {
      deferred_.Resolve(env.Null());
      return;
    }
    Napi::Array result = Napi::Array::New(env, found_.size());
    for (std::size_t i = 0; i < found_.size(); ++i)
      result.Set(i, Napi::Number::New(env, static_cast<double>(found_[i])));
    deferred_.Resolve(result);
  }
  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  Napi::Reference<Napi::Uint8Array> body_ref_;
  const char* text_;
  std::size_t end_;
  std::vector<std::size_t> found_;
  bool ok_ = false;
};

// scanJsonInputDataAsync(body, end) -> Promise<number[] | null>
Napi::Value ScanJsonAsync(const Napi::CallbackInfo& info) {
  Napi::Uint8Array body = BytesArg(info, 0);
  const std::size_t end = SizeArg(info, 1, body.ByteLength());
  auto* worker = new ScanWorker(info.Env(), body, end);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

// parseJsonArrayAsync(...same arguments as parseJsonArray) -> Promise<boolean>
Napi::Value ParseJsonAsync(const Napi::CallbackInfo& info) {
  auto* worker = new ParseWorker(info.Env(), ReadParseArgs(info));
  Napi::Promise promise = worker->Promise();
  worker->Queue();  // the worker deletes itself once settled
  return promise;
}

// formatJsonArrayAsync(bytes, datatype) -> Promise<Buffer>
Napi::Value FormatJsonAsync(const Napi::CallbackInfo& info) {
  Napi::Uint8Array bytes = BytesArg(info, 0);
  const JsonKind kind = KindArg(info, 1);
  if (bytes.ByteLength() % JsonKindSize(kind) != 0)
    throw Napi::RangeError::New(info.Env(), "byte length is not whole elements");
  auto* worker = new FormatWorker(info.Env(), bytes, kind);
  Napi::Promise promise = worker->Promise();
  worker->Queue();
  return promise;
}

}  // namespace

void InitJsonNumbers(Napi::Env env, Napi::Object exports) {
  exports.Set("formatJsonArray", Napi::Function::New(env, FormatJson, "formatJsonArray"));
  exports.Set("parseJsonArray", Napi::Function::New(env, ParseJson, "parseJsonArray"));
  exports.Set("scanJsonInputData", Napi::Function::New(env, ScanJson, "scanJsonInputData"));
  exports.Set("parseJsonArrayAsync", Napi::Function::New(env, ParseJsonAsync, "parseJsonArrayAsync"));
  exports.Set("scanJsonInputDataAsync", Napi::Function::New(env, ScanJsonAsync, "scanJsonInputDataAsync"));
  exports.Set("formatJsonArrayAsync", Napi::Function::New(env, FormatJsonAsync, "formatJsonArrayAsync"));
}

}  // namespace tensorbind
