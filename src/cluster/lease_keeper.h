// File: cluster/lease_keeper.h
//
// LeaseKeeper: holds one etcd lease alive — what a node's registration (/sluice/<c>/nodes/<id>)
// and the manager election live under. It grants a lease with a TTL, renews it every TTL/3 on a
// thread of its own, and reports when it is lost; then it grants a new one.
//
//            Start()              grant ok (on_granted)
//   kIdle ───────────▶ kGranting ─────────────────────▶ kHeld
//                        ▲   │ grant failed:                │ etcd: lease gone (TTL -1), or
//                        │   └─ backoff, retry              │ no renewal succeeded for a TTL
//                        └──────────────────────────────────┘ (on_lost; revoke it, if etcd still
//                        has it)
//   any ──Stop()──▶ kStopped (the held lease is revoked: its keys vanish at once)
//
// Loss is judged locally and conservatively: the lease is taken to end one TTL after the *sending*
// of the last renewal etcd confirmed, which is never later than etcd's own expiry. So a holder
// hears of the loss no later than etcd expires the lease (clocks running at the same rate). Safety
// does not rest on this timer: writes that must stop with the lease carry a txn compare (see
// cluster/election.h); the timer only makes the holder step down in time.
//
// Renewal calls time out at a third of the TTL, and never after the local expiry, so a hung etcd
// cannot hold the thread past the loss.
//
// Ownership: owned by its user (a node agent's registration, an Election); shares the EtcdClient.
// Callbacks run on the keeper's thread, one at a time; a renewal waits for them, so they must be
// short (a few etcd calls). Thread safety: Start/Stop from the owner's thread; the getters and
// AwaitLease from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>

#include "cluster/backoff.h"
#include "cluster/etcd_client.h"
#include "common/mutex.h"

namespace sluice::cluster {

struct LeaseKeeperOptions {
  std::chrono::seconds ttl{10};
  BackoffOptions retry;  // between failed grants
};

class LeaseKeeper {
 public:
  enum class State : uint8_t { kIdle, kGranting, kHeld, kStopped };

  struct Callbacks {
    // A lease is held (at start, and again after each loss): put the keys that live under it.
    std::function<void(int64_t lease)> on_granted;
    // The lease is lost: whatever lived under it must be taken as gone.
    std::function<void(int64_t lease, const Status& why)> on_lost;
    // The held lease's local expiry (the sending of the last renewal etcd confirmed + its TTL,
    // never later than etcd's own expiry) moved: at each grant, before on_granted, and at each
    // confirmed renewal. A holder that must stop acting with the lease checks its own clock
    // against it (the node agent's write fence) rather than waiting for on_lost, which comes
    // late when this process was paused.
    std::function<void(int64_t lease, std::chrono::steady_clock::time_point expiry)> on_expiry;
  };

  LeaseKeeper(std::shared_ptr<EtcdClient> client, LeaseKeeperOptions options,
              Callbacks callbacks = {});
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  // Starts the thread, which grants the first lease.
  void Start();
  // Stops renewing, joins, and revokes the held lease. Returns the revoke's status (OK if no lease
  // was held; kTempFail if etcd could not be reached: the lease then ends at its TTL). Idempotent.
  // Never from a callback.
  Status Stop() EXCLUDES(mu_);

  // Waits until a lease is held and returns it; kTempFail at the deadline, kCancelled if stopped.
  StatusOr<int64_t> AwaitLease(std::chrono::steady_clock::time_point deadline) const EXCLUDES(mu_);
  // The held lease, 0 when none.
  int64_t lease() const EXCLUDES(mu_);
  State state() const EXCLUDES(mu_);
  // True while a lease is held and its local expiry has not passed.
  bool Valid() const EXCLUDES(mu_);

  // Test seam: stop renewing the held lease (as if this process hung); the loss is then reported
  // after the TTL, and etcd expires the lease. The next lease is renewed as usual.
  void PauseRenewalsForTesting() EXCLUDES(mu_);

 private:
  using Clock = std::chrono::steady_clock;

  void Loop() EXCLUDES(mu_);
  // kGranting: revokes the lost lease (best effort), grants a new one. False if stopping.
  bool Grant() EXCLUDES(mu_);
  // kHeld: one renewal at its time. False if stopping.
  bool Renew() EXCLUDES(mu_);
  void Lose(const Status& why) EXCLUDES(mu_);
  static bool ValidTransition(State from, State to);
  // Moves to `next`, aborting on a transition the diagram does not have.
  void TransitionLocked(State next) REQUIRES(mu_);
  // Waits until `deadline` or Stop(); false when stopping.
  bool WaitUntil(Clock::time_point deadline) EXCLUDES(mu_);
  std::chrono::milliseconds RenewInterval() const { return options_.ttl / 3; }

  const std::shared_ptr<EtcdClient> client_;
  const LeaseKeeperOptions options_;
  const Callbacks callbacks_;
  Backoff backoff_;   // the thread's own
  int64_t lost_ = 0;  // the thread's own: a lost lease still to revoke
  mutable Mutex mu_;
  mutable CondVar cv_{&mu_};  // state changes, stopping
  State state_ GUARDED_BY(mu_) = State::kIdle;
  bool stopping_ GUARDED_BY(mu_) = false;
  bool paused_ GUARDED_BY(mu_) = false;
  int64_t lease_ GUARDED_BY(mu_) = 0;
  Clock::time_point expiry_ GUARDED_BY(mu_);  // local: last confirmed renewal's send + TTL
  Clock::time_point next_renewal_ GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace sluice::cluster
