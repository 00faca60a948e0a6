// File: testing/recorder.h
//
// Recorder<T>: collects values that callbacks on other threads report (watch events, lease
// losses, elections), and lets the test wait — with a deadline, never a fixed sleep — until what
// was collected satisfies a condition.
//
//   Recorder<int> seen;                       // callback: seen.Add(x)
//   ASSERT_TRUE(seen.WaitFor([](auto& v) { return v.size() >= 3; }, std::chrono::seconds(10)));
//
// Ownership: owned by the test; callbacks hold it by reference and must be stopped (their
// component's Stop()) before it is destroyed. Thread safety: thread-safe.
#pragma once

#include <chrono>
#include <utility>
#include <vector>

#include "common/mutex.h"

namespace sluice::testing {

template <class T>
class Recorder {
 public:
  void Add(T value) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    values_.push_back(std::move(value));
    cv_.SignalAll();
  }

  // Waits until pred(values) holds; false if it did not within `timeout`.
  template <class Pred>
  bool WaitFor(Pred pred, std::chrono::milliseconds timeout) EXCLUDES(mu_) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    MutexLock lock(&mu_);
    while (!pred(values_)) {
      if (!cv_.WaitUntil(&mu_, deadline) && std::chrono::steady_clock::now() >= deadline) {
        return pred(values_);
      }
    }
    return true;
  }
  // Waits until at least `n` values arrived.
  bool WaitForCount(size_t n, std::chrono::milliseconds timeout) {
    return WaitFor([n](const std::vector<T>& v) { return v.size() >= n; }, timeout);
  }

  std::vector<T> values() const EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return values_;
  }
  size_t size() const EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return values_.size();
  }

 private:
  mutable Mutex mu_;
  CondVar cv_{&mu_};
  std::vector<T> values_ GUARDED_BY(mu_);
};

}  // namespace sluice::testing
