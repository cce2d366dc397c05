#include "client_region.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace tensorbind {

std::unique_ptr<ClientRegion> ClientRegion::Open(const std::string& name) {
  int fd = shm_open(name.c_str(), O_RDWR | O_CLOEXEC, 0);
  if (fd < 0) throw ShmError("shm_open", name, errno);
  struct stat st;
  if (fstat(fd, &st) != 0) {
    int err = errno;
    close(fd);
    throw ShmError("fstat", name, err);
  }
  // Only regular shared-memory objects: no devices, FIFOs or directories behind a name.
  if (!S_ISREG(st.st_mode) || st.st_size <= 0) {
    close(fd);
    throw ShmError("mmap", name, EINVAL);
  }
  auto length = static_cast<std::size_t>(st.st_size);
  void* addr = mmap(nullptr, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (addr == MAP_FAILED) {
    int err = errno;
    close(fd);
    throw ShmError("mmap", name, err);
  }
  return std::unique_ptr<ClientRegion>(new ClientRegion(fd, std::make_unique<Mapping>(addr, length)));
}

ClientRegion::~ClientRegion() { Close(); }

void ClientRegion::Close() {
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
}

long long ClientRegion::CurrentSize() const {
  if (fd_ < 0) return -1;
  struct stat st;
  if (fstat(fd_, &st) != 0) return -1;
  return static_cast<long long>(st.st_size);
}

}  // namespace tensorbind
