// Round trips of every DCP codec (dcp_codec.h).
#include "protocol/dcp_codec.h"

#include <gtest/gtest.h>

#include <string>

#include "protocol/byte_order.h"
#include "protocol/datatype.h"
#include "protocol/leb128.h"
#include "testing/frame_util.h"

namespace sluice::protocol {
namespace {

using testing::DecodeWhole;

TEST(DcpCodecTest, Open) {
  std::string wire;
  AppendDcpOpen(&wire, {.opaque = 3,
                        .flags = kDcpOpenProducer | kDcpOpenIncludeDeleteTimes,
                        .name = "replication:1",
                        .json_value = "{}"});
  const Frame f = DecodeWhole(wire);
  EXPECT_EQ(f.client_opcode(), Opcode::kDcpOpen);
  EXPECT_EQ(f.datatype, kDatatypeJson);
  auto open = DecodeDcpOpen(f);
  ASSERT_TRUE(open.ok());
  EXPECT_EQ(open->opaque, 3u);
  EXPECT_EQ(open->flags, kDcpOpenProducer | kDcpOpenIncludeDeleteTimes);
  EXPECT_EQ(open->name, "replication:1");
  EXPECT_EQ(open->json_value, "{}");
  EXPECT_EQ(f.extras.size(), kDcpOpenExtrasSize);
}

TEST(DcpCodecTest, Control) {
  std::string wire;
  AppendDcpControl(&wire, {.opaque = 4, .key = "connection_buffer_size", .value = "1048576"});
  auto control = DecodeDcpControl(DecodeWhole(wire));
  ASSERT_TRUE(control.ok());
  EXPECT_EQ(control->key, "connection_buffer_size");
  EXPECT_EQ(control->value, "1048576");
  EXPECT_EQ(control->opaque, 4u);
}

TEST(DcpCodecTest, StreamReq) {
  std::string wire;
  DcpStreamReqRequest in{.vbucket = 17,
                         .opaque = 0xabc,
                         .flags = kDcpStreamActiveVbOnly | kDcpStreamStrictVbUuid,
                         .start_seqno = 10,
                         .end_seqno = 1000,
                         .vbucket_uuid = 0x1122334455667788,
                         .snap_start_seqno = 5,
                         .snap_end_seqno = 10,
                         .json_value = R"({"sid":3})"};
  AppendDcpStreamReq(&wire, in);
  const Frame f = DecodeWhole(wire);
  EXPECT_EQ(f.extras.size(), kDcpStreamReqExtrasSize);
  EXPECT_EQ(f.datatype, kDatatypeRaw);
  auto out = DecodeDcpStreamReq(f);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->vbucket, 17);
  EXPECT_EQ(out->opaque, 0xabcu);
  EXPECT_EQ(out->flags, in.flags);
  EXPECT_EQ(out->start_seqno, 10u);
  EXPECT_EQ(out->end_seqno, 1000u);
  EXPECT_EQ(out->vbucket_uuid, in.vbucket_uuid);
  EXPECT_EQ(out->snap_start_seqno, 5u);
  EXPECT_EQ(out->snap_end_seqno, 10u);
  EXPECT_EQ(out->json_value, in.json_value);

  // Defaults: everything from the start.
  wire.clear();
  AppendDcpStreamReq(&wire, {});
  auto all = DecodeDcpStreamReq(DecodeWhole(wire));
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->end_seqno, ~uint64_t{0});
}

TEST(DcpCodecTest, FailoverLogAndRollback) {
  const std::vector<FailoverEntry> log = {{0xaaaa, 100}, {0xbbbb, 50}, {0xcccc, 0}};
  std::string value;
  AppendFailoverLog(&value, log);
  EXPECT_EQ(value.size(), 48u);
  EXPECT_EQ(LoadBe64(value.data()), 0xaaaau);  // newest first, as given
  auto decoded = DecodeFailoverLog(value);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, log);
  EXPECT_EQ(DecodeFailoverLog("12345").status().code(), Errc::kInvalid);
  EXPECT_TRUE(DecodeFailoverLog("")->empty());

  value.clear();
  AppendRollbackSeqno(&value, 77);
  EXPECT_EQ(*DecodeRollbackSeqno(value), 77u);
  EXPECT_EQ(DecodeRollbackSeqno("1234").status().code(), Errc::kInvalid);
}

