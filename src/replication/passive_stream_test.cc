// PassiveStream against a real bucket (RocksDB in a temp dir, a ManualExecutor, a FakeClock):
// what it asks for, what it applies and with which metadata, which messages close it, where it
// resumes (also after a restart) and how it rolls back.
#include "replication/passive_stream.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "common/clock.h"
#include "engine/bucket.h"
#include "testing/manual_executor.h"

namespace sluice::replication {
namespace {

using protocol::McbpStatus;
using State = PassiveStream::State;

constexpr Vbid kVb = 1;
constexpr uint64_t kProducerUuid = 0xabcdef;

class PassiveStreamTest : public ::testing::Test {
 public:  // the table-driven case lambdas call the helpers
  void SetUp() override {
    char tmpl[] = "/tmp/sluice_passive_stream_test_XXXXXX";
    dir_ = mkdtemp(tmpl);
    config_.max_vbuckets = 4;
    config_.max_num_shards = 1;
    config_.max_size = 64ULL << 20;
    config_.ht_locks = 4;
    Open();
    ASSERT_TRUE(bucket_->SetVBucketState(kVb, VBucketState::kReplica).ok());
  }
  void TearDown() override {
    stream_.reset();
    bucket_.reset();
    exec_.Shutdown();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void Open() {
    engine::BucketOptions o;
    o.data_dir = dir_;
    o.config = config_;
    o.executor = &exec_;
    o.clock = &clock_;
    auto b = engine::Bucket::Open(o);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    bucket_ = *b;
    stream_ = std::make_unique<PassiveStream>(kVb, "test", *bucket_);
  }
  void Restart() {
    stream_.reset();
    ASSERT_TRUE(bucket_->Shutdown().ok());
    bucket_.reset();
    Open();
  }
  std::shared_ptr<engine::VBucket> Vb() { return bucket_->GetVBucket(kVb); }

  // Request + a Success answer carrying the producer's failover log.
  protocol::DcpStreamReqRequest Accept(std::vector<protocol::FailoverEntry> log = {
                                           {kProducerUuid, 0}}) {
    auto req = stream_->Request(++opaque_);
    EXPECT_TRUE(req.ok()) << req.status().ToString();
    client::StreamReqResult r;
    r.status = McbpStatus::kSuccess;
    r.failover_log = std::move(log);
    EXPECT_EQ(stream_->OnResponse(r), PassiveStream::AfterResponse::kReading);
    return req.ok() ? *req : protocol::DcpStreamReqRequest{};
  }
  Status Marker(uint64_t start, uint64_t end, uint32_t flags = protocol::kDcpSnapshotMemory) {
    protocol::DcpSnapshotMarker m;
    m.vbucket = kVb;
    m.opaque = opaque_;
    m.start_seqno = start;
    m.end_seqno = end;
    m.flags = flags;
    return stream_->OnMessage(client::DcpMessage(m));
  }
  Status Mutation(uint64_t seqno, const std::string& key, const std::string& value = "v") {
    client::DcpMutation m;
    m.vbucket = kVb;
    m.opaque = opaque_;
    m.by_seqno = seqno;
    m.key = key;
    m.value = value;
    m.cas = 1000 + seqno;
    m.rev_seqno = 7;
    m.flags = 0xf1a9;
    m.expiration = 0;
    m.datatype = 0;
    return stream_->OnMessage(client::DcpMessage(m));
  }
  // Writes seqnos 1..n under one marker [1, n].
  void Fill(uint64_t n) {
    ASSERT_TRUE(Marker(1, n).ok());
    for (uint64_t s = 1; s <= n; ++s) ASSERT_TRUE(Mutation(s, "k" + std::to_string(s)).ok());
  }
  void Flush() {
    for (int i = 0; i < 1000 && bucket_->QueueSize() != 0; ++i) {
      exec_.RunReady(executor::TaskGroup::kWriter);
    }
    exec_.RunReady(executor::TaskGroup::kWriter);
  }
  uint64_t Stat(std::string_view group, const std::string& key) {
    std::map<std::string, std::string> stats;
    EXPECT_TRUE(
        bucket_
            ->GetStats(group, [&](std::string_view k, std::string_view v) { stats.emplace(k, v); })
            .ok());
    return stats.count(key) != 0 ? std::stoull(stats[key]) : ~uint64_t{0};
  }

  std::string dir_;
  Config config_;
  FakeClock clock_;
  executor::ManualExecutor exec_{&clock_};
  std::shared_ptr<engine::Bucket> bucket_;
  std::unique_ptr<PassiveStream> stream_;
  uint32_t opaque_ = 0;
};

TEST_F(PassiveStreamTest, FirstRequestStartsAtZeroAndAdoptsTheProducersLog) {
  const auto req = Accept({{kProducerUuid, 0}, {0x1234, 0}});
  EXPECT_EQ(req.vbucket, kVb);
  EXPECT_EQ(req.start_seqno, 0u);
  EXPECT_EQ(req.end_seqno, ~uint64_t{0});
  EXPECT_EQ(req.vbucket_uuid, 0u);  // "don't care" from 0, as kv_engine
  EXPECT_EQ(req.snap_start_seqno, 0u);
  EXPECT_EQ(req.snap_end_seqno, 0u);
  EXPECT_EQ(stream_->state(), State::kReading);
  const auto log = Vb()->failover_table().Entries();
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].uuid, kProducerUuid);
  EXPECT_EQ(log[1].uuid, 0x1234u);
}

TEST_F(PassiveStreamTest, AppliesWithTheProducersMetadata) {
  Accept();
  ASSERT_TRUE(Marker(0, 9, protocol::kDcpSnapshotDisk | protocol::kDcpSnapshotCheckpoint).ok());
  client::DcpMutation m;
  m.vbucket = kVb;
  m.opaque = opaque_;
  m.by_seqno = 4;  // seqnos 1-3 deduplicated away by the producer
  m.key = "doc";
  m.value = R"({"a":1})";
  m.cas = 0x1700000000000001;
  m.rev_seqno = 42;
  m.flags = 0xcafe;
  m.expiration = 1'800'000'000;
  m.datatype = 0x01;
  ASSERT_TRUE(stream_->OnMessage(client::DcpMessage(m)).ok());
  client::DcpDeletion d;
  d.vbucket = kVb;
  d.opaque = opaque_;
  d.by_seqno = 6;
  d.key = "gone";
  d.cas = 0x1700000000000002;
  d.rev_seqno = 3;
  d.version = protocol::DcpDeletionVersion::kV2;
  d.delete_time = 1'700'000'123;
  ASSERT_TRUE(stream_->OnMessage(client::DcpMessage(d)).ok());
  client::DcpExpiration x;
  x.vbucket = kVb;
  x.opaque = opaque_;
  x.by_seqno = 9;
  x.key = "ttl";
  x.cas = 0x1700000000000003;
  x.rev_seqno = 5;
  x.delete_time = 1'700'000'456;
  ASSERT_TRUE(stream_->OnMessage(client::DcpMessage(x)).ok());

  auto vb = Vb();
  EXPECT_EQ(vb->high_seqno(), 9u);
  const auto s = stream_->stats();
  EXPECT_EQ(s.items, 3u);
  EXPECT_EQ(s.last_snapshot_start, 0u);
  EXPECT_EQ(s.last_snapshot_end, 9u);
  // The replica's checkpoint carries the producer's snapshot and its items, in order.
  auto reg = vb->checkpoints().RegisterCursor("check", 0, /*droppable=*/false);
  const auto items = vb->checkpoints().GetItemsForCursor(reg.cursor, 100);
  ASSERT_EQ(items.snapshots.size(), 1u);
  EXPECT_EQ(items.snapshots[0].start, 0u);
  EXPECT_EQ(items.snapshots[0].end, 9u);
  ASSERT_EQ(items.snapshots[0].items.size(), 3u);
  const auto& tomb = *items.snapshots[0].items[2];
  EXPECT_TRUE(tomb.deleted);
  EXPECT_EQ(tomb.delete_source, DeleteSource::kTtl);
  EXPECT_EQ(tomb.expiry, 1'700'000'456u);
  EXPECT_EQ(items.snapshots[0].items[1]->delete_source, DeleteSource::kExplicit);
  EXPECT_EQ(items.snapshots[0].items[1]->expiry, 1'700'000'123u);

  // Promoted, the document reads back exactly as the producer had it, and a new write gets a
  // CAS above every replicated one and the next seqno.
  ASSERT_TRUE(bucket_->SetVBucketState(kVb, VBucketState::kActive).ok());
  auto got = bucket_->Get(kVb, "doc", {});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->value.view(), R"({"a":1})");
  EXPECT_EQ(got->cas, 0x1700000000000001u);
  EXPECT_EQ(got->seqno, 4u);
  EXPECT_EQ(got->rev_seqno, 42u);
  EXPECT_EQ(got->flags, 0xcafeu);
  EXPECT_EQ(got->expiry, 1'800'000'000u);
  EXPECT_EQ(got->datatype, 0x01);
  EXPECT_EQ(bucket_->Get(kVb, "gone", {}).status().code(), Errc::kNotFound);
  engine::StoreRequest w;
  w.key = "new";
  w.value = "x";
  auto stored = bucket_->Store(kVb, w);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->seqno, 10u);
  EXPECT_GT(stored->cas, 0x1700000000000003u);
}

TEST_F(PassiveStreamTest, ItemBeforeAnyMarkerClosesTheStream) {
  Accept();
  EXPECT_FALSE(Mutation(1, "a").ok());
  EXPECT_EQ(stream_->state(), State::kPending);
  EXPECT_EQ(stream_->stats().errors, 1u);
  EXPECT_EQ(Vb()->high_seqno(), 0u);
}

TEST_F(PassiveStreamTest, OutOfOrderMessagesCloseTheStreamAndApplyNothing) {
  struct Case {
    const char* what;
    std::function<Status(PassiveStreamTest&)> bad;
  };
  const Case cases[] = {
      {"repeated seqno", [](PassiveStreamTest& t) { return t.Mutation(2, "again"); }},
      {"regressing seqno", [](PassiveStreamTest& t) { return t.Mutation(1, "back"); }},
      {"beyond the snapshot end", [](PassiveStreamTest& t) { return t.Mutation(6, "far"); }},
      {"marker inside the last snapshot", [](PassiveStreamTest& t) { return t.Marker(2, 8); }},
      {"marker ending below the last seqno", [](PassiveStreamTest& t) { return t.Marker(1, 1); }},
      {"marker start after its end", [](PassiveStreamTest& t) { return t.Marker(9, 8); }},
      {"unrequested OSO snapshot",
       [](PassiveStreamTest& t) {
         protocol::DcpOsoSnapshot oso;
         oso.vbucket = kVb;
         oso.opaque = t.opaque_;
         oso.flags = protocol::kDcpOsoSnapshotStart;
         return t.stream_->OnMessage(client::DcpMessage(oso));
       }},
  };
  uint64_t errors = 0;
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    ASSERT_TRUE(bucket_->ResetVBucket(kVb).ok());  // a fresh replica for each case
    Accept();
    ASSERT_TRUE(Marker(1, 5).ok());
    ASSERT_TRUE(Mutation(1, "a").ok());
    ASSERT_TRUE(Mutation(2, "b").ok());
    EXPECT_FALSE(c.bad(*this).ok());
    EXPECT_EQ(stream_->state(), State::kPending);
    EXPECT_EQ(stream_->stats().errors, ++errors);
    EXPECT_EQ(Vb()->high_seqno(), 2u);
    // Requested again, it resumes inside the snapshot it was in.
    auto req = stream_->Request(++opaque_);
    ASSERT_TRUE(req.ok());
    EXPECT_EQ(req->start_seqno, 2u);
    EXPECT_EQ(req->snap_start_seqno, 1u);
    EXPECT_EQ(req->snap_end_seqno, 5u);
    stream_->Reset("next case");
  }
}

TEST_F(PassiveStreamTest, ResumesFromItsSnapshotAndAfterARestart) {
  Accept();
  ASSERT_TRUE(Marker(1, 5).ok());
  ASSERT_TRUE(Mutation(1, "a").ok());
  ASSERT_TRUE(Mutation(3, "b").ok());
  stream_->Reset("connection lost");
  EXPECT_EQ(stream_->state(), State::kPending);
  auto req = stream_->Request(++opaque_);
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->start_seqno, 3u);
  EXPECT_EQ(req->snap_start_seqno, 1u);  // inside [1, 5]: a partial snapshot
  EXPECT_EQ(req->snap_end_seqno, 5u);
  EXPECT_EQ(req->vbucket_uuid, kProducerUuid);

