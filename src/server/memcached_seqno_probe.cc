#include "server/memcached_seqno_probe.h"

#include <nlohmann/json.hpp>

#include "client/connection.h"
#include "sasl/users.h"

namespace sluice::server {

StatusOr<SeqnoProbeOptions> SeqnoProbeOptionsFromUsers(const std::string& users_file,
                                                       const Config& config) {
  ASSIGN_OR_RETURN(std::vector<sasl::UserSpec> users, sasl::ReadUserSpecs(users_file));
  for (const auto& u : users) {
    if (u.name == config.replication_user) {
      return SeqnoProbeOptions{.user = u.name, .password = u.password};
    }
  }
  return Status(Errc::kInvalid, "replication_user '" + config.replication_user +
                                    "' is not in the users file " + users_file);
}

namespace {

// A connection to `node` as the replication user with `bucket` selected.
StatusOr<std::unique_ptr<client::Connection>> Open(const SeqnoProbeOptions& options,
                                                   const cluster::NodeRegistration& node,
                                                   const std::string& bucket) {
  client::ConnectOptions copts;
  copts.connect_timeout = options.timeout;
  copts.io_timeout = options.timeout;
  ASSIGN_OR_RETURN(auto conn, client::Connection::Connect(node.host, node.port, copts));
  RETURN_IF_ERROR(conn->Hello("sluice-manager", {}).status());
  RETURN_IF_ERROR(conn->Authenticate(options.user, options.password));
  RETURN_IF_ERROR(conn->SelectBucket(bucket));
  return conn;
}

}  // namespace

MemcachedSeqnoProbe::MemcachedSeqnoProbe(SeqnoProbeOptions options)
    : options_(std::move(options)) {}

MemcachedSeqnoProbe::~MemcachedSeqnoProbe() = default;

Status MemcachedSeqnoProbe::WithConnection(const cluster::NodeRegistration& node,
                                           const std::string& bucket,
                                           const std::function<Status(client::Connection&)>& fn) {
  const std::string key = node.host + ":" + std::to_string(node.port) + "/" + bucket;
  MutexLock lock(&mu_);
  while (true) {
    std::unique_ptr<client::Connection>& conn = conns_[key];
    const bool fresh = conn == nullptr;
    if (fresh) {
      auto opened = Open(options_, node, bucket);
      if (!opened.ok()) {
        conns_.erase(key);
        return opened.status();
      }
      conn = std::move(*opened);
    }
    Status s = fn(*conn);
    if (s.ok()) return s;
    conns_.erase(key);
    if (fresh) return s;  // a new connection failed too: the node is away (or refuses)
  }
}

StatusOr<std::map<Vbid, cluster::VbucketSeqnos>> MemcachedSeqnoProbe::Probe(
    const cluster::NodeRegistration& node, const std::string& bucket,
    const std::vector<Vbid>& vbuckets) {
  std::map<Vbid, cluster::VbucketSeqnos> out;
  RETURN_IF_ERROR(WithConnection(node, bucket, [&](client::Connection& conn) -> Status {
    ASSIGN_OR_RETURN(auto stats, conn.Stats("vbucket-seqno"));
    out = cluster::SeqnosFromVbucketSeqnoStats(stats, vbuckets);
    return Status::Ok();
  }));
  return out;
}

StatusOr<int64_t> MemcachedSeqnoProbe::ConfigRevision(const cluster::NodeRegistration& node,
                                                      const std::string& bucket) {
  int64_t out = 0;
  RETURN_IF_ERROR(WithConnection(node, bucket, [&](client::Connection& conn) -> Status {
    ASSIGN_OR_RETURN(auto answer, conn.GetClusterConfig());
    if (answer.status != protocol::McbpStatus::kSuccess) {
      return Status(Errc::kIoError, "GET_CLUSTER_CONFIG was refused");
    }
    const auto doc = nlohmann::json::parse(answer.value, nullptr, /*allow_exceptions=*/false);
    auto rev = doc.is_object() ? doc.find("rev") : doc.end();
    if (rev == doc.end() || !rev->is_number_integer()) {
      return Status(Errc::kIoError, "the cluster config has no \"rev\"");
    }
    out = rev->get<int64_t>();
    return Status::Ok();
  }));
  return out;
}

}  // namespace sluice::server
