#include "cluster/cluster_keys.h"

#include <fmt/format.h>

#include <charconv>
#include <nlohmann/json.hpp>

namespace sluice::cluster {
namespace {

using Json = nlohmann::json;

Status Invalid(std::string message) { return Status(Errc::kInvalid, std::move(message)); }

// The JSON object in `text`, with no keys outside `known`.
StatusOr<Json> ParseObject(std::string_view text, std::initializer_list<std::string_view> known,
                           std::string_view what) {
  Json doc = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Invalid(fmt::format("{}: not a JSON object", what));
  }
  for (const auto& [key, value] : doc.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return Invalid(fmt::format("{}: unknown key \"{}\"", what, key));
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
    return Invalid(fmt::format("{}: \"{}\" must be an integer from {} to {}", what, key, min, max));
  }
  return it->get<int64_t>();
}

StatusOr<std::string> StringField(const Json& doc, const char* key, std::string_view what) {
  auto it = doc.find(key);
  if (it == doc.end() || !it->is_string() || it->get<std::string>().empty()) {
    return Invalid(fmt::format("{}: \"{}\" must be a non-empty string", what, key));
  }
  return it->get<std::string>();
}

constexpr std::string_view kStatusNames[] = {"active", "failover_requested", "failed_over"};

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

StatusOr<MemberStatus> ParseMember(std::string_view json) {
  constexpr std::string_view kWhat = "member";
  ASSIGN_OR_RETURN(Json doc, ParseObject(json, {"status"}, kWhat));
  ASSIGN_OR_RETURN(const std::string status, StringField(doc, "status", kWhat));
  for (size_t i = 0; i < std::size(kStatusNames); ++i) {
    if (status == kStatusNames[i]) return static_cast<MemberStatus>(i);
  }
  return Invalid(fmt::format("member: unknown status \"{}\"", status));
}

std::string FormatMember(MemberStatus status) {
  return Json{{"status", MemberStatusName(status)}}.dump();
}

StatusOr<ClusterSettings> ParseSettings(std::string_view json, const ClusterSettings& defaults) {
  constexpr std::string_view kWhat = "settings";
  ASSIGN_OR_RETURN(Json doc,
                   ParseObject(json, {"auto_failover_timeout", "auto_failover_max_count"}, kWhat));
  ClusterSettings settings;
  ASSIGN_OR_RETURN(
      const int64_t timeout,
      IntField(doc, "auto_failover_timeout", ClusterSettings::kMinAutoFailoverTimeout.count(),
               86400, defaults.auto_failover_timeout.count(), kWhat));
  settings.auto_failover_timeout = std::chrono::seconds(timeout);
  ASSIGN_OR_RETURN(settings.auto_failover_max_count,
                   IntField(doc, "auto_failover_max_count", 0, 1'000'000,
                            defaults.auto_failover_max_count, kWhat));
  return settings;
}

std::string FormatSettings(const ClusterSettings& settings) {
  return Json{{"auto_failover_timeout", settings.auto_failover_timeout.count()},
              {"auto_failover_max_count", settings.auto_failover_max_count}}
      .dump();
}

StatusOr<int64_t> ParseCounter(std::string_view text) {
  int64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size() || value < 0) {
    return Invalid(fmt::format("\"{}\" is not a non-negative decimal integer", text));
  }
  return value;
}

StatusOr<ClusterMap> ParseMapValue(std::string_view json) {
  const Json doc = Json::parse(json, nullptr, /*allow_exceptions=*/false);
  auto vbmap = doc.is_object() ? doc.find("vbucket_map") : doc.end();
  if (doc.is_discarded() || !doc.is_object() || vbmap == doc.end() || !vbmap->is_array() ||
      vbmap->empty()) {
    return Invalid("a bucket map must be a JSON object with a non-empty \"vbucket_map\"");
  }
  return ClusterMap::Parse(json, vbmap->size());
}

std::string FormatMapValue(const std::vector<ClusterNode>& nodes, size_t num_replicas,
                           const std::vector<TopologyChain>& chains) {
  Json node_list = Json::array();
  for (const auto& node : nodes) {
    node_list.push_back({{"id", node.id}, {"host", node.host}, {"port", node.port}});
  }
  Json vbmap = Json::array();
  for (const auto& chain : chains) {
    Json c = Json::array();
    for (const auto& slot : chain) c.push_back(slot ? Json(*slot) : Json(nullptr));
    vbmap.push_back(std::move(c));
  }
  return Json{{"nodes", std::move(node_list)},
              {"num_replicas", num_replicas},
              {"vbucket_map", std::move(vbmap)}}
      .dump();
}

}  // namespace sluice::cluster
