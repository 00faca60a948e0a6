// File: tools/commands_cluster_rebalance.cc
//
// `sluice cluster add NODE / remove NODE / rebalance` (docs/cluster.md, "Rebalance"). add and
// remove change one member's status by a txn on its mod_revision; rebalance writes the
// `rebalance` key's request (unless one is under way) and follows the manager's progress there.
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "tools/cluster_etcd.h"
#include "tools/commands.h"

namespace sluice::tools {
namespace {

using cluster::ClusterKeys;
using cluster::ClusterState;
using cluster::EtcdClient;
using cluster::MemberStatus;
using cluster::RebalanceStatus;
using Clock = std::chrono::steady_clock;

bool Running(const ClusterState& state) {
  return state.rebalance && (state.rebalance->state == RebalanceStatus::State::kRequested ||
                             state.rebalance->state == RebalanceStatus::State::kRunning);
}

// Puts members/<node> = `to` (nullopt: deletes it) if it is still as read.
int SetMember(EtcdClient& client, const ClusterKeys& keys, const ClusterState& state,
              const std::string& node, std::optional<MemberStatus> to, Output& out) {
  auto rev = state.member_mod_revisions.find(node);
  cluster::TxnRequest txn;
  txn.compare.push_back(
      cluster::Compare::ModRevision(keys.Member(node), cluster::CompareOp::kEqual,
                                    rev == state.member_mod_revisions.end() ? 0 : rev->second));
  txn.success.push_back(to ? cluster::TxnOp::Put(keys.Member(node), cluster::FormatMember(*to))
                           : cluster::TxnOp::Delete(keys.Member(node)));
  auto written = client.Txn(txn);
  if (!written.ok()) return out.Fail(FailureFromEtcd(written.status(), "writing " + node));
  if (!written->succeeded) {
    return out.Fail({ExitCode::kServerError, node + "'s membership changed meanwhile; retry"});
  }
  const std::string what = to ? std::string(cluster::MemberStatusName(*to)) : "not a member";
  if (out.json()) {
    out.Json({{"node", node}, {"status", what}});
  } else {
    out.Text(fmt::format("{}: {} (run sluice cluster rebalance)\n", node, what));
  }
  return ToInt(ExitCode::kOk);
}

// The cluster as read, or the exit code of the failure (also when a rebalance is under way).
std::variant<ClusterState, int> ReadForChange(EtcdClient& client, const ClusterKeys& keys,
                                              Output& out) {
  auto read = ReadCluster(client, keys);
  if (auto* f = std::get_if<Failure>(&read)) return out.Fail(*f);
  auto& state = std::get<ClusterState>(read);
  if (Running(state)) {
    return out.Fail(
        {ExitCode::kServerError, "a rebalance is under way; change members when it is done"});
  }
  return std::move(state);
}

// "[=======>      ]  45%  7/16 vbuckets moved  0:12"
std::string ProgressText(const RebalanceStatus& r, double seconds) {
  constexpr int kWidth = 30;
  const double fraction =
      r.moves_total == 0 ? 1.0 : static_cast<double>(r.moves_done) / r.moves_total;
  const int filled = static_cast<int>(fraction * kWidth);
  std::string bar(filled, '=');
  if (filled < kWidth) bar += '>';
  bar.resize(kWidth, ' ');
  return fmt::format("[{}] {:3.0f}%  {}/{} vbuckets moved  {:.0f} s", bar, fraction * 100,
                     r.moves_done, r.moves_total, seconds);
}

// Follows the rebalance key until done or failed; a line (redrawn on a terminal) per change.
int FollowRebalance(const CommandLine& cmd, EtcdClient& client, const ClusterKeys& keys,
                    Output& out) {
  const auto start = Clock::now();
  const auto patience =
      std::chrono::milliseconds(static_cast<int64_t>(cmd.connection.timeout_seconds * 1000));
  const bool terminal = isatty(STDERR_FILENO) == 1 && !out.json();
  std::string shown;
  auto requested_since = Clock::now();
  while (true) {
    auto kv = client.Get(keys.Rebalance());
    auto status =
        kv.ok() ? cluster::ParseRebalance(kv->value) : StatusOr<RebalanceStatus>(kv.status());
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (status.ok()) {
      if (status->state != RebalanceStatus::State::kRequested) requested_since = Clock::now();
      const std::string line = ProgressText(*status, seconds);
      if (!out.json() && line.substr(0, 50) != shown.substr(0, 50)) {
        out.err() << (terminal ? "\r" : "") << line << (terminal ? "" : "\n") << std::flush;
        shown = line;
      }
      if (status->state == RebalanceStatus::State::kDone ||
          status->state == RebalanceStatus::State::kFailed) {
        if (terminal) out.err() << "\n";
        if (status->state == RebalanceStatus::State::kFailed) {
          return out.Fail({ExitCode::kServerError, "rebalance failed: " + status->message});
        }
        if (out.json()) {
          out.Json({{"state", "done"},
                    {"moves_done", status->moves_done},
                    {"moves_total", status->moves_total},
                    {"nodes", status->nodes},
                    {"seconds", seconds}});
        } else {
          out.Text(fmt::format("rebalance done: {} vbuckets moved in {:.1f} s; members {}\n",
                               status->moves_total, seconds, fmt::join(status->nodes, ",")));
        }
        return ToInt(ExitCode::kOk);
      }
    }
    if (Clock::now() - requested_since > patience) {
      return out.Fail({ExitCode::kServerError,
                       fmt::format("the rebalance was not started after {} s: is a manager "
                                   "running (sluiced --etcd)? It stays requested",
                                   cmd.connection.timeout_seconds)});
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace

int RunClusterAdd(const CommandLine& cmd, Output& out) {
  auto opened = OpenEtcd(cmd);
  if (auto* f = std::get_if<Failure>(&opened)) return out.Fail(*f);
  EtcdClient& client = *std::get<std::shared_ptr<EtcdClient>>(opened);
  const ClusterKeys keys(cmd.cluster.cluster);
  auto read = ReadForChange(client, keys, out);
  if (auto* code = std::get_if<int>(&read)) return *code;
  const ClusterState& state = std::get<ClusterState>(read);
  const std::string& node = cmd.cluster.node;
  if (state.registrations.count(node) == 0) {
    return out.Fail({ExitCode::kServerError,
                     fmt::format("{} is not registered under {} (start it with sluiced --etcd "
                                 "URL --cluster {} --node-id {})",
                                 node, keys.NodesPrefix(), cmd.cluster.cluster, node)});
  }
  const auto status = state.StatusOf(node);
  if (!status || *status == MemberStatus::kFailedOver) {
    return SetMember(client, keys, state, node, MemberStatus::kPendingAdd, out);
  }
  if (*status == MemberStatus::kPendingRemove) {  // the removal is called off
    return SetMember(client, keys, state, node, MemberStatus::kActive, out);
  }
  return out.Fail({ExitCode::kServerError, fmt::format("{} is already a member ({})", node,
                                                       cluster::MemberStatusName(*status))});
}

int RunClusterRemove(const CommandLine& cmd, Output& out) {
  auto opened = OpenEtcd(cmd);
  if (auto* f = std::get_if<Failure>(&opened)) return out.Fail(*f);
  EtcdClient& client = *std::get<std::shared_ptr<EtcdClient>>(opened);
  const ClusterKeys keys(cmd.cluster.cluster);
  auto read = ReadForChange(client, keys, out);
  if (auto* code = std::get_if<int>(&read)) return *code;
  const ClusterState& state = std::get<ClusterState>(read);
  const std::string& node = cmd.cluster.node;
  const auto status = state.StatusOf(node);
  if (status == MemberStatus::kPendingAdd) {  // never in a map: it simply leaves
    return SetMember(client, keys, state, node, std::nullopt, out);
  }
  if (status != MemberStatus::kActive) {
    return out.Fail({ExitCode::kServerError,
                     fmt::format("{} is not an active member ({})", node,
                                 status ? cluster::MemberStatusName(*status) : "not a member")});
  }
  size_t staying = 0;
  for (const auto& [id, s] : state.members) {
    staying += id != node && (s == MemberStatus::kActive || s == MemberStatus::kPendingAdd);
  }
  if (staying == 0) {
    return out.Fail({ExitCode::kServerError, node + " is the last member: it cannot be removed"});
  }
  return SetMember(client, keys, state, node, MemberStatus::kPendingRemove, out);
}

int RunClusterRebalance(const CommandLine& cmd, Output& out) {
  auto opened = OpenEtcd(cmd);
  if (auto* f = std::get_if<Failure>(&opened)) return out.Fail(*f);
  EtcdClient& client = *std::get<std::shared_ptr<EtcdClient>>(opened);
  const ClusterKeys keys(cmd.cluster.cluster);
  auto read = ReadCluster(client, keys);
  if (auto* f = std::get_if<Failure>(&read)) return out.Fail(*f);
  const ClusterState& state = std::get<ClusterState>(read);
  if (state.buckets.empty()) {
    return out.Fail({ExitCode::kServerError,
                     "cluster " + cmd.cluster.cluster + " has no map (sluice cluster init)"});
  }
  if (!Running(state)) {
    auto written = client.Txn(
        {.compare = {cluster::Compare::ModRevision(keys.Rebalance(), cluster::CompareOp::kEqual,
                                                   state.rebalance_mod_revision)},
         .success = {
             cluster::TxnOp::Put(keys.Rebalance(), cluster::FormatRebalance(RebalanceStatus{}))}});
    if (!written.ok()) return out.Fail(FailureFromEtcd(written.status(), "requesting"));
    if (!written->succeeded) {
      return out.Fail({ExitCode::kServerError, "another rebalance request came first; retry"});
    }
  } else {
    out.err() << "sluice: a rebalance is already under way; following it\n";
  }
  if (!cmd.cluster.no_wait) return FollowRebalance(cmd, client, keys, out);
  if (out.json()) {
    out.Json({{"state", "requested"}});
  } else {
    out.Text("rebalance requested (sluice cluster status shows its progress)\n");
  }
  return ToInt(ExitCode::kOk);
}

}  // namespace sluice::tools
