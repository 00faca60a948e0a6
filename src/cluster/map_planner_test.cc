// The manager's map arithmetic: initial map, failover with replica selection by seqnos, refill,
// the majority rule.
#include "cluster/map_planner.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "cluster/seqno_probe.h"

namespace sluice::cluster {
namespace {

using Chains = std::vector<TopologyChain>;

TopologyChain C(std::initializer_list<const char*> ids) {
  TopologyChain chain;
  for (const char* id : ids) {
    chain.push_back(id ? TopologyNode(id) : std::nullopt);
  }
  return chain;
}

std::map<std::string, size_t> CountSlots(const Chains& chains, bool actives) {
  std::map<std::string, size_t> counts;
  for (const auto& chain : chains) {
    for (size_t i = actives ? 0 : 1; i < (actives ? 1 : chain.size()); ++i) {
      if (chain[i]) ++counts[*chain[i]];
    }
  }
  return counts;
}

void ExpectNoNodeTwice(const Chains& chains) {
  for (const auto& chain : chains) {
    std::set<std::string> seen;
    for (const auto& n : chain) {
      if (n) EXPECT_TRUE(seen.insert(*n).second) << *n << " twice in a chain";
    }
  }
}

void ExpectBalanced(const std::map<std::string, size_t>& counts, size_t nodes) {
  ASSERT_EQ(counts.size(), nodes);
  size_t lo = SIZE_MAX, hi = 0;
  for (const auto& [id, n] : counts) {
    lo = std::min(lo, n);
    hi = std::max(hi, n);
  }
  EXPECT_LE(hi - lo, 1u);
}

TEST(MapPlannerTest, InitialMapIsBalancedAndNeverReplicatesOnTheActive) {
  const Chains chains = PlanInitialMap({"a", "b", "c", "d"}, 2, 64);
  ASSERT_EQ(chains.size(), 64u);
  for (const auto& chain : chains) {
    ASSERT_EQ(chain.size(), 3u);
    for (const auto& n : chain) EXPECT_TRUE(n.has_value());
  }
  ExpectNoNodeTwice(chains);
  ExpectBalanced(CountSlots(chains, true), 4);
  ExpectBalanced(CountSlots(chains, false), 4);
}

TEST(MapPlannerTest, InitialMapLeavesSlotsEmptyWithTooFewNodes) {
  const Chains chains = PlanInitialMap({"a", "b"}, 2, 4);
  for (const auto& chain : chains) {
    EXPECT_TRUE(chain[1].has_value());
    EXPECT_FALSE(chain[2].has_value());
  }
}

TEST(MapPlannerTest, FailoverPromotesTheReplicaWithTheHighestHighPreparedSeqno) {
  const Chains chains = {C({"a", "b", "c"}), C({"b", "a", "c"}), C({"c", "a", "b"})};
  SeqnoReport seqnos;
  seqnos["b"][0] = {.high_prepared_seqno = 10, .high_seqno = 50};
  seqnos["c"][0] = {.high_prepared_seqno = 12, .high_seqno = 40};
  auto plan = PlanFailover(chains, "a", {"b", "c"}, seqnos);
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  ASSERT_EQ(plan->promotions.size(), 1u);
  EXPECT_EQ(plan->promotions[0], (Promotion{.vbucket = 0, .to = "c"}));
  EXPECT_EQ(plan->chains[0], C({"c", "b", nullptr}));
  // a leaves the other chains; no room is left to refill (both remaining nodes are in each).
  EXPECT_EQ(plan->chains[1], C({"b", "c", nullptr}));
  EXPECT_EQ(plan->chains[2], C({"c", "b", nullptr}));
  EXPECT_EQ(plan->replicas_added, 0u);
  EXPECT_FALSE(plan->LosesData());
}

TEST(MapPlannerTest, FailoverBreaksATieOnHighSeqno) {
  const Chains chains = {C({"a", "b", "c"})};
  SeqnoReport seqnos;
  seqnos["b"][0] = {.high_prepared_seqno = 7, .high_seqno = 30};
  seqnos["c"][0] = {.high_prepared_seqno = 7, .high_seqno = 31};
  auto plan = PlanFailover(chains, "a", {"b", "c"}, seqnos);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->promotions[0].to, "c");
}

TEST(MapPlannerTest, FailoverPrefersAReplicaThatReportedElseChainOrder) {
  const Chains chains = {C({"a", "b", "c"}), C({"a", "c", "b"})};
  SeqnoReport seqnos;
  seqnos["c"][0] = {.high_prepared_seqno = 0, .high_seqno = 0};
  auto plan = PlanFailover(chains, "a", {"b", "c"}, seqnos);
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->promotions[0].to, "c");  // b reported nothing for vb 0
  EXPECT_EQ(plan->promotions[1].to, "c");  // nobody reported for vb 1: first replica
}

