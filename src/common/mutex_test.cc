#include "common/mutex.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace sluice {
namespace {

class Counter {
 public:
  void Add() {
    MutexLock lock(&mu_);
    ++value_;
    cv_.SignalAll();
  }
  void WaitFor(int target) {
    MutexLock lock(&mu_);
    while (value_ < target) cv_.Wait(&mu_);
  }
  int value() {
    MutexLock lock(&mu_);
    return value_;
  }

 private:
  Mutex mu_;
  CondVar cv_{&mu_};
  int value_ GUARDED_BY(mu_) = 0;
};

TEST(MutexTest, ThreadsCountUnderLock) {
  Counter c;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&c] {
      for (int i = 0; i < 1000; ++i) c.Add();
    });
  }
  c.WaitFor(4000);
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 4000);
}

TEST(LockRankTest, LocksTakenInRankOrderAreAccepted) {
  Mutex outer(LockRank::kDcpObject);
  Mutex middle(LockRank::kCheckpoints);
  Mutex inner(LockRank::kDcpLeaf);
  Mutex unranked;
  {
    MutexLock a(&outer);
    MutexLock u(&unranked);  // unranked locks are not checked
    MutexLock b(&middle);
    MutexLock c(&inner);
    if (lock_rank_internal::kChecked) {
      EXPECT_EQ(lock_rank_internal::HeldCount(), 3);
    }
  }
  EXPECT_EQ(lock_rank_internal::HeldCount(), 0);
  // Released out of order: the checker follows.
  outer.Lock();
  inner.Lock();
  outer.Unlock();
  inner.Unlock();
  EXPECT_EQ(lock_rank_internal::HeldCount(), 0);
}

TEST(LockRankDeathTest, AnInnerLockThenAnOuterOneAborts) {
  if (!lock_rank_internal::kChecked) GTEST_SKIP() << "the order is checked in builds with asserts";
  Mutex outer(LockRank::kDcpObject);
  Mutex inner(LockRank::kDcpLeaf);
  EXPECT_DEATH(
      {
        MutexLock c(&inner);
        MutexLock a(&outer);
      },
      "acquiring a 'dcp-object' lock while holding a 'dcp-leaf' lock");
}

TEST(LockRankDeathTest, TwoLocksOfOneRankAbort) {
  if (!lock_rank_internal::kChecked) GTEST_SKIP() << "the order is checked in builds with asserts";
  Mutex first(LockRank::kDcpObject);
  Mutex second(LockRank::kDcpObject);
  EXPECT_DEATH(
      {
        MutexLock a(&first);
        MutexLock b(&second);
      },
      "acquiring a 'dcp-object' lock while holding a 'dcp-object' lock");
}

}  // namespace
}  // namespace sluice
