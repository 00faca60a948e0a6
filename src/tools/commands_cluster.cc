// File: tools/commands_cluster.cc
//
// `sluice cluster init / failover / reset-failover-count` (status: commands_cluster_status.cc),
// and what they share (tools/cluster_etcd.h). They write etcd's keys (docs/cluster.md, "Key
// layout"); the manager and the nodes act on them.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "cluster/map_planner.h"
#include "tools/cluster_etcd.h"
#include "tools/commands.h"

namespace sluice::tools {

using cluster::ClusterKeys;
using cluster::ClusterState;
using cluster::EtcdClient;
using cluster::MemberStatus;
using Clock = std::chrono::steady_clock;

Failure FailureFromEtcd(const Status& status, std::string_view doing) {
  const ExitCode code = status.code() == Errc::kTempFail || status.code() == Errc::kIoError
                            ? ExitCode::kConnection
                            : ExitCode::kServerError;
  return {code, fmt::format("{}: etcd: {}", doing, status.ToString())};
}

std::variant<std::shared_ptr<EtcdClient>, Failure> OpenEtcd(const CommandLine& cmd) {
  cluster::EtcdOptions options;
  options.endpoints = cmd.cluster.etcd;
  const auto timeout =
      std::chrono::milliseconds(static_cast<int64_t>(cmd.connection.timeout_seconds * 1000));
  options.connect_timeout = std::min(timeout, std::chrono::milliseconds(5000));
  options.request_timeout = timeout;
  auto client = EtcdClient::Create(options);
  if (!client.ok()) return Failure{ExitCode::kUsage, "--etcd: " + client.status().ToString()};
  return *client;
}

std::variant<ClusterState, Failure> ReadCluster(EtcdClient& client, const ClusterKeys& keys) {
  auto range = client.Range(keys.prefix(), {.prefix = true});
  if (!range.ok()) return FailureFromEtcd(range.status(), "reading " + keys.prefix());
  return ClusterState::Read(keys, *range, cluster::ClusterSettings{});
}

namespace {

// Polls (etcd is another process) until `done` holds or the deadline passes.
template <class Fn>
bool PollUntil(Clock::time_point deadline, Fn&& done) {
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return true;
}

Clock::time_point Deadline(const CommandLine& cmd) {
  return Clock::now() +
         std::chrono::milliseconds(static_cast<int64_t>(cmd.connection.timeout_seconds * 1000));
}

std::string Join(const std::vector<std::string>& ids) {
  return fmt::format("{}", fmt::join(ids, ","));
}

// Waits until every one of `ids` is registered; their registrations, or why not.
std::variant<std::vector<cluster::ClusterNode>, Failure> AwaitRegistrations(const CommandLine& cmd,
                                                                            EtcdClient& client,
                                                                            const ClusterKeys& keys,
                                                                            Output& out) {
  const auto& ids = cmd.cluster.nodes;
  std::vector<std::string> missing;
  std::optional<Failure> failure;
  bool told = false;
  auto all_there = [&] {
    auto state = ReadCluster(client, keys);
    if (auto* f = std::get_if<Failure>(&state)) {
      failure = *f;
      return true;  // stop waiting: etcd failed
    }
    const auto& s = std::get<ClusterState>(state);
    missing.clear();
    for (const auto& id : ids) {
      if (s.registrations.count(id) == 0) missing.push_back(id);
    }
    if (!missing.empty() && !told) {
      out.err() << fmt::format("sluice: waiting for {} to register under {}\n", Join(missing),
                               keys.NodesPrefix());
      told = true;
    }
    return missing.empty();
  };
  if (!PollUntil(Deadline(cmd), all_there)) {
    return Failure{ExitCode::kServerError,
                   fmt::format("nodes not registered after {} s: {} (each must run sluiced "
                               "--etcd URL --cluster {} --node-id ID)",
                               cmd.connection.timeout_seconds, Join(missing), cmd.cluster.cluster)};
  }
  if (failure) return *failure;
  auto state = ReadCluster(client, keys);
  if (auto* f = std::get_if<Failure>(&state)) return *f;
  std::vector<cluster::ClusterNode> nodes;
  for (const auto& id : ids) {
    const auto& reg = std::get<ClusterState>(state).registrations.at(id);
    nodes.push_back({id, reg.host, reg.port});
  }
  return nodes;
}

// The init txn: fenced by the epoch's mod_revision (two inits cannot both pass).
cluster::TxnRequest InitTxn(const CommandLine& cmd, const ClusterKeys& keys,
                            const ClusterState& state, int64_t epoch, const std::string& map) {
  cluster::TxnRequest txn;
  txn.compare.push_back(cluster::Compare::ModRevision(keys.Epoch(), cluster::CompareOp::kEqual,
                                                      state.epoch_mod_revision));
  const auto& ids = cmd.cluster.nodes;
  for (const auto& [id, status] : state.members) {
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) {
      txn.success.push_back(cluster::TxnOp::Delete(keys.Member(id)));
    }
  }
  for (const auto& id : ids) {
    txn.success.push_back(
        cluster::TxnOp::Put(keys.Member(id), cluster::FormatMember(MemberStatus::kActive)));
  }
  txn.success.push_back(cluster::TxnOp::Put(keys.Epoch(), std::to_string(epoch)));
  txn.success.push_back(cluster::TxnOp::Put(keys.FailoverCount(), "0"));
  txn.success.push_back(cluster::TxnOp::Put(keys.Map(cmd.connection.bucket), map));
  return txn;
}

}  // namespace

