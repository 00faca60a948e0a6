#include "server/replication_setup.h"

#include <charconv>

#include "common/logging.h"
#include "sasl/users.h"

namespace sluice::server {

void ReplicationRuntime::Stop() {
  if (replica_of) replica_of->Stop();
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
                                            const std::string& users_file,
                                            const std::string& node_id, const Config& config,
                                            std::shared_ptr<engine::Bucket> bucket,
                                            executor::Executor& executor) {
  ASSIGN_OR_RETURN(auto address, ParseHostPort(replica_of));
  ASSIGN_OR_RETURN(std::vector<sasl::UserSpec> users, sasl::ReadUserSpecs(users_file));
  const sasl::UserSpec* user = nullptr;
  for (const auto& u : users) {
    if (u.name == config.replication_user) user = &u;
  }
  if (user == nullptr) {
    return Status(Errc::kInvalid, "replication_user '" + config.replication_user +
                                      "' is not in the users file " + users_file);
  }
  replication::ReplicatorOptions options;
  options.node_id = node_id;
  options.bucket = bucket->name();
  options.user = user->name;
  options.password = user->password;
  options.buffer_size = static_cast<uint32_t>(config.replication_buffer_size);
  options.noop_interval_seconds = static_cast<uint32_t>(config.replication_noop_interval);
  options.throttle_threshold = config.replication_throttle_threshold;
  ReplicationRuntime runtime;
  runtime.replicator = std::make_shared<replication::Replicator>(options, bucket);
  runtime.replica_of = replication::ReplicaOfAll::Start(address.first, address.second,
                                                        *runtime.replicator, bucket, executor);
  LOG_INFO("replication: replica vbuckets of {} stream from {}:{} (user {})", node_id,
           address.first, address.second, user->name);
  return runtime;
}

}  // namespace sluice::server
