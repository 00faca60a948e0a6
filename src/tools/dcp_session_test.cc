// File: tools/dcp_session_test.cc
//
// The server-free parts of tools/dcp_session.h and tools/dcp_options.h. The conversations
// (BeginDcp, RequestStream, ResolveVBuckets) are covered end to end in cli_dcp_e2e_test.cc.
#include "tools/dcp_session.h"

#include <gtest/gtest.h>

#include "protocol/dcp_codec.h"
#include "protocol/frame.h"

namespace sluice::tools {
namespace {

// Decodes the one frame in `wire` into the message the client hands out.
client::DcpMessage Decode(const std::string& wire) {
  const protocol::DecodeResult d = protocol::DecodeFrame(wire, ~uint32_t{0});
  EXPECT_EQ(d.status, protocol::DecodeStatus::kOk);
  StatusOr<client::DcpMessage> message = client::ToDcpMessage(d.frame, /*collections=*/false);
  EXPECT_TRUE(message.ok()) << message.status().ToString();
  return message.ok() ? *message : client::DcpMessage{};
}

TEST(DcpSessionTest, WireSizeIsTheEncodedSizeOfEveryProducerMessage) {
  std::vector<std::string> wires(6);
  const std::string value(100, 'v');
  protocol::DcpMutation m;
  m.vbucket = 3;
  m.by_seqno = 9;
  m.key = "some-key";
  m.value = value;
  protocol::AppendDcpMutation(&wires[0], m, false);

  protocol::DcpDeletion d1;
  d1.key = "deleted";
  d1.version = protocol::DcpDeletionVersion::kV1;
  protocol::AppendDcpDeletion(&wires[1], d1, false);
  protocol::DcpDeletion d2 = d1;
  d2.version = protocol::DcpDeletionVersion::kV2;
  d2.value = "xattrs";
  protocol::AppendDcpDeletion(&wires[2], d2, false);

  protocol::DcpExpiration x;
  x.key = "expired";
  protocol::AppendDcpExpiration(&wires[3], x, false);

  protocol::DcpSnapshotMarker marker;
  marker.start_seqno = 1;
  marker.end_seqno = 9;
  protocol::AppendDcpSnapshotMarker(&wires[4], marker);

  protocol::DcpStreamEnd end;
  protocol::AppendDcpStreamEnd(&wires[5], end);

  for (const std::string& wire : wires) {
    const client::DcpMessage message = Decode(wire);
    EXPECT_EQ(WireSize(message), wire.size()) << client::DescribeDcpMessage(message);
  }
}

TEST(DcpSessionTest, ResponsesHaveNoFlowControlSize) {
  EXPECT_EQ(WireSize(client::DcpMessage(client::Response{})), 0u);
}

TEST(DcpSessionTest, NoopIntervalIsAThirdOfTheTimeoutWithinLimits) {
  EXPECT_EQ(NoopIntervalSeconds(30), 10u);
  EXPECT_EQ(NoopIntervalSeconds(0.5), 1u);
  EXPECT_EQ(NoopIntervalSeconds(4), 1u);
  EXPECT_EQ(NoopIntervalSeconds(9), 3u);
  EXPECT_EQ(NoopIntervalSeconds(3600), 20u);
}

TEST(DcpSessionTest, ReadTimeoutAlwaysOutlastsTheNoopInterval) {
  for (const double timeout : {0.1, 1.0, 2.0, 3.0, 5.0, 9.0, 30.0, 100.0}) {
    ConnectionFlags flags;
    flags.timeout_seconds = timeout;
    const ConnectionFlags dcp = DcpConnectionFlags(flags);
    EXPECT_GE(dcp.timeout_seconds, timeout);
    // The interval BeginDcp asks for is computed from the raised timeout.
    const double interval = NoopIntervalSeconds(dcp.timeout_seconds);
    EXPECT_GE(dcp.timeout_seconds, 2 * interval + 2) << timeout;
  }
}

TEST(DcpOptionsTest, StartPositions) {
  EXPECT_EQ(*ParseStartPosition("latest"), (StartPosition{.latest = true, .seqno = 0}));
  EXPECT_EQ(*ParseStartPosition("0"), (StartPosition{.latest = false, .seqno = 0}));
  EXPECT_EQ(*ParseStartPosition("1234"), (StartPosition{.latest = false, .seqno = 1234}));
  for (const char* bad : {"", "-1", "12a", "Latest", "1e3"}) {
    EXPECT_FALSE(ParseStartPosition(bad).ok()) << bad;
  }
}

TEST(DcpOptionsTest, EndPositions) {
  EXPECT_EQ(*ParseEndPosition("latest"), std::nullopt);
  EXPECT_EQ(*ParseEndPosition("77"), std::optional<uint64_t>(77));
  EXPECT_FALSE(ParseEndPosition("end").ok());
}

}  // namespace
}  // namespace sluice::tools
