// Tests for frame infos (frame_info.h): escapes, typed parsing and kv_engine's rejection rules.
#include "protocol/frame_info.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "testing/frame_util.h"

namespace sluice::protocol {
namespace {

using testing::Bytes;

std::vector<FrameInfoEntry> All(std::string_view fe) {
  std::vector<FrameInfoEntry> out;
  Status s = ForEachFrameInfo(fe, [&out](const FrameInfoEntry& e) {
    out.push_back(e);
    return true;
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return out;
}

TEST(FrameInfoTest, SimpleEntries) {
  std::string fe;
  AppendBarrierFrameInfo(&fe);
  AppendDcpStreamIdFrameInfo(&fe, 0x1234);
  EXPECT_EQ(fe, Bytes({0x00, 0x22, 0x12, 0x34}));
  auto entries = All(fe);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].id, 0);
  EXPECT_TRUE(entries[0].payload.empty());
  EXPECT_EQ(entries[1].id, 2);
  EXPECT_EQ(entries[1].payload, Bytes({0x12, 0x34}));
}

TEST(FrameInfoTest, LengthEscape) {
  const std::string user(20, 'u');
  std::string fe;
  AppendImpersonateFrameInfo(&fe, user);
  // id 4, length nibble 15, escape byte 20 - 15 = 5.
  EXPECT_EQ(static_cast<uint8_t>(fe[0]), 0x4f);
  EXPECT_EQ(static_cast<uint8_t>(fe[1]), 5);
  auto entries = All(fe);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].id, 4);
  EXPECT_EQ(entries[0].payload, user);

  // Exactly 15 bytes needs the escape with a zero byte.
  fe.clear();
  AppendFrameInfo(&fe, 4, std::string(15, 'x'));
  EXPECT_EQ(static_cast<uint8_t>(fe[0]), 0x4f);
  EXPECT_EQ(static_cast<uint8_t>(fe[1]), 0);
  EXPECT_EQ(All(fe)[0].payload.size(), 15u);
}

TEST(FrameInfoTest, IdEscapeComesBeforeLengthEscape) {
  std::string fe;
  AppendFrameInfo(&fe, 15 + 3, std::string(16, 'p'));
  EXPECT_EQ(fe.substr(0, 3), Bytes({0xff, 3, 1}));
  auto entries = All(fe);
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].id, 18);
  EXPECT_EQ(entries[0].payload.size(), 16u);
}

TEST(FrameInfoTest, TruncatedEntriesAreRejected) {
  for (const std::string& fe : {Bytes({0x22, 0x12}), Bytes({0xf0}), Bytes({0x0f}),
                                Bytes({0x4f, 0x05, 'a'}), Bytes({0x00, 0x13})}) {
    Status s = ForEachFrameInfo(fe, [](const FrameInfoEntry&) { return true; });
    EXPECT_EQ(s.code(), Errc::kInvalid);
    EXPECT_EQ(ParseRequestFrameInfos(fe).status().code(), Errc::kInvalid);
  }
}

TEST(FrameInfoTest, ForEachStopsEarly) {
  std::string fe;
  AppendBarrierFrameInfo(&fe);
  AppendPreserveTtlFrameInfo(&fe);
  int seen = 0;
  ASSERT_TRUE(ForEachFrameInfo(fe, [&seen](const FrameInfoEntry&) {
                ++seen;
                return false;
              }).ok());
  EXPECT_EQ(seen, 1);
}

