#include "cluster/map_planner.h"

#include <algorithm>

#include "cluster/vbucket_layout.h"

namespace sluice::cluster {
namespace {

// Whether replica `a` should be promoted before `b` for `vb` (higher high prepared seqno, then
// higher high seqno; a replica that reported ranks above one that did not; else chain order).
bool Better(const std::string& a, const std::string& b, Vbid vb, const SeqnoReport& seqnos) {
  auto find = [&](const std::string& id) -> std::optional<VbucketSeqnos> {
    auto node = seqnos.find(id);
    if (node == seqnos.end()) return std::nullopt;
    auto it = node->second.find(vb);
    if (it == node->second.end()) return std::nullopt;
    return it->second;
  };
  const auto sa = find(a);
  const auto sb = find(b);
  if (!sa || !sb) return sa.has_value() && !sb.has_value();
  if (sa->high_prepared_seqno != sb->high_prepared_seqno) {
    return sa->high_prepared_seqno > sb->high_prepared_seqno;
  }
  return sa->high_seqno > sb->high_seqno;
}

// The chain without `failed` and nodes not in `remaining`: its active (a replica promoted if the
// active leaves), then
// its surviving replicas in order, then empty slots up to the chain's length.
TopologyChain Survivors(const TopologyChain& chain, const std::string& failed,
                        const std::vector<std::string>& remaining, Vbid vb,
                        const SeqnoReport& seqnos, std::optional<Promotion>* promotion) {
  auto stays = [&](const TopologyNode& n) {
    return n && *n != failed &&
           std::find(remaining.begin(), remaining.end(), *n) != remaining.end();
  };
  std::vector<std::string> replicas;
  for (size_t i = 1; i < chain.size(); ++i) {
    if (stays(chain[i])) replicas.push_back(*chain[i]);
  }
  TopologyChain out;
  if (chain.empty() || !stays(chain[0])) {
    if (!replicas.empty()) {
      auto best = replicas.begin();
      for (auto it = replicas.begin() + 1; it != replicas.end(); ++it) {
        if (Better(*it, *best, vb, seqnos)) best = it;
      }
      *promotion = Promotion{.vbucket = vb, .to = *best};
      out.emplace_back(*best);
      replicas.erase(best);
    } else {
      out.emplace_back(std::nullopt);  // chosen later: PlaceLost
      *promotion = Promotion{.vbucket = vb, .lost = true};
    }
  } else {
    out.push_back(chain[0]);
  }
  for (auto& r : replicas) out.emplace_back(std::move(r));
  while (out.size() < std::max<size_t>(chain.size(), 1)) out.emplace_back(std::nullopt);
  return out;
}

size_t IndexOf(const std::vector<std::string>& ids, const std::string& id) {
  return static_cast<size_t>(std::find(ids.begin(), ids.end(), id) - ids.begin());
}

// Gives each lost vbucket (null active) to the remaining node with the fewest actives.
void PlaceLost(const std::vector<std::string>& remaining, FailoverPlan* plan) {
  std::vector<size_t> actives(remaining.size(), 0);
  for (const auto& chain : plan->chains) {
    if (chain[0]) ++actives[IndexOf(remaining, *chain[0])];
  }
  for (auto& promotion : plan->promotions) {
    if (!promotion.lost) continue;
    TopologyChain& chain = plan->chains[promotion.vbucket];
    size_t best = remaining.size();
    for (size_t n = 0; n < remaining.size(); ++n) {
      if (InChain(chain, remaining[n])) continue;
      if (best == remaining.size() || actives[n] < actives[best]) best = n;
    }
    // Every remaining node is a replica of it only if replicas survived (then it is not lost).
    ++actives[best];
    chain[0] = remaining[best];
    promotion.to = remaining[best];
  }
}

// Fills empty replica slots, vbucket by vbucket, with the node not in the chain that holds the
// fewest replicas (ties: the first listed after the active).
size_t Refill(const std::vector<std::string>& remaining, std::vector<TopologyChain>* chains) {
  const size_t n = remaining.size();
  std::vector<size_t> replicas(n, 0);
  for (const auto& chain : *chains) {
    for (size_t i = 1; i < chain.size(); ++i) {
      if (chain[i]) ++replicas[IndexOf(remaining, *chain[i])];
    }
  }
  size_t added = 0;
  for (auto& chain : *chains) {
    const size_t active = IndexOf(remaining, *chain[0]);
    for (size_t slot = 1; slot < chain.size(); ++slot) {
      if (chain[slot]) continue;
      size_t best = n;
      for (size_t offset = 1; offset < n; ++offset) {
        const size_t c = (active + offset) % n;
        if (InChain(chain, remaining[c])) continue;
        if (best == n || replicas[c] < replicas[best]) best = c;
      }
      if (best == n) break;  // no room: every remaining node is in the chain
      chain[slot] = remaining[best];
      ++replicas[best];
      ++added;
    }
  }
  return added;
}

// Each node's share of `total` items: total / n, one more for the first total % n nodes in
// descending order of `have` (ties: the nodes' order), so that nodes holding more keep more.
std::vector<size_t> Shares(size_t total, const std::vector<size_t>& have) {
  const size_t n = have.size();
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return have[a] > have[b]; });
  std::vector<size_t> share(n, total / n);
  for (size_t i = 0; i < total % n; ++i) ++share[order[i]];
  return share;
}

