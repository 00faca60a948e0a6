#include "testing/manual_executor.h"

#include <cassert>
#include <utility>
#include <vector>

#include "common/logging.h"
#include "executor/wake_policy.h"

namespace sluice::executor {

ManualExecutor::ManualExecutor(Clock* clock) : clock_(clock) {}

ManualExecutor::~ManualExecutor() { Shutdown(); }

void ManualExecutor::Schedule(std::shared_ptr<Task> task) {
  if (task == nullptr) return;
  if (task->executor() != nullptr) {
    LOG_ERROR("executor: task '{}' (id {}) scheduled twice; ignored", task->name(), task->id());
    return;
  }
  // Attach before checking IsCancelled() under the lock (see ThreadPoolExecutor::Schedule).
  task->AttachExecutor(this);
  {
    MutexLock lock(&mu_);
    if (!shutdown_ && !task->IsCancelled()) {
      const uint64_t id = task->id();
      const SteadyTime when = WakeTimeWhileQueued(*task, clock_->Now());
      Entry& entry = tasks_[id];
      entry.task = std::move(task);
      Requeue(entry, when);
      return;
    }
  }
  // Rejected. Outside the lock: Cancel() calls Notify(); dropping `task` may destroy it.
  task->Cancel();
}

void ManualExecutor::Shutdown() {
  std::vector<std::shared_ptr<Task>> tasks;
  {
    MutexLock lock(&mu_);
    shutdown_ = true;
    for (auto it = tasks_.begin(); it != tasks_.end();) {
      if (it->second.running) {
        // Shutdown() from inside a run: RunOne() ends the task when the run returns.
        tasks.push_back(it->second.task);
        ++it;
      } else {
        tasks.push_back(std::move(it->second.task));
        it = tasks_.erase(it);
      }
    }
  }
  // Outside the lock: Cancel() calls Notify(); dropping may run task destructors.
  for (auto& task : tasks) task->Cancel();
}

size_t ManualExecutor::NumTasks() const {
  MutexLock lock(&mu_);
  return tasks_.size();
}

void ManualExecutor::Notify(Task& task) {
  std::shared_ptr<Task> released;  // dropped after the lock (declared before it)
  MutexLock lock(&mu_);
  auto it = tasks_.find(task.id());
  if (it == tasks_.end() || it->second.running) return;  // RunOne() reads a running task's flags
  if (task.IsCancelled()) {
    released = std::move(it->second.task);
    tasks_.erase(it);
    return;
  }
  const SteadyTime when = WakeTimeWhileQueued(task, clock_->Now());
  if (when != it->second.wake) Requeue(it->second, when);  // unchanged: keep its turn
}

bool ManualExecutor::RunOne(std::optional<TaskGroup> group) {
  std::shared_ptr<Task> task;
  {
    MutexLock lock(&mu_);
    if (shutdown_) return false;
    auto it = FindReady(group, clock_->Now());
    if (it == tasks_.end()) return false;
    it->second.running = true;
    ClearRequestsBeforeRun(*it->second.task);
    task = it->second.task;
  }
  // Run outside the lock: the task may Schedule, Wake, Snooze or Cancel.
  const bool again = task->Run();
  std::shared_ptr<Task> ended;
  {
    MutexLock lock(&mu_);
    auto it = tasks_.find(task->id());  // only this function removes a running task
    assert(it != tasks_.end() && it->second.running);
    Entry& entry = it->second;
    entry.running = false;
    if (!again || task->IsCancelled() || shutdown_) {
      ended = std::move(entry.task);
      tasks_.erase(it);
    } else {
      Requeue(entry, WakeTimeAfterRun(*task, clock_->Now()));
    }
  }
  // `task` and `ended` are dropped here, outside the lock (possibly destroying the task).
  return true;
}

size_t ManualExecutor::RunReady(std::optional<TaskGroup> group, size_t max_runs) {
  size_t runs = 0;
  while (runs < max_runs && RunOne(group)) ++runs;
  return runs;
}

size_t ManualExecutor::NumReady(std::optional<TaskGroup> group) const {
  MutexLock lock(&mu_);
  const SteadyTime now = clock_->Now();
  size_t ready = 0;
  for (const auto& [id, entry] : tasks_) {
    if (!entry.running && InGroup(entry, group) && entry.wake <= now) ++ready;
  }
  return ready;
}

std::optional<SteadyTime> ManualExecutor::NextWakeTime(std::optional<TaskGroup> group) const {
  MutexLock lock(&mu_);
  std::optional<SteadyTime> earliest;
  for (const auto& [id, entry] : tasks_) {
    if (entry.running || !InGroup(entry, group)) continue;
    if (!earliest || entry.wake < *earliest) earliest = entry.wake;
  }
  return earliest;
}

bool ManualExecutor::HasTask(std::string_view name) const {
  MutexLock lock(&mu_);
  for (const auto& [id, entry] : tasks_) {
    if (entry.task->name() == name) return true;
  }
  return false;
}

ManualExecutor::TaskMap::iterator ManualExecutor::FindReady(std::optional<TaskGroup> group,
                                                            SteadyTime now) {
  auto best = tasks_.end();
  for (auto it = tasks_.begin(); it != tasks_.end(); ++it) {
    const Entry& entry = it->second;
    if (entry.running || !InGroup(entry, group) || entry.wake > now) continue;
    if (best == tasks_.end() || entry.wake < best->second.wake ||
        (entry.wake == best->second.wake && entry.seq < best->second.seq)) {
      best = it;
    }
  }
  return best;
}

void ManualExecutor::Requeue(Entry& entry, SteadyTime when) {
  entry.wake = when;
  entry.seq = next_seq_++;
}

bool ManualExecutor::InGroup(const Entry& entry, std::optional<TaskGroup> group) {
  return !group || entry.task->group() == *group;
}

}  // namespace sluice::executor
