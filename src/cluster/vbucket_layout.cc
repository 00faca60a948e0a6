#include "cluster/vbucket_layout.h"

#include <algorithm>
#include <limits>

namespace sluice::cluster {
namespace {

// Chooses the next replica of a chain whose active is node `active` (see the header's rules);
// `in_chain[n]` marks nodes already in the chain. Returns n, or npos when none is left.
size_t PickReplica(size_t active, const std::vector<bool>& in_chain,
                   const std::vector<size_t>& replicas,
                   const std::vector<std::vector<size_t>>& pairs) {
  const size_t n = replicas.size();
  size_t best = std::numeric_limits<size_t>::max();
  for (size_t offset = 1; offset < n; ++offset) {
    const size_t candidate = (active + offset) % n;
    if (in_chain[candidate]) continue;
    if (best == std::numeric_limits<size_t>::max() || replicas[candidate] < replicas[best] ||
        (replicas[candidate] == replicas[best] && pairs[active][candidate] < pairs[active][best])) {
      best = candidate;
    }
  }
  return best;
}

}  // namespace

std::vector<TopologyChain> ComputeLayout(const std::vector<std::string>& node_ids,
                                         size_t num_replicas, size_t num_vbuckets) {
  const size_t n = node_ids.size();
  std::vector<size_t> replicas(n, 0);                                    // replicas held per node
  std::vector<std::vector<size_t>> pairs(n, std::vector<size_t>(n, 0));  // [active][replica]
  std::vector<TopologyChain> chains;
  chains.reserve(num_vbuckets);
  for (size_t vb = 0; vb < num_vbuckets; ++vb) {
    const size_t active = vb % n;
    std::vector<bool> in_chain(n, false);
    in_chain[active] = true;
    TopologyChain chain{node_ids[active]};
    for (size_t r = 0; r < num_replicas; ++r) {
      const size_t pick = PickReplica(active, in_chain, replicas, pairs);
      if (pick == std::numeric_limits<size_t>::max()) {
        chain.emplace_back(std::nullopt);
        continue;
      }
      in_chain[pick] = true;
      ++replicas[pick];
      ++pairs[active][pick];
      chain.emplace_back(node_ids[pick]);
    }
    chains.push_back(std::move(chain));
  }
  return chains;
}

}  // namespace sluice::cluster
