// SyncWrites in the engine: prepares, no dirty reads, SYNC_WRITE_IN_PROGRESS, commit on the
// topology's majority, timeouts, DURABILITY_IMPOSSIBLE, persistence and warmup of prepares.
#include <gtest/gtest.h>

#include "engine/bucket.h"
#include "testing/manual_executor.h"
#include "testing/recording_waiter.h"
#include "testing/temp_dir.h"

namespace sluice::engine {
namespace {

using executor::ManualExecutor;
using executor::TaskGroup;

using testing::RecordingWaiter;

VBucketTopology Chain(std::vector<TopologyNode> nodes) { return VBucketTopology{{nodes}}; }

class BucketSyncWriteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.max_vbuckets = 4;
    config_.max_num_shards = 1;
    config_.max_size = 64 << 20;
    config_.ht_locks = 4;
    Open();
  }
  void TearDown() override {
    bucket_.reset();
    exec_.Shutdown();
  }
  void Open() {
    BucketOptions o;
    o.name = "default";
    o.data_dir = dir_.path();
    o.config = config_;
    o.executor = &exec_;
    o.clock = &clock_;
    auto b = Bucket::Open(o);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    bucket_ = *b;
  }
  void Flush() {
    for (int i = 0; i < 100 && bucket_->QueueSize() != 0; ++i) {
      exec_.RunReady(TaskGroup::kWriter);
    }
    ASSERT_EQ(bucket_->QueueSize(), 0u);
  }
  StatusOr<MutationResult> Set(std::string_view key, std::string_view value,
                               const SyncWriteSpec* sync = nullptr) {
    StoreRequest r;
    r.key = key;
    r.value = value;
    r.sync = sync;
    return bucket_->Store(0, r);
  }
  std::string Get(std::string_view key) {
    auto r = bucket_->Get(0, key, {});
    if (!r.ok()) return "<" + std::string(ErrcName(r.status().code())) + ">";
    return std::string(r->value.view());
  }
  int64_t CurrItems() { return bucket_->GetVBucket(0)->hash_table().NumItems(); }
  SyncWriteSpec Spec(SyncWriteLevel level = SyncWriteLevel::kMajority) {
    return SyncWriteSpec{level, std::chrono::milliseconds(1000), waiter_};
  }

  testing::TempDir dir_{"sluice_sync_write_test"};
  Config config_;
  FakeClock clock_;
  ManualExecutor exec_{&clock_};
  std::shared_ptr<Bucket> bucket_;
  std::shared_ptr<RecordingWaiter> waiter_ = std::make_shared<RecordingWaiter>();
};

TEST_F(BucketSyncWriteTest, WithoutTopologyMajorityCommitsAtOnce) {
  const SyncWriteSpec spec = Spec();
  auto r = Set("k", "v", &spec);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(waiter_->notified, 1);
  EXPECT_TRUE(waiter_->last.ok());
  EXPECT_EQ(Get("k"), "v");
  EXPECT_EQ(CurrItems(), 1);
  auto vb = bucket_->GetVBucket(0);
  EXPECT_EQ(vb->high_seqno(), 2u);  // the prepare and its commit
  EXPECT_EQ(vb->high_prepared_seqno(), 1u);
  EXPECT_EQ(vb->high_completed_seqno(), 1u);
}

TEST_F(BucketSyncWriteTest, PrepareIsInvisibleUntilTheReplicaAcks) {
  ASSERT_TRUE(Set("k", "old").ok());
  ASSERT_TRUE(bucket_->SetVBucketState(0, VBucketState::kActive, Chain({"a", "b"})).ok());
  const SyncWriteSpec spec = Spec();
  auto r = Set("k", "new", &spec);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(waiter_->notified, 0);
  EXPECT_EQ(Get("k"), "old");  // no dirty read
  EXPECT_EQ(Set("k", "other").status().code(), Errc::kSyncWriteInProgress);
  EXPECT_EQ(bucket_->Delete(0, "k", 0).status().code(), Errc::kSyncWriteInProgress);
  EXPECT_TRUE(Set("k2", "fine").ok());
  EXPECT_EQ(CurrItems(), 2);

  ASSERT_TRUE(bucket_->SeqnoAcknowledged(0, "c", r->seqno).ok());  // not in the chain
  EXPECT_EQ(Get("k"), "old");
  ASSERT_TRUE(bucket_->SeqnoAcknowledged(0, "b", r->seqno).ok());
  EXPECT_EQ(waiter_->notified, 1);
  EXPECT_TRUE(waiter_->last.ok());
  EXPECT_EQ(Get("k"), "new");
  EXPECT_EQ(CurrItems(), 2);
  EXPECT_TRUE(Set("k", "after").ok());
}

