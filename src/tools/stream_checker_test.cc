// File: tools/stream_checker_test.cc
#include "tools/stream_checker.h"

#include <gtest/gtest.h>

namespace sluice::tools {
namespace {

using protocol::DcpSnapshotMarker;
using protocol::DcpStreamEndStatus;

DcpSnapshotMarker Marker(Vbid vb, uint64_t start, uint64_t end) {
  DcpSnapshotMarker m;
  m.vbucket = vb;
  m.start_seqno = start;
  m.end_seqno = end;
  m.flags = protocol::kDcpSnapshotDisk;
  return m;
}

// The first error message, or "" (for EXPECT messages).
std::string FirstError(const StreamChecker& c) { return c.errors().empty() ? "" : c.errors()[0]; }

TEST(StreamCheckerTest, ACorrectStreamPasses) {
  StreamChecker c;
  c.StreamOpened(3, std::nullopt);
  c.Marker(Marker(3, 0, 5));
  c.Change(3, 1);
  c.Change(3, 4);
  c.Change(3, 5);
  c.Marker(Marker(3, 6, 6));
  c.Change(3, 6);
  c.StreamEnd(3, DcpStreamEndStatus::kOk);
  c.Finish();
  EXPECT_TRUE(c.ok()) << FirstError(c);
  EXPECT_EQ(c.error_count(), 0u);
}

TEST(StreamCheckerTest, InterleavedStreamsAreTrackedSeparately) {
  StreamChecker c;
  c.StreamOpened(1, std::nullopt);
  c.StreamOpened(2, std::nullopt);
  c.Marker(Marker(1, 1, 10));
  c.Marker(Marker(2, 1, 3));
  c.Change(1, 7);
  c.Change(2, 2);
  c.Change(1, 9);
  c.Change(2, 3);
  c.StreamEnd(2, DcpStreamEndStatus::kOk);
  c.StreamEnd(1, DcpStreamEndStatus::kOk);
  c.Finish();
  EXPECT_TRUE(c.ok()) << FirstError(c);
}

TEST(StreamCheckerTest, SeqnosMustStrictlyIncrease) {
  StreamChecker c;
  c.StreamOpened(0, std::nullopt);
  c.Marker(Marker(0, 1, 10));
  c.Change(0, 5);
  c.Change(0, 5);
  c.Change(0, 4);
  EXPECT_EQ(c.error_count(), 2u);
  EXPECT_NE(FirstError(c).find("not above the previous seqno 5"), std::string::npos)
      << FirstError(c);
}

TEST(StreamCheckerTest, ChangesMustLieInsideTheLatestMarker) {
  StreamChecker c;
  c.StreamOpened(0, std::nullopt);
  c.Change(0, 1);  // before any marker
  c.Marker(Marker(0, 2, 4));
  c.Change(0, 5);  // above the marker's end
  c.Marker(Marker(0, 10, 12));
  c.Change(0, 9);  // below the new marker's start (and above the previous seqno 5)
  EXPECT_EQ(c.error_count(), 3u);
  ASSERT_EQ(c.errors().size(), 3u);
  EXPECT_NE(c.errors()[0].find("before any snapshot marker"), std::string::npos);
  EXPECT_NE(c.errors()[1].find("outside its snapshot marker 2-4"), std::string::npos);
  EXPECT_NE(c.errors()[2].find("outside its snapshot marker 10-12"), std::string::npos);
}

TEST(StreamCheckerTest, AReversedMarkerIsAnError) {
  StreamChecker c;
  c.StreamOpened(0, std::nullopt);
  c.Marker(Marker(0, 9, 3));
  EXPECT_EQ(c.error_count(), 1u);
}

TEST(StreamCheckerTest, NothingBeyondTheRequestedEnd) {
  StreamChecker c;
  c.StreamOpened(0, uint64_t{3});
  c.Marker(Marker(0, 1, 10));
  c.Change(0, 3);
  c.Change(0, 4);
  EXPECT_EQ(c.error_count(), 1u);
  EXPECT_NE(FirstError(c).find("beyond the requested end 3"), std::string::npos) << FirstError(c);
}

TEST(StreamCheckerTest, StreamsMustEndOkExactlyOnce) {
  StreamChecker c;
  c.StreamOpened(0, std::nullopt);
  c.StreamOpened(1, std::nullopt);
  c.StreamOpened(2, std::nullopt);
  c.StreamEnd(0, DcpStreamEndStatus::kStateChanged);  // not Ok
  c.StreamEnd(1, DcpStreamEndStatus::kOk);
  c.StreamEnd(1, DcpStreamEndStatus::kOk);  // twice
  c.Finish();                               // 2 never ended
  ASSERT_EQ(c.error_count(), 3u);
  EXPECT_NE(c.errors()[0].find("StateChanged"), std::string::npos) << c.errors()[0];
  EXPECT_NE(c.errors()[1].find("STREAM_END without an open stream"), std::string::npos);
  EXPECT_NE(c.errors()[2].find("vb 2: no STREAM_END"), std::string::npos);
}

TEST(StreamCheckerTest, MessagesForStreamsNotOpenAreErrors) {
  StreamChecker c;
  c.Marker(Marker(4, 1, 1));
  c.Change(4, 1);
  c.StreamEnd(4, DcpStreamEndStatus::kOk);
  EXPECT_EQ(c.error_count(), 3u);
  // After its end, a stream takes nothing more.
  StreamChecker d;
  d.StreamOpened(4, std::nullopt);
  d.StreamEnd(4, DcpStreamEndStatus::kOk);
  d.Change(4, 1);
  EXPECT_EQ(d.error_count(), 1u);
}

TEST(StreamCheckerTest, KeepsOnlyTheFirstMessagesButCountsAll) {
  StreamChecker c(/*errors_kept=*/2);
  for (int i = 0; i < 5; ++i) c.Change(9, 1);
  EXPECT_EQ(c.error_count(), 5u);
  EXPECT_EQ(c.errors().size(), 2u);
  EXPECT_FALSE(c.ok());
}

}  // namespace
}  // namespace sluice::tools
