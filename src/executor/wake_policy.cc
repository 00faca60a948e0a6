#include "executor/wake_policy.h"

#include <algorithm>

namespace sluice::executor {

SteadyTime WakeTimeAfterRun(Task& task, SteadyTime now) {
  const bool woken = task.ConsumeWakeRequest();
  const bool snoozed = task.ConsumeSnoozeRequest();
  const SteadyTime when = (!woken && snoozed) ? task.WakeTime() : now;
  task.SetWakeTime(when);
  return when;
}

SteadyTime WakeTimeWhileQueued(Task& task, SteadyTime now) {
  task.ConsumeSnoozeRequest();
  // A wake never postpones a task that was already ready.
  const SteadyTime when =
      task.ConsumeWakeRequest() ? std::min(task.WakeTime(), now) : task.WakeTime();
  task.SetWakeTime(when);
  return when;
}

void ClearRequestsBeforeRun(Task& task) {
  task.ConsumeWakeRequest();
  task.ConsumeSnoozeRequest();
}

}  // namespace sluice::executor
