// File: tools/histogram.cc
#include "tools/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace sluice::tools {
namespace {

// Power-of-two ranges above the exact region: exponents kSubBucketBits .. 63.
constexpr size_t kRanges = 64 - LatencyHistogram::kSubBucketBits;
constexpr size_t kBuckets =
    LatencyHistogram::kSubBucketCount + kRanges * LatencyHistogram::kSubBucketCount;

}  // namespace

LatencyHistogram::LatencyHistogram() : counts_(kBuckets, 0) {}

size_t LatencyHistogram::BucketCount() { return kBuckets; }

size_t LatencyHistogram::BucketIndex(uint64_t value) {
  if (value < kSubBucketCount) return static_cast<size_t>(value);
  const int exponent = 63 - std::countl_zero(value);  // >= kSubBucketBits
  const int shift = exponent - kSubBucketBits;
  const uint64_t sub = (value >> shift) - kSubBucketCount;  // 0 .. kSubBucketCount - 1
  return static_cast<size_t>(kSubBucketCount + static_cast<uint64_t>(shift) * kSubBucketCount +
                             sub);
}

uint64_t LatencyHistogram::BucketLowest(size_t index) {
  if (index < kSubBucketCount) return index;
  const uint64_t range = (index - kSubBucketCount) / kSubBucketCount;  // = shift
  const uint64_t sub = (index - kSubBucketCount) % kSubBucketCount;
  return (kSubBucketCount + sub) << range;
}

uint64_t LatencyHistogram::BucketHighest(size_t index) {
  if (index + 1 >= kBuckets) return UINT64_MAX;
  return BucketLowest(index + 1) - 1;
}

void LatencyHistogram::RecordMany(uint64_t value, uint64_t count) {
  if (count == 0) return;
  counts_[BucketIndex(value)] += count;
  count_ += count;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  sum_ += static_cast<long double>(value) * static_cast<long double>(count);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

void LatencyHistogram::Reset() {
  std::fill(counts_.begin(), counts_.end(), 0);
  count_ = 0;
  min_ = UINT64_MAX;
  max_ = 0;
  sum_ = 0;
}

double LatencyHistogram::Mean() const {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_ / static_cast<long double>(count_));
}

uint64_t LatencyHistogram::ValueAtPercentile(double percentile) const {
  if (count_ == 0) return 0;
  percentile = std::clamp(percentile, 0.0, 100.0);
  // The rank of the value asked for: at least the first value, at most the last.
  const double exact_rank = percentile / 100.0 * static_cast<double>(count_);
  uint64_t rank = static_cast<uint64_t>(std::ceil(exact_rank));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::clamp(BucketHighest(i), Min(), max_);
  }
  return max_;
}

}  // namespace sluice::tools
