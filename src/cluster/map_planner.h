// File: cluster/map_planner.h
//
// The manager's map arithmetic (docs/cluster.md, "The manager"): pure functions from a vbucket map
// (one chain per vbucket: the active's id, then num_replicas slots, nullopt = no node) to the next
// one. No I/O: the manager (cluster/manager.h) and `sluice cluster init` feed them what they read
// from etcd and from the nodes.
//
//   PlanInitialMap   actives dealt round-robin, replicas balanced and never on their active's node
//                    (cluster/vbucket_layout.h: the same layout a static cluster computes)
//   PlanFailover     a node leaves every chain. For each vbucket it was active for, the surviving
//                    replica with the highest high prepared seqno, then the highest high seqno, is
//                    promoted (as Couchbase's ns_server chooses); replicas that reported nothing
//                    rank below those that did, in chain order. The replica slots freed (the
//                    failed node's and the promoted replica's) are refilled on remaining nodes not
//                    yet in the chain, each going to the node holding the fewest replicas.
//   PlanRebalance    the balanced map over a new set of nodes that changes the fewest chains:
//                    actives and replicas each spread within one of even, replicas never on their
//                    active's node; a node keeps the actives and replicas it has while under its
//                    share, a vbucket whose active must move goes to one of its replicas when one
//                    has room (its data are there already).
//   PlanRejoin       a node failed over automatically is back: it takes the first empty replica
//                    slot of every chain short of replicas (the replicas its failover could not
//                    rebuild), and nothing else; a rebalance gives it its share.
//   LeavesMajority   the "never fail over into a minority" rule.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/types.h"
#include "common/vbucket_topology.h"

namespace sluice::cluster {

// What a node reports of one of its vbuckets (kv_engine's `vbucket-seqno` stats).
struct VbucketSeqnos {
  uint64_t high_prepared_seqno = 0;
  uint64_t high_seqno = 0;
  uint64_t uuid =
      0;  // the latest failover entry's (a replica adopts its active's); 0: not reported
  friend bool operator==(const VbucketSeqnos&, const VbucketSeqnos&) = default;
};
// node id -> vbucket -> its seqnos there; a node or vbucket missing reported nothing.
using SeqnoReport = std::map<std::string, std::map<Vbid, VbucketSeqnos>>;

// REQUIRES: node_ids non-empty and distinct.
std::vector<TopologyChain> PlanInitialMap(const std::vector<std::string>& node_ids,
                                          size_t num_replicas, size_t num_vbuckets);

struct Promotion {
  Vbid vbucket = 0;
  std::string to;     // the new active
  bool lost = false;  // no surviving replica: `to` starts the vbucket empty (data lost)
  friend bool operator==(const Promotion&, const Promotion&) = default;
};

struct FailoverPlan {
  std::vector<TopologyChain> chains;
  std::vector<Promotion> promotions;  // one per vbucket whose active left, ascending
  size_t replicas_added = 0;          // freed slots refilled
  bool LosesData() const;             // some promotion is `lost`
};

// Takes `failed` out of `chains`. `remaining` are the nodes that stay in the map, in the map's
// order; a node of a chain not in `remaining` is treated as gone too. A vbucket without a
// surviving replica becomes active (lost) on the remaining node with the fewest actives.
// kInvalid when `remaining` is empty or holds `failed`.
StatusOr<FailoverPlan> PlanFailover(const std::vector<TopologyChain>& chains,
                                    const std::string& failed,
                                    const std::vector<std::string>& remaining,
                                    const SeqnoReport& seqnos);

// The rebalanced chains of `chains` over `nodes` (the members the map will hold, in the map's
// order), each num_replicas + 1 long (null slots when there are too few nodes).
// REQUIRES: nodes non-empty and distinct.
std::vector<TopologyChain> PlanRebalance(const std::vector<TopologyChain>& chains,
                                         const std::vector<std::string>& nodes,
                                         size_t num_replicas);

struct RejoinPlan {
  std::vector<TopologyChain> chains;
  std::vector<Vbid> replica_of;  // the vbuckets `node` became a replica of, ascending
};

// `node` placed as a replica in every chain of `chains` that is short of replicas (an empty
// replica slot, or fewer than num_replicas replicas) and does not hold it: in the first empty
// slot, else appended. Actives and the other replicas are unchanged.
RejoinPlan PlanRejoin(const std::vector<TopologyChain>& chains, const std::string& node,
                      size_t num_replicas);

// Never fail over into a minority: true when `alive_after` nodes still alive after the failover
// are a strict majority of the `members` the cluster had before it.
inline bool LeavesMajority(size_t members, size_t alive_after) { return alive_after * 2 > members; }

}  // namespace sluice::cluster
