// File: tools/progress_test.cc
#include "tools/progress.h"

#include <gtest/gtest.h>

#include <limits>
#include <sstream>

namespace sluice::tools {
namespace {

TEST(ProgressTest, Durations) {
  EXPECT_EQ(FormatDuration(0), "0:00");
  EXPECT_EQ(FormatDuration(7.4), "0:07");
  EXPECT_EQ(FormatDuration(754), "12:34");
  EXPECT_EQ(FormatDuration(3723), "1:02:03");
  EXPECT_EQ(FormatDuration(-1), "--:--");
  EXPECT_EQ(FormatDuration(std::numeric_limits<double>::infinity()), "--:--");
}

TEST(ProgressTest, Counts) {
  EXPECT_EQ(FormatCount(0), "0");
  EXPECT_EQ(FormatCount(950), "950");
  EXPECT_EQ(FormatCount(12345), "12.3k");
  EXPECT_EQ(FormatCount(812300), "812k");
  EXPECT_EQ(FormatCount(4561000), "4.56M");
}

ProgressSnapshot Half() {
  ProgressSnapshot s;
  s.items = 500000;
  s.bytes = 75'000'000;
  s.seconds = 2.0;
  s.seqnos_done = 600000;
  s.seqnos_total = 1200000;
  s.vbuckets_done = 400;
  s.vbuckets_total = 1024;
  return s;
}

TEST(ProgressTest, LineWithBarFiguresAndEta) {
  const std::string line = FormatProgress(Half(), 120);
  EXPECT_LE(line.size(), 120u);
  EXPECT_EQ(line.rfind("[", 0), 0u) << line;
  EXPECT_NE(line.find(" 50%"), std::string::npos) << line;
  EXPECT_NE(line.find("500000 items"), std::string::npos) << line;
  EXPECT_NE(line.find("250k items/s"), std::string::npos) << line;
  EXPECT_NE(line.find("37.5 MB/s"), std::string::npos) << line;
  EXPECT_NE(line.find("vb 400/1024"), std::string::npos) << line;
  // Half the seqnos in 2 s: 2 s to go.
  EXPECT_NE(line.find("ETA 0:02"), std::string::npos) << line;
}

TEST(ProgressTest, NarrowTerminalsDropTheBarThenTruncate) {
  const std::string wide = FormatProgress(Half(), 200);
  const std::string no_bar = FormatProgress(Half(), 70);
  EXPECT_EQ(no_bar.find('['), std::string::npos) << no_bar;
  EXPECT_LE(no_bar.size(), 70u);
  const std::string tiny = FormatProgress(Half(), 20);
  EXPECT_EQ(tiny.size(), 20u);
  EXPECT_LE(wide.size(), 200u);
}

TEST(ProgressTest, UnknownEtaAtTheStartAndZeroAtTheEnd) {
  ProgressSnapshot s = Half();
  s.seqnos_done = 0;
  s.items = 0;
  EXPECT_NE(FormatProgress(s, 120).find("ETA --:--"), std::string::npos);
  s.vbuckets_done = s.vbuckets_total;
  const std::string done = FormatProgress(s, 120);
  EXPECT_NE(done.find("100%"), std::string::npos) << done;
  EXPECT_NE(done.find("ETA 0:00"), std::string::npos) << done;
}

TEST(ProgressTest, NoSeqnosToCoverUsesVbuckets) {
  ProgressSnapshot s;
  s.seconds = 1;
  s.vbuckets_done = 1;
  s.vbuckets_total = 4;
  EXPECT_NE(FormatProgress(s, 120).find(" 25%"), std::string::npos);
}

TEST(ProgressTest, LineRedrawsInPlaceAndClears) {
  std::ostringstream out;
  ProgressLine line(out, 100);
  line.Clear();  // nothing drawn yet: nothing written
  EXPECT_EQ(out.str(), "");
  line.Update(Half());
  line.Update(Half());
  line.Clear();
  const std::string text = out.str();
  EXPECT_EQ(text.front(), '\r');
  EXPECT_EQ(text.find('\n'), std::string::npos);
  EXPECT_EQ(text.substr(text.size() - 4), "\r\x1b[K");
}

}  // namespace
}  // namespace sluice::tools
