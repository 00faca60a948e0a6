// File: executor/wake_policy.h
//
// The rules every Executor applies to turn a task's Wake()/Snooze() requests into the time it
// runs next, kept in one place so ThreadPoolExecutor and ManualExecutor cannot drift apart. Only
// executor implementations include this file.
//
// Each function consumes the task's request flags and records the chosen time with
// Task::SetWakeTime(), so Task::WakeTime() always equals the executor's queue key.
//
// Thread safety: call with the executor's lock held; they touch only the task's atomics (no
// virtual calls), so this does not break the "never call into a task under the lock" rule.
#pragma once

#include "common/clock.h"
#include "executor/task.h"

namespace sluice::executor {

// A run returned true and the task was not cancelled: a Wake() during the run makes it ready at
// `now`; otherwise a Snooze() during the run keeps the time it set; otherwise ready at `now`.
SteadyTime WakeTimeAfterRun(Task& task, SteadyTime now);

// The task is queued (not running) and notified: a pending Wake() makes it ready at `now`;
// otherwise the time the last Snooze() set applies.
SteadyTime WakeTimeWhileQueued(Task& task, SteadyTime now);

// The task was just picked to run: drop requests made before the run began, so only those made
// during the run count in WakeTimeAfterRun().
void ClearRequestsBeforeRun(Task& task);

}  // namespace sluice::executor
