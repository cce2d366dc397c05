// Reads an exact number of bytes from sockets into memory the caller owns, on one background
// thread per reader: a large HTTP request body lands where the model reads it, with no
// user-space buffer in between (node:http would copy every 64 KiB read twice).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <unordered_map>

namespace tensorbind {

class SocketReader {
 public:
  // How a read ended: all bytes in, the peer closed first, or a socket error (errno in `error`).
  enum class Outcome { kComplete, kEndOfStream, kError };
  using Done = std::function<void(std::uint32_t id, Outcome outcome, int error, std::size_t bytes)>;

  // `done` runs on the reader's thread, once per read that was not cancelled.
  explicit SocketReader(Done done);
  ~SocketReader();  // Stop()
  SocketReader(const SocketReader&) = delete;
  SocketReader& operator=(const SocketReader&) = delete;

  // Reads `length` bytes from a duplicate of `fd` (the caller may close its own at any time)
  // into dst; returns the read's id. Throws std::system_error when the fd cannot be watched.
  std::uint32_t Start(int fd, std::uint8_t* dst, std::size_t length);

  // After Cancel returns, nothing more is written to the read's memory and `done` is not called
  // for it. False when the read already ended (its `done` has run or is about to).
  bool Cancel(std::uint32_t id);

  // Ends the thread and closes every duplicate fd; reads in progress are dropped silently.
  void Stop();

 private:
  struct Job {
    int fd;
    std::uint8_t* dst;
    std::size_t length;
    std::size_t done;
  };
  void Run();
  void Drop(std::uint32_t id);  // mutex held

  Done done_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::mutex mutex_;  // held while a job's bytes are read, so Cancel waits out a batch in progress
  std::unordered_map<std::uint32_t, Job> jobs_;
  std::uint32_t next_id_ = 1;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace tensorbind
