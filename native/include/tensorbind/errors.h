// tensorbind native model API: errors. Anything a model function throws fails that request
// only: a tensorbind::InvalidArgument becomes 400 / INVALID_ARGUMENT (the client sent something
// the model cannot use), any other exception 500 / INTERNAL, both with the exception's message.
#pragma once

#include <stdexcept>
#include <string>

namespace tensorbind {

/// How an error reaches the client. The values are part of the addon contract.
enum class ErrorKind : int {
  Internal = 0,         // 500 / INTERNAL
  InvalidArgument = 1,  // 400 / INVALID_ARGUMENT
  Unavailable = 2,      // 503 / UNAVAILABLE (e.g. the GPU is out of memory right now)
};

/// Base of the errors a model may throw to choose the status; `what()` is the client's message.
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message, ErrorKind kind = ErrorKind::Internal)
      : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const noexcept { return kind_; }

 private:
  ErrorKind kind_;
};

/// The request is wrong for this model (mismatched lengths, out-of-range values): 400.
class InvalidArgument : public Error {
 public:
  explicit InvalidArgument(const std::string& message) : Error(message, ErrorKind::InvalidArgument) {}
};

/// The model cannot serve this request now but may later (device memory exhausted): 503.
class Unavailable : public Error {
 public:
  explicit Unavailable(const std::string& message) : Error(message, ErrorKind::Unavailable) {}
};

}  // namespace tensorbind
