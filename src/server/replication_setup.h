// File: server/replication_setup.h
//
// Starting the built-in replicator (src/replication) from sluiced's flags and configuration:
// the credentials (`replication_user` and its password from the users file), the connection
// parameters (replication_* in docs/configuration.md) and where each replica vbucket streams
// from, one of:
//   - the static cluster file (--node-id, --cluster-map): a vbucket this node holds as replica
//     (or pending) streams from the node the file names active for it, unless that is this node
//     (then from nobody: nothing in a static cluster says who took it over);
//   - the hidden test/driver flag --replica-of HOST:PORT: every replica vbucket of this node
//     streams from that address;
//   - a map that changes at runtime (sluiced --etcd: DynamicMapSources, set by
//     server/map_applier.h): as the static file, from the map current when the feed refreshes.
//
// Ownership: main owns the returned ReplicationRuntime; the replicator is shared with the
// ServerContext (stats). Stop() before the bucket shuts down.
// Thread safety: Start/Stop from main's thread.
#pragma once

#include <memory>
#include <string>

#include "cluster/cluster_map.h"
#include "common/config.h"
#include "common/mutex.h"
#include "common/status.h"
#include "engine/bucket.h"
#include "executor/executor.h"
#include "replication/replicator.h"
#include "replication/source_feed.h"

namespace sluice::server {

struct ReplicationRuntime {
  std::shared_ptr<replication::Replicator> replicator;
  std::shared_ptr<replication::SourceFeed> feed;
  // Stops the feed first (no more SetSources), then the replicator (joins its threads).
  void Stop();
};

// "HOST:PORT" (the host may be a bracketed IPv6 literal) -> (host, port); kInvalid otherwise.
StatusOr<std::pair<std::string, uint16_t>> ParseHostPort(std::string_view text);

// What the replicator of `bucket` needs besides its sources. `node_id` names this node in DCP
// connection names.
struct ReplicationSetup {
  std::string users_file;
  std::string node_id;
  const Config* config = nullptr;
  std::shared_ptr<engine::Bucket> bucket;
  executor::Executor* executor = nullptr;
};

// The replica sources of the current dynamic map: a replica (or pending) vbucket streams from
// the node the map names active for it, none before the first map or when that is this node.
// Shared by the SourceFeed's SourceOf and the MapApplier that sets it. Thread-safe.
class DynamicMapSources {
 public:
  explicit DynamicMapSources(std::string node_id) : node_id_(std::move(node_id)) {}
  void Set(std::shared_ptr<const cluster::ClusterMap> map) EXCLUDES(mu_);
  std::optional<replication::ReplicaSource> SourceOf(Vbid vb) const EXCLUDES(mu_);

 private:
  const std::string node_id_;
  mutable Mutex mu_;
  std::shared_ptr<const cluster::ClusterMap> map_ GUARDED_BY(mu_);
};

// The replicator fed from `sources` (which it shares). kInvalid (a usage error) when the
// replication user is wrong.
StatusOr<ReplicationRuntime> StartFromDynamicMap(std::shared_ptr<DynamicMapSources> sources,
                                                 const ReplicationSetup& setup);

// The replicator with --replica-of `replica_of` ("HOST:PORT"). kInvalid (a usage error) when the
// address or the replication user is wrong.
StatusOr<ReplicationRuntime> StartReplicaOf(const std::string& replica_of,
                                            const ReplicationSetup& setup);

// The replicator fed from the static cluster `map`, setup.node_id being this node's id in it.
// kInvalid (a usage error) when the replication user is wrong.
StatusOr<ReplicationRuntime> StartFromClusterMap(const cluster::ClusterMap& map,
                                                 const ReplicationSetup& setup);

}  // namespace sluice::server