  // The producer continues the snapshot (its first marker may start where ours did).
  client::StreamReqResult ok;
  ok.status = McbpStatus::kSuccess;
  ok.failover_log = {{kProducerUuid, 0}};
  ASSERT_EQ(stream_->OnResponse(ok), PassiveStream::AfterResponse::kReading);
  ASSERT_TRUE(Marker(1, 7).ok());
  ASSERT_TRUE(Mutation(7, "c").ok());
  EXPECT_EQ(stream_->stats().last_snapshot_end, 7u);
  stream_->Reset("connection lost");
  req = stream_->Request(++opaque_);
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->start_seqno, 7u);
  EXPECT_EQ(req->snap_start_seqno, 7u);  // a whole snapshot
  EXPECT_EQ(req->snap_end_seqno, 7u);
  ASSERT_EQ(stream_->OnResponse(ok), PassiveStream::AfterResponse::kReading);
  ASSERT_TRUE(Marker(8, 12).ok());
  ASSERT_TRUE(Mutation(9, "d").ok());

  // The snapshot range is persisted with the data: a restarted replica resumes inside it.
  Flush();
  Restart();
  req = stream_->Request(++opaque_);
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->start_seqno, 9u);
  EXPECT_EQ(req->snap_start_seqno, 8u);
  EXPECT_EQ(req->snap_end_seqno, 12u);
  EXPECT_EQ(req->vbucket_uuid, kProducerUuid);
  EXPECT_EQ(Vb()->state(), VBucketState::kReplica);
}

