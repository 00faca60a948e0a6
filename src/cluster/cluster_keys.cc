#include "cluster/cluster_keys.h"

#include <fmt/format.h>

#include <charconv>
#include <nlohmann/json.hpp>

namespace sluice::cluster {
namespace {

using Json = nlohmann::json;

// The JSON object in `text`, with no keys outside `known`.
StatusOr<Json> ParseObject(std::string_view text, std::initializer_list<std::string_view> known,
                           std::string_view what) {
  Json doc = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Status::Invalid(fmt::format("{}: not a JSON object", what));
  }
  for (const auto& [key, value] : doc.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return Status::Invalid(fmt::format("{}: unknown key \"{}\"", what, key));
    }
  }
  return doc;
}

// doc[key] as an integer in [min, max]; `fallback` when absent (nullopt: required).
StatusOr<int64_t> IntField(const Json& doc, const char* key, int64_t min, int64_t max,
                           std::optional<int64_t> fallback, std::string_view what) {
  auto it = doc.find(key);
  if (it == doc.end() && fallback) return *fallback;
  if (it == doc.end() || !it->is_number_integer() || it->get<int64_t>() < min ||
      it->get<int64_t>() > max) {
    return Status::Invalid(
        fmt::format("{}: \"{}\" must be an integer from {} to {}", what, key, min, max));
  }
  return it->get<int64_t>();
}

StatusOr<std::string> StringField(const Json& doc, const char* key, std::string_view what) {
  auto it = doc.find(key);
  if (it == doc.end() || !it->is_string() || it->get<std::string>().empty()) {
    return Status::Invalid(fmt::format("{}: \"{}\" must be a non-empty string", what, key));
  }
  return it->get<std::string>();
}

constexpr std::string_view kStatusNames[] = {"active",         "failover_requested",
                                             "failed_over",    "pending_add",
                                             "pending_remove", "graceful_failover_requested"};
constexpr std::string_view kRebalanceStates[] = {"requested", "running", "done", "failed"};

Json ChainJson(const TopologyChain& chain) {
  Json c = Json::array();
  for (const auto& slot : chain) c.push_back(slot ? Json(*slot) : Json(nullptr));
  return c;
}

StatusOr<TopologyChain> ChainFromJson(const Json& j, std::string_view what) {
  if (!j.is_array() || j.empty())
    return Status::Invalid(fmt::format("{}: a chain must be an array", what));
  TopologyChain chain;
  for (const auto& slot : j) {
    if (slot.is_null()) {
      chain.emplace_back(std::nullopt);
    } else if (slot.is_string()) {
      chain.emplace_back(slot.get<std::string>());
    } else {
      return Status::Invalid(fmt::format("{}: a chain holds node ids or null", what));
    }
  }
  if (!chain[0]) return Status::Invalid(fmt::format("{}: a chain's active cannot be null", what));
  return chain;
}

}  // namespace

ClusterKeys::ClusterKeys(std::string_view cluster) : prefix_(fmt::format("/sluice/{}/", cluster)) {}

std::optional<std::string> ClusterKeys::Suffix(std::string_view key, std::string_view prefix) {
  if (key.size() <= prefix.size() || key.substr(0, prefix.size()) != prefix) return std::nullopt;
  return std::string(key.substr(prefix.size()));
}

std::optional<std::string> ClusterKeys::BucketOfMapKey(std::string_view key) const {
  auto rest = Suffix(key, BucketsPrefix());
  constexpr std::string_view kTail = "/map";
  if (!rest || rest->size() <= kTail.size() || !rest->ends_with(kTail)) return std::nullopt;
  std::string bucket = rest->substr(0, rest->size() - kTail.size());
  if (bucket.find('/') != std::string::npos) return std::nullopt;
  return bucket;
}

StatusOr<NodeRegistration> ParseNodeRegistration(std::string_view json) {
  constexpr std::string_view kWhat = "node registration";
  ASSIGN_OR_RETURN(Json doc, ParseObject(json, {"id", "host", "port", "metrics_port"}, kWhat));
  NodeRegistration node;
  ASSIGN_OR_RETURN(node.id, StringField(doc, "id", kWhat));
  ASSIGN_OR_RETURN(node.host, StringField(doc, "host", kWhat));
  ASSIGN_OR_RETURN(const int64_t port, IntField(doc, "port", 1, 65535, std::nullopt, kWhat));
  ASSIGN_OR_RETURN(const int64_t metrics, IntField(doc, "metrics_port", 0, 65535, 0, kWhat));
  node.port = static_cast<uint16_t>(port);
  node.metrics_port = static_cast<uint16_t>(metrics);
  return node;
}

