// File: cluster/vbucket_layout.h
//
// ComputeLayout: the vbucket map every node of a static cluster computes alike when its cluster
// file has no "vbucket_map" (cluster/cluster_map.h): one chain per vbucket, active first, then
// num_replicas replicas.
//
//   - actives are dealt round-robin in the order the nodes are listed (vbucket v is active on node
//     v mod N), so every node holds floor(V/N) or ceil(V/N) actives;
//   - each replica slot, vbucket by vbucket, goes to the node with the fewest replicas so far
//     among those not yet in the chain (so never the active's node); ties go to the node that
//     holds the fewest replicas of this active's vbuckets (a failed node's load spreads over all
//     the others), then to the one listed soonest after the active;
//   - with fewer than num_replicas + 1 nodes the slots that cannot be filled are null.
//
// The result depends only on the node ids and their order, num_replicas and the vbucket count:
// every node computes the same map. Thread safety: a pure function.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "common/vbucket_topology.h"

namespace sluice::cluster {

// REQUIRES: node_ids non-empty and distinct.
std::vector<TopologyChain> ComputeLayout(const std::vector<std::string>& node_ids,
                                         size_t num_replicas, size_t num_vbuckets);

}  // namespace sluice::cluster