TEST_F(PassiveStreamTest, UncleanRestartKeepsTheProducersUuid) {
  Accept();
  Fill(3);
  Flush();
  stream_.reset();
  bucket_.reset();  // a crash: no clean-shutdown marker
  Open();
  auto req = stream_->Request(++opaque_);
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->start_seqno, 3u);
  EXPECT_EQ(req->vbucket_uuid, kProducerUuid);  // no branch of its own (kv_engine)
}

// A replica value as GET_REPLICA reads it ("" if missing).
std::string ReplicaValue(engine::Bucket& bucket, std::string_view key) {
  auto read = bucket.Get(kVb, key, engine::Waiter{}, false, engine::ReadFrom::kReplica);
  return read.ok() ? std::string(read->value.view()) : "";
}

TEST_F(PassiveStreamTest, RollbackWithinTheHistoryRewindsWithoutAReset) {
  Accept();
  Fill(8);  // k1..k8 in snapshot [1, 8]
  Flush();
  ASSERT_TRUE(Marker(9, 11).ok());
  ASSERT_TRUE(Mutation(9, "k1", "new1").ok());
  ASSERT_TRUE(Mutation(10, "kn").ok());
  ASSERT_TRUE(Mutation(11, "k2", "new2").ok());
  Flush();
  ASSERT_TRUE(Marker(12, 12).ok());
  ASSERT_TRUE(Mutation(12, "k3", "memory only").ok());  // never persisted
  stream_->Reset("reconnect");
  ASSERT_TRUE(stream_->Request(++opaque_).ok());
  client::StreamReqResult rollback;
  rollback.status = McbpStatus::kRollback;
  // The disk was at 8 or 11: it reaches 8, discarding 3 of its 9 items (under half: no reset).
  rollback.rollback_seqno = 9;
  EXPECT_EQ(stream_->OnResponse(rollback), PassiveStream::AfterResponse::kRequestAgain);
  EXPECT_EQ(Vb()->high_seqno(), 8u);
  EXPECT_EQ(ReplicaValue(*bucket_, "k1"), "v");
  EXPECT_EQ(ReplicaValue(*bucket_, "k2"), "v");
  EXPECT_EQ(ReplicaValue(*bucket_, "k3"), "v");
  EXPECT_EQ(ReplicaValue(*bucket_, "kn"), "");
  EXPECT_EQ(stream_->stats().rollbacks, 1u);
  EXPECT_EQ(stream_->stats().rollback_resets, 0u);
  EXPECT_EQ(Stat("", "ep_rollback_count"), 1u);
  EXPECT_EQ(Stat("", "ep_rollback_resets"), 0u);
  EXPECT_EQ(Stat("vbucket-details", "vb_1:rollback_item_count"), 4u);  // 9, 10, 11 and 12
  // Asked again from there, with the producer's uuid (the snapshot [1, 8] is whole at 8).
  auto req = stream_->Request(++opaque_);
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->start_seqno, 8u);
  EXPECT_EQ(req->snap_start_seqno, 8u);
  EXPECT_EQ(req->snap_end_seqno, 8u);
  EXPECT_EQ(req->vbucket_uuid, kProducerUuid);
  client::StreamReqResult ok;
  ok.status = McbpStatus::kSuccess;
  ok.failover_log = {{0x999, 8}, {kProducerUuid, 0}};
  ASSERT_EQ(stream_->OnResponse(ok), PassiveStream::AfterResponse::kReading);
  ASSERT_TRUE(Marker(9, 9).ok());
  ASSERT_TRUE(Mutation(9, "k2", "other").ok());
  EXPECT_EQ(ReplicaValue(*bucket_, "k2"), "other");
  // What was rolled back stays so after a restart.
  Flush();
  Restart();
  EXPECT_EQ(Vb()->high_seqno(), 9u);
  EXPECT_EQ(ReplicaValue(*bucket_, "k1"), "v");
  EXPECT_EQ(ReplicaValue(*bucket_, "kn"), "");
}

