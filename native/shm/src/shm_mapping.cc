#include "shm_mapping.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace tensorbind {

namespace {

std::string ErrnoName(int err) {
  switch (err) {
    case ENOENT: return "ENOENT";
    case EEXIST: return "EEXIST";
    case EACCES: return "EACCES";
    case EINVAL: return "EINVAL";
    case ENOMEM: return "ENOMEM";
    case ENOSPC: return "ENOSPC";
    case EMFILE: return "EMFILE";
    case ENFILE: return "ENFILE";
    case ENAMETOOLONG: return "ENAMETOOLONG";
    default: return "E" + std::to_string(err);
  }
}

void* MapFd(int fd, std::size_t length, const std::string& name) {
  void* addr = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (addr == MAP_FAILED) throw ShmError("mmap", name, errno);
  return addr;
}

}  // namespace

void ReservePages(int fd, std::size_t length, const std::string& name) {
  // A tmpfs segment sized by ftruncate alone is sparse: the first write to a page that does not
  // fit raises SIGBUS. posix_fallocate takes the pages now, so a full tmpfs is ENOSPC here.
  int err;
  do {
    err = posix_fallocate(fd, 0, static_cast<off_t>(length));
  } while (err == EINTR);
  if (err == EOPNOTSUPP || err == ENOSYS) return;  // a filesystem without it: ftruncate only
  if (err != 0) throw ShmError("posix_fallocate", name, err);
}

ShmError::ShmError(const std::string& syscall, const std::string& name, int err)
    : std::runtime_error(syscall + " " + name + ": " + std::strerror(err)), code_(ErrnoName(err)) {}

Fd::~Fd() {
  if (fd_ >= 0) close(fd_);
}

void Mapping::Unmap() {
  if (addr_ != nullptr) {
    munmap(addr_, length_);
    addr_ = nullptr;
  }
}

std::string RandomSegmentName(const std::string& prefix) {
  unsigned char bytes[16];
  std::size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw ShmError("getrandom", "", errno);
    }
    got += static_cast<std::size_t>(n);
  }
  static const char kHex[] = "0123456789abcdef";
  std::string name = prefix;
  for (unsigned char b : bytes) {
    name.push_back(kHex[b >> 4]);
    name.push_back(kHex[b & 15]);
  }
  return name;
}

std::unique_ptr<Mapping> CreateSegment(std::size_t length, const std::string& prefix, std::string* name) {
  if (length == 0) throw ShmError("ftruncate", "(new segment)", EINVAL);
  *name = RandomSegmentName(prefix);
  Fd fd(shm_open(name->c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600));
  if (fd.get() < 0) throw ShmError("shm_open", *name, errno);
  try {
    if (ftruncate(fd.get(), static_cast<off_t>(length)) != 0) throw ShmError("ftruncate", *name, errno);
    ReservePages(fd.get(), length, *name);
    return std::make_unique<Mapping>(MapFd(fd.get(), length, *name), length);
  } catch (...) {
    shm_unlink(name->c_str());
    throw;
  }
}

std::unique_ptr<Mapping> OpenSegment(const std::string& name) {
  Fd fd(shm_open(name.c_str(), O_RDWR | O_CLOEXEC, 0));
  if (fd.get() < 0) throw ShmError("shm_open", name, errno);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) throw ShmError("fstat", name, errno);
  if (st.st_size <= 0) throw ShmError("mmap", name, EINVAL);
  auto length = static_cast<std::size_t>(st.st_size);
  return std::make_unique<Mapping>(MapFd(fd.get(), length, name), length);
}

bool UnlinkSegment(const std::string& name) {
  if (shm_unlink(name.c_str()) == 0) return true;
  if (errno == ENOENT) return false;
  throw ShmError("shm_unlink", name, errno);
}

}  // namespace tensorbind