TEST_F(BucketSyncWriteTest, DurableDeleteCommitsATombstone) {
  ASSERT_TRUE(Set("k", "v").ok());
  ASSERT_TRUE(bucket_->SetVBucketState(0, VBucketState::kActive, Chain({"a", "b"})).ok());
  const SyncWriteSpec spec = Spec();
  auto r = bucket_->Delete(0, "k", 0, {}, &spec);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Get("k"), "v");
  EXPECT_EQ(CurrItems(), 1);
  ASSERT_TRUE(bucket_->SeqnoAcknowledged(0, "b", r->seqno).ok());
  EXPECT_EQ(Get("k"), "<NotFound>");
  EXPECT_EQ(CurrItems(), 0);
}

TEST_F(BucketSyncWriteTest, TimeoutAbortsAndAnswersAmbiguous) {
  ASSERT_TRUE(bucket_->SetVBucketState(0, VBucketState::kActive, Chain({"a", "b"})).ok());
  const SyncWriteSpec spec = Spec();
  auto r = Set("k", "v", &spec);
  ASSERT_TRUE(r.ok());
  clock_.Advance(std::chrono::milliseconds(999));
  exec_.RunReady(TaskGroup::kNonIO);
  EXPECT_EQ(waiter_->notified, 0);
  clock_.Advance(std::chrono::milliseconds(30));
  exec_.RunReady(TaskGroup::kNonIO);
  EXPECT_EQ(waiter_->notified, 1);
  EXPECT_EQ(waiter_->last.code(), Errc::kSyncWriteAmbiguous);
  EXPECT_EQ(Get("k"), "<NotFound>");
  EXPECT_EQ(bucket_->GetVBucket(0)->NumPreparesInFlight(), 0u);
  // A late ack changes nothing; the key takes writes again.
  ASSERT_TRUE(bucket_->SeqnoAcknowledged(0, "b", r->seqno).ok());
  EXPECT_EQ(Get("k"), "<NotFound>");
  EXPECT_TRUE(Set("k", "plain").ok());
  EXPECT_EQ(bucket_->GetVBucket(0)->high_seqno(), 3u);  // prepare, abort, plain set
}

TEST_F(BucketSyncWriteTest, ImpossibleWhenAChainCannotReachAMajority) {
  ASSERT_TRUE(bucket_->SetVBucketState(0, VBucketState::kActive, Chain({"a", std::nullopt})).ok());
  const SyncWriteSpec spec = Spec();
  EXPECT_EQ(Set("k", "v", &spec).status().code(), Errc::kDurabilityImpossible);
  EXPECT_TRUE(Set("k", "plain").ok());
}

TEST_F(BucketSyncWriteTest, PersistLevelsWaitForTheFlusher) {
  const SyncWriteSpec spec = Spec(SyncWriteLevel::kPersistToMajority);
  ASSERT_TRUE(Set("k", "v", &spec).ok());
  EXPECT_EQ(waiter_->notified, 0);
  EXPECT_EQ(Get("k"), "<NotFound>");
  Flush();
  EXPECT_EQ(waiter_->notified, 1);
  EXPECT_EQ(Get("k"), "v");
}

