// File: tools/histogram_test.cc
#include "tools/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace sluice::tools {
namespace {

// The exact percentile of sorted `values` with the histogram's rank rule (ceil(p * n), at least 1).
uint64_t ExactPercentile(const std::vector<uint64_t>& sorted, double p) {
  const double exact = p / 100.0 * static_cast<double>(sorted.size());
  size_t rank = static_cast<size_t>(std::ceil(exact));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

void ExpectWithinPrecision(uint64_t reported, uint64_t exact) {
  // Never below the true value, at most one bucket width (<= 1/128 of the value) above it.
  EXPECT_GE(reported, exact);
  EXPECT_LE(static_cast<double>(reported - exact),
            static_cast<double>(exact) * LatencyHistogram::kRelativePrecision + 1.0)
      << "reported " << reported << " exact " << exact;
}

TEST(LatencyHistogramTest, EmptyHistogramReportsZero) {
  LatencyHistogram h;
  EXPECT_EQ(h.Count(), 0u);
  EXPECT_EQ(h.Min(), 0u);
  EXPECT_EQ(h.Max(), 0u);
  EXPECT_EQ(h.Mean(), 0.0);
  EXPECT_EQ(h.ValueAtPercentile(50), 0u);
  EXPECT_EQ(h.ValueAtPercentile(99.9), 0u);
}

TEST(LatencyHistogramTest, SmallValuesAreExact) {
  LatencyHistogram h;
  for (uint64_t v = 1; v <= 100; ++v) h.Record(v);
  EXPECT_EQ(h.Count(), 100u);
  EXPECT_EQ(h.Min(), 1u);
  EXPECT_EQ(h.Max(), 100u);
  EXPECT_DOUBLE_EQ(h.Mean(), 50.5);
  EXPECT_EQ(h.ValueAtPercentile(50), 50u);
  EXPECT_EQ(h.ValueAtPercentile(90), 90u);
  EXPECT_EQ(h.ValueAtPercentile(99), 99u);
  EXPECT_EQ(h.ValueAtPercentile(100), 100u);
  EXPECT_EQ(h.ValueAtPercentile(0), 1u);
}

TEST(LatencyHistogramTest, BucketLayoutIsContiguousAndWithinPrecision) {
  // Every bucket starts right after the previous one ends, and no bucket above the exact region
  // is wider than 1/128 of its lowest value.
  for (size_t i = 1; i < LatencyHistogram::BucketCount(); ++i) {
    ASSERT_EQ(LatencyHistogram::BucketLowest(i), LatencyHistogram::BucketHighest(i - 1) + 1) << i;
    const uint64_t low = LatencyHistogram::BucketLowest(i);
    const uint64_t width = LatencyHistogram::BucketHighest(i) - low + 1;
    if (low >= LatencyHistogram::kSubBucketCount) {
      ASSERT_LE(static_cast<double>(width),
                static_cast<double>(low) * LatencyHistogram::kRelativePrecision)
          << i;
    } else {
      ASSERT_EQ(width, 1u);
    }
  }
  EXPECT_EQ(LatencyHistogram::BucketHighest(LatencyHistogram::BucketCount() - 1), UINT64_MAX);
}

TEST(LatencyHistogramTest, IndexRoundTripsAcrossTheRange) {
  const uint64_t samples[] = {0,
                              1,
                              127,
                              128,
                              129,
                              255,
                              256,
                              1000,
                              123456,
                              1ULL << 32,
                              999999999,
                              1ULL << 62,
                              UINT64_MAX - 1,
                              UINT64_MAX};
  for (uint64_t v : samples) {
    const size_t index = LatencyHistogram::BucketIndex(v);
    ASSERT_LT(index, LatencyHistogram::BucketCount());
    EXPECT_LE(LatencyHistogram::BucketLowest(index), v);
    EXPECT_GE(LatencyHistogram::BucketHighest(index), v);
  }
}

TEST(LatencyHistogramTest, PercentilesOfAUniformDistributionAreWithinOnePercent) {
  LatencyHistogram h;
  std::vector<uint64_t> values;
  std::mt19937_64 random(42);
  std::uniform_int_distribution<uint64_t> dist(1000, 10'000'000);
  for (int i = 0; i < 200'000; ++i) {
    values.push_back(dist(random));
    h.Record(values.back());
  }
  std::sort(values.begin(), values.end());
  for (double p : {1.0, 10.0, 50.0, 90.0, 99.0, 99.9, 99.99, 100.0}) {
    ExpectWithinPrecision(h.ValueAtPercentile(p), ExactPercentile(values, p));
  }
  EXPECT_EQ(h.Min(), values.front());
  EXPECT_EQ(h.Max(), values.back());
}

TEST(LatencyHistogramTest, PercentilesOfALongTailAreWithinOnePercent) {
  // Log-normal-ish latencies: most around 50 µs, a tail reaching tens of milliseconds.
  LatencyHistogram h;
  std::vector<uint64_t> values;
  std::mt19937_64 random(7);
  std::lognormal_distribution<double> dist(std::log(50'000.0), 0.8);
  for (int i = 0; i < 100'000; ++i) {
    values.push_back(static_cast<uint64_t>(dist(random)));
    h.Record(values.back());
  }
  std::sort(values.begin(), values.end());
  for (double p : {50.0, 90.0, 99.0, 99.9}) {
    ExpectWithinPrecision(h.ValueAtPercentile(p), ExactPercentile(values, p));
  }
}

TEST(LatencyHistogramTest, HugeValuesKeepTheirPrecision) {
  LatencyHistogram h;
  const uint64_t big = 1'234'567'890'123ULL;  // ~20 minutes in ns
  h.Record(big);
  h.Record(big * 2);
  ExpectWithinPrecision(h.ValueAtPercentile(50), big);
  EXPECT_EQ(h.ValueAtPercentile(100), big * 2);  // clamped to the maximum
}

TEST(LatencyHistogramTest, MergeEqualsRecordingEverythingInOne) {
  LatencyHistogram a;
  LatencyHistogram b;
  LatencyHistogram all;
  std::mt19937_64 random(3);
  for (int i = 0; i < 10'000; ++i) {
    const uint64_t v = random() % 5'000'000;
    (i % 3 == 0 ? a : b).Record(v);
    all.Record(v);
  }
  a.Merge(b);
  EXPECT_EQ(a.Count(), all.Count());
  EXPECT_EQ(a.Min(), all.Min());
  EXPECT_EQ(a.Max(), all.Max());
  EXPECT_DOUBLE_EQ(a.Mean(), all.Mean());
  for (double p : {0.0, 25.0, 50.0, 75.0, 99.0, 100.0}) {
    EXPECT_EQ(a.ValueAtPercentile(p), all.ValueAtPercentile(p)) << p;
  }
}

TEST(LatencyHistogramTest, RecordManyAndReset) {
  LatencyHistogram h;
  h.RecordMany(500, 99);
  h.RecordMany(1'000'000, 1);
  h.RecordMany(7, 0);  // no-op
  EXPECT_EQ(h.Count(), 100u);
  EXPECT_EQ(h.Min(), 500u);
  ExpectWithinPrecision(h.ValueAtPercentile(99), 500);
  EXPECT_EQ(h.ValueAtPercentile(99.5), 1'000'000u);
  h.Reset();
  EXPECT_EQ(h.Count(), 0u);
  EXPECT_EQ(h.ValueAtPercentile(50), 0u);
}

}  // namespace
}  // namespace sluice::tools
