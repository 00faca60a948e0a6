#include "server/memcached_seqno_probe.h"

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

StatusOr<std::map<Vbid, cluster::VbucketSeqnos>> MemcachedSeqnoProbe::Probe(
    const cluster::NodeRegistration& node, const std::string& bucket,
    const std::vector<Vbid>& vbuckets) {
  client::ConnectOptions copts;
  copts.connect_timeout = options_.timeout;
  copts.io_timeout = options_.timeout;
  ASSIGN_OR_RETURN(auto conn, client::Connection::Connect(node.host, node.port, copts));
  RETURN_IF_ERROR(conn->Hello("sluice-manager", {}).status());
  RETURN_IF_ERROR(conn->Authenticate(options_.user, options_.password));
  RETURN_IF_ERROR(conn->SelectBucket(bucket));
  ASSIGN_OR_RETURN(auto stats, conn->Stats("vbucket-seqno"));
  return cluster::SeqnosFromVbucketSeqnoStats(stats, vbuckets);
}

}  // namespace sluice::server
