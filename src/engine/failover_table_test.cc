#include "engine/failover_table.h"

#include <gtest/gtest.h>

namespace sluice::engine {
namespace {

// Table (newest first): uuid 3 @ 200, uuid 2 @ 100, uuid 1 @ 0; high seqno 300.
FailoverTable MakeTable() { return FailoverTable({{3, 200}, {2, 100}, {1, 0}}); }

RollbackDecision Check(const FailoverTable& t, uint64_t start, uint64_t uuid, uint64_t ss,
                       uint64_t se, uint64_t purge = 0, bool strict = false,
                       uint64_t remote_purge = 0) {
  return t.NeedsRollback(start, /*high=*/300, uuid, ss, se, purge, remote_purge, strict);
}

TEST(FailoverTableTest, NewTableHasOneEntryAtZero) {
  FailoverTable t({});
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t.Latest().seqno, 0u);
  EXPECT_NE(t.Latest().uuid, 0u);
}

TEST(FailoverTableTest, CreateEntryPrunesFutureEntries) {
  FailoverTable t = MakeTable();
  auto e = t.CreateEntry(150);  // the branch at 200 never happened from here on
  auto entries = t.Entries();
  ASSERT_EQ(entries.size(), 3u);
  EXPECT_EQ(entries[0], e);
  EXPECT_EQ(entries[0].seqno, 150u);
  EXPECT_EQ(entries[1], (FailoverEntry{2, 100}));
}

TEST(FailoverTableTest, EntriesAreCapped) {
  FailoverTable t({});
  for (uint64_t i = 1; i <= 40; ++i) t.CreateEntry(i);
  EXPECT_EQ(t.size(), FailoverTable::kMaxEntries);
  EXPECT_EQ(t.Latest().seqno, 40u);
}

TEST(FailoverTableTest, StartZeroNeverRollsBackUnlessStrict) {
  auto t = MakeTable();
  EXPECT_FALSE(Check(t, 0, 999, 0, 0).rollback);
  EXPECT_FALSE(Check(t, 0, 0, 0, 0, 0, /*strict=*/true).rollback);
  // Strict with an unknown uuid at 0: no common history -> roll back to 0.
  auto d = Check(t, 0, 999, 0, 0, 0, /*strict=*/true);
  EXPECT_TRUE(d.rollback);
  EXPECT_EQ(d.rollback_seqno, 0u);
}

TEST(FailoverTableTest, PurgedTombstonesForceRollbackToZero) {
  auto t = MakeTable();
  auto d = Check(t, 50, 3, 50, 50, /*purge=*/60);
  EXPECT_TRUE(d.rollback);
  EXPECT_EQ(d.rollback_seqno, 0u);
  // The consumer already saw that purge: no rollback on that account.
  EXPECT_FALSE(Check(t, 50, 3, 50, 50, 60, false, /*remote_purge=*/60).rollback);
  // Start at or above the purge seqno is fine.
  EXPECT_FALSE(Check(t, 60, 3, 60, 60, 60).rollback);
}

TEST(FailoverTableTest, UnknownUuidRollsBackToZero) {
  auto t = MakeTable();
  auto d = Check(t, 10, 42, 10, 10);
  EXPECT_TRUE(d.rollback);
  EXPECT_EQ(d.rollback_seqno, 0u);
}

TEST(FailoverTableTest, LatestBranchResumesUpToHighSeqno) {
  auto t = MakeTable();
  EXPECT_FALSE(Check(t, 250, 3, 240, 260).rollback);
  EXPECT_FALSE(Check(t, 300, 3, 300, 300).rollback);
}

TEST(FailoverTableTest, OldBranchResumesBelowItsEnd) {
  auto t = MakeTable();
  // uuid 2's branch ended at 200 (where uuid 3 began).
  EXPECT_FALSE(Check(t, 150, 2, 140, 180).rollback);
  EXPECT_FALSE(Check(t, 200, 2, 200, 200).rollback);
}

TEST(FailoverTableTest, ConsumerAheadOfBranchRollsBackToBranchEnd) {
  auto t = MakeTable();
  // snap_start > upper: roll back to upper.
  auto d = Check(t, 250, 2, 220, 260);
  EXPECT_TRUE(d.rollback);
  EXPECT_EQ(d.rollback_seqno, 200u);
}

TEST(FailoverTableTest, SnapshotStraddlingBranchEndRollsBackToSnapStart) {
  auto t = MakeTable();
  // snap_start <= upper < snap_end: roll back to snap_start.
  auto d = Check(t, 190, 2, 180, 220);
  EXPECT_TRUE(d.rollback);
  EXPECT_EQ(d.rollback_seqno, 180u);
}

TEST(FailoverTableTest, SnapshotNormalisation) {
  auto t = MakeTable();
  // start == snap_start: the consumer has nothing of that snapshot, so snap_end := start.
  EXPECT_FALSE(Check(t, 200, 2, 200, 260).rollback);
  // start == snap_end: a complete snapshot, so snap_start := start -> roll back to upper.
  auto d = Check(t, 260, 2, 150, 260);
  EXPECT_TRUE(d.rollback);
  EXPECT_EQ(d.rollback_seqno, 200u);
}

TEST(FailoverTableTest, LastSeqnoForUuid) {
  auto t = MakeTable();
  EXPECT_EQ(t.LastSeqnoForUuid(2), 200u);
  EXPECT_EQ(t.LastSeqnoForUuid(1), 100u);
  EXPECT_FALSE(t.LastSeqnoForUuid(3).has_value());
  EXPECT_FALSE(t.LastSeqnoForUuid(77).has_value());
}

}  // namespace
}  // namespace sluice::engine
