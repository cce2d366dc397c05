// tensorbind native model API: the output memory pool. Large outputs come from blocks that are
// reused from call to call (no fresh pages, no page faults, no zeroing by the kernel per
// request). A block goes back when the server has written the response (an explicit release
// from JavaScript) or, failing that, when JavaScript collects the ArrayBuffer over it. No Node-API.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <list>
#include <memory>
#include <cstdint>
#include <mutex>
#include <new>
#include <unordered_map>
#include <utility>

#include "tensor.h"

#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace tensorbind {

/**
 * Blocks of host memory in size classes (powers of two in quarter steps: at most 25% unused),
 * thread-safe: the instance's thread takes blocks, the JavaScript thread gives them back.
 *
 * A block stays mapped while any ArrayBuffer views it (`views`): an explicit release lets the
 * block be reused before JavaScript has collected the response's buffers, but its memory is
 * freed only once no buffer points at it. Free blocks beyond `cache_limit` bytes, and those idle
 * longer than trim()'s age, go back to the system: freed when nothing views them, else retired —
 * never lent again, their pages handed back at once by `discard` (a stale view then reads
 * zeros, never freed memory) and the block freed when its last view is collected. Without a
 * `discard` (pinned memory) a viewed block waits for its views.
 */
class BlockPool {
 public:
  using AllocFn = void* (*)(std::size_t bytes);
  using FreeFn = void (*)(void* p);
  using DiscardFn = void (*)(void* p, std::size_t bytes);

  struct Block {
    void* p;
    std::size_t cls;
    int views = 0;
    bool leased = true;
    bool retired = false;
    std::chrono::steady_clock::time_point idle_since{};
  };

  struct Stats {
    std::size_t blocks = 0;  // blocks the pool holds, leased or free (not the retired ones)
    std::size_t bytes = 0;   // their size
    std::size_t leased = 0;  // blocks lent to a call or a response not yet released
  };

  BlockPool(AllocFn alloc, FreeFn free, std::size_t cache_limit, DiscardFn discard = nullptr)
      : alloc_(alloc), free_(free), discard_(discard), cache_limit_(cache_limit) {}
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;
  ~BlockPool() {
    for (Block* b : all_) {
      free_(b->p);
      delete b;
    }
  }

  /// A free block of `bytes`' size class, or a new one; nullptr when the allocation fails.
  Block* take(std::size_t bytes) {
    std::size_t cls = size_class(bytes);
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto it = free_list_.begin(); it != free_list_.end(); ++it) {
        if ((*it)->cls != cls) continue;
        Block* b = *it;
        free_list_.erase(it);
        cached_ -= cls;
        b->leased = true;
        return b;
      }
    }
    void* p = alloc_(cls);
    if (p == nullptr) return nullptr;
    auto* b = new Block{p, cls};
    std::lock_guard<std::mutex> lock(mu_);
    all_.push_back(b);
    bytes_ += cls;
    return b;
  }

  /// The lease of `b` is over: its memory may serve the next call.
  void give(Block* b) {
    std::lock_guard<std::mutex> lock(mu_);
    if (!b->leased) return;
    b->leased = false;
    b->idle_since = std::chrono::steady_clock::now();
    free_list_.push_front(b);  // most recent first: its pages are the warmest
    cached_ += b->cls;
    shrink_to(cache_limit_, std::chrono::steady_clock::time_point::max());
  }

  void add_view(Block* b) {
    std::lock_guard<std::mutex> lock(mu_);
    ++b->views;
  }
  void drop_view(Block* b) {
    std::lock_guard<std::mutex> lock(mu_);
    if (--b->views == 0 && b->retired) {
      --retired_;
      all_.remove(b);
      free_(b->p);
      delete b;
      return;
    }
    shrink_to(cache_limit_, std::chrono::steady_clock::time_point::max());
  }

  /// Frees the free blocks idle for `age` or longer (and no longer viewed).
  void trim(std::chrono::milliseconds age) {
    std::lock_guard<std::mutex> lock(mu_);
    shrink_to(0, std::chrono::steady_clock::now() - age);
  }

  Stats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    std::size_t blocks = all_.size() - retired_;
    return Stats{blocks, bytes_, blocks - free_list_.size()};
  }

  /// Sizes grow in quarter steps of a power of two, from 64 bytes.
  static std::size_t size_class(std::size_t bytes) {
    if (bytes <= 64) return 64;
    std::size_t top = std::size_t{1};
    while (top < bytes) top <<= 1;  // bytes in (top/2, top]
    std::size_t step = top / 8;     // quarters of top/2
    return (bytes + step - 1) / step * step;
  }

 private:
  /// Gives back free blocks idle since before `older_than`, oldest first, while more than `keep`
  /// bytes are cached (keep = 0 with an age: every such block): freed, or retired while viewed.
  /// Holds mu_.
  void shrink_to(std::size_t keep, std::chrono::steady_clock::time_point older_than) {
    for (auto it = free_list_.end(); it != free_list_.begin() && cached_ > keep;) {
      --it;
      Block* b = *it;
      bool old = older_than == std::chrono::steady_clock::time_point::max() || b->idle_since <= older_than;
      if (!old || (b->views > 0 && discard_ == nullptr)) continue;
      it = free_list_.erase(it);
      cached_ -= b->cls;
      bytes_ -= b->cls;
      if (b->views > 0) {  // a collected-later buffer still points here: keep the mapping
        discard_(b->p, b->cls);
        b->retired = true;
        ++retired_;
        continue;
      }
      all_.remove(b);
      free_(b->p);
      delete b;
    }
  }

  std::mutex mu_;
  AllocFn alloc_;
  FreeFn free_;
  DiscardFn discard_;
  std::size_t cache_limit_;
  std::list<Block*> all_;
  std::list<Block*> free_list_;
  std::size_t cached_ = 0;  // bytes of free_list_
  std::size_t bytes_ = 0;   // bytes of all_ but the retired blocks
  std::size_t retired_ = 0;
};

