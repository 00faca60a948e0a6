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
  map_ = std::move(options.map);
  node_id_ = std::move(options.node_id);
  state_path_ = std::move(options.state_path);
  if (map_) me_ = static_cast<int>(map_->NodeIndex(node_id_).value_or(0));
  if (state_path_.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(const cluster::NodeState state, cluster::ReadNodeState(state_path_));
  MutexLock lock(&mu_);
  persisted_rev_ = state.config_rev;
  applied_map_ = state.cluster_map;
  cache_.clear();
  return Status::Ok();
}

Status ClusterView::ApplyClusterMap() {
  if (!map_ || !bucket_) return Status::Ok();
  const uint64_t fingerprint = map_->Fingerprint();
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
  size_t counts[3] = {0, 0, 0};  // active, replica, dead
  for (size_t i = 0; i < map_->num_vbuckets(); ++i) {
    const auto vb = static_cast<Vbid>(i);
    const VBucketState role = map_->RoleOf(node_id_, vb);
    if (role == VBucketState::kActive) {
      RETURN_IF_ERROR(bucket_->SetVBucketState(vb, role, map_->TopologyOf(vb)));
      ++counts[0];
    } else {
      RETURN_IF_ERROR(bucket_->SetVBucketState(vb, role));
      ++counts[role == VBucketState::kReplica ? 1 : 2];
    }
  }
  RETURN_IF_ERROR(bucket_->PersistAll());
  MutexLock lock(&mu_);
  if (!state_path_.empty()) {
    const cluster::NodeState state{persisted_rev_, fingerprint};
    RETURN_IF_ERROR(cluster::WriteNodeState(state_path_, state, /*sync=*/true));
  }
  applied_map_ = fingerprint;
  LOG_INFO("cluster map {:016x} applied as node {}: {} active, {} replica and {} dead vbuckets",
           fingerprint, node_id_, counts[0], counts[1], counts[2]);
  return Status::Ok();
}

int64_t ClusterView::Revision() {
  const uint64_t generation = bucket_ ? bucket_->config_revision() : 1;
  MutexLock lock(&mu_);
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
  const int64_t rev = Revision();
  // With a cluster file the config names the file's addresses, whatever the client dialled.
  const std::string key = map_ ? std::string() : local_host;
  {
    MutexLock lock(&mu_);
    auto it = cache_.find(key);
    if (it != cache_.end() && it->second.rev == rev) return it->second;
  }
  Config config{rev, Build(rev, local_host, port)};
  MutexLock lock(&mu_);
  cache_[key] = config;
  return config;
}

int ClusterView::IndexOf(const TopologyNode& id) const {
  if (!id || !map_) return -1;
  const auto index = map_->NodeIndex(*id);
  return index ? static_cast<int>(*index) : -1;
}

std::vector<int> ClusterView::Row(Vbid vb, size_t width) const {
  std::vector<int> row(width, -1);
  const auto state = bucket_->GetVBucketState(vb);
  const bool active = state.ok() && *state == VBucketState::kActive;
  const bool replica = state.ok() && *state == VBucketState::kReplica;
  TopologyChain chain;
  if (active) {
    auto topology = bucket_->GetVBucketTopology(vb);
    if (topology.ok() && !topology->empty()) chain = topology->chains[0];
  } else if (map_) {
    chain = map_->ChainOf(vb);
  }
  // This node's own slots follow its real state: named active only when active, replica only
  // when it holds a replica.
  if (active) {
    row[0] = me_;
  } else if (!chain.empty() && IndexOf(chain[0]) != me_) {
    row[0] = IndexOf(chain[0]);
  }
  for (size_t i = 1; i < width && i < chain.size(); ++i) {
    const int index = IndexOf(chain[i]);
    if (index != me_ || replica) row[i] = index;
  }
  return row;
}

std::string ClusterView::Build(int64_t rev, const std::string& local_host, uint16_t port) const {
  cluster::TerseConfig config;
  config.rev = rev;
  config.rev_epoch = kEpoch;
  config.bucket_name = bucket_ ? bucket_->name() : "";
  config.bucket_uuid = map_ && bucket_ ? map_->BucketUuid(bucket_->name()) : random_uuid_;
  if (map_) {
    for (const auto& node : map_->nodes()) config.nodes.push_back({node.host, node.port});
  } else {
    config.nodes.push_back({local_host, port});
  }
  config.this_node = static_cast<size_t>(me_);
  config.num_replicas = map_ ? map_->num_replicas() : 0;
  const size_t nvb = bucket_ ? bucket_->num_vbuckets() : 0;
  for (size_t vb = 0; vb < nvb; ++vb) {
    auto topology = bucket_->GetVBucketTopology(static_cast<Vbid>(vb));
    if (topology.ok() && !topology->empty()) {
      config.num_replicas = std::max(config.num_replicas, topology->chains[0].size() - 1);
    }
  }
  config.vbucket_map.reserve(nvb);
  for (size_t vb = 0; vb < nvb; ++vb) {
    config.vbucket_map.push_back(Row(static_cast<Vbid>(vb), config.num_replicas + 1));
  }
  return cluster::TerseBucketConfigJson(config);
}

}  // namespace sluice::server
