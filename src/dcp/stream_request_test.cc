// Producer::StreamRequest: kv_engine's order of checks and every branch of the rollback decision
// as a consumer meets them (the FailoverTable's own unit tests are in
// engine/failover_table_test.cc), plus FromLatest / ToLatest / DiskOnly.
#include <gtest/gtest.h>

#include "storage/kvstore.h"
#include "testing/dcp_unit_util.h"

namespace sluice::dcp {
namespace {

using protocol::DcpStreamEndStatus;
using testing::DcpTest;
using testing::FakeNotifier;
using testing::Msg;
using testing::OfVb;

using testing::kMaxSeqno;

class StreamRequestTest : public DcpTest {
 protected:
  void SetUp() override {
    DcpTest::SetUp();
    notifier_ = std::make_shared<FakeNotifier>();
  }
  std::shared_ptr<Producer> Fresh() { return Open("c" + std::to_string(++n_), notifier_); }
  uint64_t Uuid(Vbid vb) { return bucket_->GetVBucket(vb)->uuid(); }

  std::shared_ptr<FakeNotifier> notifier_;
  int n_ = 0;
};

TEST_F(StreamRequestTest, NotMyVbucket) {
  OpenBucket();
  auto p = Fresh();
  EXPECT_EQ(Req(*p, kNumVbuckets).status.code(), Errc::kNotMyVbucket);  // no such vbucket
  ASSERT_TRUE(bucket_->SetVBucketState(3, VBucketState::kReplica).ok());
  // kv_engine: a replica may be streamed from, unless the request asks for an active vbucket.
  EXPECT_EQ(Req(*p, 3, 0, kMaxSeqno, protocol::kDcpStreamActiveVbOnly).status.code(),
            Errc::kNotMyVbucket);
  EXPECT_TRUE(Req(*p, 3).status.ok());
  ASSERT_TRUE(bucket_->SetVBucketState(3, VBucketState::kDead).ok());
  EXPECT_EQ(Req(*Fresh(), 3).status.code(), Errc::kNotMyVbucket);
  ASSERT_TRUE(bucket_->DeleteVBucket(3).ok());
  EXPECT_EQ(Req(*p, 3).status.code(), Errc::kNotMyVbucket);
}

TEST_F(StreamRequestTest, RangeErrors) {
  OpenBucket();
  WriteMany(0, 10);
  auto p = Fresh();
  const uint64_t uuid = Uuid(0);
  EXPECT_EQ(Req(*p, 0, 5, 4, 0, uuid).status.code(), Errc::kRange);  // start > end
  EXPECT_EQ(Req(*p, 0, 5, kMaxSeqno, 0, uuid, 6, 8).status.code(),
            Errc::kRange);  // snap_start > start
  EXPECT_EQ(Req(*p, 0, 5, kMaxSeqno, 0, uuid, 2, 4).status.code(),
            Errc::kRange);  // start > snap_end
  // DiskOnly: the end becomes the persisted seqno (0: nothing flushed), below the start.
  EXPECT_EQ(Req(*p, 0, 5, kMaxSeqno, protocol::kDcpStreamDiskOnly, uuid).status.code(),
            Errc::kRange);
  EXPECT_EQ(Req(*p, 0, 0, kMaxSeqno, 0, 0, 0, 0, "not json").status.code(), Errc::kInvalid);
  EXPECT_EQ(Req(*p, 0, 0, kMaxSeqno, 0x8000).status.code(), Errc::kInvalid);  // unknown flag
  EXPECT_EQ(Req(*p, 0, 0, kMaxSeqno, protocol::kDcpStreamTakeOver).status.code(),
            Errc::kNotSupported);
  // None of these left a stream behind.
  EXPECT_TRUE(Req(*p, 0).status.ok());
}

TEST_F(StreamRequestTest, ExistingLiveStreamIsRefusedADeadOneReplaced) {
  OpenBucket();
  WriteMany(0, 5);
  auto p = Fresh();
  ASSERT_TRUE(Req(*p, 0).status.ok());
  EXPECT_EQ(Req(*p, 0).status.code(), Errc::kExists);
  // A stream that ended (its STREAM_END not yet sent) may be replaced.
  ASSERT_TRUE(p->Control("send_stream_end_on_client_close_stream", "true").ok());
  ASSERT_TRUE(p->CloseStream(0).ok());
  EXPECT_TRUE(Req(*p, 0).status.ok());
  const auto v = OfVb(Pump(*p), 0);
  // Only the new stream's messages: the old STREAM_END was dropped with the old stream.
  for (const auto& m : v) EXPECT_FALSE(m.is_end());
  EXPECT_EQ(v.front().opaque, 0x1000u);
}

TEST_F(StreamRequestTest, RollbackDecisionBranches) {
  OpenBucket();
  WriteMany(0, 10);  // seqnos 1..10
  auto p = Fresh();
  const uint64_t uuid = Uuid(0);
  // start 0, uuid 0: never a rollback.
  EXPECT_TRUE(Req(*p, 0, 0, kMaxSeqno, 0, 0).status.ok());
  ASSERT_TRUE(p->CloseStream(0).ok());
  // start 0 with an unknown uuid: only StrictVbUuid checks it.
  EXPECT_TRUE(Req(*p, 0, 0, kMaxSeqno, 0, 12345).status.ok());
  ASSERT_TRUE(p->CloseStream(0).ok());
  StreamRequestResult r = Req(*p, 0, 0, kMaxSeqno, protocol::kDcpStreamStrictVbUuid, 12345);
  EXPECT_EQ(r.status.code(), Errc::kRollback);
  EXPECT_EQ(r.rollback_seqno, 0u);
  // Unknown uuid with a start: roll back to 0.
  r = Req(*p, 0, 5, kMaxSeqno, 0, 12345);
  EXPECT_EQ(r.status.code(), Errc::kRollback);
  EXPECT_EQ(r.rollback_seqno, 0u);
  // The consumer is ahead of us (it saw seqnos we do not have): back to our high seqno.
  r = Req(*p, 0, 15, kMaxSeqno, 0, uuid, 12, 15);
  EXPECT_EQ(r.status.code(), Errc::kRollback);
  EXPECT_EQ(r.rollback_seqno, 10u);
  // Known uuid, inside our history: resume.
  r = Req(*p, 0, 7, kMaxSeqno, 0, uuid, 5, 9);
  EXPECT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.failover_log.size(), 1u);
  EXPECT_EQ(r.failover_log[0].uuid, uuid);
}

TEST_F(StreamRequestTest, SnapshotStraddlingAFailoverPointAfterAnUncleanRestart) {
  OpenBucket();
  WriteMany(0, 10);
  Flush();                                                                // 1..10 persisted
  for (int i = 10; i < 15; ++i) Set(0, "late" + std::to_string(i), "v");  // 11..15 in memory
  const uint64_t old_uuid = Uuid(0);
  Restart(/*clean=*/false);  // a crash: 11..15 are lost and a new branch starts at 10
  ASSERT_EQ(bucket_->GetVBucket(0)->high_seqno(), 10u);
  const auto log = *bucket_->GetFailoverLog(0);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].seqno, 10u);
  EXPECT_EQ(log[1].uuid, old_uuid);
  WriteMany(0, 3, "new");  // 11..13 on the new branch

  auto p = Fresh();
  // The consumer saw 11 and 12 of the old branch, inside snapshot [11, 15]: roll back to the
  // branch point.
  StreamRequestResult r = Req(*p, 0, 12, kMaxSeqno, 0, old_uuid, 11, 15);
  EXPECT_EQ(r.status.code(), Errc::kRollback);
  EXPECT_EQ(r.rollback_seqno, 10u);
  // Its snapshot [8, 15] began before the branch point: roll back to the snapshot start.
  r = Req(*p, 0, 12, kMaxSeqno, 0, old_uuid, 8, 15);
  EXPECT_EQ(r.status.code(), Errc::kRollback);
  EXPECT_EQ(r.rollback_seqno, 8u);
  // It completed snapshot [11, 15] (start == snap_end): the start counts as the snapshot start.
  r = Req(*p, 0, 15, kMaxSeqno, 0, old_uuid, 11, 15);
  EXPECT_EQ(r.status.code(), Errc::kRollback);
  EXPECT_EQ(r.rollback_seqno, 10u);
  // It stopped exactly at the branch point: nothing to undo, it resumes on the new branch.
  r = Req(*p, 0, 10, kMaxSeqno, 0, old_uuid, 10, 10);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  EXPECT_EQ(r.failover_log, log);
  const auto v = OfVb(Pump(*p), 0);
  ASSERT_FALSE(v.empty());
  EXPECT_EQ(v[1].seqno, 11u);
}

