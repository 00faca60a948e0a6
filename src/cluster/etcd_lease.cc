// EtcdClient's lease calls (cluster/etcd_client.h).
#include <string>

#include "cluster/etcd_client.h"

namespace sluice::cluster {
namespace {

using codec::Json;

Json LeaseId(int64_t id) { return Json{{"ID", std::to_string(id)}}; }

// etcd answers a keepalive or time-to-live of a lease it does not know with a TTL of -1 (a
// keepalive: no TTL at all, the field being zero) rather than with an error.
Status LeaseGone(int64_t id) {
  return Status(Errc::kNotFound, "etcd: lease " + std::to_string(id) + " not found");
}

}  // namespace

StatusOr<LeaseGrantResult> EtcdClient::LeaseGrant(std::chrono::seconds ttl) {
  ASSIGN_OR_RETURN(auto response,
                   transport_->Call("/v3/lease/grant", Json{{"TTL", std::to_string(ttl.count())}}));
  LeaseGrantResult result;
  ASSIGN_OR_RETURN(result.id, codec::Int64Field(response, "ID"));
  ASSIGN_OR_RETURN(result.ttl, codec::Int64Field(response, "TTL"));
  if (result.id == 0) return Status(Errc::kIoError, "etcd: lease grant without an ID");
  return result;
}

StatusOr<int64_t> EtcdClient::LeaseKeepAliveOnce(int64_t id, std::chrono::milliseconds timeout) {
  ASSIGN_OR_RETURN(auto response, transport_->Call("/v3/lease/keepalive", LeaseId(id), timeout));
  ASSIGN_OR_RETURN(const int64_t ttl, codec::Int64Field(response, "TTL"));
  if (ttl <= 0) return LeaseGone(id);
  return ttl;
}

Status EtcdClient::LeaseRevoke(int64_t id) {
  return transport_->Call("/v3/lease/revoke", LeaseId(id)).status();
}

StatusOr<LeaseTimeToLiveResult> EtcdClient::LeaseTimeToLive(int64_t id, bool keys) {
  Json request = LeaseId(id);
  if (keys) request["keys"] = true;
  ASSIGN_OR_RETURN(auto response, transport_->Call("/v3/lease/timetolive", request));
  LeaseTimeToLiveResult result;
  result.id = id;
  ASSIGN_OR_RETURN(result.ttl, codec::Int64Field(response, "TTL"));
  ASSIGN_OR_RETURN(result.granted_ttl, codec::Int64Field(response, "grantedTTL"));
  if (result.ttl < 0) return LeaseGone(id);
  if (const auto it = response.find("keys"); it != response.end() && it->is_array()) {
    for (const auto& key : *it) {
      if (!key.is_string()) return Status(Errc::kIoError, "etcd: lease key is not base64 text");
      ASSIGN_OR_RETURN(auto decoded, codec::Base64Decode(key.get<std::string>()));
      result.keys.push_back(std::move(decoded));
    }
  }
  return result;
}

}  // namespace sluice::cluster
