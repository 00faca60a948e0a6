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

}  // namespace
}  // namespace sluice