// kv_engine's midpoint rule: a rollback within the history that would discard at least half of
// the items on disk resets instead (midpoint_rollback_optimisation, on by default).
class PassiveStreamMidpointTest : public PassiveStreamTest,
                                  public ::testing::WithParamInterface<bool> {};

TEST_P(PassiveStreamMidpointTest, RollbackOfHalfTheItemsResetsUnlessTheRuleIsOff) {
  const bool rule = GetParam();
  config_.midpoint_rollback_optimisation = rule;
  Restart();
  Accept();
  Fill(4);
  Flush();
  ASSERT_TRUE(Marker(5, 6).ok());
  ASSERT_TRUE(Mutation(5, "k1", "new1").ok());
  ASSERT_TRUE(Mutation(6, "k2", "new2").ok());
  Flush();
  stream_->Reset("reconnect");
  ASSERT_TRUE(stream_->Request(++opaque_).ok());
  client::StreamReqResult rollback;
  rollback.status = McbpStatus::kRollback;
  rollback.rollback_seqno = 4;  // 2 of the 4 items on disk: 4 / 2 <= 2
  EXPECT_EQ(stream_->OnResponse(rollback), PassiveStream::AfterResponse::kRequestAgain);
  EXPECT_EQ(Vb()->high_seqno(), rule ? 0u : 4u);
  EXPECT_EQ(stream_->stats().rollbacks, 1u);
  EXPECT_EQ(stream_->stats().rollback_resets, rule ? 1u : 0u);
  EXPECT_EQ(Stat("", "ep_rollback_count"), 1u);
  EXPECT_EQ(Stat("", "ep_rollback_resets"), rule ? 1u : 0u);
  EXPECT_EQ(Stat("vbucket-details", "vb_1:rollback_resets"), rule ? 1u : 0u);
  auto req = stream_->Request(++opaque_);
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->start_seqno, rule ? 0u : 4u);
  if (!rule) EXPECT_EQ(ReplicaValue(*bucket_, "k1"), "v");
}

