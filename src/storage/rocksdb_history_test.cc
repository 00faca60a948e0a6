// The rollback history of the RocksDB store (kvstore.h, "History"): commits keep the versions
// they replace, Rollback() rewinds a vbucket to a commit boundary from them (values, deletions,
// new keys, prepares, state record), and the window is bounded, persisted and can be disabled.
#include <gtest/gtest.h>

#include <atomic>

#include "storage/kvstore.h"
#include "testing/storage_util.h"

namespace sluice::storage {
namespace {

DiskDoc Prepare(std::string key, uint64_t seqno, std::string value) {
  DiskDoc doc = MakeDoc(0, std::move(key), seqno, std::move(value));
  doc.prepared = true;
  doc.durability_level = 1;
  return doc;
}

RocksDBOptions HistoryOptions(uint64_t bytes = 1 << 20, uint64_t seconds = 0) {
  RocksDBOptions options = TestOptions();
  options.history_retention_bytes = bytes;
  options.history_retention_seconds = seconds;
  return options;
}

class RocksDBHistoryTest : public StoreTest {
 protected:
  void SetUp() override { Open(HistoryOptions()); }

  // key=value@seqno of every document of vb 0 (tombstones as key=<deleted>), prepares included.
  std::vector<std::string> Contents() {
    std::vector<std::string> out;
    for (const DiskDoc& d : ScanRange(0, 1, UINT64_MAX, {.include_prepares = true})) {
      out.push_back((d.prepared ? "P:" : "") + d.key + "=" + (d.deleted ? "<deleted>" : d.value) +
                    "@" + std::to_string(d.seqno));
    }
    return out;
  }
  // Three commits: {a@1, b@2}, {a@3, c@4, b deleted@5}, {a@6}.
  void ThreeCommits() {
    CommitOk({MakeDoc(0, "a", 1, "a1"), MakeDoc(0, "b", 2, "b2")}, {{0, MakeState(2)}});
    CommitOk({MakeDoc(0, "a", 3, "a3"), MakeDoc(0, "c", 4, "c4"), MakeTombstone(0, "b", 5)},
             {{0, MakeState(5)}});
    CommitOk({MakeDoc(0, "a", 6, "a6")}, {{0, MakeState(6)}});
  }
};

TEST_F(RocksDBHistoryTest, RollbackRestoresOlderValuesDeletedKeysAndRemovesNewKeys) {
  ThreeCommits();
  StatusOr<RollbackResult> r = store_->Rollback(0, 2);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->seqno, 2u);
  EXPECT_EQ(r->items_rolled_back, 3u);  // a@6, c@4, b@5
  EXPECT_EQ(r->items_restored, 2u);     // a@1, b@2
  EXPECT_EQ(Contents(), std::vector<std::string>({"a=a1@1", "b=b2@2"}));
  EXPECT_EQ(store_->Get(0, "a")->value, "a1");
  EXPECT_EQ(store_->Get(0, "b")->value, "b2");
  EXPECT_EQ(store_->Get(0, "c").status().code(), Errc::kNotFound);
  EXPECT_EQ(r->state.high_seqno, 2u);
  EXPECT_EQ(store_->LoadVBucketStates()->at(0).high_seqno, 2u);
  // The history moved back with it: later commits and rollbacks work from there.
  CommitOk({MakeDoc(0, "a", 3, "x3")}, {{0, MakeState(3)}});
  ASSERT_TRUE(store_->Rollback(0, 2).ok());
  EXPECT_EQ(Contents(), std::vector<std::string>({"a=a1@1", "b=b2@2"}));
}

TEST_F(RocksDBHistoryTest, RollbackReachesTheNewestBoundaryAtOrBelowTheTarget) {
  ThreeCommits();
  // Seqnos 3 and 4 were written by the commit that ended at 5: the disk never held them alone.
  StatusOr<RollbackResult> r = store_->Rollback(0, 4);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->seqno, 2u);
  EXPECT_EQ(Contents(), std::vector<std::string>({"a=a1@1", "b=b2@2"}));
}