TEST(DcpCodecTest, SnapshotMarkerV1) {
  std::string wire;
  AppendDcpSnapshotMarker(&wire, {.vbucket = 2,
                                  .opaque = 8,
                                  .start_seqno = 1,
                                  .end_seqno = 8,
                                  .flags = kDcpSnapshotDisk | kDcpSnapshotCheckpoint});
  const Frame f = DecodeWhole(wire);
  EXPECT_EQ(f.magic, Magic::kClientRequest);
  EXPECT_EQ(f.extras.size(), kDcpSnapshotMarkerV1ExtrasSize);
  EXPECT_TRUE(f.value.empty());
  auto m = DecodeDcpSnapshotMarker(f);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->version, DcpSnapshotMarkerVersion::kV1);
  EXPECT_EQ(m->vbucket, 2);
  EXPECT_EQ(m->opaque, 8u);
  EXPECT_EQ(m->start_seqno, 1u);
  EXPECT_EQ(m->end_seqno, 8u);
  EXPECT_EQ(m->flags, kDcpSnapshotDisk | kDcpSnapshotCheckpoint);
  EXPECT_FALSE(m->stream_id);
}

TEST(DcpCodecTest, SnapshotMarkerV2) {
  for (auto version : {DcpSnapshotMarkerVersion::kV2_0, DcpSnapshotMarkerVersion::kV2_2}) {
    std::string wire;
    AppendDcpSnapshotMarker(&wire, {.vbucket = 2,
                                    .opaque = 8,
                                    .version = version,
                                    .start_seqno = 1,
                                    .end_seqno = 8,
                                    .flags = kDcpSnapshotMemory,
                                    .max_visible_seqno = 7,
                                    .high_completed_seqno = 6,
                                    .purge_seqno = 3,
                                    .high_prepared_seqno = 5});
    const Frame f = DecodeWhole(wire);
    EXPECT_EQ(f.extras.size(), 1u);
    auto m = DecodeDcpSnapshotMarker(f);
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(m->version, version);
    EXPECT_EQ(m->end_seqno, 8u);
    EXPECT_EQ(m->max_visible_seqno, 7u);
    EXPECT_EQ(m->high_completed_seqno, 6u);
    const bool v22 = version == DcpSnapshotMarkerVersion::kV2_2;
    EXPECT_EQ(m->purge_seqno, v22 ? 3u : 0u);
    EXPECT_EQ(m->high_prepared_seqno, v22 ? 5u : 0u);
  }
}

TEST(DcpCodecTest, MutationPlainAndCollectionAware) {
  for (bool collections : {false, true}) {
    std::string wire;
    DcpMutation in{.vbucket = 5,
                   .opaque = 0x55,
                   .cas = 0x1234,
                   .datatype = kDatatypeJson,
                   .by_seqno = 42,
                   .rev_seqno = 3,
                   .flags = 0x02000000,
                   .expiration = 100,
                   .lock_time = 0,
                   .nru = 1,
                   .collection_id = collections ? 8u : 0u,
                   .key = "user::1",
                   .value = "{\"n\":1}"};
    AppendDcpMutation(&wire, in, collections);
    const Frame f = DecodeWhole(wire);
    EXPECT_EQ(f.extras.size(), kDcpMutationExtrasSize);
    EXPECT_EQ(f.cas, 0x1234u);
    EXPECT_EQ(f.key.size(), in.key.size() + (collections ? 1 : 0));
    auto m = DecodeDcpMutation(f, collections);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_EQ(m->vbucket, 5);
    EXPECT_EQ(m->opaque, 0x55u);
    EXPECT_EQ(m->cas, 0x1234u);
    EXPECT_EQ(m->datatype, kDatatypeJson);
    EXPECT_EQ(m->by_seqno, 42u);
    EXPECT_EQ(m->rev_seqno, 3u);
    EXPECT_EQ(m->flags, 0x02000000u);
    EXPECT_EQ(m->expiration, 100u);
    EXPECT_EQ(m->nru, 1);
    EXPECT_EQ(m->collection_id, in.collection_id);
    EXPECT_EQ(m->key, "user::1");
    EXPECT_EQ(m->value, in.value);
  }
}

