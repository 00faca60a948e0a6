#include "server/server_context.h"

#include <fmt/format.h>

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
      users_(std::move(users)),
      cluster_(bucket_, bucket_uuid_) {
  if (bucket_) bucket_->SetVBucketMapListener(this);
}

ServerContext::~ServerContext() {
  if (bucket_) bucket_->SetVBucketMapListener(nullptr);
}

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

void ServerContext::OnVBucketMapChanged() {
  for (const auto& conn : Connections()) conn->NotifyClusterConfigChanged();
}

}  // namespace sluice::server
