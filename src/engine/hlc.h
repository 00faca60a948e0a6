// File: engine/hlc.h
//
// HybridLogicalClock: the CAS generator of a vbucket. A CAS is nanoseconds since the Unix epoch
// with the low 16 bits used as a logical counter, and strictly increases even if the wall clock
// steps back: cas = max(now & ~0xffff, last + 1). Warmup seeds it with the vbucket's persisted
// max CAS so CAS values never repeat across restarts.
//
// Ownership: one per VBucket, owned by it. Thread safety: thread-safe (lock-free).
#pragma once

#include <atomic>
#include <cstdint>

#include "common/clock.h"

namespace sluice::engine {

class HybridLogicalClock {
 public:
  explicit HybridLogicalClock(const Clock* clock, uint64_t max_cas = 0)
      : clock_(clock), max_cas_(max_cas) {}

  uint64_t NextCas() {
    const uint64_t physical = clock_->WallNanos() & ~uint64_t{0xffff};
    uint64_t last = max_cas_.load(std::memory_order_relaxed);
    uint64_t next;
    do {
      next = physical > last ? physical : last + 1;
    } while (!max_cas_.compare_exchange_weak(last, next, std::memory_order_relaxed));
    return next;
  }

  // Raises the clock to at least `cas` (a CAS learned from disk or a peer).
  void ForceAtLeast(uint64_t cas) {
    uint64_t last = max_cas_.load(std::memory_order_relaxed);
    while (cas > last && !max_cas_.compare_exchange_weak(last, cas, std::memory_order_relaxed)) {
    }
  }

  uint64_t max_cas() const { return max_cas_.load(std::memory_order_relaxed); }

  // kv_engine's peekHLC: the wall clock if it is ahead of every CAS handed out ("real"), else
  // the last CAS ("logical"); in nanoseconds, without advancing the clock.
  uint64_t Peek(bool* real) const {
    const uint64_t physical = clock_->WallNanos() & ~uint64_t{0xffff};
    const uint64_t last = max_cas_.load(std::memory_order_relaxed);
    *real = physical > last;
    return *real ? physical : last;
  }

 private:
  const Clock* const clock_;
  std::atomic<uint64_t> max_cas_;
};

}  // namespace sluice::engine
