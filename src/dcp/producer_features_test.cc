// The producer features kv_engine's consumers use: stream ids (several streams per vbucket on one
// connection), V2.2 snapshot markers, SeqnoAdvanced, out-of-order (OSO) backfills, the stream
// request's collection filter, and set_priority. Each is honoured, or refused with kv_engine's
// status; none is accepted and ignored.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "dcp/stream_filter.h"
#include "testing/dcp_unit_util.h"

namespace sluice::dcp {
namespace {

using protocol::DcpStreamEndStatus;
using protocol::Opcode;
using testing::DcpTest;
using ::testing::ElementsAre;
using testing::FakeNotifier;
using testing::Msg;
using testing::OfVb;

using testing::kMaxSeqno;

// ---- The stream request's JSON value ----

TEST(StreamFilterTest, KvEnginesKeysAndErrors) {
  EXPECT_FALSE(ParseStreamFilter("").value().stream_id.has_value());
  auto f = ParseStreamFilter(R"({"sid": 7, "collections": ["0"], "uid": "0"})");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->stream_id, uint16_t{7});
  EXPECT_TRUE(f->collection_filter);
  EXPECT_TRUE(ParseStreamFilter(R"({"scope": "0"})").value().collection_filter);
  EXPECT_EQ(ParseStreamFilter(R"({"purge_seqno": "12"})").value().remote_purge_seqno, 12u);

  EXPECT_EQ(ParseStreamFilter(R"({"collections": ["8"]})").status().code(),
            Errc::kUnknownCollection);
  EXPECT_EQ(ParseStreamFilter(R"({"scope": "9"})").status().code(), Errc::kUnknownScope);
  EXPECT_EQ(ParseStreamFilter(R"({"sid": 0})").status().code(), Errc::kDcpStreamIdInvalid);
  EXPECT_EQ(ParseStreamFilter(R"({"sid": 70000})").status().code(), Errc::kDcpStreamIdInvalid);
  for (const char* bad :
       {"[]", "{", R"({})", R"({"other": 1})", R"({"scope":"0","collections":["0"]})",
        R"({"collections": "0"})", R"({"collections": [0]})", R"({"scope": 0})", R"({"sid": "1"})",
        R"({"uid": 1})"}) {
    EXPECT_EQ(ParseStreamFilter(bad).status().code(), Errc::kInvalid) << bad;
  }
  EXPECT_EQ(ParseStreamFilter(R"({"cts": {}})").status().code(), Errc::kNotSupported);
}

class ProducerFeaturesTest : public DcpTest {
 protected:
  std::shared_ptr<Producer> OpenCollections(const std::string& name, uint32_t flags = 0) {
    collections_ = true;
    return Open(name, notifier_, protocol::kDcpOpenProducer | flags, /*collections=*/true);
  }
  static std::vector<uint64_t> ItemSeqnos(const std::vector<Msg>& msgs) {
    std::vector<uint64_t> out;
    for (const Msg& m : msgs) {
      if (m.is_item()) out.push_back(m.seqno);
    }
    return out;
  }
  // Messages of one stream of vb (by stream id), in order.
  static std::vector<Msg> OfStream(const std::vector<Msg>& msgs, Vbid vb, uint16_t sid) {
    std::vector<Msg> out;
    for (const Msg& m : OfVb(msgs, vb)) {
      if (m.sid == sid) out.push_back(m);
    }
    return out;
  }

