// DCP over TCP: every branch of the stream request's rollback decision (kv_engine's
// FailoverTable::needsRollback), before and after an unclean restart, and the stream request's
// other answers: ERANGE, KEY_EEXISTS, NOT_MY_VBUCKET, NOT_SUPPORTED, and the FromLatest / ToLatest
// / DiskOnly flags.
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "protocol/dcp_codec.h"
#include "testing/dcp_wire_util.h"

namespace sluice::testing {
namespace {

using protocol::DcpStreamEndStatus;
using protocol::DcpStreamReqRequest;
using protocol::McbpStatus;
using ::testing::IsEmpty;

constexpr uint64_t kBogusUuid = 0xdeadbeefcafe;
constexpr uint64_t kNoEnd = ~uint64_t{0};

DcpStreamReqRequest Req(Vbid vb, uint64_t start, uint64_t snap_start, uint64_t snap_end,
                        uint64_t uuid, uint32_t flags = 0, uint64_t end = kNoEnd) {
  DcpStreamReqRequest r;
  r.vbucket = vb;
  r.flags = flags;
  r.start_seqno = start;
  r.end_seqno = end;
  r.vbucket_uuid = uuid;
  r.snap_start_seqno = snap_start;
  r.snap_end_seqno = snap_end;
  return r;
}

// kv_engine's rule for a consumer on the branch `upper` ends at (no purge involved): nullopt for
// no rollback, else the seqno to roll back to.
std::optional<uint64_t> ExpectedRollback(uint64_t start, uint64_t snap_start, uint64_t snap_end,
                                         uint64_t upper) {
  if (start == snap_start) snap_end = start;
  if (snap_end <= upper) return std::nullopt;
  if (start == snap_end) snap_start = start;
  return upper < snap_start ? upper : snap_start;
}

class DcpRollbackTest : public DcpTest {
 protected:
  static constexpr Vbid kVb = 3;

  void SetUp() override {
    DcpTest::SetUp();
    if (HasFatalFailure()) return;
    kv_ = Connect();
    ASSERT_TRUE(kv_);
    writer_ = std::make_unique<TrackedWriter>(*kv_);
  }

  // Writes `n` new keys to vb `vb`; returns the vbucket's high seqno after them.
  uint64_t WriteTo(Vbid vb, int n, size_t value_size = 5) {
    const std::string value(value_size, 'v');
    for (int i = 0; i < n; ++i) {
      EXPECT_TRUE(writer_->Set(KeyInVbucket("key", vb, vbuckets(), &next_key_), value));
    }
    return writer_->high_seqnos().at(vb);
  }

  // A consumer with one stream request; the answer.
  client::StreamReqResult Request(const DcpStreamReqRequest& request,
                                  std::unique_ptr<DcpConsumer>* keep = nullptr) {
    auto consumer = OpenConsumer({.name = "rollback-" + std::to_string(++consumers_)});
    if (consumer == nullptr) return {};
    auto r = consumer->Stream(request);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (keep != nullptr) *keep = std::move(consumer);
    return r.ok() ? *r : client::StreamReqResult{.status = kNoAnswer};
  }

  void ExpectRollback(const DcpStreamReqRequest& request, uint64_t seqno) {
    const client::StreamReqResult r = Request(request);
    EXPECT_EQ(r.status, McbpStatus::kRollback)
        << "start " << request.start_seqno << " snapshot [" << request.snap_start_seqno << ", "
        << request.snap_end_seqno << "] uuid " << request.vbucket_uuid;
    if (r.status == McbpStatus::kRollback) EXPECT_EQ(r.rollback_seqno, seqno);
  }

  void ExpectStatus(const DcpStreamReqRequest& request, McbpStatus status) {
    EXPECT_EQ(Request(request).status, status)
        << "vb:" << request.vbucket << " start " << request.start_seqno << " end "
        << request.end_seqno << " snapshot [" << request.snap_start_seqno << ", "
        << request.snap_end_seqno << "] uuid " << request.vbucket_uuid << " flags "
        << request.flags;
  }

  uint64_t Uuid(Vbid vb) {
    auto log = FailoverLog(vb);
    return log.empty() ? 0 : log.front().vbucket_uuid;
  }