TEST(FrameInfoTest, ParsesTypedRequestInfos) {
  std::string fe;
  AppendBarrierFrameInfo(&fe);
  AppendDurabilityFrameInfo(&fe, {DurabilityLevel::kPersistToMajority, 1500});
  AppendDcpStreamIdFrameInfo(&fe, 7);
  AppendPreserveTtlFrameInfo(&fe);
  AppendImpersonateFrameInfo(&fe, "^ldapuser");
  auto infos = ParseRequestFrameInfos(fe);
  ASSERT_TRUE(infos.ok()) << infos.status().ToString();
  EXPECT_TRUE(infos->barrier);
  ASSERT_TRUE(infos->durability);
  EXPECT_EQ(infos->durability->level, DurabilityLevel::kPersistToMajority);
  EXPECT_EQ(infos->durability->timeout_ms, 1500);
  EXPECT_EQ(infos->dcp_stream_id, 7);
  EXPECT_TRUE(infos->preserve_ttl);
  EXPECT_EQ(infos->impersonate, "^ldapuser");

  auto empty = ParseRequestFrameInfos("");
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->durability);
  EXPECT_FALSE(empty->barrier);
}

TEST(FrameInfoTest, DurabilityWithoutTimeout) {
  std::string fe;
  AppendDurabilityFrameInfo(&fe, {DurabilityLevel::kMajority, std::nullopt});
  EXPECT_EQ(fe, Bytes({0x11, 0x01}));
  auto infos = ParseRequestFrameInfos(fe);
  ASSERT_TRUE(infos.ok());
  EXPECT_EQ(infos->durability->level, DurabilityLevel::kMajority);
  EXPECT_FALSE(infos->durability->timeout_ms);
}

TEST(FrameInfoTest, DurabilityRules) {
  EXPECT_EQ(ParseRequestFrameInfos(Bytes({0x11, 0x00})).status().code(),
            Errc::kDurabilityInvalidLevel);  // level None
  EXPECT_EQ(ParseRequestFrameInfos(Bytes({0x11, 0x04})).status().code(),
            Errc::kDurabilityInvalidLevel);
  EXPECT_EQ(ParseRequestFrameInfos(Bytes({0x13, 0x01, 0x00, 0x00})).status().code(),
            Errc::kDurabilityInvalidLevel);  // timeout 0
  EXPECT_EQ(ParseRequestFrameInfos(Bytes({0x13, 0x01, 0xff, 0xff})).status().code(),
            Errc::kDurabilityInvalidLevel);  // timeout infinite
  EXPECT_EQ(ParseRequestFrameInfos(Bytes({0x12, 0x01, 0x00})).status().code(),
            Errc::kInvalid);  // 2 bytes
}

TEST(FrameInfoTest, PayloadRules) {
  EXPECT_EQ(ParseRequestFrameInfos(Bytes({0x01, 0x00})).status().code(), Errc::kInvalid);
  EXPECT_EQ(ParseRequestFrameInfos(Bytes({0x51, 0x00})).status().code(), Errc::kInvalid);
  EXPECT_EQ(ParseRequestFrameInfos(Bytes({0x21, 0x00})).status().code(), Errc::kInvalid);
  EXPECT_EQ(ParseRequestFrameInfos(Bytes({0x40})).status().code(), Errc::kInvalid);
  EXPECT_EQ(ParseRequestFrameInfos(Bytes({0x60})).status().code(), Errc::kInvalid);
  EXPECT_EQ(ParseRequestFrameInfos(Bytes({0x30})).status().code(), Errc::kNotSupported);
}

TEST(FrameInfoTest, ServerDurationEncoding) {
  EXPECT_EQ(EncodeServerDuration(std::chrono::microseconds(0)), 0);
  for (int64_t us : {1, 100, 1000, 123456, 10000000}) {
    const uint16_t enc = EncodeServerDuration(std::chrono::microseconds(us));
    const int64_t dec = DecodeServerDuration(enc).count();
    // Lossy, but within the step of the encoding (a few percent).
    EXPECT_LE(dec, us);
    EXPECT_GE(dec, us - us / 10 - 2) << us;
  }
  EXPECT_EQ(EncodeServerDuration(std::chrono::hours(100)), 65535);
  std::string fe;
  AppendServerDurationFrameInfo(&fe, std::chrono::microseconds(500));
  ASSERT_EQ(fe.size(), 3u);
  EXPECT_EQ(static_cast<uint8_t>(fe[0]), 0x02);
}

}  // namespace
}  // namespace sluice::protocol
