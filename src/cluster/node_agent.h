// File: cluster/node_agent.h
//
// NodeAgent: what makes `sluiced --etcd URL --cluster NAME --node-id ID` a member of a cluster kept
// in etcd (docs/cluster.md). It
//   - registers the node: a LeaseKeeper holds a lease (TTL --node-ttl, renewed at a third of it)
//     and, on each grant, the agent puts /sluice/<cluster>/nodes/<id> under it, with the value
//     {"id":"a","host":"127.0.0.1","port":11210,"metrics_port":11280};
//   - applies the map: a PrefixMirror of /sluice/<cluster>/ delivers /sluice/<cluster>/buckets/
//     <bucket>/map (the static cluster file's JSON, cluster/cluster_map.h) and /sluice/<cluster>/
//     epoch (a decimal integer, absent = 1); each new map (or epoch) goes to the host's ApplyMap
//     with rev = the map key's mod_revision, the same on every node;
//   - fences: writes to this node's actives answer TMPFAIL in every state but kServing, and in
//     kServing too once the lease's local expiry has passed (the host checks the time at each
//     write: a process paused past its lease refuses writes before its threads run again).
//
//   Start()
//     │
//     ▼                   lease granted,
//   kRegistering ──────── nodes/<id> put at R ───────▶ kWaitingForMap
//                                                     ▲      │ the mirror is at R or later and
//             lease granted, nodes/<id> put at R      │      │ its map was applied
//   kFenced ──────────────────────────────────────────┘      ▼
//     ▲  ▲                                                kServing
//     │  └──────────── lease lost (no renewal confirmed ──────┘
//     │                for a TTL: hung, cut off, etcd away)
//     └──────────────── lease lost ─── kWaitingForMap
//   any ──Stop()──▶ kStopped (the lease revoked: nodes/<id> vanishes at once)
//
// kServing is the only state in which writes are accepted. Waiting for the mirror to reach the
// registration's revision R is what "seeing the map again" means: a mirror at R or later holds the
// map as etcd had it after this node's lease was granted, so a map written while the node was cut
// off (a failover) is applied before it accepts a write. The map keeps being applied in every
// state (a demotion is always safe; a promotion is fenced until kServing). While etcd is away the
// mirror keeps the last map, the agent logs it once, and both loops recover by themselves.
//
// A node failed over while it was away needs no state of its own (docs/cluster.md, "The states
// of a node", on kRejoining): the map it waits for in kWaitingForMap no longer makes it active
// anywhere, so its writes answer NOT_MY_VBUCKET; the manager re-adds it as a replica, and its
// passive streams roll back or reset its vbuckets to the new actives' histories (DCP's rollback)
// before they take anything from them.
//
// Ownership: owned by main (sluiced); shares the EtcdClient; borrows the host, which must outlive
// Stop(). Threads: the keeper's thread (grants, losses) and the mirror's (maps) call in, one
// mutex orders them; ApplyMap runs on the mirror's thread without that mutex.
// Thread safety: Start/Stop from the owner's thread; the getters from any thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "cluster/cluster_keys.h"
#include "cluster/cluster_map.h"
#include "cluster/etcd_client.h"
#include "cluster/lease_keeper.h"
#include "cluster/prefix_mirror.h"
#include "common/mutex.h"
#include "common/status.h"

namespace sluice::cluster {

// What the agent drives; the server implements it (server/map_applier.h) so that this library
// does not depend on the server.
class NodeAgentHost {
 public:
  // Applies `map` to the node: vbucket states and topologies, replication sources, the config
  // clients see (`rev`, `epoch`). On the mirror's thread, one call at a time.
  virtual Status ApplyMap(std::shared_ptr<const ClusterMap> map, int64_t rev, int64_t epoch) = 0;
  // While fenced, front-end writes to this node's active vbuckets answer TMPFAIL. Any thread.
  virtual void SetWritesFenced(bool fenced) = 0;
  // Front-end writes answer TMPFAIL from `until` on (checked at each write), whatever
  // SetWritesFenced says: the lease's local expiry, moved at each grant and confirmed renewal.
  // On the keeper's thread.
  virtual void SetWritesValidUntil(std::chrono::steady_clock::time_point until) = 0;
  // The agent's state changed (StateName: for stats and logs). Under the agent's lock: cheap.
  virtual void OnStateChanged(std::string_view state) {}
  // The cluster's rebalance record changed (nullopt: none, or one that does not parse), for the
  // console. On the mirror's thread.
  virtual void OnRebalance(const std::optional<RebalanceStatus>& status) {}

