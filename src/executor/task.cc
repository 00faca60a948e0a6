#include "executor/task.h"

#include <algorithm>
#include <atomic>
#include <utility>

namespace sluice::executor {
namespace {

// `t + d`, clamped below SteadyTime::max() (which means "parked").
SteadyTime AddDelay(SteadyTime t, Duration d) {
  if (d <= Duration::zero()) return t;
  // Keep one tick below max(): SteadyTime::max() is reserved for "parked".
  const SteadyTime limit = SteadyTime::max() - Duration(1);
  if (t >= limit || d >= limit - t) return limit;
  return t + d;
}

uint64_t NextTaskId() {
  // Ids start at 1 so that 0 can mean "no task".
  static std::atomic<uint64_t> next_id{1};
  return next_id.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

std::string_view TaskGroupName(TaskGroup group) {
  switch (group) {
    case TaskGroup::kReader:
      return "reader";
    case TaskGroup::kWriter:
      return "writer";
    case TaskGroup::kAuxIO:
      return "auxio";
    case TaskGroup::kNonIO:
      return "nonio";
  }
  return "unknown";
}

Task::Task(TaskGroup group, std::string name)
    : group_(group), name_(std::move(name)), id_(NextTaskId()) {}

Task::~Task() = default;

void Task::AttachExecutor(TaskScheduler* e) {
  executor_.store(e);
  if (e == nullptr) return;
  const Duration::rep delay = initial_delay_.load();
  SetWakeTime(delay == kForever ? SteadyTime::max() : AddDelay(e->clock().Now(), Duration(delay)));
}

void Task::Snooze(Duration d) {
  TaskScheduler* e = executor();
  if (e == nullptr) {
    initial_delay_.store(d >= Duration::max() ? kForever : std::max(d, Duration::zero()).count());
    return;
  }
  SetWakeTime(AddDelay(e->clock().Now(), d));
  snooze_requested_.store(true);
  e->Notify(*this);
}

void Task::SnoozeForever() {
  TaskScheduler* e = executor();
  if (e == nullptr) {
    initial_delay_.store(kForever);
    return;
  }
  SetWakeTime(SteadyTime::max());
  snooze_requested_.store(true);
  e->Notify(*this);
}

void Task::Wake() {
  if (IsCancelled()) return;
  TaskScheduler* e = executor();
  if (e == nullptr) {
    initial_delay_.store(0);
    return;
  }
  wake_requested_.store(true);
  e->Notify(*this);
}

void Task::Cancel() {
  if (cancelled_.exchange(true)) return;  // idempotent
  // Read after setting the flag: pairs with Schedule(), which attaches before checking the flag.
  if (TaskScheduler* e = executor(); e != nullptr) e->Notify(*this);
}

}  // namespace sluice::executor