TEST_F(StreamRequestTest, PurgedTombstonesForceARollbackUnlessExcused) {
  OpenBucket();
  WriteMany(0, 10);
  CloseBucket(/*clean=*/true);
  {
    // Pretend a compaction purged tombstones up to seqno 5.
    auto store = storage::OpenRocksDBKVStore(dir_ + "/default", {});
    ASSERT_TRUE(store.ok());
    auto states = (*store)->LoadVBucketStates();
    ASSERT_TRUE(states.ok());
    storage::VBucketStateRecord rec = states->at(0);
    rec.purge_seqno = 5;
    ASSERT_TRUE((*store)->SaveVBucketState(0, rec, true).ok());
    ASSERT_TRUE((*store)->Close().ok());
  }
  OpenBucket();
  ASSERT_EQ(bucket_->GetVBucket(0)->purge_seqno(), 5u);
  const uint64_t uuid = Uuid(0);
  auto p = Fresh();
  StreamRequestResult r = Req(*p, 0, 3, kMaxSeqno, 0, uuid);
  EXPECT_EQ(r.status.code(), Errc::kRollback);
  EXPECT_EQ(r.rollback_seqno, 0u);
  // From 0 there is nothing the consumer could have missed.
  EXPECT_TRUE(Req(*p, 0, 0, kMaxSeqno, 0, uuid).status.ok());
  ASSERT_TRUE(p->CloseStream(0).ok());
  // The consumer says it saw that purge already.
  r = Req(*p, 0, 3, kMaxSeqno, 0, uuid, 3, 3, R"({"purge_seqno":"5"})");
  EXPECT_TRUE(r.status.ok()) << r.status.ToString();
  ASSERT_TRUE(p->CloseStream(0).ok());
  // Or it does not care about purged tombstones; the backfill then skips its own purge check.
  r = Req(*p, 0, 3, kMaxSeqno, protocol::kDcpStreamIgnorePurgedTombstones, uuid);
  ASSERT_TRUE(r.status.ok()) << r.status.ToString();
  const auto v = OfVb(Pump(*p), 0);
  ASSERT_FALSE(v.empty());
  EXPECT_TRUE(v[0].is_marker());
  EXPECT_EQ(v[1].seqno, 4u);
}

