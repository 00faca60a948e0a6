// Tests of KVStore::OpenSeqnoScan on the RocksDB store.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "storage/kvstore.h"
#include "testing/storage_util.h"

namespace sluice::storage {
namespace {

using ::testing::ElementsAre;

constexpr uint64_t kMaxSeqno = std::numeric_limits<uint64_t>::max();

class RocksDBSeqnoScanTest : public StoreTest {
 protected:
  // vb 0: a:1 b:2 c:3(tombstone) d:4 e:5, state high_seqno 5.
  void CommitFive() {
    CommitOk({MakeDoc(0, "a", 1, "va"), MakeDoc(0, "b", 2, "vb"), MakeTombstone(0, "c", 3),
              MakeDoc(0, "d", 4, "vd"), MakeDoc(0, "e", 5, "ve")},
             {{0, MakeState(5)}});
  }
};

TEST_F(RocksDBSeqnoScanTest, ScansInSeqnoOrderWithAllFields) {
  DiskDoc doc = MakeDoc(0, "a", 1, "value");
  doc.flags = 42;
  doc.datatype = 1;
  doc.rev_seqno = 3;
  CommitOk({doc, MakeTombstone(0, "b", 2)}, {{0, MakeState(2)}});
  const std::vector<DiskDoc> docs = ScanRange(0, 1, 2);
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0].vbid, 0);
  EXPECT_EQ(docs[0].seqno, 1u);
  EXPECT_EQ(docs[0].key, "a");
  EXPECT_EQ(docs[0].value, "value");
  EXPECT_EQ(docs[0].flags, 42u);
  EXPECT_EQ(docs[0].datatype, 1);
  EXPECT_EQ(docs[0].rev_seqno, 3u);
  EXPECT_EQ(docs[0].cas, doc.cas);
  EXPECT_TRUE(docs[1].deleted);
  EXPECT_EQ(docs[1].key, "b");
}

TEST_F(RocksDBSeqnoScanTest, ScanViewsDeliversTheDocumentsInPlaceAndResumesAfterAYield) {
  DiskDoc doc = MakeDoc(0, "a", 1, "value");
  doc.flags = 42;
  doc.datatype = 1;
  doc.rev_seqno = 3;
  CommitOk({doc, MakeTombstone(0, "b", 2), MakeDoc(0, "c", 3, "vc")}, {{0, MakeState(3)}});
  std::unique_ptr<SeqnoScan> scan = OpenScan(0, 0, kMaxSeqno);
  std::vector<DiskDoc> copies;  // what the views showed during their callback
  bool done = false;
  ASSERT_TRUE(scan->ScanViews(
                      [&copies](const DiskDocView& view) {
                        copies.push_back(view.ToDiskDoc());
                        return copies.size() == 1 ? ScanControl::kYield : ScanControl::kContinue;
                      },
                      &done)
                  .ok());
  EXPECT_FALSE(done);
  ASSERT_TRUE(scan->ScanViews(
                      [&copies](const DiskDocView& view) {
                        copies.push_back(view.ToDiskDoc());
                        return ScanControl::kContinue;
                      },
                      &done)
                  .ok());
  EXPECT_TRUE(done);
  ASSERT_EQ(copies.size(), 3u);
  EXPECT_EQ(copies[0].key, "a");
  EXPECT_EQ(copies[0].value, "value");
  EXPECT_EQ(copies[0].seqno, 1u);
  EXPECT_EQ(copies[0].flags, 42u);
  EXPECT_EQ(copies[0].datatype, 1);
  EXPECT_EQ(copies[0].rev_seqno, 3u);
  EXPECT_EQ(copies[0].cas, doc.cas);
  EXPECT_TRUE(copies[1].deleted);
  EXPECT_EQ(copies[2].key, "c");
  EXPECT_EQ(copies[2].value, "vc");
}

TEST_F(RocksDBSeqnoScanTest, KeyOnlyScanViewsHaveNoValue) {
  CommitFive();
  ScanOptions options;
  options.key_only = true;
  StatusOr<std::unique_ptr<SeqnoScan>> scan = store_->OpenSeqnoScan(0, 0, kMaxSeqno, options);
  ASSERT_TRUE(scan.ok());
  std::vector<std::string> keys;
  bool done = false;
  ASSERT_TRUE((*scan)
                  ->ScanViews(
                      [&keys](const DiskDocView& view) {
                        EXPECT_TRUE(view.value.empty());
                        keys.emplace_back(view.key);
                        return ScanControl::kContinue;
                      },
                      &done)
                  .ok());
  EXPECT_THAT(keys, ElementsAre("a", "b", "c", "d", "e"));
}

