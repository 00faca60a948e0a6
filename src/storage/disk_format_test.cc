#include "storage/disk_format.h"

#include <gtest/gtest.h>

#include <limits>

namespace sluice::storage {
namespace {

constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();

DiskDoc FullDoc() {
  DiskDoc doc;
  doc.key = "user::1234";
  doc.rev_seqno = 7;
  doc.cas = 0x17a1b2c3d4e5f607ULL;
  doc.flags = 0xdeadbeef;
  doc.expiry = 1800000000;
  doc.datatype = 0x05;
  doc.value = std::string("{\"a\":1}\0bin", 11);
  return doc;
}

void ExpectSameDoc(const DiskDoc& a, const DiskDoc& b) {
  EXPECT_EQ(a.key, b.key);
  EXPECT_EQ(a.rev_seqno, b.rev_seqno);
  EXPECT_EQ(a.cas, b.cas);
  EXPECT_EQ(a.flags, b.flags);
  EXPECT_EQ(a.expiry, b.expiry);
  EXPECT_EQ(a.datatype, b.datatype);
  EXPECT_EQ(a.deleted, b.deleted);
  EXPECT_EQ(a.delete_source, b.delete_source);
  EXPECT_EQ(a.value, b.value);
}

TEST(DiskFormatTest, SeqKeysSortByVbucketThenSeqno) {
  EXPECT_LT(SeqKey(1, kMax), SeqKey(2, 0));
  EXPECT_LT(SeqKey(1, 255), SeqKey(1, 256));
  EXPECT_LT(SeqKey(0x00ff, 1), SeqKey(0x0100, 1));
  EXPECT_LT(SeqKey(2, kMax - 1), SeqKey(2, kMax));
  Vbid vbid;
  uint64_t seqno;
  ASSERT_TRUE(DecodeSeqKey(SeqKey(0xfffe, kMax - 3), &vbid, &seqno));
  EXPECT_EQ(vbid, 0xfffe);
  EXPECT_EQ(seqno, kMax - 3);
  EXPECT_FALSE(DecodeSeqKey("short", &vbid, &seqno));
}

TEST(DiskFormatTest, PrefixesBoundTheirVbucket) {
  EXPECT_EQ(VBucketPrefix(0x0102), std::string("\x01\x02", 2));
  EXPECT_EQ(*VBucketPrefixEnd(1), VBucketPrefix(2));
  EXPECT_LT(SeqKey(1, kMax), *VBucketPrefixEnd(1));
  EXPECT_LT(KeyKey(1, std::string(300, '\xff')), *VBucketPrefixEnd(1));
  EXPECT_FALSE(VBucketPrefixEnd(0xffff).has_value());
  EXPECT_EQ(KeyKey(3, "k"), std::string("\x00\x03k", 3));
}

TEST(DiskFormatTest, VBucketStateKeys) {
  EXPECT_EQ(VBucketStateKey(17), "vbstate/17");
  EXPECT_EQ(ParseVBucketStateKey("vbstate/17"), Vbid{17});
  EXPECT_EQ(ParseVBucketStateKey("vbstate/0"), Vbid{0});
  EXPECT_EQ(ParseVBucketStateKey("vbstate/65535"), Vbid{65535});
  EXPECT_FALSE(ParseVBucketStateKey("vbstate/65536"));
  EXPECT_FALSE(ParseVBucketStateKey("vbstate/017"));
  EXPECT_FALSE(ParseVBucketStateKey("vbstate/"));
  EXPECT_FALSE(ParseVBucketStateKey("vbstate/1x"));
  EXPECT_FALSE(ParseVBucketStateKey("vbstate/-1"));
  EXPECT_FALSE(ParseVBucketStateKey("clean_shutdown"));
}

TEST(DiskFormatTest, DocRoundTrip) {
  const DiskDoc doc = FullDoc();
  const std::string encoded = EncodeDoc(doc);
  EXPECT_EQ(static_cast<uint8_t>(encoded[0]), kDocFormatV1);
  DiskDoc decoded;
  ASSERT_TRUE(DecodeDoc(encoded, /*key_only=*/false, &decoded).ok());
  ExpectSameDoc(doc, decoded);
  EXPECT_EQ(DecodeDocDeleted(encoded).value(), false);

  DiskDoc key_only;
  key_only.value = "stale";
  ASSERT_TRUE(DecodeDoc(encoded, /*key_only=*/true, &key_only).ok());
  EXPECT_EQ(key_only.key, doc.key);
  EXPECT_EQ(key_only.cas, doc.cas);
  EXPECT_TRUE(key_only.value.empty());
}

TEST(DiskFormatTest, TombstoneRoundTripKeepsDeleteSource) {
  for (DeleteSource source : {DeleteSource::kExplicit, DeleteSource::kTtl}) {
    DiskDoc doc = FullDoc();
    doc.deleted = true;
    doc.delete_source = source;
    doc.value = "xattrs";
    const std::string encoded = EncodeDoc(doc);
    DiskDoc decoded;
    ASSERT_TRUE(DecodeDoc(encoded, false, &decoded).ok());
    ExpectSameDoc(doc, decoded);
    EXPECT_EQ(DecodeDocDeleted(encoded).value(), true);
  }
}

TEST(DiskFormatTest, DocExtremesRoundTrip) {
  DiskDoc doc;
  doc.key = "k";
  doc.rev_seqno = kMax;
  doc.cas = kMax;
  doc.flags = std::numeric_limits<uint32_t>::max();
  doc.expiry = std::numeric_limits<uint32_t>::max();
  doc.datatype = 0xff;
  DiskDoc decoded;
  ASSERT_TRUE(DecodeDoc(EncodeDoc(doc), false, &decoded).ok());
  ExpectSameDoc(doc, decoded);
}

TEST(DiskFormatTest, DocRejectsBadInput) {
  const std::string good = EncodeDoc(FullDoc());
  DiskDoc out;
  EXPECT_EQ(DecodeDoc("", false, &out).code(), Errc::kCorruption);
  std::string bad_version = good;
  bad_version[0] = 2;
  EXPECT_EQ(DecodeDoc(bad_version, false, &out).code(), Errc::kCorruption);
  EXPECT_EQ(DecodeDocDeleted(bad_version).status().code(), Errc::kCorruption);
  std::string bad_flags = good;
  bad_flags[1] = 0x20;
  EXPECT_EQ(DecodeDoc(bad_flags, false, &out).code(), Errc::kCorruption);
  bad_flags[1] = 0x08;  // a durability level without the prepared bit
  EXPECT_EQ(DecodeDoc(bad_flags, false, &out).code(), Errc::kCorruption);
  // Every truncation that cuts into the header or the key is caught (the value is the tail).
  const size_t header_and_key = good.size() - FullDoc().value.size();
  for (size_t n = 0; n < header_and_key; ++n) {
    EXPECT_EQ(DecodeDoc(good.substr(0, n), false, &out).code(), Errc::kCorruption) << n;
  }
}

TEST(DiskFormatTest, KeyEntryRoundTrip) {
  for (const KeyEntry entry : {KeyEntry{1, false}, KeyEntry{kMax, true}}) {
    const std::string encoded = EncodeKeyEntry(entry);
    EXPECT_EQ(encoded.size(), 10u);
    EXPECT_EQ(static_cast<uint8_t>(encoded[0]), kKeyEntryFormatV1);
    EXPECT_EQ(DecodeKeyEntry(encoded).value(), entry);
  }
  const std::string good = EncodeKeyEntry({5, true});
  EXPECT_EQ(DecodeKeyEntry(good + "x").status().code(), Errc::kCorruption);
  EXPECT_EQ(DecodeKeyEntry(good.substr(0, 9)).status().code(), Errc::kCorruption);
  std::string bad_version = good;
  bad_version[0] = 9;
  EXPECT_EQ(DecodeKeyEntry(bad_version).status().code(), Errc::kCorruption);
}

TEST(DiskFormatTest, VBucketStateRoundTrip) {
  VBucketStateRecord state;
  state.state = VBucketState::kReplica;
  state.high_seqno = 1000;
  state.snap_start = 900;
  state.snap_end = 1000;
  state.purge_seqno = 12;
  state.max_cas = 0x17a1b2c3d4e5f607ULL;
  state.max_deleted_rev_seqno = 33;
  state.failover = {{0x1111, 900}, {0x2222, 0}, {kMax, kMax}};
  const std::string encoded = EncodeVBucketState(state);
  EXPECT_EQ(static_cast<uint8_t>(encoded[0]), kVBucketStateFormatV1);
  EXPECT_EQ(DecodeVBucketState(encoded).value(), state);

  VBucketStateRecord empty_log;
  EXPECT_EQ(DecodeVBucketState(EncodeVBucketState(empty_log)).value(), empty_log);
}

TEST(DiskFormatTest, VBucketStateWithTopologyIsV2) {
  VBucketStateRecord state;
  state.high_seqno = 7;
  state.failover = {{0x1111, 3}};
  state.topology.chains = {{"node-a", "node-b", std::nullopt}, {"node-a", std::string()}};
  const std::string encoded = EncodeVBucketState(state);
  EXPECT_EQ(static_cast<uint8_t>(encoded[0]), kVBucketStateFormatV2);
  EXPECT_EQ(DecodeVBucketState(encoded).value(), state);
  // Every truncation is detected, and so are trailing bytes.
  for (size_t n = 0; n < encoded.size(); ++n) {
    EXPECT_EQ(DecodeVBucketState(encoded.substr(0, n)).status().code(), Errc::kCorruption) << n;
  }
  EXPECT_EQ(DecodeVBucketState(encoded + "x").status().code(), Errc::kCorruption);

  // A v1 record (written before topologies existed) still reads, without a topology.
  VBucketStateRecord old = state;
  old.topology = {};
  const std::string v1 = EncodeVBucketState(old);
  EXPECT_EQ(static_cast<uint8_t>(v1[0]), kVBucketStateFormatV1);
  EXPECT_EQ(DecodeVBucketState(v1).value(), old);
  // A v2 record must hold a topology that obeys the rules: no chain, or a null active, is corrupt.
  std::string no_chain = v1;
  no_chain[0] = static_cast<char>(kVBucketStateFormatV2);
  EXPECT_EQ(DecodeVBucketState(no_chain + std::string(1, '\0')).status().code(), Errc::kCorruption);
  const std::string null_active = std::string("\x01\x01\x00", 3);
  EXPECT_EQ(DecodeVBucketState(no_chain + null_active).status().code(), Errc::kCorruption);
  EXPECT_EQ(DecodeVBucketState(no_chain + std::string("\x01\x01\x02x", 4)).value().topology,
            (VBucketTopology{{{"x"}}}));
}

TEST(DiskFormatTest, VBucketStateRejectsBadInput) {
  VBucketStateRecord state;
  state.failover = {{1, 2}, {3, 4}};
  const std::string good = EncodeVBucketState(state);
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_EQ(DecodeVBucketState(good.substr(0, n)).status().code(), Errc::kCorruption) << n;
  }
  EXPECT_EQ(DecodeVBucketState(good + "x").status().code(), Errc::kCorruption);
  std::string bad_state = good;
  bad_state[1] = 9;
  EXPECT_EQ(DecodeVBucketState(bad_state).status().code(), Errc::kCorruption);
  // A huge failover count must not allocate: it is bounded by the bytes present.
  std::string huge = good.substr(0, good.size() - 2 * 9 - 1);  // up to the count
  huge += std::string("\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 9);
  EXPECT_EQ(DecodeVBucketState(huge).status().code(), Errc::kCorruption);
}

}  // namespace
}  // namespace sluice::storage
