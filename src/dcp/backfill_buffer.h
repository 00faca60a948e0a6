// File: dcp/backfill_buffer.h
//
// BackfillBuffer: one DCP connection's backfill buffer (kv_engine's BackfillManager::buffer):
// bytes its backfills read from disk and queued in its streams but the producer has not sent yet.
// It bounds how much a connection whose consumer is slow can pull off disk into memory.
//
//   Read(n)  a backfill queued n bytes in a stream (a batch of documents: backfill_batch.h). The
//   bytes are added first; the read reports
//            "full" once bytes_read >= max, and the backfill yields after this item (so an item
//            larger than the whole buffer still makes progress, alone). kv_engine HEAD, MB-53806.
//   Sent(n)  the producer sent (or a stream discarded) n bytes. Once the buffer has drained below
//            max * (1 - drain_ratio), or is empty, "full" clears and Sent returns true: the
//            caller wakes the connection's backfill task, which parked while full.
//
// Ownership: a member of the BackfillManager. Thread safety: thread-safe. Read() is called by a
// backfill under its stream's lock, so the stream's buffered-bytes count and this one move
// together; Sent() from the producer's connection thread or wherever a stream ends. Its lock is a
// leaf of rank kDcpLeaf (common/lock_rank.h): nothing is called under it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/mutex.h"

namespace sluice::dcp {

class BackfillBuffer {
 public:
  BackfillBuffer(size_t max_bytes, double drain_ratio)
      : max_bytes_(max_bytes), drain_ratio_(drain_ratio) {}
  BackfillBuffer(const BackfillBuffer&) = delete;
  BackfillBuffer& operator=(const BackfillBuffer&) = delete;

  // Returns false when the buffer is full after adding `bytes` (the caller yields).
  bool Read(size_t bytes) {
    MutexLock lock(&mu_);
    bytes_read_ += bytes;
    if (bytes_read_ >= max_bytes_) {
      if (!full_) ++pauses_;
      full_ = true;
      return false;
    }
    return true;
  }

  // Returns true if this cleared "full" (wake the backfill task).
  bool Sent(size_t bytes) {
    MutexLock lock(&mu_);
    // More than was read cannot happen (a stream returns only what it charged); clamp anyway.
    bytes_read_ -= bytes > bytes_read_ ? bytes_read_ : bytes;
    const bool drained =
        bytes_read_ == 0 ||
        static_cast<double>(bytes_read_) < static_cast<double>(max_bytes_) * (1.0 - drain_ratio_);
    if (full_ && drained) {
      full_ = false;
      return true;
    }
    return false;
  }

  bool full() const {
    MutexLock lock(&mu_);
    return full_;
  }
  // Bytes that can still be read before the buffer is full (0 when full). A backfill caps its
  // batch at this, so the buffer fills at the same document as if they were charged one by one.
  size_t room() const {
    MutexLock lock(&mu_);
    return bytes_read_ >= max_bytes_ ? 0 : max_bytes_ - bytes_read_;
  }
  size_t bytes_read() const {
    MutexLock lock(&mu_);
    return bytes_read_;
  }
  size_t max_bytes() const { return max_bytes_; }
  // Times the buffer became full (each pauses the connection's backfills).
  uint64_t pauses() const {
    MutexLock lock(&mu_);
    return pauses_;
  }

 private:
  // ---- constant after construction ----
  const size_t max_bytes_;
  const double drain_ratio_;

  // ---- protected by mu_ ----
  mutable Mutex mu_{LockRank::kDcpLeaf};
  size_t bytes_read_ GUARDED_BY(mu_) = 0;
  bool full_ GUARDED_BY(mu_) = false;
  uint64_t pauses_ GUARDED_BY(mu_) = 0;
};

}  // namespace sluice::dcp
