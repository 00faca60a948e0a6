// File: testing/executor_util.h
//
// Helpers for the executor tests: a Counter to wait on (no sleeps) and TestTask, a Task whose
// body is a callable, which counts its runs, checks that no two threads run it at once and bumps
// a Counter when destroyed (i.e. when the last reference, usually the executor's, is dropped).
//
// Test-only. Thread safety: thread-safe.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "common/mutex.h"
#include "executor/task.h"

namespace sluice::executor::testing {

class Counter {
 public:
  void Add(int n = 1) {
    MutexLock lock(&mu_);
    value_ += n;
    cv_.SignalAll();
  }
  // Blocks until the value is at least `target`.
  void WaitFor(int target) {
    MutexLock lock(&mu_);
    while (value_ < target) cv_.Wait(&mu_);
  }
  int value() const {
    MutexLock lock(&mu_);
    return value_;
  }

 private:
  mutable Mutex mu_;
  CondVar cv_{&mu_};
  int value_ GUARDED_BY(mu_) = 0;
};

// Calls `fn` when destroyed. Captured (by shared_ptr) in a task's lambda, it makes the task's
// destructor call back into the executor, as real tasks' destructors may.
class OnDestroy {
 public:
  explicit OnDestroy(std::function<void()> fn) : fn_(std::move(fn)) {}
  ~OnDestroy() { fn_(); }
  OnDestroy(const OnDestroy&) = delete;
  OnDestroy& operator=(const OnDestroy&) = delete;

 private:
  std::function<void()> fn_;
};

class TestTask final : public Task {
 public:
  using Body = std::function<bool(TestTask&)>;

  TestTask(TaskGroup group, std::string name, Body body, Counter* destroyed = nullptr,
           Counter* ran = nullptr)
      : Task(group, std::move(name)), body_(std::move(body)), destroyed_(destroyed), ran_(ran) {}
  ~TestTask() override {
    if (destroyed_ != nullptr) destroyed_->Add();
  }

  bool Run() override {
    EXPECT_FALSE(in_run_.exchange(true)) << name() << " run by two threads at once";
    runs_.fetch_add(1);
    const bool again = body_(*this);
    in_run_.store(false);
    if (ran_ != nullptr) ran_->Add();
    return again;
  }

  // Runs completed or in progress.
  int runs() const { return runs_.load(); }

 private:
  const Body body_;
  Counter* const destroyed_;
  Counter* const ran_;
  std::atomic<bool> in_run_{false};
  std::atomic<int> runs_{0};
};

inline std::shared_ptr<TestTask> MakeTestTask(TaskGroup group, std::string name,
                                              TestTask::Body body, Counter* destroyed = nullptr,
                                              Counter* ran = nullptr) {
  return std::make_shared<TestTask>(group, std::move(name), std::move(body), destroyed, ran);
}

}  // namespace sluice::executor::testing
