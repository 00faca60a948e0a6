#include "cluster/vbucket_layout.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

namespace sluice::cluster {
namespace {

std::vector<std::string> Ids(size_t n) {
  std::vector<std::string> ids;
  for (size_t i = 0; i < n; ++i) ids.push_back("node-" + std::to_string(i));
  return ids;
}

// max - min of the counts (0 if every node holds the same number).
size_t Spread(const std::map<std::string, size_t>& counts, const std::vector<std::string>& ids) {
  size_t lo = SIZE_MAX, hi = 0;
  for (const auto& id : ids) {
    auto it = counts.find(id);
    const size_t c = it == counts.end() ? 0 : it->second;
    lo = std::min(lo, c);
    hi = std::max(hi, c);
  }
  return hi - lo;
}

TEST(VBucketLayoutTest, BalancedAndNeverReplicaOfItself) {
  for (size_t nodes = 1; nodes <= 6; ++nodes) {
    for (size_t replicas = 0; replicas <= 3; ++replicas) {
      for (size_t vbuckets : {1u, 7u, 8u, 64u, 1024u}) {
        SCOPED_TRACE(testing::Message() << nodes << " nodes, " << replicas << " replicas, "
                                        << vbuckets << " vbuckets");
        const auto ids = Ids(nodes);
        const auto chains = ComputeLayout(ids, replicas, vbuckets);
        ASSERT_EQ(chains.size(), vbuckets);
        std::map<std::string, size_t> actives;
        std::vector<std::map<std::string, size_t>> per_slot(replicas);
        for (const auto& chain : chains) {
          ASSERT_EQ(chain.size(), replicas + 1);
          ASSERT_TRUE(chain[0].has_value());
          ++actives[*chain[0]];
          std::set<std::string> seen;
          size_t filled = 0;
          for (size_t r = 0; r < chain.size(); ++r) {
            if (!chain[r]) continue;
            ++filled;
            EXPECT_TRUE(seen.insert(*chain[r]).second) << "a node twice in one chain";
            if (r > 0) ++per_slot[r - 1][*chain[r]];
          }
          // Every slot that can be filled is: min(replicas, nodes - 1) replicas.
          EXPECT_EQ(filled, 1 + std::min(replicas, nodes - 1));
        }
        EXPECT_LE(Spread(actives, ids), 1u);
        std::map<std::string, size_t> all_replicas;
        for (const auto& slot : per_slot) {
          for (const auto& [id, n] : slot) all_replicas[id] += n;
        }
        if (replicas > 0 && nodes > 1 && vbuckets >= nodes) {
          EXPECT_LE(Spread(all_replicas, ids), 1u);
        }
      }
    }
  }
}

TEST(VBucketLayoutTest, DeterministicAndSpreadsAFailedNodesReplicas) {
  const auto ids = Ids(4);
  EXPECT_EQ(ComputeLayout(ids, 2, 256), ComputeLayout(ids, 2, 256));
  // The replicas of node-0's vbuckets are spread over the three others.
  std::map<std::string, size_t> of_node0;
  for (const auto& chain : ComputeLayout(ids, 1, 1024)) {
    if (*chain[0] == "node-0") ++of_node0[*chain[1]];
  }
  ASSERT_EQ(of_node0.size(), 3u);
  for (const auto& [id, n] : of_node0) EXPECT_NEAR(static_cast<double>(n), 256.0 / 3, 1.0) << id;
}

TEST(VBucketLayoutTest, TwoNodesOneReplicaMirror) {
  const auto chains = ComputeLayout({"a", "b"}, 1, 4);
  EXPECT_EQ(chains, (std::vector<TopologyChain>{{"a", "b"}, {"b", "a"}, {"a", "b"}, {"b", "a"}}));
  const auto alone = ComputeLayout({"a"}, 2, 2);
  EXPECT_EQ(alone, (std::vector<TopologyChain>{{"a", std::nullopt, std::nullopt},
                                               {"a", std::nullopt, std::nullopt}}));
}

}  // namespace
}  // namespace sluice::cluster
