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
// promoted node's. revEpoch is kEpoch.
//
// Dynamic (sluiced --etcd; cluster/node_agent.h): the map arrives at runtime from etcd, each with
// its revision and epoch (the map key's mod_revision and the cluster's epoch key), the same on
// every node. ApplyDynamicMap sets the vbucket states it implies, then publishes map, revision
// and epoch together; clients see rev 0 and revEpoch 1 until the first map.
//
// Ownership: owned by the ServerContext; shares the bucket. Thread safety: thread-safe (one
// mutex around the map, the persisted revision and the JSON cache; Configure and ApplyClusterMap
// run at start-up, before the server serves; ApplyDynamicMap from one thread at a time, the node
// agent's).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "cluster/cluster_keys.h"
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
    bool dynamic = false;                    // maps come from ApplyDynamicMap (no `map`)
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

  // Dynamic: sets every vbucket's state from `map` as ApplyClusterMap does (only those that
  // differ), then publishes the map with its revision and epoch. REQUIRES: Configure(dynamic).
  Status ApplyDynamicMap(std::shared_ptr<const cluster::ClusterMap> map, int64_t rev, int64_t epoch)
      EXCLUDES(mu_);

  // The current revision and epoch (see above).
  int64_t Revision() EXCLUDES(mu_);
  int64_t Epoch() EXCLUDES(mu_);

  struct Config {
    int64_t rev = 0;
    int64_t epoch = kEpoch;
    std::string json;
    uint64_t generation = 0;  // the bucket's config_revision() it was built at
  };
  // The config for a client that connected to `local_host` (the single-node case names it), this
  // node listening on `port`. Cached per host and revision.
  Config Current(const std::string& local_host, uint16_t port) EXCLUDES(mu_);

  // The cluster map (static, or the last dynamic one), or null.
  std::shared_ptr<const cluster::ClusterMap> map() EXCLUDES(mu_);
  const std::string& node_id() const { return node_id_; }
  bool dynamic() const { return dynamic_; }
  // Dynamic: the node agent's state (cluster/node_agent.h), for STAT.
  void set_node_state(std::string_view state) EXCLUDES(mu_);
  std::string node_state() EXCLUDES(mu_);
  // Dynamic: the cluster's rebalance record as the node agent last saw it (nullopt: none), for
  // the console.
  void set_rebalance(std::optional<cluster::RebalanceStatus> status) EXCLUDES(mu_);
  std::optional<cluster::RebalanceStatus> rebalance() EXCLUDES(mu_);

 private:
  std::string Build(const cluster::ClusterMap* map, int64_t rev, int64_t epoch,
                    const std::string& local_host, uint16_t port) const;
  // vb's row of the vBucketMap, `width` entries; `me` is this node's index in the map (-1: none).
  std::vector<int> Row(const cluster::ClusterMap* map, int me, Vbid vb, size_t width) const;
  // Sets the vbucket states `map` gives this node; with `only_changed`, only where they differ.
  Status SetStates(const cluster::ClusterMap& map, bool only_changed) const;

  const std::shared_ptr<engine::Bucket> bucket_;
  const std::string random_uuid_;
  // Set by Configure before serving, then constant.
  std::string node_id_;
  std::string state_path_;
  bool dynamic_ = false;

  Mutex mu_;
  std::shared_ptr<const cluster::ClusterMap> map_ GUARDED_BY(mu_);
  int64_t dynamic_rev_ GUARDED_BY(mu_) = 0;  // dynamic: the published map's revision
  int64_t epoch_ GUARDED_BY(mu_) = kEpoch;
  std::string node_state_ GUARDED_BY(mu_);
  std::optional<cluster::RebalanceStatus> rebalance_ GUARDED_BY(mu_);
  uint64_t seen_generation_ GUARDED_BY(mu_) = 0;  // the bucket map generation rev_ is for
  int64_t rev_ GUARDED_BY(mu_) = 0;
  int64_t persisted_rev_ GUARDED_BY(mu_) = 0;  // highest revision written to the node state
  std::optional<uint64_t> applied_map_ GUARDED_BY(mu_);
  // host -> (revision, JSON)
  std::map<std::string, Config> cache_ GUARDED_BY(mu_);
};

}  // namespace sluice::server
