// File: server/replication_setup.h
//
// Starting the built-in replicator (src/replication) from sluiced's flags and configuration:
// the credentials (`replication_user` and its password from the users file), the connection
// parameters (replication_* in docs/configuration.md) and, until the cluster map feeds it, the
// hidden test/driver flag --replica-of HOST:PORT (every replica vbucket of this node streams
// from that address).
//
// Ownership: main owns the returned ReplicationRuntime; the replicator is shared with the
// ServerContext (stats). Stop() before the bucket shuts down.
// Thread safety: Start/Stop from main's thread.
#pragma once

#include <memory>
#include <string>

#include "common/config.h"
#include "common/status.h"
#include "engine/bucket.h"
#include "executor/executor.h"
#include "replication/replica_of.h"
#include "replication/replicator.h"

namespace sluice::server {

struct ReplicationRuntime {
  std::shared_ptr<replication::Replicator> replicator;
  std::shared_ptr<replication::ReplicaOfAll> replica_of;  // null without --replica-of
  // Stops the source first (no more SetSources), then the replicator (joins its threads).
  void Stop();
};

// "HOST:PORT" (the host may be a bracketed IPv6 literal) -> (host, port); kInvalid otherwise.
StatusOr<std::pair<std::string, uint16_t>> ParseHostPort(std::string_view text);

// The replicator of `bucket` with --replica-of `replica_of` ("HOST:PORT"). `node_id` names this
// node in DCP connection names. kInvalid (a usage error) when the address or the replication
// user is wrong.
StatusOr<ReplicationRuntime> StartReplicaOf(const std::string& replica_of,
                                            const std::string& users_file,
                                            const std::string& node_id, const Config& config,
                                            std::shared_ptr<engine::Bucket> bucket,
                                            executor::Executor& executor);

}  // namespace sluice::server
