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
//     streams from that address.
//
// Ownership: main owns the returned ReplicationRuntime; the replicator is shared with the
// ServerContext (stats). Stop() before the bucket shuts down.
// Thread safety: Start/Stop from main's thread.
#pragma once

#include <memory>
#include <string>

#include "cluster/cluster_map.h"
#include "common/config.h"
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

// The replicator with --replica-of `replica_of` ("HOST:PORT"). kInvalid (a usage error) when the
// address or the replication user is wrong.
StatusOr<ReplicationRuntime> StartReplicaOf(const std::string& replica_of,
                                            const ReplicationSetup& setup);

// The replicator fed from the static cluster `map`, setup.node_id being this node's id in it.
// kInvalid (a usage error) when the replication user is wrong.
StatusOr<ReplicationRuntime> StartFromClusterMap(const cluster::ClusterMap& map,
                                                 const ReplicationSetup& setup);

}  // namespace sluice::server
