#include "cluster/lease_keeper.h"

#include <algorithm>
#include <cstdlib>
#include <string>
#include <utility>

#include "common/logging.h"

namespace sluice::cluster {

LeaseKeeper::LeaseKeeper(std::shared_ptr<EtcdClient> client, LeaseKeeperOptions options,
                         Callbacks callbacks)
    : client_(std::move(client)),
      options_(options),
      callbacks_(std::move(callbacks)),
      backoff_(options.retry) {}

// The one transition check (the diagram in lease_keeper.h).
bool LeaseKeeper::ValidTransition(State from, State to) {
  switch (to) {
    case State::kGranting:
      return from == State::kIdle || from == State::kHeld;
    case State::kHeld:
      return from == State::kGranting;
    case State::kStopped:
      return from != State::kStopped;
    case State::kIdle:
      return false;
  }
  return false;
}

void LeaseKeeper::TransitionLocked(State next) {
  if (!ValidTransition(state_, next)) {
    LOG_CRITICAL("etcd lease keeper: invalid transition {} -> {}", static_cast<int>(state_),
                 static_cast<int>(next));
    std::abort();
  }
  state_ = next;
  cv_.SignalAll();
}

LeaseKeeper::~LeaseKeeper() { Stop().IgnoreError(); }  // the lease ends at its TTL if etcd is away

void LeaseKeeper::Start() {
  {
    MutexLock lock(&mu_);
    if (state_ != State::kIdle) return;
    TransitionLocked(State::kGranting);
  }
  thread_ = std::thread([this] { Loop(); });
}

Status LeaseKeeper::Stop() {
  {
    MutexLock lock(&mu_);
    if (state_ == State::kStopped) return Status::Ok();
    stopping_ = true;
    cv_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
  int64_t held;
  {
    MutexLock lock(&mu_);
    held = state_ == State::kHeld ? lease_ : 0;
    TransitionLocked(State::kStopped);
    lease_ = 0;
  }
  // A lost lease etcd may still have (it was never confirmed gone): best effort.
  if (lost_ != 0) client_->LeaseRevoke(lost_).IgnoreError();
  if (held == 0) return Status::Ok();
  Status revoked = client_->LeaseRevoke(held);
  return revoked.code() == Errc::kNotFound ? Status::Ok() : revoked;
}

StatusOr<int64_t> LeaseKeeper::AwaitLease(std::chrono::steady_clock::time_point deadline) const {
  MutexLock lock(&mu_);
  while (state_ != State::kHeld && state_ != State::kStopped && !stopping_) {
    if (!cv_.WaitUntil(&mu_, deadline) && Clock::now() >= deadline) break;
  }
  if (state_ == State::kHeld) return lease_;
  if (state_ == State::kStopped || stopping_)
    return Status(Errc::kCancelled, "lease keeper stopped");
  return Status(Errc::kTempFail, "no etcd lease granted in time");
}

int64_t LeaseKeeper::lease() const {
  MutexLock lock(&mu_);
  return state_ == State::kHeld ? lease_ : 0;
}

LeaseKeeper::State LeaseKeeper::state() const {
  MutexLock lock(&mu_);
  return state_;
}

bool LeaseKeeper::Valid() const {
  MutexLock lock(&mu_);
  return state_ == State::kHeld && Clock::now() < expiry_;
}

void LeaseKeeper::PauseRenewalsForTesting() {
  MutexLock lock(&mu_);
  paused_ = true;
  cv_.SignalAll();
}

bool LeaseKeeper::WaitUntil(Clock::time_point deadline) {
  MutexLock lock(&mu_);
  while (!stopping_ && Clock::now() < deadline) cv_.WaitUntil(&mu_, deadline);
  return !stopping_;
}

void LeaseKeeper::Loop() {
  while (true) {
    State state;
    {
      MutexLock lock(&mu_);
      if (stopping_) return;
      state = state_;
    }
    const bool go_on = state == State::kHeld ? Renew() : Grant();
    if (!go_on) return;
  }
}

bool LeaseKeeper::Grant() {
  if (lost_ != 0) {
    // etcd may still hold the lost lease (it extends leases when it restarts): end it, so the
    // keys under it do not outlive the loss we reported.
    const Status revoked = client_->LeaseRevoke(lost_);
    if (revoked.ok() || revoked.code() == Errc::kNotFound) lost_ = 0;
  }
  const Clock::time_point sent = Clock::now();
  auto granted = client_->LeaseGrant(options_.ttl);
  if (!granted.ok()) {
    LOG_DEBUG("etcd lease grant failed: {}", granted.status().ToString());
    return WaitUntil(Clock::now() + backoff_.Next());
  }
  backoff_.Reset();
  {
    MutexLock lock(&mu_);
    if (stopping_) {
      // Stop() revokes the held lease: hand it over.
      TransitionLocked(State::kHeld);
      lease_ = granted->id;
      return false;
    }
    lease_ = granted->id;
    expiry_ = sent + std::chrono::seconds(granted->ttl);
    next_renewal_ = sent + RenewInterval();
    TransitionLocked(State::kHeld);
  }
  if (callbacks_.on_expiry) {
    callbacks_.on_expiry(granted->id, sent + std::chrono::seconds(granted->ttl));
  }
  if (callbacks_.on_granted) callbacks_.on_granted(granted->id);
  return true;
}

bool LeaseKeeper::Renew() {
  int64_t lease;
  Clock::time_point expiry;
  Clock::time_point due;
  bool paused;
  {
    MutexLock lock(&mu_);
    lease = lease_;
    expiry = expiry_;
    due = std::min(next_renewal_, expiry_);
    paused = paused_;
  }
  if (!WaitUntil(due)) return false;
  const Clock::time_point sent = Clock::now();
  if (sent >= expiry) {
    Lose(Status(Errc::kTempFail, "no lease renewal succeeded within the TTL (" +
                                     std::to_string(options_.ttl.count()) + " s)"));
    return true;
  }
  if (paused) {
    MutexLock lock(&mu_);
    next_renewal_ = expiry_;  // nothing to do before the loss
    return true;
  }
  // The call may not outlast the local expiry: the loss must be reported by then.
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(expiry - sent);
  auto ttl = client_->LeaseKeepAliveOnce(
      lease, std::max(std::min(RenewInterval(), left), std::chrono::milliseconds(1)));
  if (ttl.status().code() == Errc::kNotFound) {
    Lose(ttl.status());
    return true;
  }
  {
    MutexLock lock(&mu_);
    if (!ttl.ok()) {
      // etcd away or slow: retry soon, until the local expiry decides.
      next_renewal_ = Clock::now() + std::max(RenewInterval() / 3, std::chrono::milliseconds(50));
      return true;
    }
    expiry_ = sent + std::chrono::seconds(*ttl);
    next_renewal_ = sent + RenewInterval();
  }
  if (callbacks_.on_expiry) callbacks_.on_expiry(lease, sent + std::chrono::seconds(*ttl));
  return true;
}

void LeaseKeeper::Lose(const Status& why) {
  int64_t lease;
  {
    MutexLock lock(&mu_);
    lease = lease_;
    lease_ = 0;
    paused_ = false;  // the pause was for the lease now lost
    TransitionLocked(State::kGranting);
  }
  lost_ = lease;
  LOG_WARN("etcd lease {:x} lost: {}", lease, why.ToString());
  if (callbacks_.on_lost) callbacks_.on_lost(lease, why);
}

}  // namespace sluice::cluster
