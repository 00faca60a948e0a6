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
  EXPECT_EQ(seqnos.at(0), (VbucketSeqnos{.high_prepared_seqno = 12, .high_seqno = 17, .uuid = 99}));
  EXPECT_EQ(seqnos.at(3), (VbucketSeqnos{.high_prepared_seqno = 5, .high_seqno = 5}));
}

// How many vbuckets change their active, and how many chains change at all.
size_t ActivesMoved(const Chains& from, const Chains& to) {
  size_t n = 0;
  for (size_t vb = 0; vb < from.size(); ++vb) n += from[vb][0] != to[vb][0] ? 1 : 0;
  return n;
}

void ExpectRebalanced(const Chains& chains, const std::vector<std::string>& nodes,
                      size_t replicas) {
  ExpectNoNodeTwice(chains);
  ExpectBalanced(CountSlots(chains, true), nodes.size());
  if (replicas > 0 && nodes.size() > 1) ExpectBalanced(CountSlots(chains, false), nodes.size());
  for (const auto& chain : chains) {
    ASSERT_EQ(chain.size(), replicas + 1);
    for (size_t i = 0; i < chain.size(); ++i) {
      if (i <= std::min(replicas, nodes.size() - 1)) {
        ASSERT_TRUE(chain[i].has_value());
        EXPECT_NE(std::find(nodes.begin(), nodes.end(), *chain[i]), nodes.end()) << *chain[i];
      } else {
        EXPECT_FALSE(chain[i].has_value());
      }
    }
  }
}

TEST(MapPlannerTest, RebalanceOfABalancedMapChangesNothing) {
  for (size_t replicas : {0, 1, 2}) {
    const Chains chains = PlanInitialMap({"a", "b", "c"}, replicas, 16);
    EXPECT_EQ(PlanRebalance(chains, {"a", "b", "c"}, replicas), chains) << replicas;
  }
}

TEST(MapPlannerTest, AddingANodeMovesOnlyItsShare) {
  const Chains before = PlanInitialMap({"a", "b"}, 1, 16);
  const Chains after = PlanRebalance(before, {"a", "b", "c"}, 1);
  ExpectRebalanced(after, {"a", "b", "c"}, 1);
  // c's 5 actives are the only actives that move (16 = 6 + 5 + 5).
  EXPECT_EQ(CountSlots(after, true)["c"], 5u);
  EXPECT_EQ(ActivesMoved(before, after), 5u);
  // An active that stays keeps its replica unless that replica's node is over its share.
  size_t replicas_kept = 0;
  for (size_t vb = 0; vb < 16; ++vb) replicas_kept += before[vb][1] == after[vb][1] ? 1 : 0;
  EXPECT_GE(replicas_kept, 5u);
}

TEST(MapPlannerTest, AddingANodeWithTwoReplicasAndManyVbuckets) {
  const Chains before = PlanInitialMap({"a", "b", "c"}, 2, 1024);
  const Chains after = PlanRebalance(before, {"a", "b", "c", "d"}, 2);
  ExpectRebalanced(after, {"a", "b", "c", "d"}, 2);
  EXPECT_EQ(ActivesMoved(before, after), 256u);  // exactly d's share
}

TEST(MapPlannerTest, RemovingANodeEmptiesItAndPromotesItsReplicas) {
  const Chains before = PlanInitialMap({"a", "b", "c"}, 1, 16);
  const Chains after = PlanRebalance(before, {"a", "b"}, 1);
  ExpectRebalanced(after, {"a", "b"}, 1);
  size_t to_replica = 0;
  for (size_t vb = 0; vb < 16; ++vb) {
    for (const auto& n : after[vb]) EXPECT_NE(n, TopologyNode("c"));
    // Only c's actives move, to the node holding their replica where that node has room.
    if (before[vb][0] != TopologyNode("c")) EXPECT_EQ(after[vb][0], before[vb][0]) << vb;
    if (before[vb][0] == TopologyNode("c")) to_replica += after[vb][0] == before[vb][1];
  }
  EXPECT_EQ(ActivesMoved(before, after), CountSlots(before, true)["c"]);
  // a and b need 8 - (their actives) more each; c's replicas sit where the layout put them.
  const size_t c_on_a = [&] {
    size_t n = 0;
    for (const auto& chain : before)
      n += chain[0] == TopologyNode("c") && chain[1] == TopologyNode("a");
    return n;
  }();
  const size_t a_needs = 8 - CountSlots(before, true)["a"];
  const size_t b_needs = 8 - CountSlots(before, true)["b"];
  const size_t c_on_b = CountSlots(before, true)["c"] - c_on_a;
  EXPECT_EQ(to_replica, std::min(c_on_a, a_needs) + std::min(c_on_b, b_needs));
}

