// File: executor/executor.h
//
// Executor: runs Tasks on four task groups (reader, writer, auxio, nonio). Two implementations:
//   - ThreadPoolExecutor: production; a fixed number of threads per group.
//   - ManualExecutor (testing/manual_executor.h, tests only): runs tasks only when told, on the
//     calling thread, against a clock the test controls, so flusher and DCP tests are
//     deterministic.
//
// Ownership: the server (or a test) owns the executor; everything that schedules tasks holds a
// plain pointer and must not outlive it. Shutdown() must be called before destruction; it cancels
// every task, waits for runs in progress, and releases the executor's task references.
//
// Rule for implementations: never destroy a task (drop the last reference) or call into one while
// holding the executor's internal lock — a task's destructor may Cancel()/Wake() other tasks or
// schedule new ones.
//
// Thread safety: thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <memory>

#include "executor/task.h"

namespace sluice::executor {

struct ThreadCounts {
  // Indexed by TaskGroup.
  std::array<size_t, kNumTaskGroups> threads{2, 2, 1, 1};
  // Nice increment of each group's threads (0: the process's priority). The server lowers the
  // writer group's so that, on a saturated CPU, front-end requests go first and the flusher
  // catches up in the idle time, deduplicating repeated writes of a key meanwhile.
  std::array<int, kNumTaskGroups> nice{0, 0, 0, 0};
};

class Executor : public TaskScheduler {
 public:
  virtual ~Executor() = default;

  // Takes a shared reference to `task` and runs it on its group as soon as a thread is free
  // (or after the snooze set before scheduling). Scheduling after Shutdown() cancels the task.
  virtual void Schedule(std::shared_ptr<Task> task) = 0;

  // Cancels every task, waits for runs in progress to finish and joins threads. Idempotent.
  virtual void Shutdown() = 0;

  // Number of tasks currently held (scheduled, snoozing or running).
  virtual size_t NumTasks() const = 0;

  // clock() and Notify(): the TaskScheduler side, what its tasks see (executor/task.h).
};

std::unique_ptr<Executor> MakeThreadPoolExecutor(ThreadCounts counts, Clock* clock = Clock::Real());

}  // namespace sluice::executor
