// File: cluster/cluster_keys.h
//
// The etcd key layout of a self-running cluster and the values stored under it (docs/cluster.md,
// "Key layout"): one table of key names, and the parse/format of each JSON value, so that the
// node agent, the manager and `sluice cluster` read and write the same bytes.
//
//   /sluice/<cluster>/nodes/<id>           NodeRegistration  {"id","host","port","metrics_port"}
//   /sluice/<cluster>/members/<id>         MemberValue       {"status":"active"|...[,"auto":true]}
//   /sluice/<cluster>/manager              the manager's id (cluster/election.h)
//   /sluice/<cluster>/buckets/<b>/map      the cluster file's JSON (cluster/cluster_map.h)
//   /sluice/<cluster>/epoch                decimal integer (revEpoch)
//   /sluice/<cluster>/failover_count       decimal integer: automatic failovers since the reset
//   /sluice/<cluster>/settings             ClusterSettings {"auto_failover_timeout", ...}
//   /sluice/<cluster>/rebalance            RebalanceStatus {"state","moves_done","moves_total",...}
//
// Parsers refuse unknown keys and wrong types (kInvalid naming the problem): a value written by a
// newer or broken writer is reported, never half-read.
//
// Thread safety: values and pure functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/cluster_map.h"
#include "common/status.h"
#include "common/vbucket_topology.h"

namespace sluice::cluster {

// The key names of one cluster.
class ClusterKeys {
 public:
  explicit ClusterKeys(std::string_view cluster);

  const std::string& prefix() const { return prefix_; }  // "/sluice/<cluster>/"
  std::string NodesPrefix() const { return prefix_ + "nodes/"; }
  std::string Node(std::string_view id) const { return NodesPrefix().append(id); }
  std::string MembersPrefix() const { return prefix_ + "members/"; }
  std::string Member(std::string_view id) const { return MembersPrefix().append(id); }
  std::string Manager() const { return prefix_ + "manager"; }
  std::string BucketsPrefix() const { return prefix_ + "buckets/"; }
  std::string Map(std::string_view bucket) const {
    return BucketsPrefix().append(bucket).append("/map");
  }
  std::string Epoch() const { return prefix_ + "epoch"; }
  std::string FailoverCount() const { return prefix_ + "failover_count"; }
  std::string Settings() const { return prefix_ + "settings"; }
  std::string Rebalance() const { return prefix_ + "rebalance"; }

  // What follows `prefix` in `key` (a node or member id), or nullopt if `key` is not under it or
  // names nothing.
  static std::optional<std::string> Suffix(std::string_view key, std::string_view prefix);
  // The bucket of a "<prefix>buckets/<b>/map" key, or nullopt.
  std::optional<std::string> BucketOfMapKey(std::string_view key) const;

