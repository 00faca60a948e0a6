// File: server/cluster_view.h
//
// ClusterView: the cluster as this node describes it to clients (GET_CLUSTER_CONFIG,
// NOT_MY_VBUCKET bodies, ClustermapChangeNotification pushes): every node, the vbucket map with
// its replicas, and a revision that only increases, also across restarts.
//
// Sources. The nodes come from the static cluster file (--cluster-map; server/cluster_view.cc
// applies it at start, see ApplyClusterMap) or, without one, are this node alone at the address
// the client connected to. Each vbucket's row (active first, then numReplicas replicas, as
// indices into the node list, -1 for none) comes from what this node knows:
//   - a vbucket active here: this node, then the replicas of its topology's first chain (set by
//     SET_VBUCKET or from the map); none without a topology;
//   - any other vbucket: its chain in the cluster file (none without one), corrected by this
//     node's own state: it is not named active there, nor replica unless it holds a replica.
// numReplicas is the file's num_replicas, or more if an active topology here is longer.
//
// Revision. Each new vbucket map (the bucket's config_revision() moved: a state or topology
// change, a creation or deletion) gets, when it is first shown, the revision max(previous + 1,
// the wall clock in milliseconds); it is persisted (cluster/node_state.h) before it is shown,
// so revisions only increase, also across restarts and a clock set back. The clock makes the
// revisions of different nodes comparable: a client keeps the config with the highest revision,
// which is the one of the node that changed last (with clocks in step) - after a failover, the
// promoted node's. revEpoch is kEpoch. A later issue makes the topology, and so the revisions,
// cluster-wide.
//
// Ownership: owned by the ServerContext; shares the bucket. Thread safety: thread-safe (one
// mutex around the persisted revision and the JSON cache; Configure and ApplyClusterMap run at
// start-up, before the server serves).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "cluster/cluster_map.h"
#include "common/mutex.h"
#include "common/status.h"
#include "engine/bucket.h"

namespace sluice::server {

// --node-id and --cluster-map: nullopt without both; the parsed map with both. kInvalid (a usage
// error, exit code 2) for one without the other, an unreadable or malformed file, or a node id the
// file does not list.
StatusOr<std::optional<cluster::ClusterMap>> LoadClusterMapFlags(const std::string& node_id,
                                                                 const std::string& path,
                                                                 size_t num_vbuckets);

class ClusterView {
 public:
  static constexpr int64_t kEpoch = 1;

  struct Options {
    std::optional<cluster::ClusterMap> map;  // the static cluster, if any
    std::string node_id;                     // this node's id in `map`
    std::string state_path;                  // the node-state file; "" = revisions not persisted
  };

  // A single-node view with in-memory revisions until Configure(). `bucket` may be null (tests of
  // the front end alone): then an empty map.
  ClusterView(std::shared_ptr<engine::Bucket> bucket, std::string random_uuid);

  // Takes the options and reads the node state (kCorruption / kIoError if it cannot). Before the
  // server serves.
  Status Configure(Options options) EXCLUDES(mu_);
  // With a map: sets every vbucket's state from it - active with the map's topology where this
  // node is first in the chain, replica where it is later, dead elsewhere - then persists the
  // states and records the map's fingerprint in the node state. Skipped when this data directory
  // already applied this very map and was not created afresh: the states it persisted since
  // (SET_VBUCKET may have changed them) stand. Before the server serves.
  Status ApplyClusterMap() EXCLUDES(mu_);

  // The current revision (see above).
  int64_t Revision() EXCLUDES(mu_);

  struct Config {
    int64_t rev = 0;
    std::string json;
  };
  // The config for a client that connected to `local_host` (the single-node case names it), this
  // node listening on `port`. Cached per host and revision.
  Config Current(const std::string& local_host, uint16_t port) EXCLUDES(mu_);

  // The static cluster, or null.
  const cluster::ClusterMap* map() const { return map_ ? &*map_ : nullptr; }
  const std::string& node_id() const { return node_id_; }

 private:
  std::string Build(int64_t rev, const std::string& local_host, uint16_t port) const;
  // vb's row of the vBucketMap, `width` entries.
  std::vector<int> Row(Vbid vb, size_t width) const;
  // Index of node `id` in the node list, or -1.
  int IndexOf(const TopologyNode& id) const;

  const std::shared_ptr<engine::Bucket> bucket_;
  const std::string random_uuid_;
  // Set by Configure before serving, then constant.
  std::optional<cluster::ClusterMap> map_;
  std::string node_id_;
  int me_ = 0;  // this node's index in the node list
  std::string state_path_;

  Mutex mu_;
  uint64_t seen_generation_ GUARDED_BY(mu_) = 0;  // the bucket map generation rev_ is for
  int64_t rev_ GUARDED_BY(mu_) = 0;
  int64_t persisted_rev_ GUARDED_BY(mu_) = 0;  // highest revision written to the node state
  std::optional<uint64_t> applied_map_ GUARDED_BY(mu_);
  // host -> (revision, JSON)
  std::map<std::string, Config> cache_ GUARDED_BY(mu_);
};

}  // namespace sluice::server
