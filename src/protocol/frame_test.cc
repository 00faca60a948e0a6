// Tests for frame delimiting (frame.h) and the encoders (encode.h).
#include "protocol/frame.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

#include "protocol/byte_order.h"
#include "protocol/encode.h"
#include "protocol/frame_info.h"
#include "protocol/leb128.h"

namespace sluice::protocol {
namespace {

constexpr uint32_t kMaxBody = 1 << 20;

TEST(FrameTest, RequestRoundTrip) {
  std::string buf;
  RequestFields r;
  r.opcode = Opcode::kSet;
  r.datatype = 0x01;
  r.vbucket = 0x1234;
  r.opaque = 0xdeadbeef;
  r.cas = 0x0102030405060708;
  r.extras = std::string_view("\x00\x00\x00\x01\x00\x00\x00\x02", 8);
  r.key = "hello";
  r.value = "{\"a\":1}";
  AppendRequest(&buf, r);
  ASSERT_EQ(buf.size(), kHeaderSize + 8 + 5 + 7);
  EXPECT_EQ(static_cast<uint8_t>(buf[0]), 0x80);

  const DecodeResult d = DecodeFrame(buf, kMaxBody);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.size, buf.size());
  const Frame& f = d.frame;
  EXPECT_TRUE(f.is_request());
  EXPECT_EQ(f.magic, Magic::kClientRequest);
  EXPECT_EQ(f.client_opcode(), Opcode::kSet);
  EXPECT_EQ(f.datatype, 0x01);
  EXPECT_EQ(f.vbucket(), 0x1234);
  EXPECT_EQ(f.opaque, 0xdeadbeefu);
  EXPECT_EQ(f.cas, 0x0102030405060708u);
  EXPECT_TRUE(f.framing_extras.empty());
  EXPECT_EQ(f.extras, r.extras);
  EXPECT_EQ(f.key, "hello");
  EXPECT_EQ(f.value, "{\"a\":1}");
  EXPECT_EQ(f.size, buf.size());
  EXPECT_EQ(f.body_size(), 20u);
}

TEST(FrameTest, ResponseRoundTrip) {
  std::string buf;
  ResponseFields r;
  r.opcode = Opcode::kGet;
  r.status = McbpStatus::kKeyEnoent;
  r.opaque = 7;
  r.value = "not found";
  AppendResponse(&buf, r);
  const DecodeResult d = DecodeFrame(buf, kMaxBody);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_TRUE(d.frame.is_response());
  EXPECT_EQ(d.frame.magic, Magic::kClientResponse);
  EXPECT_EQ(d.frame.status(), McbpStatus::kKeyEnoent);
  EXPECT_EQ(d.frame.opaque, 7u);
  EXPECT_EQ(d.frame.value, "not found");
}

TEST(FrameTest, AltRequestMagicCarriesFramingExtras) {
  std::string fe;
  AppendDurabilityFrameInfo(&fe, {DurabilityLevel::kMajority, 500});
  std::string buf;
  const std::string extras(8, '\0');
  RequestFields r;
  r.opcode = Opcode::kSet;
  r.framing_extras = fe;
  r.extras = extras;
  r.key = "k";
  r.value = "v";
  AppendRequest(&buf, r);
  EXPECT_EQ(static_cast<uint8_t>(buf[0]), 0x08);
  EXPECT_EQ(static_cast<uint8_t>(buf[2]), fe.size());  // framing-extras length
  EXPECT_EQ(static_cast<uint8_t>(buf[3]), 1);          // key length (one byte)
  EXPECT_EQ(LoadBe32(buf.data() + 8), fe.size() + 8 + 1 + 1);

  const DecodeResult d = DecodeFrame(buf, kMaxBody);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.frame.magic, Magic::kAltClientRequest);
  EXPECT_TRUE(d.frame.is_request());
  EXPECT_EQ(d.frame.framing_extras, fe);
  EXPECT_EQ(d.frame.extras.size(), 8u);
  EXPECT_EQ(d.frame.key, "k");
  EXPECT_EQ(d.frame.value, "v");
}

TEST(FrameTest, AltResponseMagic) {
  std::string fe;
  AppendServerDurationFrameInfo(&fe, std::chrono::microseconds(1000));
  std::string buf;
  ResponseFields r;
  r.opcode = Opcode::kGet;
  r.framing_extras = fe;
  r.key = "key";
  r.value = "value";
  AppendResponse(&buf, r);
  EXPECT_EQ(static_cast<uint8_t>(buf[0]), 0x18);
  const DecodeResult d = DecodeFrame(buf, kMaxBody);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.frame.magic, Magic::kAltClientResponse);
  EXPECT_TRUE(d.frame.is_response());
  EXPECT_EQ(d.frame.framing_extras, fe);
  EXPECT_EQ(d.frame.key, "key");
  EXPECT_EQ(d.frame.value, "value");
}