 private:
  std::string prefix_;
};

// nodes/<id>: a live node's addresses, under its lease.
struct NodeRegistration {
  std::string id;
  std::string host;
  uint16_t port = 0;
  uint16_t metrics_port = 0;  // 0: none
  friend bool operator==(const NodeRegistration&, const NodeRegistration&) = default;
};
StatusOr<NodeRegistration> ParseNodeRegistration(std::string_view json);
// The node agent's value: keys in the order id, host, port, metrics_port (always present).
std::string FormatNodeRegistration(const NodeRegistration& node);

// members/<id>: the node's place in the cluster.
//
//   (none), kFailedOver ── sluice cluster add ──▶ kPendingAdd ── rebalance done ──▶ kActive
//   kActive ── sluice cluster remove ──▶ kPendingRemove ── rebalance done ──▶ (key deleted)
//   kActive ── failover request (sluice cluster failover) ──▶ kFailoverRequested
//      │                                                            │ manager: hard failover
//      ├── sluice cluster failover --graceful ──▶ kGracefulFailoverRequested ──▶ kFailedOver
//      │     (manager: its actives move to their replicas first; hard if it is not alive)
//      └────────── manager: automatic failover ──────────────────▶ kFailedOver (auto)
//   kFailedOver (auto) ── manager: the node registered again ──▶ kActive (a replica where chains
//                                                                 are short)
//
// A failed-over member stays in members/ (it is out of every map) until `add` brings it back, or,
// after an automatic failover ({"status":"failed_over","auto":true}), until the manager re-adds
// it when it registers again (docs/cluster.md, "A failed-over node's return"). A member failed
// over on request has no "auto": the operator decides whether it comes back.
// A pending_add member is in no map until a rebalance moves vbuckets to it; a pending_remove
// member keeps its vbuckets until a rebalance moves them away.
enum class MemberStatus : uint8_t {
  kActive,
  kFailoverRequested,
  kFailedOver,
  kPendingAdd,
  kPendingRemove,
  kGracefulFailoverRequested
};
std::string_view MemberStatusName(MemberStatus status);  // "active", "failover_requested", ...
// A members/<id> value: the status and, for kFailedOver only, whether the manager failed it over
// automatically ("auto": true; absent = false, as every value written before it existed).
struct MemberValue {
  MemberStatus status = MemberStatus::kActive;
  bool auto_failover = false;
  friend bool operator==(const MemberValue&, const MemberValue&) = default;
};
StatusOr<MemberValue> ParseMemberValue(std::string_view json);
// The status alone (ParseMemberValue's).
StatusOr<MemberStatus> ParseMember(std::string_view json);
// {"status":S}, plus "auto":true when `auto_failover` (REQUIRES: status kFailedOver then).
std::string FormatMember(MemberStatus status, bool auto_failover = false);

// settings: the manager's tunables; a key absent from the object keeps its default.
struct ClusterSettings {
  static constexpr std::chrono::seconds kMinAutoFailoverTimeout{1};
  std::chrono::seconds auto_failover_timeout{5};  // >= 1 s
  int64_t auto_failover_max_count = 1;            // >= 0 (0: never automatically)
  int64_t rebalance_moves_per_node = 4;           // >= 1: moves at once a node is part of
  friend bool operator==(const ClusterSettings&, const ClusterSettings&) = default;
};
// `defaults` supplies the keys the object lacks.
StatusOr<ClusterSettings> ParseSettings(std::string_view json, const ClusterSettings& defaults);
std::string FormatSettings(const ClusterSettings& settings);

// rebalance: the operator's request and the manager's progress (docs/cluster.md, "Rebalance").
//
//   kRequested ── manager plans ──▶ kRunning ── every move done ──▶ kDone
//        │                              │ the plan cannot go on (a target node left)
//        └──────────────────────────────┴──▶ kFailed
//
// `sluice cluster rebalance` writes kRequested (unless one runs); the manager writes the rest.
struct RebalanceStatus {
  enum class State : uint8_t { kRequested, kRunning, kDone, kFailed };
  State state = State::kRequested;
  int64_t moves_total = 0;  // vbuckets whose chain differs from the target when planned
  int64_t moves_done = 0;
  std::string message;                                       // a failure's reason, or empty
  std::vector<std::string> nodes;                            // the target's members, in order
  std::map<std::string, std::vector<TopologyChain>> target;  // by bucket; kRunning only
};
std::string_view RebalanceStateName(RebalanceStatus::State state);  // "requested", ...
StatusOr<RebalanceStatus> ParseRebalance(std::string_view json);
std::string FormatRebalance(const RebalanceStatus& status);

// epoch / failover_count: a non-negative decimal integer.
StatusOr<int64_t> ParseCounter(std::string_view text);

// A map value: the cluster file's JSON with the vbucket count its "vbucket_map" has.
StatusOr<ClusterMap> ParseMapValue(std::string_view json);
// The map value of `nodes` (in this order), `num_replicas`, `chains` and the moves under way.
std::string FormatMapValue(const std::vector<ClusterNode>& nodes, size_t num_replicas,
                           const std::vector<TopologyChain>& chains,
                           const std::map<Vbid, VbucketMove>& moves = {});

}  // namespace sluice::cluster
