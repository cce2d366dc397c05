// POSIX shared-memory segments as RAII objects. No Node-API here: addon.cc is the boundary.
#pragma once

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <string>

namespace tensorbind {

// An error carrying an errno-style code ("ENOENT"), like Node's own system errors.
class ShmError : public std::runtime_error {
 public:
  ShmError(const std::string& syscall, const std::string& name, int err);
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

// Closes a file descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd();
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// One mmap'ed view of a segment; unmapped by the destructor unless unmapped earlier.
class Mapping {
 public:
  Mapping(void* addr, std::size_t length) : addr_(addr), length_(length) {}
  ~Mapping() { Unmap(); }
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;

  void* addr() const { return addr_; }
  std::size_t length() const { return length_; }
  bool mapped() const { return addr_ != nullptr; }
  void Unmap();

 private:
  void* addr_;
  std::size_t length_;
};

// `prefix` followed by 32 hex digits from the kernel's CSPRNG: unguessable by other users.
std::string RandomSegmentName(const std::string& prefix);

// Takes the segment's pages now (posix_fallocate): ENOSPC instead of a later SIGBUS.
void ReservePages(int fd, std::size_t length, const std::string& name);

// Creates a new segment (O_EXCL, mode 0600) named `prefix` + random hex, of `length` bytes with
// its pages reserved, and maps it read-write. Returns the mapping; `name` receives the name.
std::unique_ptr<Mapping> CreateSegment(std::size_t length, const std::string& prefix, std::string* name);

// Maps an existing segment read-write; its length is the segment's size.
std::unique_ptr<Mapping> OpenSegment(const std::string& name);

// Removes the name; returns false when it was already gone.
bool UnlinkSegment(const std::string& name);

}  // namespace tensorbind