TEST_F(RocksDBSeqnoScanTest, RangeBoundsAreInclusive) {
  CommitFive();
  EXPECT_THAT(Seqnos(ScanRange(0, 2, 4)), ElementsAre(2, 3, 4));
  EXPECT_THAT(Seqnos(ScanRange(0, 5, 5)), ElementsAre(5));
  EXPECT_THAT(Seqnos(ScanRange(0, 0, 1)), ElementsAre(1));
  EXPECT_TRUE(ScanRange(0, 4, 3).empty());
  EXPECT_TRUE(ScanRange(0, 6, 100).empty());
}

TEST_F(RocksDBSeqnoScanTest, EndIsClampedToTheSnapshotHighSeqno) {
  // Documents above the persisted high seqno exist but are not part of the snapshot's range.
  CommitOk({MakeDoc(0, "a", 1, "v"), MakeDoc(0, "b", 2, "v"), MakeDoc(0, "c", 3, "v")},
           {{0, MakeState(2)}});
  std::unique_ptr<SeqnoScan> scan = OpenScan(0, 0, kMaxSeqno);
  EXPECT_EQ(scan->state().high_seqno, 2u);
  EXPECT_EQ(scan->EstimateCount(), 2u);
  EXPECT_THAT(Seqnos(ScanAll(*scan)), ElementsAre(1, 2));
  EXPECT_EQ(scan->last_seqno(), 2u);
}

TEST_F(RocksDBSeqnoScanTest, VbucketWithoutStateScansEmpty) {
  CommitOk({MakeDoc(4, "a", 1, "v")});
  std::unique_ptr<SeqnoScan> scan = OpenScan(4, 0, kMaxSeqno);
  EXPECT_EQ(scan->state(), VBucketStateRecord());
  EXPECT_EQ(scan->EstimateCount(), 0u);
  EXPECT_TRUE(ScanAll(*scan).empty());
  EXPECT_TRUE(ScanRange(9, 0, kMaxSeqno).empty());
}

TEST_F(RocksDBSeqnoScanTest, SeesOnlyItsSnapshot) {
  CommitFive();
  std::unique_ptr<SeqnoScan> scan = OpenScan(0, 0, kMaxSeqno);

  // After the scan opened: rewrite a (moves 1 -> 6), delete the vbucket's d, add f.
  VBucketStateRecord later = MakeState(8);
  later.purge_seqno = 3;
  CommitOk({MakeDoc(0, "a", 6, "va2"), MakeTombstone(0, "d", 7), MakeDoc(0, "f", 8, "vf")},
           {{0, later}});
  ASSERT_TRUE(store_->SaveVBucketState(0, MakeState(9), true).ok());

  EXPECT_EQ(scan->state(), MakeState(5));
  const std::vector<DiskDoc> docs = ScanAll(*scan);
  EXPECT_THAT(Seqnos(docs), ElementsAre(1, 2, 3, 4, 5));
  EXPECT_EQ(docs[0].value, "va");
  EXPECT_FALSE(docs[3].deleted);

  // A new scan sees the new state.
  std::unique_ptr<SeqnoScan> fresh = OpenScan(0, 0, kMaxSeqno);
  EXPECT_EQ(fresh->state().high_seqno, 9u);
  EXPECT_THAT(Seqnos(ScanAll(*fresh)), ElementsAre(2, 3, 5, 6, 7, 8));
}

TEST_F(RocksDBSeqnoScanTest, SnapshotSurvivesDeleteVBucketAndFlush) {
  CommitFive();
  std::unique_ptr<SeqnoScan> scan = OpenScan(0, 0, kMaxSeqno);
  ASSERT_TRUE(store_->DeleteVBucket(0).ok());
  EXPECT_THAT(Seqnos(ScanAll(*scan)), ElementsAre(1, 2, 3, 4, 5));
  EXPECT_TRUE(ScanRange(0, 0, kMaxSeqno).empty());
}

TEST_F(RocksDBSeqnoScanTest, YieldAndResume) {
  CommitFive();
  std::unique_ptr<SeqnoScan> scan = OpenScan(0, 0, kMaxSeqno);
  std::vector<uint64_t> seen;
  int calls = 0;
  bool done = false;
  while (!done) {
    ++calls;
    // Deliver two documents per call, then yield.
    int in_this_call = 0;
    ASSERT_TRUE(scan->Scan(
                        [&](DiskDoc&& doc) {
                          seen.push_back(doc.seqno);
                          return ++in_this_call == 2 ? ScanControl::kYield : ScanControl::kContinue;
                        },
                        &done)
                    .ok());
    if (!done) EXPECT_EQ(scan->last_seqno(), seen.back());
    ASSERT_LT(calls, 10);
  }
  EXPECT_THAT(seen, ElementsAre(1, 2, 3, 4, 5));
  // 2 + 2 + 1: the third call ends the range.
  EXPECT_EQ(calls, 3);

  // Scanning a finished scan delivers nothing and stays done.
  ASSERT_TRUE(scan->Scan([](DiskDoc&&) { return ScanControl::kContinue; }, &done).ok());
  EXPECT_TRUE(done);
}

