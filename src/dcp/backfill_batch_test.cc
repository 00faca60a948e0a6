// Tests of ItemEncoder (the item messages of both stream phases) and BackfillBatch (the backfill's
// encoded batches and how the producer cuts them).
#include "dcp/backfill_batch.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dcp/item_encoder.h"
#include "protocol/dcp_codec.h"
#include "protocol/frame.h"
#include "xattr/blob.h"
#include "xattr/filter.h"

namespace sluice::dcp {
namespace {

using protocol::DecodeFrame;
using protocol::DecodeStatus;
using protocol::Frame;
using protocol::Opcode;

ItemView Doc(uint64_t seqno, std::string_view key, std::string_view value) {
  ItemView v;
  v.seqno = seqno;
  v.rev_seqno = 7;
  v.cas = 0x1122334455667788ULL;
  v.flags = 0xcafef00d;
  v.expiry = 1700000123;
  v.datatype = 1;  // JSON
  v.key = key;
  v.value = value;
  return v;
}

ItemView Tombstone(uint64_t seqno, std::string_view key, DeleteSource source) {
  ItemView v = Doc(seqno, key, {});
  v.deleted = true;
  v.delete_source = source;
  v.datatype = 0;
  return v;
}

Frame DecodeOne(std::string_view bytes) {
  const protocol::DecodeResult d = DecodeFrame(bytes.data(), bytes.size(), ~uint32_t{0});
  EXPECT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.size, bytes.size());
  return d.frame;
}

constexpr StreamKey kKey{.vb = 9};

// What ItemEncoder writes into a batch is byte for byte what it appends to a string.
std::string ViaBatch(const ItemEncoder& encoder, const ItemView& item, StreamKey key = kKey) {
  BackfillBatch batch(16);  // grows
  batch.Append(encoder, item, key, 0xabcd);
  return std::string(batch.Bytes(0, batch.size()));
}

std::string ViaAppend(const ItemEncoder& encoder, const ItemView& item, StreamKey key = kKey) {
  std::string out;
  encoder.Append(encoder.TypeOf(item.deleted, item.delete_source), item, key, 0xabcd, &out);
  return out;
}

TEST(ItemEncoderTest, MutationWithValueAndItsFields) {
  const ItemEncoder encoder(protocol::kDcpOpenProducer, /*collections=*/false, false);
  const ItemView item = Doc(42, "key", R"({"a":1})");
  const std::string bytes = ViaAppend(encoder, item);
  EXPECT_EQ(ViaBatch(encoder, item), bytes);
  const Frame frame = DecodeOne(bytes);
  ASSERT_EQ(frame.client_opcode(), Opcode::kDcpMutation);
  auto m = protocol::DecodeDcpMutation(frame, false);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->vbucket, 9);
  EXPECT_EQ(m->opaque, 0xabcdu);
  EXPECT_EQ(m->cas, item.cas);
  EXPECT_EQ(m->by_seqno, 42u);
  EXPECT_EQ(m->rev_seqno, 7u);
  EXPECT_EQ(m->flags, 0xcafef00du);
  EXPECT_EQ(m->expiration, 1700000123u);
  EXPECT_EQ(m->datatype, 1);
  EXPECT_EQ(m->key, "key");
  EXPECT_EQ(m->value, R"({"a":1})");
}

TEST(ItemEncoderTest, NoValueAndNoValueWithUnderlyingDatatype) {
  const ItemView item = Doc(1, "k", "value");
  for (const uint32_t flag :
       {protocol::kDcpOpenNoValue, protocol::kDcpOpenNoValueWithUnderlyingDatatype}) {
    const ItemEncoder encoder(protocol::kDcpOpenProducer | flag, false, false);
    const std::string bytes = ViaAppend(encoder, item);
    EXPECT_EQ(ViaBatch(encoder, item), bytes);
    auto m = protocol::DecodeDcpMutation(DecodeOne(bytes), false);
    ASSERT_TRUE(m.ok());
    EXPECT_TRUE(m->value.empty());
    EXPECT_EQ(m->datatype, flag == protocol::kDcpOpenNoValue ? 0 : 1);
  }
}

