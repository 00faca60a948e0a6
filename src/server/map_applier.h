// File: server/map_applier.h
//
// MapApplier: the server's side of the node agent (cluster/node_agent.h). The agent says which map
// (from etcd) to apply and when to fence writes; this applies it to the bucket, the replicator and
// the cluster config clients see, in an order that never has two streams into one vbucket:
//   1. the replica sources follow the new map, and the feed refreshes at once on the current
//      states: a replica this map promotes loses its passive stream before it becomes active, and
//      a replica whose active moved re-points (links to unchanged sources stay as they are);
//   2. the vbucket states and topologies change (ClusterView::ApplyDynamicMap, only those that
//      differ) and the map is published with its revision and epoch;
//   3. clients that asked for pushes get the new config;
//   4. the feed refreshes again: vbuckets that became replicas here start streaming.
// Writes are fenced through the bucket (engine::Bucket::SetWritesFenced, SetWritesValidUntil).
//
// Ownership: owned by main beside the agent, which borrows it; borrows the ServerContext and
// shares the sources and the feed (null feed: no replication). Thread safety: ApplyMap from the
// agent's mirror thread, one call at a time; the fence's setters from any thread.
#pragma once

#include <memory>

#include "cluster/node_agent.h"
#include "replication/source_feed.h"
#include "server/replication_setup.h"
#include "server/server_context.h"

namespace sluice::server {

class MapApplier final : public cluster::NodeAgentHost {
 public:
  MapApplier(ServerContext& ctx, std::shared_ptr<DynamicMapSources> sources,
             std::shared_ptr<replication::SourceFeed> feed)
      : ctx_(ctx), sources_(std::move(sources)), feed_(std::move(feed)) {}

  Status ApplyMap(std::shared_ptr<const cluster::ClusterMap> map, int64_t rev,
                  int64_t epoch) override;
  void SetWritesFenced(bool fenced) override;
  void SetWritesValidUntil(std::chrono::steady_clock::time_point until) override;
  void OnStateChanged(std::string_view state) override;
  void OnRebalance(const std::optional<cluster::RebalanceStatus>& status) override;

 private:
  ServerContext& ctx_;
  const std::shared_ptr<DynamicMapSources> sources_;
  const std::shared_ptr<replication::SourceFeed> feed_;
};

}  // namespace sluice::server