TEST_F(RocksDBSeqnoScanTest, YieldOnTheLastDocumentThenDone) {
  CommitFive();
  std::unique_ptr<SeqnoScan> scan = OpenScan(0, 5, 5);
  bool done = true;
  ASSERT_TRUE(scan->Scan([](DiskDoc&&) { return ScanControl::kYield; }, &done).ok());
  EXPECT_FALSE(done);
  EXPECT_EQ(scan->last_seqno(), 5u);
  int more = 0;
  ASSERT_TRUE(scan->Scan(
                      [&](DiskDoc&&) {
                        ++more;
                        return ScanControl::kContinue;
                      },
                      &done)
                  .ok());
  EXPECT_TRUE(done);
  EXPECT_EQ(more, 0);
}

TEST_F(RocksDBSeqnoScanTest, YieldAcrossConcurrentCommits) {
  CommitFive();
  std::unique_ptr<SeqnoScan> scan = OpenScan(0, 0, kMaxSeqno);
  bool done = false;
  std::vector<uint64_t> seen;
  ASSERT_TRUE(scan->Scan(
                      [&](DiskDoc&& doc) {
                        seen.push_back(doc.seqno);
                        return ScanControl::kYield;
                      },
                      &done)
                  .ok());
  // Between two calls the store moves on; the scan does not.
  CommitOk({MakeDoc(0, "b", 6, "v"), MakeDoc(0, "z", 7, "v")}, {{0, MakeState(7)}});
  for (const DiskDoc& doc : ScanAll(*scan)) seen.push_back(doc.seqno);
  EXPECT_THAT(seen, ElementsAre(1, 2, 3, 4, 5));
}

TEST_F(RocksDBSeqnoScanTest, SkipDeletedAndKeyOnly) {
  CommitFive();
  const std::vector<DiskDoc> live =
      ScanRange(0, 0, kMaxSeqno, {.key_only = false, .skip_deleted = true});
  EXPECT_THAT(Keys(live), ElementsAre("a", "b", "d", "e"));
  EXPECT_EQ(live[0].value, "va");

  const std::vector<DiskDoc> keys =
      ScanRange(0, 0, kMaxSeqno, {.key_only = true, .skip_deleted = false});
  EXPECT_THAT(Keys(keys), ElementsAre("a", "b", "c", "d", "e"));
  for (const DiskDoc& doc : keys) EXPECT_TRUE(doc.value.empty()) << doc.key;
  EXPECT_TRUE(keys[2].deleted);

  const std::vector<DiskDoc> both =
      ScanRange(0, 0, kMaxSeqno, {.key_only = true, .skip_deleted = true});
  EXPECT_THAT(Seqnos(both), ElementsAre(1, 2, 4, 5));
}

TEST_F(RocksDBSeqnoScanTest, EstimateCount) {
  CommitFive();
  EXPECT_EQ(OpenScan(0, 0, kMaxSeqno)->EstimateCount(), 5u);
  EXPECT_EQ(OpenScan(0, 2, 3)->EstimateCount(), 2u);
  EXPECT_EQ(OpenScan(0, 4, 2)->EstimateCount(), 0u);
  EXPECT_EQ(OpenScan(0, 6, kMaxSeqno)->EstimateCount(), 0u);
}

