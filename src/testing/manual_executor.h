// File: testing/manual_executor.h
//
// ManualExecutor: an Executor for deterministic tests. Nothing runs until the test asks; then
// tasks run on the test's thread, in wake-time order (ties in scheduling order), against the
// clock the test passed in (usually a FakeClock it advances).
//
// "Scheduling order" counts every time a task is (re)queued: Schedule(), the end of a run that
// returned true, and a Wake()/Snooze() while queued. So with a clock that does not move, a task
// that keeps returning true takes turns with the other ready tasks instead of starving them.
// Wake/Snooze/Cancel semantics are the same as ThreadPoolExecutor's (see wake_policy.h); a
// cancelled queued task is released at once.
//
// Ownership: owned by the test. Thread safety: thread-safe (Schedule/Notify may come from other
// threads, e.g. a real network thread in an integration-style test), but Run* calls must come from
// one thread at a time.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string_view>

#include "common/mutex.h"
#include "executor/executor.h"

namespace sluice::executor {

class ManualExecutor final : public Executor {
 public:
  explicit ManualExecutor(Clock* clock);
  ~ManualExecutor() override;

  void Schedule(std::shared_ptr<Task> task) override;
  void Shutdown() override;
  size_t NumTasks() const override;
  Clock& clock() const override { return *clock_; }
  void Notify(Task& task) override;

  // Runs the earliest ready task (wake time <= now) of `group` (any group if nullopt).
  // Returns false if none was ready.
  bool RunOne(std::optional<TaskGroup> group = std::nullopt);
  // Runs ready tasks until none is ready or `max_runs` runs happened. Returns runs done.
  size_t RunReady(std::optional<TaskGroup> group = std::nullopt, size_t max_runs = 100000);
  // Number of tasks ready to run now in `group` (any if nullopt).
  size_t NumReady(std::optional<TaskGroup> group = std::nullopt) const;
  // The earliest wake time of any held task of `group`, if any (SteadyTime::max() if parked).
  std::optional<SteadyTime> NextWakeTime(std::optional<TaskGroup> group = std::nullopt) const;
  // True if a task with this name is held.
  bool HasTask(std::string_view name) const;

 private:
  struct Entry {
    std::shared_ptr<Task> task;  // the executor's reference
    bool running = false;        // inside RunOne(); not eligible to run, Notify() defers
    SteadyTime wake;             // when it may run next (meaningful while not running)
    uint64_t seq = 0;            // when it was last (re)queued; breaks wake-time ties
  };
  using TaskMap = std::map<uint64_t, Entry>;

  // The ready task of `group` with the earliest (wake, seq), or end().
  TaskMap::iterator FindReady(std::optional<TaskGroup> group, SteadyTime now) REQUIRES(mu_);
  void Requeue(Entry& entry, SteadyTime when) REQUIRES(mu_);
  static bool InGroup(const Entry& entry, std::optional<TaskGroup> group);

  // ---- Constant after construction ----
  Clock* const clock_;

  // ---- Protected by mu_ ----
  mutable Mutex mu_;
  // All held tasks (queued or running) by id.
  TaskMap tasks_ GUARDED_BY(mu_);
  uint64_t next_seq_ GUARDED_BY(mu_) = 0;
  bool shutdown_ GUARDED_BY(mu_) = false;
};

}  // namespace sluice::executor
