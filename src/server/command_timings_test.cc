#include "server/command_timings.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "server/metrics.h"
#include "server/prometheus_text.h"

namespace sluice::server {
namespace {

using protocol::Opcode;
using StatMap = std::map<std::string, std::string>;

StatMap Collect(const CommandTimings& t, TimingsFormat format) {
  StatMap out;
  AddTimingStats(t, format, [&](std::string_view k, std::string_view v) {
    EXPECT_TRUE(out.emplace(k, v).second) << "duplicate key " << k;
  });
  return out;
}

TEST(CommandTimingsTest, CbstatsFormatHasMeanAndInclusiveRanges) {
  CommandTimings t;
  t.Record(Opcode::kGet, std::chrono::microseconds(5));
  t.Record(Opcode::kGet, std::chrono::microseconds(5));
  t.Record(Opcode::kGetq, std::chrono::microseconds(100));
  t.Record(Opcode::kSet, std::chrono::microseconds(20));
  const StatMap s = Collect(t, TimingsFormat::kCbstats);
  // The ep-engine family merges GET and GETQ.
  EXPECT_EQ(s.at("get_cmd_mean"), "37");  // (5 + 5 + 100) / 3, rounded
  EXPECT_EQ(s.at("get_cmd_5,5"), "2");
  EXPECT_EQ(s.at("get_cmd_96,103"), "1");
  EXPECT_EQ(s.at("store_cmd_20,21"), "1");
  EXPECT_EQ(s.at("cmd_get_5,5"), "2");
  EXPECT_EQ(s.at("cmd_getq_96,103"), "1");
  EXPECT_EQ(s.at("cmd_set_mean"), "20");
  // Empty histograms are left out; no overflow keys without overflow.
  EXPECT_EQ(s.count("arith_cmd_mean"), 0u);
  EXPECT_EQ(s.count("cmd_delete_mean"), 0u);
  EXPECT_EQ(s.count("cmd_get_overflowed"), 0u);
}

TEST(CommandTimingsTest, CbstatsFormatReportsOverflow) {
  CommandTimings t;
  t.Record(Opcode::kStat, std::chrono::hours(24));
  const StatMap s = Collect(t, TimingsFormat::kCbstats);
  EXPECT_EQ(s.at("cmd_stat_overflowed"), "1");
  EXPECT_EQ(s.at("cmd_stat_maxTrackable"), std::to_string(LatencyHistogram::kMaxTrackable));
  EXPECT_EQ(s.at("get_stats_cmd_overflowed"), "1");
}

TEST(CommandTimingsTest, JsonFormatIsHdrHistogramToJson) {
  CommandTimings t;
  t.Record(Opcode::kSet, std::chrono::microseconds(3));
  t.Record(Opcode::kSet, std::chrono::microseconds(1000));
  const StatMap s = Collect(t, TimingsFormat::kJson);
  const auto j = nlohmann::json::parse(s.at("cmd_set"));
  EXPECT_EQ(j["total"], 2);
  EXPECT_EQ(j["bucketsLow"], 3);
  ASSERT_EQ(j["data"].size(), 2u);
  EXPECT_EQ(j["data"][0][0], 3);
  EXPECT_EQ(j["data"][0][1], 1);
  EXPECT_DOUBLE_EQ(j["data"][0][2].get<double>(), 50.0);
  EXPECT_EQ(j["data"][1][0], 1023);
  EXPECT_DOUBLE_EQ(j["data"][1][2].get<double>(), 100.0);
  EXPECT_EQ(j["overflowed"], 0);
  EXPECT_EQ(j["overflowed_sum"], 0);
  EXPECT_EQ(j["max_trackable"], LatencyHistogram::kMaxTrackable);
  EXPECT_TRUE(s.count("store_cmd"));
}

TEST(CommandTimingsTest, PrometheusBucketsArePowersOfTwoMicroseconds) {
  CommandTimings t;
  t.Record(Opcode::kGet, std::chrono::microseconds(0));
  t.Record(Opcode::kGet, std::chrono::microseconds(3));
  t.Record(Opcode::kGet, std::chrono::microseconds(4));
  t.Record(Opcode::kGet, std::chrono::seconds(100));  // beyond the last bound: +Inf only
  PrometheusText page;
  AddLatencyHistogram(&page, "h", "help", t.Of(Opcode::kGet).Take(), {{"opcode", "GET"}});
  const std::string text = page.Take();
  EXPECT_NE(text.find("h_bucket{opcode=\"GET\",le=\"1e-06\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_bucket{opcode=\"GET\",le=\"4e-06\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_bucket{opcode=\"GET\",le=\"8e-06\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_bucket{opcode=\"GET\",le=\"67.108864\"} 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_bucket{opcode=\"GET\",le=\"+Inf\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_count{opcode=\"GET\"} 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("h_sum{opcode=\"GET\"} 100.000007\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace sluice::server
