// Node-API boundary of SocketReader (socket_reader.h). One reader, with its thread, per
// JavaScript environment (the main thread and each frontend thread), made by
// socketReaderInit(onDone); every finished read calls onDone(id, error | null, bytes) on that
// environment's thread. The JavaScript side keeps each read's memory alive until then.
#include "socket_reader_napi.h"

#include <cstring>
#include <memory>
#include <system_error>

#include "socket_reader.h"

namespace tensorbind {
namespace {

struct Completion {
  std::uint32_t id;
  SocketReader::Outcome outcome;
  int error;
  std::size_t bytes;
};

struct ReaderContext {
  Napi::ThreadSafeFunction on_done;
  std::unique_ptr<SocketReader> reader;
};

void Deliver(Napi::Env env, Napi::Function on_done, Completion* raw) {
  std::unique_ptr<Completion> c(raw);
  if (env == nullptr) return;  // the environment is going away
  Napi::Value error = env.Null();
  if (c->outcome == SocketReader::Outcome::kEndOfStream) {
    error = Napi::String::New(env, "the client closed the connection before sending the whole body");
  } else if (c->outcome == SocketReader::Outcome::kError) {
    error = Napi::String::New(env, std::string("reading the request body failed: ") + std::strerror(c->error));
  }
  on_done.Call({Napi::Number::New(env, c->id), error, Napi::Number::New(env, static_cast<double>(c->bytes))});
}

ReaderContext* ContextOf(Napi::Env env) {
  auto* ctx = env.GetInstanceData<ReaderContext>();
  if (ctx == nullptr || !ctx->reader) throw Napi::Error::New(env, "socketReaderInit(onDone) was not called");
  return ctx;
}

// socketReaderInit(onDone) -> undefined; once per environment (later calls are ignored)
Napi::Value Init(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsFunction()) throw Napi::TypeError::New(env, "socketReaderInit(onDone)");
  if (env.GetInstanceData<ReaderContext>() != nullptr) return env.Undefined();
  auto* ctx = new ReaderContext();
  ctx->on_done = Napi::ThreadSafeFunction::New(env, info[0].As<Napi::Function>(), "tensorbind-socket-read", 0, 1);
  ctx->on_done.Unref(env);  // open sockets keep the loop alive, not the reader
  Napi::ThreadSafeFunction tsfn = ctx->on_done;
  ctx->reader = std::make_unique<SocketReader>(
      [tsfn](std::uint32_t id, SocketReader::Outcome outcome, int error, std::size_t bytes) mutable {
        tsfn.NonBlockingCall(new Completion{id, outcome, error, bytes}, Deliver);
      });
  env.SetInstanceData(ctx);  // deleted when the environment is
  // Registered after the thread-safe function, so it runs before the function's own teardown:
  // the thread stops before anything it calls goes away.
  env.AddCleanupHook([ctx] { ctx->reader->Stop(); });
  return env.Undefined();
}

// socketRead(fd, view, offset, length) -> id: reads `length` bytes into view[offset...]
Napi::Value Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsNumber() || !info[1].IsTypedArray() || !info[2].IsNumber() ||
      !info[3].IsNumber())
    throw Napi::TypeError::New(env, "socketRead(fd, view, offset, length)");
  auto view = info[1].As<Napi::TypedArray>();
  double fd = info[0].As<Napi::Number>().DoubleValue();
  double offset = info[2].As<Napi::Number>().DoubleValue();
  double length = info[3].As<Napi::Number>().DoubleValue();
  double size = static_cast<double>(view.ByteLength());
  if (!(fd >= 0) || fd != static_cast<double>(static_cast<int>(fd)) || !(offset >= 0) || !(length >= 1) ||
      offset != static_cast<double>(static_cast<std::size_t>(offset)) ||
      length != static_cast<double>(static_cast<std::size_t>(length)) || offset + length > size)
    throw Napi::RangeError::New(env, "socketRead: fd, offset and length must fit the view");
  auto* base = static_cast<std::uint8_t*>(view.ArrayBuffer().Data()) + view.ByteOffset();
  try {
    std::uint32_t id = ContextOf(env)->reader->Start(
        static_cast<int>(fd), base + static_cast<std::size_t>(offset), static_cast<std::size_t>(length));
    return Napi::Number::New(env, id);
  } catch (const std::system_error& e) {
    throw Napi::Error::New(env, std::string("socketRead: ") + e.what());
  }
}

// socketReadCancel(id) -> whether the read was still going; after it returns, its memory is free
Napi::Value Cancel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "socketReadCancel(id)");
  auto id = static_cast<std::uint32_t>(info[0].As<Napi::Number>().Uint32Value());
  return Napi::Boolean::New(env, ContextOf(env)->reader->Cancel(id));
}

}  // namespace

void InitSocketReader(Napi::Env env, Napi::Object exports) {
  exports.Set("socketReaderInit", Napi::Function::New(env, Init, "socketReaderInit"));
  exports.Set("socketRead", Napi::Function::New(env, Read, "socketRead"));
  exports.Set("socketReadCancel", Napi::Function::New(env, Cancel, "socketReadCancel"));
}

}  // namespace tensorbind