INSTANTIATE_TEST_SUITE_P(RuleOnAndOff, PassiveStreamMidpointTest, ::testing::Bool());

TEST_F(PassiveStreamTest, RollbackBeyondTheHistoryResets) {
  config_.history_retention_bytes = 0;  // no history at all
  Restart();
  Accept();
  Fill(3);
  Flush();
  ASSERT_TRUE(Marker(4, 5).ok());
  ASSERT_TRUE(Mutation(4, "k1", "new1").ok());
  ASSERT_TRUE(Mutation(5, "k2", "new2").ok());
  Flush();
  stream_->Reset("reconnect");
  ASSERT_TRUE(stream_->Request(++opaque_).ok());
  client::StreamReqResult rollback;
  rollback.status = McbpStatus::kRollback;
  rollback.rollback_seqno = 3;
  EXPECT_EQ(stream_->OnResponse(rollback), PassiveStream::AfterResponse::kRequestAgain);
  EXPECT_EQ(Vb()->high_seqno(), 0u);
  EXPECT_EQ(stream_->stats().rollback_resets, 1u);
  EXPECT_EQ(Stat("", "ep_rollback_count"), 1u);
  EXPECT_EQ(Stat("", "ep_rollback_resets"), 1u);
}

TEST_F(PassiveStreamTest, RollbackBelowTheHighSeqnoResetsTheVbucket) {
  Accept();
  Fill(5);
  Flush();
  stream_->Reset("reconnect");
  auto req = stream_->Request(++opaque_);
  ASSERT_TRUE(req.ok());
  client::StreamReqResult rollback;
  rollback.status = McbpStatus::kRollback;
  rollback.rollback_seqno = 2;
  EXPECT_EQ(stream_->OnResponse(rollback), PassiveStream::AfterResponse::kRequestAgain);
  EXPECT_EQ(stream_->state(), State::kPending);
  EXPECT_EQ(Vb()->high_seqno(), 0u);
  EXPECT_EQ(Vb()->state(), VBucketState::kReplica);
  EXPECT_EQ(stream_->stats().rollbacks, 1u);
  EXPECT_EQ(stream_->stats().rollback_resets, 1u);
  EXPECT_EQ(Stat("", "ep_rollback_resets"), 1u);
  EXPECT_EQ(Stat("vbucket-details", "vb_1:rollback_resets"), 1u);
  // Asked again from 0, it copies everything.
  req = stream_->Request(++opaque_);
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->start_seqno, 0u);
  EXPECT_EQ(req->vbucket_uuid, 0u);
  client::StreamReqResult ok;
  ok.status = McbpStatus::kSuccess;
  ok.failover_log = {{0x777, 0}};
  ASSERT_EQ(stream_->OnResponse(ok), PassiveStream::AfterResponse::kReading);
  Fill(2);
  EXPECT_EQ(Vb()->high_seqno(), 2u);
  // The reset survives a restart: nothing of the old copy comes back.
  Flush();
  Restart();
  EXPECT_EQ(Vb()->high_seqno(), 2u);
  EXPECT_EQ(Vb()->failover_table().Latest().uuid, 0x777u);
}

