// PassiveStream and SyncWrites against a real bucket: DCP_PREPARE / DCP_COMMIT / DCP_ABORT are
// applied with the producer's seqnos (a prepare invisible until committed), and the high prepared
// seqno is acknowledged at snapshot end for majority, once persisted for persistToMajority.
#include <gtest/gtest.h>

#include <filesystem>

#include "engine/bucket.h"
#include "protocol/dcp_sync_write.h"
#include "protocol/opcode.h"
#include "replication/passive_stream.h"
#include "testing/manual_executor.h"

namespace sluice::replication {
namespace {

using protocol::McbpStatus;
using protocol::Opcode;
using Level = engine::SyncWriteLevel;

constexpr Vbid kSyncVb = 1;

class PassiveStreamSyncWriteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice_passive_sync_test_XXXXXX";
    dir_ = mkdtemp(tmpl);
    config_.max_vbuckets = 4;
    config_.max_num_shards = 1;
    config_.max_size = 64ULL << 20;
    config_.ht_locks = 4;
    engine::BucketOptions o;
    o.data_dir = dir_;
    o.config = config_;
    o.executor = &exec_;
    o.clock = &clock_;
    auto b = engine::Bucket::Open(o);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    bucket_ = *b;
    ASSERT_TRUE(bucket_->SetVBucketState(kSyncVb, VBucketState::kReplica).ok());
    stream_ = std::make_unique<PassiveStream>(kSyncVb, "test", *bucket_);
    auto req = stream_->Request(opaque_);
    ASSERT_TRUE(req.ok());
    client::StreamReqResult r;
    r.status = McbpStatus::kSuccess;
    r.failover_log = {{0x1234, 0}};
    ASSERT_EQ(stream_->OnResponse(r), PassiveStream::AfterResponse::kReading);
  }
  void TearDown() override {
    stream_.reset();
    bucket_.reset();
    exec_.Shutdown();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  Status Marker(uint64_t start, uint64_t end) {
    protocol::DcpSnapshotMarker m;
    m.vbucket = kSyncVb;
    m.opaque = opaque_;
    m.start_seqno = start;
    m.end_seqno = end;
    m.flags = protocol::kDcpSnapshotMemory;
    return stream_->OnMessage(client::DcpMessage(m));
  }
  // `wire` (one encoded request) as the client hands it over.
  Status Send(const std::string& wire) {
    const protocol::DecodeResult d = protocol::DecodeFrame(wire, 1 << 20);
    EXPECT_EQ(d.status, protocol::DecodeStatus::kOk);
    const protocol::Frame& f = d.frame;
    return stream_->OnMessage(client::DcpMessage(
        client::DcpOtherRequest{f.magic, f.opcode, f.vbucket(), f.opaque, f.cas, f.datatype,
                                std::string(f.extras), std::string(f.key), std::string(f.value)}));
  }
  Status Prepare(uint64_t seqno, const std::string& key, Level level, bool deleted = false) {
    protocol::DcpPrepare p;
    p.vbucket = kSyncVb;
    p.opaque = opaque_;
    p.cas = 500 + seqno;
    p.by_seqno = seqno;
    p.rev_seqno = 3;
    p.deleted = deleted;
    p.durability_level = static_cast<uint8_t>(level);
    const std::string value = deleted ? "" : "prepared-" + key;
    p.key = key;
    p.value = value;
    std::string wire;
    protocol::AppendDcpPrepare(&wire, p, false);
    return Send(wire);
  }
  Status Resolve(Opcode op, const std::string& key, uint64_t prepared, uint64_t seqno) {
    std::string wire;
    protocol::AppendDcpResolution(&wire, static_cast<uint8_t>(op),
                                  {.vbucket = kSyncVb,
                                   .opaque = opaque_,
                                   .prepared_seqno = prepared,
                                   .seqno = seqno,
                                   .key = key},
                                  false);
    return Send(wire);
  }
  std::string Replica(const std::string& key) {
    auto r = bucket_->Get(kSyncVb, key, {}, false, engine::ReadFrom::kReplica);
    return r.ok() ? std::string(r->value.view()) : "<none>";
  }
  void Flush() {
    for (int i = 0; i < 100 && bucket_->QueueSize() != 0; ++i) {
      exec_.RunReady(executor::TaskGroup::kWriter);
    }
  }

  std::string dir_;
  Config config_;
  FakeClock clock_;
  executor::ManualExecutor exec_{&clock_};
  std::shared_ptr<engine::Bucket> bucket_;
  std::unique_ptr<PassiveStream> stream_;
  uint32_t opaque_ = 9;
};

TEST_F(PassiveStreamSyncWriteTest, PrepareIsInvisibleUntilCommitted) {
  ASSERT_TRUE(Marker(1, 3).ok());
  ASSERT_TRUE(Prepare(1, "k", Level::kMajority).ok());
  EXPECT_EQ(Replica("k"), "<none>");
  EXPECT_EQ(bucket_->GetVBucket(kSyncVb)->NumPreparesInFlight(), 1u);
  ASSERT_TRUE(Resolve(Opcode::kDcpCommit, "k", 1, 2).ok());
  EXPECT_EQ(Replica("k"), "prepared-k");
  EXPECT_EQ(bucket_->GetVBucket(kSyncVb)->NumPreparesInFlight(), 0u);
  EXPECT_EQ(bucket_->GetVBucket(kSyncVb)->high_seqno(), 2u);
  // An abort drops a prepare; a commit of one it does not hold closes the stream.
  ASSERT_TRUE(Prepare(3, "a", Level::kMajority).ok());
  ASSERT_TRUE(Marker(4, 5).ok());
  ASSERT_TRUE(Resolve(Opcode::kDcpAbort, "a", 3, 4).ok());
  EXPECT_EQ(Replica("a"), "<none>");
  EXPECT_FALSE(Resolve(Opcode::kDcpCommit, "a", 3, 5).ok());
  EXPECT_EQ(stream_->state(), PassiveStream::State::kPending);
}

TEST_F(PassiveStreamSyncWriteTest, MajorityIsAcknowledgedAtSnapshotEnd) {
  ASSERT_TRUE(Marker(1, 3).ok());
  ASSERT_TRUE(Prepare(1, "x", Level::kMajority).ok());
  ASSERT_TRUE(Prepare(2, "y", Level::kMajorityAndPersistOnMaster).ok());
  EXPECT_EQ(stream_->TakeSeqnoAck(), std::nullopt);  // the snapshot is not whole yet
  ASSERT_TRUE(Resolve(Opcode::kDcpCommit, "x", 1, 3).ok());
  EXPECT_EQ(stream_->TakeSeqnoAck(), std::optional<uint64_t>(2));
  EXPECT_EQ(stream_->TakeSeqnoAck(), std::nullopt);  // acknowledged once
}

// Records what the flusher tells the replicator.
class SyncedVBuckets final : public engine::ReplicaPersistenceObserver {
 public:
  void OnReplicaSynced(Vbid vb) override { told.push_back(vb); }
  std::vector<Vbid> told;
};

TEST_F(PassiveStreamSyncWriteTest, PersistToMajorityIsAcknowledgedOncePersisted) {
  auto observer = std::make_shared<SyncedVBuckets>();
  bucket_->SetReplicaPersistenceObserver(observer);
  ASSERT_TRUE(Marker(1, 2).ok());
  ASSERT_TRUE(Prepare(1, "p", Level::kPersistToMajority).ok());
  ASSERT_TRUE(Prepare(2, "m", Level::kMajority).ok());
  EXPECT_TRUE(stream_->AwaitsPersistence());
  EXPECT_EQ(stream_->TakeSeqnoAck(), std::nullopt);  // in order: m waits behind p
  // The prepare makes the flusher sync (persisted means fsynced), and tell the observer.
  EXPECT_TRUE(bucket_->GetVBucket(kSyncVb)->HasPersistenceWaiters());
  Flush();
  EXPECT_GE(bucket_->GetVBucket(kSyncVb)->synced_seqno(), 2u);
  EXPECT_EQ(observer->told, std::vector<Vbid>{kSyncVb});
  EXPECT_EQ(stream_->TakeSeqnoAck(), std::optional<uint64_t>(2));
  EXPECT_FALSE(stream_->AwaitsPersistence());
}

TEST_F(PassiveStreamSyncWriteTest, MajorityPreparesDoNotMakeTheReplicaSync) {
  ASSERT_TRUE(Marker(1, 1).ok());
  ASSERT_TRUE(Prepare(1, "m", Level::kMajority).ok());
  EXPECT_FALSE(bucket_->GetVBucket(kSyncVb)->HasPersistenceWaiters());
}

TEST_F(PassiveStreamSyncWriteTest, PromotedReplicaCommitsWhatItHolds) {
  ASSERT_TRUE(Marker(1, 1).ok());
  ASSERT_TRUE(Prepare(1, "k", Level::kMajority).ok());
  Flush();
  ASSERT_TRUE(bucket_->SetVBucketState(kSyncVb, VBucketState::kActive).ok());
  auto r = bucket_->Get(kSyncVb, "k", {});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->value.view(), "prepared-k");
}

TEST_F(PassiveStreamSyncWriteTest, MutationOfTheKeyDropsItsPrepare) {
  ASSERT_TRUE(Marker(1, 2).ok());
  ASSERT_TRUE(Prepare(1, "k", Level::kMajority).ok());
  client::DcpMutation m;
  m.vbucket = kSyncVb;
  m.opaque = opaque_;
  m.by_seqno = 2;
  m.key = "k";
  m.value = "committed";
  ASSERT_TRUE(stream_->OnMessage(client::DcpMessage(m)).ok());
  EXPECT_EQ(bucket_->GetVBucket(kSyncVb)->NumPreparesInFlight(), 0u);
  EXPECT_EQ(Replica("k"), "committed");
}

}  // namespace
}  // namespace sluice::replication
