// File: cluster/backoff.h
//
// Backoff: how long a background loop of the cluster client (a watcher re-opening its stream, a
// lease keeper re-granting, an election re-campaigning) waits between failed attempts: doubling
// from `initial` up to `max`, back to `initial` after a success. The loops wait on their condition
// variables for these durations, so Stop() cuts any wait short.
//
// Ownership: a value, owned by the loop that uses it. Thread safety: thread-compatible.
#pragma once

#include <algorithm>
#include <chrono>

namespace sluice::cluster {

struct BackoffOptions {
  std::chrono::milliseconds initial{100};
  std::chrono::milliseconds max{2000};
};

class Backoff {
 public:
  explicit Backoff(BackoffOptions options = {}) : options_(options), next_(options.initial) {}
  // The wait before the next attempt; doubles the one after.
  std::chrono::milliseconds Next() {
    const auto wait = next_;
    next_ = std::min(next_ * 2, options_.max);
    return wait;
  }
  void Reset() { next_ = options_.initial; }

 private:
  BackoffOptions options_;
  std::chrono::milliseconds next_;
};

}  // namespace sluice::cluster