constexpr size_t kNone = static_cast<size_t>(-1);

// Index of `node` in `nodes`, or kNone (null, or not a target node).
size_t Find(const std::vector<std::string>& nodes, const TopologyNode& node) {
  if (!node) return kNone;
  const size_t i = IndexOf(nodes, *node);
  return i == nodes.size() ? kNone : i;
}

// The new active of each vbucket (an index into `nodes`).
std::vector<size_t> PlanActives(const std::vector<TopologyChain>& chains,
                                const std::vector<std::string>& nodes) {
  const size_t n = nodes.size();
  std::vector<size_t> have(n, 0);
  for (const auto& chain : chains) {
    if (size_t a = Find(nodes, chain[0]); a != kNone) ++have[a];
  }
  const std::vector<size_t> share = Shares(chains.size(), have);
  std::vector<size_t> count(n, 0);
  std::vector<size_t> active(chains.size(), kNone);
  for (size_t vb = 0; vb < chains.size(); ++vb) {  // keep what fits the share
    const size_t a = Find(nodes, chains[vb][0]);
    if (a != kNone && count[a] < share[a]) active[vb] = a, ++count[a];
  }
  // First to a node that holds a replica (the data are there), then to any node with room; each
  // time the one with the most room.
  for (bool need_data : {true, false}) {
    for (size_t vb = 0; vb < chains.size(); ++vb) {
      if (active[vb] != kNone) continue;
      size_t best = kNone;
      for (size_t c = 0; c < n; ++c) {
        if (count[c] >= share[c] || (need_data && !InChain(chains[vb], nodes[c]))) continue;
        if (best == kNone || share[c] - count[c] > share[best] - count[best]) best = c;
      }
      if (best != kNone) active[vb] = best, ++count[best];
    }
  }
  return active;
}

// Moves replica slots from nodes over their share to nodes under it, where the chain allows.
void EvenReplicas(const std::vector<std::string>& nodes, const std::vector<size_t>& share,
                  std::vector<size_t>* count, std::vector<TopologyChain>* out) {
  for (size_t over = 0; over < nodes.size(); ++over) {
    for (size_t under = 0; under < nodes.size() && (*count)[over] > share[over]; ++under) {
      for (auto& chain : *out) {
        if ((*count)[over] <= share[over] || (*count)[under] >= share[under]) break;
        if (InChain(chain, nodes[under])) continue;
        for (size_t slot = 1; slot < chain.size(); ++slot) {
          if (chain[slot] && *chain[slot] == nodes[over]) {
            chain[slot] = nodes[under];
            --(*count)[over], ++(*count)[under];
            break;
          }
        }
      }
    }
  }
}

}  // namespace