TEST(FrameTest, ServerInitiatedMagics) {
  std::string buf;
  AppendFrame(&buf, Magic::kServerRequest,
              static_cast<uint8_t>(ServerOpcode::kClustermapChangeNotification), 0, 0, 9, 0, {},
              std::string_view("\0\0\0\x05", 4), "default", "{}");
  AppendFrame(&buf, Magic::kServerResponse,
              static_cast<uint8_t>(ServerOpcode::kClustermapChangeNotification), 0, 0, 9, 0, {}, {},
              {}, {});
  DecodeResult d = DecodeFrame(buf, kMaxBody);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_TRUE(d.frame.is_request());
  EXPECT_TRUE(IsServerMagic(d.frame.magic));
  EXPECT_EQ(d.frame.server_opcode(), ServerOpcode::kClustermapChangeNotification);
  EXPECT_EQ(d.frame.key, "default");
  EXPECT_EQ(d.frame.value, "{}");
  d = DecodeFrame(std::string_view(buf).substr(d.size), kMaxBody);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_TRUE(d.frame.is_response());
  EXPECT_EQ(d.frame.magic, Magic::kServerResponse);
}

TEST(FrameTest, CollectionPrefixedKey) {
  std::string buf;
  RequestBuilder(Opcode::kGet).Key("doc").Collection(0).Opaque(3).AppendTo(&buf);
  const DecodeResult d = DecodeFrame(buf, kMaxBody);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.frame.key, std::string_view("\0doc", 4));
  auto split = SplitCollectionKey(d.frame.key);
  ASSERT_TRUE(split.ok());
  EXPECT_EQ(split->collection_id, 0u);
  EXPECT_EQ(split->key, "doc");
}

TEST(FrameTest, BuilderExtrasHelpers) {
  std::string buf;
  RequestBuilder(Opcode::kIncrement)
      .Key("counter")
      .ArithmeticExtras(5, 100, 0xffffffff)
      .Vbucket(9)
      .AppendTo(&buf);
  DecodeResult d = DecodeFrame(buf, kMaxBody);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  ASSERT_EQ(d.frame.extras.size(), 20u);
  EXPECT_EQ(LoadBe64(d.frame.extras.data()), 5u);
  EXPECT_EQ(LoadBe64(d.frame.extras.data() + 8), 100u);
  EXPECT_EQ(LoadBe32(d.frame.extras.data() + 16), 0xffffffffu);
  EXPECT_EQ(d.frame.vbucket(), 9);

  buf.clear();
  RequestBuilder(Opcode::kSet).Key("k").Value("v").MutationExtras(0x02000000, 60).AppendTo(&buf);
  d = DecodeFrame(buf, kMaxBody);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(LoadBe32(d.frame.extras.data()), 0x02000000u);
  EXPECT_EQ(LoadBe32(d.frame.extras.data() + 4), 60u);

  const std::string built = RequestBuilder(Opcode::kTouch).Key("k").ExpiryExtras(10).Build();
  d = DecodeFrame(built, kMaxBody);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(LoadBe32(d.frame.extras.data()), 10u);
}

TEST(FrameTest, AppendsWithoutDisturbingEarlierFrames) {
  std::string buf = "prefix";
  RequestBuilder(Opcode::kNoop).Opaque(1).AppendTo(&buf);
  RequestBuilder(Opcode::kNoop).Opaque(2).AppendTo(&buf);
  EXPECT_EQ(buf.substr(0, 6), "prefix");
  std::string_view rest = std::string_view(buf).substr(6);
  for (uint32_t opaque : {1u, 2u}) {
    const DecodeResult d = DecodeFrame(rest, kMaxBody);
    ASSERT_EQ(d.status, DecodeStatus::kOk);
    EXPECT_EQ(d.frame.opaque, opaque);
    rest.remove_prefix(d.size);
  }
  EXPECT_TRUE(rest.empty());
}

TEST(FrameTest, NeedMoreReportsBytesNeeded) {
  const std::string buf = RequestBuilder(Opcode::kGet).Key("abc").Opaque(1).Build();
  DecodeResult d = DecodeFrame(buf.data(), 0, kMaxBody);
  EXPECT_EQ(d.status, DecodeStatus::kNeedMore);
  EXPECT_EQ(d.size, kHeaderSize);
  for (size_t n = 1; n < kHeaderSize; ++n) {
    d = DecodeFrame(buf.data(), n, kMaxBody);
    EXPECT_EQ(d.status, DecodeStatus::kNeedMore) << n;
    EXPECT_EQ(d.size, kHeaderSize);
  }
  for (size_t n = kHeaderSize; n < buf.size(); ++n) {
    d = DecodeFrame(buf.data(), n, kMaxBody);
    EXPECT_EQ(d.status, DecodeStatus::kNeedMore) << n;
    EXPECT_EQ(d.size, buf.size());
  }
  EXPECT_EQ(DecodeFrame(buf, kMaxBody).status, DecodeStatus::kOk);
}

