// File: engine/flusher.h
//
// Flusher: persists one shard's vbuckets (vbid % num_shards == shard). Vbuckets with new changes
// queue themselves (NotifyDirty, cheap when already queued); FlushOnce() takes queued vbuckets up
// to the batch limit, collects their unpersisted items from the persistence cursors, writes them
// and the vbuckets' state records in ONE atomic KVStore commit, then acknowledges each vbucket
// (clean entries, persisted seqno, waiters). On a storage error every vbucket of the batch is
// rewound (the same items are retried) and stays queued; the task retries with backoff.
//
// Ownership: the Bucket owns its Flushers (unique_ptr) and their tasks; a FlusherTask holds a
// weak_ptr to the Bucket (a task must not keep a closed bucket alive) and promotes it once per
// run. The Flusher holds plain pointers to the bucket's vbucket map and store, which the bucket
// owns and which outlive it.
//
// Thread safety: NotifyDirty() from any thread. FlushOnce() is serialised by flush_mu_ (the task
// and the shutdown path may both call it).
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>

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
  Flusher(size_t shard, const VBucketMap* vbuckets, storage::KVStore* store, EngineStats* stats,
          const Config* config);

  // vbid has unpersisted changes (or a new state). Wakes the task if vbid was not queued yet.
  void NotifyDirty(VBucket& vb) { Enqueue(vb, /*wake=*/true); }
  FlushOutcome FlushOnce() EXCLUDES(flush_mu_, dirty_mu_);
  // Flushes until the queue is empty, retrying failed commits up to `max_failures` times.
  Status FlushAll(int max_failures = 10);

  // Runs `fn` while no flush of this shard is in progress (vbucket deletion uses it so that a
  // commit cannot write a vbucket back after its data was removed).
  void WithFlushLock(const std::function<void()>& fn) EXCLUDES(flush_mu_) {
    MutexLock lock(&flush_mu_);
    fn();
  }

  void SetTask(std::shared_ptr<executor::Task> task);
  void CancelTask();
  size_t shard() const { return shard_; }
  size_t NumQueued() const;

 private:
  void Enqueue(VBucket& vb, bool wake) EXCLUDES(dirty_mu_);

  const size_t shard_;
  const VBucketMap* const vbuckets_;
  storage::KVStore* const store_;
  EngineStats* const stats_;
  const Config* const config_;

  Mutex flush_mu_;  // serialises FlushOnce; taken before dirty_mu_
  mutable Mutex dirty_mu_ ACQUIRED_AFTER(flush_mu_);
  std::deque<Vbid> dirty_ GUARDED_BY(dirty_mu_);
  std::shared_ptr<executor::Task> task_ GUARDED_BY(dirty_mu_);
};

}  // namespace sluice::engine