// The owned copies (what the client hands out) carry every field, and convert back unchanged.
TEST(DcpCodecTest, OwnedCopiesKeepEveryField) {
  const DcpMutation m{5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, "key", "value", 16};
  const BasicDcpMutation<std::string> owned_m = m.As<std::string>();
  EXPECT_EQ(owned_m.key, "key");
  EXPECT_EQ(owned_m.As<std::string_view>(), m);
  const DcpDeletion d{5, 6, 7, 8, DcpDeletionVersion::kV2, 9, 10, 11, 12, "key", "xattrs", 13};
  const BasicDcpDeletion<std::string> owned_d = d.As<std::string>();
  EXPECT_EQ(owned_d.value, "xattrs");
  EXPECT_EQ(owned_d.As<std::string_view>(), d);
  const DcpExpiration x{5, 6, 7, 8, 9, 10, 11, 12, "key", "value", 13};
  EXPECT_EQ(x.As<std::string>().As<std::string_view>(), x);
}

TEST(DcpCodecTest, MutationWithStreamIdUsesAltMagic) {
  std::string wire;
  AppendDcpMutation(&wire, {.by_seqno = 1, .key = "k", .value = "v", .stream_id = 9}, false);
  const Frame f = DecodeWhole(wire);
  EXPECT_EQ(f.magic, Magic::kAltClientRequest);
  auto m = DecodeDcpMutation(f, false);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->stream_id, 9);
  EXPECT_EQ(m->key, "k");
  EXPECT_EQ(*DecodeDcpStreamId(f), std::optional<uint16_t>(9));
}

TEST(DcpCodecTest, MutationRejectsBadPrefixAndExtras) {
  std::string wire;
  AppendDcpMutation(&wire, {.by_seqno = 1, .key = std::string_view("\x80", 1)}, false);
  EXPECT_EQ(DecodeDcpMutation(DecodeWhole(wire), true).status().code(), Errc::kInvalid);
  wire.clear();
  AppendDcpExpiration(&wire, {.by_seqno = 1, .key = "k"}, false);
  EXPECT_EQ(DecodeDcpMutation(DecodeWhole(wire), false).status().code(), Errc::kInvalid);
}

TEST(DcpCodecTest, DeletionV1AndV2) {
  for (auto version : {DcpDeletionVersion::kV1, DcpDeletionVersion::kV2}) {
    std::string wire;
    AppendDcpDeletion(&wire,
                      {.vbucket = 1,
                       .opaque = 2,
                       .cas = 3,
                       .datatype = kDatatypeXattr,
                       .version = version,
                       .by_seqno = 4,
                       .rev_seqno = 5,
                       .delete_time = 6,
                       .collection_id = 9,
                       .key = "gone",
                       .value = "xattrs"},
                      true);
    const Frame f = DecodeWhole(wire);
    EXPECT_EQ(f.extras.size(), version == DcpDeletionVersion::kV1 ? kDcpDeletionV1ExtrasSize
                                                                  : kDcpDeletionV2ExtrasSize);
    auto d = DecodeDcpDeletion(f, true);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->version, version);
    EXPECT_EQ(d->by_seqno, 4u);
    EXPECT_EQ(d->rev_seqno, 5u);
    EXPECT_EQ(d->delete_time, version == DcpDeletionVersion::kV2 ? 6u : 0u);
    EXPECT_EQ(d->collection_id, 9u);
    EXPECT_EQ(d->key, "gone");
    EXPECT_EQ(d->value, "xattrs");
    EXPECT_EQ(d->datatype, kDatatypeXattr);
    EXPECT_EQ(d->cas, 3u);
  }
}

TEST(DcpCodecTest, Expiration) {
  std::string wire;
  AppendDcpExpiration(&wire,
                      {.vbucket = 7,
                       .opaque = 1,
                       .cas = 2,
                       .by_seqno = 10,
                       .rev_seqno = 11,
                       .delete_time = 12,
                       .key = "ttl"},
                      false);
  const Frame f = DecodeWhole(wire);
  EXPECT_EQ(f.extras.size(), kDcpExpirationExtrasSize);
  auto x = DecodeDcpExpiration(f, false);
  ASSERT_TRUE(x.ok());
  EXPECT_EQ(x->vbucket, 7);
  EXPECT_EQ(x->by_seqno, 10u);
  EXPECT_EQ(x->rev_seqno, 11u);
  EXPECT_EQ(x->delete_time, 12u);
  EXPECT_EQ(x->key, "ttl");
}

