// File: tools/change_format_test.cc
#include "tools/change_format.h"

#include <gtest/gtest.h>

namespace sluice::tools {
namespace {

client::DcpMutation Mutation() {
  client::DcpMutation m;
  m.vbucket = 3;
  m.by_seqno = 17;
  m.rev_seqno = 2;
  m.cas = 99;
  m.flags = 5;
  m.expiration = 100;
  m.key = "user-1";
  m.value = "hello";
  return m;
}

TEST(ChangeFormatTest, MutationText) {
  const client::DcpMutation m = Mutation();
  EXPECT_EQ(FormatChangeText(ViewOf(m), false), "vb:3 seqno:17 mutation key:user-1 size:5");
  EXPECT_EQ(FormatChangeText(ViewOf(m), true), "vb:3 seqno:17 mutation key:user-1 value:hello");
}

TEST(ChangeFormatTest, DeletionAndExpirationText) {
  client::DcpDeletion d;
  d.vbucket = 1;
  d.by_seqno = 18;
  d.key = "gone";
  EXPECT_EQ(FormatChangeText(ViewOf(d), false), "vb:1 seqno:18 deletion key:gone");
  client::DcpExpiration x;
  x.vbucket = 2;
  x.by_seqno = 19;
  x.key = "session";
  EXPECT_EQ(FormatChangeText(ViewOf(x), true), "vb:2 seqno:19 expiration key:session");
}

TEST(ChangeFormatTest, ControlBytesAreEscaped) {
  EXPECT_EQ(EscapeText("a\nb\tc\\d\x01\x7f"), "a\\nb\\tc\\\\d\\x01\\x7f");
  EXPECT_EQ(EscapeText("h\xc3\xa9"), "h\xc3\xa9");  // UTF-8 passes through
  client::DcpMutation m = Mutation();
  m.key = std::string("k\0y", 3);
  m.value = "line1\nline2";
  EXPECT_EQ(FormatChangeText(ViewOf(m), true),
            "vb:3 seqno:17 mutation key:k\\x00y value:line1\\nline2");
}

TEST(ChangeFormatTest, MutationJson) {
  const client::DcpMutation m = Mutation();
  const nlohmann::json json = ChangeJson(ViewOf(m), false);
  EXPECT_EQ(json["vbucket"], 3);
  EXPECT_EQ(json["seqno"], 17);
  EXPECT_EQ(json["kind"], "mutation");
  EXPECT_EQ(json["key"], "user-1");
  EXPECT_EQ(json["size"], 5);
  EXPECT_EQ(json["cas"], 99);
  EXPECT_EQ(json["rev_seqno"], 2);
  EXPECT_EQ(json["flags"], 5);
  EXPECT_EQ(json["expiry"], 100);
  EXPECT_FALSE(json.contains("value"));
  EXPECT_EQ(ChangeJson(ViewOf(m), true)["value"], "hello");
}

TEST(ChangeFormatTest, DeletionJsonHasADeleteTime) {
  client::DcpDeletion d;
  d.vbucket = 1;
  d.by_seqno = 18;
  d.delete_time = 1234;
  d.key = "gone";
  const nlohmann::json json = ChangeJson(ViewOf(d), false);
  EXPECT_EQ(json["kind"], "deletion");
  EXPECT_EQ(json["delete_time"], 1234);
  EXPECT_FALSE(json.contains("flags"));
}

TEST(ChangeFormatTest, MarkersAndStreamEnds) {
  protocol::DcpSnapshotMarker marker;
  marker.vbucket = 3;
  marker.start_seqno = 15;
  marker.end_seqno = 19;
  marker.flags = protocol::kDcpSnapshotDisk | protocol::kDcpSnapshotCheckpoint;
  EXPECT_EQ(FormatMarkerText(marker), "vb:3 snapshot 15-19 disk,checkpoint");
  const nlohmann::json json = MarkerJson(marker);
  EXPECT_EQ(json["kind"], "snapshot");
  EXPECT_EQ(json["start"], 15);
  EXPECT_EQ(json["end"], 19);
  EXPECT_EQ(json["flags"], nlohmann::json::array({"disk", "checkpoint"}));

  protocol::DcpStreamEnd end;
  end.vbucket = 3;
  end.status = protocol::DcpStreamEndStatus::kStateChanged;
  EXPECT_EQ(FormatStreamEndText(end), "vb:3 stream-end StateChanged");
  EXPECT_EQ(StreamEndJson(end)["status"], "StateChanged");
}

TEST(ChangeFormatTest, SnapshotFlagNames) {
  EXPECT_EQ(SnapshotFlagNames(0), "none");
  EXPECT_EQ(SnapshotFlagNames(protocol::kDcpSnapshotMemory), "memory");
  EXPECT_EQ(SnapshotFlagNames(protocol::kDcpSnapshotMemory | 0x100), "memory,0x100");
}

}  // namespace
}  // namespace sluice::tools
