#include "server/console_state.h"

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <utility>

#include "dcp/conn_map.h"
#include "replication/replicator.h"

namespace sluice::server {
namespace {

using Json = nlohmann::json;
using StatMap = std::map<std::string, std::string, std::less<>>;

constexpr std::string_view kReplicationPrefix = "replication:";
constexpr std::string_view kConnPrefix = "eq_dcpq:";

StatMap Collect(const std::function<Status(const engine::AddStatFn&)>& fetch) {
  StatMap out;
  fetch([&](std::string_view key, std::string_view value) {
    out.emplace(key, value);
  }).IgnoreError();  // a partial page is better than none; the stats say what they could
  return out;
}

uint64_t U64(const StatMap& stats, std::string_view key) {
  auto it = stats.find(key);
  if (it == stats.end()) return 0;
  try {
    return std::stoull(it->second);
  } catch (...) {
    return 0;
  }
}

// "replication:<from>-><to>:<bucket>" -> (from, to); nullopt for any other name.
std::optional<std::pair<std::string, std::string>> ReplicationPair(std::string_view name) {
  if (!name.starts_with(kReplicationPrefix)) return std::nullopt;
  name.remove_prefix(kReplicationPrefix.size());
  const size_t arrow = name.find("->");
  if (arrow == std::string_view::npos) return std::nullopt;
  const size_t colon = name.find(':', arrow + 2);
  if (colon == std::string_view::npos) return std::nullopt;
  return std::make_pair(std::string(name.substr(0, arrow)),
                        std::string(name.substr(arrow + 2, colon - arrow - 2)));
}

// The DCP producers of this node ("dcp" in the result) and the pairs they feed.
Json DcpSection(ServerContext& ctx, const std::string& me, Json* replication,
                std::map<std::string, std::string>* health) {
  Json dcp = {{"connections", 0}, {"running_backfills", 0}, {"list", Json::array()}};
  const auto& conn_map = ctx.conn_map();
  if (!conn_map) return dcp;
  const StatMap stats = Collect([&](const engine::AddStatFn& add) {
    return conn_map->GetStats("dcp", R"({"stream_format":"skip"})", add);
  });
  dcp["connections"] = U64(stats, "ep_dcp_count");
  dcp["running_backfills"] = U64(stats, "ep_dcp_num_running_backfills");
  dcp["items_remaining"] = U64(stats, "ep_dcp_items_remaining");
  for (const auto& [key, value] : stats) {
    if (!key.starts_with(kConnPrefix) || !key.ends_with(":type")) continue;
    const std::string name = key.substr(kConnPrefix.size(), key.size() - kConnPrefix.size() - 5);
    const std::string prefix = std::string(kConnPrefix) + name + ":";
    auto paused = stats.find(prefix + "paused");
    const Json conn = {{"name", name},
                       {"type", value},
                       {"items_sent", U64(stats, prefix + "items_sent")},
                       {"items_remaining", U64(stats, prefix + "items_remaining")},
                       {"paused", paused != stats.end() && paused->second == "true"}};
    dcp["list"].push_back(conn);
    auto pair = ReplicationPair(name);
    if (value != "producer" || !pair || pair->first != me) continue;
    (*health)[pair->second] = "up";
    replication->push_back({{"from", me},
                            {"to", pair->second},
                            {"connected", true},
                            {"items_remaining", conn["items_remaining"]},
                            {"unacked_bytes", U64(stats, prefix + "unacked_bytes")}});
  }
  return dcp;
}

// The links this node pulls from its actives.
void LinkSection(ServerContext& ctx, const std::string& me, Json* replication,
                 std::map<std::string, std::string>* health) {
  const auto replicator = ctx.replicator();
  if (!replicator) return;
  for (const auto& [name, link] : replicator->Stats()) {
    auto pair = ReplicationPair(name);
    const std::string from = pair ? pair->first : name;
    std::string& h = (*health)[from];
    if (link.connected) {
      h = "up";
    } else if (h != "up") {
      h = "down";
    }
    replication->push_back({{"from", from},
                            {"to", me},
                            {"connected", link.connected},
                            {"unacked_bytes", link.unacked_bytes},
                            {"last_error", link.last_error}});
  }
}

// The cluster's rebalance record (docs/cluster.md, `rebalance`): {"state": "none"} without one.
Json RebalanceSection(const std::optional<cluster::RebalanceStatus>& status) {
  if (!status) return {{"running", false}, {"state", "none"}};
  using State = cluster::RebalanceStatus::State;
  return {{"running", status->state == State::kRequested || status->state == State::kRunning},
          {"state", std::string(cluster::RebalanceStateName(status->state))},
          {"moves_done", status->moves_done},
          {"moves_total", status->moves_total},
          {"nodes", status->nodes},
          {"message", status->message}};
}

}  // namespace

std::string ConsoleStateJson(ServerContext& ctx, const std::string& host) {
  const std::string me = ctx.cluster().node_id().empty() ? "self" : ctx.cluster().node_id();
  Json state;
  state["node"] = me;
  state["time_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  state["config"] = Json::parse(ctx.ClusterConfig(host), nullptr, /*allow_exceptions=*/false);
  Json replication = Json::array();
  std::map<std::string, std::string> health;
  state["dcp"] = DcpSection(ctx, me, &replication, &health);
  LinkSection(ctx, me, &replication, &health);
  state["replication"] = std::move(replication);
  health[me] = "up";
  // The node ids in the config's serverList order (the vBucketMap's indices).
  Json ids = Json::array();
  if (const auto map = ctx.cluster().map()) {
    for (const auto& node : map->nodes()) ids.push_back(node.id);
  } else {
    ids.push_back(me);
  }
  Json nodes = Json::object();
  for (const auto& id : ids) nodes[id.get<std::string>()] = "unknown";
  for (const auto& [id, h] : health) nodes[id] = h;
  state["node_ids"] = std::move(ids);
  state["health"] = std::move(nodes);
  Json ops = {{"total", 0}, {"curr_items", 0}, {"mem_used", 0}};
  if (const auto& bucket = ctx.bucket()) {
    const StatMap stats =
        Collect([&](const engine::AddStatFn& add) { return bucket->GetStats("", add); });
    ops["total"] = U64(stats, "get_hits") + U64(stats, "get_misses") + U64(stats, "cmd_set") +
                   U64(stats, "delete_hits") + U64(stats, "delete_misses");
    ops["curr_items"] = U64(stats, "curr_items");
    ops["mem_used"] = U64(stats, "mem_used");
  }
  state["ops"] = std::move(ops);
  state["rebalance"] = RebalanceSection(ctx.cluster().rebalance());
  return state.dump();
}

}  // namespace sluice::server
