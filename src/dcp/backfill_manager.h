// File: dcp/backfill_manager.h
//
// BackfillManager: one DCP producer connection's disk backfills - their queues, their admission
// against the bucket-wide and per-connection limits, the connection's backfill buffer, and the
// auxio task (BackfillManagerTask) that runs them one slice at a time.
//
//   Schedule(backfill)
//        │ admitted (token from the BackfillTracker, per-connection limit ok)?
//        ├── no ──▶ pending ──(a unit frees up: the tracker wakes our task)──┐
//        ▼                                                                   │
//   initializing ◀──────────────────────────────────────────────────────────┘
//        │ run: Create (and Scan with round-robin)
//        ▼
//     active ◀──── yielded (round-robin: to the back; sequential: stays at the front) ────┐
//        │ run: Scan one slice ──────────────────────────────────────────────────────────┘
//        ├── waiting for the flusher ──▶ snoozing ──(snooze interval passed)──▶ active
//        └── finished ──▶ destroyed (token returned, scan closed)
//
// One run (RunOnce) does one slice of one backfill: initializing first, else the front of
// active. If the backfill buffer is full it runs nothing: it drops queued backfills whose stream
// is dead (or, with idle protection, made no progress for dcp_backfill_idle_limit_seconds; their
// stream ends TooSlow) and parks until the producer's sends drain the buffer (BytesSent wakes the
// task). With only pending backfills blocked on the bucket-wide limit it parks until the tracker
// wakes it; with only snoozing ones it snoozes until the earliest is due; with nothing it parks
// until Schedule wakes it. Memory above backfill_mem_threshold: snooze.
//
// Lifetime (README.md rules 2, 5, 6, 7):
//   Producer ──shared_ptr──▶ BackfillManager ──shared_ptr──▶ BackfillManagerTask (to wake/cancel
//   it) BackfillManagerTask ──weak──▶ Producer          checked first in every run
//   BackfillManagerTask ──weak──▶ BackfillManager   promoted once per run, held for the whole run
//   executor ──shared_ptr──▶ BackfillManagerTask    while scheduled
// The producer is the only long-lived owner. Its Disconnect() calls Cancel() (a run in progress
// stops at its next item) and drops its reference: if no run is in progress the manager is
// destroyed right there, else when the run ends and the task releases it. ~BackfillManager
// cancels the task (asynchronously; the executor releases it at once) and destroys every backfill,
// so their tokens return and their scans close. A backfill that is running is out of the queues
// and owned by the running thread; the manager is pinned by the task for the whole run, so the
// backfill always has a live manager to return to (the lock is released while it runs).
//
// Thread safety: thread-safe. Schedule/BytesSent/Cancel/stats from any thread; RunOnce only from
// the task (one thread at a time). Lock order: ActiveStream::mu_ -> BackfillManager::mu_ ->
// BackfillTracker::mu_; backfills never run under mu_, and the manager never calls into a stream
// under mu_ except through Backfill::ShouldCancel (which only reads the stream's state).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/mutex.h"
#include "dcp/backfill.h"
#include "dcp/backfill_buffer.h"
#include "dcp/backfill_tracker.h"
#include "engine/bucket.h"
#include "executor/executor.h"
#include "executor/task.h"

namespace sluice::dcp {

class Producer;

// The backfill parameters of a connection (from Config).
struct BackfillConfig {
  size_t buffer_bytes = 20 << 20;
  double drain_ratio = 0.25;
  size_t scan_item_limit = 4096;
  size_t scan_byte_limit = 4 << 20;
  Duration run_duration_limit = std::chrono::milliseconds(300);
  size_t per_connection_limit = 64;
  bool idle_protection = true;
  Duration idle_limit = std::chrono::seconds(720);
  Duration snooze_interval = std::chrono::seconds(1);
  double mem_threshold_ratio = 0.96;  // of max_size

  static BackfillConfig FromConfig(const Config& config);
};

class BackfillManager : public std::enable_shared_from_this<BackfillManager> {
 public:
  enum class Order : uint8_t { kRoundRobin, kSequential };
  enum class ScheduleResult : uint8_t { kActive, kPending };

  // Creates the manager and schedules its (parked) task on the bucket's executor. `producer` is
  // the owning connection, checked by the task before every run.
  static std::shared_ptr<BackfillManager> Create(std::string name,
                                                 std::shared_ptr<engine::Bucket> bucket,
                                                 std::shared_ptr<BackfillTracker> tracker,
                                                 BackfillConfig config,
                                                 std::weak_ptr<Producer> producer);
  ~BackfillManager();
  BackfillManager(const BackfillManager&) = delete;
  BackfillManager& operator=(const BackfillManager&) = delete;