TEST(DcpCodecTest, StreamEnd) {
  for (uint32_t s = 0; s <= 8; ++s) {
    std::string wire;
    AppendDcpStreamEnd(&wire,
                       {.vbucket = 3, .opaque = 4, .status = static_cast<DcpStreamEndStatus>(s)});
    auto end = DecodeDcpStreamEnd(DecodeWhole(wire));
    ASSERT_TRUE(end.ok());
    EXPECT_EQ(static_cast<uint32_t>(end->status), s);
    EXPECT_NE(DcpStreamEndStatusName(end->status), "Unknown");
  }
  EXPECT_EQ(DcpStreamEndStatusName(DcpStreamEndStatus::kTooSlow), "TooSlow");
}

TEST(DcpCodecTest, NoopBufferAckCloseStreamFailoverLog) {
  std::string wire;
  AppendDcpNoop(&wire, 99);
  Frame f = DecodeWhole(wire);
  EXPECT_EQ(f.client_opcode(), Opcode::kDcpNoop);
  EXPECT_TRUE(f.is_request());
  EXPECT_EQ(f.opaque, 99u);

  wire.clear();
  AppendDcpNoopResponse(&wire, 99);
  f = DecodeWhole(wire);
  EXPECT_EQ(f.magic, Magic::kClientResponse);
  EXPECT_EQ(f.client_opcode(), Opcode::kDcpNoop);
  EXPECT_EQ(f.opaque, 99u);
  EXPECT_EQ(f.status(), McbpStatus::kSuccess);

  wire.clear();
  AppendDcpBufferAck(&wire, 123456);
  f = DecodeWhole(wire);
  EXPECT_EQ(f.opaque, 0u);
  EXPECT_EQ(*DecodeDcpBufferAck(f), 123456u);

  wire.clear();
  AppendDcpCloseStream(&wire, 12, 34);
  f = DecodeWhole(wire);
  EXPECT_EQ(f.client_opcode(), Opcode::kDcpCloseStream);
  EXPECT_EQ(f.vbucket(), 12);
  EXPECT_EQ(f.body_size(), 0u);

  wire.clear();
  AppendDcpGetFailoverLog(&wire, 12, 34);
  f = DecodeWhole(wire);
  EXPECT_EQ(f.client_opcode(), Opcode::kDcpGetFailoverLog);
  EXPECT_EQ(f.vbucket(), 12);
}

TEST(DcpCodecTest, SetVbucketStateAndSeqnoAdvanced) {
  std::string wire;
  AppendDcpSetVbucketState(&wire, {.vbucket = 1, .opaque = 2, .state = VBucketState::kPending});
  auto s = DecodeDcpSetVbucketState(DecodeWhole(wire));
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->state, VBucketState::kPending);

  wire.clear();
  AppendDcpSeqnoAdvanced(&wire, {.vbucket = 1, .opaque = 2, .by_seqno = 77});
  auto a = DecodeDcpSeqnoAdvanced(DecodeWhole(wire));
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->by_seqno, 77u);
}

TEST(DcpCodecTest, OsoSnapshotWithAndWithoutStreamId) {
  std::string wire;
  AppendDcpOsoSnapshot(&wire, {.vbucket = 3, .opaque = 9, .flags = kDcpOsoSnapshotStart});
  auto start = DecodeDcpOsoSnapshot(DecodeWhole(wire));
  ASSERT_TRUE(start.ok());
  EXPECT_EQ(start->vbucket, 3);
  EXPECT_EQ(start->flags, kDcpOsoSnapshotStart);
  EXPECT_FALSE(start->stream_id.has_value());

  wire.clear();
  AppendDcpOsoSnapshot(
      &wire, {.vbucket = 3, .opaque = 9, .flags = kDcpOsoSnapshotEnd, .stream_id = uint16_t{7}});
  const Frame f = DecodeWhole(wire);
  EXPECT_EQ(f.magic, Magic::kAltClientRequest);
  auto end = DecodeDcpOsoSnapshot(f);
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(end->flags, kDcpOsoSnapshotEnd);
  EXPECT_EQ(end->stream_id, uint16_t{7});

  wire.clear();
  AppendDcpOsoSnapshot(&wire, {.vbucket = 3, .opaque = 9, .flags = 3});
  EXPECT_FALSE(DecodeDcpOsoSnapshot(DecodeWhole(wire)).ok());
}

}  // namespace
}  // namespace sluice::protocol
