// File: cluster/manager.h
//
// Manager: the cluster manager (docs/cluster.md, "The manager"). Every sluiced started with --etcd
// runs one; exactly one of them acts at a time, the one elected on `/sluice/<c>/manager`
// (cluster/election.h). It watches the cluster's keys (a PrefixMirror of `/sluice/<c>/`, kept
// while following too, so a new leader starts with a warm view) and, while it leads, fails
// members over:
//
//   - automatically: an active member whose registration (`nodes/<id>`) has been absent for
//     `auto_failover_timeout` (settings key, else ManagerOptions::defaults; at least 1 s) — counted
//     from when this manager, while leading, first saw it absent, so a new manager waits the full
//     timeout again — unless `failover_count` has reached `auto_failover_max_count`, the failover
//     would leave fewer than a majority of the active members alive, or a vbucket it is active
//     for has no surviving replica (data would be lost);
//   - on request: a member whose status is `failover_requested` (`sluice cluster failover`) is
//     failed over hard at once (no count, majority or data-loss check: the operator asked).
//
// A member failed over automatically is marked so ({"status":"failed_over","auto":true}); when
// its node registers again, the manager re-adds it (manager_rejoin.cc): the member active again
// and the node a replica in every chain short of replicas (PlanRejoin), in one txn guarded by the
// term, the member's, the registration's, the rebalance key's and every map's revisions. Not
// while a rebalance is requested or running or a map has moves. A member failed over on request
// stays failed_over: the operator decides (`sluice cluster add`).
//
// Rebalance (manager_rebalance.cc; docs/cluster.md, "Rebalance"): when `rebalance` is requested,
// the manager plans a balanced map over the active and pending_add members, stores it as the
// target, and moves vbuckets towards it through the map (a move's backfill, then its takeover,
// then the switch), at most rebalance_moves_per_node at once per node, probing the nodes
// (SeqnoProbe) between steps; when all are moved it writes the final map, makes pending_add
// members active and deletes pending_remove ones. Each step is one guarded txn.
//
// A failover reads the cluster's keys at one revision, asks each surviving replica of the failed
// node's active vbuckets for its seqnos (SeqnoProbe), plans every bucket's new map
// (cluster/map_planner.h) and writes it in ONE txn:
//
//   if   create_revision(manager) == the term's        (Leadership::Guard: a deposed manager
//        and mod_revision(members/<id>) == as read      cannot write, whatever it believes)
//        and mod_revision(buckets/<b>/map) == as read   (for every bucket)
//        and mod_revision(failover_count) == as read    (automatic only)
//        and create_revision(nodes/<id>) == 0           (automatic only: still unregistered,
//                                                        so a node that came back in time is
//                                                        never failed over behind its back)
//   then put every buckets/<b>/map, members/<id> = failed_over (+ "auto"), failover_count + 1
//        (automatic)
//
// so a failover happens once: a manager that takes over reads the member as failed_over. A txn
// whose compares fail changes nothing; the manager looks again at the next change.
//
//   Start()   starts the election, the mirror and the manager's thread
//   Stop()    stops them (resigning the election); no failover starts after it returns.
//             Idempotent; the destructor calls it.
//
// Ownership: owned by its user (sluiced's main); owns its Election and PrefixMirror, whose
// callbacks only wake the manager's thread (both are stopped before it is destroyed); shares the
// EtcdClient and the SeqnoProbe. Thread safety: Start/Stop from the owner's thread; the getters
// from any thread. Failovers run on the manager's own thread.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cluster/backoff.h"
#include "cluster/cluster_keys.h"
#include "cluster/cluster_state.h"
#include "cluster/election.h"
#include "cluster/etcd_client.h"
#include "cluster/prefix_mirror.h"
#include "cluster/seqno_probe.h"
#include "common/mutex.h"

namespace sluice::cluster {

struct ManagerOptions {
  std::string cluster;  // the NAME of /sluice/NAME/
  std::string node_id;  // this candidate's id (the manager key's value while it leads)
  std::chrono::seconds election_ttl{5};
  // Used for the settings the `settings` key does not hold (auto_failover_timeout is raised to
  // its minimum, 1 s, with a warning).
  ClusterSettings defaults;
  // How often a leading manager re-checks absent members (changes wake it at once).
  std::chrono::milliseconds poll{100};
  // How often it looks again while vbucket moves are in flight: a move's steps (copy, takeover,
  // switch) wait on the nodes' progress, which changes nothing in etcd to wake it (at `poll`, a
  // rebalance of 1024 vbuckets took ~45 s whatever the data: three looks per move).
  std::chrono::milliseconds move_poll{10};
  BackoffOptions retry;  // the election's and the mirror's
};

struct ManagerStats {
  int64_t failovers = 0;         // failovers this manager wrote
  int64_t writes_refused = 0;    // failover txns etcd refused (deposed, or the keys changed)
  int64_t refusals = 0;          // automatic failovers the rules refused (count, majority, data)
  int64_t rebalance_writes = 0;  // rebalance steps written
  int64_t rejoins = 0;           // automatically failed-over members re-added
};

class Manager {
 public:
  Manager(std::shared_ptr<EtcdClient> client, ManagerOptions options,
          std::shared_ptr<SeqnoProbe> probe);
  ~Manager();
  Manager(const Manager&) = delete;
  Manager& operator=(const Manager&) = delete;

  void Start();
  void Stop() EXCLUDES(mu_);

  // Whether this manager leads now (its term, if so).
  std::optional<Leadership> leadership() const { return election_.leadership(); }
  ManagerStats stats() const EXCLUDES(mu_);