TEST_F(BucketSyncWriteTest, SteppingDownAnswersAmbiguousAndKeepsThePrepare) {
  ASSERT_TRUE(bucket_->SetVBucketState(0, VBucketState::kActive, Chain({"a", "b"})).ok());
  const SyncWriteSpec spec = Spec();
  ASSERT_TRUE(Set("k", "v", &spec).ok());
  ASSERT_TRUE(bucket_->SetVBucketState(0, VBucketState::kReplica).ok());
  EXPECT_EQ(waiter_->notified, 1);
  EXPECT_EQ(waiter_->last.code(), Errc::kSyncWriteAmbiguous);
  EXPECT_EQ(bucket_->GetVBucket(0)->NumPreparesInFlight(), 1u);
  // Promoted without a topology, it completes the prepare it holds (kv_engine).
  ASSERT_TRUE(bucket_->SetVBucketState(0, VBucketState::kActive).ok());
  EXPECT_EQ(bucket_->GetVBucket(0)->NumPreparesInFlight(), 0u);
  EXPECT_EQ(Get("k"), "v");
}

TEST_F(BucketSyncWriteTest, PreparesArePersistedAndWarmedUp) {
  ASSERT_TRUE(Set("k", "old").ok());
  ASSERT_TRUE(bucket_->SetVBucketState(0, VBucketState::kActive, Chain({"a", "b"})).ok());
  const SyncWriteSpec spec = Spec();
  auto r = Set("k", "new", &spec);
  ASSERT_TRUE(r.ok());
  Flush();
  bucket_.reset();  // unclean: no shutdown
  Open();
  // No VBucket reference kept: a vbucket must not outlive its bucket (it accounts into it).
  EXPECT_EQ(bucket_->GetVBucket(0)->NumPreparesInFlight(), 1u);
  EXPECT_EQ(Get("k"), "old");
  EXPECT_EQ(CurrItems(), 1);
  EXPECT_EQ(Set("k", "x").status().code(), Errc::kSyncWriteInProgress);
  ASSERT_TRUE(bucket_->SeqnoAcknowledged(0, "b", r->seqno).ok());
  EXPECT_EQ(Get("k"), "new");
  Flush();
  ASSERT_TRUE(bucket_->Shutdown().ok());
  bucket_.reset();
  Open();
  EXPECT_EQ(bucket_->GetVBucket(0)->NumPreparesInFlight(), 0u);  // the commit removed it
  EXPECT_EQ(Get("k"), "new");
  EXPECT_EQ(CurrItems(), 1);
}

TEST_F(BucketSyncWriteTest, AbortedPrepareIsGoneAfterWarmup) {
  ASSERT_TRUE(bucket_->SetVBucketState(0, VBucketState::kActive, Chain({"a", "b"})).ok());
  const SyncWriteSpec spec = Spec();
  ASSERT_TRUE(Set("k", "v", &spec).ok());
  Flush();
  clock_.Advance(std::chrono::seconds(2));
  exec_.RunReady(TaskGroup::kNonIO);
  ASSERT_EQ(waiter_->notified, 1);
  Flush();
  ASSERT_TRUE(bucket_->Shutdown().ok());
  bucket_.reset();
  Open();
  EXPECT_EQ(bucket_->GetVBucket(0)->NumPreparesInFlight(), 0u);
  EXPECT_EQ(Get("k"), "<NotFound>");
}

TEST_F(BucketSyncWriteTest, ReplicaMutationResolvingAPrepareRemovesItFromDisk) {
  ASSERT_TRUE(bucket_->SetVBucketState(0, VBucketState::kReplica).ok());
  auto vb = bucket_->GetVBucket(0);
  ASSERT_TRUE(vb->ApplySnapshotMarker(1, 1, true, false).ok());
  ASSERT_TRUE(vb->ApplyReplicatedPrepare({.key = "k", .value = "p", .seqno = 1, .cas = 5},
                                         SyncWriteLevel::kMajority)
                  .ok());
  Flush();
  // A disk snapshot's committed version of the key: the prepare was resolved meanwhile.
  ASSERT_TRUE(vb->ApplySnapshotMarker(2, 3, true, false).ok());
  ASSERT_TRUE(vb->ApplyReplicated({.key = "k", .value = "c", .seqno = 3, .cas = 7}).ok());
  EXPECT_EQ(vb->NumPreparesInFlight(), 0u);
  Flush();
  vb.reset();
  bucket_.reset();  // unclean
  Open();
  EXPECT_EQ(bucket_->GetVBucket(0)->NumPreparesInFlight(), 0u);
  auto r = bucket_->Get(0, "k", {}, false, ReadFrom::kReplica);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->value.view(), "c");
}

}  // namespace
}  // namespace sluice::engine