std::vector<TopologyChain> PlanRebalance(const std::vector<TopologyChain>& chains,
                                         const std::vector<std::string>& nodes,
                                         size_t num_replicas) {
  const size_t n = nodes.size();
  const size_t width = std::min(num_replicas, n - 1);  // replicas a chain can hold
  const std::vector<size_t> active = PlanActives(chains, nodes);
  std::vector<size_t> have(n, 0);
  for (const auto& chain : chains) {
    for (size_t i = 1; i < chain.size(); ++i) {
      if (size_t r = Find(nodes, chain[i]); r != kNone) ++have[r];
    }
  }
  const std::vector<size_t> share = Shares(chains.size() * width, have);
  std::vector<size_t> count(n, 0);
  std::vector<TopologyChain> out(chains.size(), TopologyChain(num_replicas + 1));
  for (size_t vb = 0; vb < chains.size(); ++vb) {
    TopologyChain& chain = out[vb];
    chain[0] = nodes[active[vb]];
    auto take = [&](size_t slot, size_t r) { chain[slot] = nodes[r], ++count[r]; };
    // Keep the replicas that stay, in their slots; then the old active (it has the data).
    for (size_t slot = 1; slot <= width && slot < chains[vb].size(); ++slot) {
      const size_t r = Find(nodes, chains[vb][slot]);
      if (r != kNone && r != active[vb] && count[r] < share[r]) take(slot, r);
    }
    for (size_t slot = 1; slot <= width; ++slot) {
      if (chain[slot]) continue;
      const size_t old = Find(nodes, chains[vb][0]);
      size_t best = kNone;
      if (old != kNone && !InChain(chain, nodes[old]) && count[old] < share[old]) best = old;
      auto room = [&](size_t c) { return share[c] - std::min(share[c], count[c]); };
      for (size_t k = 1; best == kNone || k < n; ++k) {  // the most room, from the active on
        if (k >= n) break;
        const size_t c = (active[vb] + k) % n;
        if (InChain(chain, nodes[c])) continue;
        if (best == kNone || room(c) > room(best) ||
            (room(c) == room(best) && count[c] < count[best])) {
          best = c;
        }
      }
      take(slot, best);
    }
  }
  EvenReplicas(nodes, share, &count, &out);
  return out;
}

std::vector<TopologyChain> PlanInitialMap(const std::vector<std::string>& node_ids,
                                          size_t num_replicas, size_t num_vbuckets) {
  return ComputeLayout(node_ids, num_replicas, num_vbuckets);
}

bool FailoverPlan::LosesData() const {
  return std::any_of(promotions.begin(), promotions.end(), [](const auto& p) { return p.lost; });
}

StatusOr<FailoverPlan> PlanFailover(const std::vector<TopologyChain>& chains,
                                    const std::string& failed,
                                    const std::vector<std::string>& remaining,
                                    const SeqnoReport& seqnos) {
  if (remaining.empty()) {
    return Status(Errc::kInvalid, "failing over " + failed + " would leave no node");
  }
  if (std::find(remaining.begin(), remaining.end(), failed) != remaining.end()) {
    return Status(Errc::kInvalid, failed + " cannot both fail over and remain");
  }
  FailoverPlan plan;
  plan.chains.reserve(chains.size());
  for (size_t vb = 0; vb < chains.size(); ++vb) {
    std::optional<Promotion> promotion;
    plan.chains.push_back(
        Survivors(chains[vb], failed, remaining, static_cast<Vbid>(vb), seqnos, &promotion));
    if (promotion) plan.promotions.push_back(std::move(*promotion));
  }
  PlaceLost(remaining, &plan);
  plan.replicas_added = Refill(remaining, &plan.chains);
  return plan;
}

RejoinPlan PlanRejoin(const std::vector<TopologyChain>& chains, const std::string& node,
                      size_t num_replicas) {
  RejoinPlan plan{.chains = chains};
  for (size_t vb = 0; vb < plan.chains.size(); ++vb) {
    TopologyChain& chain = plan.chains[vb];
    if (chain.empty() || InChain(chain, node)) continue;
    auto empty = std::find(chain.begin() + 1, chain.end(), std::nullopt);
    if (empty != chain.end()) {
      *empty = node;
    } else if (chain.size() < num_replicas + 1) {
      chain.emplace_back(node);
    } else {
      continue;
    }
    plan.replica_of.push_back(static_cast<Vbid>(vb));
  }
  return plan;
}

}  // namespace sluice::cluster