  std::shared_ptr<FakeNotifier> notifier_ = std::make_shared<FakeNotifier>();
};

// ---- enable_stream_id ----

TEST_F(ProducerFeaturesTest, StreamIdsCarryTwoStreamsOfOneVbucket) {
  OpenBucket();
  WriteMany(0, 10);
  auto p = Open("ids", notifier_);
  ASSERT_TRUE(p->Control("enable_stream_id", "true").ok());
  // A sid is now required, and must be unique per vbucket.
  EXPECT_EQ(Req(*p, 0).status.code(), Errc::kDcpStreamIdInvalid);
  const uint64_t uuid = bucket_->GetVBucket(0)->uuid();
  ASSERT_TRUE(Req(*p, 0, 0, 10, 0, 0, {}, {}, R"({"sid": 1})").status.ok());
  ASSERT_TRUE(Req(*p, 0, 5, 10, 0, uuid, {}, {}, R"({"sid": 2})").status.ok());
  EXPECT_EQ(Req(*p, 0, 0, 10, 0, 0, {}, {}, R"({"sid": 2})").status.code(), Errc::kExists);

  const std::vector<Msg> msgs = Pump(*p);
  const std::vector<Msg> one = OfStream(msgs, 0, 1);
  const std::vector<Msg> two = OfStream(msgs, 0, 2);
  EXPECT_THAT(ItemSeqnos(one), ElementsAre(1, 2, 3, 4, 5, 6, 7, 8, 9, 10));
  EXPECT_THAT(ItemSeqnos(two), ElementsAre(6, 7, 8, 9, 10));
  ASSERT_FALSE(one.empty());
  ASSERT_FALSE(two.empty());
  EXPECT_TRUE(one.front().is_marker());
  EXPECT_TRUE(one.back().is_end());
  EXPECT_TRUE(two.back().is_end());
  for (const Msg& m : OfVb(msgs, 0)) EXPECT_TRUE(m.sid.has_value()) << "every message has a sid";
  const auto stats = DcpStats();
  EXPECT_EQ(stats.at("eq_dcpq:ids:enable_stream_id"), "true");
}

TEST_F(ProducerFeaturesTest, CloseStreamNamesTheStreamId) {
  OpenBucket();
  auto p = Open("ids", notifier_);
  ASSERT_TRUE(p->Control("enable_stream_id", "true").ok());
  ASSERT_TRUE(Req(*p, 3, 0, kMaxSeqno, 0, 0, {}, {}, R"({"sid": 1})").status.ok());
  ASSERT_TRUE(Req(*p, 3, 0, kMaxSeqno, 0, 0, {}, {}, R"({"sid": 2})").status.ok());
  EXPECT_EQ(p->CloseStream(3).code(), Errc::kDcpStreamIdInvalid) << "no sid";
  EXPECT_EQ(p->CloseStream(3, uint16_t{9}).code(), Errc::kStreamNotFound);
  EXPECT_TRUE(p->CloseStream(3, uint16_t{1}).ok());
  Set(3, "k", "v");
  const std::vector<Msg> msgs = Pump(*p);
  EXPECT_TRUE(OfStream(msgs, 3, 1).empty()) << "closed without STREAM_END: nothing more";
  EXPECT_THAT(ItemSeqnos(OfStream(msgs, 3, 2)), ElementsAre(1));
}

TEST_F(ProducerFeaturesTest, ASidWithoutTheControlIsRefused) {
  OpenBucket();
  auto p = Open("plain", notifier_);
  EXPECT_EQ(Req(*p, 0, 0, kMaxSeqno, 0, 0, {}, {}, R"({"sid": 1})").status.code(),
            Errc::kDcpStreamIdInvalid);
  ASSERT_TRUE(Req(*p, 0).status.ok());
  EXPECT_EQ(p->CloseStream(0, uint16_t{1}).code(), Errc::kDcpStreamIdInvalid);
  EXPECT_EQ(p->Control("enable_stream_id", "true").code(), Errc::kInvalid)
      << "stream ids are chosen before the first stream";
}

// ---- Collections filter ----

TEST_F(ProducerFeaturesTest, DefaultCollectionFilterStreamsAndOthersAreRefused) {
  OpenBucket();
  WriteMany(0, 5);
  auto p = OpenCollections("filtered");
  EXPECT_EQ(Req(*p, 0, 0, kMaxSeqno, 0, 0, {}, {}, R"({"collections": ["8"]})").status.code(),
            Errc::kUnknownCollection);
  EXPECT_EQ(Req(*p, 0, 0, kMaxSeqno, 0, 0, {}, {}, R"({"scope": "8"})").status.code(),
            Errc::kUnknownScope);
  ASSERT_TRUE(Req(*p, 0, 0, 5, 0, 0, {}, {}, R"({"collections": ["0"]})").status.ok());
  ASSERT_TRUE(Req(*p, 1, 0, kMaxSeqno, 0, 0, {}, {}, R"({"scope": "0"})").status.ok());
  EXPECT_THAT(ItemSeqnos(OfVb(PumpUntilEnded(*p, {0}), 0)), ElementsAre(1, 2, 3, 4, 5));
}

// ---- max_marker_version=2.2 ----

TEST_F(ProducerFeaturesTest, MarkerV22CarriesMaxVisibleAndPurgeSeqno) {
  OpenBucket();
  WriteMany(0, 4);
  Restart();
  WriteMany(0, 2, "mem");
  auto p = OpenCollections("v22");
  ASSERT_TRUE(p->Control("max_marker_version", "2.2").ok());
  ASSERT_TRUE(Req(*p, 0, 0, 6).status.ok());
  const std::vector<Msg> v = OfVb(PumpUntilEnded(*p, {0}), 0);
  std::vector<Msg> markers;
  for (const Msg& m : v) {
    if (m.is_marker()) markers.push_back(m);
  }
  ASSERT_EQ(markers.size(), 2u);
  for (const Msg& m : markers) {
    EXPECT_EQ(m.marker_version, protocol::DcpSnapshotMarkerVersion::kV2_2);
    EXPECT_EQ(m.max_visible_seqno, m.snap_end);
    EXPECT_EQ(m.purge_seqno, 0u);
  }
  EXPECT_EQ(markers[0].snap_end, 4u);
  EXPECT_NE(markers[0].snap_flags & protocol::kDcpSnapshotDisk, 0u);
  EXPECT_EQ(markers[1].snap_end, 6u);
}

// ---- SeqnoAdvanced ----

TEST_F(ProducerFeaturesTest, SeqnoAdvancedClosesADiskSnapshotWhoseLastItemsWereSkipped) {
  OpenBucket();
  WriteMany(0, 5);
  Del(0, "key3");  // 6
  Del(0, "key4");  // 7: the snapshot ends at a tombstone
  Restart();
  for (const bool collections : {true, false}) {
    SCOPED_TRACE(collections ? "collection-aware" : "legacy");
    auto p =
        collections
            ? OpenCollections("skip", protocol::kDcpOpenSkipDeletesInInitialBackfill)
            : Open("skip", notifier_,
                   protocol::kDcpOpenProducer | protocol::kDcpOpenSkipDeletesInInitialBackfill);
    collections_ = collections;
    ASSERT_TRUE(Req(*p, 0, 0, 7).status.ok());
    const std::vector<Msg> v = OfVb(PumpUntilEnded(*p, {0}), 0);
    ASSERT_GE(v.size(), 3u);
    EXPECT_TRUE(v.front().is_marker());
    EXPECT_EQ(v.front().snap_end, 7u);
    EXPECT_THAT(ItemSeqnos(v), ElementsAre(1, 2, 3));
    const Msg& before_end = v[v.size() - 2];
    if (collections) {
      ASSERT_TRUE(before_end.is_seqno_advanced());
      EXPECT_EQ(before_end.seqno, 7u);
    } else {
      EXPECT_FALSE(before_end.is_seqno_advanced());
    }
    EXPECT_TRUE(v.back().is_end());
    p->Disconnect();
  }
}

// ---- enable_out_of_order_snapshots ----

TEST_F(ProducerFeaturesTest, OsoBackfillSendsKeyOrderBetweenOsoMarkers) {
  OpenBucket();
  for (const char* key : {"delta", "alpha", "charlie", "bravo"}) Set(0, key, "v");  // 1..4
  Del(0, "charlie");                                                                // 5
  Set(0, "alpha", "v2");                                                            // 6
  Restart();
  auto p = OpenCollections("oso");
  ASSERT_TRUE(p->Control("enable_out_of_order_snapshots", "true").ok());
  ASSERT_TRUE(Req(*p, 0).status.ok());
  Set(0, "echo", "live");  // 7, from memory after the OSO snapshot
  const std::vector<Msg> v = OfVb(Pump(*p), 0);
  ASSERT_GE(v.size(), 8u);
  EXPECT_TRUE(v[0].is_oso());
  EXPECT_EQ(v[0].oso_flags, protocol::kDcpOsoSnapshotStart);
  std::vector<std::string> keys;
  size_t i = 1;
  for (; i < v.size() && v[i].is_item(); ++i) keys.push_back(v[i].key);
  EXPECT_THAT(keys, ElementsAre("alpha", "bravo", "charlie", "delta"));
  ASSERT_LT(i, v.size());
  EXPECT_TRUE(v[i].is_oso());
  EXPECT_EQ(v[i].oso_flags, protocol::kDcpOsoSnapshotEnd);
  // Then memory, in order, after the OSO snapshot's end (6).
  ASSERT_LT(i + 2, v.size());
  EXPECT_TRUE(v[i + 1].is_marker());
  EXPECT_EQ(v[i + 1].snap_start, 7u);
  EXPECT_EQ(v[i + 2].seqno, 7u);
}

TEST_F(ProducerFeaturesTest, OsoWithSeqnoAdvancedReportsASkippedEnd) {
  OpenBucket();
  WriteMany(0, 4);  // 1..4
  Del(0, "key2");   // 5: the highest seqno is a tombstone the consumer skips
  Restart();
  auto p = OpenCollections("oso", protocol::kDcpOpenSkipDeletesInInitialBackfill);
  ASSERT_TRUE(p->Control("enable_out_of_order_snapshots", "true_with_seqno_advanced").ok());
  ASSERT_TRUE(Req(*p, 0, 0, 5).status.ok());
  const std::vector<Msg> v = OfVb(PumpUntilEnded(*p, {0}), 0);
  ASSERT_GE(v.size(), 3u);
  EXPECT_TRUE(v.front().is_oso());
  const Msg& end = v.back();
  EXPECT_TRUE(end.is_end());
  // ... items in key order, SeqnoAdvanced(5), OSO end, STREAM_END.
  ASSERT_GE(v.size(), 4u);
  EXPECT_TRUE(v[v.size() - 3].is_seqno_advanced());
  EXPECT_EQ(v[v.size() - 3].seqno, 5u);
  EXPECT_TRUE(v[v.size() - 2].is_oso());
  EXPECT_EQ(v[v.size() - 2].oso_flags, protocol::kDcpOsoSnapshotEnd);
}

TEST_F(ProducerFeaturesTest, OsoOnlyForABackfillFromZero) {
  OpenBucket();
  WriteMany(0, 6);
  Restart();
  auto p = OpenCollections("oso");
  ASSERT_TRUE(p->Control("enable_out_of_order_snapshots", "true").ok());
  const uint64_t uuid = bucket_->GetVBucket(0)->uuid();
  ASSERT_TRUE(Req(*p, 0, 2, 6, 0, uuid).status.ok());
  const std::vector<Msg> v = OfVb(PumpUntilEnded(*p, {0}), 0);
  for (const Msg& m : v) EXPECT_FALSE(m.is_oso());
  EXPECT_THAT(ItemSeqnos(v), ElementsAre(3, 4, 5, 6));
}

// ---- set_priority ----

TEST_F(ProducerFeaturesTest, PriorityBoundsTheBytesOfOneStep) {
  OpenBucket();
  for (int i = 0; i < 200; ++i) Set(0, "key" + std::to_string(i), std::string(1000, 'v'));
  auto p = Open("prio", notifier_);
  EXPECT_EQ(p->StepBudget(), size_t{512} << 10);
  ASSERT_TRUE(p->Control("set_priority", "low").ok());
  EXPECT_EQ(p->StepBudget(), size_t{64} << 10);
  ASSERT_TRUE(p->Control("set_priority", "high").ok());
  EXPECT_EQ(p->StepBudget(), size_t{1} << 20);
  EXPECT_EQ(DcpStats().at("eq_dcpq:prio:priority"), "high");
}

}  // namespace
}  // namespace sluice::dcp
