// Clients' shared-memory regions (the system shared-memory protocol extension). Unlike the
// server's own arenas, a client's segment can shrink under the mapping (ftruncate), and touching
// a mapped page past the end would raise SIGBUS; so the descriptor stays open and every request
// checks the segment's current size first.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "shm_mapping.h"

namespace tensorbind {

class ClientRegion {
 public:
  // Opens `name` read-write and maps all of it.
  static std::unique_ptr<ClientRegion> Open(const std::string& name);
  ~ClientRegion();
  ClientRegion(const ClientRegion&) = delete;
  ClientRegion& operator=(const ClientRegion&) = delete;

  // Takes the mapping out (the JS ArrayBuffer's finalizer owns it from then on).
  std::unique_ptr<Mapping> TakeMapping() { return std::move(mapping_); }
  // The segment's size now (fstat of the open descriptor); -1 once closed.
  long long CurrentSize() const;
  void Close();
  int fd() const { return fd_; }

 private:
  ClientRegion(int fd, std::unique_ptr<Mapping> mapping) : fd_(fd), mapping_(std::move(mapping)) {}
  int fd_;
  std::unique_ptr<Mapping> mapping_;
};

}  // namespace tensorbind