TEST_F(StreamRequestTest, FromLatestToLatestDiskOnly) {
  OpenBucket();
  WriteMany(0, 10);
  Flush();
  WriteMany(0, 5, "more");  // 11..15, not persisted
  auto p = Fresh();
  // FromLatest: starts at the high seqno (uuid filled in); only new writes arrive.
  ASSERT_TRUE(Req(*p, 0, 0, kMaxSeqno, protocol::kDcpStreamFromLatest).status.ok());
  // ToLatest: ends at today's high seqno although more writes follow.
  ASSERT_TRUE(Req(*p, 1, 0, kMaxSeqno, protocol::kDcpStreamToLatest).status.ok());
  // DiskOnly: ends at the persisted seqno and reads only from disk.
  ASSERT_TRUE(Req(*p, 2, 0, kMaxSeqno, protocol::kDcpStreamDiskOnly).status.ok());
  WriteMany(1, 3);
  WriteMany(2, 3);
  Flush();
  // vb1 and vb2 had nothing at request time: end == start == 0, so they end at once.
  auto msgs = PumpUntilEnded(*p, {1, 2});
  EXPECT_EQ(OfVb(msgs, 1).size(), 1u);
  EXPECT_EQ(OfVb(msgs, 2).size(), 1u);
  Set(0, "after", "x");
  msgs = Pump(*p);
  auto v = OfVb(msgs, 0);
  ASSERT_EQ(v.size(), 2u);
  EXPECT_EQ(v[1].seqno, 16u);
  EXPECT_EQ(v[1].key, "after");
}