  std::unique_ptr<client::Connection> kv_;
  std::unique_ptr<TrackedWriter> writer_;
  uint32_t next_key_ = 0;
  int consumers_ = 0;
};

TEST_F(DcpRollbackTest, StartZeroWithoutStrictUuidNeverRollsBack) {
  const uint64_t high = WriteTo(kVb, 10);
  std::unique_ptr<DcpConsumer> c;
  auto r = Request(Req(kVb, 0, 0, 0, 0, protocol::kDcpStreamToLatest), &c);
  ASSERT_EQ(r.status, McbpStatus::kSuccess);
  ASSERT_EQ(r.failover_log.size(), 1u);
  EXPECT_EQ(r.failover_log[0].vbucket_uuid, Uuid(kVb));
  EXPECT_EQ(r.failover_log[0].seqno, 0u);
  ASSERT_TRUE(c->ReadUntilAllEnded().ok());
  EXPECT_THAT(c->violations(), IsEmpty());
  EXPECT_EQ(c->stream(kVb).items.size(), 10u);
  EXPECT_EQ(c->stream(kVb).last_seqno, high);
  EXPECT_EQ(c->stream(kVb).end, DcpStreamEndStatus::kOk);
  // A uuid we never issued does not matter at 0 either (the consumer has nothing to lose)...
  ExpectStatus(Req(kVb, 0, 0, 0, kBogusUuid), McbpStatus::kSuccess);
  // ...unless the consumer asks for a strict match.
  ExpectRollback(Req(kVb, 0, 0, 0, kBogusUuid, protocol::kDcpStreamStrictVbUuid), 0);
  ExpectStatus(Req(kVb, 0, 0, 0, 0, protocol::kDcpStreamStrictVbUuid), McbpStatus::kSuccess);
  ExpectStatus(Req(kVb, 0, 0, 0, Uuid(kVb), protocol::kDcpStreamStrictVbUuid),
               McbpStatus::kSuccess);
}

TEST_F(DcpRollbackTest, UnknownUuidRollsBackToZero) {
  WriteTo(kVb, 10);
  ExpectRollback(Req(kVb, 5, 5, 5, kBogusUuid), 0);
  ExpectRollback(Req(kVb, 5, 5, 5, 0), 0);
  ExpectRollback(Req(kVb, 10, 8, 10, kBogusUuid, protocol::kDcpStreamStrictVbUuid), 0);
}

TEST_F(DcpRollbackTest, ConsumerOnTheCurrentBranch) {
  const uint64_t h = WriteTo(kVb, 10);
  const uint64_t uuid = Uuid(kVb);
  // Ahead of us: roll back to our high seqno, or to the start of a snapshot straddling it.
  ExpectRollback(Req(kVb, h + 3, h + 3, h + 3, uuid), h);
  ExpectRollback(Req(kVb, h + 3, h + 1, h + 5, uuid), h);
  ExpectRollback(Req(kVb, h + 2, h - 2, h + 4, uuid), h - 2);
  ExpectRollback(Req(kVb, h - 1, h - 3, h + 2, uuid), h - 3);
  // Inside a snapshot that ends at or before our high seqno: resume.
  ExpectStatus(Req(kVb, h, h - 2, h, uuid), McbpStatus::kSuccess);
  ExpectStatus(Req(kVb, h, h, h, uuid), McbpStatus::kSuccess);
  // A marker received but no item of it: the consumer is really at its start.
  ExpectStatus(Req(kVb, h, h, h + 5, uuid), McbpStatus::kSuccess);

  // A resume mid-snapshot continues exactly after the consumer's last seqno; the first marker
  // starts at the consumer's snapshot start, so it completes that snapshot.
  std::unique_ptr<DcpConsumer> c;
  ASSERT_EQ(Request(Req(kVb, 5, 3, 7, uuid, protocol::kDcpStreamToLatest), &c).status,
            McbpStatus::kSuccess);
  ASSERT_TRUE(c->ReadUntilAllEnded().ok());
  EXPECT_THAT(c->violations(), IsEmpty());
  const VbStreamLog& log = c->stream(kVb);
  EXPECT_EQ(log.end, DcpStreamEndStatus::kOk);
  ASSERT_EQ(log.items.size(), h - 5);
  EXPECT_EQ(log.items.front().seqno, 6u);
  EXPECT_EQ(log.items.back().seqno, h);
  ASSERT_FALSE(log.markers.empty());
  EXPECT_EQ(log.markers.front().start_seqno, 3u);
}

TEST_F(DcpRollbackTest, UncleanRestartBranches) {
  const uint64_t h = WriteTo(kVb, 20);
  ASSERT_TRUE(WaitUntilPersisted());
  const uint64_t old_uuid = Uuid(kVb);
  kv_.reset();
  RestartAfterKill();
  kv_ = Connect();
  ASSERT_TRUE(kv_);
  writer_ = std::make_unique<TrackedWriter>(*kv_);

  // A new branch at the persisted high seqno.
  const auto log = FailoverLog(kVb);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_NE(log[0].vbucket_uuid, old_uuid);
  EXPECT_EQ(log[0].seqno, h);
  EXPECT_EQ(log[1].vbucket_uuid, old_uuid);
  EXPECT_EQ(log[1].seqno, 0u);

  // Consumers of the old branch that saw seqnos past the branch point (as if they had read them
  // from memory before the crash):
  // - a snapshot wholly after it: back to the branch point;
  ExpectRollback(Req(kVb, h + 3, h + 1, h + 5, old_uuid), h);
  ExpectRollback(Req(kVb, h + 2, h + 2, h + 2, old_uuid), h);
  // - a snapshot straddling it: back to the snapshot's start (it may have been deduplicated);
  ExpectRollback(Req(kVb, h + 2, h - 1, h + 4, old_uuid), h - 1);
  ExpectRollback(Req(kVb, h - 1, h - 3, h + 2, old_uuid), h - 3);
  // - a complete snapshot ending past it counts as starting at its end.
  ExpectRollback(Req(kVb, h + 4, h - 1, h + 4, old_uuid), h);
  // A consumer of the new branch ahead of us: back to our high seqno.
  ExpectRollback(Req(kVb, h + 1, h + 1, h + 1, log[0].vbucket_uuid), h);
  // Behind the branch point on the old branch: resume.
  ExpectStatus(Req(kVb, h - 5, h - 5, h - 5, old_uuid), McbpStatus::kSuccess);
  ExpectStatus(Req(kVb, h - 2, h - 4, h, old_uuid), McbpStatus::kSuccess);

  // Exactly at the branch point: resume, and get what is written from now on.
  std::unique_ptr<DcpConsumer> c;
  ASSERT_EQ(Request(Req(kVb, h, h, h, old_uuid), &c).status, McbpStatus::kSuccess);
  const uint64_t new_high = WriteTo(kVb, 3);
  ASSERT_EQ(new_high, h + 3);
  ASSERT_TRUE(c->ReadUntilSeqnos({{kVb, new_high}}).ok());
  EXPECT_THAT(c->violations(), IsEmpty());
  const VbStreamLog& stream = c->stream(kVb);
  ASSERT_EQ(stream.items.size(), 3u);
  EXPECT_EQ(stream.items.front().seqno, h + 1);
  EXPECT_THAT(CompareFinalView(c->LatestByKey(), writer_->docs()), IsEmpty());
}

// fsync on every flush: the flusher lags behind what a live consumer reads from memory, so the
// crash below usually leaves the consumer past the persisted seqno (the answer is checked either
// way; the test records which case it met).
class DcpCrashRollbackTest : public DcpRollbackTest {
 protected:
  ServerOptions Options() const override {
    ServerOptions o = DcpRollbackTest::Options();
    o.extra_args.insert(o.extra_args.end(), {"--set", "flusher_sync=true"});
    return o;
  }
};

TEST_F(DcpCrashRollbackTest, ConsumerThatReadFromMemoryBeforeACrash) {
  // A consumer reads a vbucket live while a writer keeps writing to it; the server is killed
  // mid-way. Whatever the flusher had persisted by then becomes the branch point; the consumer's
  // request on the old uuid must get exactly kv_engine's answer for where it stopped.
  std::unique_ptr<DcpConsumer> c;
  ASSERT_EQ(Request(Req(kVb, 0, 0, 0, 0), &c).status, McbpStatus::kSuccess);
  const uint64_t old_uuid = Uuid(kVb);
  auto writer_conn = Connect();
  ASSERT_TRUE(writer_conn);
  std::thread writer([&] {
    // Until the kill breaks the connection; the answers do not matter.
    uint32_t next = 0;
    const std::string value(4096, 'w');
    while (writer_conn->Set(KeyInVbucket("crash", kVb, vbuckets(), &next), value).ok()) {
    }
  });
  Status read = c->ReadUntil([&] { return c->stream(kVb).items.size() >= 500; });
  server().Kill();
  writer.join();
  ASSERT_TRUE(read.ok()) << read.ToString();
  EXPECT_THAT(c->violations(), IsEmpty());
  const VbStreamLog seen = c->stream(kVb);
  c.reset();
  kv_.reset();
  ASSERT_TRUE(server().Start());

  const auto log = FailoverLog(kVb);
  ASSERT_EQ(log.size(), 2u);
  const uint64_t branch = log[0].seqno;
  ASSERT_GE(branch, seen.items.front().seqno) << "the consumer read nothing that was persisted";
  const protocol::DcpSnapshotMarker& last = seen.markers.back();
  const uint64_t start = seen.last_seqno;
  const auto expected = ExpectedRollback(start, last.start_seqno, last.end_seqno, branch);
  RecordProperty("branch_point", std::to_string(branch));
  RecordProperty("consumer_seqno", std::to_string(start));
  const client::StreamReqResult r =
      Request(Req(kVb, start, last.start_seqno, last.end_seqno, old_uuid));
  if (expected.has_value()) {
    EXPECT_EQ(r.status, McbpStatus::kRollback);
    EXPECT_EQ(r.rollback_seqno, *expected);
  } else {
    EXPECT_EQ(r.status, McbpStatus::kSuccess);
  }
}

TEST_F(DcpRollbackTest, RequestValueAndFailoverLogs) {
  const uint64_t h = WriteTo(kVb, 4);
  const uint64_t uuid = Uuid(kVb);
  // A value is only allowed on a collection-aware connection (kv_engine's validator)...
  auto with_value = Req(kVb, h, h, h, uuid);
  with_value.json_value = R"({"purge_seqno":"0","uid":"0"})";
  ExpectStatus(with_value, McbpStatus::kEinval);
  // ...where its purge_seqno (kv_engine sends it as a string; a number is accepted) is honoured
  // (no purge has run: the purge seqno is 0) and a value that is not a JSON object is refused.
  ClientSetup collections;
  collections.features.push_back(protocol::Feature::kCollections);
  for (const auto& [value, status] : std::vector<std::pair<std::string, McbpStatus>>{
           {R"({"purge_seqno":"0","uid":"0"})", McbpStatus::kSuccess},
           {R"({"purge_seqno":0})", McbpStatus::kSuccess},
           {"not json", McbpStatus::kEinval},
           {R"(["array"])", McbpStatus::kEinval}}) {
    auto consumer = OpenConsumer({.name = "json-value"}, collections);
    ASSERT_TRUE(consumer);
    with_value.json_value = value;
    auto r = consumer->Stream(with_value);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, status) << value;
  }
  ExpectStatus(Req(kVb, 2, 2, 2, uuid, protocol::kDcpStreamIgnorePurgedTombstones),
               McbpStatus::kSuccess);
  ExpectStatus(Req(kVb, 2, 2, 2, uuid, 0x8000), McbpStatus::kEinval);  // unknown flag

