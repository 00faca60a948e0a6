// File: tools/interrupt.h
//
// InterruptWatcher: lets a command that blocks in socket reads (`sluice tail`) stop cleanly on
// Ctrl-C. It blocks SIGINT and SIGTERM in the constructing thread (so in every thread started
// after it) and waits for them on a thread of its own; on the first one it sets interrupted() and
// runs the callback there, which should wake the blocked thread (`tail` half-closes its
// connection: the server closes it, the blocked read returns, the command sees interrupted() and
// finishes normally). A second signal ends the process at once (exit status 130).
//
// Ownership: owned by the command's stack frame. Construct it on the main thread before starting
// any other thread; destroy it before whatever the callback touches. The destructor stops the
// watching thread (within ~50 ms) and restores the signal mask.
// Thread safety: interrupted() may be called from any thread; the callback runs on the watcher's
// thread, concurrently with the command.
#pragma once

#include <signal.h>

#include <atomic>
#include <functional>
#include <thread>

namespace sluice::tools {

class InterruptWatcher {
 public:
  explicit InterruptWatcher(std::function<void()> on_interrupt);
  ~InterruptWatcher();

  InterruptWatcher(const InterruptWatcher&) = delete;
  InterruptWatcher& operator=(const InterruptWatcher&) = delete;

  bool interrupted() const { return interrupted_.load(std::memory_order_acquire); }

 private:
  void Watch();

  // ---- Constant after construction ----
  const std::function<void()> on_interrupt_;
  sigset_t signals_;
  sigset_t old_mask_;

  // ---- Atomics ----
  std::atomic<bool> interrupted_{false};
  std::atomic<bool> stop_{false};

  // ---- Owner thread ----
  std::thread thread_;
};

}  // namespace sluice::tools
