// Round trips and validation of the SyncWrite DCP messages (dcp_sync_write.h), checked against
// kv_engine's documented byte layouts.
#include "protocol/dcp_sync_write.h"

#include <gtest/gtest.h>

#include <string>

#include "protocol/byte_order.h"
#include "protocol/opcode.h"
#include "testing/frame_util.h"

namespace sluice::protocol {
namespace {

using testing::DecodeWhole;

TEST(DcpSyncWriteTest, PrepareRoundTrip) {
  DcpPrepare p;
  p.vbucket = 5;
  p.opaque = 0x1210;
  p.cas = 77;
  p.datatype = 1;
  p.by_seqno = 4;
  p.rev_seqno = 2;
  p.flags = 0xdeadbeef;
  p.expiration = 9;
  p.deleted = true;
  p.durability_level = 3;
  p.key = "hello";
  p.value = "{}";
  for (bool collections : {false, true}) {
    std::string wire;
    AppendDcpPrepare(&wire, p, collections);
    const Frame f = DecodeWhole(wire);
    EXPECT_EQ(f.client_opcode(), Opcode::kDcpPrepare);
    EXPECT_EQ(f.extras.size(), kDcpPrepareExtrasSize);
    EXPECT_EQ(static_cast<uint8_t>(f.extras[29]), 1);  // deleted
    EXPECT_EQ(static_cast<uint8_t>(f.extras[30]), 3);  // durability level
    auto d = DecodeDcpPrepare(f, collections);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_EQ(d->vbucket, 5);
    EXPECT_EQ(d->opaque, 0x1210u);
    EXPECT_EQ(d->cas, 77u);
    EXPECT_EQ(d->by_seqno, 4u);
    EXPECT_EQ(d->rev_seqno, 2u);
    EXPECT_EQ(d->flags, 0xdeadbeefu);
    EXPECT_EQ(d->expiration, 9u);
    EXPECT_TRUE(d->deleted);
    EXPECT_EQ(d->durability_level, 3);
    EXPECT_EQ(d->key, "hello");
    EXPECT_EQ(d->value, "{}");
  }
}

TEST(DcpSyncWriteTest, PrepareRefusesABadLevel) {
  DcpPrepare p;
  p.key = "k";
  p.durability_level = 0;
  std::string wire;
  AppendDcpPrepare(&wire, p, false);
  EXPECT_EQ(DecodeDcpPrepare(DecodeWhole(wire), false).status().code(), Errc::kInvalid);
}

// kv_engine's example: a commit of "hello", prepared at 4, committed at 5, vbucket 0x0210,
// opaque 0x1210.
TEST(DcpSyncWriteTest, CommitMatchesTheDocumentedBytes) {
  std::string wire;
  AppendDcpResolution(
      &wire, static_cast<uint8_t>(Opcode::kDcpCommit),
      {.vbucket = 0x0210, .opaque = 0x1210, .prepared_seqno = 4, .seqno = 5, .key = "hello"},
      false);
  ASSERT_EQ(wire.size(), 24u + 16 + 5);
  EXPECT_EQ(static_cast<uint8_t>(wire[1]), 0x62);
  EXPECT_EQ(LoadBe16(wire.data() + 2), 5);       // key length
  EXPECT_EQ(static_cast<uint8_t>(wire[4]), 16);  // extras length
  EXPECT_EQ(LoadBe16(wire.data() + 6), 0x0210);
  EXPECT_EQ(LoadBe32(wire.data() + 8), 21u);  // body
  EXPECT_EQ(LoadBe32(wire.data() + 12), 0x1210u);
  EXPECT_EQ(LoadBe64(wire.data() + 24), 4u);
  EXPECT_EQ(LoadBe64(wire.data() + 32), 5u);
  EXPECT_EQ(wire.substr(40), "hello");
  auto d = DecodeDcpResolution(DecodeWhole(wire), false);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->prepared_seqno, 4u);
  EXPECT_EQ(d->seqno, 5u);
  EXPECT_EQ(d->key, "hello");
}

TEST(DcpSyncWriteTest, AbortRoundTripAndValidation) {
  std::string wire;
  AppendDcpResolution(&wire, static_cast<uint8_t>(Opcode::kDcpAbort),
                      {.vbucket = 1, .prepared_seqno = 7, .seqno = 9, .key = "k"}, false);
  const Frame f = DecodeWhole(wire);
  EXPECT_EQ(f.client_opcode(), Opcode::kDcpAbort);
  auto d = DecodeDcpResolution(f, false);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->seqno, 9u);
  std::string bad;
  AppendDcpResolution(&bad, static_cast<uint8_t>(Opcode::kDcpAbort),
                      {.prepared_seqno = 9, .seqno = 9, .key = "k"}, false);
  EXPECT_EQ(DecodeDcpResolution(DecodeWhole(bad), false).status().code(), Errc::kInvalid);
}

TEST(DcpSyncWriteTest, SeqnoAcknowledged) {
  std::string wire;
  AppendDcpSeqnoAcknowledged(&wire, {.vbucket = 3, .opaque = 8, .prepared_seqno = 12});
  ASSERT_EQ(wire.size(), 32u);
  const Frame f = DecodeWhole(wire);
  EXPECT_EQ(f.client_opcode(), Opcode::kDcpSeqnoAcknowledged);
  auto d = DecodeDcpSeqnoAcknowledged(f);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->vbucket, 3);
  EXPECT_EQ(d->opaque, 8u);
  EXPECT_EQ(d->prepared_seqno, 12u);
}

}  // namespace
}  // namespace sluice::protocol
