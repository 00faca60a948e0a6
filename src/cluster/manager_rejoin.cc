// File: cluster/manager_rejoin.cc
//
// A failed-over node's return (cluster/manager.h; docs/cluster.md, "A failed-over node's
// return"): a member the manager failed over automatically ({"status":"failed_over","auto":true})
// whose node registers again is re-added in one txn:
//
//   if   create_revision(manager) == the term's             (Leadership::Guard)
//        and mod_revision(members/<id>) == as read
//        and create_revision(nodes/<id>) == as read          (the registration seen, still there)
//        and mod_revision(rebalance) == as read              (no rebalance requested meanwhile)
//        and mod_revision(buckets/<b>/map) == as read        (every bucket)
//   then put members/<id> = active, every buckets/<b>/map with the node listed and placed as a
//        replica in each chain short of replicas (PlanRejoin)
//
// It never becomes active anywhere by this: its vbuckets become replicas of the actives promoted
// by its failover, and its passive streams roll back or reset them to those actives' histories
// before taking anything (DCP's rollback). Not while a rebalance is requested or running, nor
// while a map has moves (a graceful failover's): it waits for them to end.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "cluster/manager.h"
#include "cluster/map_planner.h"
#include "common/logging.h"

namespace sluice::cluster {
namespace {

// Why re-adding must wait now ("": it may go ahead). A rebalance plans over the members it saw;
// moves under way hold chains that are about to change.
std::string RejoinWait(const ClusterState& state) {
  using State = RebalanceStatus::State;
  if (state.rebalance &&
      (state.rebalance->state == State::kRequested || state.rebalance->state == State::kRunning)) {
    return fmt::format("a rebalance is {}", RebalanceStateName(state.rebalance->state));
  }
  for (const auto& [bucket, b] : state.buckets) {
    if (!b.map) return fmt::format("bucket {}'s map does not parse", bucket);
    if (!b.map->moves().empty())
      return fmt::format("bucket {} has vbucket moves under way", bucket);
  }
  return "";
}

// Whether `node` is to be re-added: failed over automatically, and registered again.
bool Returning(const ClusterState& state, const std::string& node) {
  return state.StatusOf(node) == MemberStatus::kFailedOver &&
         state.auto_failed_over.count(node) != 0 && state.registrations.count(node) != 0 &&
         state.registration_revisions.count(node) != 0;
}

// The txn that re-adds `node` (Returning, nothing to wait for) under `term`; what it places, per
// bucket, in *summary.
TxnRequest RejoinTxn(const ClusterKeys& keys, const Leadership& term, const ClusterState& state,
                     const std::string& node, std::string* summary) {
  TxnRequest txn;
  txn.compare.push_back(term.Guard());
  txn.compare.push_back(Compare::ModRevision(keys.Member(node), CompareOp::kEqual,
                                             state.member_mod_revisions.at(node)));
  txn.compare.push_back(Compare::CreateRevision(keys.Node(node), CompareOp::kEqual,
                                                state.registration_revisions.at(node)));
  txn.compare.push_back(
      Compare::ModRevision(keys.Rebalance(), CompareOp::kEqual, state.rebalance_mod_revision));
  const NodeRegistration& reg = state.registrations.at(node);
  for (const auto& [bucket, b] : state.buckets) {
    const ClusterMap& map = *b.map;
    std::vector<TopologyChain> chains;
    for (size_t vb = 0; vb < map.num_vbuckets(); ++vb) chains.push_back(map.ChainOf(Vbid(vb)));
    const RejoinPlan plan = PlanRejoin(chains, node, map.num_replicas());
    // The map's nodes at their registered addresses (else the map's), then the returning one.
    std::vector<ClusterNode> nodes;
    for (const ClusterNode& n : map.nodes()) {
      auto r = state.registrations.find(n.id);
      nodes.push_back(
          r == state.registrations.end() ? n : ClusterNode{n.id, r->second.host, r->second.port});
    }
    if (!map.FindNode(node)) nodes.push_back({node, reg.host, reg.port});
    txn.compare.push_back(
        Compare::ModRevision(keys.Map(bucket), CompareOp::kEqual, b.mod_revision));
    txn.success.push_back(
        TxnOp::Put(keys.Map(bucket), FormatMapValue(nodes, map.num_replicas(), plan.chains)));
    if (plan.replica_of.empty()) {
      *summary += fmt::format(
          " bucket {}: no chain short of replicas (a rebalance gives it its "
          "share);",
          bucket);
    } else {
      *summary += fmt::format(" bucket {}: replica of vbuckets {};", bucket,
                              fmt::join(plan.replica_of, ","));
    }
  }
  txn.success.push_back(TxnOp::Put(keys.Member(node), FormatMember(MemberStatus::kActive)));
  return txn;
}

}  // namespace

bool Manager::EvaluateRejoins(const Leadership& term, const ClusterState& state) {
  for (const auto& node : state.auto_failed_over) {
    if (!Returning(state, node)) {
      rejoin_logged_.erase(node);
      continue;
    }
    if (const std::string wait = RejoinWait(state); !wait.empty()) {
      if (rejoin_logged_[node] != wait) {
        LOG_INFO("manager {}: {} (failed over automatically) is back; re-adding it waits: {}",
                 options_.node_id, node, wait);
        rejoin_logged_[node] = wait;
      }
      continue;
    }
    // Bounded like a failover's: the next look reads the state this one wrote.
    if (FailedOverAndCaughtUp(Rejoin(term, node))) return true;
  }
  return false;
}

int64_t Manager::Rejoin(const Leadership& term, const std::string& node) {
  auto range = client_->Range(keys_.prefix(), {.prefix = true});
  std::string problem;
  if (!range.ok()) {
    problem = "reading the cluster: " + range.status().ToString();
  } else {
    const ClusterState state = ClusterState::Read(keys_, *range, options_.defaults);
    if (!Returning(state, node)) return 0;  // it left again, or was re-added meanwhile
    if (std::string wait = RejoinWait(state); !wait.empty()) return 0;  // the next look logs it
    std::string summary;
    auto written = client_->Txn(RejoinTxn(keys_, term, state, node, &summary));
    if (written.ok() && written->succeeded) {
      rejoin_logged_.erase(node);
      LOG_INFO(
          "manager {}: {} (failed over automatically) registered again: re-added at "
          "revision {}:{}",
          options_.node_id, node, written->revision, summary);
      MutexLock lock(&mu_);
      ++stats_.rejoins;
      return written->revision;
    }
    if (written.ok()) {
      MutexLock lock(&mu_);
      ++stats_.writes_refused;
      return 0;  // deposed, or the keys changed: the next look decides again
    }
    problem = "writing: " + written.status().ToString();
  }
  if (rejoin_logged_[node] != problem) {
    LOG_WARN("manager {}: re-adding {} failed: {}", options_.node_id, node, problem);
    rejoin_logged_[node] = problem;
  }
  return 0;
}

}  // namespace sluice::cluster
