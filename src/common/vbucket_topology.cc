#include "common/vbucket_topology.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace sluice {
namespace {

using Json = nlohmann::json;

std::string Dump(const Json& j) { return j.dump(-1, ' ', false, Json::error_handler_t::replace); }

StatusOr<VBucketTopology> TopologyFromJson(const Json& j) {
  if (!j.is_array()) {
    return Status(Errc::kInvalid, "'topology' must be an array, found:" + Dump(j));
  }
  if (j.empty() || j.size() > VBucketTopology::kMaxChains) {
    return Status(Errc::kInvalid, "'topology' must contain 1..2 elements, found:" + Dump(j));
  }
  VBucketTopology topology;
  for (size_t c = 0; c < j.size(); ++c) {
    const Json& nodes = j[c];
    if (!nodes.is_array()) {
      return Status(Errc::kInvalid,
                    fmt::format("'topology' chain[{}] must be an array, found:{}", c, Dump(nodes)));
    }
    if (nodes.empty() || nodes.size() > VBucketTopology::kMaxChainLength) {
      return Status(Errc::kInvalid, fmt::format("'topology' chain[{}] must contain 1..4 nodes, "
                                                "found:{}",
                                                c, Dump(nodes)));
    }
    TopologyChain chain;
    for (size_t n = 0; n < nodes.size(); ++n) {
      if (nodes[n].is_string()) {
        chain.emplace_back(nodes[n].get<std::string>());
      } else if (nodes[n].is_null() && n != 0) {
        chain.emplace_back(std::nullopt);
      } else if (nodes[n].is_null()) {
        return Status(Errc::kInvalid,
                      fmt::format("'topology' chain[{}] node[0] (active) cannot be null", c));
      } else {
        return Status(Errc::kInvalid,
                      fmt::format("'topology' chain[{}] node[{}] must be a string, found:{}", c, n,
                                  Dump(nodes[n])));
      }
    }
    topology.chains.push_back(std::move(chain));
  }
  return topology;
}

}  // namespace

Status ValidateTopology(const VBucketTopology& topology) {
  if (topology.chains.empty() || topology.chains.size() > VBucketTopology::kMaxChains) {
    return Status(Errc::kInvalid,
                  "'topology' must contain 1..2 elements, found:" + TopologyToJson(topology));
  }
  for (size_t c = 0; c < topology.chains.size(); ++c) {
    const TopologyChain& chain = topology.chains[c];
    if (chain.empty() || chain.size() > VBucketTopology::kMaxChainLength) {
      return Status(Errc::kInvalid, fmt::format("'topology' chain[{}] must contain 1..4 nodes", c));
    }
    if (!chain[0]) {
      return Status(Errc::kInvalid,
                    fmt::format("'topology' chain[{}] node[0] (active) cannot be null", c));
    }
  }
  return Status::Ok();
}

StatusOr<VBucketTopology> ParseTopologyJson(std::string_view json) {
  const Json j = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status(Errc::kInvalid, "'topology' is not valid JSON");
  return TopologyFromJson(j);
}

std::string TopologyToJson(const VBucketTopology& topology) {
  if (topology.empty()) return "null";
  Json chains = Json::array();
  for (const TopologyChain& chain : topology.chains) {
    Json nodes = Json::array();
    for (const TopologyNode& node : chain) nodes.push_back(node ? Json(*node) : Json(nullptr));
    chains.push_back(std::move(nodes));
  }
  return Dump(chains);
}

StatusOr<std::optional<VBucketTopology>> ParseSetVBucketMeta(std::string_view value) {
  if (value.empty()) return std::optional<VBucketTopology>();
  const Json meta = Json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (meta.is_discarded()) return Status(Errc::kInvalid, "the vbucket meta is not valid JSON");
  if (!meta.is_object()) {
    return Status(Errc::kInvalid, "'meta' must be an object if specified, found:" + Dump(meta));
  }
  VBucketTopology topology;
  for (const auto& [key, element] : meta.items()) {
    if (key != "topology") {
      return Status(Errc::kInvalid, fmt::format("vbucket meta contains unsupported key:{} with "
                                                "value:{}",
                                                key, Dump(element)));
    }
    ASSIGN_OR_RETURN(topology, TopologyFromJson(element));
  }
  return std::optional<VBucketTopology>(std::move(topology));
}

}  // namespace sluice
