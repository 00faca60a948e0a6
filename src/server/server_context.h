// File: server/server_context.h
//
// ServerContext: what every connection of the server shares — the configuration, the bucket, the
// user database, the front-end counters and the cluster view (server/cluster_view.h).
//
// Ownership: built by main (or a test) before the Server starts and destroyed after it stopped;
// connections hold a plain reference. The bucket and its DCP ConnMap are shared (their own tasks
// hold weak references to them; producers hold the ConnMap). The user database is immutable and
// shared with the SASL exchanges in progress. It is the bucket's VBucketMapListener while it
// lives: a change of the vbucket map posts a cluster-config push to every connection
// (ClosableConnection::NotifyClusterConfigChanged), which sends it if its client asked for them.
//
// Thread safety: thread-safe. Counters are relaxed atomics.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/mutex.h"
#include "dcp/conn_map.h"
#include "engine/bucket.h"
#include "replication/replicator.h"
#include "sasl/users.h"
#include "server/cluster_view.h"
#include "server/command_timings.h"

namespace sluice::server {

// What the context knows of a live connection: how to close it from another thread (the server
// closes every connection at shutdown) and how to tell it the cluster config changed (pushes).
// Connection implements it; declared here so the context holds its registry without knowing
// connections.
class ClosableConnection {
 public:
  // Closes the connection on its own I/O thread (posted). Any thread.
  virtual void CloseFromAnyThread(std::string why) = 0;
  // The cluster config changed: the connection pushes it if its client asked for pushes
  // (posted to its I/O thread). Any thread.
  virtual void NotifyClusterConfigChanged() = 0;

 protected:
  ~ClosableConnection() = default;
};

struct ServerStats {
  std::atomic<int64_t> curr_connections{0};
  std::atomic<uint64_t> total_connections{0};
  std::atomic<uint64_t> rejected_connections{0};
  std::atomic<uint64_t> idle_disconnects{0};  // closed by connection_idle_time
  std::atomic<uint64_t> bytes_read{0};
  std::atomic<uint64_t> bytes_written{0};
  std::atomic<uint64_t> auth_cmds{0};
  std::atomic<uint64_t> auth_errors{0};
  std::atomic<uint64_t> auth_failure_disconnects{0};  // closed at auth_failure_limit
  std::atomic<uint64_t> malformed_frames{0};
};

class ServerContext final : public engine::VBucketMapListener {
 public:
  ServerContext(Config config, std::shared_ptr<engine::Bucket> bucket,
                std::shared_ptr<dcp::ConnMap> conn_map,
                std::shared_ptr<const sasl::UserDatabase> users);
  ~ServerContext() override;

  const Config& config() const { return config_; }
  // The bucket connections may select. Null only in tests of the front end alone.
  const std::shared_ptr<engine::Bucket>& bucket() const { return bucket_; }
  // The bucket's DCP directory (producers, streams, backfill admission). Null only in tests of
  // the front end alone.
  const std::shared_ptr<dcp::ConnMap>& conn_map() const { return conn_map_; }
  const std::shared_ptr<const sasl::UserDatabase>& users() const { return users_; }
  // The bucket's replicator (STAT replication), null while this node replicates nothing. Set
  // once the server listens (its node id names the port).
  void set_replicator(std::shared_ptr<replication::Replicator> r) EXCLUDES(replicator_mu_) {
    MutexLock lock(&replicator_mu_);
    replicator_ = std::move(r);
  }
  std::shared_ptr<replication::Replicator> replicator() const EXCLUDES(replicator_mu_) {
    MutexLock lock(&replicator_mu_);
    return replicator_;
  }
  // The DCP consumer connections' stats boards (STAT dcp), each with the server port its
  // connection came in on. Weak: a board leaves the list when its consumer and any reader let
  // it go.
  void AddConsumerBoard(std::weak_ptr<replication::ConsumerStatsBoard> board, uint16_t port)
      EXCLUDES(consumers_mu_) {
    MutexLock lock(&consumers_mu_);
    std::erase_if(consumer_boards_, [](const auto& b) { return b.first.expired(); });
    consumer_boards_.emplace_back(std::move(board), port);
  }
  std::vector<std::pair<std::shared_ptr<replication::ConsumerStatsBoard>, uint16_t>>
  ConsumerBoards() const EXCLUDES(consumers_mu_) {
    std::vector<std::pair<std::shared_ptr<replication::ConsumerStatsBoard>, uint16_t>> out;
    MutexLock lock(&consumers_mu_);
    for (const auto& [weak, port] : consumer_boards_) {
      if (auto board = weak.lock()) out.emplace_back(std::move(board), port);
    }
    return out;
  }
  ServerStats& stats() { return stats_; }
  // Per-opcode execution latency, recorded by the dispatcher.
  CommandTimings& timings() { return timings_; }
  const Clock& clock() const { return *Clock::Real(); }
  // Seconds since the context was built (the server's uptime).
  uint64_t UptimeSeconds() const;

  // Live connections, so the server can close them all at shutdown. A connection registers
  // itself when it starts and unregisters in its destructor (weak: the registry must not keep a
  // closed connection alive).
  void RegisterConnection(uint64_t id, std::weak_ptr<ClosableConnection> conn);
  void UnregisterConnection(uint64_t id);
  std::vector<std::shared_ptr<ClosableConnection>> Connections() const;

  // The port clients reach the server on (known once it listens).
  void set_port(uint16_t port) { port_.store(port); }
  uint16_t port() const { return port_.load(); }

  // The cluster as clients see it; main configures it before the server serves.
  ClusterView& cluster() { return cluster_; }
  // The bucket's terse cluster config as seen by a client that connected to `host` (the local
  // address of its connection), with the current revision. Cached per (host, revision).
  std::string ClusterConfig(const std::string& host) { return CurrentClusterConfig(host).json; }
  // The same with its revision (pushes send both, and they must agree).
  ClusterView::Config CurrentClusterConfig(const std::string& host) {
    return cluster_.Current(host, port());
  }
  // The revision and epoch ClusterConfig() currently reports.
  int64_t ConfigRevision() { return cluster_.Revision(); }
  int64_t ConfigEpoch() { return cluster_.Epoch(); }

  // engine::VBucketMapListener: posts a cluster-config push to every connection.
  void OnVBucketMapChanged() override;

 private:
  const Config config_;
  const std::shared_ptr<engine::Bucket> bucket_;
  const std::shared_ptr<dcp::ConnMap> conn_map_;
  const SteadyTime start_;
  const std::string bucket_uuid_;
  ServerStats stats_;
  CommandTimings timings_;
  const std::shared_ptr<const sasl::UserDatabase> users_;
  std::atomic<uint16_t> port_{0};

  mutable Mutex replicator_mu_;
  std::shared_ptr<replication::Replicator> replicator_ GUARDED_BY(replicator_mu_);

  mutable Mutex consumers_mu_;
  std::vector<std::pair<std::weak_ptr<replication::ConsumerStatsBoard>, uint16_t>> consumer_boards_
      GUARDED_BY(consumers_mu_);

  mutable Mutex conns_mu_;
  std::map<uint64_t, std::weak_ptr<ClosableConnection>> conns_ GUARDED_BY(conns_mu_);

  ClusterView cluster_;
};

}  // namespace sluice::server