TEST(FrameTest, UnknownMagicIsMalformedEvenWithOneByte) {
  const char garbage[] = {0x42};
  DecodeResult d = DecodeFrame(garbage, 1, kMaxBody);
  EXPECT_EQ(d.status, DecodeStatus::kMalformed);
  EXPECT_FALSE(d.reason.empty());
  std::string buf = RequestBuilder(Opcode::kNoop).Build();
  buf[0] = 0x00;
  EXPECT_EQ(DecodeFrame(buf, kMaxBody).status, DecodeStatus::kMalformed);
}

TEST(FrameTest, BodyOverLimitIsMalformed) {
  std::string buf = RequestBuilder(Opcode::kSet).Key("k").Value(std::string(100, 'x')).Build();
  EXPECT_EQ(DecodeFrame(buf, 100).status, DecodeStatus::kMalformed);
  EXPECT_EQ(DecodeFrame(buf, 101).status, DecodeStatus::kOk);
  // The limit applies as soon as the header is in, without waiting for the body.
  EXPECT_EQ(DecodeFrame(buf.data(), kHeaderSize, 100).status, DecodeStatus::kMalformed);
}

TEST(FrameTest, ExtrasPlusKeyOverBodyIsInvalidButDelimited) {
  std::string buf = RequestBuilder(Opcode::kGet).Key("abcd").Opaque(77).Build();
  StoreBe16(buf.data() + 2, 10);  // key length 10 > body 4
  buf += RequestBuilder(Opcode::kNoop).Opaque(78).Build();

  DecodeResult d = DecodeFrame(buf.data(), kHeaderSize + 2, kMaxBody);
  EXPECT_EQ(d.status, DecodeStatus::kNeedMore);  // invalid only once the frame is complete

  d = DecodeFrame(buf, kMaxBody);
  ASSERT_EQ(d.status, DecodeStatus::kInvalid);
  EXPECT_EQ(d.size, kHeaderSize + 4);
  EXPECT_EQ(d.frame.opaque, 77u);
  EXPECT_EQ(d.frame.client_opcode(), Opcode::kGet);
  EXPECT_TRUE(d.frame.key.empty());
  EXPECT_FALSE(d.reason.empty());

  // The caller skips it and continues with the next frame.
  d = DecodeFrame(std::string_view(buf).substr(d.size), kMaxBody);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  EXPECT_EQ(d.frame.opaque, 78u);
}

TEST(FrameTest, AltFramingExtrasOverBodyIsInvalid) {
  std::string buf = RequestBuilder(Opcode::kGet).Key("abcd").Build();
  buf[0] = static_cast<char>(0x08);
  buf[2] = 3;  // framing 3 + key 4 > body 4
  buf[3] = 4;
  EXPECT_EQ(DecodeFrame(buf, kMaxBody).status, DecodeStatus::kInvalid);
  buf[2] = 0;
  EXPECT_EQ(DecodeFrame(buf, kMaxBody).status, DecodeStatus::kOk);
}

TEST(FrameTest, StatusResponseEchoesOpcodeAndOpaque) {
  const std::string req = RequestBuilder(Opcode::kGetk).Key("x").Opaque(5).Build();
  const DecodeResult d = DecodeFrame(req, kMaxBody);
  ASSERT_EQ(d.status, DecodeStatus::kOk);
  std::string out;
  AppendStatusResponse(&out, d.frame, McbpStatus::kEinval);
  const DecodeResult r = DecodeFrame(out, kMaxBody);
  ASSERT_EQ(r.status, DecodeStatus::kOk);
  EXPECT_EQ(r.frame.client_opcode(), Opcode::kGetk);
  EXPECT_EQ(r.frame.opaque, 5u);
  EXPECT_EQ(r.frame.status(), McbpStatus::kEinval);
  EXPECT_EQ(r.frame.body_size(), 0u);
}

// A poor man's fuzz pass: random mutations of valid frames must never read out of bounds (ASan
// checks that) and every kOk frame's sections must lie inside the input.
TEST(FrameTest, RandomMutationsStayInBounds) {
  std::mt19937 rng(12345);
  const std::string base = RequestBuilder(Opcode::kSet)
                               .Key("somekey")
                               .Value("somevalue")
                               .MutationExtras(1, 2)
                               .Opaque(1)
                               .Build();
  for (int i = 0; i < 20000; ++i) {
    std::string buf = base;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int j = 0; j < flips; ++j) buf[rng() % buf.size()] = static_cast<char>(rng());
    const size_t len = rng() % (buf.size() + 1);
    const std::string input = buf.substr(0, len);
    const DecodeResult d = DecodeFrame(input, 64);
    if (d.status == DecodeStatus::kOk) {
      const char* begin = input.data();
      const char* end = input.data() + input.size();
      for (std::string_view s :
           {d.frame.framing_extras, d.frame.extras, d.frame.key, d.frame.value}) {
        if (s.empty()) continue;
        EXPECT_GE(s.data(), begin);
        EXPECT_LE(s.data() + s.size(), end);
      }
      EXPECT_LE(d.size, input.size());
    }
  }
}

}  // namespace
}  // namespace sluice::protocol
