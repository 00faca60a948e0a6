// File: cluster/manager_rebalance.cc
//
// A rebalance (cluster/manager.h; docs/cluster.md, "Rebalance" and "Moving a vbucket"), one step
// per look while the manager leads:
//   requested  plan the target (cluster/map_planner.h PlanRebalance over the active and
//              pending_add members) and store it in the `rebalance` key: running.
//   running    advance the moves under way (probing the nodes), start new ones up to
//              rebalance_moves_per_node per node, and when every chain is its target, write the
//              final map and the members' new statuses: done.
// Every write is one txn guarded by the manager's term, the rebalance key's mod_revision and the
// mod_revision of each map it read, so a deposed manager or a stale view writes nothing; a new
// manager resumes from what etcd holds (the target in `rebalance`, each move's phase in the map).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <set>

#include "cluster/manager.h"
#include "cluster/map_planner.h"
#include "common/logging.h"

namespace sluice::cluster {
namespace {

using Phase = VbucketMove::Phase;
using Probed = std::map<std::string, std::map<Vbid, VbucketSeqnos>>;  // node -> vb -> seqnos

// A move's new nodes may start its takeover when they are this close to the active's high seqno
// (the takeover then waits for the last items with front-end writes refused).
constexpr uint64_t kTakeoverLag = 256;

bool Contains(const std::vector<std::string>& ids, const std::string& id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

// The nodes of `to` that `chain` lacks: those a move has to fill.
std::vector<std::string> NewNodes(const TopologyChain& chain, const TopologyChain& to) {
  std::vector<std::string> out;
  for (const auto& n : to) {
    if (n && !InChain(chain, *n)) out.push_back(*n);
  }
  return out;
}

// The members the rebalanced maps hold: active and pending_add ones, in the maps' order first.
std::vector<std::string> TargetNodes(const ClusterState& state) {
  auto wanted = [&](const std::string& id) {
    auto s = state.StatusOf(id);
    return s && (*s == MemberStatus::kActive || *s == MemberStatus::kPendingAdd);
  };
  std::vector<std::string> out;
  for (const auto& [bucket, b] : state.buckets) {
    if (!b.map) continue;
    for (const auto& node : b.map->nodes()) {
      if (wanted(node.id) && !Contains(out, node.id)) out.push_back(node.id);
    }
  }
  for (const auto& [id, status] : state.members) {
    if (wanted(id) && !Contains(out, id)) out.push_back(id);
  }
  return out;
}

std::vector<TopologyChain> ChainsOf(const ClusterMap& map) {
  std::vector<TopologyChain> out;
  for (size_t vb = 0; vb < map.num_vbuckets(); ++vb) out.push_back(map.ChainOf(Vbid(vb)));
  return out;
}

// `ids` as map nodes, at their registered addresses (else the map's); nullopt if one has neither.
std::optional<std::vector<ClusterNode>> NodeList(const std::vector<std::string>& ids,
                                                 const ClusterMap& map, const ClusterState& state) {
  std::vector<ClusterNode> out;
  for (const auto& id : ids) {
    if (auto reg = state.registrations.find(id); reg != state.registrations.end()) {
      out.push_back({id, reg->second.host, reg->second.port});
    } else if (const ClusterNode* node = map.FindNode(id)) {
      out.push_back(*node);
    } else {
      return std::nullopt;
    }
  }
  return out;
}

// The ids a map lists while moving: its own, then the target's it lacks.
std::vector<std::string> MovingIds(const ClusterMap& map, const std::vector<std::string>& target) {
  std::vector<std::string> out;
  for (const auto& node : map.nodes()) out.push_back(node.id);
  for (const auto& id : target) {
    if (!Contains(out, id)) out.push_back(id);
  }
  return out;
}

const VbucketSeqnos* Seen(const Probed& probed, const std::string& node, Vbid vb) {
  auto n = probed.find(node);
  if (n == probed.end()) return nullptr;
  auto it = n->second.find(vb);
  return it == n->second.end() ? nullptr : &it->second;
}

// Whether `node` holds vb's history of `source` up to `lag` items behind it.
bool CaughtUp(const Probed& probed, const std::string& node, const std::string& source, Vbid vb,
              uint64_t lag) {
  const VbucketSeqnos* s = Seen(probed, source, vb);
  const VbucketSeqnos* t = Seen(probed, node, vb);
  return s && t && s->uuid != 0 && t->uuid == s->uuid && t->high_seqno + lag >= s->high_seqno;
}

// One bucket's step: its chains and moves after it, and what happened.
struct BucketStep {
  std::vector<TopologyChain> chains;
  std::map<Vbid, VbucketMove> moves;
  int64_t done = 0;
  std::vector<Vbid> started, takeovers, switched;
  bool changed() const { return !started.empty() || !takeovers.empty() || !switched.empty(); }
};

// Advances the moves under way. A takeover finishes only once the source serves this map's
// revision (so its writes are refused) and the target has every seqno it has, in its history.
void AdvanceMoves(const ClusterMap& map, int64_t map_rev, const Probed& probed,
                  const std::map<std::string, int64_t>& revs, BucketStep* step) {
  for (const auto& [vb, move] : map.moves()) {
    const TopologyChain& chain = map.ChainOf(vb);
    const std::string& source = *chain[0];
    if (move.phase == Phase::kBackfill) {
      bool ready = true;
      for (const auto& n : NewNodes(chain, move.to)) {
        ready = ready && CaughtUp(probed, n, source, vb, kTakeoverLag);
      }
      if (!ready) continue;
      if (*move.to[0] == source) {  // the active stays: the new replicas are in place
        step->chains[vb] = move.to;
        step->moves.erase(vb);
        step->switched.push_back(vb);
      } else {
        step->moves[vb].phase = Phase::kTakeover;
        step->takeovers.push_back(vb);
      }
      continue;
    }
    auto rev = revs.find(source);
    if (rev == revs.end() || rev->second < map_rev) continue;  // the source may still take writes
    if (!CaughtUp(probed, *move.to[0], source, vb, 0)) continue;
    step->chains[vb] = move.to;
    step->moves.erase(vb);
    step->switched.push_back(vb);
  }
}

// Starts moves towards `target` while each node involved is in fewer than `limit` moves.
void StartMoves(const std::vector<TopologyChain>& target, int64_t limit, BucketStep* step) {
  std::map<std::string, int64_t> busy;
  auto involved = [&](const TopologyChain& chain, const TopologyChain& to) {
    std::set<std::string> ids{*chain[0], *to[0]};
    for (const auto& n : NewNodes(chain, to)) ids.insert(n);
    return ids;
  };
  for (const auto& [vb, move] : step->moves) {
    for (const auto& id : involved(step->chains[vb], move.to)) ++busy[id];
  }
  for (size_t i = 0; i < target.size(); ++i) {
    const auto vb = static_cast<Vbid>(i);
    if (step->chains[vb] == target[vb] || step->moves.count(vb) != 0) continue;
    if (*target[vb][0] == *step->chains[vb][0] && NewNodes(step->chains[vb], target[vb]).empty()) {
      step->chains[vb] = target[vb];  // only replicas leave (or change slots): nothing to copy
      step->switched.push_back(vb);
      continue;
    }
    const auto ids = involved(step->chains[vb], target[vb]);
    if (std::any_of(ids.begin(), ids.end(), [&](const auto& id) { return busy[id] >= limit; })) {
      continue;
    }
    for (const auto& id : ids) ++busy[id];
    step->moves[vb] = VbucketMove{.to = target[vb], .phase = Phase::kBackfill};
    step->started.push_back(vb);
  }
}

std::string VbList(const std::vector<Vbid>& vbs) {
  std::string out;
  for (Vbid vb : vbs) out += (out.empty() ? "" : ",") + std::to_string(vb);
  return out.empty() ? "none" : out;
}

}  // namespace

void Manager::RebalanceStep(const Leadership& term, const ClusterState& state) {
  if (!state.rebalance) return;
  std::string outcome;
  switch (state.rebalance->state) {
    case RebalanceStatus::State::kRequested:
      outcome = StartRebalance(term, state);
      break;
    case RebalanceStatus::State::kRunning:
      outcome = AdvanceRebalance(term, state);
      break;
    default:
      return;
  }
  if (!outcome.empty() && outcome != rebalance_logged_) {
    LOG_INFO("manager {}: rebalance: {}", options_.node_id, outcome);
  }
  rebalance_logged_ = outcome;
}

bool Manager::GracefulStep(const Leadership& term, const ClusterState& state,
                           const std::string& node) {
  TxnRequest txn;
  txn.compare.push_back(term.Guard());
  txn.compare.push_back(Compare::ModRevision(keys_.Member(node), CompareOp::kEqual,
                                             state.member_mod_revisions.at(node)));
  bool left = false;
  std::string summary;
  for (const auto& [bucket, b] : state.buckets) {
    if (!b.map) continue;
    const ClusterMap& map = *b.map;
    BucketStep step{.chains = ChainsOf(map), .moves = map.moves()};
    std::vector<TopologyChain> target = step.chains;  // its actives swapped with a live replica
    for (auto& chain : target) {
      if (*chain[0] != node) continue;
      for (size_t i = 1; i < chain.size(); ++i) {
        if (chain[i] && state.IsAlive(*chain[i])) {
          std::swap(chain[0], chain[i]);
          break;
        }
      }
    }
    std::map<std::string, int64_t> revs;
    AdvanceMoves(map, b.mod_revision, ProbeMoves(state, bucket, map, &revs), revs, &step);
    StartMoves(target, state.settings.rebalance_moves_per_node, &step);
    left = left || !step.moves.empty() || step.chains != target;
    moves_in_flight_ = moves_in_flight_ || !step.moves.empty();
    if (!step.changed()) continue;
    txn.compare.push_back(
        Compare::ModRevision(keys_.Map(bucket), CompareOp::kEqual, b.mod_revision));
    txn.success.push_back(
        TxnOp::Put(keys_.Map(bucket),
                   FormatMapValue(map.nodes(), map.num_replicas(), step.chains, step.moves)));
    summary += fmt::format(" bucket {}: started {}; takeover {}; moved {};", bucket,
                           VbList(step.started), VbList(step.takeovers), VbList(step.switched));
  }
  if (!txn.success.empty()) {
    auto written = client_->Txn(txn);
    if (written.ok() && written->succeeded) {
      LOG_INFO("manager {}: graceful failover of {}:{}", options_.node_id, node, summary);
      mirror_.WaitForRevision(written->revision,
                              std::chrono::steady_clock::now() + options_.poll * 10);
    }
    return false;  // look again at what was written
  }
  return !left;
}

std::string Manager::WriteRebalance(TxnRequest txn, const ClusterState& state) {
  txn.compare.push_back(
      Compare::ModRevision(keys_.Rebalance(), CompareOp::kEqual, state.rebalance_mod_revision));
  auto written = client_->Txn(txn);
  if (!written.ok()) return "etcd: " + written.status().ToString();
  {
    MutexLock lock(&mu_);
    if (!written->succeeded) {
      ++stats_.writes_refused;
      return "a write was refused (the term or the keys changed); looking again";
    }
    ++stats_.rebalance_writes;
  }
  // The next step reads what this one wrote (bounded: a lagging mirror only costs a refused txn).
  mirror_.WaitForRevision(written->revision, std::chrono::steady_clock::now() + options_.poll * 10);
  return "";
}

std::string Manager::FailRebalance(const Leadership& term, const ClusterState& state,
                                   const std::string& why) {
  TxnRequest txn;
  txn.compare.push_back(term.Guard());
  for (const auto& [bucket, b] : state.buckets) {  // lift every takeover: writes resume
    if (!b.map || b.map->moves().empty()) continue;
    txn.compare.push_back(
        Compare::ModRevision(keys_.Map(bucket), CompareOp::kEqual, b.mod_revision));
    txn.success.push_back(
        TxnOp::Put(keys_.Map(bucket),
                   FormatMapValue(b.map->nodes(), b.map->num_replicas(), ChainsOf(*b.map))));
  }
  RebalanceStatus failed = *state.rebalance;
  failed.state = RebalanceStatus::State::kFailed;
  failed.message = why;
  failed.target.clear();
  txn.success.push_back(TxnOp::Put(keys_.Rebalance(), FormatRebalance(failed)));
  const std::string error = WriteRebalance(std::move(txn), state);
  return error.empty() ? "failed: " + why : error;
}

std::string Manager::StartRebalance(const Leadership& term, const ClusterState& state) {
  const std::vector<std::string> nodes = TargetNodes(state);
  if (nodes.empty()) return FailRebalance(term, state, "no active or pending_add member");
  for (const auto& id : nodes) {
    if (!state.IsAlive(id)) return FailRebalance(term, state, id + " is not registered (down)");
  }
  RebalanceStatus running{.state = RebalanceStatus::State::kRunning, .nodes = nodes};
  TxnRequest txn;
  txn.compare.push_back(term.Guard());
  for (const auto& [bucket, b] : state.buckets) {
    if (!b.map) return FailRebalance(term, state, "bucket " + bucket + "'s map does not parse");
    const auto chains = ChainsOf(*b.map);
    auto target = PlanRebalance(chains, nodes, b.map->num_replicas());
    for (size_t vb = 0; vb < chains.size(); ++vb) running.moves_total += chains[vb] != target[vb];
    running.target[bucket] = std::move(target);
    txn.compare.push_back(
        Compare::ModRevision(keys_.Map(bucket), CompareOp::kEqual, b.mod_revision));
  }
  if (running.target.empty()) return FailRebalance(term, state, "the cluster has no map");
  txn.success.push_back(TxnOp::Put(keys_.Rebalance(), FormatRebalance(running)));
  const std::string error = WriteRebalance(std::move(txn), state);
  if (!error.empty()) return error;
  return fmt::format("planned over {}: {} vbuckets to move", fmt::join(nodes, ","),
                     running.moves_total);
}

Probed Manager::ProbeMoves(const ClusterState& state, const std::string& bucket,
                           const ClusterMap& map, std::map<std::string, int64_t>* revs) {
  std::map<std::string, std::vector<Vbid>> asks;
  std::set<std::string> takeover_sources;
  for (const auto& [vb, move] : map.moves()) {
    const TopologyChain& chain = map.ChainOf(vb);
    asks[*chain[0]].push_back(vb);
    std::vector<std::string> nodes = NewNodes(chain, move.to);
    // The new active may be one of the chain's replicas already (not a new node).
    if (*move.to[0] != *chain[0] && !Contains(nodes, *move.to[0])) nodes.push_back(*move.to[0]);
    for (const auto& n : nodes) asks[n].push_back(vb);
    if (move.phase == Phase::kTakeover) takeover_sources.insert(*chain[0]);
  }
  // The sources' revisions first: their seqnos, read after, are then those of refused writes.
  for (const auto& id : takeover_sources) {
    auto reg = state.registrations.find(id);
    if (reg == state.registrations.end()) continue;
    auto rev = probe_->ConfigRevision(reg->second, bucket);
    if (rev.ok()) (*revs)[id] = *rev;
  }
  Probed out;
  for (const auto& [id, vbs] : asks) {
    auto reg = state.registrations.find(id);
    if (reg == state.registrations.end()) continue;
    auto seqnos = probe_->Probe(reg->second, bucket, vbs);
    if (seqnos.ok()) out[id] = std::move(*seqnos);
  }
  return out;
}

std::string Manager::AdvanceRebalance(const Leadership& term, const ClusterState& state) {
  const RebalanceStatus& status = *state.rebalance;
  for (const auto& id : status.nodes) {
    auto s = state.StatusOf(id);
    if (!s || (*s != MemberStatus::kActive && *s != MemberStatus::kPendingAdd)) {
      return FailRebalance(term, state, id + " left the cluster during the rebalance");
    }
  }
  TxnRequest txn;
  txn.compare.push_back(term.Guard());
  RebalanceStatus next = status;
  bool all_done = true;
  std::string summary;
  for (const auto& [bucket, target] : status.target) {
    auto b = state.buckets.find(bucket);
    if (b == state.buckets.end() || !b->second.map ||
        b->second.map->num_vbuckets() != target.size()) {
      return FailRebalance(term, state, "bucket " + bucket + "'s map changed shape");
    }
    const ClusterMap& map = *b->second.map;
    BucketStep step{.chains = ChainsOf(map), .moves = map.moves()};
    std::map<std::string, int64_t> revs;
    const Probed probed = ProbeMoves(state, bucket, map, &revs);
    AdvanceMoves(map, b->second.mod_revision, probed, revs, &step);
    StartMoves(target, state.settings.rebalance_moves_per_node, &step);
    next.moves_done =
        std::min(next.moves_total, next.moves_done + static_cast<int64_t>(step.switched.size()));
    const bool bucket_done = step.moves.empty() && step.chains == target;
    all_done = all_done && bucket_done;
    txn.compare.push_back(
        Compare::ModRevision(keys_.Map(bucket), CompareOp::kEqual, b->second.mod_revision));
    // A bucket at its target is written by FinishRebalance (its last switches included).
    if (bucket_done || !step.changed()) continue;
    auto nodes = NodeList(MovingIds(map, status.nodes), map, state);
    if (!nodes) return FailRebalance(term, state, "a target node has no address");
    txn.success.push_back(TxnOp::Put(
        keys_.Map(bucket), FormatMapValue(*nodes, map.num_replicas(), step.chains, step.moves)));
    summary += fmt::format(" bucket {}: started {}; takeover {}; moved {};", bucket,
                           VbList(step.started), VbList(step.takeovers), VbList(step.switched));
  }
  if (all_done) return FinishRebalance(term, state);
  moves_in_flight_ = true;
  if (txn.success.empty()) return "";  // waiting on the nodes
  txn.success.push_back(TxnOp::Put(keys_.Rebalance(), FormatRebalance(next)));
  const std::string error = WriteRebalance(std::move(txn), state);
  if (!error.empty()) return error;
  return fmt::format("{}/{} moved;{}", next.moves_done, next.moves_total, summary);
}

std::string Manager::FinishRebalance(const Leadership& term, const ClusterState& state) {
  const RebalanceStatus& status = *state.rebalance;
  TxnRequest txn;
  txn.compare.push_back(term.Guard());
  for (const auto& [bucket, target] : status.target) {
    const BucketMapState& b = state.buckets.at(bucket);
    auto nodes = NodeList(status.nodes, *b.map, state);
    if (!nodes) return FailRebalance(term, state, "a target node has no address");
    txn.compare.push_back(
        Compare::ModRevision(keys_.Map(bucket), CompareOp::kEqual, b.mod_revision));
    txn.success.push_back(
        TxnOp::Put(keys_.Map(bucket), FormatMapValue(*nodes, b.map->num_replicas(), target)));
  }
  for (const auto& [id, s] : state.members) {
    if (s != MemberStatus::kPendingAdd && s != MemberStatus::kPendingRemove) continue;
    txn.compare.push_back(Compare::ModRevision(keys_.Member(id), CompareOp::kEqual,
                                               state.member_mod_revisions.at(id)));
    if (s == MemberStatus::kPendingAdd) {
      txn.success.push_back(TxnOp::Put(keys_.Member(id), FormatMember(MemberStatus::kActive)));
    } else if (!Contains(status.nodes, id)) {
      txn.success.push_back(TxnOp::Delete(keys_.Member(id)));
    }
  }
  RebalanceStatus done = status;
  done.state = RebalanceStatus::State::kDone;
  done.moves_done = done.moves_total;
  done.target.clear();
  txn.success.push_back(TxnOp::Put(keys_.Rebalance(), FormatRebalance(done)));
  const std::string error = WriteRebalance(std::move(txn), state);
  if (!error.empty()) return error;
  return fmt::format("done: {} vbuckets moved; members {}", done.moves_total,
                     fmt::join(status.nodes, ","));
}

}  // namespace sluice::cluster
