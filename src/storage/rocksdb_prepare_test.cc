// The prepare namespace of the RocksDB store (kvstore.h, "Prepares"): a SyncWrite's prepare and
// the key's committed version live side by side, scans yield prepares only when asked, and a
// commit or abort removes the prepare, also within one batch.
#include <gtest/gtest.h>

#include "storage/rocksdb_kvstore.h"
#include "testing/storage_util.h"

namespace sluice::storage {
namespace {

class RocksDBPrepareTest : public StoreTest {
 protected:
  static DiskDoc Prepare(std::string key, uint64_t seqno, std::string value) {
    DiskDoc doc = MakeDoc(0, std::move(key), seqno, std::move(value));
    doc.prepared = true;
    doc.durability_level = 3;
    return doc;
  }
  void Commit(FlushBatch& batch, uint64_t high) {
    batch.SetState(0, MakeState(high));
    ASSERT_TRUE(store_->Commit(batch, /*sync=*/true).ok());
  }
};

TEST_F(RocksDBPrepareTest, PrepareDoesNotShadowTheCommittedVersion) {
  CommitOk({MakeDoc(0, "k", 1, "committed"), Prepare("k", 2, "prepared")}, {{0, MakeState(2)}});
  auto doc = store_->Get(0, "k");
  ASSERT_TRUE(doc.ok());
  EXPECT_EQ(doc->value, "committed");
  EXPECT_EQ(Seqnos(ScanRange(0, 1, 10)), std::vector<uint64_t>({1}));
  const auto all = ScanRange(0, 1, 10, {.include_prepares = true});
  ASSERT_EQ(Seqnos(all), std::vector<uint64_t>({1, 2}));
  EXPECT_TRUE(all[1].prepared);
  EXPECT_EQ(all[1].durability_level, 3);
  EXPECT_EQ(all[1].value, "prepared");
}

TEST_F(RocksDBPrepareTest, GetAtSeqnoDoesNotReturnAPrepare) {
  CommitOk({MakeDoc(0, "k", 1, "committed"), Prepare("k", 2, "prepared")}, {{0, MakeState(2)}});
  EXPECT_EQ(store_->GetAtSeqno(0, 2, "k").status().code(), Errc::kNotFound);
  EXPECT_EQ(store_->GetAtSeqno(0, 1, "k")->value, "committed");
}

TEST_F(RocksDBPrepareTest, CommitRemovesThePrepareAcrossBatches) {
  CommitOk({Prepare("k", 1, "v")}, {{0, MakeState(1)}});
  FlushBatch batch;
  batch.Add(MakeDoc(0, "k", 2, "v"));
  batch.RemovePrepare(0, "k", 2);
  Commit(batch, 2);
  EXPECT_EQ(Seqnos(ScanRange(0, 1, 10, {.include_prepares = true})), std::vector<uint64_t>({2}));
  // A new prepare of the key replaces nothing committed.
  CommitOk({Prepare("k", 3, "w")}, {{0, MakeState(3)}});
  EXPECT_EQ(Seqnos(ScanRange(0, 1, 10, {.include_prepares = true})), std::vector<uint64_t>({2, 3}));
  EXPECT_EQ(store_->Get(0, "k")->value, "v");
}

TEST_F(RocksDBPrepareTest, PrepareResolvedInTheSameBatchNeverReachesDisk) {
  FlushBatch batch;
  batch.Add(Prepare("a", 1, "x"));
  batch.Add(Prepare("b", 2, "y"));
  batch.RemovePrepare(0, "a", 3);  // an abort
  batch.Add(MakeDoc(0, "b", 4, "y"));
  batch.RemovePrepare(0, "b", 4);   // a commit
  batch.Add(Prepare("b", 5, "z"));  // and a new prepare after it
  Commit(batch, 5);
  const auto all = ScanRange(0, 1, 10, {.include_prepares = true});
  EXPECT_EQ(Seqnos(all), std::vector<uint64_t>({4, 5}));
  EXPECT_FALSE(store_->Get(0, "a").ok());
}

TEST_F(RocksDBPrepareTest, DeleteVBucketRemovesPrepares) {
  CommitOk({Prepare("k", 1, "v")}, {{0, MakeState(1)}});
  ASSERT_TRUE(store_->DeleteVBucket(0).ok());
  CommitOk({MakeDoc(0, "other", 1, "v")}, {{0, MakeState(1)}});
  FlushBatch batch;
  batch.RemovePrepare(0, "k", 2);  // nothing left to remove
  Commit(batch, 2);
  EXPECT_EQ(Keys(ScanRange(0, 1, 10, {.include_prepares = true})),
            std::vector<std::string>({"other"}));
}

}  // namespace
}  // namespace sluice::storage
