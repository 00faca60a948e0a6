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

StatusOr<std::map<Vbid, cluster::VbucketSeqnos>> MemcachedSeqnoProbe::Probe(
    const cluster::NodeRegistration& node, const std::string& bucket,
    const std::vector<Vbid>& vbuckets) {
  ASSIGN_OR_RETURN(auto conn, Open(options_, node, bucket));
  ASSIGN_OR_RETURN(auto stats, conn->Stats("vbucket-seqno"));
  return cluster::SeqnosFromVbucketSeqnoStats(stats, vbuckets);
}

StatusOr<int64_t> MemcachedSeqnoProbe::ConfigRevision(const cluster::NodeRegistration& node,
                                                      const std::string& bucket) {
  ASSIGN_OR_RETURN(auto conn, Open(options_, node, bucket));
  ASSIGN_OR_RETURN(auto answer, conn->GetClusterConfig());
  if (answer.status != protocol::McbpStatus::kSuccess) {
    return Status(Errc::kIoError, "GET_CLUSTER_CONFIG was refused");
  }
  const auto doc = nlohmann::json::parse(answer.value, nullptr, /*allow_exceptions=*/false);
  auto rev = doc.is_object() ? doc.find("rev") : doc.end();
  if (rev == doc.end() || !rev->is_number_integer()) {
    return Status(Errc::kIoError, "the cluster config has no \"rev\"");
  }
  return rev->get<int64_t>();
}

}  // namespace sluice::server
