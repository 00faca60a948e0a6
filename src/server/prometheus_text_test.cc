#include "server/prometheus_text.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace sluice::server {
namespace {

TEST(PrometheusTextTest, GaugesAndCountersGetOneHeaderPerFamily) {
  PrometheusText page;
  page.Gauge("kv_curr_items", "Items", 42, {{"bucket", "default"}});
  page.Counter("kv_ops", "Ops", 3, {{"bucket", "default"}, {"op", "get"}});
  page.Counter("kv_ops", "Ops", 4, {{"bucket", "default"}, {"op", "set"}});
  page.Gauge("kv_uptime_seconds", "Up", 1.5);
  EXPECT_EQ(page.Take(),
            "# HELP kv_curr_items Items\n"
            "# TYPE kv_curr_items gauge\n"
            "kv_curr_items{bucket=\"default\"} 42\n"
            "# HELP kv_ops Ops\n"
            "# TYPE kv_ops counter\n"
            "kv_ops{bucket=\"default\",op=\"get\"} 3\n"
            "kv_ops{bucket=\"default\",op=\"set\"} 4\n"
            "# HELP kv_uptime_seconds Up\n"
            "# TYPE kv_uptime_seconds gauge\n"
            "kv_uptime_seconds 1.5\n");
  EXPECT_EQ(page.Take(), "");
}

TEST(PrometheusTextTest, InterleavedFamiliesStayTogether) {
  PrometheusText page;
  page.Gauge("a", "A", 1, {{"x", "1"}});
  page.Gauge("b", "B", 2);
  page.Gauge("a", "A", 3, {{"x", "2"}});
  EXPECT_EQ(page.Take(),
            "# HELP a A\n# TYPE a gauge\na{x=\"1\"} 1\na{x=\"2\"} 3\n"
            "# HELP b B\n# TYPE b gauge\nb 2\n");
}

TEST(PrometheusTextTest, HistogramIsCumulativeWithInfSumAndCount) {
  PrometheusText page;
  page.Histogram("kv_cmd_duration_seconds", "Latency",
                 {{0.000001, 2}, {0.000002, 0}, {0.000004, 3}}, 6, 0.25, {{"opcode", "GET"}});
  EXPECT_EQ(page.Take(),
            "# HELP kv_cmd_duration_seconds Latency\n"
            "# TYPE kv_cmd_duration_seconds histogram\n"
            "kv_cmd_duration_seconds_bucket{opcode=\"GET\",le=\"1e-06\"} 2\n"
            "kv_cmd_duration_seconds_bucket{opcode=\"GET\",le=\"2e-06\"} 2\n"
            "kv_cmd_duration_seconds_bucket{opcode=\"GET\",le=\"4e-06\"} 5\n"
            "kv_cmd_duration_seconds_bucket{opcode=\"GET\",le=\"+Inf\"} 6\n"
            "kv_cmd_duration_seconds_sum{opcode=\"GET\"} 0.25\n"
            "kv_cmd_duration_seconds_count{opcode=\"GET\"} 6\n");
}

TEST(PrometheusTextTest, Escaping) {
  EXPECT_EQ(PrometheusText::EscapeLabelValue("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(PrometheusText::EscapeHelp("x\\y\nz\"q"), "x\\\\y\\nz\"q");
  PrometheusText page;
  page.Gauge("g", "line1\nline2", 1, {{"bucket", "we\"ird"}});
  EXPECT_EQ(page.Take(), "# HELP g line1\\nline2\n# TYPE g gauge\ng{bucket=\"we\\\"ird\"} 1\n");
}

TEST(PrometheusTextTest, ValuesAndNames) {
  EXPECT_EQ(PrometheusText::FormatValue(0), "0");
  EXPECT_EQ(PrometheusText::FormatValue(-3), "-3");
  EXPECT_EQ(PrometheusText::FormatValue(18446744073709551615.0), "1.8446744073709552e+19");
  EXPECT_EQ(PrometheusText::FormatValue(0.1), "0.1");
  EXPECT_EQ(PrometheusText::FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(PrometheusText::FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(PrometheusText::FormatValue(std::nan("")), "NaN");
  EXPECT_TRUE(PrometheusText::ValidName("kv_ops"));
  EXPECT_TRUE(PrometheusText::ValidName("a:b_c9"));
  EXPECT_FALSE(PrometheusText::ValidName("9a"));
  EXPECT_FALSE(PrometheusText::ValidName("a-b"));
  EXPECT_FALSE(PrometheusText::ValidName(""));
}

}  // namespace
}  // namespace sluice::server
