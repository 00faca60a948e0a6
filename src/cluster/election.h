// File: cluster/election.h
//
// Election: one-at-a-time leadership through etcd (the cluster manager's election;
// docs/cluster.md). Each candidate keeps a lease alive (its own LeaseKeeper) and campaigns with one
// txn:
//
//     if create_revision(key) == 0  then put key = candidate (under the lease); get key
//                                   else get key
//
// The winner leads until its lease is lost (no renewal for a TTL: a hung or partitioned leader;
// or the lease revoked) or the key is deleted or replaced; the others watch the key and campaign
// again when it is deleted — which etcd does by itself when the leader's lease expires. There is
// no Proclaim: the key's value is the leader's id and never changes during a term.
//
//               Start()                 txn succeeded (on_elected)
//   kIdle ─────────────▶ kCampaigning ─────────────────────────────▶ kLeading
//                         │      ▲   ▲                                  │ lease lost, or key
//          txn failed:    ▼      │   └──────────────────────────────────┘ deleted/replaced
//          watch the key  kFollowing ── key deleted ──┘                   (on_deposed)
//   kCampaigning ── txn errored (etcd away) ──▶ kCampaigning, after a backoff
//   any ──Stop()──▶ kStopped (deletes the key if still ours, revokes the lease)
//
// Fencing: a term is identified by the key's create_revision, which no other term can have. A
// leader's writes carry Leadership::Guard() (create_revision(key) == its create_revision) beside
// their own compares (e.g. the vbucket map's mod_revision), so once it has been deposed etcd
// refuses them, whatever its local view — the local loss timer only makes it stop trying.
//
// Ownership: owned by its user (the node agent); owns its LeaseKeeper, whose callbacks point back
// at it (both threads are joined in Stop(), before either is destroyed); shares the EtcdClient.
// Callbacks run on the election's thread, one at a time. Thread safety: Start/Stop from the
// owner's thread; the getters and AwaitLeadership from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "cluster/backoff.h"
#include "cluster/etcd_client.h"
#include "cluster/lease_keeper.h"
#include "cluster/watch_stream.h"
#include "common/mutex.h"

namespace sluice::cluster {

struct ElectionOptions {
  std::string key;        // e.g. "/sluice/<cluster>/manager"
  std::string candidate;  // this candidate's id: the key's value while it leads
  std::chrono::seconds ttl{10};
  BackoffOptions retry;  // between failed campaigns (etcd unreachable)
};

// One term of leadership.
struct Leadership {
  std::string key;
  std::string candidate;
  int64_t lease = 0;
  int64_t create_revision = 0;  // the term's identity
  int64_t mod_revision = 0;     // equal to create_revision: a term never rewrites the key

  // The compare that holds only during this term; add it to every txn the leader makes.
  Compare Guard() const { return Compare::CreateRevision(key, CompareOp::kEqual, create_revision); }
};

class Election {
 public:
  enum class Role : uint8_t { kIdle, kCampaigning, kFollowing, kLeading, kStopped };

  struct Callbacks {
    std::function<void(const Leadership&)> on_elected;
    // The term ended without Stop(): the lease was lost or the key deleted/replaced.
    std::function<void(const Leadership&, const Status& why)> on_deposed;
  };

  Election(std::shared_ptr<EtcdClient> client, ElectionOptions options, Callbacks callbacks = {});
  ~Election();
  Election(const Election&) = delete;
  Election& operator=(const Election&) = delete;

  // Starts the lease keeper and the campaign thread.
  void Start();
  // Stops campaigning, resigns (deletes the key if this term still holds it) and revokes the
  // lease; joins both threads. No callback runs after it returns. Idempotent; never from a
  // callback.
  void Stop() EXCLUDES(mu_);

  Role role() const EXCLUDES(mu_);
  // The current term while leading.
  std::optional<Leadership> leadership() const EXCLUDES(mu_);
  // Waits until leading; false at the deadline or once stopped.
  bool AwaitLeadership(std::chrono::steady_clock::time_point deadline) const EXCLUDES(mu_);

  // Who leads now, for anyone: the key's key-value (value = the leader's id); kNotFound when
  // nobody leads.
  static StatusOr<EtcdKeyValue> Leader(EtcdClient& client, std::string_view key);

  LeaseKeeper& lease_keeper_for_testing() { return keeper_; }

 private:
  void Loop() EXCLUDES(mu_);
  // One campaign txn with `lease`; leads or follows according to its outcome.
  void Campaign(int64_t lease) EXCLUDES(mu_);
  // Leads the term until it ends; reports the deposition (unless stopping).
  void Lead(Leadership term, int64_t watch_from) EXCLUDES(mu_);
  // Watches the key from `watch_from` until it is deleted, the lease changes or Stop().
  void Follow(int64_t lease, int64_t watch_from) EXCLUDES(mu_);
  // While leading, after the watch broke: re-reads the key. The revision to watch from if the
  // term still stands, 0 if it ended; an error if etcd could not be read.
  StatusOr<int64_t> CheckTerm(const Leadership& term);
  // A stream registered for Stop() and lease changes; null if stopping or the lease is no longer
  // `lease`.
  std::shared_ptr<WatchStream> NewStream(int64_t lease) EXCLUDES(mu_);
  bool Pause(std::chrono::milliseconds wait) EXCLUDES(mu_);
  static bool ValidTransition(Role from, Role to);
  // The one place the role changes; aborts on a transition the diagram does not have.
  void SetRole(Role role, std::optional<Leadership> term = std::nullopt) EXCLUDES(mu_);
  // The keeper's callbacks (on its thread).
  void OnLease(int64_t lease) EXCLUDES(mu_);

  const std::shared_ptr<EtcdClient> client_;
  const ElectionOptions options_;
  const Callbacks callbacks_;
  Backoff backoff_;  // the thread's own
  mutable Mutex mu_;
  mutable CondVar cv_{&mu_};  // lease or role changes, stopping
  bool stopping_ GUARDED_BY(mu_) = false;
  Role role_ GUARDED_BY(mu_) = Role::kIdle;
  int64_t lease_ GUARDED_BY(mu_) = 0;  // as the keeper last reported; 0 while none
  std::optional<Leadership> term_ GUARDED_BY(mu_);
  std::shared_ptr<WatchStream> stream_ GUARDED_BY(mu_);  // the one running, to interrupt it
  LeaseKeeper keeper_;                                   // after mu_: its callbacks lock it
  std::thread thread_;
};

}  // namespace sluice::cluster
