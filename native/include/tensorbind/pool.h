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
#include <mutex>
#include <new>
#include <utility>

#include "tensor.h"

namespace tensorbind {

/**
 * Blocks of host memory in size classes (powers of two in quarter steps: at most 25% unused),
 * thread-safe: the instance's thread takes blocks, the JavaScript thread gives them back.
 *
 * A block stays mapped while any ArrayBuffer views it (`views`): an explicit release lets the
 * block be reused before JavaScript has collected the response's buffers, but its memory is
 * freed only once no buffer points at it. Free blocks beyond `cache_limit` bytes, and those idle
 * longer than trim()'s age, go back to the system.
 */
class BlockPool {
 public:
  using AllocFn = void* (*)(std::size_t bytes);
  using FreeFn = void (*)(void* p);

  struct Block {
    void* p;
    std::size_t cls;
    int views = 0;
    bool leased = true;
    std::chrono::steady_clock::time_point idle_since{};
  };

  struct Stats {
    std::size_t blocks = 0;  // all blocks the pool holds, leased or free
    std::size_t bytes = 0;   // their size
    std::size_t leased = 0;  // blocks lent to a call or a response not yet released
  };

  BlockPool(AllocFn alloc, FreeFn free, std::size_t cache_limit)
      : alloc_(alloc), free_(free), cache_limit_(cache_limit) {}
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
    --b->views;
    shrink_to(cache_limit_, std::chrono::steady_clock::time_point::max());
  }

  /// Frees the free blocks idle for `age` or longer (and no longer viewed).
  void trim(std::chrono::milliseconds age) {
    std::lock_guard<std::mutex> lock(mu_);
    shrink_to(0, std::chrono::steady_clock::now() - age);
  }

  Stats stats() {
    std::lock_guard<std::mutex> lock(mu_);
    return Stats{all_.size(), bytes_, all_.size() - free_list_.size()};
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
  /// Frees free, unviewed blocks idle since before `older_than`, oldest first, while more than
  /// `keep` bytes are cached (keep = 0 with an age: every such block). Holds mu_.
  void shrink_to(std::size_t keep, std::chrono::steady_clock::time_point older_than) {
    for (auto it = free_list_.end(); it != free_list_.begin() && cached_ > keep;) {
      --it;
      Block* b = *it;
      bool old = older_than == std::chrono::steady_clock::time_point::max() || b->idle_since <= older_than;
      if (b->views > 0 || !old) continue;
      it = free_list_.erase(it);
      cached_ -= b->cls;
      bytes_ -= b->cls;
      all_.remove(b);
      free_(b->p);
      delete b;
    }
  }

  std::mutex mu_;
  AllocFn alloc_;
  FreeFn free_;
  std::size_t cache_limit_;
  std::list<Block*> all_;
  std::list<Block*> free_list_;
  std::size_t cached_ = 0;  // bytes of free_list_
  std::size_t bytes_ = 0;   // bytes of all_
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

/**
 * The host allocator of a CPU instance: outputs of `min_bytes` and more come from a BlockPool
 * of 64-byte aligned host memory; smaller ones from the heap (malloc reuses those anyway).
 */
class PooledHostAllocator final : public HostAllocator {
 public:
  static constexpr std::size_t kMinPooled = std::size_t{64} << 10;
  static constexpr std::size_t kCacheLimit = std::size_t{512} << 20;

  explicit PooledHostAllocator(std::size_t cache_limit = kCacheLimit)
      : pool_(std::make_shared<BlockPool>(&alloc, &std::free, cache_limit)) {}

  std::unique_ptr<Storage> allocate(std::size_t bytes) override {
    if (bytes < kMinPooled) return std::make_unique<HostStorage>(bytes);
    BlockPool::Block* b = pool_->take(bytes);
    if (b == nullptr) throw std::bad_alloc();
    return std::make_unique<PooledStorage>(pool_, b, bytes);
  }
  std::shared_ptr<BlockPool> pool() noexcept override { return pool_; }

 private:
  static void* alloc(std::size_t bytes) { return std::aligned_alloc(64, bytes); }
  std::shared_ptr<BlockPool> pool_;
};

}  // namespace tensorbind