TEST(ItemEncoderTest, DeletionsV1AndV2AndExpirations) {
  const ItemView explicit_delete = Tombstone(5, "gone", DeleteSource::kExplicit);
  const ItemView expired = Tombstone(6, "old", DeleteSource::kTtl);

  const ItemEncoder v1(protocol::kDcpOpenProducer, false, /*expiry_opcode=*/false);
  EXPECT_EQ(v1.TypeOf(true, DeleteSource::kTtl), DcpMessage::Type::kDeletion);
  const std::string v1_bytes = ViaBatch(v1, expired);  // the decoded views point into it
  auto d1 = protocol::DecodeDcpDeletion(DecodeOne(v1_bytes), false);
  ASSERT_TRUE(d1.ok());
  EXPECT_EQ(d1->version, protocol::DcpDeletionVersion::kV1);
  EXPECT_EQ(d1->by_seqno, 6u);
  EXPECT_EQ(ViaBatch(v1, expired), ViaAppend(v1, expired));

  const ItemEncoder v2(protocol::kDcpOpenProducer | protocol::kDcpOpenIncludeDeleteTimes, false,
                       /*expiry_opcode=*/true);
  const std::string v2_bytes = ViaBatch(v2, explicit_delete);
  auto d2 = protocol::DecodeDcpDeletion(DecodeOne(v2_bytes), false);
  ASSERT_TRUE(d2.ok());
  EXPECT_EQ(d2->version, protocol::DcpDeletionVersion::kV2);
  EXPECT_EQ(d2->delete_time, 1700000123u);
  EXPECT_EQ(d2->key, "gone");
  EXPECT_EQ(ViaBatch(v2, explicit_delete), ViaAppend(v2, explicit_delete));

  const std::string x_bytes = ViaBatch(v2, expired);
  const Frame frame = DecodeOne(x_bytes);
  ASSERT_EQ(frame.client_opcode(), Opcode::kDcpExpiration);
  auto x = protocol::DecodeDcpExpiration(frame, false);
  ASSERT_TRUE(x.ok());
  EXPECT_EQ(x->delete_time, 1700000123u);
  EXPECT_EQ(x->by_seqno, 6u);
  EXPECT_EQ(ViaBatch(v2, expired), ViaAppend(v2, expired));
}

TEST(ItemEncoderTest, CollectionsPrefixTheKey) {
  const ItemEncoder encoder(protocol::kDcpOpenProducer, /*collections=*/true, false);
  const ItemView item = Doc(3, "key", "v");
  const std::string bytes = ViaBatch(encoder, item);
  EXPECT_EQ(bytes, ViaAppend(encoder, item));
  const Frame frame = DecodeOne(bytes);
  EXPECT_EQ(frame.key, std::string_view("\0key", 4));
  auto m = protocol::DecodeDcpMutation(frame, true);
  ASSERT_TRUE(m.ok());
  EXPECT_EQ(m->key, "key");
  EXPECT_EQ(m->collection_id, 0u);
}

TEST(BackfillBatchTest, RangesAndCuts) {
  const ItemEncoder encoder(protocol::kDcpOpenProducer, false, false);
  BackfillBatch batch(64);
  std::vector<size_t> sizes;
  const std::string value(100, 'v');
  for (uint64_t seqno = 10; seqno < 20; ++seqno) {
    sizes.push_back(
        batch.Append(encoder, Doc(seqno, "k" + std::to_string(seqno), value), StreamKey{1}, 2));
  }
  ASSERT_EQ(batch.size(), 10u);
  EXPECT_EQ(batch.seqno(0), 10u);
  EXPECT_EQ(batch.seqno(9), 19u);
  EXPECT_EQ(batch.max_seqno(), 19u);
  size_t total = 0;
  for (size_t s : sizes) total += s;
  EXPECT_EQ(batch.bytes(), total);
  EXPECT_EQ(batch.RangeBytes(2, 5), sizes[2] + sizes[3] + sizes[4]);
  EXPECT_GE(batch.MemorySize(), batch.bytes());

  // Every message decodes, in order.
  std::string_view rest = batch.Bytes(0, batch.size());
  for (uint64_t seqno = 10; seqno < 20; ++seqno) {
    const protocol::DecodeResult d = DecodeFrame(rest.data(), rest.size(), ~uint32_t{0});
    ASSERT_EQ(d.status, DecodeStatus::kOk);
    auto m = protocol::DecodeDcpMutation(d.frame, false);
    ASSERT_TRUE(m.ok());
    EXPECT_EQ(m->by_seqno, seqno);
    rest.remove_prefix(d.size);
  }
  EXPECT_TRUE(rest.empty());

  // A cut includes the message that reaches the limit, and no more.
  EXPECT_EQ(batch.CutAt(0, 1), 1u);
  EXPECT_EQ(batch.CutAt(0, sizes[0]), 1u);
  EXPECT_EQ(batch.CutAt(0, sizes[0] + 1), 2u);
  EXPECT_EQ(batch.CutAt(3, sizes[3] + sizes[4]), 5u);
  EXPECT_EQ(batch.CutAt(3, sizes[3] + sizes[4] + 1), 6u);
  EXPECT_EQ(batch.CutAt(0, total), 10u);
  EXPECT_EQ(batch.CutAt(0, ~size_t{0}), 10u);
  EXPECT_EQ(batch.CutAt(9, 1), 10u);
}