 protected:
  ~NodeAgentHost() = default;
};

struct NodeAgentOptions {
  std::string cluster;  // keys under /sluice/<cluster>/
  std::string node_id;
  std::string bucket;  // whose map this node applies
  size_t num_vbuckets = 0;
  std::chrono::seconds ttl{5};
  // What nodes/<id> says: the address clients and peers use, and the metrics port (0: none).
  std::string host;
  uint16_t port = 0;
  uint16_t metrics_port = 0;
  BackoffOptions retry;  // the mirror's and the keeper's waits between attempts
};

class NodeAgent {
 public:
  enum class State : uint8_t { kRegistering, kWaitingForMap, kServing, kFenced, kStopped };
  static std::string_view StateName(State state);

  NodeAgent(std::shared_ptr<EtcdClient> client, NodeAgentOptions options, NodeAgentHost& host);
  ~NodeAgent();  // Stop()
  NodeAgent(const NodeAgent&) = delete;
  NodeAgent& operator=(const NodeAgent&) = delete;

  // Fences writes, then starts the mirror and the keeper.
  void Start() EXCLUDES(mu_);
  // Stops the mirror (no ApplyMap after it returns) and the keeper (revokes the lease). Returns
  // the revoke's status. Idempotent.
  Status Stop() EXCLUDES(mu_);

  State state() const EXCLUDES(mu_);
  // The applied map's revision and epoch (0 and 1 before the first).
  int64_t map_rev() const EXCLUDES(mu_);
  int64_t epoch() const EXCLUDES(mu_);
  // The client this agent uses, for a manager in the same process to share.
  const std::shared_ptr<EtcdClient>& client() const { return client_; }

 private:
  void OnGranted(int64_t lease) EXCLUDES(mu_);
  void OnLost(int64_t lease, const Status& why) EXCLUDES(mu_);
  void OnUpdate(const MirrorUpdate& update) EXCLUDES(mu_);
  void OnInterrupted(const Status& why) EXCLUDES(mu_);
  // Puts nodes/<id> under `lease`, retrying while the lease may be valid. The put's revision, or
  // 0 if it could not be made.
  int64_t Register(int64_t lease) EXCLUDES(mu_);
  // Tells the host the snapshot's rebalance record if it changed.
  void TellRebalance(const MirrorSnapshot& snapshot) EXCLUDES(mu_);
  // Applies the snapshot's map and epoch if they are new. Whether the snapshot's map (if any) is
  // now the applied one.
  bool ApplySnapshot(const MirrorSnapshot& snapshot) EXCLUDES(mu_);
  // kWaitingForMap -> kServing once the mirror reached the registration and its map is applied.
  void MaybeServeLocked() REQUIRES(mu_);
  static bool ValidTransition(State from, State to);
  // Moves to `next` (aborting on a transition the diagram does not have) and sets the fence.
  void TransitionLocked(State next) REQUIRES(mu_);

  const std::shared_ptr<EtcdClient> client_;
  const NodeAgentOptions options_;
  NodeAgentHost& host_;
  const std::string map_key_;
  const std::string epoch_key_;
  const std::string rebalance_key_;
  std::unique_ptr<LeaseKeeper> keeper_;
  std::unique_ptr<PrefixMirror> mirror_;

  mutable Mutex mu_;
  State state_ GUARDED_BY(mu_) = State::kRegistering;
  bool stopping_ GUARDED_BY(mu_) = false;
  int64_t registered_rev_ GUARDED_BY(mu_) = 0;  // the put of nodes/<id>; 0 = not registered
  int64_t mirror_rev_ GUARDED_BY(mu_) = 0;      // the mirror's last snapshot
  bool map_current_ GUARDED_BY(mu_) = false;    // that snapshot's map is the applied one
  int64_t applied_rev_ GUARDED_BY(mu_) = 0;     // the applied map's mod_revision
  int64_t applied_epoch_ GUARDED_BY(mu_) = 1;
  int64_t refused_rev_ GUARDED_BY(mu_) = 0;     // a map that did not parse (logged once)
  int64_t rebalance_rev_ GUARDED_BY(mu_) = -1;  // the rebalance record last told (0: none)
  bool interrupted_ GUARDED_BY(mu_) = false;    // the mirror lost etcd (logged once)
};

}  // namespace sluice::cluster
