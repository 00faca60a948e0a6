#include "cluster/terse_config.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace sluice::cluster {
namespace {

using Json = nlohmann::json;

// "host:port", with an IPv6 address in brackets.
std::string HostPort(const std::string& host, uint16_t port) {
  return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port)
                                             : fmt::format("{}:{}", host, port);
}

}  // namespace

std::string TerseBucketConfigJson(const TerseConfig& config) {
  Json nodes = Json::array();
  Json nodes_ext = Json::array();
  Json server_list = Json::array();
  for (size_t i = 0; i < config.nodes.size(); ++i) {
    const ConfigNode& node = config.nodes[i];
    nodes.push_back(
        {{"hostname", HostPort(node.host, 8091)}, {"ports", {{"direct", node.kv_port}}}});
    Json ext = {{"services", {{"kv", node.kv_port}}}, {"hostname", node.host}};
    if (config.this_node == i) ext["thisNode"] = true;
    nodes_ext.push_back(std::move(ext));
    server_list.push_back(HostPort(node.host, node.kv_port));
  }
  Json vbmap = Json::array();
  for (const auto& row : config.vbucket_map) vbmap.push_back(row);
  const Json doc = {
      {"rev", config.rev},
      {"revEpoch", config.rev_epoch},
      {"name", config.bucket_name},
      {"uuid", config.bucket_uuid},
      {"nodeLocator", "vbucket"},
      {"bucketCapabilitiesVer", ""},
      {"bucketCapabilities",
       {"cccp", "dcp", "cbhello", "touch", "nodesExt", "collections", "xattr", "durableWrite"}},
      {"collectionsManifestUid", "0"},
      {"nodes", std::move(nodes)},
      {"nodesExt", std::move(nodes_ext)},
      {"vBucketServerMap",
       {{"hashAlgorithm", "CRC"},
        {"numReplicas", config.num_replicas},
        {"serverList", std::move(server_list)},
        {"vBucketMap", std::move(vbmap)}}},
  };
  return doc.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace sluice::cluster
