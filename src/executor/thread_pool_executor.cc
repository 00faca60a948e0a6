#include "executor/thread_pool_executor.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "common/logging.h"
#include "executor/wake_policy.h"

namespace sluice::executor {
namespace {

size_t GroupIndex(TaskGroup group) { return static_cast<size_t>(group); }

// Linux keeps a nice value per thread: setpriority on the thread id changes only this thread.
void LowerThisThreadsPriority(int increment) {
  const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
  errno = 0;
  const int current = ::getpriority(PRIO_PROCESS, tid);
  if (current == -1 && errno != 0) return;
  const int wanted = std::min(current + increment, 19);
  if (::setpriority(PRIO_PROCESS, tid, wanted) != 0) {
    LOG_WARN("executor: could not set a worker's nice value to {}: {}", wanted,
             std::strerror(errno));
  }
}

}  // namespace

std::unique_ptr<Executor> MakeThreadPoolExecutor(ThreadCounts counts, Clock* clock) {
  return std::make_unique<ThreadPoolExecutor>(counts, clock);
}

ThreadPoolExecutor::ThreadPoolExecutor(ThreadCounts counts, Clock* clock)
    : clock_(clock), nice_(counts.nice) {
  MutexLock lock(&shutdown_mu_);
  for (size_t g = 0; g < kNumTaskGroups; ++g) {
    for (size_t i = 0; i < counts.threads[g]; ++i) {
      threads_.emplace_back([this, g] { WorkerLoop(g); });
    }
  }
}

ThreadPoolExecutor::~ThreadPoolExecutor() { Shutdown(); }

void ThreadPoolExecutor::Schedule(std::shared_ptr<Task> task) {
  if (task == nullptr) return;
  if (task->executor() != nullptr) {
    LOG_ERROR("executor: task '{}' (id {}) scheduled twice; ignored", task->name(), task->id());
    return;
  }
  // Attach before checking IsCancelled() under the lock: a racing Cancel() then either sees the
  // executor (and notifies us, after we hold the task) or is seen here.
  task->AttachExecutor(this);
  {
    MutexLock lock(&mu_);
    if (!shutdown_ && !task->IsCancelled()) {
      const uint64_t id = task->id();
      const SteadyTime when = WakeTimeWhileQueued(*task, clock_->Now());
      Entry& entry = tasks_[id];
      entry.task = std::move(task);
      Enqueue(id, entry, when);
      return;
    }
  }
  // Rejected (shut down or already cancelled). Outside the lock: Cancel() calls Notify(), and
  // dropping `task` may destroy it.
  task->Cancel();
}

void ThreadPoolExecutor::Shutdown() {
  MutexLock serial(&shutdown_mu_);
  std::vector<std::shared_ptr<Task>> tasks;
  {
    MutexLock lock(&mu_);
    shutdown_ = true;
    for (auto it = tasks_.begin(); it != tasks_.end();) {
      if (it->second.state == State::kRunning) {
        // Stays held until its run finishes; FinishRun() then ends it.
        tasks.push_back(it->second.task);
        ++it;
      } else {
        tasks.push_back(std::move(it->second.task));
        it = tasks_.erase(it);
      }
    }
    for (auto& queue : queues_) queue.clear();
    for (auto& cv : work_cv_) cv.SignalAll();
  }
  // Outside the lock: Cancel() notifies us (now a no-op) and lets a long run stop early, and
  // dropping the references may destroy tasks whose destructors call back into the executor.
  for (auto& task : tasks) task->Cancel();
  tasks.clear();
  // Workers exit once their current run has finished.
  for (auto& thread : threads_) thread.join();
  threads_.clear();
}

size_t ThreadPoolExecutor::NumTasks() const {
  MutexLock lock(&mu_);
  return tasks_.size();
}

void ThreadPoolExecutor::Notify(Task& task) {
  std::shared_ptr<Task> released;  // dropped after the lock (declared before it)
  MutexLock lock(&mu_);
  auto it = tasks_.find(task.id());
  // Unknown: ended or not yet queued. Running: FinishRun() reads the flags.
  if (it == tasks_.end() || it->second.state == State::kRunning) return;
  Entry& entry = it->second;
  queues_[GroupIndex(task.group())].erase({entry.wake, it->first});
  if (task.IsCancelled()) {
    released = std::move(entry.task);
    tasks_.erase(it);
    return;
  }
  Enqueue(it->first, entry, WakeTimeWhileQueued(task, clock_->Now()));
}

void ThreadPoolExecutor::Enqueue(uint64_t id, Entry& entry, SteadyTime when) {
  const size_t group = GroupIndex(entry.task->group());
  entry.state = State::kQueued;
  entry.wake = when;
  queues_[group].insert({when, id});
  // Any change may move the group's earliest wake time; a woken worker re-evaluates.
  work_cv_[group].Signal();
}

void ThreadPoolExecutor::WorkerLoop(size_t group) {
  if (nice_[group] != 0) LowerThisThreadsPriority(nice_[group]);
  while (true) {
    std::shared_ptr<Task> task;
    {
      MutexLock lock(&mu_);
      task = AwaitRunnable(group);
    }
    if (task == nullptr) return;
    // Run outside the lock: the task may Schedule, Wake, Snooze or Cancel.
    const bool again = task->Run();
    std::shared_ptr<Task> ended;
    {
      MutexLock lock(&mu_);
      ended = FinishRun(*task, again);
    }
    // `task` and `ended` are dropped here, outside the lock (possibly destroying the task).
  }
}

std::shared_ptr<Task> ThreadPoolExecutor::AwaitRunnable(size_t group) {
  auto& queue = queues_[group];
  CondVar& cv = work_cv_[group];
  while (true) {
    if (shutdown_) return nullptr;
    if (queue.empty() || queue.begin()->first == SteadyTime::max()) {
      cv.Wait(&mu_);
      continue;
    }
    const auto [when, id] = *queue.begin();
    const SteadyTime now = clock_->Now();
    if (when > now) {
      cv.WaitUntil(&mu_, std::chrono::steady_clock::now() + (when - now));
      continue;
    }
    queue.erase(queue.begin());
    Entry& entry = tasks_.at(id);
    entry.state = State::kRunning;
    ClearRequestsBeforeRun(*entry.task);
    return entry.task;
  }
}

std::shared_ptr<Task> ThreadPoolExecutor::FinishRun(Task& task, bool again) {
  // Only FinishRun() removes a running task, so it is still held.
  auto it = tasks_.find(task.id());
  assert(it != tasks_.end() && it->second.state == State::kRunning);
  Entry& entry = it->second;
  if (!again || task.IsCancelled() || shutdown_) {
    std::shared_ptr<Task> ended = std::move(entry.task);
    tasks_.erase(it);
    return ended;
  }
  Enqueue(it->first, entry, WakeTimeAfterRun(task, clock_->Now()));
  return nullptr;
}

}  // namespace sluice::executor
