// File: testing/recording_waiter.h
//
// RecordingWaiter: the engine's IoCompletion for tests that drive a would-block command by hand.
// It counts the notifications and keeps the last status, so a test can check that a parked
// command was resumed exactly once and how.
//
// Ownership: the test owns it and outlives the command it is passed to. Thread safety: the
// manual executor's thread (the test's own).
#pragma once

#include "common/status.h"
#include "engine/engine_types.h"

namespace sluice::testing {

class RecordingWaiter : public engine::IoCompletion {
 public:
  void NotifyIoComplete(Status status) override {
    ++notified;
    last = status;
  }
  int notified = 0;
  Status last;
};

}  // namespace sluice::testing
