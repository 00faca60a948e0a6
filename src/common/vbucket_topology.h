// File: common/vbucket_topology.h
//
// VBucketTopology: the replication chains of one active vbucket, kv_engine's "topology" (the
// value SET_VBUCKET carries for an active vbucket, persisted with the vbucket state):
//
//   [["node-a", "node-b", null], ["node-a", "node-c"]]
//     chain 0: the current chain, active first, then its replicas
//     chain 1: only during a move, the chain the vbucket moves to
//
// Rules (kv_engine's VBucket::validateReplicationTopology): 1 or 2 chains; each chain holds 1 to 4
// nodes; the first node (the active) is a string; the others are strings or null (a replica slot
// with no node: it counts in the chain's length but can never acknowledge). No topology at all
// (an active vbucket set without one, or any non-active vbucket) is the empty VBucketTopology,
// shown as `null` (the `vb_N:topology` stat).
//
// Every layer shares this type: the front end parses it (ParseSetVBucketMeta), the engine holds
// it per vbucket, storage persists it in the vbucket state record, the cluster config reads it.
//
// Thread safety: values and pure functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice {

// One node slot of a chain: a node name, or nullopt for a slot with no node.
using TopologyNode = std::optional<std::string>;
using TopologyChain = std::vector<TopologyNode>;

// Whether node `id` holds a slot of `chain`.
inline bool InChain(const TopologyChain& chain, const std::string& id) {
  for (const TopologyNode& n : chain) {
    if (n && *n == id) return true;
  }
  return false;
}

struct VBucketTopology {
  static constexpr size_t kMaxChains = 2;
  static constexpr size_t kMaxChainLength = 4;  // an active and up to 3 replicas

  std::vector<TopologyChain> chains;  // empty: no topology

  bool empty() const { return chains.empty(); }
  friend bool operator==(const VBucketTopology&, const VBucketTopology&) = default;
};

// Checks the rules above; kInvalid with kv_engine's wording of the first violation.
Status ValidateTopology(const VBucketTopology& topology);

// A topology from its JSON text (the array of chains); kInvalid if it is not JSON or breaks a
// rule.
StatusOr<VBucketTopology> ParseTopologyJson(std::string_view json);

// The JSON text of a topology: `[["a","b",null]]`, or `null` for the empty one.
std::string TopologyToJson(const VBucketTopology& topology);

// The value of a SET_VBUCKET request (kv_engine's vbucket "meta"): empty = no meta (nullopt);
// otherwise a JSON object whose only known key is "topology" (the result then holds it; an object
// without it gives the empty topology). kInvalid for anything else: not JSON, not an object, a bad
// topology, or another key ("expected_next_state" is kv_engine's cache-transfer hint, which
// sluice does not implement, so it is refused rather than ignored).
StatusOr<std::optional<VBucketTopology>> ParseSetVBucketMeta(std::string_view value);

}  // namespace sluice