  // Takes ownership; admits it now if the limits allow (kActive), else queues it as pending.
  // After Cancel() the backfill is dropped (reported as kPending).
  ScheduleResult Schedule(std::unique_ptr<Backfill> backfill);

  // The producer is disconnecting: a running backfill stops at its next item and no further run
  // does any work. Idempotent; does not destroy anything (the owner drops its reference).
  void Cancel();
  bool cancelled() const { return cancelled_.load(); }

  // The connection's backfill buffer (streams charge it under their lock).
  BackfillBuffer& buffer() { return buffer_; }
  // `bytes` of backfilled messages were sent or discarded; wakes the task if that un-pauses.
  void BytesSent(size_t bytes);

  void SetOrder(Order order);
  Order order() const;
  static std::string_view OrderName(Order order);

  struct Stats {
    size_t pending = 0;
    size_t initializing = 0;
    size_t active = 0;
    size_t snoozing = 0;
    size_t running = 0;  // dequeued and running now (0 or 1)
    size_t buffer_bytes_read = 0;
    size_t buffer_max_bytes = 0;
    bool buffer_full = false;
    uint64_t buffer_pauses = 0;
    Order order = Order::kRoundRobin;
  };
  Stats GetStats() const;

  // ---- for BackfillManagerTask::Run only ----
  enum class Outcome : uint8_t { kAgain, kSnooze, kPark };
  struct RunResult {
    Outcome outcome = Outcome::kAgain;
    Duration snooze{};  // kSnooze
  };
  // One slice of work (see the file comment).
  RunResult RunOnce();

 private:
  enum class Source : uint8_t { kInitializing, kActive };
  struct Snoozer {
    SteadyTime due;
    std::unique_ptr<Backfill> backfill;
  };

  BackfillManager(std::string name, std::shared_ptr<engine::Bucket> bucket,
                  std::shared_ptr<BackfillTracker> tracker, BackfillConfig config);

  size_t InProgressLocked() const REQUIRES(mu_);
  bool QueuesEmptyLocked() const REQUIRES(mu_);
  void AdmitPendingLocked() REQUIRES(mu_);
  void WakeSnoozersLocked(SteadyTime now) REQUIRES(mu_);
  bool MemoryAboveThreshold() const;

  // ---- constant after Create ----
  const std::string name_;
  const std::shared_ptr<engine::Bucket> bucket_;
  const std::shared_ptr<BackfillTracker> tracker_;
  const BackfillConfig config_;
  std::shared_ptr<executor::Task> task_;  // set once in Create, before anyone else sees us

  // ---- self-synchronised ----
  BackfillBuffer buffer_;
  std::atomic<bool> cancelled_{false};

  // ---- protected by mu_ ----
  mutable Mutex mu_;
  std::deque<std::unique_ptr<Backfill>> pending_ GUARDED_BY(mu_);       // not admitted
  std::deque<std::unique_ptr<Backfill>> initializing_ GUARDED_BY(mu_);  // admitted, not created
  std::deque<std::unique_ptr<Backfill>> active_ GUARDED_BY(mu_);
  std::deque<Snoozer> snoozing_ GUARDED_BY(mu_);
  size_t running_ GUARDED_BY(mu_) = 0;  // dequeued by RunOnce, counted as in progress
  Order order_ GUARDED_BY(mu_) = Order::kRoundRobin;
};

// The auxio task of one BackfillManager. Each run: (1) lock the producer; gone or disconnecting ⇒
// Cancel() itself and return false, touching nothing else (no scan is ever started for a dead
// connection); release it; (2) pin the manager for the whole run (gone ⇒ cancel); (3) one
// RunOnce() slice; apply its snooze/park outcome.
class BackfillManagerTask final : public executor::Task {
 public:
  BackfillManagerTask(std::string name, std::weak_ptr<Producer> producer,
                      std::weak_ptr<BackfillManager> manager);
  bool Run() override;

 private:
  // Weak: a scheduled task must not keep a closed connection's producer alive, and must learn
  // it is gone before any I/O.
  const std::weak_ptr<Producer> producer_;
  // Weak: the manager owns this task (to wake and cancel it); a strong pointer back would be a
  // cycle keeping both alive.
  const std::weak_ptr<BackfillManager> manager_;
};

}  // namespace sluice::dcp
