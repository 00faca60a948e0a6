#include "dcp/backfill_manager.h"

#include <algorithm>
#include <utility>

#include "common/clock.h"
#include "common/logging.h"

namespace sluice::dcp {

BackfillConfig BackfillConfig::FromConfig(const Config& c) {
  BackfillConfig b;
  b.buffer_bytes = c.dcp_backfill_byte_limit;
  b.drain_ratio = c.dcp_backfill_byte_drain_ratio;
  b.scan_item_limit = c.dcp_scan_item_limit;
  b.scan_byte_limit = c.dcp_scan_byte_limit;
  b.run_duration_limit = Seconds(c.dcp_backfill_run_duration_limit);
  b.per_connection_limit = c.dcp_backfill_in_progress_per_connection_limit;
  b.idle_protection = c.dcp_backfill_idle_protection_enabled;
  b.idle_limit = Seconds(c.dcp_backfill_idle_limit_seconds);
  b.snooze_interval = Seconds(c.dcp_backfill_snooze_interval);
  b.mem_threshold_ratio = c.backfill_mem_threshold;
  return b;
}

// ---- BackfillManagerTask ----

BackfillManagerTask::BackfillManagerTask(std::string name, std::weak_ptr<BackfillOwner> owner,
                                         std::weak_ptr<BackfillManager> manager)
    : Task(executor::TaskGroup::kAuxIO, std::move(name)),
      owner_(std::move(owner)),
      manager_(std::move(manager)) {}

bool BackfillManagerTask::Run() {
  {
    // (1) The owner first, and only for this check: a dead or disconnecting connection gets no
    // more work done - not even a look at the manager. If this promotion turns out to be the last
    // reference, the producer's destructor runs here (on this thread, no lock held) and drops the
    // manager.
    std::shared_ptr<BackfillOwner> owner = owner_.lock();
    if (owner == nullptr || owner->IsDisconnecting()) {
      Cancel();
      return false;
    }
  }
  // (2) Pin the manager for the whole run: a backfill running outside the manager's lock must
  // always have a live manager to return to.
  std::shared_ptr<BackfillManager> manager = manager_.lock();
  if (manager == nullptr) {
    Cancel();
    return false;
  }
  // (3) One slice.
  const BackfillManager::RunResult r = manager->RunOnce();
  switch (r.outcome) {
    case BackfillManager::Outcome::kAgain:
      break;
    case BackfillManager::Outcome::kSnooze:
      Snooze(r.snooze);
      break;
    case BackfillManager::Outcome::kPark:
      SnoozeForever();  // a Wake() during this run (Schedule, BytesSent, tracker) wins
      break;
  }
  return true;
  // `manager` is released here; if the producer dropped it meanwhile, ~BackfillManager runs now.
}

// ---- BackfillManager ----

std::shared_ptr<BackfillManager> BackfillManager::Create(std::string name,
                                                         std::shared_ptr<engine::Bucket> bucket,
                                                         std::shared_ptr<BackfillTracker> tracker,
                                                         BackfillConfig config,
                                                         std::weak_ptr<BackfillOwner> owner) {
  // A factory: the task needs a weak_ptr to the manager, which exists only once the manager's
  // shared_ptr does. (Not make_shared: the constructor is private.)
  std::shared_ptr<BackfillManager> manager(
      new BackfillManager(name, std::move(bucket), std::move(tracker), config));
  manager->task_ =
      std::make_shared<BackfillManagerTask>("dcp_backfill:" + name, std::move(owner), manager);
  manager->task_->SnoozeForever();  // nothing to do until Schedule()
  manager->bucket_->executor().Schedule(manager->task_);
  return manager;
}

BackfillManager::BackfillManager(std::string name, std::shared_ptr<engine::Bucket> bucket,
                                 std::shared_ptr<BackfillTracker> tracker, BackfillConfig config)
    : name_(std::move(name)),
      bucket_(std::move(bucket)),
      tracker_(std::move(tracker)),
      config_(config),
      buffer_(config.buffer_bytes, config.drain_ratio) {}

BackfillManager::~BackfillManager() {
  // Asynchronous: the executor releases the task at once (parked, snoozing or queued), or after
  // its current run - which cannot be running us, since a run pins us.
  if (task_ != nullptr) task_->Cancel();
  std::deque<std::unique_ptr<Backfill>> pending;
  std::deque<std::unique_ptr<Backfill>> initializing;
  std::deque<std::unique_ptr<Backfill>> active;
  std::deque<Snoozer> snoozing;
  {
    MutexLock lock(&mu_);
    pending.swap(pending_);
    initializing.swap(initializing_);
    active.swap(active_);
    snoozing.swap(snoozing_);
  }
  // Destroyed here, outside our lock: admitted ones return their tokens (waking other managers'
  // tasks) and close their scans; pending ones hold neither.
}

BackfillManager::ScheduleResult BackfillManager::Schedule(std::unique_ptr<Backfill> backfill) {
  // Promoted before our lock and released after it: it may be the last reference to the stream.
  const std::shared_ptr<BackfillTarget> stream = backfill->target();
  ScheduleResult result = ScheduleResult::kPending;
  std::unique_ptr<Backfill> dropped;  // destroyed after the lock
  {
    MutexLock lock(&mu_);
    // Checked under our lock: a stream that ends calls Remove() after it is marked dead, so
    // either it sees this backfill queued or this sees the stream dead (file comment).
    if (cancelled_.load() || stream == nullptr || stream->IsDead()) {
      dropped = std::move(backfill);
      return ScheduleResult::kDropped;
    }
    std::optional<BackfillToken> token;
    if (pending_.empty() && InProgressLocked() < config_.per_connection_limit) {
      token = tracker_->TryAcquire(task_);
    }
    if (token.has_value()) {
      backfill->Admit(std::move(*token));
      initializing_.push_back(std::move(backfill));
      result = ScheduleResult::kActive;
    } else {
      pending_.push_back(std::move(backfill));
    }
  }
  task_->Wake();  // outside our lock: Wake() takes the executor's lock
  return result;
}

void BackfillManager::Remove(uint64_t id) {
  std::unique_ptr<Backfill> removed;
  {
    MutexLock lock(&mu_);
    removed = TakeLocked(id);
  }
  if (removed == nullptr) return;
  LOG_DEBUG("dcp {}: vb:{} backfill {} removed: its stream ended", name_, removed->vbid(), id);
  const bool admitted = removed->admitted();
  removed.reset();  // its unit returns (waking other managers' tasks) and its snapshot closes
  // A unit of our per-connection limit freed up: a pending backfill of ours may be admitted.
  if (admitted) task_->Wake();
}

std::unique_ptr<Backfill> BackfillManager::TakeLocked(uint64_t id) {
  std::unique_ptr<Backfill> taken;
  auto take_from = [&](std::deque<std::unique_ptr<Backfill>>& queue) {
    for (auto it = queue.begin(); it != queue.end(); ++it) {
      if ((*it)->id() == id) {
        taken = std::move(*it);
        queue.erase(it);
        return true;
      }
    }
    return false;
  };
  if (take_from(pending_) || take_from(initializing_) || take_from(active_)) return taken;
  for (auto it = snoozing_.begin(); it != snoozing_.end(); ++it) {
    if (it->backfill->id() == id) {
      taken = std::move(it->backfill);
      snoozing_.erase(it);
      break;
    }
  }
  return taken;
}

void BackfillManager::Cancel() { cancelled_.store(true); }

void BackfillManager::BytesSent(size_t bytes) {
  if (bytes == 0) return;
  if (buffer_.Sent(bytes)) task_->Wake();
}

void BackfillManager::SetOrder(Order order) {
  MutexLock lock(&mu_);
  order_ = order;
}

BackfillManager::Order BackfillManager::order() const {
  MutexLock lock(&mu_);
  return order_;
}

std::string_view BackfillManager::OrderName(Order order) {
  return order == Order::kSequential ? "sequential" : "round-robin";
}

BackfillManager::Stats BackfillManager::GetStats() const {
  Stats s;
  {
    MutexLock lock(&mu_);
    s.pending = pending_.size();
    s.initializing = initializing_.size();
    s.active = active_.size();
    s.snoozing = snoozing_.size();
    s.running = running_;
    s.order = order_;
  }
  s.buffer_bytes_read = buffer_.bytes_read();
  s.buffer_max_bytes = buffer_.max_bytes();
  s.buffer_full = buffer_.full();
  s.buffer_pauses = buffer_.pauses();
  return s;
}

size_t BackfillManager::InProgressLocked() const {
  return initializing_.size() + active_.size() + snoozing_.size() + running_;
}

bool BackfillManager::QueuesEmptyLocked() const {
  return pending_.empty() && initializing_.empty() && active_.empty() && snoozing_.empty();
}

void BackfillManager::AdmitPendingLocked() {
  while (!pending_.empty() && InProgressLocked() < config_.per_connection_limit) {
    // On failure the tracker remembers our task and wakes it at the next release.
    std::optional<BackfillToken> token = tracker_->TryAcquire(task_);
    if (!token.has_value()) break;
    pending_.front()->Admit(std::move(*token));
    initializing_.push_back(std::move(pending_.front()));
    pending_.pop_front();
  }
}

void BackfillManager::WakeSnoozersLocked(SteadyTime now) {
  while (!snoozing_.empty() && snoozing_.front().due <= now) {
    active_.push_back(std::move(snoozing_.front().backfill));
    snoozing_.pop_front();
  }
}

bool BackfillManager::MemoryAboveThreshold() const {
  const double limit =
      static_cast<double>(bucket_->config().max_size) * config_.mem_threshold_ratio;
  return static_cast<double>(bucket_->MemUsed()) > limit;
}

BackfillManager::RunResult BackfillManager::RunOnce() {
  Dequeued next;
  {
    MutexLock lock(&mu_);
    if (cancelled_.load() || QueuesEmptyLocked()) return {Outcome::kPark, {}};
    if (MemoryAboveThreshold()) return {Outcome::kSnooze, config_.snooze_interval};
    next = DequeueLocked(bucket_->clock().Now());
  }
  if (!next.swept.empty()) {
    // Outside our lock: ending a stream and destroying a backfill call out.
    for (size_t i = 0; i < next.swept.size(); ++i) {
      if (next.swept_too_slow[i]) next.swept[i]->EndStreamTooSlow();
    }
    next.swept.clear();  // tokens return, scans close
    return {Outcome::kAgain, {}};
  }
  if (next.backfill == nullptr) return next.idle;

  // Run without our lock: the backfill calls into its stream, which charges buffer_ and may end
  // itself (returning bytes through BytesSent, or calling Remove, which finds nothing: a running
  // backfill is in no queue).
  const Backfill::Result result = RunContained(*next.backfill, next.create_only);
  std::unique_ptr<Backfill> finished;  // destroyed after the lock
  {
    MutexLock lock(&mu_);
    running_ = 0;
    finished = RequeueLocked(std::move(next.backfill), next.source, result);
  }
  finished.reset();  // returns the token: may wake other managers' tasks
  return {Outcome::kAgain, {}};
}

BackfillManager::Dequeued BackfillManager::DequeueLocked(SteadyTime now) {
  Dequeued out;
  AdmitPendingLocked();
  WakeSnoozersLocked(now);
  if (buffer_.full()) {
    SweepLocked(now, &out);
    // Nothing swept: parked until the producer's sends drain the buffer (BytesSent wakes us);
    // with idle protection, look again after the idle limit.
    out.idle = config_.idle_protection ? RunResult{Outcome::kSnooze, config_.idle_limit}
                                       : RunResult{Outcome::kPark, {}};
    return out;
  }
  std::deque<std::unique_ptr<Backfill>>* queue = nullptr;
  if (!initializing_.empty()) {
    queue = &initializing_;
    out.source = Source::kInitializing;
  } else if (!active_.empty()) {
    queue = &active_;
    out.source = Source::kActive;
  }
  if (queue != nullptr) {
    out.backfill = std::move(queue->front());
    queue->pop_front();
    running_ = 1;
    out.create_only = out.source == Source::kInitializing && order_ == Order::kSequential;
  } else if (!snoozing_.empty()) {
    out.idle = {Outcome::kSnooze, snoozing_.front().due - now};
  } else {
    // Only pending backfills, waiting for the bucket-wide limit: the tracker wakes us.
    out.idle = {Outcome::kPark, {}};
  }
  return out;
}

void BackfillManager::SweepLocked(SteadyTime now, Dequeued* out) {
  for (auto it = active_.begin(); it != active_.end();) {
    // Neither question promotes the stream: none may be destroyed under our lock.
    const bool gone = (*it)->StreamGone();
    const bool too_slow =
        !gone && config_.idle_protection && (*it)->IdleFor(now, config_.idle_limit);
    if (gone || too_slow) {
      out->swept.push_back(std::move(*it));
      out->swept_too_slow.push_back(too_slow);
      it = active_.erase(it);
    } else {
      ++it;
    }
  }
}

Backfill::Result BackfillManager::RunContained(Backfill& backfill, bool create_only) {
  BackfillRunContext ctx;
  ctx.buffer = &buffer_;
  ctx.cancelled = &cancelled_;
  ctx.clock = &bucket_->clock();
  ctx.scan_item_limit = config_.scan_item_limit;
  ctx.scan_byte_limit = config_.scan_byte_limit;
  ctx.run_duration_limit = config_.run_duration_limit;
  ctx.create_only = create_only;
  // A background task contains its own failures: an exception here (bad_alloc, a decoder) ends
  // only this backfill's stream, never the worker thread.
  try {
    return backfill.Run(ctx);
  } catch (const std::exception& e) {
    return backfill.Fail(e.what());
  } catch (...) {
    return backfill.Fail("unknown exception");
  }
}

std::unique_ptr<Backfill> BackfillManager::RequeueLocked(std::unique_ptr<Backfill> backfill,
                                                         Source source, Backfill::Result result) {
  switch (result) {
    case Backfill::Result::kSuccess:
      if (order_ == Order::kSequential && source == Source::kActive) {
        active_.push_front(std::move(backfill));  // the current one: resume it next
      } else {
        active_.push_back(std::move(backfill));
      }
      return nullptr;
    case Backfill::Result::kSnooze:
      snoozing_.push_back({bucket_->clock().Now() + config_.snooze_interval, std::move(backfill)});
      return nullptr;
    case Backfill::Result::kFinished:
      break;
  }
  return backfill;
}

}  // namespace sluice::dcp
