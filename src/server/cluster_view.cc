#include "server/cluster_view.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "cluster/node_state.h"
#include "cluster/terse_config.h"
#include "common/logging.h"

namespace sluice::server {

StatusOr<std::optional<cluster::ClusterMap>> LoadClusterMapFlags(const std::string& node_id,
                                                                 const std::string& path,
                                                                 size_t num_vbuckets) {
  if (node_id.empty() && path.empty()) return std::optional<cluster::ClusterMap>();
  if (node_id.empty() || path.empty()) {
    return Status(Errc::kInvalid, "--node-id and --cluster-map go together");
  }
  auto map = cluster::ClusterMap::Load(path, num_vbuckets);
  if (!map.ok()) return Status(Errc::kInvalid, map.status().message());
  if (map->FindNode(node_id) == nullptr) {
    std::string ids;
    for (const auto& node : map->nodes()) ids += (ids.empty() ? "" : ", ") + node.id;
    return Status(Errc::kInvalid, fmt::format("--node-id {}: the cluster map {} has no such node "
                                              "(its nodes: {})",
                                              node_id, path, ids));
  }
  return std::optional<cluster::ClusterMap>(std::move(*map));
}

ClusterView::ClusterView(std::shared_ptr<engine::Bucket> bucket, std::string random_uuid)
    : bucket_(std::move(bucket)), random_uuid_(std::move(random_uuid)) {}

Status ClusterView::Configure(Options options) {
  node_id_ = std::move(options.node_id);
  state_path_ = std::move(options.state_path);
  dynamic_ = options.dynamic;
  MutexLock lock(&mu_);
  if (options.map) map_ = std::make_shared<const cluster::ClusterMap>(std::move(*options.map));
  cache_.clear();
  if (state_path_.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(const cluster::NodeState state, cluster::ReadNodeState(state_path_));
  persisted_rev_ = state.config_rev;
  applied_map_ = state.cluster_map;
  return Status::Ok();
}

std::shared_ptr<const cluster::ClusterMap> ClusterView::map() {
  MutexLock lock(&mu_);
  return map_;
}

Status ClusterView::SetStates(const cluster::ClusterMap& map, bool only_changed) const {
  size_t counts[3] = {0, 0, 0};  // active, replica, dead
  size_t changed = 0;
  for (size_t i = 0; i < map.num_vbuckets(); ++i) {
    const auto vb = static_cast<Vbid>(i);
    const VBucketState role = map.RoleOf(node_id_, vb);
    ++counts[role == VBucketState::kActive ? 0 : role == VBucketState::kReplica ? 1 : 2];
    std::optional<VBucketTopology> topology;
    if (role == VBucketState::kActive) topology = map.TopologyOf(vb);
    bool same = false;
    if (only_changed) {
      const auto state = bucket_->GetVBucketState(vb);
      const auto current = bucket_->GetVBucketTopology(vb);
      same = state.ok() && *state == role && current.ok() &&
             *current == topology.value_or(VBucketTopology{});
    }
    if (!same) {
      RETURN_IF_ERROR(bucket_->SetVBucketState(vb, role, topology));
      ++changed;
    }
    // A move's takeover: this active stops taking front-end writes (after its topology gained the
    // chain it moves to); any other map lifts it.
    const bool takeover = map.InTakeover(node_id_, vb);
    if (auto now = bucket_->GetVBucketTakeover(vb); now.ok() && *now != takeover) {
      RETURN_IF_ERROR(bucket_->SetVBucketTakeover(vb, takeover));
    }
  }
  RETURN_IF_ERROR(bucket_->PersistAll());
  LOG_INFO(
      "cluster map {:016x} applied as node {}: {} active, {} replica and {} dead vbuckets "
      "({} changed)",
      map.Fingerprint(), node_id_, counts[0], counts[1], counts[2], changed);
  return Status::Ok();
}

Status ClusterView::ApplyClusterMap() {
  const std::shared_ptr<const cluster::ClusterMap> map = this->map();
  if (!map || !bucket_) return Status::Ok();
  const uint64_t fingerprint = map->Fingerprint();
  {
    MutexLock lock(&mu_);
    if (applied_map_ == fingerprint && !bucket_->warmup_stats().fresh) {
      LOG_INFO(
          "cluster map {:016x} already applied to this data directory: the persisted vbucket "
          "states stand",
          fingerprint);
      return Status::Ok();
    }
  }
  RETURN_IF_ERROR(SetStates(*map, /*only_changed=*/false));
  MutexLock lock(&mu_);
  if (!state_path_.empty()) {
    const cluster::NodeState state{persisted_rev_, fingerprint};
    RETURN_IF_ERROR(cluster::WriteNodeState(state_path_, state, /*sync=*/true));
  }
  applied_map_ = fingerprint;
  return Status::Ok();
}

Status ClusterView::ApplyDynamicMap(std::shared_ptr<const cluster::ClusterMap> map, int64_t rev,
                                    int64_t epoch) {
  if (bucket_) RETURN_IF_ERROR(SetStates(*map, /*only_changed=*/true));
  MutexLock lock(&mu_);
  map_ = std::move(map);
  dynamic_rev_ = rev;
  epoch_ = epoch;
  cache_.clear();
  return Status::Ok();
}

void ClusterView::set_node_state(std::string_view state) {
  MutexLock lock(&mu_);
  node_state_ = state;
}

std::string ClusterView::node_state() {
  MutexLock lock(&mu_);
  return node_state_;
}

void ClusterView::set_rebalance(std::optional<cluster::RebalanceStatus> status) {
  MutexLock lock(&mu_);
  rebalance_ = std::move(status);
}

std::optional<cluster::RebalanceStatus> ClusterView::rebalance() {
  MutexLock lock(&mu_);
  return rebalance_;
}

int64_t ClusterView::Epoch() {
  MutexLock lock(&mu_);
  return epoch_;
}

int64_t ClusterView::Revision() {
  const uint64_t generation = bucket_ ? bucket_->config_revision() : 1;
  MutexLock lock(&mu_);
  if (dynamic_) return dynamic_rev_;
  if (generation == seen_generation_) return rev_;
  seen_generation_ = generation;
  const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                             std::chrono::system_clock::now().time_since_epoch())
                             .count();
  rev_ = std::max({rev_ + 1, persisted_rev_ + 1, now_ms});
  if (!state_path_.empty()) {
    // Not fsynced: a process crash keeps it; after a power loss the clock still moved on.
    Status s = cluster::WriteNodeState(state_path_, {rev_, applied_map_}, /*sync=*/false);
    if (!s.ok()) LOG_WARN("cannot persist cluster config revision {}: {}", rev_, s.ToString());
  }
  persisted_rev_ = rev_;
  return rev_;
}

ClusterView::Config ClusterView::Current(const std::string& local_host, uint16_t port) {
  const uint64_t generation = bucket_ ? bucket_->config_revision() : 1;
  const int64_t rev = Revision();
  std::shared_ptr<const cluster::ClusterMap> map;
  int64_t epoch = kEpoch;
  // With a cluster map the config names the map's addresses, whatever the client dialled.
  std::string key;
  {
    MutexLock lock(&mu_);
    map = map_;
    epoch = epoch_;
    if (!map) key = local_host;
    auto it = cache_.find(key);
    if (it != cache_.end() && it->second.rev == rev && it->second.epoch == epoch &&
        it->second.generation == generation) {
      return it->second;
    }
  }
  Config config{rev, epoch, Build(map.get(), rev, epoch, local_host, port), generation};
  MutexLock lock(&mu_);
  cache_[key] = config;
  return config;
}

namespace {

// Index of node `id` in `map`'s node list, or -1.
int IndexOf(const cluster::ClusterMap* map, const TopologyNode& id) {
  if (!id || map == nullptr) return -1;
  const auto index = map->NodeIndex(*id);
  return index ? static_cast<int>(*index) : -1;
}

}  // namespace

std::vector<int> ClusterView::Row(const cluster::ClusterMap* map, int me, Vbid vb,
                                  size_t width) const {
  std::vector<int> row(width, -1);
  const auto state = bucket_->GetVBucketState(vb);
  const bool active = state.ok() && *state == VBucketState::kActive;
  const bool replica = state.ok() && *state == VBucketState::kReplica;
  TopologyChain chain;
  if (active) {
    auto topology = bucket_->GetVBucketTopology(vb);
    if (topology.ok() && !topology->empty()) chain = topology->chains[0];
  } else if (map != nullptr && vb < map->num_vbuckets()) {
    chain = map->ChainOf(vb);
  }
  // This node's own slots follow its real state: named active only when active, replica only
  // when it holds a replica.
  if (active) {
    row[0] = me;
  } else if (!chain.empty() && IndexOf(map, chain[0]) != me) {
    row[0] = IndexOf(map, chain[0]);
  }
  for (size_t i = 1; i < width && i < chain.size(); ++i) {
    const int index = IndexOf(map, chain[i]);
    if (index != me || replica) row[i] = index;
  }
  return row;
}

std::string ClusterView::Build(const cluster::ClusterMap* map, int64_t rev, int64_t epoch,
                               const std::string& local_host, uint16_t port) const {
  cluster::TerseConfig config;
  config.rev = rev;
  config.rev_epoch = epoch;
  config.bucket_name = bucket_ ? bucket_->name() : "";
  config.bucket_uuid = map != nullptr && bucket_ ? map->BucketUuid(bucket_->name()) : random_uuid_;
  int me = 0;
  if (map != nullptr) {
    for (const auto& node : map->nodes()) config.nodes.push_back({node.host, node.port});
    const auto index = map->NodeIndex(node_id_);
    me = index ? static_cast<int>(*index) : -1;
  } else {
    config.nodes.push_back({local_host, port});
  }
  if (me >= 0) config.this_node = static_cast<size_t>(me);
  config.num_replicas = map != nullptr ? map->num_replicas() : 0;
  const size_t nvb = bucket_ ? bucket_->num_vbuckets() : 0;
  for (size_t vb = 0; vb < nvb; ++vb) {
    auto topology = bucket_->GetVBucketTopology(static_cast<Vbid>(vb));
    if (topology.ok() && !topology->empty()) {
      config.num_replicas = std::max(config.num_replicas, topology->chains[0].size() - 1);
    }
  }
  config.vbucket_map.reserve(nvb);
  for (size_t vb = 0; vb < nvb; ++vb) {
    config.vbucket_map.push_back(Row(map, me, static_cast<Vbid>(vb), config.num_replicas + 1));
  }
  return cluster::TerseBucketConfigJson(config);
}

}  // namespace sluice::server
