#include "engine/flusher.h"

#include <algorithm>

#include "common/logging.h"

namespace sluice::engine {

namespace {
constexpr size_t kMaxItemsPerVBucket = 10000;
}  // namespace

Flusher::Flusher(size_t shard, const VBucketMap* vbuckets, storage::KVStore* store,
                 EngineStats* stats, const Config* config, const Clock* clock)
    : shard_(shard),
      vbuckets_(vbuckets),
      store_(store),
      stats_(stats),
      config_(config),
      clock_(clock) {}

bool Flusher::RunTask(executor::Task& task) {
  MutexLock lock(&retry_mu_);
  const SteadyTime now = clock_->Now();
  if (consecutive_failures_ != 0 && now < retry_at_) {
    // Woken (by a write) during the back-off: no attempt before it ends.
    task.Snooze(retry_at_ - now);
    return true;
  }
  switch (FlushOnce()) {
    case FlushOutcome::kMore:
      consecutive_failures_ = 0;
      return true;
    case FlushOutcome::kFailed: {
      ++consecutive_failures_;
      Duration delay = kMinRetryDelay;
      for (uint64_t i = 1; i < consecutive_failures_ && delay < kMaxRetryDelay; ++i) delay *= 2;
      delay = std::min(delay, kMaxRetryDelay);
      retry_at_ = now + delay;
      task.Snooze(delay);
      return true;
    }
    case FlushOutcome::kIdle:
    case FlushOutcome::kDone:
      consecutive_failures_ = 0;
      task.SnoozeForever();
      return true;
  }
  return true;
}

uint64_t Flusher::consecutive_failures() const {
  MutexLock lock(&retry_mu_);
  return consecutive_failures_;
}

void Flusher::SetTask(std::shared_ptr<executor::Task> task) {
  MutexLock lock(&dirty_mu_);
  task_ = std::move(task);
}

void Flusher::CancelTask() {
  std::shared_ptr<executor::Task> task;
  {
    MutexLock lock(&dirty_mu_);
    task = std::move(task_);
  }
  if (task) task->Cancel();
}

size_t Flusher::NumQueued() const {
  MutexLock lock(&dirty_mu_);
  return dirty_.size();
}

void Flusher::Enqueue(VBucket& vb, bool wake) {
  if (vb.SetFlushPending(true)) return;  // already queued: the flusher will see the change
  std::shared_ptr<executor::Task> task;
  {
    MutexLock lock(&dirty_mu_);
    dirty_.push_back(vb.id());
    task = task_;
  }
  if (task && wake) task->Wake();
}

void Flusher::WakeTask() {
  std::shared_ptr<executor::Task> task;
  {
    MutexLock lock(&dirty_mu_);
    task = task_;
  }
  if (task) task->Wake();
}

FlushOutcome Flusher::FlushOnce() {
  MutexLock serial(&flush_mu_);
  // A vbucket re-queued by a writer while this batch is being collected must wait for the next
  // batch: a second plan for it would be built from the persisted state the first plan has not
  // updated yet, and would overwrite the first plan's state record in the batch and move the
  // persisted seqno back when acknowledged (losing the first plan's items at the next restart).
  std::vector<Vbid> taken;
  std::vector<Vbid> next_batch;  // still flush-pending and queued; re-queued below
  {
    MutexLock lock(&dirty_mu_);
    if (dirty_.empty()) return FlushOutcome::kIdle;
  }

  const auto start = std::chrono::steady_clock::now();
  storage::FlushBatch batch;
  std::vector<std::pair<std::shared_ptr<VBucket>, FlushPlan>> plans;
  size_t bytes = 0;
  bool sync = config_->flusher_sync;
  while (bytes < config_->flusher_total_batch_limit) {
    Vbid vbid;
    {
      MutexLock lock(&dirty_mu_);
      if (dirty_.empty()) break;
      vbid = dirty_.front();
      dirty_.pop_front();
    }
    auto vb = vbuckets_->Get(vbid);
    if (!vb) continue;  // deleted meanwhile
    if (std::find(taken.begin(), taken.end(), vbid) != taken.end()) {
      next_batch.push_back(vbid);  // its flush-pending flag stays set: it is queued
      continue;
    }
    taken.push_back(vbid);
    // Clear the flag before collecting: a change queued from here on re-queues the vbucket.
    vb->SetFlushPending(false);
    const size_t before = batch.docs().size();
    FlushPlan plan = vb->CollectForFlush(kMaxItemsPerVBucket, batch);
    for (size_t i = before; i < batch.docs().size(); ++i) {
      bytes += batch.docs()[i].key.size() + batch.docs()[i].value.size() + 64;
    }
    sync = sync || vb->HasPersistenceWaiters();
    plans.emplace_back(std::move(vb), std::move(plan));
  }
  if (plans.empty()) return FlushOutcome::kIdle;

  Status s = store_->Commit(batch, sync);
  if (!next_batch.empty()) {
    MutexLock lock(&dirty_mu_);
    dirty_.insert(dirty_.begin(), next_batch.begin(), next_batch.end());
  }
  if (!s.ok()) {
    stats_->flusher_failures.fetch_add(1, std::memory_order_relaxed);
    LOG_WARN("flusher {}: commit of {} items over {} vbuckets failed: {}", shard_, batch.size(),
             plans.size(), s.ToString());
    for (auto& [vb, plan] : plans) {
      vb->FlushFailed(plan);
      Enqueue(*vb, /*wake=*/false);  // retried after the task's backoff, not right away
    }
    return FlushOutcome::kFailed;
  }
  stats_->flusher_commits.fetch_add(1, std::memory_order_relaxed);
  for (auto& [vb, plan] : plans) {
    const bool waiters_need_sync = vb->FlushSucceeded(plan, sync);
    if (plan.more || waiters_need_sync) NotifyDirty(*vb);
  }
  stats_->flush_duration_us.fetch_add(std::chrono::duration_cast<std::chrono::microseconds>(
                                          std::chrono::steady_clock::now() - start)
                                          .count(),
                                      std::memory_order_relaxed);
  MutexLock lock(&dirty_mu_);
  return dirty_.empty() ? FlushOutcome::kDone : FlushOutcome::kMore;
}

Status Flusher::FlushAll(int max_failures) {
  int failures = 0;
  while (true) {
    switch (FlushOnce()) {
      case FlushOutcome::kIdle:
      case FlushOutcome::kDone:
        if (NumQueued() == 0) return Status::Ok();
        break;
      case FlushOutcome::kMore:
        break;
      case FlushOutcome::kFailed:
        if (++failures >= max_failures) {
          return Status(Errc::kIoError, "flusher gave up after repeated commit failures");
        }
        break;
    }
  }
}

}  // namespace sluice::engine