std::string FormatNodeRegistration(const NodeRegistration& node) {
  // Keys in the documented order; metrics_port 0 when the node serves no metrics.
  const nlohmann::ordered_json doc = {{"id", node.id},
                                      {"host", node.host},
                                      {"port", node.port},
                                      {"metrics_port", node.metrics_port}};
  return doc.dump();
}

std::string_view MemberStatusName(MemberStatus status) {
  return kStatusNames[static_cast<size_t>(status)];
}

StatusOr<MemberValue> ParseMemberValue(std::string_view json) {
  constexpr std::string_view kWhat = "member";
  ASSIGN_OR_RETURN(Json doc, ParseObject(json, {"status", "auto"}, kWhat));
  ASSIGN_OR_RETURN(const std::string status, StringField(doc, "status", kWhat));
  auto name = std::find(std::begin(kStatusNames), std::end(kStatusNames), status);
  if (name == std::end(kStatusNames)) {
    return Status::Invalid(fmt::format("member: unknown status \"{}\"", status));
  }
  MemberValue out{.status = static_cast<MemberStatus>(name - std::begin(kStatusNames))};
  if (auto it = doc.find("auto"); it != doc.end()) {
    if (!it->is_boolean()) return Status::Invalid("member: \"auto\" must be true or false");
    out.auto_failover = it->get<bool>();
    if (out.auto_failover && out.status != MemberStatus::kFailedOver) {
      return Status::Invalid("member: \"auto\" is only for a failed_over member");
    }
  }
  return out;
}

StatusOr<MemberStatus> ParseMember(std::string_view json) {
  ASSIGN_OR_RETURN(const MemberValue value, ParseMemberValue(json));
  return value.status;
}

std::string FormatMember(MemberStatus status, bool auto_failover) {
  nlohmann::ordered_json doc = {{"status", MemberStatusName(status)}};
  if (auto_failover) doc["auto"] = true;
  return doc.dump();
}

StatusOr<ClusterSettings> ParseSettings(std::string_view json, const ClusterSettings& defaults) {
  constexpr std::string_view kWhat = "settings";
  ASSIGN_OR_RETURN(Json doc, ParseObject(json,
                                         {"auto_failover_timeout", "auto_failover_max_count",
                                          "rebalance_moves_per_node"},
                                         kWhat));
  ClusterSettings settings;
  ASSIGN_OR_RETURN(
      const int64_t timeout,
      IntField(doc, "auto_failover_timeout", ClusterSettings::kMinAutoFailoverTimeout.count(),
               86400, defaults.auto_failover_timeout.count(), kWhat));
  settings.auto_failover_timeout = std::chrono::seconds(timeout);
  ASSIGN_OR_RETURN(settings.auto_failover_max_count,
                   IntField(doc, "auto_failover_max_count", 0, 1'000'000,
                            defaults.auto_failover_max_count, kWhat));
  ASSIGN_OR_RETURN(
      settings.rebalance_moves_per_node,
      IntField(doc, "rebalance_moves_per_node", 1, 1024, defaults.rebalance_moves_per_node, kWhat));
  return settings;
}

std::string FormatSettings(const ClusterSettings& settings) {
  return Json{{"auto_failover_timeout", settings.auto_failover_timeout.count()},
              {"auto_failover_max_count", settings.auto_failover_max_count},
              {"rebalance_moves_per_node", settings.rebalance_moves_per_node}}
      .dump();
}

std::string_view RebalanceStateName(RebalanceStatus::State state) {
  return kRebalanceStates[static_cast<size_t>(state)];
}