TEST(MapPlannerTest, RebalanceDownToOneNodeLeavesReplicaSlotsEmpty) {
  const Chains before = PlanInitialMap({"a", "b"}, 1, 8);
  const Chains after = PlanRebalance(before, {"a"}, 1);
  ExpectRebalanced(after, {"a"}, 1);
}

TEST(MapPlannerTest, RebalanceAfterAFailoverRefillsAndEvens) {
  const Chains initial = PlanInitialMap({"a", "b", "c"}, 1, 16);
  auto failover = PlanFailover(initial, "c", {"a", "b"}, {});
  ASSERT_TRUE(failover.ok());
  const Chains after = PlanRebalance(failover->chains, {"a", "b", "c"}, 1);
  ExpectRebalanced(after, {"a", "b", "c"}, 1);
}

// A node back after an automatic failover fills the replica slots its failover left empty, as a
// replica only: actives and the other replicas stay where they are.
TEST(MapPlannerTest, RejoinFillsTheShortChainsAsAReplica) {
  // a, b, c with two replicas; a was failed over: every chain is one replica short.
  const Chains before = PlanInitialMap({"a", "b", "c"}, 2, 8);
  auto failover = PlanFailover(before, "a", {"b", "c"}, {});
  ASSERT_TRUE(failover.ok());
  EXPECT_EQ(failover->replicas_added, 0u);  // no room on b and c
  const RejoinPlan plan = PlanRejoin(failover->chains, "a", 2);
  ASSERT_EQ(plan.replica_of.size(), 8u);
  for (size_t vb = 0; vb < 8; ++vb) {
    const TopologyChain& chain = plan.chains[vb];
    ASSERT_EQ(chain.size(), 3u);
    EXPECT_EQ(chain[0], failover->chains[vb][0]) << vb;
    EXPECT_EQ(chain[1], failover->chains[vb][1]) << vb;
    EXPECT_EQ(chain[2], TopologyNode("a")) << vb;
  }
  ExpectNoNodeTwice(plan.chains);
}

TEST(MapPlannerTest, RejoinTakesNothingWhereChainsAreFull) {
  const Chains chains = {C({"b", "c"}), C({"c", "d"}), C({"d", "b"})};
  const RejoinPlan plan = PlanRejoin(chains, "a", 1);
  EXPECT_TRUE(plan.replica_of.empty());
  EXPECT_EQ(plan.chains, chains);
}

TEST(MapPlannerTest, RejoinSkipsChainsThatHoldItAndAppendsToShortOnes) {
  const Chains chains = {C({"b", nullptr, nullptr}), C({"a", "b", nullptr}), C({"c"}),
                         C({"b", "c", "d"})};
  const RejoinPlan plan = PlanRejoin(chains, "a", 2);
  EXPECT_EQ(plan.replica_of, (std::vector<Vbid>{0, 2}));
  EXPECT_EQ(plan.chains[0], C({"b", "a", nullptr}));
  EXPECT_EQ(plan.chains[1], chains[1]);
  EXPECT_EQ(plan.chains[2], C({"c", "a"}));
  EXPECT_EQ(plan.chains[3], chains[3]);
}

}  // namespace
}  // namespace sluice::cluster
