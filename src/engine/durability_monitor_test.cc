#include "engine/durability_monitor.h"

#include <gtest/gtest.h>

namespace sluice::engine {
namespace {

using Level = SyncWriteLevel;

VBucketTopology Topology(std::vector<TopologyChain> chains) { return VBucketTopology{chains}; }

std::vector<uint64_t> Seqnos(const std::vector<SyncWriteResolution>& rs) {
  std::vector<uint64_t> out;
  for (const auto& r : rs) out.push_back(r.seqno);
  return out;
}

TEST(ActiveDurabilityMonitorTest, WithoutTopologyMajorityCommitsAtOnce) {
  ActiveDurabilityMonitor adm;
  adm.Add(1, "k", Level::kMajority, std::nullopt, {});
  EXPECT_EQ(Seqnos(adm.TakeCommittable()), std::vector<uint64_t>{1});
  EXPECT_EQ(adm.NumTracked(), 0u);
  EXPECT_EQ(adm.high_completed_seqno(), 1u);
}

TEST(ActiveDurabilityMonitorTest, WithoutTopologyPersistLevelsWaitForLocalPersistence) {
  for (Level level : {Level::kMajorityAndPersistOnMaster, Level::kPersistToMajority}) {
    ActiveDurabilityMonitor adm;
    adm.Add(5, "k", level, std::nullopt, {});
    EXPECT_TRUE(adm.TakeCommittable().empty());
    EXPECT_TRUE(adm.WaitsForLocalPersistence());
    adm.NotifyLocalPersisted(4);
    EXPECT_TRUE(adm.TakeCommittable().empty());
    adm.NotifyLocalPersisted(5);
    EXPECT_FALSE(adm.WaitsForLocalPersistence());
    EXPECT_EQ(Seqnos(adm.TakeCommittable()), std::vector<uint64_t>{5});
  }
}

TEST(ActiveDurabilityMonitorTest, MajorityOfTwoNeedsTheReplica) {
  ActiveDurabilityMonitor adm;
  adm.SetTopology(Topology({{"a", "b"}}));
  adm.Add(1, "x", Level::kMajority, std::nullopt, {});
  adm.Add(2, "y", Level::kMajority, std::nullopt, {});
  EXPECT_TRUE(adm.TakeCommittable().empty());
  adm.SeqnoAck("c", 2);  // not in the chain
  EXPECT_TRUE(adm.TakeCommittable().empty());
  adm.SeqnoAck("b", 1);
  EXPECT_EQ(Seqnos(adm.TakeCommittable()), std::vector<uint64_t>{1});
  adm.SeqnoAck("b", 0);  // acks never go back
  adm.SeqnoAck("b", 2);
  EXPECT_EQ(Seqnos(adm.TakeCommittable()), std::vector<uint64_t>{2});
}

TEST(ActiveDurabilityMonitorTest, MajorityOfThreeNeedsOneReplica) {
  ActiveDurabilityMonitor adm;
  adm.SetTopology(Topology({{"a", "b", "c"}}));
  adm.Add(3, "x", Level::kMajority, std::nullopt, {});
  EXPECT_TRUE(adm.TakeCommittable().empty());
  adm.SeqnoAck("c", 3);
  EXPECT_EQ(Seqnos(adm.TakeCommittable()), std::vector<uint64_t>{3});
}

TEST(ActiveDurabilityMonitorTest, NullNodesCannotAckAndMayMakeDurabilityImpossible) {
  ActiveDurabilityMonitor adm;
  adm.SetTopology(Topology({{"a", std::nullopt, "c"}}));  // majority 2 of 2 nodes
  EXPECT_TRUE(adm.DurabilityPossible());
  adm.Add(1, "x", Level::kMajority, std::nullopt, {});
  EXPECT_TRUE(adm.TakeCommittable().empty());
  adm.SeqnoAck("c", 1);
  EXPECT_EQ(adm.TakeCommittable().size(), 1u);
  adm.SetTopology(Topology({{"a", std::nullopt}}));  // majority 2 of 1 node
  EXPECT_FALSE(adm.DurabilityPossible());
  adm.SetTopology(Topology({{"a", std::nullopt, std::nullopt}}));
  EXPECT_FALSE(adm.DurabilityPossible());
  adm.SetTopology(Topology({}));
  EXPECT_TRUE(adm.DurabilityPossible());
}

TEST(ActiveDurabilityMonitorTest, TwoChainsNeedAMajorityOfEach) {
  ActiveDurabilityMonitor adm;
  adm.SetTopology(Topology({{"a", "b"}, {"a", "c"}}));
  adm.Add(1, "x", Level::kMajority, std::nullopt, {});
  adm.SeqnoAck("b", 1);
  EXPECT_TRUE(adm.TakeCommittable().empty());
  adm.SeqnoAck("c", 1);
  EXPECT_EQ(adm.TakeCommittable().size(), 1u);
  adm.SetTopology(Topology({{"a", "b"}, {"a", std::nullopt}}));
  EXPECT_FALSE(adm.DurabilityPossible());
}

TEST(ActiveDurabilityMonitorTest, MajorityAndPersistActiveNeedsBoth) {
  ActiveDurabilityMonitor adm;
  adm.SetTopology(Topology({{"a", "b"}}));
  adm.Add(1, "x", Level::kMajorityAndPersistOnMaster, std::nullopt, {});
  adm.SeqnoAck("b", 1);
  EXPECT_TRUE(adm.TakeCommittable().empty());
  adm.NotifyLocalPersisted(1);
  EXPECT_EQ(adm.TakeCommittable().size(), 1u);
}

TEST(ActiveDurabilityMonitorTest, PersistToMajorityCountsTheActiveOnlyOncePersisted) {
  ActiveDurabilityMonitor adm;
  adm.SetTopology(Topology({{"a", "b", "c"}}));
  adm.Add(1, "x", Level::kPersistToMajority, std::nullopt, {});
  adm.SeqnoAck("b", 1);
  adm.SeqnoAck("c", 1);
  // Two replicas are a majority of three, but the active's persistence is required anyway.
  EXPECT_TRUE(adm.TakeCommittable().empty());
  adm.NotifyLocalPersisted(1);
  EXPECT_EQ(adm.TakeCommittable().size(), 1u);

  adm.Add(2, "y", Level::kPersistToMajority, std::nullopt, {});
  adm.NotifyLocalPersisted(2);
  EXPECT_TRUE(adm.TakeCommittable().empty());  // the active alone is not a majority
  adm.SeqnoAck("b", 2);
  EXPECT_EQ(adm.TakeCommittable().size(), 1u);
}

TEST(ActiveDurabilityMonitorTest, TimeoutsTakeOnlyExpiredWrites) {
  ActiveDurabilityMonitor adm;
  adm.SetTopology(Topology({{"a", "b"}}));
  const SteadyTime t0{};
  adm.Add(1, "x", Level::kMajority, t0 + std::chrono::seconds(1), {});
  adm.Add(2, "y", Level::kMajority, t0 + std::chrono::seconds(3), {});
  adm.Add(3, "z", Level::kMajority, std::nullopt, {});
  EXPECT_TRUE(adm.TakeTimedOut(t0).empty());
  auto expired = adm.TakeTimedOut(t0 + std::chrono::seconds(2));
  ASSERT_EQ(expired.size(), 1u);
  EXPECT_EQ(expired[0].key, "x");
  EXPECT_EQ(expired[0].kind, SyncWriteResolution::Kind::kAbort);
  EXPECT_EQ(adm.high_completed_seqno(), 1u);
  EXPECT_TRUE(adm.TakeTimedOut(t0 + std::chrono::hours(1)).size() == 1u);
  EXPECT_EQ(Seqnos(adm.TakeAll()), std::vector<uint64_t>{3});
  EXPECT_EQ(adm.high_prepared_seqno(), 3u);
}

}  // namespace
}  // namespace sluice::engine