TEST_F(RocksDBHistoryTest, RollbackToAnIntermediateBoundaryKeepsTombstones) {
  ThreeCommits();
  StatusOr<RollbackResult> r = store_->Rollback(0, 5);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->seqno, 5u);
  EXPECT_EQ(Contents(), std::vector<std::string>({"a=a3@3", "c=c4@4", "b=<deleted>@5"}));
  EXPECT_TRUE(store_->Get(0, "b")->deleted);
}

TEST_F(RocksDBHistoryTest, RollbackSetsTheBoundarysSnapshotAndPrunesTheFailoverLog) {
  VBucketStateRecord s2 = MakeState(2);
  s2.snap_start = 1;
  s2.snap_end = 4;  // a partial snapshot at the boundary
  CommitOk({MakeDoc(0, "a", 1, "a1"), MakeDoc(0, "b", 2, "b2")}, {{0, s2}});
  VBucketStateRecord s6 = MakeState(6);
  s6.failover = {{0x2222, 5}, {0x1111, 0}};
  CommitOk({MakeDoc(0, "a", 6, "a6")}, {{0, s6}});
  StatusOr<RollbackResult> r = store_->Rollback(0, 3);
  ASSERT_TRUE(r.ok());
  const VBucketStateRecord state = store_->LoadVBucketStates()->at(0);
  EXPECT_EQ(state.high_seqno, 2u);
  EXPECT_EQ(state.snap_start, 1u);
  EXPECT_EQ(state.snap_end, 4u);
  EXPECT_EQ(state.failover, std::vector<FailoverEntry>({{0x1111, 0}}));
  EXPECT_EQ(r->state, state);
}

TEST_F(RocksDBHistoryTest, RollbackDropsLaterPreparesAndRestoresResolvedOnes) {
  CommitOk({MakeDoc(0, "k", 1, "v1")}, {{0, MakeState(1)}});
  CommitOk({Prepare("k", 2, "v2")}, {{0, MakeState(2)}});
  FlushBatch commit;  // the prepare commits at 3
  commit.Add(MakeDoc(0, "k", 3, "v2"));
  commit.RemovePrepare(0, "k", 3);
  commit.SetState(0, MakeState(3));
  ASSERT_TRUE(store_->Commit(commit, true).ok());
  CommitOk({Prepare("p", 4, "p4")}, {{0, MakeState(4)}});
  ASSERT_EQ(Contents(), std::vector<std::string>({"k=v2@3", "P:p=p4@4"}));

  StatusOr<RollbackResult> r = store_->Rollback(0, 2);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->seqno, 2u);
  // k's committed version is back, its prepare is in flight again, p's prepare is gone.
  EXPECT_EQ(Contents(), std::vector<std::string>({"k=v1@1", "P:k=v2@2"}));
  EXPECT_EQ(store_->Get(0, "k")->value, "v1");
  // The restored prepare can be resolved again.
  FlushBatch abort;
  abort.RemovePrepare(0, "k", 3);
  abort.SetState(0, MakeState(3));
  ASSERT_TRUE(store_->Commit(abort, true).ok());
  EXPECT_EQ(Contents(), std::vector<std::string>({"k=v1@1"}));
}

TEST_F(RocksDBHistoryTest, RollbackLeavesOtherVBucketsAlone) {
  CommitOk({MakeDoc(0, "a", 1, "a1"), MakeDoc(1, "a", 1, "x1")},
           {{0, MakeState(1)}, {1, MakeState(1)}});
  CommitOk({MakeDoc(0, "a", 2, "a2"), MakeDoc(1, "a", 2, "x2")},
           {{0, MakeState(2)}, {1, MakeState(2)}});
  ASSERT_TRUE(store_->Rollback(0, 1).ok());
  EXPECT_EQ(store_->Get(0, "a")->value, "a1");
  EXPECT_EQ(store_->Get(1, "a")->value, "x2");
  ASSERT_TRUE(store_->Rollback(1, 1).ok());
  EXPECT_EQ(store_->Get(1, "a")->value, "x1");
}

