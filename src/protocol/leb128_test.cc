// Tests for LEB128 (leb128.h): canonical round trips and the strict-decoding edge cases.
#include "protocol/leb128.h"

#include <gtest/gtest.h>

#include <string>

#include "testing/frame_util.h"

namespace sluice::protocol {
namespace {

using testing::Bytes;

TEST(Leb128Test, RoundTripsBoundaries) {
  for (uint32_t v : {0u, 1u, 0x7fu, 0x80u, 0x3fffu, 0x4000u, 0x1fffffu, 0x200000u, 0xfffffffu,
                     0x10000000u, 0xffffffffu}) {
    std::string enc;
    AppendLeb128(&enc, v);
    auto dec = DecodeLeb128(enc);
    ASSERT_TRUE(dec.has_value()) << v;
    EXPECT_EQ(dec->value, v);
    EXPECT_EQ(dec->length, enc.size());
  }
}

TEST(Leb128Test, EncodedSizes) {
  char buf[kMaxLeb128U32Size];
  EXPECT_EQ(EncodeLeb128(0, buf), 1u);
  EXPECT_EQ(buf[0], 0);
  EXPECT_EQ(EncodeLeb128(127, buf), 1u);
  EXPECT_EQ(EncodeLeb128(128, buf), 2u);
  EXPECT_EQ(static_cast<uint8_t>(buf[0]), 0x80);
  EXPECT_EQ(static_cast<uint8_t>(buf[1]), 0x01);
  EXPECT_EQ(EncodeLeb128(0xffffffff, buf), 5u);
}

TEST(Leb128Test, DecodesPrefixAndReportsLength) {
  const std::string in = Bytes({0x88, 0x01}) + "key";
  auto dec = DecodeLeb128(in);
  ASSERT_TRUE(dec);
  EXPECT_EQ(dec->value, 0x88u);
  EXPECT_EQ(dec->length, 2u);
}

TEST(Leb128Test, RejectsTruncated) {
  EXPECT_FALSE(DecodeLeb128(""));
  EXPECT_FALSE(DecodeLeb128(Bytes({0x80})));
  EXPECT_FALSE(DecodeLeb128(Bytes({0xff, 0xff})));
}

TEST(Leb128Test, RejectsTooLong) {
  // Six bytes, or five with a continuation bit on the fifth.
  EXPECT_FALSE(DecodeLeb128(Bytes({0x80, 0x80, 0x80, 0x80, 0x80, 0x01})));
  EXPECT_FALSE(DecodeLeb128(Bytes({0xff, 0xff, 0xff, 0xff, 0x8f, 0x00})));
}

TEST(Leb128Test, RejectsOverflowPast32Bits) {
  EXPECT_TRUE(DecodeLeb128(Bytes({0xff, 0xff, 0xff, 0xff, 0x0f})));   // 0xffffffff
  EXPECT_FALSE(DecodeLeb128(Bytes({0xff, 0xff, 0xff, 0xff, 0x10})));  // 2^32
}

TEST(Leb128Test, RejectsOverlongEncodings) {
  EXPECT_FALSE(DecodeLeb128(Bytes({0x80, 0x00})));        // 0 in two bytes
  EXPECT_FALSE(DecodeLeb128(Bytes({0x81, 0x00})));        // 1 in two bytes
  EXPECT_FALSE(DecodeLeb128(Bytes({0x81, 0x80, 0x00})));  // 1 in three bytes
  EXPECT_TRUE(DecodeLeb128(Bytes({0x00})));
}

TEST(Leb128Test, SplitCollectionKey) {
  std::string key;
  AppendCollectionKey(&key, 8, "doc");
  auto split = SplitCollectionKey(key);
  ASSERT_TRUE(split.ok());
  EXPECT_EQ(split->collection_id, 8u);
  EXPECT_EQ(split->key, "doc");

  EXPECT_EQ(SplitCollectionKey(Bytes({0x00})).status().code(), Errc::kInvalid);  // no key
  EXPECT_EQ(SplitCollectionKey(Bytes({0x80})).status().code(), Errc::kInvalid);  // truncated
  EXPECT_EQ(SplitCollectionKey("").status().code(), Errc::kInvalid);
}

}  // namespace
}  // namespace sluice::protocol
