// FaultInjectingKVStore: armed faults fail write calls with nothing written, clear again, and
// every other call reaches the wrapped RocksDB store.
#include "testing/fault_injecting_kvstore.h"

#include <gtest/gtest.h>

#include "testing/storage_util.h"

namespace sluice::storage {
namespace {

class FaultInjectingKVStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto inner = OpenRocksDBKVStore(dir_.Sub("db"), TestOptions());
    ASSERT_TRUE(inner.ok()) << inner.status().ToString();
    store_ = std::make_unique<FaultInjectingKVStore>(std::move(*inner), faults_);
  }

  static FlushBatch Batch(uint64_t seqno) {
    FlushBatch batch;
    batch.Add(MakeDoc(0, "k" + std::to_string(seqno), seqno, "v"));
    batch.SetState(0, MakeState(seqno));
    return batch;
  }

  testing::TempDir dir_{"sluice_fault_store"};
  std::shared_ptr<FaultInjector> faults_ = std::make_shared<FaultInjector>();
  std::unique_ptr<FaultInjectingKVStore> store_;
};

TEST_F(FaultInjectingKVStoreTest, NextWritesFailWithTheGivenCodeAndWriteNothing) {
  faults_->FailNextWrites(2, Errc::kTempFail);
  EXPECT_EQ(store_->Commit(Batch(1), false).code(), Errc::kTempFail);
  EXPECT_EQ(store_->SaveVBucketState(0, MakeState(1), true).code(), Errc::kTempFail);
  EXPECT_EQ(store_->Get(0, "k1").status().code(), Errc::kNotFound);
  auto states = store_->LoadVBucketStates();
  ASSERT_TRUE(states.ok());
  EXPECT_TRUE(states->empty());

  ASSERT_TRUE(store_->Commit(Batch(1), false).ok());
  EXPECT_TRUE(store_->Get(0, "k1").ok());
  const FaultCounters c = faults_->counters();
  EXPECT_EQ(c.write_attempts, 3u);
  EXPECT_EQ(c.injected_failures, 2u);
  EXPECT_EQ(c.writes_passed, 1u);
}

TEST_F(FaultInjectingKVStoreTest, UntilClearedAndOnlySynced) {
  faults_->FailWritesUntilCleared(Errc::kIoError);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(store_->Commit(Batch(1), false).code(), Errc::kIoError);
  faults_->Clear();
  ASSERT_TRUE(store_->Commit(Batch(1), true).ok());

  faults_->FailOnlySynced(true);
  faults_->FailWritesUntilCleared(Errc::kIoError);
  EXPECT_TRUE(store_->Commit(Batch(2), false).ok());
  EXPECT_EQ(store_->Commit(Batch(3), true).code(), Errc::kIoError);
  EXPECT_EQ(store_->Get(0, "k3").status().code(), Errc::kNotFound);
  EXPECT_EQ(faults_->counters().injected_failures, 4u);
  // An empty batch is not a write.
  EXPECT_TRUE(store_->Commit(FlushBatch(), true).ok());
  EXPECT_TRUE(store_->Close().ok());
}

}  // namespace
}  // namespace sluice::storage