TEST_F(StreamRequestTest, DiskOnlyReadsOnlyWhatWasPersisted) {
  OpenBucket();
  WriteMany(0, 10);
  Flush();
  WriteMany(0, 5, "more");  // 11..15, not persisted at the request
  auto q = Fresh();
  ASSERT_TRUE(Req(*q, 0, 0, kMaxSeqno, protocol::kDcpStreamDiskOnly).status.ok());
  const auto d = OfVb(PumpUntilEnded(*q, {0}), 0);
  size_t items = 0;
  uint64_t last = 0;
  for (const auto& m : d) {
    if (m.is_item()) {
      ++items;
      last = m.seqno;
    }
  }
  EXPECT_EQ(items, 10u);
  EXPECT_EQ(last, 10u);
  EXPECT_EQ(d.front().snap_flags, protocol::kDcpSnapshotDisk | protocol::kDcpSnapshotCheckpoint);
  EXPECT_EQ(d.front().snap_end, 10u);
  EXPECT_EQ(d.back().status, DcpStreamEndStatus::kOk);
}

TEST_F(StreamRequestTest, ToLatestStopsAtTheHighSeqnoOfTheRequest) {
  OpenBucket();
  WriteMany(0, 10);
  auto p = Fresh();
  ASSERT_TRUE(Req(*p, 0, 0, kMaxSeqno, protocol::kDcpStreamToLatest).status.ok());
  WriteMany(0, 5, "later");
  const auto v = OfVb(PumpUntilEnded(*p, {0}), 0);
  size_t items = 0;
  for (const auto& m : v) {
    if (m.is_item()) {
      ++items;
      EXPECT_LE(m.seqno, 10u);
    }
    if (m.is_marker()) EXPECT_LE(m.snap_end, 10u);
  }
  EXPECT_EQ(items, 10u);
  EXPECT_EQ(v.back().status, DcpStreamEndStatus::kOk);
}

TEST_F(StreamRequestTest, NoMemoryAboveTheBackfillThreshold) {
  config_.backfill_mem_threshold = 0.00001;  // a few hundred bytes of 64 MiB
  config_.max_size = 64ULL << 20;
  OpenBucket();
  WriteMany(0, 50);
  auto p = Fresh();
  EXPECT_EQ(Req(*p, 0).status.code(), Errc::kNoMemory);
}

TEST_F(StreamRequestTest, DisconnectedProducerRefusesEverything) {
  OpenBucket();
  auto p = Fresh();
  p->Disconnect();
  EXPECT_EQ(Req(*p, 0).status.code(), Errc::kDisconnect);
  EXPECT_EQ(p->Control("enable_noop", "true").code(), Errc::kDisconnect);
  EXPECT_EQ(p->CloseStream(0).code(), Errc::kDisconnect);
  StepResult r;
  StepOnce(*p, 1 << 20, &r);
  EXPECT_EQ(r, StepResult::kDisconnect);
}

TEST_F(StreamRequestTest, FailoverLogAndOpenValidation) {
  OpenBucket();
  auto p = Fresh();
  auto log = p->GetFailoverLog(0);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(*log, *bucket_->GetFailoverLog(0));
  EXPECT_EQ(p->GetFailoverLog(kNumVbuckets).status().code(), Errc::kNotMyVbucket);
  ProducerOptions consumer;
  consumer.name = "consumer";
  consumer.open_flags = 0;
  EXPECT_EQ(conn_map_->NewProducer(consumer).status().code(), Errc::kNotSupported);
  ProducerOptions bad;
  bad.name = "bad";
  bad.open_flags = protocol::kDcpOpenProducer | protocol::kDcpOpenInvalid;
  EXPECT_EQ(conn_map_->NewProducer(bad).status().code(), Errc::kInvalid);
}

}  // namespace
}  // namespace sluice::dcp