StatusOr<RebalanceStatus> ParseRebalance(std::string_view json) {
  constexpr std::string_view kWhat = "rebalance";
  ASSIGN_OR_RETURN(
      Json doc,
      ParseObject(json, {"state", "moves_total", "moves_done", "message", "nodes", "target"},
                  kWhat));
  RebalanceStatus out;
  ASSIGN_OR_RETURN(const std::string state, StringField(doc, "state", kWhat));
  auto name = std::find(std::begin(kRebalanceStates), std::end(kRebalanceStates), state);
  if (name == std::end(kRebalanceStates)) {
    return Status::Invalid(fmt::format("rebalance: unknown state \"{}\"", state));
  }
  out.state = static_cast<RebalanceStatus::State>(name - std::begin(kRebalanceStates));
  ASSIGN_OR_RETURN(out.moves_total, IntField(doc, "moves_total", 0, 1 << 30, 0, kWhat));
  ASSIGN_OR_RETURN(out.moves_done, IntField(doc, "moves_done", 0, out.moves_total, 0, kWhat));
  if (auto m = doc.find("message"); m != doc.end()) {
    if (!m->is_string()) return Status::Invalid("rebalance: \"message\" must be a string");
    out.message = m->get<std::string>();
  }
  if (auto nodes = doc.find("nodes"); nodes != doc.end()) {
    if (!nodes->is_array()) return Status::Invalid("rebalance: \"nodes\" must be an array of ids");
    for (const auto& id : *nodes) {
      if (!id.is_string()) return Status::Invalid("rebalance: \"nodes\" must be an array of ids");
      out.nodes.push_back(id.get<std::string>());
    }
  }
  if (auto target = doc.find("target"); target != doc.end()) {
    if (!target->is_object()) return Status::Invalid("rebalance: \"target\" must be an object");
    for (const auto& [bucket, chains] : target->items()) {
      if (!chains.is_array())
        return Status::Invalid("rebalance: a target must be an array of chains");
      auto& out_chains = out.target[bucket];
      for (const auto& chain : chains) {
        ASSIGN_OR_RETURN(TopologyChain c, ChainFromJson(chain, kWhat));
        out_chains.push_back(std::move(c));
      }
    }
  }
  if (out.state == RebalanceStatus::State::kRunning && (out.target.empty() || out.nodes.empty())) {
    return Status::Invalid("rebalance: a running rebalance needs \"nodes\" and \"target\"");
  }
  return out;
}

std::string FormatRebalance(const RebalanceStatus& status) {
  nlohmann::ordered_json doc = {{"state", RebalanceStateName(status.state)},
                                {"moves_done", status.moves_done},
                                {"moves_total", status.moves_total}};
  if (!status.message.empty()) doc["message"] = status.message;
  if (!status.nodes.empty()) doc["nodes"] = status.nodes;
  if (!status.target.empty()) {
    nlohmann::ordered_json target = nlohmann::ordered_json::object();
    for (const auto& [bucket, chains] : status.target) {
      Json list = Json::array();
      for (const auto& chain : chains) list.push_back(ChainJson(chain));
      target[bucket] = std::move(list);
    }
    doc["target"] = std::move(target);
  }
  return doc.dump();
}

StatusOr<int64_t> ParseCounter(std::string_view text) {
  int64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || value < 0) {
    return Status::Invalid(fmt::format("\"{}\" is not a non-negative decimal integer", text));
  }
  return value;
}

StatusOr<ClusterMap> ParseMapValue(std::string_view json) {
  const Json doc = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  auto vbmap = doc.is_object() ? doc.find("vbucket_map") : doc.end();
  if (doc.is_discarded() || !doc.is_object() || vbmap == doc.end() || !vbmap->is_array() ||
      vbmap->empty()) {
    return Status::Invalid("a bucket map must be a JSON object with a non-empty \"vbucket_map\"");
  }
  return ClusterMap::Parse(json, vbmap->size());
}

std::string FormatMapValue(const std::vector<ClusterNode>& nodes, size_t num_replicas,
                           const std::vector<TopologyChain>& chains,
                           const std::map<Vbid, VbucketMove>& moves) {
  Json node_list = Json::array();
  for (const auto& node : nodes) {
    node_list.push_back({{"id", node.id}, {"host", node.host}, {"port", node.port}});
  }
  Json vbmap = Json::array();
  for (const auto& chain : chains) vbmap.push_back(ChainJson(chain));
  Json doc = {{"nodes", std::move(node_list)},
              {"num_replicas", num_replicas},
              {"vbucket_map", std::move(vbmap)}};
  if (!moves.empty()) {
    Json list = Json::array();
    for (const auto& [vb, move] : moves) {
      list.push_back(
          {{"vbucket", vb}, {"to", ChainJson(move.to)}, {"phase", MovePhaseName(move.phase)}});
    }
    doc["moves"] = std::move(list);
  }
  return doc.dump();
}

}  // namespace sluice::cluster
