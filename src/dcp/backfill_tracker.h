// File: dcp/backfill_tracker.h
//
// BackfillTracker: the bucket-wide admission counter of DCP disk backfills
// (ep_dcp_num_running_backfills / ep_dcp_max_running_backfills), and BackfillToken, one unit of it.
//
// The count changes in exactly one place: a BackfillToken is the only way to raise it (TryAcquire
// hands one out) and its destructor is the only way to lower it. A Backfill owns its token, so
// every path that destroys an admitted Backfill - finish, failure, cancel, stream end, manager
// destruction, producer destruction on any thread - returns the unit. Pending backfills hold no
// token (src/dcp/README.md: "the running-backfill count changes in exactly one class").
//
// Waiting for capacity. A BackfillManager whose admission fails passes its task as `waiter`; the
// tracker keeps it (weakly) and wakes every waiter each time a token is released, so pending
// backfills of other connections are admitted as soon as capacity frees up, with no polling. A
// woken manager that loses the race registers again. Waking all (not one) keeps this simple and
// robust: a woken task whose connection is gone cancels itself without taking the free unit,
// which with wake-one would strand the other waiters.
//
// The tracker also counts scans: snapshots open now and ever opened (ConnMap::Shutdown must not
// let the bucket close its store while a snapshot is open), and scans started - a backfill's
// first read of its snapshot, counted only after its last cancel check - which the lifetime tests
// assert never happens for a dead connection.
//
// Ownership: shared. ConnMap creates it; every BackfillManager, Backfill and BackfillToken holds a
// shared_ptr, because a token may be released after its ConnMap is gone (a backfill finishing on
// an auxio thread after shutdown gave up waiting). Waiters are held weakly: the tracker must not
// keep a cancelled task (or what it references) alive.
//
// Thread safety: thread-safe. Its lock is a leaf of rank kDcpLeaf (common/lock_rank.h): a
// BackfillManager asks for a unit under its own lock, and the tracker never calls out under its
// lock (waiters are woken after it is released).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/mutex.h"
#include "executor/task.h"

namespace sluice::dcp {

class BackfillTracker;

// One admitted backfill: holds one unit of the tracker's running count until destroyed.
// Move-only. A moved-from token holds nothing.
class BackfillToken {
 public:
  BackfillToken() = default;
  ~BackfillToken() { Reset(); }
  BackfillToken(BackfillToken&& other) noexcept : tracker_(std::move(other.tracker_)) {}
  BackfillToken& operator=(BackfillToken&& other) noexcept {
    if (this != &other) {
      Reset();
      tracker_ = std::move(other.tracker_);
    }
    return *this;
  }
  BackfillToken(const BackfillToken&) = delete;
  BackfillToken& operator=(const BackfillToken&) = delete;

  bool valid() const { return tracker_ != nullptr; }
  // Returns the unit now (the destructor does nothing more).
  inline void Reset();

 private:
  friend class BackfillTracker;
  explicit BackfillToken(std::shared_ptr<BackfillTracker> tracker) : tracker_(std::move(tracker)) {}

  std::shared_ptr<BackfillTracker> tracker_;
};

class BackfillTracker : public std::enable_shared_from_this<BackfillTracker> {
 public:
  static std::shared_ptr<BackfillTracker> Create(size_t max_running) {
    return std::shared_ptr<BackfillTracker>(new BackfillTracker(max_running));
  }
  BackfillTracker(const BackfillTracker&) = delete;
  BackfillTracker& operator=(const BackfillTracker&) = delete;

  // A token if fewer than max_running are held; otherwise nullopt, and `waiter` (if not null) is
  // woken at the next release. The caller holds a reference to `waiter` (so it is not destroyed
  // under our lock); we keep only a weak one.
  std::optional<BackfillToken> TryAcquire(const std::shared_ptr<executor::Task>& waiter) {
    MutexLock lock(&mu_);
    if (running_ < max_running_) {
      ++running_;
      running_gauge_.store(running_, std::memory_order_relaxed);
      return BackfillToken(shared_from_this());
    }
    if (waiter != nullptr) waiters_[waiter->id()] = waiter;
    return std::nullopt;
  }

  size_t num_running() const { return running_gauge_.load(std::memory_order_relaxed); }
  size_t max_running() const {
    MutexLock lock(&mu_);
    return max_running_;
  }

  // ---- scans (Backfill reports its RocksDB snapshots and scans here) ----
  // A snapshot was opened (ScanClosed when it is closed).
  void ScanOpened() {
    snapshots_opened_.fetch_add(1, std::memory_order_relaxed);
    MutexLock lock(&mu_);
    ++open_scans_;
  }
  // A backfill read its snapshot for the first time.
  void ScanStarted() { scans_started_.fetch_add(1, std::memory_order_relaxed); }
  void ScanClosed() {
    MutexLock lock(&mu_);
    --open_scans_;
    if (open_scans_ == 0 && running_ == 0) idle_.SignalAll();
  }
  size_t open_scans() const {
    MutexLock lock(&mu_);
    return open_scans_;
  }
  // Since creation (never decrease): snapshots opened, and scans that started reading.
  uint64_t snapshots_opened() const { return snapshots_opened_.load(std::memory_order_relaxed); }
  uint64_t scans_started() const { return scans_started_.load(std::memory_order_relaxed); }

  // Blocks until no token and no scan is held, or `timeout` passed (returns false then). Must not
  // be called from a thread that runs backfills (it would wait for itself).
  bool WaitUntilIdle(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    MutexLock lock(&mu_);
    while (running_ != 0 || open_scans_ != 0) {
      if (!idle_.WaitUntil(&mu_, deadline) && std::chrono::steady_clock::now() >= deadline) {
        return running_ == 0 && open_scans_ == 0;
      }
    }
    return true;
  }

 private:
  friend class BackfillToken;
  explicit BackfillTracker(size_t max_running) : max_running_(max_running) {}

  // Called only by ~BackfillToken / BackfillToken::Reset.
  void Release() {
    std::unordered_map<uint64_t, std::weak_ptr<executor::Task>> waiters;
    {
      MutexLock lock(&mu_);
      --running_;
      running_gauge_.store(running_, std::memory_order_relaxed);
      waiters.swap(waiters_);
      if (open_scans_ == 0 && running_ == 0) idle_.SignalAll();
    }
    // Outside the lock: Wake() takes the executor's lock.
    for (auto& [id, weak] : waiters) {
      if (auto task = weak.lock()) task->Wake();
    }
  }

  // ---- atomics: read by stats without the lock ----
  std::atomic<size_t> running_gauge_{0};       // mirror of running_
  std::atomic<uint64_t> snapshots_opened_{0};  // monotonic counters
  std::atomic<uint64_t> scans_started_{0};

  // ---- protected by mu_ ----
  mutable Mutex mu_{LockRank::kDcpLeaf};
  CondVar idle_{&mu_};  // signalled when running_ and open_scans_ are both 0
  size_t running_ GUARDED_BY(mu_) = 0;
  size_t max_running_ GUARDED_BY(mu_);
  size_t open_scans_ GUARDED_BY(mu_) = 0;
  // Managers waiting for a unit, by task id (a manager registers at most once per release).
  std::unordered_map<uint64_t, std::weak_ptr<executor::Task>> waiters_ GUARDED_BY(mu_);
};

inline void BackfillToken::Reset() {
  if (tracker_ != nullptr) {
    std::shared_ptr<BackfillTracker> tracker = std::move(tracker_);
    tracker->Release();
  }
}

}  // namespace sluice::dcp