  // DCP_GET_FAILOVER_LOG on a DCP connection, GET_FAILOVER_LOG on a plain one and the stream
  // request's answer agree; a new branch (replica -> active) shows up in all of them.
  ASSERT_TRUE(kv_->SetVBucket(kVb, VBucketState::kReplica).ok());
  ASSERT_TRUE(kv_->SetVBucket(kVb, VBucketState::kActive).ok());
  auto consumer = OpenConsumer({.name = "failover-log"});
  ASSERT_TRUE(consumer);
  auto dcp_log = consumer->conn().DcpGetFailoverLog(kVb);
  ASSERT_TRUE(dcp_log.ok()) << dcp_log.status().ToString();
  ASSERT_EQ(dcp_log->size(), 2u);
  EXPECT_EQ((*dcp_log)[0].seqno, h);
  EXPECT_EQ((*dcp_log)[1].vbucket_uuid, uuid);
  EXPECT_EQ(*dcp_log, FailoverLog(kVb));
  auto r = consumer->Stream(Req(kVb, 0, 0, 0, 0));
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, McbpStatus::kSuccess);
  EXPECT_EQ(r->failover_log, *dcp_log);
  EXPECT_FALSE(consumer->conn().DcpGetFailoverLog(static_cast<Vbid>(vbuckets())).ok());
}