TEST_F(RocksDBHistoryTest, RollbackBelowTheWindowIsRefused) {
  ThreeCommits();
  EXPECT_EQ(store_->Rollback(0, 0).status().code(), Errc::kNotFound);  // 0: always a reset
  EXPECT_EQ(store_->Rollback(0, 6).status().code(), Errc::kInvalid);   // not below the high
  EXPECT_EQ(store_->Rollback(7, 1).status().code(), Errc::kNotFound);  // no such vbucket
  // Nothing was changed by the refusals.
  EXPECT_EQ(Contents(), std::vector<std::string>({"c=c4@4", "b=<deleted>@5", "a=a6@6"}));
  ASSERT_TRUE(store_->Rollback(0, 5).ok());
  ASSERT_TRUE(store_->Rollback(0, 2).ok());
  EXPECT_EQ(store_->Rollback(0, 1).status().code(), Errc::kNotFound);  // below the first commit
}

TEST_F(RocksDBHistoryTest, ByteRetentionTrimsTheOldestBoundaries) {
  Reopen(HistoryOptions(/*bytes=*/2000));
  const std::string value(100, 'v');
  for (uint64_t seqno = 1; seqno <= 100; ++seqno) {
    CommitOk({MakeDoc(0, "k", seqno, value)}, {{0, MakeState(seqno)}});
  }
  const KVStoreStats stats = store_->GetStats();
  EXPECT_LE(stats.history_bytes, 2000u);
  EXPECT_GT(stats.history_trims, 0u);
  EXPECT_EQ(stats.history_versions, 99u);
  EXPECT_EQ(store_->Rollback(0, 10).status().code(), Errc::kNotFound);
  StatusOr<RollbackResult> r = store_->Rollback(0, 95);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->seqno, 95u);
  EXPECT_EQ(store_->Get(0, "k")->seqno, 95u);
}

TEST_F(RocksDBHistoryTest, TimeRetentionTrimsOldBoundaries) {
  std::atomic<uint64_t> now{1'000'000};
  RocksDBOptions options = HistoryOptions(/*bytes=*/0, /*seconds=*/100);
  options.history_clock = [&now] { return now.load(); };
  Reopen(options);
  CommitOk({MakeDoc(0, "k", 1, "v1")}, {{0, MakeState(1)}});
  CommitOk({MakeDoc(0, "k", 2, "v2")}, {{0, MakeState(2)}});
  now += 50;
  CommitOk({MakeDoc(0, "k", 3, "v3")}, {{0, MakeState(3)}});
  ASSERT_TRUE(store_->Rollback(0, 1).ok());  // within 100 s
  CommitOk({MakeDoc(0, "k", 2, "v2")}, {{0, MakeState(2)}});
  CommitOk({MakeDoc(0, "k", 3, "v3")}, {{0, MakeState(3)}});
  now += 200;
  CommitOk({MakeDoc(0, "k", 4, "v4")}, {{0, MakeState(4)}});
  EXPECT_EQ(store_->Rollback(0, 2).status().code(), Errc::kNotFound);
  Reopen(options);
}

TEST_F(RocksDBHistoryTest, HistorySurvivesAReopen) {
  ThreeCommits();
  Reopen(HistoryOptions());
  StatusOr<RollbackResult> r = store_->Rollback(0, 2);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Contents(), std::vector<std::string>({"a=a1@1", "b=b2@2"}));
}

TEST_F(RocksDBHistoryTest, DisabledHistoryRefusesAndIsDroppedAtOpen) {
  ThreeCommits();
  Reopen(TestOptions());  // retention 0: no history, and the old one is dropped
  EXPECT_EQ(store_->Rollback(0, 2).status().code(), Errc::kNotFound);
  CommitOk({MakeDoc(0, "a", 7, "a7")}, {{0, MakeState(7)}});
  Reopen(HistoryOptions());
  // The boundaries from before the gap are gone, so no rollback can cross it.
  EXPECT_EQ(store_->Rollback(0, 5).status().code(), Errc::kNotFound);
  EXPECT_EQ(store_->GetStats().history_bytes, 0u);
}

