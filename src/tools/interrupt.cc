// File: tools/interrupt.cc
#include "tools/interrupt.h"

#include <pthread.h>

#include <cerrno>
#include <cstdlib>
#include <ctime>

namespace sluice::tools {

InterruptWatcher::InterruptWatcher(std::function<void()> on_interrupt)
    : on_interrupt_(std::move(on_interrupt)) {
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGINT);
  sigaddset(&signals_, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals_, &old_mask_);
  thread_ = std::thread([this] { Watch(); });
}

InterruptWatcher::~InterruptWatcher() {
  stop_.store(true, std::memory_order_release);
  thread_.join();
  // A signal that arrived after the watcher stopped stays pending and is delivered here, with
  // its default action: the command was finishing anyway.
  pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
}

void InterruptWatcher::Watch() {
  // sigtimedwait with a short timeout rather than sigwait, so that the destructor needs no signal
  // of its own to stop this thread.
  const timespec tick = {0, 50'000'000};
  while (!stop_.load(std::memory_order_acquire)) {
    const int sig = sigtimedwait(&signals_, nullptr, &tick);
    if (sig < 0) continue;  // EAGAIN (timeout) or EINTR
    if (interrupted_.exchange(true, std::memory_order_acq_rel)) std::_Exit(130);
    if (on_interrupt_) on_interrupt_();
  }
}

}  // namespace sluice::tools
