#include "dcp/backfill_manager.h"

#include <algorithm>
#include <utility>

#include "common/logging.h"
#include "dcp/producer.h"

namespace sluice::dcp {
namespace {

Duration Seconds(double s) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s));
}

}  // namespace

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

BackfillManagerTask::BackfillManagerTask(std::string name, std::weak_ptr<Producer> producer,
                                         std::weak_ptr<BackfillManager> manager)
    : Task(executor::TaskGroup::kAuxIO, std::move(name)),
      producer_(std::move(producer)),
      manager_(std::move(manager)) {}

bool BackfillManagerTask::Run() {
  {
    // (1) The producer first, and only for this check: a dead or disconnecting connection gets
    // no more work done - not even a look at the manager. If this promotion turns out to be the
    // last reference, ~Producer runs here (on this thread, no lock held) and drops the manager.
    std::shared_ptr<Producer> producer = producer_.lock();
    if (producer == nullptr || producer->IsDisconnecting()) {
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
                                                         std::weak_ptr<Producer> producer) {
  // A factory: the task needs a weak_ptr to the manager, which exists only once the manager's
  // shared_ptr does. (Not make_shared: the constructor is private.)
  std::shared_ptr<BackfillManager> manager(
      new BackfillManager(name, std::move(bucket), std::move(tracker), config));
  manager->task_ =
      std::make_shared<BackfillManagerTask>("dcp_backfill:" + name, std::move(producer), manager);
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
  ScheduleResult result = ScheduleResult::kPending;
  std::unique_ptr<Backfill> dropped;  // destroyed after the lock
  {
    MutexLock lock(&mu_);
    if (cancelled_.load()) {
      dropped = std::move(backfill);
      return result;
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
  const Clock& clock = bucket_->clock();
  std::unique_ptr<Backfill> backfill;
  Source source = Source::kActive;
  bool create_only = false;
  // Removed by the buffer-full sweep; destroyed (and, if too slow, their streams ended) after the
  // lock is released.
  std::vector<std::unique_ptr<Backfill>> swept;
  std::vector<bool> swept_too_slow;
  RunResult idle;  // what to do when nothing can run now
  {
    MutexLock lock(&mu_);
    if (cancelled_.load() || QueuesEmptyLocked()) return {Outcome::kPark, {}};
    if (MemoryAboveThreshold()) return {Outcome::kSnooze, config_.snooze_interval};
    const SteadyTime now = clock.Now();
    AdmitPendingLocked();
    WakeSnoozersLocked(now);

    if (buffer_.full()) {
      for (auto it = active_.begin(); it != active_.end();) {
        bool too_slow = false;
        if ((*it)->ShouldCancel(now, config_.idle_protection, config_.idle_limit, &too_slow)) {
          swept.push_back(std::move(*it));
          swept_too_slow.push_back(too_slow);
          it = active_.erase(it);
        } else {
          ++it;
        }
      }
      if (swept.empty()) {
        // Parked until the producer's sends drain the buffer (BytesSent wakes us); with idle
        // protection, look again after the idle limit.
        return config_.idle_protection ? RunResult{Outcome::kSnooze, config_.idle_limit}
                                       : RunResult{Outcome::kPark, {}};
      }
    } else {
      std::deque<std::unique_ptr<Backfill>>* queue = nullptr;
      if (!initializing_.empty()) {
        queue = &initializing_;
        source = Source::kInitializing;
      } else if (!active_.empty()) {
        queue = &active_;
        source = Source::kActive;
      }
      if (queue != nullptr) {
        backfill = std::move(queue->front());
        queue->pop_front();
        running_ = 1;
        create_only = source == Source::kInitializing && order_ == Order::kSequential;
      } else if (!snoozing_.empty()) {
        idle = {Outcome::kSnooze, snoozing_.front().due - now};
      } else {
        // Only pending backfills, waiting for the bucket-wide limit: the tracker wakes us.
        idle = {Outcome::kPark, {}};
      }
    }
  }

  if (!swept.empty()) {
    for (size_t i = 0; i < swept.size(); ++i) {
      if (swept_too_slow[i]) swept[i]->EndStreamTooSlow();
    }
    swept.clear();  // tokens return, scans close
    return {Outcome::kAgain, {}};
  }
  if (backfill == nullptr) return idle;

  // Run without our lock: the backfill calls into its stream, which charges buffer_ and may end
  // itself (returning bytes through BytesSent).
  BackfillRunContext ctx;
  ctx.buffer = &buffer_;
  ctx.cancelled = &cancelled_;
  ctx.clock = &clock;
  ctx.scan_item_limit = config_.scan_item_limit;
  ctx.scan_byte_limit = config_.scan_byte_limit;
  ctx.run_duration_limit = config_.run_duration_limit;
  ctx.create_only = create_only;
  const Backfill::Result result = backfill->Run(ctx);

  std::unique_ptr<Backfill> finished;  // destroyed after the lock
  {
    MutexLock lock(&mu_);
    running_ = 0;
    switch (result) {
      case Backfill::Result::kSuccess:
        if (order_ == Order::kSequential && source == Source::kActive) {
          active_.push_front(std::move(backfill));  // the current one: resume it next
        } else {
          active_.push_back(std::move(backfill));
        }
        break;
      case Backfill::Result::kSnooze:
        snoozing_.push_back({clock.Now() + config_.snooze_interval, std::move(backfill)});
        break;
      case Backfill::Result::kFinished:
        finished = std::move(backfill);
        break;
    }
  }
  finished.reset();  // returns the token: may wake other managers' tasks
  return {Outcome::kAgain, {}};
}

}  // namespace sluice::dcp
