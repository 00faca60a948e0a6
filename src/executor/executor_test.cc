// Tests for ThreadPoolExecutor. Everything waits on Counters (conditions), never on sleeps; the
// concurrent tests are meant to be repeated under TSan (--gtest_repeat).
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "executor/thread_pool_executor.h"
#include "testing/executor_util.h"

namespace sluice::executor {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using testing::Counter;
using testing::MakeTestTask;
using testing::OnDestroy;
using testing::TestTask;

constexpr TaskGroup kAllGroups[] = {TaskGroup::kReader, TaskGroup::kWriter, TaskGroup::kAuxIO,
                                    TaskGroup::kNonIO};

TEST(ThreadPoolExecutorTest, MakeThreadPoolExecutorUsesTheGivenClock) {
  FakeClock clock;
  auto executor = MakeThreadPoolExecutor(ThreadCounts{}, &clock);
  EXPECT_EQ(&executor->clock(), &clock);
  auto real = MakeThreadPoolExecutor(ThreadCounts{});
  EXPECT_EQ(&real->clock(), Clock::Real());
}

TEST(ThreadPoolExecutorTest, RunsOnceAndReleases) {
  Counter destroyed;
  ThreadPoolExecutor executor(ThreadCounts{}, Clock::Real());
  auto task = MakeTestTask(
      TaskGroup::kWriter, "w", [](TestTask&) { return false; }, &destroyed);
  std::weak_ptr<TestTask> weak = task;
  executor.Schedule(std::move(task));
  destroyed.WaitFor(1);  // the executor dropped the only reference
  EXPECT_EQ(executor.NumTasks(), 0u);
  EXPECT_TRUE(weak.expired());
}

// A group's nice increment applies to its own workers only (Linux keeps one per thread).
TEST(ThreadPoolExecutorTest, NiceIncrementAppliesToItsGroupsWorkersOnly) {
  errno = 0;
  const int base = ::getpriority(PRIO_PROCESS, 0);
  ASSERT_EQ(errno, 0);
  // Declared before the executor, so the workers are joined before they go: a task's destructor
  // may still be inside done.Add when WaitFor returns.
  std::atomic<int> writer_nice{-100};
  std::atomic<int> reader_nice{-100};
  Counter done;
  ThreadCounts counts;
  counts.nice[static_cast<size_t>(TaskGroup::kWriter)] = 5;
  ThreadPoolExecutor executor(counts, Clock::Real());
  auto record = [](std::atomic<int>* out) {
    return [out](TestTask&) {
      out->store(::getpriority(PRIO_PROCESS, static_cast<id_t>(::syscall(SYS_gettid))));
      return false;
    };
  };
  executor.Schedule(MakeTestTask(TaskGroup::kWriter, "w", record(&writer_nice), &done));
  executor.Schedule(MakeTestTask(TaskGroup::kReader, "r", record(&reader_nice), &done));
  done.WaitFor(2);
  EXPECT_EQ(writer_nice.load(), std::min(base + 5, 19));
  EXPECT_EQ(reader_nice.load(), base);
}

TEST(ThreadPoolExecutorTest, RunsAgainUntilFalse) {
  Counter ran, destroyed;
  ThreadPoolExecutor executor(ThreadCounts{}, Clock::Real());
  executor.Schedule(MakeTestTask(
      TaskGroup::kAuxIO, "a", [](TestTask& t) { return t.runs() < 100; }, &destroyed, &ran));
  destroyed.WaitFor(1);
  EXPECT_EQ(ran.value(), 100);
  EXPECT_EQ(executor.NumTasks(), 0u);
}

TEST(ThreadPoolExecutorTest, SnoozeForeverThenWake) {
  Counter ran;
  ThreadPoolExecutor executor(ThreadCounts{}, Clock::Real());
  auto task = MakeTestTask(
      TaskGroup::kNonIO, "parked",
      [](TestTask& t) {
        t.SnoozeForever();
        return true;
      },
      nullptr, &ran);
  executor.Schedule(task);
  ran.WaitFor(1);
  for (int i = 2; i <= 20; ++i) {
    // Each Wake() after the previous run produces exactly one more run (a Wake() that lands
    // while the run is still finishing also counts: it runs again right after).
    task->Wake();
    ran.WaitFor(i);
  }
  EXPECT_GE(task->runs(), 20);
  EXPECT_EQ(executor.NumTasks(), 1u);
}

TEST(ThreadPoolExecutorTest, ShortSnoozeExpiresByItself) {
  // A real-clock snooze of 1ms expires by itself (the worker's timed wait), no Wake() needed.
  Counter ran;
  ThreadPoolExecutor executor(ThreadCounts{}, Clock::Real());
  executor.Schedule(MakeTestTask(
      TaskGroup::kReader, "r",
      [](TestTask& t) {
        t.Snooze(milliseconds(1));
        return t.runs() < 5;
      },
      nullptr, &ran));
  ran.WaitFor(5);
}

TEST(ThreadPoolExecutorTest, WakeDuringRunRunsAgainDespiteSnooze) {
  Counter in_run, ran;
  Counter proceed;
  ThreadPoolExecutor executor(ThreadCounts{}, Clock::Real());
  auto task = MakeTestTask(
      TaskGroup::kWriter, "w",
      [&](TestTask& t) {
        if (t.runs() == 1) {
          in_run.Add();
          proceed.WaitFor(1);  // the test calls Wake() meanwhile
        }
        t.Snooze(hours(1));
        return true;
      },
      nullptr, &ran);
  executor.Schedule(task);
  in_run.WaitFor(1);
  task->Wake();
  proceed.Add();
  ran.WaitFor(2);  // would hang for an hour if the wake were lost
  EXPECT_EQ(task->runs(), 2);
}

TEST(ThreadPoolExecutorTest, CancelOfSnoozingTaskReleasesReferenceImmediately) {
  Counter destroyed;
  ThreadPoolExecutor executor(ThreadCounts{}, Clock::Real());
  auto snoozing = MakeTestTask(
      TaskGroup::kAuxIO, "snoozing", [](TestTask&) { return true; }, &destroyed);
  snoozing->Snooze(hours(1));
  auto parked = MakeTestTask(
      TaskGroup::kAuxIO, "parked", [](TestTask&) { return true; }, &destroyed);
  parked->SnoozeForever();
  std::weak_ptr<Task> weak_snoozing = snoozing, weak_parked = parked;
  executor.Schedule(snoozing);
  executor.Schedule(parked);
  EXPECT_EQ(executor.NumTasks(), 2u);

  snoozing->Cancel();
  parked->Cancel();
  // Synchronous: once Cancel() returns, the executor no longer holds the tasks.
  EXPECT_EQ(executor.NumTasks(), 0u);
  EXPECT_EQ(snoozing.use_count(), 1);
  EXPECT_EQ(parked.use_count(), 1);
  snoozing.reset();
  parked.reset();
  EXPECT_TRUE(weak_snoozing.expired());
  EXPECT_TRUE(weak_parked.expired());
  EXPECT_EQ(destroyed.value(), 2);
}

TEST(ThreadPoolExecutorTest, CancelDuringRunFromAnotherThread) {
  Counter in_run, proceed, destroyed;
  ThreadPoolExecutor executor(ThreadCounts{}, Clock::Real());
  auto task = MakeTestTask(
      TaskGroup::kNonIO, "t",
      [&](TestTask&) {
        in_run.Add();
        proceed.WaitFor(1);
        return true;  // ignored: cancelled during the run
      },
      &destroyed);
  std::weak_ptr<Task> weak = task;
  executor.Schedule(task);
  in_run.WaitFor(1);
  task->Cancel();
  EXPECT_EQ(executor.NumTasks(), 1u);  // the run in progress completes first
  EXPECT_EQ(task->runs(), 1);
  task.reset();
  proceed.Add();
  destroyed.WaitFor(1);
  EXPECT_EQ(executor.NumTasks(), 0u);
  EXPECT_TRUE(weak.expired());
}

TEST(ThreadPoolExecutorTest, TaskDestructorSchedulesAndCancelsWithoutDeadlock) {
  Counter follow_up_ran, destroyed;
  ThreadPoolExecutor executor(ThreadCounts{}, Clock::Real());
  auto victim = MakeTestTask(
      TaskGroup::kNonIO, "victim", [](TestTask&) { return true; }, &destroyed);
  victim->SnoozeForever();
  executor.Schedule(victim);
  auto follow_up = MakeTestTask(
      TaskGroup::kReader, "follow-up", [](TestTask&) { return false; }, &destroyed, &follow_up_ran);
  auto guard = std::make_shared<OnDestroy>([&executor, victim, follow_up]() mutable {
    victim->Cancel();  // first: the follow-up's run below is what the test waits for
    executor.Schedule(std::move(follow_up));
  });
  // Ends after one run, on a worker thread: its destructor runs there, re-entering the executor.
  executor.Schedule(
      MakeTask(TaskGroup::kWriter, "first", [guard = std::move(guard)](Task&) { return false; }));
  follow_up.reset();
  follow_up_ran.WaitFor(1);
  destroyed.WaitFor(1);  // follow-up (victim is still held by us)
  EXPECT_TRUE(victim->IsCancelled());
  victim.reset();
  destroyed.WaitFor(2);
  EXPECT_EQ(executor.NumTasks(), 0u);
}

TEST(ThreadPoolExecutorTest, ShutdownReleasesTasksWhoseDestructorsCallBack) {
  Counter destroyed;
  ThreadPoolExecutor executor(ThreadCounts{}, Clock::Real());
  auto other = MakeTestTask(
      TaskGroup::kNonIO, "other", [](TestTask&) { return true; }, &destroyed);
  other->SnoozeForever();
  executor.Schedule(other);
  auto late = MakeTestTask(
      TaskGroup::kNonIO, "late", [](TestTask&) { return true; }, &destroyed);
  auto guard = std::make_shared<OnDestroy>([&executor, other, late]() mutable {
    other->Cancel();
    executor.Schedule(std::move(late));  // after shutdown: cancelled, released at once
  });
  auto task =
      MakeTask(TaskGroup::kNonIO, "calls-back", [guard = std::move(guard)](Task&) { return true; });
  task->SnoozeForever();
  executor.Schedule(std::move(task));
  other.reset();
  late.reset();
  EXPECT_EQ(executor.NumTasks(), 2u);

  executor.Shutdown();  // drops "calls-back" (outside its lock): its destructor re-enters
  EXPECT_EQ(destroyed.value(), 2);
  EXPECT_EQ(executor.NumTasks(), 0u);
}

TEST(ThreadPoolExecutorTest, ManyTasksAcrossGroups) {
  constexpr int kTasksPerGroup = 25;
  constexpr int kRunsPerTask = 40;
  Counter ran, destroyed;
  ThreadPoolExecutor executor(ThreadCounts{{2, 3, 1, 2}}, Clock::Real());
  std::vector<std::shared_ptr<TestTask>> tasks;
  for (TaskGroup group : kAllGroups) {
    for (int i = 0; i < kTasksPerGroup; ++i) {
      // A mix of behaviours: plain reruns and tiny real-clock snoozes.
      auto task = MakeTestTask(
          group, std::string(TaskGroupName(group)) + "-" + std::to_string(i),
          [i](TestTask& t) {
            if (i % 3 == 1) t.Snooze(std::chrono::microseconds(50));
            return t.runs() < kRunsPerTask;
          },
          &destroyed, &ran);
      tasks.push_back(task);
    }
  }
  for (auto& task : tasks) executor.Schedule(task);
  ran.WaitFor(static_cast<int>(tasks.size()) * kRunsPerTask);
  for (auto& task : tasks) EXPECT_EQ(task->runs(), kRunsPerTask) << task->name();
  tasks.clear();
  destroyed.WaitFor(kNumTaskGroups * kTasksPerGroup);
  EXPECT_EQ(executor.NumTasks(), 0u);
}

TEST(ThreadPoolExecutorTest, ConcurrentWakesNeverRunATaskTwiceAtOnce) {
  Counter ran;
  ThreadPoolExecutor executor(ThreadCounts{{4, 4, 4, 4}}, Clock::Real());
  auto task = MakeTestTask(
      TaskGroup::kWriter, "woken",
      [](TestTask& t) {
        t.SnoozeForever();
        return true;
      },
      nullptr, &ran);  // TestTask::Run() fails the test if two threads run it at once
  executor.Schedule(task);
  std::vector<std::thread> wakers;
  for (int w = 0; w < 4; ++w) {
    wakers.emplace_back([&task] {
      for (int i = 0; i < 500; ++i) task->Wake();
    });
  }
  for (auto& waker : wakers) waker.join();
  // A final wake after all the others is always followed by a run.
  const int before = ran.value();
  task->Wake();
  ran.WaitFor(before + 1);
  executor.Shutdown();
}

TEST(ThreadPoolExecutorTest, CancelRacingWithScheduleNeverLeaksTheTask) {
  constexpr int kTasks = 200;
  Counter destroyed;
  ThreadPoolExecutor executor(ThreadCounts{{1, 1, 1, 1}}, Clock::Real());
  for (int i = 0; i < kTasks; ++i) {
    auto task = MakeTestTask(
        TaskGroup::kNonIO, "parked", [](TestTask&) { return true; }, &destroyed);
    task->SnoozeForever();  // only Cancel() can end it
    std::thread canceller([task] { task->Cancel(); });
    executor.Schedule(task);
    task.reset();
    canceller.join();
  }
  destroyed.WaitFor(kTasks);  // hangs if a cancel were lost
  EXPECT_EQ(executor.NumTasks(), 0u);
}

TEST(ThreadPoolExecutorTest, ShutdownWithRunningAndSnoozingTasks) {
  Counter in_run, destroyed;
  ThreadPoolExecutor executor(ThreadCounts{}, Clock::Real());
  auto running = MakeTestTask(
      TaskGroup::kWriter, "running",
      [&](TestTask& t) {
        in_run.Add();
        // A long run that checks for cancellation, as long runs should: Shutdown() cancels it.
        while (!t.IsCancelled()) std::this_thread::yield();
        return true;
      },
      &destroyed);
  auto snoozing = MakeTestTask(
      TaskGroup::kReader, "snoozing", [](TestTask&) { return true; }, &destroyed);
  snoozing->Snooze(hours(1));
  std::weak_ptr<Task> weak_running = running, weak_snoozing = snoozing;
  executor.Schedule(std::move(running));
  executor.Schedule(std::move(snoozing));
  in_run.WaitFor(1);

  executor.Shutdown();  // returns after the running task's run has finished
  EXPECT_EQ(destroyed.value(), 2);
  EXPECT_TRUE(weak_running.expired());
  EXPECT_TRUE(weak_snoozing.expired());
  EXPECT_EQ(executor.NumTasks(), 0u);

  executor.Shutdown();  // idempotent
  auto late = MakeTestTask(TaskGroup::kWriter, "late", [](TestTask&) { return true; });
  executor.Schedule(late);
  EXPECT_TRUE(late->IsCancelled());
  EXPECT_EQ(late->runs(), 0);
  EXPECT_EQ(late.use_count(), 1);
  EXPECT_EQ(executor.NumTasks(), 0u);
}

TEST(ThreadPoolExecutorTest, ConcurrentShutdownCallsBothWait) {
  Counter in_run, proceed;
  ThreadPoolExecutor executor(ThreadCounts{}, Clock::Real());
  std::atomic<bool> run_finished{false};
  executor.Schedule(MakeTestTask(TaskGroup::kNonIO, "t", [&](TestTask&) {
    in_run.Add();
    proceed.WaitFor(1);
    run_finished.store(true);
    return false;
  }));
  in_run.WaitFor(1);
  std::thread other([&] {
    executor.Shutdown();
    EXPECT_TRUE(run_finished.load());
  });
  std::thread releaser([&] { proceed.Add(); });
  executor.Shutdown();
  EXPECT_TRUE(run_finished.load());
  other.join();
  releaser.join();
}

TEST(ThreadPoolExecutorTest, DestructorShutsDown) {
  Counter destroyed;
  {
    ThreadPoolExecutor executor(ThreadCounts{}, Clock::Real());
    auto task = MakeTestTask(
        TaskGroup::kNonIO, "t", [](TestTask&) { return true; }, &destroyed);
    task->SnoozeForever();
    executor.Schedule(std::move(task));
  }
  EXPECT_EQ(destroyed.value(), 1);
}

}  // namespace
}  // namespace sluice::executor