/// An output's memory lent by a BlockPool; destroying it ends the lease.
class PooledStorage final : public Storage {
 public:
  PooledStorage(std::shared_ptr<BlockPool> pool, BlockPool::Block* block, std::size_t bytes)
      : pool_(std::move(pool)), block_(block), bytes_(bytes) {}
  ~PooledStorage() override { pool_->give(block_); }
  std::byte* data() noexcept override { return static_cast<std::byte*>(block_->p); }
  std::size_t size() const noexcept override { return bytes_; }
  PooledStorage* pooled() noexcept override { return this; }
  const std::shared_ptr<BlockPool>& pool() const noexcept { return pool_; }
  BlockPool::Block* block() const noexcept { return block_; }

 private:
  std::shared_ptr<BlockPool> pool_;
  BlockPool::Block* block_;
  std::size_t bytes_;
};

namespace detail {

/**
 * Outputs lent from a BlockPool that JavaScript still holds, by token: release(tokens) ends a
 * lease once the response is written; the ArrayBuffer's finalizer ends it otherwise. Shared by
 * the instance and the finalizers, which may outlive it.
 */
struct Leases {
  std::mutex mu;
  std::uint64_t next = 0;
  std::unordered_map<std::uint64_t, std::unique_ptr<Storage>> held;

  std::uint64_t add(std::unique_ptr<Storage> s) {
    std::lock_guard<std::mutex> lock(mu);
    held.emplace(++next, std::move(s));
    return next;
  }
  void end(std::uint64_t token) {
    std::unique_ptr<Storage> s;  // destroyed outside the lock: it gives its block back
    std::lock_guard<std::mutex> lock(mu);
    auto it = held.find(token);
    if (it == held.end()) return;
    s = std::move(it->second);
    held.erase(it);
  }
};

/// What the finalizer of an ArrayBuffer over a pooled block needs.
struct PooledView {
  std::shared_ptr<Leases> leases;
  std::shared_ptr<BlockPool> pool;
  BlockPool::Block* block;
  std::uint64_t token;
};

}  // namespace detail

/**
 * The host allocator of a CPU instance: outputs of `kMinPooled` bytes and more come from a BlockPool
 * of 64-byte aligned host memory; smaller ones from the heap (malloc reuses those anyway).
 */
class PooledHostAllocator final : public HostAllocator {
 public:
  static constexpr std::size_t kMinPooled = std::size_t{64} << 10;
  static constexpr std::size_t kCacheLimit = std::size_t{512} << 20;

  explicit PooledHostAllocator(std::size_t cache_limit = kCacheLimit)
      : pool_(std::make_shared<BlockPool>(&alloc, &std::free, cache_limit, &discard)) {}

  std::unique_ptr<Storage> allocate(std::size_t bytes) override {
    if (bytes < kMinPooled) return std::make_unique<HostStorage>(bytes);
    BlockPool::Block* b = pool_->take(bytes);
    if (b == nullptr) throw std::bad_alloc();
    return std::make_unique<PooledStorage>(pool_, b, bytes);
  }
  std::shared_ptr<BlockPool> pool() noexcept override { return pool_; }

 private:
  /// Page-aligned (sizes of 64 KiB and more are whole pages): a retired block discards entirely.
  static void* alloc(std::size_t bytes) { return std::aligned_alloc(4096, bytes); }
  /// The whole pages inside a block go back to the system; the block stays allocated (a read
  /// gets zero pages).
  static void discard(void* p, std::size_t bytes) {
#if defined(__unix__) || defined(__APPLE__)
    const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
    const auto a = reinterpret_cast<std::uintptr_t>(p);
    const std::uintptr_t start = (a + page - 1) / page * page;
    const std::uintptr_t end = (a + bytes) / page * page;
    if (end > start) madvise(reinterpret_cast<void*>(start), end - start, MADV_DONTNEED);
#else
    (void)p;
    (void)bytes;
#endif
  }
  std::shared_ptr<BlockPool> pool_;
};

}  // namespace tensorbind