int RunClusterInit(const CommandLine& cmd, Output& out) {
  auto opened = OpenEtcd(cmd);
  if (auto* f = std::get_if<Failure>(&opened)) return out.Fail(*f);
  EtcdClient& client = *std::get<std::shared_ptr<EtcdClient>>(opened);
  const ClusterKeys keys(cmd.cluster.cluster);
  auto nodes = AwaitRegistrations(cmd, client, keys, out);
  if (auto* f = std::get_if<Failure>(&nodes)) return out.Fail(*f);
  auto read = ReadCluster(client, keys);
  if (auto* f = std::get_if<Failure>(&read)) return out.Fail(*f);
  const ClusterState& state = std::get<ClusterState>(read);
  if ((!state.members.empty() || state.buckets.count(cmd.connection.bucket) != 0) &&
      !cmd.cluster.force) {
    return out.Fail({ExitCode::kServerError,
                     fmt::format("cluster {} is already initialised (members: {}); --force "
                                 "re-initialises it with a new epoch",
                                 cmd.cluster.cluster, Join(state.InClusterMembers()))});
  }
  const auto chains =
      cluster::PlanInitialMap(cmd.cluster.nodes, cmd.cluster.replicas, cmd.cluster.vbuckets);
  const std::string map = cluster::FormatMapValue(
      std::get<std::vector<cluster::ClusterNode>>(nodes), cmd.cluster.replicas, chains);
  if (auto check = cluster::ParseMapValue(map); !check.ok()) {
    return out.Fail({ExitCode::kServerError, "the registrations make no valid map: " +
                                                 std::string(check.status().message())});
  }
  const int64_t epoch = state.epoch.value_or(0) + 1;
  auto written = client.Txn(InitTxn(cmd, keys, state, epoch, map));
  if (!written.ok()) return out.Fail(FailureFromEtcd(written.status(), "writing the cluster"));
  if (!written->succeeded) {
    return out.Fail({ExitCode::kServerError, "another init changed the epoch meanwhile; retry"});
  }
  if (out.json()) {
    out.Json({{"cluster", cmd.cluster.cluster},
              {"bucket", cmd.connection.bucket},
              {"nodes", cmd.cluster.nodes},
              {"replicas", cmd.cluster.replicas},
              {"vbuckets", cmd.cluster.vbuckets},
              {"epoch", epoch},
              {"map_rev", written->revision}});
  } else {
    out.Text(
        fmt::format("cluster {} initialised: nodes {}, {} replicas, {} vbuckets, epoch {}, "
                    "map rev {}\n",
                    cmd.cluster.cluster, Join(cmd.cluster.nodes), cmd.cluster.replicas,
                    cmd.cluster.vbuckets, epoch, written->revision));
  }
  return ToInt(ExitCode::kOk);
}

