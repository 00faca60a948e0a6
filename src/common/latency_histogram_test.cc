#include "common/latency_histogram.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace sluice {
namespace {

TEST(LatencyHistogramTest, BucketsTileTheRangeWithoutGapsOrOverlap) {
  uint64_t next = 0;
  for (size_t i = 0; i < LatencyHistogram::kNumBuckets; ++i) {
    const auto b = LatencyHistogram::RangeOf(i);
    EXPECT_EQ(b.lower, next) << "bucket " << i;
    EXPECT_GE(b.upper, b.lower);
    EXPECT_EQ(LatencyHistogram::IndexOf(b.lower), i);
    EXPECT_EQ(LatencyHistogram::IndexOf(b.upper), i);
    // Relative width at most 1/8 once past the linear part.
    if (b.lower >= 8) EXPECT_LE((b.upper - b.lower + 1) * 8, b.lower);
    next = b.upper + 1;
  }
  EXPECT_EQ(next, LatencyHistogram::kMaxTrackable + 1);
}

TEST(LatencyHistogramTest, PowersOfTwoAreBoundaries) {
  for (int k = 1; k < LatencyHistogram::kMaxExponent; ++k) {
    const uint64_t p = uint64_t{1} << k;
    EXPECT_EQ(LatencyHistogram::RangeOf(LatencyHistogram::IndexOf(p)).lower, p);
  }
}

TEST(LatencyHistogramTest, SnapshotCountsSumsAndOverflow) {
  LatencyHistogram h;
  h.Record(uint64_t{0});
  h.Record(uint64_t{5});
  h.Record(uint64_t{5});
  h.Record(uint64_t{100});
  h.Record(std::chrono::microseconds(1000));
  h.Record(std::chrono::nanoseconds(-5));  // clamps to 0
  h.Record(LatencyHistogram::kMaxTrackable + 1);
  const auto s = h.Take();
  EXPECT_EQ(s.count, 6u);
  EXPECT_EQ(s.overflowed, 1u);
  EXPECT_EQ(s.overflowed_sum_us, LatencyHistogram::kMaxTrackable + 1);
  EXPECT_EQ(h.TotalCount(), 7u);
  EXPECT_EQ(s.sum_us, 0u + 5 + 5 + 100 + 1000 + 0 + LatencyHistogram::kMaxTrackable + 1);
  ASSERT_EQ(s.buckets.size(), 4u);
  EXPECT_EQ(s.buckets[0].count, 2u);   // [0,0]
  EXPECT_EQ(s.buckets[1].count, 2u);   // [5,5]
  EXPECT_EQ(s.buckets[2].lower, 96u);  // 100 in [96,103]
  EXPECT_EQ(s.buckets[2].upper, 103u);
  EXPECT_EQ(s.CountBelow(1), 2u);
  EXPECT_EQ(s.CountBelow(64), 4u);
  EXPECT_EQ(s.CountBelow(1024), 6u);
  h.Reset();
  EXPECT_EQ(h.Take().count, 0u);
  EXPECT_EQ(h.TotalCount(), 0u);
}

TEST(LatencyHistogramTest, ConcurrentRecordsAreAllCounted) {
  LatencyHistogram h;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&h, t] {
      for (uint64_t i = 0; i < 10000; ++i) h.Record(i * (t + 1));
    });
  }
  for (auto& t : threads) t.join();
  const auto s = h.Take();
  EXPECT_EQ(s.count, 40000u);
  EXPECT_EQ(h.TotalCount(), 40000u);
}

}  // namespace
}  // namespace sluice
