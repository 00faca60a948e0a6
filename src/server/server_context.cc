#include "server/server_context.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <random>

namespace sluice::server {
namespace {

std::string RandomHex(size_t bytes) {
  std::random_device rd;
  std::string out;
  for (size_t i = 0; i < bytes; ++i) out += fmt::format("{:02x}", rd() & 0xff);
  return out;
}

}  // namespace

ServerContext::ServerContext(Config config, std::shared_ptr<engine::Bucket> bucket,
                             std::shared_ptr<dcp::ConnMap> conn_map,
                             std::shared_ptr<const sasl::UserDatabase> users)
    : config_(std::move(config)),
      bucket_(std::move(bucket)),
      conn_map_(std::move(conn_map)),
      start_(std::chrono::steady_clock::now()),
      bucket_uuid_(RandomHex(16)),
      users_(std::move(users)) {}

void ServerContext::RegisterConnection(uint64_t id, std::weak_ptr<ClosableConnection> conn) {
  MutexLock lock(&conns_mu_);
  conns_[id] = std::move(conn);
}

void ServerContext::UnregisterConnection(uint64_t id) {
  MutexLock lock(&conns_mu_);
  conns_.erase(id);
}

std::vector<std::shared_ptr<ClosableConnection>> ServerContext::Connections() const {
  std::vector<std::shared_ptr<ClosableConnection>> out;
  MutexLock lock(&conns_mu_);
  for (const auto& [id, weak] : conns_) {
    if (auto c = weak.lock()) out.push_back(std::move(c));
  }
  return out;
}

uint64_t ServerContext::UptimeSeconds() const {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start_)
      .count();
}

int64_t ServerContext::ConfigRevision() const {
  return bucket_ ? static_cast<int64_t>(bucket_->config_revision()) : 1;
}

std::string ServerContext::ClusterConfig(const std::string& host) {
  const int64_t rev = ConfigRevision();
  {
    MutexLock lock(&config_mu_);
    auto it = config_cache_.find(host);
    if (it != config_cache_.end() && it->second.first == rev) return it->second.second;
  }
  // A single-node terse bucket config, the shape Couchbase SDKs parse (kv_engine's
  // cluster_framework builds the same): every active vbucket maps to this node (index 0),
  // others to -1 (no node).
  const uint16_t kv_port = port();
  const std::string host_port = host.find(':') != std::string::npos
                                    ? fmt::format("[{}]:{}", host, kv_port)
                                    : fmt::format("{}:{}", host, kv_port);
  nlohmann::json vbmap = nlohmann::json::array();
  const size_t nvb = bucket_ ? bucket_->num_vbuckets() : 0;
  for (size_t vb = 0; vb < nvb; ++vb) {
    auto state = bucket_->GetVBucketState(static_cast<Vbid>(vb));
    const bool active = state.ok() && *state == VBucketState::kActive;
    vbmap.push_back(nlohmann::json::array({active ? 0 : -1}));
  }
  nlohmann::json config = {
      {"rev", rev},
      {"revEpoch", kConfigEpoch},
      {"name", bucket_ ? bucket_->name() : ""},
      {"uuid", bucket_uuid_},
      {"nodeLocator", "vbucket"},
      {"bucketCapabilitiesVer", ""},
      {"bucketCapabilities",
       {"cccp", "dcp", "cbhello", "touch", "nodesExt", "collections", "xattr", "durableWrite"}},
      {"collectionsManifestUid", "0"},
      {"nodes",
       {{{"hostname",
          fmt::format("{}:8091", host.find(':') != std::string::npos ? "[" + host + "]" : host)},
         {"ports", {{"direct", kv_port}}}}}},
      {"nodesExt", {{{"services", {{"kv", kv_port}}}, {"thisNode", true}, {"hostname", host}}}},
      {"vBucketServerMap",
       {{"hashAlgorithm", "CRC"},
        {"numReplicas", 0},
        {"serverList", {host_port}},
        {"vBucketMap", std::move(vbmap)}}},
  };
  std::string json = config.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  MutexLock lock(&config_mu_);
  config_cache_[host] = {rev, json};
  return json;
}

}  // namespace sluice::server
