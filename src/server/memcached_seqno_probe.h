// File: server/memcached_seqno_probe.h
//
// MemcachedSeqnoProbe: the cluster manager's SeqnoProbe (cluster/seqno_probe.h) over the memcached
// protocol. For each Probe it connects to the node (src/client), authenticates as the replication
// user (the same credentials the replicator uses: `replication_user` and its password from the
// users file), selects the bucket and reads the `vbucket-seqno` stats group, taking
// vb_N:high_prepared_seqno and vb_N:high_seqno of the vbuckets asked about (kv_engine's names).
// ConfigRevision (for a rebalance's takeover) reads GET_CLUSTER_CONFIG's "rev" likewise.
// Connections are kept, one per node address and bucket: a rebalance probes its moving vbuckets at
// every look of the manager (every 10 ms while moves are in flight), and a new connection per call
// paid a SASL exchange each time. A call that fails drops its connection and is tried once more on
// a new one (the node may have restarted); a new connection that fails answers the error.
//
// It lives in server (not cluster) because cluster depends on common only and the client on the
// protocol; server depends on both.
//
// Ownership: created by sluiced's main, shared with the Manager; owns its connections. Thread
// safety: thread-safe; calls are serialised (one lock over the connections and their I/O).
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cluster/seqno_probe.h"
#include "common/config.h"
#include "common/mutex.h"

namespace sluice::client {
class Connection;
}  // namespace sluice::client

namespace sluice::server {

struct SeqnoProbeOptions {
  std::string user;
  std::string password;
  // Bounds the connect and each reply of one Probe.
  std::chrono::milliseconds timeout{2000};
};

// The replication user's credentials from `users_file` (config.replication_user); kInvalid if the
// user is not there.
StatusOr<SeqnoProbeOptions> SeqnoProbeOptionsFromUsers(const std::string& users_file,
                                                       const Config& config);

class MemcachedSeqnoProbe : public cluster::SeqnoProbe {
 public:
  explicit MemcachedSeqnoProbe(SeqnoProbeOptions options);
  ~MemcachedSeqnoProbe() override;

  StatusOr<std::map<Vbid, cluster::VbucketSeqnos>> Probe(
      const cluster::NodeRegistration& node, const std::string& bucket,
      const std::vector<Vbid>& vbuckets) override;
  // GET_CLUSTER_CONFIG's "rev" after selecting `bucket`.
  StatusOr<int64_t> ConfigRevision(const cluster::NodeRegistration& node,
                                   const std::string& bucket) override;

 private:
  // Runs `fn` on the kept connection to `node` with `bucket` selected (file comment).
  Status WithConnection(const cluster::NodeRegistration& node, const std::string& bucket,
                        const std::function<Status(client::Connection&)>& fn) EXCLUDES(mu_);

  const SeqnoProbeOptions options_;
  Mutex mu_;
  // By "host:port/bucket".
  std::map<std::string, std::unique_ptr<client::Connection>> conns_ GUARDED_BY(mu_);
};

}  // namespace sluice::server
