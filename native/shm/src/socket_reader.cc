#include "socket_reader.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

namespace tensorbind {
namespace {

// Bytes read for one job per wake-up: bounds how long Cancel (on the JavaScript thread) can wait.
constexpr std::size_t kBatchBytes = 4 << 20;
constexpr std::uint64_t kWakeKey = 0;

}  // namespace

SocketReader::SocketReader(Done done) : done_(std::move(done)) {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) {
    int e = errno;
    close(epoll_fd_);
    throw std::system_error(e, std::generic_category(), "eventfd");
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = kWakeKey;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &ev);
  thread_ = std::thread([this] { Run(); });
}

SocketReader::~SocketReader() { Stop(); }

void SocketReader::Stop() {
  if (stopping_.exchange(true)) return;
  std::uint64_t one = 1;
  ssize_t ignored = write(wake_fd_, &one, sizeof one);
  (void)ignored;
  if (thread_.joinable()) thread_.join();
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& entry : jobs_) close(entry.second.fd);
  jobs_.clear();
  close(wake_fd_);
  close(epoll_fd_);
}

std::uint32_t SocketReader::Start(int fd, std::uint8_t* dst, std::size_t length) {
  int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (own < 0) throw std::system_error(errno, std::generic_category(), "dup");
  std::lock_guard<std::mutex> lock(mutex_);
  std::uint32_t id = next_id_++;
  if (next_id_ == 0) next_id_ = 1;  // 0 is the wake-up key
  jobs_[id] = Job{own, dst, length, 0};
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;  // level-triggered: bytes already queued wake the thread at once
  ev.data.u64 = id;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, own, &ev) != 0) {
    int e = errno;
    jobs_.erase(id);
    close(own);
    throw std::system_error(e, std::generic_category(), "epoll_ctl");
  }
  return id;
}

bool SocketReader::Cancel(std::uint32_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (jobs_.find(id) == jobs_.end()) return false;
  Drop(id);
  return true;
}

void SocketReader::Drop(std::uint32_t id) {
  auto it = jobs_.find(id);
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, it->second.fd, nullptr);
  close(it->second.fd);
  jobs_.erase(it);
}

void SocketReader::Run() {
  epoll_event events[32];
  while (!stopping_.load()) {
    int n = epoll_wait(epoll_fd_, events, 32, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    for (int i = 0; i < n && !stopping_.load(); ++i) {
      std::uint64_t key = events[i].data.u64;
      if (key == kWakeKey) continue;
      auto id = static_cast<std::uint32_t>(key);
      std::unique_lock<std::mutex> lock(mutex_);
      auto it = jobs_.find(id);
      if (it == jobs_.end()) continue;  // cancelled since epoll_wait returned
      Job& job = it->second;
      Outcome outcome = Outcome::kComplete;
      int error = 0;
      bool ended = false;
      std::size_t budget = kBatchBytes;
      while (job.done < job.length && budget > 0) {
        ssize_t got = recv(job.fd, job.dst + job.done, std::min(job.length - job.done, budget), MSG_DONTWAIT);
        if (got > 0) {
          job.done += static_cast<std::size_t>(got);
          budget -= std::min(budget, static_cast<std::size_t>(got));
        } else if (got == 0) {
          outcome = Outcome::kEndOfStream;
          ended = true;
          break;
        } else if (errno == EINTR) {
          continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
          break;
        } else {
          outcome = Outcome::kError;
          error = errno;
          ended = true;
          break;
        }
      }
      if (job.done == job.length) ended = true;
      if (!ended) continue;
      std::size_t bytes = job.done;
      Drop(id);
      lock.unlock();
      done_(id, outcome, error, bytes);
    }
  }
}

}  // namespace tensorbind
