// Tests for Task and ManualExecutor: the run() contract, driven deterministically by a FakeClock.
#include "testing/manual_executor.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "testing/executor_util.h"

namespace sluice::executor {
namespace {

using std::chrono::hours;
using std::chrono::seconds;
using testing::Counter;
using testing::MakeTestTask;
using testing::OnDestroy;
using testing::TestTask;

class ManualExecutorTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  ManualExecutor executor_{&clock_};
};

TEST(TaskTest, GroupNamesAndUniqueIds) {
  EXPECT_EQ(TaskGroupName(TaskGroup::kReader), "reader");
  EXPECT_EQ(TaskGroupName(TaskGroup::kWriter), "writer");
  EXPECT_EQ(TaskGroupName(TaskGroup::kAuxIO), "auxio");
  EXPECT_EQ(TaskGroupName(TaskGroup::kNonIO), "nonio");
  std::set<uint64_t> ids;
  for (int i = 0; i < 100; ++i) {
    auto task = MakeTask(TaskGroup::kNonIO, "t", [](Task&) { return false; });
    EXPECT_NE(task->id(), 0u);
    ids.insert(task->id());
    EXPECT_EQ(task->executor(), nullptr);
    EXPECT_EQ(task->name(), "t");
    EXPECT_EQ(task->group(), TaskGroup::kNonIO);
  }
  EXPECT_EQ(ids.size(), 100u);
}

TEST_F(ManualExecutorTest, NothingRunsUntilAsked) {
  auto task = MakeTestTask(TaskGroup::kWriter, "w", [](TestTask&) { return false; });
  executor_.Schedule(task);
  EXPECT_EQ(task->executor(), &executor_);
  EXPECT_EQ(task->runs(), 0);
  EXPECT_EQ(executor_.NumTasks(), 1u);
  EXPECT_EQ(executor_.NumReady(), 1u);
  EXPECT_TRUE(executor_.HasTask("w"));
  EXPECT_FALSE(executor_.HasTask("x"));
}

TEST_F(ManualExecutorTest, ReturningFalseRunsOnceAndReleases) {
  Counter destroyed;
  auto task = MakeTestTask(
      TaskGroup::kWriter, "w", [](TestTask&) { return false; }, &destroyed);
  std::weak_ptr<Task> weak = task;
  executor_.Schedule(std::move(task));
  EXPECT_TRUE(executor_.RunOne());
  EXPECT_FALSE(executor_.RunOne());
  EXPECT_EQ(executor_.NumTasks(), 0u);
  EXPECT_TRUE(weak.expired());
  EXPECT_EQ(destroyed.value(), 1);
}

TEST_F(ManualExecutorTest, ReturningTrueRunsAgain) {
  auto task = MakeTestTask(TaskGroup::kAuxIO, "a", [](TestTask& t) { return t.runs() < 5; });
  executor_.Schedule(task);
  EXPECT_EQ(executor_.RunReady(), 5u);
  EXPECT_EQ(task->runs(), 5);
  EXPECT_EQ(executor_.NumTasks(), 0u);
  EXPECT_EQ(task.use_count(), 1);  // only ours
}

TEST_F(ManualExecutorTest, RunReadyStopsAtMaxRuns) {
  auto task = MakeTestTask(TaskGroup::kNonIO, "forever", [](TestTask&) { return true; });
  executor_.Schedule(task);
  EXPECT_EQ(executor_.RunReady(std::nullopt, 7), 7u);
  EXPECT_EQ(task->runs(), 7);
  EXPECT_EQ(executor_.NumReady(), 1u);
}

TEST_F(ManualExecutorTest, SnoozeIsHonoured) {
  auto task = MakeTestTask(TaskGroup::kWriter, "w", [](TestTask& t) {
    t.Snooze(seconds(10));
    return true;
  });
  executor_.Schedule(task);
  const SteadyTime start = clock_.Now();
  ASSERT_TRUE(executor_.RunOne());
  EXPECT_EQ(executor_.NumReady(), 0u);
  EXPECT_EQ(executor_.NextWakeTime(), start + seconds(10));
  EXPECT_EQ(task->WakeTime(), start + seconds(10));

  clock_.Advance(seconds(9));
  EXPECT_FALSE(executor_.RunOne());
  clock_.Advance(seconds(1));
  EXPECT_EQ(executor_.NumReady(), 1u);
  EXPECT_TRUE(executor_.RunOne());
  EXPECT_EQ(task->runs(), 2);
  EXPECT_EQ(executor_.NextWakeTime(), start + seconds(20));
}

TEST_F(ManualExecutorTest, SnoozeFromAnEarlierRunDoesNotCarryOver) {
  auto task = MakeTestTask(TaskGroup::kWriter, "w", [](TestTask& t) {
    if (t.runs() == 1) t.Snooze(seconds(10));
    return true;
  });
  executor_.Schedule(task);
  ASSERT_TRUE(executor_.RunOne());
  clock_.Advance(seconds(10));
  ASSERT_TRUE(executor_.RunOne());  // did not snooze this time: ready straight away
  EXPECT_EQ(executor_.NumReady(), 1u);
}

TEST_F(ManualExecutorTest, SnoozeBeforeScheduleDelaysFirstRun) {
  clock_.Advance(hours(1));  // the delay counts from Schedule(), on the executor's clock
  auto task = MakeTestTask(TaskGroup::kWriter, "w", [](TestTask&) { return false; });
  task->Snooze(seconds(5));
  executor_.Schedule(task);
  EXPECT_EQ(executor_.NextWakeTime(), clock_.Now() + seconds(5));
  EXPECT_FALSE(executor_.RunOne());
  clock_.Advance(seconds(5));
  EXPECT_TRUE(executor_.RunOne());
}

TEST_F(ManualExecutorTest, SnoozeForeverParksUntilWake) {
  auto task = MakeTestTask(TaskGroup::kNonIO, "parked", [](TestTask& t) {
    t.SnoozeForever();
    return true;
  });
  executor_.Schedule(task);
  ASSERT_TRUE(executor_.RunOne());
  EXPECT_EQ(executor_.NextWakeTime(), SteadyTime::max());
  clock_.Advance(hours(24 * 365));
  EXPECT_FALSE(executor_.RunOne());

  task->Wake();
  EXPECT_EQ(executor_.NumReady(), 1u);
  EXPECT_TRUE(executor_.RunOne());
  EXPECT_EQ(task->runs(), 2);
  EXPECT_FALSE(executor_.RunOne());  // parked again
}

TEST_F(ManualExecutorTest, SnoozeForeverBeforeScheduleAndWake) {
  auto task = MakeTestTask(TaskGroup::kNonIO, "parked", [](TestTask&) { return false; });
  task->SnoozeForever();
  executor_.Schedule(task);
  EXPECT_FALSE(executor_.RunOne());
  task->Wake();
  EXPECT_TRUE(executor_.RunOne());
}

TEST_F(ManualExecutorTest, WakeCutsSnoozeShort) {
  auto task = MakeTestTask(TaskGroup::kWriter, "w", [](TestTask& t) {
    t.Snooze(hours(1));
    return true;
  });
  executor_.Schedule(task);
  ASSERT_TRUE(executor_.RunOne());
  EXPECT_FALSE(executor_.RunOne());
  task->Wake();
  EXPECT_EQ(executor_.NextWakeTime(), clock_.Now());
  EXPECT_TRUE(executor_.RunOne());
}

TEST_F(ManualExecutorTest, WakeDuringRunBeatsSnoozeInTheSameRun) {
  auto task = MakeTestTask(TaskGroup::kWriter, "w", [](TestTask& t) {
    t.Snooze(hours(1));
    if (t.runs() == 1) t.Wake();  // e.g. another thread queued more work mid-run
    return true;
  });
  executor_.Schedule(task);
  ASSERT_TRUE(executor_.RunOne());
  EXPECT_TRUE(executor_.RunOne());   // woken during run 1: runs again now
  EXPECT_FALSE(executor_.RunOne());  // run 2 only snoozed
  EXPECT_EQ(task->runs(), 2);
}

TEST_F(ManualExecutorTest, SnoozeFromOutsideWhileQueued) {
  auto task = MakeTestTask(TaskGroup::kWriter, "w", [](TestTask&) { return true; });
  executor_.Schedule(task);
  task->Snooze(seconds(3));
  EXPECT_FALSE(executor_.RunOne());
  clock_.Advance(seconds(3));
  EXPECT_TRUE(executor_.RunOne());
  EXPECT_TRUE(executor_.RunOne());  // the outside snooze applied once, not to later runs
}

TEST_F(ManualExecutorTest, CancelOfSnoozingTaskReleasesReferenceImmediately) {
  Counter destroyed;
  auto task = MakeTestTask(
      TaskGroup::kAuxIO, "backfill",
      [](TestTask& t) {
        t.Snooze(hours(1));
        return true;
      },
      &destroyed);
  std::weak_ptr<Task> weak = task;
  executor_.Schedule(task);
  ASSERT_TRUE(executor_.RunOne());
  ASSERT_EQ(task.use_count(), 2);  // ours and the executor's

  task->Cancel();
  EXPECT_TRUE(task->IsCancelled());
  EXPECT_EQ(task.use_count(), 1);  // the executor let go without waiting out the snooze
  EXPECT_EQ(executor_.NumTasks(), 0u);
  task.reset();
  EXPECT_TRUE(weak.expired());
  EXPECT_EQ(destroyed.value(), 1);
}

TEST_F(ManualExecutorTest, CancelIsIdempotentAndWakeAfterCancelDoesNothing) {
  auto task = MakeTestTask(TaskGroup::kAuxIO, "t", [](TestTask&) { return true; });
  executor_.Schedule(task);
  task->Cancel();
  task->Cancel();
  task->Wake();
  task->Snooze(seconds(1));
  EXPECT_EQ(executor_.NumTasks(), 0u);
  EXPECT_FALSE(executor_.RunOne());
  EXPECT_EQ(task->runs(), 0);
}

TEST_F(ManualExecutorTest, CancelDuringRunCompletesTheRunThenEnds) {
  auto task = MakeTestTask(TaskGroup::kNonIO, "t", [](TestTask& t) {
    t.Cancel();
    EXPECT_TRUE(t.IsCancelled());
    return true;  // ignored: cancelled
  });
  executor_.Schedule(task);
  EXPECT_TRUE(executor_.RunOne());
  EXPECT_EQ(task->runs(), 1);
  EXPECT_EQ(executor_.NumTasks(), 0u);
  EXPECT_EQ(task.use_count(), 1);
}

TEST_F(ManualExecutorTest, CancelBeforeScheduleNeverRuns) {
  auto task = MakeTestTask(TaskGroup::kNonIO, "t", [](TestTask&) { return true; });
  task->Cancel();
  executor_.Schedule(task);
  EXPECT_EQ(executor_.NumTasks(), 0u);
  EXPECT_FALSE(executor_.RunOne());
  EXPECT_EQ(task.use_count(), 1);
}

TEST_F(ManualExecutorTest, SchedulingTwiceIsIgnored) {
  auto task = MakeTestTask(TaskGroup::kNonIO, "t", [](TestTask&) { return false; });
  executor_.Schedule(task);
  executor_.Schedule(task);
  EXPECT_EQ(executor_.NumTasks(), 1u);
  EXPECT_EQ(executor_.RunReady(), 1u);
  executor_.Schedule(task);  // ended: still not run again
  EXPECT_EQ(executor_.RunReady(), 0u);
}

TEST_F(ManualExecutorTest, ReadyTasksRunInWakeTimeThenSchedulingOrder) {
  std::vector<std::string> order;
  auto make = [&](const std::string& name, int runs) {
    return MakeTestTask(TaskGroup::kWriter, name, [&order, runs](TestTask& t) {
      order.push_back(t.name());
      return t.runs() < runs;
    });
  };
  auto late = make("late", 1);
  late->Snooze(seconds(1));
  executor_.Schedule(late);
  auto b = make("b", 2);  // created before `a` but scheduled after it
  auto a = make("a", 2);
  executor_.Schedule(a);
  executor_.Schedule(b);
  executor_.Schedule(make("c", 1));
  EXPECT_EQ(executor_.RunReady(), 5u);
  // A task that returns true queues behind the tasks already waiting.
  EXPECT_EQ(order, (std::vector<std::string>{"a", "b", "c", "a", "b"}));

  clock_.Advance(seconds(1));
  EXPECT_EQ(executor_.RunReady(), 1u);
  EXPECT_EQ(order.back(), "late");
}

TEST_F(ManualExecutorTest, OverdueTaskRunsBeforeOneReadyLater) {
  std::vector<std::string> order;
  auto body = [&order](TestTask& t) {
    order.push_back(t.name());
    return false;
  };
  auto snoozed = MakeTestTask(TaskGroup::kWriter, "snoozed", body);
  snoozed->Snooze(seconds(1));
  executor_.Schedule(snoozed);
  clock_.Advance(seconds(5));
  executor_.Schedule(MakeTestTask(TaskGroup::kWriter, "fresh", body));
  executor_.RunReady();
  EXPECT_EQ(order, (std::vector<std::string>{"snoozed", "fresh"}));
}

TEST_F(ManualExecutorTest, GroupFilter) {
  auto writer = MakeTestTask(TaskGroup::kWriter, "w", [](TestTask&) { return false; });
  auto reader = MakeTestTask(TaskGroup::kReader, "r", [](TestTask&) { return false; });
  reader->Snooze(seconds(2));
  executor_.Schedule(writer);
  executor_.Schedule(reader);
  EXPECT_EQ(executor_.NumReady(TaskGroup::kReader), 0u);
  EXPECT_EQ(executor_.NumReady(TaskGroup::kWriter), 1u);
  EXPECT_EQ(executor_.NextWakeTime(TaskGroup::kReader), clock_.Now() + seconds(2));
  EXPECT_EQ(executor_.NextWakeTime(TaskGroup::kNonIO), std::nullopt);
  EXPECT_FALSE(executor_.RunOne(TaskGroup::kReader));
  EXPECT_FALSE(executor_.RunOne(TaskGroup::kNonIO));
  EXPECT_TRUE(executor_.RunOne(TaskGroup::kWriter));
  EXPECT_EQ(writer->runs(), 1);
  EXPECT_EQ(reader->runs(), 0);
}

TEST_F(ManualExecutorTest, TaskDestructorMaySchedule) {
  auto follow_up = MakeTestTask(TaskGroup::kNonIO, "follow-up", [](TestTask&) { return false; });
  auto guard = std::make_shared<OnDestroy>([&] { executor_.Schedule(follow_up); });
  // The lambda's captures die with the task: the executor drops its last reference after the
  // run, which must be outside its lock or the destructor's Schedule() would deadlock.
  executor_.Schedule(
      MakeTask(TaskGroup::kNonIO, "first", [guard = std::move(guard)](Task&) { return false; }));
  EXPECT_TRUE(executor_.RunOne());
  EXPECT_TRUE(executor_.HasTask("follow-up"));
  EXPECT_TRUE(executor_.RunOne());
  EXPECT_EQ(follow_up->runs(), 1);
}

TEST_F(ManualExecutorTest, TaskDestructorMayCancelAndWakeOthers) {
  auto victim = MakeTestTask(TaskGroup::kNonIO, "victim", [](TestTask&) { return true; });
  victim->SnoozeForever();
  auto sleeper = MakeTestTask(TaskGroup::kNonIO, "sleeper", [](TestTask&) { return false; });
  sleeper->SnoozeForever();
  executor_.Schedule(victim);
  executor_.Schedule(sleeper);
  {
    auto guard = std::make_shared<OnDestroy>([&] {
      victim->Cancel();
      sleeper->Wake();
    });
    auto task = MakeTask(TaskGroup::kNonIO, "canceller",
                         [guard = std::move(guard)](Task&) { return true; });
    task->SnoozeForever();
    executor_.Schedule(task);
    // Cancel while queued: the executor drops its reference inside Notify() (after unlocking);
    // ours goes at the end of this scope, and the destructor re-enters the executor twice.
    task->Cancel();
    EXPECT_EQ(task.use_count(), 1);
  }
  EXPECT_TRUE(victim->IsCancelled());
  EXPECT_FALSE(executor_.HasTask("victim"));
  EXPECT_FALSE(executor_.HasTask("canceller"));
  EXPECT_EQ(executor_.RunReady(), 1u);
  EXPECT_EQ(sleeper->runs(), 1);
}

TEST_F(ManualExecutorTest, TaskMayScheduleAnotherDuringRun) {
  auto child = MakeTestTask(TaskGroup::kReader, "child", [](TestTask&) { return false; });
  auto parent = MakeTestTask(TaskGroup::kWriter, "parent", [&](TestTask&) {
    executor_.Schedule(child);
    return false;
  });
  executor_.Schedule(parent);
  EXPECT_EQ(executor_.RunReady(), 2u);
  EXPECT_EQ(child->runs(), 1);
}

TEST_F(ManualExecutorTest, ShutdownCancelsEverythingAndLaterSchedulesAreCancelled) {
  Counter destroyed;
  auto ready = MakeTestTask(
      TaskGroup::kWriter, "ready", [](TestTask&) { return true; }, &destroyed);
  auto parked = MakeTestTask(
      TaskGroup::kWriter, "parked", [](TestTask&) { return true; }, &destroyed);
  parked->SnoozeForever();
  std::weak_ptr<Task> weak_ready = ready, weak_parked = parked;
  executor_.Schedule(std::move(ready));
  executor_.Schedule(std::move(parked));
  executor_.Shutdown();
  EXPECT_EQ(executor_.NumTasks(), 0u);
  EXPECT_TRUE(weak_ready.expired());
  EXPECT_TRUE(weak_parked.expired());
  EXPECT_EQ(destroyed.value(), 2);
  executor_.Shutdown();  // idempotent

  auto late = MakeTestTask(TaskGroup::kWriter, "late", [](TestTask&) { return true; });
  executor_.Schedule(late);
  EXPECT_TRUE(late->IsCancelled());
  EXPECT_EQ(executor_.NumTasks(), 0u);
  EXPECT_FALSE(executor_.RunOne());
  EXPECT_EQ(late->runs(), 0);
  EXPECT_EQ(late.use_count(), 1);
}

TEST_F(ManualExecutorTest, ShutdownFromInsideARunEndsThatTaskAfterTheRun) {
  auto task = MakeTestTask(TaskGroup::kWriter, "t", [&](TestTask& t) {
    executor_.Shutdown();
    EXPECT_TRUE(t.IsCancelled());
    return true;
  });
  executor_.Schedule(task);
  EXPECT_TRUE(executor_.RunOne());
  EXPECT_EQ(executor_.NumTasks(), 0u);
  EXPECT_EQ(task.use_count(), 1);
}

}  // namespace
}  // namespace sluice::executor
