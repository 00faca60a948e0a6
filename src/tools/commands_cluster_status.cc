// File: tools/commands_cluster_status.cc
//
// `sluice cluster status`: the cluster's keys read at one revision (tools/README.md lists the
// JSON keys).
#include <fmt/format.h>

#include <set>

#include "tools/cluster_etcd.h"
#include "tools/commands.h"

namespace sluice::tools {
namespace {

using cluster::ClusterState;
using Json = nlohmann::json;

struct NodeRow {
  std::string id;
  std::string address;  // host:port, from the registration (else the map)
  uint16_t metrics_port = 0;
  std::optional<std::string> status;  // member status; nullopt: registered but not a member
  bool auto_failover = false;         // failed over automatically: re-added when it returns
  bool alive = false;
  size_t actives = 0;
  size_t replicas = 0;
};

std::vector<NodeRow> NodeRows(const ClusterState& state, const cluster::ClusterMap* map) {
  std::set<std::string> ids(state.alive.begin(), state.alive.end());
  for (const auto& [id, status] : state.members) ids.insert(id);
  std::vector<NodeRow> rows;
  for (const auto& id : ids) {
    NodeRow row{.id = id, .alive = state.IsAlive(id)};
    if (auto reg = state.registrations.find(id); reg != state.registrations.end()) {
      row.address = fmt::format("{}:{}", reg->second.host, reg->second.port);
      row.metrics_port = reg->second.metrics_port;
    } else if (const auto* node = map ? map->FindNode(id) : nullptr) {
      row.address = fmt::format("{}:{}", node->host, node->port);
    }
    if (auto m = state.members.find(id); m != state.members.end()) {
      row.status = std::string(cluster::MemberStatusName(m->second));
      row.auto_failover = state.auto_failed_over.count(id) != 0;
    }
    for (size_t vb = 0; map && vb < map->num_vbuckets(); ++vb) {
      const auto role = map->RoleOf(id, static_cast<Vbid>(vb));
      row.actives += role == VBucketState::kActive ? 1 : 0;
      row.replicas += role == VBucketState::kReplica ? 1 : 0;
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

Json ToJson(const CommandLine& cmd, const ClusterState& state, const cluster::BucketMapState* b,
            const std::vector<NodeRow>& rows) {
  Json nodes = Json::array();
  for (const auto& row : rows) {
    nodes.push_back({{"id", row.id},
                     {"address", row.address},
                     {"metrics_port", row.metrics_port},
                     {"status", row.status ? Json(*row.status) : Json(nullptr)},
                     {"auto_failover", row.auto_failover},
                     {"alive", row.alive},
                     {"active_vbuckets", row.actives},
                     {"replica_vbuckets", row.replicas}});
  }
  const bool has_map = b != nullptr && b->map.has_value();
  Json rebalance = nullptr;
  if (state.rebalance) {
    rebalance = {{"state", cluster::RebalanceStateName(state.rebalance->state)},
                 {"moves_done", state.rebalance->moves_done},
                 {"moves_total", state.rebalance->moves_total},
                 {"moves_in_flight", has_map ? b->map->moves().size() : 0},
                 {"nodes", state.rebalance->nodes},
                 {"message", state.rebalance->message}};
  }
  return {{"cluster", cmd.cluster.cluster},
          {"revision", state.revision},
          {"epoch", state.epoch ? Json(*state.epoch) : Json(nullptr)},
          {"manager", state.manager ? Json(*state.manager) : Json(nullptr)},
          {"failover_count", state.failover_count},
          {"auto_failover_timeout", state.settings.auto_failover_timeout.count()},
          {"auto_failover_max_count", state.settings.auto_failover_max_count},
          {"rebalance_moves_per_node", state.settings.rebalance_moves_per_node},
          {"rebalance", std::move(rebalance)},
          {"bucket", cmd.connection.bucket},
          {"map_rev", b ? Json(b->mod_revision) : Json(nullptr)},
          {"num_vbuckets", has_map ? Json(b->map->num_vbuckets()) : Json(nullptr)},
          {"num_replicas", has_map ? Json(b->map->num_replicas()) : Json(nullptr)},
          {"nodes", std::move(nodes)},
          {"problems", state.problems}};
}

std::string ToText(const CommandLine& cmd, const ClusterState& state,
                   const cluster::BucketMapState* b, const std::vector<NodeRow>& rows) {
  std::string text = fmt::format(
      "cluster {} (revision {}, epoch {})\nmanager: {}\n", cmd.cluster.cluster, state.revision,
      state.epoch ? std::to_string(*state.epoch) : "none", state.manager.value_or("none"));
  if (b != nullptr && b->map) {
    text += fmt::format("bucket {}: map rev {}, {} vbuckets, {} replicas\n", cmd.connection.bucket,
                        b->mod_revision, b->map->num_vbuckets(), b->map->num_replicas());
  } else {
    text += fmt::format("bucket {}: no map\n", cmd.connection.bucket);
  }
  text += fmt::format("automatic failovers: {} of at most {} (after {} s)\n", state.failover_count,
                      state.settings.auto_failover_max_count,
                      state.settings.auto_failover_timeout.count());
  if (state.rebalance) {
    const auto& r = *state.rebalance;
    text += fmt::format("rebalance: {}, {}/{} vbuckets moved{}{}\n",
                        cluster::RebalanceStateName(r.state), r.moves_done, r.moves_total,
                        b != nullptr && b->map && !b->map->moves().empty()
                            ? fmt::format(", {} moving now", b->map->moves().size())
                            : "",
                        r.message.empty() ? "" : " (" + r.message + ")");
  }
  Rows table = {{"node", "address", "status", "alive", "active", "replica"}};
  for (const auto& row : rows) {
    table.push_back(
        {row.id, row.address,
         row.status ? *row.status + (row.auto_failover ? " (auto)" : "") : "(not a member)",
         row.alive ? "yes" : "no", std::to_string(row.actives), std::to_string(row.replicas)});
  }
  text += FormatTable(table);
  for (const auto& problem : state.problems) text += "problem: " + problem + "\n";
  return text;
}

}  // namespace

int RunClusterStatus(const CommandLine& cmd, Output& out) {
  auto opened = OpenEtcd(cmd);
  if (auto* f = std::get_if<Failure>(&opened)) return out.Fail(*f);
  const cluster::ClusterKeys keys(cmd.cluster.cluster);
  auto read = ReadCluster(*std::get<std::shared_ptr<cluster::EtcdClient>>(opened), keys);
  if (auto* f = std::get_if<Failure>(&read)) return out.Fail(*f);
  const ClusterState& state = std::get<ClusterState>(read);
  auto it = state.buckets.find(cmd.connection.bucket);
  const cluster::BucketMapState* b = it == state.buckets.end() ? nullptr : &it->second;
  const auto rows = NodeRows(state, b && b->map ? &*b->map : nullptr);
  if (out.json()) {
    out.Json(ToJson(cmd, state, b, rows));
  } else {
    out.Text(ToText(cmd, state, b, rows));
  }
  return ToInt(ExitCode::kOk);
}

}  // namespace sluice::tools
