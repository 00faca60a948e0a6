// File: executor/thread_pool_executor.h
//
// ThreadPoolExecutor: the production Executor. Each TaskGroup has a fixed number of worker
// threads (ThreadCounts) and its own queue of tasks ordered by wake time (ties: the task that
// became due first). A worker runs the earliest task whose wake time has passed; otherwise it
// sleeps until that wake time or until the queue changes.
//
//   Schedule ──> [queued] ──picked by a worker──> [running] ──Run() true──> [queued]
//                   │  ^   Wake/Snooze re-key        │
//                   │  └───────────────────────────  │ Run() false, cancelled, or shut down
//                   └─ Cancel / Shutdown ──> ended <─┘   (executor drops its reference)
//
// A running task is in no queue, so no two threads ever run it at once. Wake()/Snooze() on a
// running task only set flags on the task, read when the run finishes (see wake_policy.h).
// Cancel() on a queued task removes it and drops the executor's reference at once, without
// waiting for its snooze to expire; on a running task, the run completes and the task ends.
//
// Time: wake times are read from the Clock passed in (Clock::Real() in production). Workers wait
// on a steady_clock deadline computed as "now + (wake time - clock now)", so a non-real clock
// only makes sense here if it advances at the real rate; tests that drive time use
// ManualExecutor.
//
// Ownership: the server owns it (through MakeThreadPoolExecutor()'s unique_ptr). It holds one
// shared_ptr per task from Schedule() until the task ends. It never drops a task reference or
// calls into a task (Run, Cancel, destructor) while holding mu_, because tasks call back into
// Schedule/Notify from Run() and from their destructors.
//
// Thread safety: thread-safe. Shutdown() must not be called from a task's Run() or destructor (it
// joins the worker threads, one of which would be the caller).
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <set>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "executor/executor.h"
#include "executor/task.h"

namespace sluice::executor {

class ThreadPoolExecutor final : public Executor {
 public:
  // Starts counts.threads[g] workers for each group g, niced by counts.nice[g]. `clock` must
  // outlive the executor.
  ThreadPoolExecutor(ThreadCounts counts, Clock* clock);
  // Calls Shutdown().
  ~ThreadPoolExecutor() override;
  ThreadPoolExecutor(const ThreadPoolExecutor&) = delete;
  ThreadPoolExecutor& operator=(const ThreadPoolExecutor&) = delete;

  void Schedule(std::shared_ptr<Task> task) override;
  // A second (or concurrent) call returns once the first has finished.
  void Shutdown() override;
  size_t NumTasks() const override;
  Clock& clock() const override { return *clock_; }
  void Notify(Task& task) override;

 private:
  enum class State { kQueued, kRunning };
  struct Entry {
    std::shared_ptr<Task> task;  // the executor's reference
    State state = State::kQueued;
    SteadyTime wake;  // the queue key while kQueued
  };
  using QueueKey = std::pair<SteadyTime, uint64_t>;  // (wake time, task id)

  void WorkerLoop(size_t group);
  // Waits until a task of `group` is due, marks it running and returns it; null on shutdown.
  std::shared_ptr<Task> AwaitRunnable(size_t group) REQUIRES(mu_);
  // Records the end of a run. Returns the executor's reference if the task ended, for the caller
  // to drop after releasing mu_.
  std::shared_ptr<Task> FinishRun(Task& task, bool again) REQUIRES(mu_);
  void Enqueue(uint64_t id, Entry& entry, SteadyTime when) REQUIRES(mu_);

  // ---- Constant after construction ----
  Clock* const clock_;
  const std::array<int, kNumTaskGroups> nice_;  // per group, applied by each worker at start

  // ---- Shutdown() serialisation ----
  // Held for the whole of Shutdown() so that a second caller waits for the first to finish.
  Mutex shutdown_mu_ ACQUIRED_BEFORE(mu_);
  std::vector<std::thread> threads_ GUARDED_BY(shutdown_mu_);

  // ---- Protected by mu_ ----
  mutable Mutex mu_;
  // One per group: signalled when the group's queue changes or on shutdown.
  std::array<CondVar, kNumTaskGroups> work_cv_{CondVar(&mu_), CondVar(&mu_), CondVar(&mu_),
                                               CondVar(&mu_)};
  // Every held task (queued or running), by id.
  std::unordered_map<uint64_t, Entry> tasks_ GUARDED_BY(mu_);
  // Queued (not running) tasks per group, earliest wake time first.
  std::array<std::set<QueueKey>, kNumTaskGroups> queues_ GUARDED_BY(mu_);
  bool shutdown_ GUARDED_BY(mu_) = false;
};

}  // namespace sluice::executor
