// File: cluster/manager_failover.cc
//
// One failover (cluster/manager.h): read the cluster at one revision, probe the surviving
// replicas, plan every bucket's map, write it all in one guarded txn.
#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "cluster/manager.h"
#include "cluster/map_planner.h"
#include "common/logging.h"

namespace sluice::cluster {

struct Manager::Outcome {
  enum class Result : uint8_t {
    kDone,      // written at `revision`
    kNothing,   // no longer needed (already failed over, back, not a member)
    kRefused,   // the rules say no (automatic only): `detail`
    kConflict,  // the txn's compares failed: deposed, or the keys changed since the read
    kError,     // etcd could not be read or written, or a map could not be planned: `detail`
  };
  Result result = Result::kNothing;
  std::string detail;
  int64_t revision = 0;
};

namespace {

// The nodes of `map` that stay: every listed node but `failed` and failed-over members.
std::vector<std::string> Remaining(const ClusterMap& map, const ClusterState& state,
                                   const std::string& failed) {
  std::vector<std::string> out;
  for (const auto& node : map.nodes()) {
    auto member = state.members.find(node.id);
    const bool out_of_cluster =
        member != state.members.end() && member->second == MemberStatus::kFailedOver;
    if (node.id != failed && !out_of_cluster) out.push_back(node.id);
  }
  return out;
}

// The new map's nodes list: `remaining`, at their registered addresses (else the old map's).
std::vector<ClusterNode> NodesOf(const std::vector<std::string>& remaining, const ClusterMap& map,
                                 const ClusterState& state) {
  std::vector<ClusterNode> out;
  for (const auto& id : remaining) {
    auto reg = state.registrations.find(id);
    if (reg != state.registrations.end()) {
      out.push_back({id, reg->second.host, reg->second.port});
    } else {
      out.push_back(*map.FindNode(id));
    }
  }
  return out;
}

std::string VbucketList(const std::vector<Promotion>& promotions, bool lost_only) {
  std::string out;
  for (const auto& p : promotions) {
    if (lost_only && !p.lost) continue;
    out += (out.empty() ? "" : ",") + std::to_string(p.vbucket);
  }
  return out;
}

}  // namespace

std::map<std::string, SeqnoReport> Manager::ProbeReplicas(const ClusterState& state,
                                                          const std::string& node) {
  std::map<std::string, SeqnoReport> out;
  for (const auto& [bucket, b] : state.buckets) {
    if (!b.map) continue;
    std::map<std::string, std::vector<Vbid>> asks;  // replica -> vbuckets to ask it about
    for (size_t vb = 0; vb < b.map->num_vbuckets(); ++vb) {
      const TopologyChain& chain = b.map->ChainOf(static_cast<Vbid>(vb));
      if (!chain[0] || *chain[0] != node) continue;
      for (size_t i = 1; i < chain.size(); ++i) {
        if (chain[i] && state.registrations.count(*chain[i]) != 0) {
          asks[*chain[i]].push_back(static_cast<Vbid>(vb));
        }
      }
    }
    for (const auto& [replica, vbs] : asks) {
      auto seqnos = probe_->Probe(state.registrations.at(replica), bucket, vbs);
      if (!seqnos.ok()) {
        LOG_WARN("manager {}: no seqnos from {} for bucket {}: {}", options_.node_id, replica,
                 bucket, seqnos.status().ToString());
        continue;
      }
      out[bucket][replica] = std::move(*seqnos);
    }
  }
  return out;
}

std::optional<Manager::Outcome> Manager::PlanBuckets(const ClusterState& state,
                                                     const std::string& node, Kind kind,
                                                     TxnRequest* txn, std::string* summary) {
  using Result = Outcome::Result;
  const auto seqnos = ProbeReplicas(state, node);
  for (const auto& [bucket, b] : state.buckets) {
    if (!b.map) return Outcome{Result::kError, "bucket " + bucket + "'s map does not parse"};
    if (!b.map->FindNode(node)) continue;
    const auto remaining = Remaining(*b.map, state, node);
    std::vector<TopologyChain> chains;
    for (size_t vb = 0; vb < b.map->num_vbuckets(); ++vb) {
      chains.push_back(b.map->ChainOf(static_cast<Vbid>(vb)));
    }
    auto report = seqnos.find(bucket);
    auto plan = PlanFailover(chains, node, remaining,
                             report == seqnos.end() ? SeqnoReport{} : report->second);
    if (!plan.ok()) {
      return Outcome{Result::kError, "bucket " + bucket + ": " + plan.status().ToString()};
    }
    const std::string lost = VbucketList(plan->promotions, true);
    if (kind == Kind::kAutomatic && plan->LosesData()) {
      return Outcome{Result::kRefused,
                     fmt::format("bucket {}: vbuckets {} have no surviving replica", bucket, lost)};
    }
    txn->compare.push_back(
        Compare::ModRevision(keys_.Map(bucket), CompareOp::kEqual, b.mod_revision));
    txn->success.push_back(TxnOp::Put(
        keys_.Map(bucket),
        FormatMapValue(NodesOf(remaining, *b.map, state), b.map->num_replicas(), plan->chains)));
    *summary += fmt::format(" bucket {}: vbuckets promoted: {}; lost: {}; replicas added: {};",
                            bucket, VbucketList(plan->promotions, false),
                            lost.empty() ? "none" : lost, plan->replicas_added);
  }
  return std::nullopt;
}

Manager::Outcome Manager::TryFailOver(const Leadership& term, const std::string& node, Kind kind) {
  using Result = Outcome::Result;
  auto range = client_->Range(keys_.prefix(), {.prefix = true});
  if (!range.ok()) return {Result::kError, "reading the cluster: " + range.status().ToString()};
  const ClusterState state = ClusterState::Read(keys_, *range, options_.defaults);
  auto member = state.members.find(node);
  if (member == state.members.end()) return {Result::kNothing, "not a member"};
  const bool wanted = kind == Kind::kManual
                          ? (member->second == MemberStatus::kFailoverRequested ||
                             member->second == MemberStatus::kGracefulFailoverRequested)
                          : (member->second == MemberStatus::kActive ||
                             member->second == MemberStatus::kPendingRemove);
  if (!wanted) return {Result::kNothing, "its status changed"};
  if (kind == Kind::kAutomatic) {
    if (state.IsAlive(node)) return {Result::kNothing, "it registered again"};
    if (auto refusal = AutoRefusal(state, node)) return {Result::kRefused, *refusal};
  }
  TxnRequest txn;
  txn.compare.push_back(term.Guard());
  txn.compare.push_back(Compare::ModRevision(keys_.Member(node), CompareOp::kEqual,
                                             state.member_mod_revisions.at(node)));
  std::string summary;
  if (auto failed = PlanBuckets(state, node, kind, &txn, &summary)) return *failed;
  txn.success.push_back(TxnOp::Put(
      keys_.Member(node), FormatMember(MemberStatus::kFailedOver, kind == Kind::kAutomatic)));
  if (kind == Kind::kAutomatic) {
    // Still unregistered: a node that registered again after the read (and may already serve
    // the map it saw at its registration) is not failed over behind its back.
    txn.compare.push_back(Compare::CreateRevision(keys_.Node(node), CompareOp::kEqual, 0));
    txn.compare.push_back(Compare::ModRevision(keys_.FailoverCount(), CompareOp::kEqual,
                                               state.failover_count_mod_revision));
    txn.success.push_back(
        TxnOp::Put(keys_.FailoverCount(), std::to_string(state.failover_count + 1)));
  }
  auto written = client_->Txn(txn);
  if (!written.ok()) return {Result::kError, "writing: " + written.status().ToString()};
  if (!written->succeeded) return {Result::kConflict, "the term or the keys changed"};
  return {Result::kDone, summary, written->revision};
}

int64_t Manager::FailOver(const Leadership& term, const std::string& node, Kind kind) {
  const char* how = kind == Kind::kManual ? "requested hard" : "automatic";
  using Result = Outcome::Result;
  const Outcome outcome = TryFailOver(term, node, kind);
  // Refusals and errors repeat at every look until something changes: logged once each.
  const bool repeated = refusal_logged_[node] == outcome.detail;
  refusal_logged_[node] = outcome.detail;
  MutexLock lock(&mu_);
  switch (outcome.result) {
    case Result::kDone:
      ++stats_.failovers;
      LOG_INFO("manager {}: {} failover of {} done at revision {}:{}", options_.node_id, how, node,
               outcome.revision, outcome.detail);
      return outcome.revision;
    case Result::kNothing:
      break;
    case Result::kRefused:
      if (repeated) break;
      ++stats_.refusals;
      LOG_WARN("manager {}: not failing over {}: {}", options_.node_id, node, outcome.detail);
      break;
    case Result::kConflict:
      ++stats_.writes_refused;
      LOG_WARN("manager {}: {} failover of {} refused by etcd: {}", options_.node_id, how, node,
               outcome.detail);
      break;
    case Result::kError:
      if (repeated) break;
      LOG_WARN("manager {}: {} failover of {} failed: {}", options_.node_id, how, node,
               outcome.detail);
      break;
  }
  return 0;
}

}  // namespace sluice::cluster
