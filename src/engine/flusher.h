// File: engine/flusher.h
//
// Flusher: persists one shard's vbuckets (vbid % num_shards == shard). Vbuckets with new changes
// queue themselves (NotifyDirty, cheap when already queued); FlushOnce() takes queued vbuckets up
// to the batch limit, collects their unpersisted items from the persistence cursors, writes them
// and the vbuckets' state records in ONE atomic KVStore commit, then acknowledges each vbucket
// (clean entries, persisted seqno, waiters). On a storage error every vbucket of the batch is
// rewound (the same items are retried) and stays queued; the task retries with backoff.
//
// Storage faults (a full disk, an I/O or fsync error): nothing is acknowledged until a commit
// succeeds (persisted seqno and persistence waiters move only on success), so a failed commit
// loses nothing; the items stay in the checkpoints (the writes stay readable) and memory grows
// until the bucket's write admission answers TMPFAIL. RunTask() retries after a back-off that
// doubles per consecutive failure (kMinRetryDelay .. kMaxRetryDelay) and that a wake-up from a
// new write does not shorten, so a failing store sees a bounded number of attempts; the first
// success resets it.
//
// Ownership: the Bucket owns its Flushers (unique_ptr) and their tasks; a FlusherTask holds a
// weak_ptr to the Bucket (a task must not keep a closed bucket alive) and promotes it once per
// run. The Flusher holds plain pointers to the bucket's vbucket map and store, which the bucket
// owns and which outlive it.
//
// Thread safety: NotifyDirty() from any thread. FlushOnce() is serialised by flush_mu_ (the task
// and the shutdown path may both call it). RunTask() is called by the shard's task only (its
// back-off state is under retry_mu_).
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>

#include "common/clock.h"
#include "common/config.h"
#include "common/mutex.h"
#include "engine/engine_stats.h"
#include "engine/vbucket_map.h"
#include "executor/task.h"
#include "storage/kvstore.h"

namespace sluice::engine {

enum class FlushOutcome {
  kIdle,    // nothing was queued
  kMore,    // flushed a batch; more is queued
  kDone,    // flushed a batch; the queue is empty
  kFailed,  // the commit failed; everything stays queued
};

class Flusher {
 public:
  // Back-off after a failed commit: kMinRetryDelay, doubling per consecutive failure, at most
  // kMaxRetryDelay.
  static constexpr Duration kMinRetryDelay = std::chrono::milliseconds(50);
  static constexpr Duration kMaxRetryDelay = std::chrono::seconds(2);

  Flusher(size_t shard, const VBucketMap* vbuckets, storage::KVStore* store, EngineStats* stats,
          const Config* config, const Clock* clock);

  // vbid has unpersisted changes (or a new state). Wakes the task if vbid was not queued yet.
  void NotifyDirty(VBucket& vb) { Enqueue(vb, /*wake=*/true); }
  // The same without waking the task: the caller calls WakeTask() soon (Bucket's deferred
  // wake-ups).
  void QueueDirty(VBucket& vb) { Enqueue(vb, /*wake=*/false); }
  void WakeTask() EXCLUDES(dirty_mu_);
  FlushOutcome FlushOnce() EXCLUDES(flush_mu_, dirty_mu_);
  // Flushes until the queue is empty, retrying failed commits up to `max_failures` times.
  Status FlushAll(int max_failures = 10);
  // One run of the shard's task: FlushOnce() unless a back-off is in force, then tells `task`
  // when to run next (at once while more is queued, never while idle, at the end of the back-off
  // after a failure). Returns true (the task stays scheduled).
  bool RunTask(executor::Task& task) EXCLUDES(retry_mu_, flush_mu_, dirty_mu_);
  // Failed commits since the last successful one.
  uint64_t consecutive_failures() const EXCLUDES(retry_mu_);

  // Runs `fn` while no flush of this shard is in progress (vbucket deletion uses it so that a
  // commit cannot write a vbucket back after its data was removed).
  void WithFlushLock(const std::function<void()>& fn) EXCLUDES(flush_mu_) {
    MutexLock lock(&flush_mu_);
    fn();
  }

  void SetTask(std::shared_ptr<executor::Task> task);
  void CancelTask();
  size_t NumQueued() const;

 private:
  void Enqueue(VBucket& vb, bool wake) EXCLUDES(dirty_mu_);

  const size_t shard_;
  const VBucketMap* const vbuckets_;
  storage::KVStore* const store_;
  EngineStats* const stats_;
  const Config* const config_;
  const Clock* const clock_;

  // The task's back-off; taken before flush_mu_.
  mutable Mutex retry_mu_;
  uint64_t consecutive_failures_ GUARDED_BY(retry_mu_) = 0;
  SteadyTime retry_at_ GUARDED_BY(retry_mu_){};  // no commit attempt before this

  Mutex flush_mu_ ACQUIRED_AFTER(retry_mu_);  // serialises FlushOnce; taken before dirty_mu_
  mutable Mutex dirty_mu_ ACQUIRED_AFTER(flush_mu_);
  std::deque<Vbid> dirty_ GUARDED_BY(dirty_mu_);
  std::shared_ptr<executor::Task> task_ GUARDED_BY(dirty_mu_);
};

}  // namespace sluice::engine
