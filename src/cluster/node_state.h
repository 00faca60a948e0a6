// File: cluster/node_state.h
//
// NodeState: what a node remembers about its cluster across restarts, in one small JSON file
// beside its data (server/cluster_view.h decides where and when):
//
//   {"config_rev": 42, "cluster_map": "8c2f0e6d1b9a3f70"}
//
//   config_rev   the highest cluster-config revision the node may have shown a client, so that
//                revisions only increase across restarts
//   cluster_map  the fingerprint (ClusterMap::Fingerprint, 16 hex digits) of the cluster file the
//                node last applied to its vbuckets; absent if none
//
// WriteNodeState replaces the file atomically (a temporary file renamed over it); with `sync` the
// data and the rename are fsynced first. A missing file reads as the default state.
//
// Thread safety: functions; callers serialise writes to one path.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/status.h"

namespace sluice::cluster {

struct NodeState {
  int64_t config_rev = 0;
  std::optional<uint64_t> cluster_map;
  friend bool operator==(const NodeState&, const NodeState&) = default;
};

// kCorruption if the file exists but does not hold a valid state; kIoError if it cannot be read.
StatusOr<NodeState> ReadNodeState(const std::string& path);
Status WriteNodeState(const std::string& path, const NodeState& state, bool sync);

}  // namespace sluice::cluster