TEST_F(PassiveStreamTest, RollbackAtTheHighSeqnoKeepsTheData) {
  Accept();
  ASSERT_TRUE(Marker(1, 5).ok());
  ASSERT_TRUE(Mutation(1, "a").ok());
  ASSERT_TRUE(Mutation(2, "b").ok());
  stream_->Reset("connection lost");
  ASSERT_TRUE(stream_->Request(++opaque_).ok());
  client::StreamReqResult rollback;
  rollback.status = McbpStatus::kRollback;
  rollback.rollback_seqno = 2;
  EXPECT_EQ(stream_->OnResponse(rollback), PassiveStream::AfterResponse::kRequestAgain);
  EXPECT_EQ(Vb()->high_seqno(), 2u);
  EXPECT_EQ(stream_->stats().rollback_resets, 0u);
  auto req = stream_->Request(++opaque_);
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->start_seqno, 2u);
  EXPECT_EQ(req->snap_start_seqno, 2u);
  EXPECT_EQ(req->snap_end_seqno, 2u);
}

TEST_F(PassiveStreamTest, RefusalsAndStreamEndGoBackToPending) {
  ASSERT_TRUE(stream_->Request(++opaque_).ok());
  client::StreamReqResult nmvb;
  nmvb.status = McbpStatus::kNotMyVbucket;
  EXPECT_EQ(stream_->OnResponse(nmvb), PassiveStream::AfterResponse::kRetryLater);
  EXPECT_EQ(stream_->state(), State::kPending);
  Accept();
  protocol::DcpStreamEnd end;
  end.vbucket = kVb;
  end.opaque = opaque_;
  end.status = protocol::DcpStreamEndStatus::kStateChanged;
  EXPECT_TRUE(stream_->OnMessage(client::DcpMessage(end)).ok());
  EXPECT_EQ(stream_->state(), State::kPending);
  stream_->Close();
  EXPECT_EQ(stream_->state(), State::kDead);
}

