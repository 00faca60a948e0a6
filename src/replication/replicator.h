// File: replication/replicator.h
//
// Replicator: the built-in consumer side of replication for one bucket. Given, per replica
// vbucket of this node, the node it replicates from (SetSources), it keeps one PeerLink (one DCP
// connection, replication/peer_link.h) per source node, each carrying that node's passive
// streams. Whoever knows the topology computes the sources and calls SetSources again whenever
// they change (in sluiced the SourceFeed of replication/source_feed.h, from the static cluster
// file or the --replica-of test driver); the replicator only diffs: new nodes get a link, links of
// nodes no longer named are stopped, and each link is told its new vbucket set (streams added or
// closed).
//
// Credentials: every link authenticates as ReplicatorOptions::user (the server takes it from
// `replication_user` and its password from the users file; docs/configuration.md).
//
// Ownership: shared by the server's start-up code, which creates it after the bucket and stops
// it before the bucket shuts down (Stop() joins every link's thread, so nothing touches the
// bucket afterwards), and its ServerContext (STAT replication); a stopped replicator stays
// valid and inert. Links are owned here (unique_ptr). The bucket holds it weakly as its
// ReplicaPersistenceObserver (the replicator stops and goes before the bucket's flushers do);
// OnReplicaSynced runs on a flusher thread and only wakes a link.
// Thread safety: thread-safe. SetSources and Stop may block while a removed link finishes a
// blocking client call (at most io_timeout); call them from a thread that may wait (never with a
// bucket lock held).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "engine/bucket.h"
#include "engine/engine_types.h"
#include "replication/consumer_stats.h"
#include "replication/peer_link.h"

namespace sluice::replication {

// One replica vbucket of this node and the node it replicates from.
struct ReplicaSource {
  Vbid vb = 0;
  std::string node_id;  // the producer node's id (names the DCP connection)
  std::string host;
  uint16_t port = 0;
  friend bool operator==(const ReplicaSource&, const ReplicaSource&) = default;
};

struct ReplicatorOptions {
  std::string node_id;  // this node's id: replication:<source>-><node_id>:<bucket>
  std::string bucket;
  std::string user;
  std::string password;
  uint32_t buffer_size = 10u << 20;
  uint32_t noop_interval_seconds = 1;
  double throttle_threshold = 0.99;  // of the bucket quota: acknowledgement stops above it
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds io_timeout{10000};
};

class Replicator final : public engine::ReplicaPersistenceObserver {
 public:
  Replicator(ReplicatorOptions options, std::shared_ptr<engine::Bucket> bucket);
  ~Replicator() override;  // Stop()
  Replicator(const Replicator&) = delete;
  Replicator& operator=(const Replicator&) = delete;

  // The complete set of this node's replica vbuckets and their sources (a vbucket listed twice
  // keeps its last entry). Idempotent; refused (ignored, logged) after Stop().
  void SetSources(std::vector<ReplicaSource> sources) EXCLUDES(mu_);
  // Stops every link (joins their threads). Idempotent.
  void Stop() EXCLUDES(mu_);
  // engine::ReplicaPersistenceObserver (a flusher thread): wakes the link carrying `vb`, whose
  // persistToMajority acknowledgement may now go out.
  void OnReplicaSynced(Vbid vb) override EXCLUDES(mu_);

  // The DCP connection name of the link to `node_id`.
  std::string ConnName(const std::string& node_id) const;
  // Per link, its stats (by source node id).
  std::map<std::string, LinkStats> Stats() const EXCLUDES(mu_);
  // STAT "replication": kv_engine-style consumer stats, "eq_dcpq:<conn>:<name>" and
  // "eq_dcpq:<conn>:stream_<vb>_<name>".
  void AddStats(const engine::AddStatFn& add) const EXCLUDES(mu_);
  // STAT "dcp": each link as the consumer connection it is, with kv_engine's consumer and
  // passive-stream stat names (replication/consumer_stats.h); with `user`, only the links that
  // connect as that user (STAT dcp's filter).
  void AddDcpStats(DcpStreamStatsFormat format, const engine::AddStatFn& add,
                   const std::optional<std::string>& user = std::nullopt) const EXCLUDES(mu_);

 private:
  struct Link {
    std::string host;
    uint16_t port = 0;
    std::unique_ptr<PeerLink> link;
  };
  LinkOptions OptionsFor(const ReplicaSource& source) const;

  const ReplicatorOptions options_;
  const std::shared_ptr<engine::Bucket> bucket_;

  mutable Mutex mu_;
  bool stopped_ GUARDED_BY(mu_) = false;
  std::map<std::string, Link> links_ GUARDED_BY(mu_);        // by source node id
  std::map<Vbid, std::string> source_node_ GUARDED_BY(mu_);  // the last SetSources
};

}  // namespace sluice::replication
