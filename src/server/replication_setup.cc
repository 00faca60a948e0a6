#include "server/replication_setup.h"

#include <charconv>

#include "common/logging.h"
#include "sasl/users.h"

namespace sluice::server {
namespace {

// The replicator of setup.bucket, logging in as replication_user.
StatusOr<std::shared_ptr<replication::Replicator>> MakeReplicator(const ReplicationSetup& setup) {
  const Config& config = *setup.config;
  ASSIGN_OR_RETURN(std::vector<sasl::UserSpec> users, sasl::ReadUserSpecs(setup.users_file));
  const sasl::UserSpec* user = nullptr;
  for (const auto& u : users) {
    if (u.name == config.replication_user) user = &u;
  }
  if (user == nullptr) {
    return Status(Errc::kInvalid, "replication_user '" + config.replication_user +
                                      "' is not in the users file " + setup.users_file);
  }
  replication::ReplicatorOptions options;
  options.node_id = setup.node_id;
  options.bucket = setup.bucket->name();
  options.user = user->name;
  options.password = user->password;
  options.buffer_size = static_cast<uint32_t>(config.replication_buffer_size);
  options.noop_interval_seconds = static_cast<uint32_t>(config.replication_noop_interval);
  options.throttle_threshold = config.replication_throttle_threshold;
  auto replicator = std::make_shared<replication::Replicator>(options, setup.bucket);
  setup.bucket->SetReplicaPersistenceObserver(replicator);
  return replicator;
}

StatusOr<ReplicationRuntime> Start(replication::SourceOf source_of, const ReplicationSetup& setup) {
  ReplicationRuntime runtime;
  ASSIGN_OR_RETURN(runtime.replicator, MakeReplicator(setup));
  runtime.feed = replication::SourceFeed::Start(std::move(source_of), *runtime.replicator,
                                                setup.bucket, *setup.executor);
  return runtime;
}

}  // namespace

void ReplicationRuntime::Stop() {
  if (feed) feed->Stop();
  if (replicator) replicator->Stop();
}

StatusOr<std::pair<std::string, uint16_t>> ParseHostPort(std::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
    return Status(Errc::kInvalid, "expected HOST:PORT, got '" + std::string(text) + "'");
  }
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string_view port_text = text.substr(colon + 1);
  uint32_t port = 0;
  auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || ptr != port_text.data() + port_text.size() || port == 0 ||
      port > 65535) {
    return Status(Errc::kInvalid, "invalid port in '" + std::string(text) + "'");
  }
  return std::make_pair(std::string(host), static_cast<uint16_t>(port));
}

StatusOr<ReplicationRuntime> StartReplicaOf(const std::string& replica_of,
                                            const ReplicationSetup& setup) {
  ASSIGN_OR_RETURN(auto address, ParseHostPort(replica_of));
  ASSIGN_OR_RETURN(auto runtime,
                   Start(replication::FixedSource(address.first, address.second), setup));
  LOG_INFO("replication: replica vbuckets of {} stream from {}:{} (user {})", setup.node_id,
           address.first, address.second, setup.config->replication_user);
  return runtime;
}

namespace {

std::optional<replication::ReplicaSource> ActiveSource(const cluster::ClusterMap& map,
                                                       const std::string& me, Vbid vb) {
  if (vb >= map.num_vbuckets()) return std::nullopt;
  const cluster::ClusterNode& active = map.ActiveOf(vb);
  if (active.id == me) return std::nullopt;
  return replication::ReplicaSource{vb, active.id, active.host, active.port};
}

}  // namespace

void DynamicMapSources::Set(std::shared_ptr<const cluster::ClusterMap> map) {
  MutexLock lock(&mu_);
  map_ = std::move(map);
}

std::optional<replication::ReplicaSource> DynamicMapSources::SourceOf(Vbid vb) const {
  std::shared_ptr<const cluster::ClusterMap> map;
  {
    MutexLock lock(&mu_);
    map = map_;
  }
  if (!map) return std::nullopt;
  return ActiveSource(*map, node_id_, vb);
}

StatusOr<ReplicationRuntime> StartFromDynamicMap(std::shared_ptr<DynamicMapSources> sources,
                                                 const ReplicationSetup& setup) {
  auto source_of = [sources](Vbid vb) { return sources->SourceOf(vb); };
  ASSIGN_OR_RETURN(auto runtime, Start(std::move(source_of), setup));
  LOG_INFO(
      "replication: replica vbuckets of {} stream from their actives in the map from etcd "
      "(user {})",
      setup.node_id, setup.config->replication_user);
  return runtime;
}

StatusOr<ReplicationRuntime> StartFromClusterMap(const cluster::ClusterMap& map,
                                                 const ReplicationSetup& setup) {
  // The map is copied: the feed calls this on its task for as long as it runs.
  auto source_of = [map, me = setup.node_id](Vbid vb) { return ActiveSource(map, me, vb); };
  ASSIGN_OR_RETURN(auto runtime, Start(std::move(source_of), setup));
  LOG_INFO(
      "replication: replica vbuckets of {} stream from their actives in the cluster map "
      "(user {})",
      setup.node_id, setup.config->replication_user);
  return runtime;
}

}  // namespace sluice::server