TEST_F(DcpRollbackTest, RangeErrors) {
  const uint64_t h = WriteTo(kVb, 10);
  const uint64_t uuid = Uuid(kVb);
  ExpectStatus(Req(kVb, 5, 5, 5, uuid, 0, 4), McbpStatus::kErange);      // start > end
  ExpectStatus(Req(kVb, 5, 6, 8, uuid), McbpStatus::kErange);            // snap_start > start
  ExpectStatus(Req(kVb, 5, 2, 4, uuid), McbpStatus::kErange);            // start > snap_end
  ExpectStatus(Req(kVb, h, h, h, uuid, 0, h - 1), McbpStatus::kErange);  // end below start
  // start == end is valid: the stream ends at once.
  std::unique_ptr<DcpConsumer> c;
  ASSERT_EQ(Request(Req(kVb, 4, 4, 4, uuid, 0, 4), &c).status, McbpStatus::kSuccess);
  ASSERT_TRUE(c->ReadUntilAllEnded().ok());
  EXPECT_EQ(c->stream(kVb).end, DcpStreamEndStatus::kOk);
  EXPECT_TRUE(c->stream(kVb).items.empty());
}

TEST_F(DcpRollbackTest, AnEndSeqnoInsideTheDataIsHonouredFromDiskAndMemory) {
  const uint64_t h = WriteTo(kVb, 10);
  ASSERT_GE(h, 10u);
  auto check = [&](std::string_view what, std::optional<uint32_t> marker_flag) {
    SCOPED_TRACE(std::string(what));
    std::unique_ptr<DcpConsumer> c;
    ASSERT_EQ(Request(Req(kVb, 2, 2, 2, Uuid(kVb), 0, 6), &c).status, McbpStatus::kSuccess);
    ASSERT_TRUE(c->ReadUntilAllEnded().ok());
    EXPECT_THAT(c->violations(), IsEmpty());
    const VbStreamLog& log = c->stream(kVb);
    EXPECT_EQ(log.end, DcpStreamEndStatus::kOk);
    ASSERT_EQ(log.items.size(), 4u);
    EXPECT_EQ(log.items.front().seqno, 3u);
    EXPECT_EQ(log.items.back().seqno, 6u);
    for (const auto& m : log.markers) {
      EXPECT_LE(m.end_seqno, 6u);
      if (marker_flag) EXPECT_TRUE(m.flags & *marker_flag);
    }
  };
  check("from memory", std::nullopt);
  kv_.reset();
  RestartClean();
  kv_ = Connect();
  ASSERT_TRUE(kv_);
  check("from disk", protocol::kDcpSnapshotDisk);
}