 private:
  enum class Kind : uint8_t { kAutomatic, kManual };
  struct Outcome;  // manager_failover.cc

  void Loop() EXCLUDES(mu_);
  // One look at the cluster while leading `term`: failovers (requests first, then absences), then,
  // if none was written, a rebalance step.
  void Evaluate(const Leadership& term, const ClusterState& state) EXCLUDES(mu_);
  // Whether a failover was written.
  bool EvaluateFailovers(const Leadership& term, const ClusterState& state) EXCLUDES(mu_);
  // Whether `node` may be failed over automatically now; else the reason.
  std::optional<std::string> AutoRefusal(const ClusterState& state, const std::string& node) const;
  // Fails `node` over under `term` (see the header comment); logs and counts the outcome. The
  // revision written, or 0.
  int64_t FailOver(const Leadership& term, const std::string& node, Kind kind) EXCLUDES(mu_);
  Outcome TryFailOver(const Leadership& term, const std::string& node, Kind kind);
  // Adds to `txn` the new map of every bucket `node` is in (probing the replicas first) and
  // describes them in `summary`; the outcome that ends the failover instead, if any.
  std::optional<Outcome> PlanBuckets(const ClusterState& state, const std::string& node, Kind kind,
                                     TxnRequest* txn, std::string* summary);
  // ---- a failed-over node's return (manager_rejoin.cc) ----
  // Whether a member failed over automatically whose node registered again was re-added.
  bool EvaluateRejoins(const Leadership& term, const ClusterState& state) EXCLUDES(mu_);
  // Re-adds `node` under `term` (a fresh read, then one guarded txn); logs and counts it. The
  // revision written, or 0.
  int64_t Rejoin(const Leadership& term, const std::string& node) EXCLUDES(mu_);
  // Logs each value that does not parse once (ClusterState::problems).
  void LogNewProblems(const std::vector<std::string>& problems);
  // Whether FailOver wrote (`revision` != 0); if so, waits a little for the mirror to see it.
  bool FailedOverAndCaughtUp(int64_t revision);
  // By bucket: the replicas' seqnos for the vbuckets `node` is active for.
  std::map<std::string, SeqnoReport> ProbeReplicas(const ClusterState& state,
                                                   const std::string& node);
  void Wake() EXCLUDES(mu_);

  // ---- rebalance (manager_rebalance.cc); each returns what it did, for the log ("": nothing) ----
  // One step of a requested or running rebalance under `term`: at most one txn.
  void RebalanceStep(const Leadership& term, const ClusterState& state) EXCLUDES(mu_);
  std::string StartRebalance(const Leadership& term, const ClusterState& state) EXCLUDES(mu_);
  std::string AdvanceRebalance(const Leadership& term, const ClusterState& state) EXCLUDES(mu_);
  std::string FinishRebalance(const Leadership& term, const ClusterState& state) EXCLUDES(mu_);
  // Marks the rebalance failed and drops the maps' moves (takeovers end, writes resume).
  std::string FailRebalance(const Leadership& term, const ClusterState& state,
                            const std::string& why) EXCLUDES(mu_);
  // Writes `txn` with the rebalance key's mod_revision as read added to its compares; "" or why
  // not.
  std::string WriteRebalance(TxnRequest txn, const ClusterState& state) EXCLUDES(mu_);
  // A graceful failover's step for `node` (alive): moves each vbucket it is active for to its
  // first replica (as a rebalance's moves do), writing the maps by guarded txn. True when none is
  // left (the hard failover may go ahead), false while moves are under way.
  bool GracefulStep(const Leadership& term, const ClusterState& state, const std::string& node)
      EXCLUDES(mu_);
  // The seqnos of the moves' sources and new nodes in `bucket`, and (in *revs) the config
  // revision each takeover's source serves; a node that does not answer is left out.
  std::map<std::string, std::map<Vbid, VbucketSeqnos>> ProbeMoves(
      const ClusterState& state, const std::string& bucket, const ClusterMap& map,
      std::map<std::string, int64_t>* revs);

  const std::shared_ptr<EtcdClient> client_;
  const ManagerOptions options_;
  const ClusterKeys keys_;
  const std::shared_ptr<SeqnoProbe> probe_;
  // The loop thread's own: when each active member was first seen absent during the current term,
  // the term they were timed in, the last refusal or error logged per member, the parsed view.
  std::map<std::string, std::chrono::steady_clock::time_point> absent_since_;
  int64_t timed_term_ = 0;
  std::map<std::string, std::string> refusal_logged_;
  std::shared_ptr<const MirrorSnapshot> parsed_from_;
  std::optional<ClusterState> state_;  // parsed_from_, parsed
  std::vector<std::string> problems_;  // the values that did not parse, as last logged
  std::string rebalance_logged_;       // the last rebalance step's outcome logged
  bool moves_in_flight_ = false;       // the last look left moves waiting on the nodes
  std::map<std::string, std::string> rejoin_logged_;  // per returning member: its last wait/error

  mutable Mutex mu_;
  CondVar cv_{&mu_};  // a change seen, a term begun or ended, stopping
  bool stopping_ GUARDED_BY(mu_) = false;
  bool woken_ GUARDED_BY(mu_) = false;
  ManagerStats stats_ GUARDED_BY(mu_);
  // After mu_: their callbacks lock it (Wake).
  PrefixMirror mirror_;
  Election election_;
  std::thread thread_;
};

}  // namespace sluice::cluster
