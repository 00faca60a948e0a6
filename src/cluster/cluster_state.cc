#include "cluster/cluster_state.h"

#include <fmt/format.h>

namespace sluice::cluster {
namespace {

void Problem(ClusterState* state, const std::string& key, const Status& why) {
  state->problems.push_back(fmt::format("{}: {}", key, why.message()));
}

// Reads one key into `state`.
void ReadKey(const ClusterKeys& keys, const EtcdKeyValue& kv, ClusterState* state) {
  const std::string& key = kv.key;
  if (auto id = ClusterKeys::Suffix(key, keys.NodesPrefix())) {
    state->alive.insert(*id);
    state->registration_revisions[*id] = kv.create_revision;
    auto node = ParseNodeRegistration(kv.value);
    if (node.ok() && node->id != *id) node = Status(Errc::kInvalid, "its id is " + node->id);
    if (node.ok()) {
      state->registrations[*id] = std::move(*node);
    } else {
      Problem(state, key, node.status());
    }
  } else if (auto member = ClusterKeys::Suffix(key, keys.MembersPrefix())) {
    auto value = ParseMemberValue(kv.value);
    if (!value.ok()) return Problem(state, key, value.status());
    state->members[*member] = value->status;
    if (value->auto_failover) state->auto_failed_over.insert(*member);
    state->member_mod_revisions[*member] = kv.mod_revision;
  } else if (auto bucket = keys.BucketOfMapKey(key)) {
    BucketMapState& b = state->buckets[*bucket];
    b.mod_revision = kv.mod_revision;
    auto map = ParseMapValue(kv.value);
    if (map.ok()) {
      b.map = std::move(*map);
    } else {
      Problem(state, key, map.status());
    }
  } else if (key == keys.Manager()) {
    state->manager = kv.value;
  } else if (key == keys.Epoch()) {
    auto epoch = ParseCounter(kv.value);
    state->epoch_mod_revision = kv.mod_revision;
    if (!epoch.ok()) return Problem(state, key, epoch.status());
    state->epoch = *epoch;
  } else if (key == keys.FailoverCount()) {
    state->failover_count_mod_revision = kv.mod_revision;
    auto count = ParseCounter(kv.value);
    if (!count.ok()) return Problem(state, key, count.status());
    state->failover_count = *count;
  } else if (key == keys.Rebalance()) {
    state->rebalance_mod_revision = kv.mod_revision;
    auto rebalance = ParseRebalance(kv.value);
    if (!rebalance.ok()) return Problem(state, key, rebalance.status());
    state->rebalance = std::move(*rebalance);
  } else if (key == keys.Settings()) {
    auto settings = ParseSettings(kv.value, state->settings);
    if (!settings.ok()) return Problem(state, key, settings.status());
    state->settings = *settings;
  }
}

}  // namespace

ClusterState ClusterState::Read(const ClusterKeys& keys,
                                const std::map<std::string, EtcdKeyValue>& kvs, int64_t revision,
                                const ClusterSettings& defaults) {
  ClusterState state;
  state.revision = revision;
  state.settings = defaults;
  for (const auto& [key, kv] : kvs) ReadKey(keys, kv, &state);
  return state;
}

ClusterState ClusterState::Read(const ClusterKeys& keys, const RangeResult& range,
                                const ClusterSettings& defaults) {
  ClusterState state;
  state.revision = range.revision;
  state.settings = defaults;
  for (const auto& kv : range.kvs) ReadKey(keys, kv, &state);
  return state;
}

std::vector<std::string> ClusterState::InClusterMembers() const {
  std::vector<std::string> out;
  for (const auto& [id, status] : members) {
    if (status != MemberStatus::kFailedOver) out.push_back(id);
  }
  return out;
}

}  // namespace sluice::cluster