TEST_F(RocksDBSeqnoScanTest, VbucketsDoNotBleedAtBoundaries) {
  // vb 1 ends near the top of the seqno space; vb 2 starts at 1. vb 0x0100 vs 0x0001 differ
  // only in byte order.
  CommitOk({MakeDoc(1, "x", kMaxSeqno - 2, "v"), MakeDoc(1, "y", kMaxSeqno - 1, "v"),
            MakeDoc(1, "z", kMaxSeqno, "v")},
           {{1, MakeState(kMaxSeqno)}});
  CommitOk({MakeDoc(2, "x", 1, "v"), MakeDoc(2, "y", 2, "v")}, {{2, MakeState(2)}});
  CommitOk({MakeDoc(0x0100, "x", 1, "v")}, {{0x0100, MakeState(1)}});
  CommitOk({MakeDoc(0, "x", kMaxSeqno - 1, "v")}, {{0, MakeState(kMaxSeqno - 1)}});

  EXPECT_THAT(Seqnos(ScanRange(1, 0, kMaxSeqno)),
              ElementsAre(kMaxSeqno - 2, kMaxSeqno - 1, kMaxSeqno));
  EXPECT_THAT(Seqnos(ScanRange(1, kMaxSeqno - 1, kMaxSeqno)),
              ElementsAre(kMaxSeqno - 1, kMaxSeqno));
  EXPECT_THAT(Seqnos(ScanRange(1, kMaxSeqno, kMaxSeqno)), ElementsAre(kMaxSeqno));
  EXPECT_THAT(Seqnos(ScanRange(2, 0, kMaxSeqno)), ElementsAre(1, 2));
  EXPECT_THAT(Seqnos(ScanRange(0, 0, kMaxSeqno)), ElementsAre(kMaxSeqno - 1));
  const std::vector<DiskDoc> vb256 = ScanRange(0x0100, 0, kMaxSeqno);
  ASSERT_EQ(vb256.size(), 1u);
  EXPECT_EQ(vb256[0].vbid, 0x0100);
  EXPECT_EQ(OpenScan(1, 0, kMaxSeqno)->EstimateCount(), kMaxSeqno);  // [1, 2^64-1]
}

TEST_F(RocksDBSeqnoScanTest, ScansSurviveReopenAndFlushedData) {
  CommitFive();
  Reopen();  // Close() flushed the memtables: the scan now reads SST files
  EXPECT_THAT(Seqnos(ScanRange(0, 0, kMaxSeqno)), ElementsAre(1, 2, 3, 4, 5));
}

TEST_F(RocksDBSeqnoScanTest, CloseIsRefusedWhileAScanIsOpen) {
  CommitFive();
  std::unique_ptr<SeqnoScan> scan = OpenScan(0, 0, kMaxSeqno);
  EXPECT_EQ(store_->GetStats().open_scans, 1u);
  EXPECT_EQ(store_->Close().code(), Errc::kInternal);
  // Still open and usable.
  EXPECT_TRUE(store_->Get(0, "a").ok());
  EXPECT_EQ(ScanAll(*scan).size(), 5u);
  scan.reset();
  EXPECT_EQ(store_->GetStats().open_scans, 0u);
  EXPECT_TRUE(store_->Close().ok());
}

TEST_F(RocksDBSeqnoScanTest, DestroyingTheStoreWithAnOpenScanAborts) {
  CommitFive();
  EXPECT_DEATH(
      {
        std::unique_ptr<SeqnoScan> scan = OpenScan(0, 0, kMaxSeqno);
        store_.reset();
      },
      "scan");
}

// ---- key order (DCP out-of-order backfills) ----

TEST_F(RocksDBSeqnoScanTest, KeyOrderYieldsTheSameDocumentsByKey) {
  // Keys written out of key order; "b" rewritten later (its latest version only).
  CommitOk({MakeDoc(0, "d", 1, "vd"), MakeDoc(0, "b", 2, "old"), MakeDoc(0, "a", 3, "va"),
            MakeTombstone(0, "c", 4), MakeDoc(1, "z", 1, "other vbucket")},
           {{0, MakeState(4)}, {1, MakeState(1)}});
  CommitOk({MakeDoc(0, "b", 5, "vb")}, {{0, MakeState(5)}});
  ScanOptions by_key;
  by_key.key_order = true;
  const std::vector<DiskDoc> docs = ScanRange(0, 0, kMaxSeqno, by_key);
  EXPECT_THAT(Keys(docs), ElementsAre("a", "b", "c", "d"));
  EXPECT_THAT(Seqnos(docs), ElementsAre(3, 5, 4, 1));
  EXPECT_EQ(docs[1].value, "vb");
  EXPECT_TRUE(docs[2].deleted);
  // The same documents as the seqno scan of the same range.
  std::vector<uint64_t> in_order = Seqnos(ScanRange(0, 0, kMaxSeqno));
  std::vector<uint64_t> by_key_sorted = Seqnos(docs);
  std::sort(by_key_sorted.begin(), by_key_sorted.end());
  EXPECT_EQ(by_key_sorted, in_order);
}

TEST_F(RocksDBSeqnoScanTest, KeyOrderHonoursTheRangeAndSkipDeleted) {
  CommitFive();
  ScanOptions options;
  options.key_order = true;
  EXPECT_THAT(Keys(ScanRange(0, 2, 4, options)), ElementsAre("b", "c", "d"));
  options.skip_deleted = true;
  EXPECT_THAT(Keys(ScanRange(0, 0, kMaxSeqno, options)), ElementsAre("a", "b", "d", "e"));
}

}  // namespace
}  // namespace sluice::storage