TEST_F(PassiveStreamTest, OnlyAReplicaIsStreamedInto) {
  ASSERT_TRUE(bucket_->SetVBucketState(kVb, VBucketState::kActive).ok());
  EXPECT_EQ(stream_->Request(++opaque_).status().code(), Errc::kNotMyVbucket);
  EXPECT_EQ(stream_->state(), State::kPending);
  ASSERT_TRUE(bucket_->SetVBucketState(kVb, VBucketState::kReplica).ok());
  Accept();
  ASSERT_TRUE(Marker(1, 5).ok());
  ASSERT_TRUE(Mutation(1, "a").ok());
  // Promoted mid-stream: the next change is refused and the stream closes.
  ASSERT_TRUE(bucket_->SetVBucketState(kVb, VBucketState::kActive).ok());
  EXPECT_FALSE(Mutation(2, "b").ok());
  EXPECT_EQ(stream_->state(), State::kPending);
  EXPECT_EQ(bucket_->ResetVBucket(kVb).status().code(), Errc::kNotMyVbucket);  // not a replica
}

TEST_F(PassiveStreamTest, MemoryMarkersContinueOneCheckpoint) {
  Accept();
  ASSERT_TRUE(Marker(1, 2).ok());
  ASSERT_TRUE(Mutation(1, "a").ok());
  ASSERT_TRUE(Mutation(2, "b").ok());
  const auto before = Vb()->checkpoints().GetStats().num_checkpoints;
  ASSERT_TRUE(Marker(3, 4).ok());  // memory after memory, no checkpoint flag: extends
  ASSERT_TRUE(Mutation(3, "c").ok());
  EXPECT_EQ(Vb()->checkpoints().GetStats().num_checkpoints, before);
  ASSERT_TRUE(Marker(5, 6, protocol::kDcpSnapshotMemory | protocol::kDcpSnapshotCheckpoint).ok());
  ASSERT_TRUE(Mutation(5, "d").ok());
  EXPECT_EQ(Vb()->checkpoints().GetStats().num_checkpoints, before + 1);
}

}  // namespace
}  // namespace sluice::replication
