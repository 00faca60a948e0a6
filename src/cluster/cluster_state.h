// File: cluster/cluster_state.h
//
// ClusterState: a cluster's keys (cluster/cluster_keys.h) as read at one revision — a mirror
// snapshot or one prefix range — parsed into what the manager and `sluice cluster status` reason
// about: members and their status, which nodes are registered (alive) and where, each bucket's
// map and its mod_revision, the manager, the epoch, the failover count and the settings.
//
// A value that does not parse is left out and named in `problems` (never a crash, never a guess);
// a registration counts as alive whether or not its value parses (its lease is what says alive).
//
// Ownership: a value. Thread safety: thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "cluster/cluster_keys.h"
#include "cluster/cluster_map.h"
#include "cluster/etcd_types.h"

namespace sluice::cluster {

struct BucketMapState {
  std::optional<ClusterMap> map;  // nullopt: the value did not parse (see problems)
  int64_t mod_revision = 0;       // the map's rev
};

struct ClusterState {
  int64_t revision = 0;  // the store revision read at
  std::map<std::string, MemberStatus> members;
  std::map<std::string, int64_t> member_mod_revisions;
  std::set<std::string> auto_failed_over;                 // failed_over members with "auto": true
  std::set<std::string> alive;                            // ids with a nodes/<id> key
  std::map<std::string, int64_t> registration_revisions;  // nodes/<id>'s create_revision
  std::map<std::string, NodeRegistration> registrations;  // those whose value parsed
  std::map<std::string, BucketMapState> buckets;
  std::optional<std::string> manager;
  std::optional<int64_t> epoch;
  int64_t epoch_mod_revision = 0;
  int64_t failover_count = 0;
  int64_t failover_count_mod_revision = 0;  // 0: no such key yet
  ClusterSettings settings;
  std::optional<RebalanceStatus> rebalance;
  int64_t rebalance_mod_revision = 0;  // 0: no such key
  std::vector<std::string> problems;   // "<key>: <why>" for each value left out

  // `kvs`: every key under keys.prefix() at `revision`; `defaults` for settings not given.
  static ClusterState Read(const ClusterKeys& keys, const std::map<std::string, EtcdKeyValue>& kvs,
                           int64_t revision, const ClusterSettings& defaults);
  static ClusterState Read(const ClusterKeys& keys, const RangeResult& range,
                           const ClusterSettings& defaults);

  // Members whose status is not failed_over: the ones the maps are made of.
  std::vector<std::string> InClusterMembers() const;
  bool IsAlive(const std::string& id) const { return alive.count(id) != 0; }
  // The status of member `id`, or nullopt when it is not a member.
  std::optional<MemberStatus> StatusOf(const std::string& id) const {
    auto it = members.find(id);
    return it == members.end() ? std::nullopt : std::optional<MemberStatus>(it->second);
  }
};

}  // namespace sluice::cluster
