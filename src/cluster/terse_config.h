// File: cluster/terse_config.h
//
// TerseBucketConfigJson: the bucket configuration Couchbase clients read from
// GET_CLUSTER_CONFIG, from NOT_MY_VBUCKET bodies and from ClustermapChangeNotification pushes
// (ns_server's "terse bucket config", the shape kv_engine hands out):
//
//   {"rev":R,"revEpoch":E,"name":"default","uuid":"...","nodeLocator":"vbucket",
//    "bucketCapabilitiesVer":"","bucketCapabilities":[...],"collectionsManifestUid":"0",
//    "nodes":[{"hostname":"h:8091","ports":{"direct":P}},...],
//    "nodesExt":[{"services":{"kv":P},"hostname":"h","thisNode":true},...],
//    "vBucketServerMap":{"hashAlgorithm":"CRC","numReplicas":N,"serverList":["h:P",...],
//                        "vBucketMap":[[0,1],[1,-1],...]}}
//
// nodes, nodesExt and serverList list the same nodes in the same order; vBucketMap rows hold
// indices into serverList (active first, then numReplicas replicas; -1 = no node). An IPv6
// host is bracketed where a port follows it. `thisNode` marks the node that answers.
//
// Thread safety: a pure function.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sluice::cluster {

struct ConfigNode {
  std::string host;  // address or name, without brackets
  uint16_t kv_port = 0;
};

struct TerseConfig {
  int64_t rev = 1;
  int64_t rev_epoch = 1;
  std::string bucket_name;
  std::string bucket_uuid;
  std::vector<ConfigNode> nodes;    // the serverList order
  std::optional<size_t> this_node;  // index of the answering node in `nodes`
  size_t num_replicas = 0;
  // One row per vbucket, num_replicas + 1 entries: indices into `nodes`, -1 for none.
  std::vector<std::vector<int>> vbucket_map;
};

std::string TerseBucketConfigJson(const TerseConfig& config);

}  // namespace sluice::cluster
