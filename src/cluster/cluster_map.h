// File: cluster/cluster_map.h
//
// ClusterMap: a static cluster as the file given to every node with `sluiced --node-id ID
// --cluster-map FILE` describes it (docs/replication.md, "Topology sources"):
//
//   {"nodes": [{"id": "a", "host": "127.0.0.1", "port": 11210}, ...],
//    "num_replicas": 1,
//    "vbucket_map": [["a", "b"], ["b", "a"], ...]}        (optional)
//
//   nodes         at least one; ids unique and non-empty; host non-empty; port 1..65535;
//                 host:port unique. The order matters: it is the order of the cluster config's
//                 serverList and of the computed layout.
//   num_replicas  0..3 (Couchbase's limit).
//   vbucket_map   one chain per vbucket of the bucket (--vbuckets), each num_replicas + 1 long:
//                 a node id (the active), then node ids or null (no replica in that slot); no
//                 node twice in a chain. Without it every node computes the same balanced layout
//                 (cluster/vbucket_layout.h).
//   moves         optional (written by the manager during a rebalance; docs/cluster.md, "Moving a
//                 vbucket"): [{"vbucket": 5, "to": ["c", "a"], "phase": "backfill"}, ...], at most
//                 one per vbucket; "to" is the chain the vbucket moves to (same length, nodes in
//                 "nodes", its active non-null); phase "backfill" (the nodes of "to" not in the
//                 chain hold replicas streaming from the current active) or "takeover" (the same,
//                 and the current active refuses front-end writes with TMPFAIL and carries "to"
//                 as its topology's second chain).
// Any other key, in the file or in a node, is an error (a typo must not pass silently).
//
// The narrow interface other parts read: ChainOf / ActiveOf / RoleOf per vbucket, and for the
// replicator ReplicaVbucketsBySource(me): "for each node X, the vbuckets where I am a replica of
// X" (one DCP connection per pair of nodes, one passive stream per vbucket).
//
// Ownership: a value (copyable); the server keeps the one it started with. Thread safety:
// immutable after Parse, so any thread may read it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/types.h"
#include "common/vbucket_topology.h"

namespace sluice::cluster {

struct ClusterNode {
  std::string id;
  std::string host;
  uint16_t port = 0;
  friend bool operator==(const ClusterNode&, const ClusterNode&) = default;
};

// A vbucket on its way from its chain to `to` (the map's "moves").
struct VbucketMove {
  enum class Phase : uint8_t { kBackfill, kTakeover };
  TopologyChain to;
  Phase phase = Phase::kBackfill;
  friend bool operator==(const VbucketMove&, const VbucketMove&) = default;
};
std::string_view MovePhaseName(VbucketMove::Phase phase);  // "backfill", "takeover"

class ClusterMap {
 public:
  static constexpr size_t kMaxReplicas = 3;

  // The file's text for a bucket of `num_vbuckets` vbuckets. kInvalid with a message naming
  // the first problem.
  static StatusOr<ClusterMap> Parse(std::string_view json, size_t num_vbuckets);
  // Reads and parses `path`; kIoError if it cannot be read. Messages start with the path.
  static StatusOr<ClusterMap> Load(const std::string& path, size_t num_vbuckets);

  const std::vector<ClusterNode>& nodes() const { return nodes_; }
  size_t num_replicas() const { return num_replicas_; }
  size_t num_vbuckets() const { return chains_.size(); }
  // Whether the file listed the vbucket map (else it was computed).
  bool vbucket_map_given() const { return vbucket_map_given_; }

  // The node with this id, or null.
  const ClusterNode* FindNode(std::string_view id) const;
  // Its position in nodes(), or nullopt.
  std::optional<size_t> NodeIndex(std::string_view id) const;

  // vb's chain: the active's id, then num_replicas() slots (nullopt = no node). REQUIRES: vb <
  // num_vbuckets().
  const TopologyChain& ChainOf(Vbid vb) const { return chains_[vb]; }
  // The node active for vb. REQUIRES: vb < num_vbuckets().
  const ClusterNode& ActiveOf(Vbid vb) const;
  // What node `id` holds of vb: kActive (first in the chain), kReplica (later in it, or in the
  // chain of vb's move) or kDead (neither).
  VBucketState RoleOf(std::string_view id, Vbid vb) const;
  // The topology an active vbucket gets from the map: its chain as chain 0, and during a move's
  // takeover the chain it moves to as chain 1.
  VBucketTopology TopologyOf(Vbid vb) const;
  // vb's move, or null.
  const VbucketMove* MoveOf(Vbid vb) const;
  const std::map<Vbid, VbucketMove>& moves() const { return moves_; }
  // Whether `id` is vb's active and vb is in a move's takeover (its front-end writes refused).
  bool InTakeover(std::string_view id, Vbid vb) const;
  // For each node X active for some vbucket where `me` is a replica: those vbuckets, ascending.
  // Empty for a node that is nobody's replica (or not in the map).
  std::map<std::string, std::vector<Vbid>> ReplicaVbucketsBySource(std::string_view me) const;

  // A fingerprint of what the map says (nodes in order, num_replicas, every chain): equal for
  // two files that describe the same cluster, whether the map was listed or computed.
  uint64_t Fingerprint() const;
  // The bucket uuid the cluster config shows for bucket `bucket`: 32 hex digits derived from the
  // node ids and the bucket's name, so that every node of the cluster shows the same one.
  std::string BucketUuid(std::string_view bucket) const;

 private:
  std::vector<ClusterNode> nodes_;
  size_t num_replicas_ = 0;
  std::vector<TopologyChain> chains_;
  std::map<Vbid, VbucketMove> moves_;
  bool vbucket_map_given_ = false;
};

}  // namespace sluice::cluster