TEST(ItemEncoderTest, StreamIdFrameInfoOnEveryKind) {
  const ItemEncoder encoder(protocol::kDcpOpenProducer | protocol::kDcpOpenIncludeDeleteTimes,
                            false, /*expiry_opcode=*/true);
  const StreamKey key{.vb = 4, .sid = 77};
  const std::vector<ItemView> items = {Doc(1, "k", "v"), Tombstone(2, "d", DeleteSource::kExplicit),
                                       Tombstone(3, "x", DeleteSource::kTtl)};
  for (const ItemView& item : items) {
    const std::string bytes = ViaBatch(encoder, item, key);
    EXPECT_EQ(bytes, ViaAppend(encoder, item, key));
    const Frame frame = DecodeOne(bytes);
    EXPECT_EQ(frame.magic, protocol::Magic::kAltClientRequest);
    EXPECT_EQ(frame.vbucket(), 4);
    std::optional<uint16_t> sid;
    switch (frame.client_opcode()) {
      case Opcode::kDcpMutation:
        sid = protocol::DecodeDcpMutation(frame, false)->stream_id;
        break;
      case Opcode::kDcpDeletion:
        sid = protocol::DecodeDcpDeletion(frame, false)->stream_id;
        break;
      default:
        ASSERT_EQ(frame.client_opcode(), Opcode::kDcpExpiration);
        sid = protocol::DecodeDcpExpiration(frame, false)->stream_id;
        break;
    }
    EXPECT_EQ(sid, std::optional<uint16_t>(77));
  }
  // Without an id: the plain magic and no frame info.
  EXPECT_EQ(DecodeOne(ViaBatch(encoder, items[0])).magic, protocol::Magic::kClientRequest);
}

// The value filter: for every combination of the DCP_OPEN value flags and every kind of stored
// value, the batch (inline for plain values) and the general path write the same bytes, carrying
// exactly the value and datatype xattr::ForStream gives.
TEST(ItemEncoderTest, ValueFilterMatchesTheXattrRulesOnBothPaths) {
  constexpr uint8_t kJson = 0x01;
  const std::string section = xattr::Encode({{"_sys", "1"}, {"user", "2"}});
  const std::string body = R"({"a":1})";
  const std::string with_xattrs = section + body;
  struct Stored {
    ItemView item;
    std::string_view name;
  };
  std::vector<Stored> stored;
  stored.push_back({Doc(1, "plain", body), "plain JSON"});
  ItemView raw = Doc(2, "raw", "\x01\x02binary");
  raw.datatype = 0;
  stored.push_back({raw, "raw"});
  ItemView x = Doc(3, "x", with_xattrs);
  x.datatype = kJson | xattr::kDatatypeXattr;
  stored.push_back({x, "xattrs + body"});
  ItemView tomb = Tombstone(4, "t", DeleteSource::kExplicit);
  tomb.value = section;
  tomb.datatype = xattr::kDatatypeXattr;
  stored.push_back({tomb, "tombstone with system and user xattrs"});
  stored.push_back({Tombstone(5, "e", DeleteSource::kExplicit), "empty tombstone"});

  const uint32_t flag_sets[] = {
      0,
      protocol::kDcpOpenNoValue,
      protocol::kDcpOpenNoValueWithUnderlyingDatatype,
      protocol::kDcpOpenIncludeXattrs,
      protocol::kDcpOpenIncludeXattrs | protocol::kDcpOpenIncludeDeletedUserXattrs,
      protocol::kDcpOpenNoValue | protocol::kDcpOpenIncludeXattrs,
  };
  for (const uint32_t flags : flag_sets) {
    const ItemEncoder encoder(protocol::kDcpOpenProducer | flags, false, false);
    for (const Stored& s : stored) {
      SCOPED_TRACE(::testing::Message() << "flags " << flags << ", " << s.name);
      const std::string bytes = ViaBatch(encoder, s.item);
      EXPECT_EQ(bytes, ViaAppend(encoder, s.item));
      xattr::StreamOptions o;
      o.include_body =
          (flags & (protocol::kDcpOpenNoValue | protocol::kDcpOpenNoValueWithUnderlyingDatatype)) ==
          0;
      o.include_xattrs = (flags & protocol::kDcpOpenIncludeXattrs) != 0;
      o.include_deleted_user_xattrs = (flags & protocol::kDcpOpenIncludeDeletedUserXattrs) != 0;
      o.underlying_datatype = (flags & protocol::kDcpOpenNoValueWithUnderlyingDatatype) != 0;
      const xattr::StreamValue want =
          xattr::ForStream(s.item.value, s.item.datatype, s.item.deleted, o);
      const Frame frame = DecodeOne(bytes);
      EXPECT_EQ(frame.datatype, want.datatype);
      EXPECT_EQ(frame.value, want.value());
    }
  }
}

TEST(BackfillBatchTest, MaxSeqnoOfAKeyOrderBatch) {
  const ItemEncoder encoder(protocol::kDcpOpenProducer, false, false);
  BackfillBatch batch(64);
  for (const uint64_t seqno : {30, 12, 45, 7}) {
    batch.Append(encoder, Doc(seqno, "k" + std::to_string(seqno), "v"), kKey, 1);
  }
  EXPECT_EQ(batch.seqno(3), 7u);  // the last message's
  EXPECT_EQ(batch.max_seqno(), 45u);
}

}  // namespace
}  // namespace sluice::dcp