TEST_F(DcpRollbackTest, SecondLiveStreamOnAVbucketIsRefused) {
  WriteTo(kVb, 5);
  auto c = OpenConsumer({.name = "exists"});
  ASSERT_TRUE(c);
  auto first = c->Stream(Req(kVb, 0, 0, 0, 0));
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->status, McbpStatus::kSuccess);
  auto second = c->Stream(Req(kVb, 0, 0, 0, 0));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->status, McbpStatus::kKeyEexists);
  // Another connection may stream the same vbucket.
  ExpectStatus(Req(kVb, 0, 0, 0, 0), McbpStatus::kSuccess);
  // Once closed, the vbucket can be streamed again on this connection.
  ASSERT_TRUE(c->ReadUntilSeqnos({{kVb, 5}}).ok());
  auto closed = c->conn().DcpCloseStream(kVb);
  ASSERT_TRUE(closed.ok());
  EXPECT_EQ(*closed, McbpStatus::kSuccess);
  c->Forget(kVb);
  auto third = c->Stream(Req(kVb, 0, 0, 0, 0, protocol::kDcpStreamToLatest));
  ASSERT_TRUE(third.ok());
  ASSERT_EQ(third->status, McbpStatus::kSuccess);
  ASSERT_TRUE(c->ReadUntilAllEnded().ok());
  // And once ended, too.
  auto fourth = c->Stream(Req(kVb, 0, 0, 0, 0, protocol::kDcpStreamToLatest));
  ASSERT_TRUE(fourth.ok());
  EXPECT_EQ(fourth->status, McbpStatus::kSuccess);
  ASSERT_TRUE(c->ReadUntilAllEnded().ok());
  EXPECT_THAT(c->violations(), IsEmpty());
}

