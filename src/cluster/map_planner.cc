#include "cluster/map_planner.h"

#include <algorithm>

#include "cluster/vbucket_layout.h"

namespace sluice::cluster {
namespace {

bool InChain(const TopologyChain& chain, const std::string& id) {
  return std::any_of(chain.begin(), chain.end(), [&](const auto& n) { return n && *n == id; });
}

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

}  // namespace

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

}  // namespace sluice::cluster
