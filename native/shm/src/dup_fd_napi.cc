// dupFd(fd) -> a new descriptor for the same open socket (close-on-exec). The HTTP frontend reads
// a large request body through a socket of its own over this duplicate (libuv cannot watch one
// descriptor number with two handles), straight into the memory the model reads; closing the
// duplicate leaves the connection to node:http's socket.
#include "dup_fd_napi.h"

#include <fcntl.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace tensorbind {
namespace {

Napi::Value DupFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "dupFd(fd: number)");
  double fd = info[0].As<Napi::Number>().DoubleValue();
  if (!(fd >= 0) || fd != static_cast<double>(static_cast<int>(fd)))
    throw Napi::RangeError::New(env, "dupFd: fd must be a non-negative integer");
  int copy = fcntl(static_cast<int>(fd), F_DUPFD_CLOEXEC, 0);
  if (copy < 0) throw Napi::Error::New(env, std::string("dupFd: ") + std::strerror(errno));
  return Napi::Number::New(env, copy);
}

}  // namespace

void InitDupFd(Napi::Env env, Napi::Object exports) {
  exports.Set("dupFd", Napi::Function::New(env, DupFd, "dupFd"));
}

}  // namespace tensorbind