TEST_F(DcpRollbackTest, NotMyVbucketAndNotSupported) {
  WriteTo(5, 3);
  ASSERT_TRUE(kv_->SetVBucket(5, VBucketState::kReplica).ok());
  // kv_engine: a replica may be streamed from, unless the request asks for an active vbucket.
  ExpectStatus(Req(5, 0, 0, 0, 0, protocol::kDcpStreamActiveVbOnly), McbpStatus::kNotMyVbucket);
  ASSERT_TRUE(kv_->SetVBucket(5, VBucketState::kDead).ok());
  ExpectStatus(Req(5, 0, 0, 0, 0), McbpStatus::kNotMyVbucket);
  ExpectStatus(Req(static_cast<Vbid>(vbuckets()), 0, 0, 0, 0), McbpStatus::kNotMyVbucket);
  ExpectStatus(Req(0xffff, 0, 0, 0, 0), McbpStatus::kNotMyVbucket);
  ExpectStatus(Req(kVb, 0, 0, 0, 0, protocol::kDcpStreamTakeOver), McbpStatus::kNotSupported);
  ASSERT_TRUE(kv_->SetVBucket(5, VBucketState::kActive).ok());
  ExpectStatus(Req(5, 0, 0, 0, 0), McbpStatus::kSuccess);
}

TEST_F(DcpRollbackTest, FromLatestToLatestAndDiskOnly) {
  const uint64_t h = WriteTo(kVb, 10);
  ASSERT_TRUE(WaitUntilPersisted());

  // FromLatest: only what is written after the request.
  std::unique_ptr<DcpConsumer> from_latest;
  ASSERT_EQ(Request(Req(kVb, 0, 0, 0, 0, protocol::kDcpStreamFromLatest), &from_latest).status,
            McbpStatus::kSuccess);
  // ToLatest: everything up to the high seqno at the request, then STREAM_END Ok.
  std::unique_ptr<DcpConsumer> to_latest;
  ASSERT_EQ(Request(Req(kVb, 0, 0, 0, 0, protocol::kDcpStreamToLatest), &to_latest).status,
            McbpStatus::kSuccess);
  // DiskOnly: what was persisted at the request, from disk only.
  std::unique_ptr<DcpConsumer> disk_only;
  ASSERT_EQ(Request(Req(kVb, 0, 0, 0, 0, protocol::kDcpStreamDiskOnly), &disk_only).status,
            McbpStatus::kSuccess);

  const uint64_t h2 = WriteTo(kVb, 2);
  ASSERT_TRUE(from_latest->ReadUntilSeqnos({{kVb, h2}}).ok());
  EXPECT_THAT(from_latest->violations(), IsEmpty());
  ASSERT_EQ(from_latest->stream(kVb).items.size(), 2u);
  EXPECT_EQ(from_latest->stream(kVb).items.front().seqno, h + 1);

  for (DcpConsumer* c : {to_latest.get(), disk_only.get()}) {
    SCOPED_TRACE(c->name());
    ASSERT_TRUE(c->ReadUntilAllEnded().ok());
    EXPECT_THAT(c->violations(), IsEmpty());
    const VbStreamLog& log = c->stream(kVb);
    EXPECT_EQ(log.end, DcpStreamEndStatus::kOk);
    ASSERT_EQ(log.items.size(), h);
    EXPECT_EQ(log.items.back().seqno, h);
  }
  for (const auto& m : disk_only->stream(kVb).markers) {
    EXPECT_TRUE(m.flags & protocol::kDcpSnapshotDisk);
    EXPECT_LE(m.end_seqno, h);
  }
}

// A bucket over its backfill memory threshold refuses new streams (kv_engine: ENOMEM).
class DcpNoMemoryTest : public DcpRollbackTest {
 protected:
  ServerOptions Options() const override {
    ServerOptions o = DcpRollbackTest::Options();
    o.extra_args.insert(o.extra_args.end(),
                        {"--set", "max_size=16M", "--set", "backfill_mem_threshold=0.001"});
    return o;
  }
};

TEST_F(DcpNoMemoryTest, StreamRequestsAboveTheBackfillThresholdAreRefused) {
  WriteTo(kVb, 100, 1024);  // ~100 KiB: well above 0.1% of 16 MiB
  ExpectStatus(Req(kVb, 0, 0, 0, 0), McbpStatus::kEnomem);
}

}  // namespace
}  // namespace sluice::testing