int RunClusterFailover(const CommandLine& cmd, Output& out) {
  auto opened = OpenEtcd(cmd);
  if (auto* f = std::get_if<Failure>(&opened)) return out.Fail(*f);
  EtcdClient& client = *std::get<std::shared_ptr<EtcdClient>>(opened);
  const ClusterKeys keys(cmd.cluster.cluster);
  const std::string& node = cmd.cluster.node;
  auto read = ReadCluster(client, keys);
  if (auto* f = std::get_if<Failure>(&read)) return out.Fail(*f);
  const ClusterState& state = std::get<ClusterState>(read);
  auto member = state.members.find(node);
  if (member == state.members.end()) {
    return out.Fail({ExitCode::kServerError,
                     fmt::format("{} is not a member of cluster {}", node, cmd.cluster.cluster)});
  }
  if (cmd.cluster.graceful && !state.IsAlive(node)) {
    return out.Fail({ExitCode::kServerError,
                     node + " is not registered (down): only a hard failover is possible"});
  }
  if (member->second == MemberStatus::kActive) {
    const MemberStatus request = cmd.cluster.graceful ? MemberStatus::kGracefulFailoverRequested
                                                      : MemberStatus::kFailoverRequested;
    auto written = client.Txn(
        {.compare = {cluster::Compare::ModRevision(keys.Member(node), cluster::CompareOp::kEqual,
                                                   state.member_mod_revisions.at(node))},
         .success = {cluster::TxnOp::Put(keys.Member(node), cluster::FormatMember(request))}});
    if (!written.ok()) return out.Fail(FailureFromEtcd(written.status(), "requesting"));
    if (!written->succeeded) {
      return out.Fail({ExitCode::kServerError, node + "'s membership changed meanwhile; retry"});
    }
  }
  bool done = member->second == MemberStatus::kFailedOver;
  if (!done && !cmd.cluster.no_wait) {
    done = PollUntil(Deadline(cmd), [&] {
      auto kv = client.Get(keys.Member(node));
      if (!kv.ok()) return false;
      auto status = cluster::ParseMember(kv->value);
      return status.ok() && *status == MemberStatus::kFailedOver;
    });
    if (!done) {
      return out.Fail({ExitCode::kServerError,
                       fmt::format("failover of {} requested but not done after {} s (manager: "
                                   "{}); it stays requested",
                                   node, cmd.connection.timeout_seconds,
                                   state.manager.value_or("none running"))});
    }
  }
  const char* what = done                   ? "failed_over"
                     : cmd.cluster.graceful ? "graceful_failover_requested"
                                            : "failover_requested";
  if (out.json()) {
    out.Json({{"node", node}, {"status", what}});
  } else {
    out.Text(fmt::format("{}: {}\n", node, what));
  }
  return ToInt(ExitCode::kOk);
}

int RunClusterResetFailoverCount(const CommandLine& cmd, Output& out) {
  auto opened = OpenEtcd(cmd);
  if (auto* f = std::get_if<Failure>(&opened)) return out.Fail(*f);
  EtcdClient& client = *std::get<std::shared_ptr<EtcdClient>>(opened);
  const ClusterKeys keys(cmd.cluster.cluster);
  auto put = client.Put(keys.FailoverCount(), "0", {.prev_kv = true});
  if (!put.ok()) return out.Fail(FailureFromEtcd(put.status(), "resetting"));
  int64_t was = 0;
  if (put->prev_kv) {
    auto count = cluster::ParseCounter(put->prev_kv->value);
    if (count.ok()) was = *count;
  }
  if (out.json()) {
    out.Json({{"failover_count", 0}, {"was", was}});
  } else {
    out.Text(fmt::format("failover count reset (was {})\n", was));
  }
  return ToInt(ExitCode::kOk);
}

}  // namespace sluice::tools
