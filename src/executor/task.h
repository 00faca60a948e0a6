// File: executor/task.h
//
// Task: one kind of background work (a flusher shard, the expiry pager, a connection's backfill
// manager, ...), run by an Executor on one of four task groups.
//
// The run() contract (keep every run short; the scheduler is not preemptive):
//   - Run() does one slice of work and returns true to be run again, false when it is done.
//   - Returning true runs it again as soon as a thread is free, unless Snooze(d) was called
//     during this run: then it runs again after d (or earlier if Wake() is called).
//   - SnoozeForever() during a run parks the task until Wake().
//   - Returning false, or Cancel() from any thread, ends the task: the executor drops its reference
//     and never runs it again. A run already in progress completes first.
//   - A task is scheduled at most once; schedule a new Task object to run the work again.
//   - Snooze()/SnoozeForever() before Schedule() delay the first run (measured on the executor's
//     clock from Schedule()); Wake() before Schedule() clears such a delay.
//   - Run() must not throw, and must not call Executor::Shutdown().
//
// Ownership: shared. The executor holds a shared_ptr from Schedule() until the task ends (returns
// false or is cancelled); whoever created it may keep its own shared_ptr to wake or cancel it. A
// task that needs its owner holds a weak_ptr to it, promotes it once at the start of Run() and
// drops it before returning, and cancels itself if the owner is gone. Never hold a strong
// reference to the owner between runs (that would be a cycle: owner -> task -> owner).
// Whoever calls Wake()/Cancel()/Snooze() must hold a reference to the task (or be its Run()):
// Cancel() may drop the executor's reference before it returns. The executor must outlive every
// such call (a task remembers the executor it was scheduled on).
//
// Thread safety: Wake(), Cancel(), Snooze() and the accessors are thread-safe. Run() is called by
// one executor thread at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/clock.h"

namespace sluice::executor {

enum class TaskGroup : uint8_t {
  kReader = 0,  // background fetches of evicted values
  kWriter = 1,  // flushers
  kAuxIO = 2,   // DCP backfills
  kNonIO = 3,   // pagers, checkpoint remover, connection housekeeping
};
inline constexpr int kNumTaskGroups = 4;
std::string_view TaskGroupName(TaskGroup group);

class Task;

// What a task sees of the executor it was scheduled on: the clock its snoozes are measured against
// and where it reports that its wake time changed. Executor implements it; declared here so that
// a task depends on this much of the executor and no more.
class TaskScheduler {
 public:
  // The clock task snoozes are measured against.
  virtual Clock& clock() const = 0;
  // The task's wake time changed (Wake/Snooze) or it was cancelled: re-evaluate it. Any thread.
  virtual void Notify(Task& task) = 0;

 protected:
  ~TaskScheduler() = default;
};

class Task : public std::enable_shared_from_this<Task> {
 public:
  Task(TaskGroup group, std::string name);
  virtual ~Task();
  Task(const Task&) = delete;
  Task& operator=(const Task&) = delete;

  // One slice of work; see the contract above.
  virtual bool Run() = 0;

  // Run no earlier than `d` from now (or when woken). Thread-safe; typically called in Run().
  void Snooze(Duration d);
  // Park until Wake(). Thread-safe.
  void SnoozeForever();
  // Run as soon as possible: cuts a snooze short; if called during a run, the task runs again
  // right after this run even if the run snoozed. No effect on an ended task.
  void Wake();
  // Never run again. Idempotent. If called during a run, the run completes and the task ends.
  // The executor releases its reference promptly, without waiting for any snooze to expire.
  void Cancel();

  // Sequentially consistent (as are executor() and AttachExecutor()): a Cancel() racing with
  // Schedule() is seen either by Cancel() (it notifies the executor) or by Schedule().
  bool IsCancelled() const { return cancelled_.load(); }
  TaskGroup group() const { return group_; }
  const std::string& name() const { return name_; }
  uint64_t id() const { return id_; }

  // ---- for Executor implementations only ----
  // The executor this task was scheduled on (null before Schedule()).
  TaskScheduler* executor() const { return executor_.load(); }
  // Called once, by Schedule(), before the executor reads WakeTime(): records `e` and turns a
  // delay requested before scheduling into a wake time on e's clock (now if none).
  void AttachExecutor(TaskScheduler* e);
  // The time the task asked to run next; SteadyTime::max() when parked.
  SteadyTime WakeTime() const { return SteadyTime(Duration(wake_time_.load())); }
  void SetWakeTime(SteadyTime t) { wake_time_.store(t.time_since_epoch().count()); }
  // True once since the last call if Wake() was called (consumed by the executor).
  bool ConsumeWakeRequest() { return wake_requested_.exchange(false); }
  // True if the last run called Snooze/SnoozeForever (consumed by the executor).
  bool ConsumeSnoozeRequest() { return snooze_requested_.exchange(false); }

 private:
  // ---- Constant after construction ----
  const TaskGroup group_;
  const std::string name_;
  const uint64_t id_;

  // ---- Atomics: set from any thread, read and consumed by the executor under its own lock ----
  std::atomic<TaskScheduler*> executor_{nullptr};
  // Delay asked for before Schedule(), as a Duration count; kForever when parked.
  static constexpr Duration::rep kForever = Duration::max().count();
  std::atomic<Duration::rep> initial_delay_{0};
  std::atomic<Duration::rep> wake_time_{0};
  std::atomic<bool> wake_requested_{false};
  std::atomic<bool> snooze_requested_{false};
  std::atomic<bool> cancelled_{false};
};

// A Task from a callable, for simple periodic work: `fn` returns what Run() returns.
template <class Fn>
class LambdaTask final : public Task {
 public:
  LambdaTask(TaskGroup group, std::string name, Fn fn)
      : Task(group, std::move(name)), fn_(std::move(fn)) {}
  bool Run() override { return fn_(*this); }

 private:
  Fn fn_;
};

template <class Fn>
std::shared_ptr<Task> MakeTask(TaskGroup group, std::string name, Fn fn) {
  return std::make_shared<LambdaTask<Fn>>(group, std::move(name), std::move(fn));
}

}  // namespace sluice::executor
