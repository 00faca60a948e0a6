// File: cluster/seqno_probe.h
//
// SeqnoProbe: how the cluster manager (cluster/manager.h) learns, before a failover or a
// rebalance's move, where each replica (or a move's source and target) of a vbucket stands — its
// high prepared seqno and high seqno per vbucket (kv_engine's `vbucket-seqno` stats group:
// vb_N:high_prepared_seqno, vb_N:high_seqno) — to promote the most advanced one
// (cluster/map_planner.h).
//
// The cluster library does not talk the memcached protocol (it depends on common only), so it
// declares this narrow interface and its owner supplies the implementation: over src/client in the
// server (server/memcached_seqno_probe.h), a scripted one in tests.
//
// Ownership: shared by its creator and the Manager. Thread safety: Probe is called from the
// manager's thread only, one call at a time; implementations bound every call in time.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "cluster/cluster_keys.h"
#include "cluster/map_planner.h"
#include "common/status.h"
#include "common/types.h"

namespace sluice::cluster {

class SeqnoProbe {
 public:
  virtual ~SeqnoProbe() = default;
  // The seqnos of those of `vbuckets` that `node` holds in `bucket` (a vbucket it does not hold is
  // left out). An error when the node cannot be asked (unreachable, refused): the manager then
  // ranks its replicas below those that answered.
  virtual StatusOr<std::map<Vbid, VbucketSeqnos>> Probe(const NodeRegistration& node,
                                                        const std::string& bucket,
                                                        const std::vector<Vbid>& vbuckets) = 0;
  // The `rev` of the cluster config `node` serves for `bucket`: with --etcd, the mod_revision of
  // the last map it applied (its vbucket states and takeovers are set before the rev is
  // published). A rebalance waits on it before it trusts a takeover (docs/cluster.md, "Moving a
  // vbucket"). An error when the node cannot be asked; kNotSupported from a probe that cannot
  // tell (a rebalance then cannot finish a takeover).
  virtual StatusOr<int64_t> ConfigRevision(const NodeRegistration& node,
                                           const std::string& bucket) {
    (void)node;
    (void)bucket;
    return Status(Errc::kNotSupported, "this probe cannot read a node's config revision");
  }
};

// The seqnos of `vbuckets` in an answer to the `vbucket-seqno` stats group (key/value pairs as the
// server sent them; vb_N:uuid too when present); a vbucket missing either seqno stat, or with a
// value that is not a number, is left out. For implementations over the memcached protocol.
std::map<Vbid, VbucketSeqnos> SeqnosFromVbucketSeqnoStats(
    const std::vector<std::pair<std::string, std::string>>& stats,
    const std::vector<Vbid>& vbuckets);

}  // namespace sluice::cluster
