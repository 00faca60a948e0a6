// The weak-owner task pattern, as every component with background work should write it (copy
// this), with tests on both executors.
//
//   Owner ──shared_ptr──> Task        (to Wake() it when work arrives, Cancel() it on destruction)
//   Task  ──weak_ptr───> Owner        (promoted once per Run(), dropped before returning)
//   Executor ──shared_ptr──> Task     (from Schedule() until the task ends)
//
// The owner is never kept alive by its task between runs, so dropping the last outside
// reference destroys the owner, whose destructor cancels the task, and the executor releases the
// task at once (even if it is snoozing).
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "executor/executor.h"
#include "testing/executor_util.h"
#include "testing/manual_executor.h"

namespace sluice::executor {
namespace {

using testing::Counter;

// A component with background work: it drains a backlog a few items per run, then parks until
// more work arrives. Owned by whoever created it (shared_ptr, as its task needs a weak_ptr).
class Pager {
 public:
  static constexpr int kItemsPerRun = 2;

  // Creates the pager and schedules its task. `executor` must outlive the pager. Test hooks:
  // `progress` counts items done, `destroyed` is bumped by the destructor.
  static std::shared_ptr<Pager> Create(Executor* executor, Counter* progress = nullptr,
                                       Counter* destroyed = nullptr);

  // Cancels the task; the executor drops it at once even if it is parked or snoozing.
  ~Pager();

  // Any thread: queues work and wakes the task.
  void AddWork(int items);

  // Called only from PagerTask::Run(). Does one slice; returns false when the backlog is empty.
  bool RunSlice();

  int done() const {
    MutexLock lock(&mu_);
    return done_;
  }
  std::weak_ptr<Task> task() const { return task_; }

 private:
  Pager(Counter* progress, Counter* destroyed) : progress_(progress), destroyed_(destroyed) {}

  // ---- Constant after Create() ----
  std::shared_ptr<Task> task_;  // our reference, to wake or cancel it
  Counter* const progress_;
  Counter* const destroyed_;

  // ---- Protected by mu_ ----
  mutable Mutex mu_;
  int backlog_ GUARDED_BY(mu_) = 0;
  int done_ GUARDED_BY(mu_) = 0;
};

class PagerTask final : public Task {
 public:
  explicit PagerTask(std::weak_ptr<Pager> pager)
      : Task(TaskGroup::kNonIO, "pager"), pager_(std::move(pager)) {}

  bool Run() override {
    // Promote once, for this run only; `pager` is dropped when Run() returns.
    std::shared_ptr<Pager> pager = pager_.lock();
    if (pager == nullptr) {
      // The owner is being destroyed (its destructor's Cancel() has not landed yet): end.
      Cancel();
      return false;
    }
    if (!pager->RunSlice()) SnoozeForever();  // backlog empty: park until AddWork() wakes us
    return true;
  }

 private:
  // Weak: the pager owns this task; a strong pointer back would be a cycle keeping both alive.
  const std::weak_ptr<Pager> pager_;
};

std::shared_ptr<Pager> Pager::Create(Executor* executor, Counter* progress, Counter* destroyed) {
  // A factory, because the task needs a weak_ptr to the owner, which exists only once the
  // owner's shared_ptr does. (Not make_shared: the constructor is private.)
  std::shared_ptr<Pager> pager(new Pager(progress, destroyed));
  pager->task_ = std::make_shared<PagerTask>(pager);
  pager->task_->SnoozeForever();  // nothing to do yet
  executor->Schedule(pager->task_);
  return pager;
}

Pager::~Pager() {
  task_->Cancel();
  if (destroyed_ != nullptr) destroyed_->Add();
}

void Pager::AddWork(int items) {
  {
    MutexLock lock(&mu_);
    backlog_ += items;
  }
  task_->Wake();  // outside our lock: Wake() takes the executor's lock
}

bool Pager::RunSlice() {
  int n = 0;
  bool more = false;
  {
    MutexLock lock(&mu_);
    n = std::min(backlog_, kItemsPerRun);
    backlog_ -= n;
    done_ += n;
    more = backlog_ > 0;
  }
  if (progress_ != nullptr) progress_->Add(n);
  return more;
}

// ---- ManualExecutor ----

TEST(WeakOwnerTest, ParksWhenIdleAndDrainsWhenWoken) {
  FakeClock clock;
  ManualExecutor executor(&clock);
  auto pager = Pager::Create(&executor);
  EXPECT_EQ(executor.RunReady(), 0u);  // parked until there is work

  pager->AddWork(5);
  EXPECT_EQ(executor.RunReady(), 3u);  // 2 + 2 + 1, then parked
  EXPECT_EQ(pager->done(), 5);
  EXPECT_EQ(executor.NextWakeTime(), SteadyTime::max());
  EXPECT_EQ(executor.NumTasks(), 1u);
}

TEST(WeakOwnerTest, DroppingTheOwnerReleasesTheParkedTaskAtOnce) {
  FakeClock clock;
  ManualExecutor executor(&clock);
  Counter destroyed;
  auto pager = Pager::Create(&executor, nullptr, &destroyed);
  pager->AddWork(1);
  EXPECT_EQ(executor.RunReady(), 1u);
  std::weak_ptr<Task> task = pager->task();

  pager.reset();  // the task did not keep the owner alive...
  EXPECT_EQ(destroyed.value(), 1);
  EXPECT_TRUE(task.expired());  // ...and the owner's Cancel() freed the parked task at once
  EXPECT_EQ(executor.NumTasks(), 0u);
}

TEST(WeakOwnerTest, OwnerDroppedWhileTheTaskIsReady) {
  FakeClock clock;
  ManualExecutor executor(&clock);
  Counter destroyed;
  auto pager = Pager::Create(&executor, nullptr, &destroyed);
  pager->AddWork(10);  // ready, not yet run
  std::weak_ptr<Task> task = pager->task();
  pager.reset();
  EXPECT_EQ(destroyed.value(), 1);
  EXPECT_TRUE(task.expired());
  EXPECT_EQ(executor.RunReady(), 0u);
}

// ---- ThreadPoolExecutor ----

TEST(WeakOwnerTest, ThreadPoolOwnersDroppedWhileRunning) {
  constexpr int kPagers = 8;
  constexpr int kRounds = 50;
  Counter progress;
  Counter destroyed;
  auto executor = MakeThreadPoolExecutor(ThreadCounts{{1, 1, 1, 3}});
  std::vector<std::shared_ptr<Pager>> pagers;
  std::vector<std::weak_ptr<Task>> tasks;
  for (int i = 0; i < kPagers; ++i) {
    pagers.push_back(Pager::Create(executor.get(), &progress, &destroyed));
    tasks.push_back(pagers.back()->task());
  }
  for (int round = 0; round < kRounds; ++round) {
    for (auto& pager : pagers) pager->AddWork(3);
  }
  progress.WaitFor(kPagers * kRounds * 3);

  // Queue more work and drop the owners at once: some are dropped while their task runs (the
  // owner then dies on the worker thread when Run() releases its promoted pointer, and its
  // destructor cancels the running task), others while the task is queued or parked.
  for (auto& pager : pagers) pager->AddWork(100);
  pagers.clear();
  destroyed.WaitFor(kPagers);  // no task kept its owner alive

  executor->Shutdown();
  EXPECT_EQ(executor->NumTasks(), 0u);
  for (const auto& task : tasks) EXPECT_TRUE(task.expired());
}

}  // namespace
}  // namespace sluice::executor
