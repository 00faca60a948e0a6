// File: dcp/backfill_manager.h
//
// BackfillManager: the disk backfills of one DCP producer connection, and BackfillManagerTask, the
// auxio task that runs them one slice at a time.
//
// Why it exists: a disk can be read far faster than a consumer drains its socket. Without a
// bound, a connection's backfills would pull a whole vbucket into memory and push the bucket over
// its quota. The manager gives each connection a backfill buffer (dcp_backfill_byte_limit): bytes
// read from disk and queued in its streams but not sent yet. A full buffer pauses the connection's
// backfills until the producer's sends drain it. It also bounds how many backfills hold a RocksDB
// snapshot at once: bucket-wide (the BackfillTracker, ep_dcp_num_running_backfills) and per
// connection (dcp_backfill_in_progress_per_connection_limit).
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
//   any queue ──Remove(id): its stream ended──▶ destroyed at once
//
// One run (RunOnce) does one slice of one backfill: initializing first, else the front of
// active. If the backfill buffer is full it runs nothing: it sweeps out queued backfills whose
// stream is gone (or, with idle protection, that made no progress for
// dcp_backfill_idle_limit_seconds; their stream ends TooSlow) and parks until the producer's sends
// drain the buffer (BytesSent wakes the task). With only pending backfills blocked on the
// bucket-wide limit it parks until the tracker wakes it; with only snoozing ones it snoozes until
// the earliest is due; with nothing it parks until Schedule wakes it. Memory above
// backfill_mem_threshold: snooze. An exception thrown by a backfill's run ends only that
// backfill's stream (BackfillFailed, logged); the task and the other backfills carry on.
//
// Every way a stream ends (CLOSE_STREAM, a vbucket state change or deletion, rollback, TooSlow, a
// failed backfill, the end seqno) releases its backfill, its unit and its snapshot at once: the
// stream calls Remove(id) through its producer as it ends, and a backfill scheduled concurrently
// with the end is refused by Schedule (it checks the stream under the manager's lock). A backfill
// that is running when its stream ends stops at its next item.
//
// Lifetime (dcp/README.md):
//   Producer ──shared_ptr──▶ BackfillManager ──shared_ptr──▶ BackfillManagerTask (to wake and
//                                                             cancel it)
//   BackfillManagerTask ──weak──▶ BackfillOwner (the producer)  checked first in every run
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
// Thread safety: thread-safe. Schedule/Remove/BytesSent/Cancel/stats from any thread; RunOnce
// only from the task (one thread at a time). Its lock has rank kDcpObject (common/lock_rank.h):
// under it the manager takes only the buffer's and the tracker's leaf locks; backfills never run
// under it, and no stream is promoted or destroyed under it.
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

// What the manager's task asks of the connection that owns the manager (the Producer).
class BackfillOwner {
 public:
  virtual ~BackfillOwner() = default;
  // True once the connection is going away: no further backfill work may be done for it.
  // Any thread; lock-free.
  virtual bool IsDisconnecting() const = 0;
};

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
  enum class ScheduleResult : uint8_t { kActive, kPending, kDropped };

  // Creates the manager and schedules its (parked) task on the bucket's executor. `owner` is the
  // owning connection, checked by the task before every run.
  static std::shared_ptr<BackfillManager> Create(std::string name,
                                                 std::shared_ptr<engine::Bucket> bucket,
                                                 std::shared_ptr<BackfillTracker> tracker,
                                                 BackfillConfig config,
                                                 std::weak_ptr<BackfillOwner> owner);
  ~BackfillManager();
  BackfillManager(const BackfillManager&) = delete;
  BackfillManager& operator=(const BackfillManager&) = delete;

  // Takes ownership; admits it now if the limits allow (kActive), else queues it as pending.
  // After Cancel(), or if its stream is gone or ended, the backfill is dropped (kDropped).
  ScheduleResult Schedule(std::unique_ptr<Backfill> backfill);

  // The stream of backfill `id` ended: if the backfill is queued (in any state), it is destroyed
  // now - its admission unit returns and its snapshot closes before this returns. If it is
  // running, its run stops at its next item. No-op for an unknown id. Any thread; call with no
  // lock held (destroying a backfill wakes other managers' tasks).
  void Remove(uint64_t id);

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
  // What RunOnce's locked part decided: a backfill to run, swept ones to destroy, or how to idle.
  struct Dequeued {
    std::unique_ptr<Backfill> backfill;
    Source source = Source::kActive;
    bool create_only = false;
    std::vector<std::unique_ptr<Backfill>> swept;
    std::vector<bool> swept_too_slow;
    RunResult idle;  // when there is nothing to run
  };

  BackfillManager(std::string name, std::shared_ptr<engine::Bucket> bucket,
                  std::shared_ptr<BackfillTracker> tracker, BackfillConfig config);

  // RunOnce's three parts: pick the next backfill (or sweep a full buffer), run it without the
  // lock (containing its exceptions), and put it back where its result says.
  Dequeued DequeueLocked(SteadyTime now) REQUIRES(mu_);
  Backfill::Result RunContained(Backfill& backfill, bool create_only);
  // Returns the backfill to destroy (after the lock), if it finished.
  std::unique_ptr<Backfill> RequeueLocked(std::unique_ptr<Backfill> backfill, Source source,
                                          Backfill::Result result) REQUIRES(mu_);
  // Moves out of active_ the backfills the buffer-full sweep drops (see the file comment).
  void SweepLocked(SteadyTime now, Dequeued* out) REQUIRES(mu_);
  // The queued backfill with `id`, moved out of its queue (null if none).
  std::unique_ptr<Backfill> TakeLocked(uint64_t id) REQUIRES(mu_);

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
  mutable Mutex mu_{LockRank::kDcpObject};
  std::deque<std::unique_ptr<Backfill>> pending_ GUARDED_BY(mu_);       // not admitted
  std::deque<std::unique_ptr<Backfill>> initializing_ GUARDED_BY(mu_);  // admitted, not created
  std::deque<std::unique_ptr<Backfill>> active_ GUARDED_BY(mu_);
  std::deque<Snoozer> snoozing_ GUARDED_BY(mu_);
  size_t running_ GUARDED_BY(mu_) = 0;  // dequeued by RunOnce, counted as in progress
  Order order_ GUARDED_BY(mu_) = Order::kRoundRobin;
};

// The auxio task of one BackfillManager. Each run: (1) lock the owner; gone or disconnecting ⇒
// Cancel() itself and return false, touching nothing else - not even the manager, whose cancel
// flag may not be set yet (no snapshot is ever opened for a dead connection); release it; (2) pin
// the manager for the whole run (gone ⇒ cancel); (3) one RunOnce() slice; apply its snooze/park
// outcome.
class BackfillManagerTask final : public executor::Task {
 public:
  BackfillManagerTask(std::string name, std::weak_ptr<BackfillOwner> owner,
                      std::weak_ptr<BackfillManager> manager);
  bool Run() override;

 private:
  // Weak: a scheduled task must not keep a closed connection's producer alive, and must learn
  // it is gone before any I/O.
  const std::weak_ptr<BackfillOwner> owner_;
  // Weak: the manager owns this task (to wake and cancel it); a strong pointer back would be a
  // cycle keeping both alive.
  const std::weak_ptr<BackfillManager> manager_;
};

}  // namespace sluice::dcp