// kv_engine's midpoint rule: T / 2 <= D refuses (T the vbucket's `seq` entries, D those above
// the boundary), so the caller resets instead.
class RocksDBMidpointRollbackTest : public RocksDBHistoryTest {
 protected:
  void SetUp() override {
    RocksDBOptions options = HistoryOptions();
    options.midpoint_rollback_optimisation = true;
    Open(options);
    // Six keys k1..k6 at 1..6 in one commit (boundary 6).
    std::vector<DiskDoc> docs;
    for (uint64_t s = 1; s <= 6; ++s) docs.push_back(MakeDoc(0, "k" + std::to_string(s), s, "v"));
    CommitOk(std::move(docs), {{0, MakeState(6)}});
  }
  // Overwrites k1..kn at 7.. in one commit.
  void Overwrite(uint64_t n) {
    std::vector<DiskDoc> docs;
    for (uint64_t i = 1; i <= n; ++i)
      docs.push_back(MakeDoc(0, "k" + std::to_string(i), 6 + i, "x"));
    CommitOk(std::move(docs), {{0, MakeState(6 + n)}});
  }
};

TEST_F(RocksDBMidpointRollbackTest, LessThanHalfRollsBack) {
  Overwrite(2);  // T = 6, D = 2: 3 > 2
  StatusOr<RollbackResult> r = store_->Rollback(0, 6);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->seqno, 6u);
  EXPECT_EQ(r->items_rolled_back, 2u);
  EXPECT_EQ(store_->Get(0, "k1")->value, "v");
}

TEST_F(RocksDBMidpointRollbackTest, HalfOrMoreIsRefusedAndNothingChanges) {
  Overwrite(3);  // T = 6, D = 3: 3 <= 3
  const std::vector<std::string> before = Contents();
  StatusOr<RollbackResult> r = store_->Rollback(0, 6);
  ASSERT_EQ(r.status().code(), Errc::kNotFound);
  EXPECT_NE(r.status().message().find("would discard 3 of its 6 items on disk, at least half"),
            std::string::npos)
      << r.status().ToString();
  EXPECT_EQ(Contents(), before);
  EXPECT_EQ(store_->LoadVBucketStates()->at(0).high_seqno, 9u);
  // Tombstones and prepares are entries too: deleting k4 and preparing k5 makes D = 5 of T = 7.
  CommitOk({MakeTombstone(0, "k4", 10), Prepare("k5", 11, "p")}, {{0, MakeState(11)}});
  EXPECT_NE(store_->Rollback(0, 6).status().message().find("would discard 5 of its 7 items"),
            std::string::npos);
}

TEST_F(RocksDBMidpointRollbackTest, OffRollsBackWhateverTheShare) {
  Overwrite(6);  // every key
  RocksDBOptions options = HistoryOptions();
  options.midpoint_rollback_optimisation = false;
  Reopen(options);
  StatusOr<RollbackResult> r = store_->Rollback(0, 6);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->items_rolled_back, 6u);
}

TEST_F(RocksDBHistoryTest, DeleteVBucketDropsItsHistory) {
  ThreeCommits();
  ASSERT_TRUE(store_->DeleteVBucket(0).ok());
  EXPECT_EQ(store_->GetStats().history_bytes, 0u);
  CommitOk({MakeDoc(0, "z", 1, "z1")}, {{0, MakeState(1)}});
  CommitOk({MakeDoc(0, "z", 2, "z2")}, {{0, MakeState(2)}});
  ASSERT_TRUE(store_->Rollback(0, 1).ok());
  EXPECT_EQ(Contents(), std::vector<std::string>({"z=z1@1"}));
}

}  // namespace
}  // namespace sluice::storage