TEST(MapPlannerTest, FailoverRefillsFreedSlotsBalanced) {
  // 4 nodes, 1 replica: d fails; its replica slots and the promoted replicas' slots refill.
  const Chains chains = PlanInitialMap({"a", "b", "c", "d"}, 1, 64);
  auto plan = PlanFailover(chains, "d", {"a", "b", "c"}, {});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->promotions.size(), 16u);
  EXPECT_GT(plan->replicas_added, 0u);
  for (const auto& chain : plan->chains) {
    for (const auto& n : chain) EXPECT_NE(n, TopologyNode("d"));
    ASSERT_TRUE(chain[1].has_value()) << "every slot refilled: there is room";
  }
  ExpectNoNodeTwice(plan->chains);
  ExpectBalanced(CountSlots(plan->chains, false), 3);
}

TEST(MapPlannerTest, FailoverOfAReplicaOnlyNodeKeepsActives) {
  const Chains chains = {C({"a", "b"}), C({"a", "c"})};
  auto plan = PlanFailover(chains, "b", {"a", "c"}, {});
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->promotions.empty());
  EXPECT_EQ(plan->chains[0], C({"a", "c"}));
  EXPECT_EQ(plan->chains[1], C({"a", "c"}));
}

TEST(MapPlannerTest, AVbucketWithoutReplicaIsLostToTheLeastLoadedNode) {
  const Chains chains = {C({"a", nullptr}), C({"b", "a"}), C({"c", "b"})};
  auto plan = PlanFailover(chains, "a", {"b", "c"}, {});
  ASSERT_TRUE(plan.ok());
  EXPECT_TRUE(plan->LosesData());
  ASSERT_EQ(plan->promotions.size(), 1u);
  EXPECT_TRUE(plan->promotions[0].lost);
  // b holds vb 1's active, c vb 2's: a tie, the first listed wins.
  EXPECT_EQ(plan->promotions[0].to, "b");
  EXPECT_EQ(plan->chains[0], C({"b", "c"}));
}

TEST(MapPlannerTest, FailoverRefusesToLeaveNoNode) {
  EXPECT_EQ(PlanFailover({C({"a"})}, "a", {}, {}).status().code(), Errc::kInvalid);
  EXPECT_EQ(PlanFailover({C({"a", "b"})}, "a", {"a", "b"}, {}).status().code(), Errc::kInvalid);
}

TEST(MapPlannerTest, NeverIntoAMinority) {
  EXPECT_TRUE(LeavesMajority(3, 2));   // one of three down
  EXPECT_FALSE(LeavesMajority(3, 1));  // two of three down: maybe we are the minority
  EXPECT_FALSE(LeavesMajority(2, 1));
  EXPECT_TRUE(LeavesMajority(5, 3));
  EXPECT_FALSE(LeavesMajority(4, 2));
}

TEST(SeqnoProbeTest, SeqnosFromTheVbucketSeqnoStatsGroup) {
  const std::vector<std::pair<std::string, std::string>> stats = {
      {"vb_0:high_seqno", "17"},
      {"vb_0:high_prepared_seqno", "12"},
      {"vb_0:uuid", "99"},
      {"vb_3:high_seqno", "5"},
      {"vb_3:high_prepared_seqno", "5"},
      {"vb_4:high_seqno", "x"},
      {"vb_4:high_prepared_seqno", "1"},
      {"vb_5:high_seqno", "1"}};
  const auto seqnos = SeqnosFromVbucketSeqnoStats(stats, {0, 3, 4, 5, 6});
  ASSERT_EQ(seqnos.size(), 2u);  // 4: not a number; 5: no high_prepared_seqno; 6: absent
  EXPECT_EQ(seqnos.at(0), (VbucketSeqnos{.high_prepared_seqno = 12, .high_seqno = 17}));
  EXPECT_EQ(seqnos.at(3), (VbucketSeqnos{.high_prepared_seqno = 5, .high_seqno = 5}));
}

}  // namespace
}  // namespace sluice::cluster
