// File: server/memcached_seqno_probe.h
//
// MemcachedSeqnoProbe: the cluster manager's SeqnoProbe (cluster/seqno_probe.h) over the memcached
// protocol. For each Probe it connects to the node (src/client), authenticates as the replication
// user (the same credentials the replicator uses: `replication_user` and its password from the
// users file), selects the bucket and reads the `vbucket-seqno` stats group, taking
// vb_N:high_prepared_seqno and vb_N:high_seqno of the vbuckets asked about (kv_engine's names).
// One short connection per Probe: failovers are rare, and a node just failed is not kept open.
// ConfigRevision (for a rebalance's takeover) reads GET_CLUSTER_CONFIG's "rev" likewise.
//
// It lives in server (not cluster) because cluster depends on common only and the client on the
// protocol; server depends on both.
//
// Ownership: created by sluiced's main, shared with the Manager. Thread safety: Probe may run on
// any thread; calls share nothing.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "cluster/seqno_probe.h"
#include "common/config.h"

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
  explicit MemcachedSeqnoProbe(SeqnoProbeOptions options) : options_(std::move(options)) {}

  StatusOr<std::map<Vbid, cluster::VbucketSeqnos>> Probe(
      const cluster::NodeRegistration& node, const std::string& bucket,
      const std::vector<Vbid>& vbuckets) override;
  // GET_CLUSTER_CONFIG's "rev" after selecting `bucket`.
  StatusOr<int64_t> ConfigRevision(const cluster::NodeRegistration& node,
                                   const std::string& bucket) override;

 private:
  const SeqnoProbeOptions options_;
};

}  // namespace sluice::server
