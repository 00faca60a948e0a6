#include "common/latency_histogram.h"

#include <bit>

namespace sluice {

size_t LatencyHistogram::IndexOf(uint64_t micros) {
  constexpr uint64_t kLinear = uint64_t{1} << kSubBucketBits;
  if (micros < kLinear) return static_cast<size_t>(micros);
  const int exponent = 63 - std::countl_zero(micros);  // >= kSubBucketBits
  const int shift = exponent - kSubBucketBits;
  const uint64_t sub = (micros >> shift) - kLinear;  // 0 .. kLinear-1
  return static_cast<size_t>(kLinear + static_cast<uint64_t>(shift) * kLinear + sub);
}

LatencyHistogram::Bucket LatencyHistogram::RangeOf(size_t index) {
  constexpr size_t kLinear = size_t{1} << kSubBucketBits;
  if (index < kLinear) return {index, index, 0};
  const size_t shift = (index - kLinear) / kLinear;
  const uint64_t sub = (index - kLinear) % kLinear;
  return {(kLinear + sub) << shift, ((kLinear + sub + 1) << shift) - 1, 0};
}

void LatencyHistogram::Record(uint64_t micros) {
  total_.fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(micros, std::memory_order_relaxed);
  if (micros > kMaxTrackable) {
    overflowed_.fetch_add(1, std::memory_order_relaxed);
    overflowed_sum_.fetch_add(micros, std::memory_order_relaxed);
    return;
  }
  buckets_[IndexOf(micros)].fetch_add(1, std::memory_order_relaxed);
}

LatencyHistogram::Snapshot LatencyHistogram::Take() const {
  Snapshot s;
  for (size_t i = 0; i < kNumBuckets; ++i) {
    const uint64_t n = buckets_[i].load(std::memory_order_relaxed);
    if (n == 0) continue;
    Bucket b = RangeOf(i);
    b.count = n;
    s.count += n;
    s.buckets.push_back(b);
  }
  s.sum_us = sum_.load(std::memory_order_relaxed);
  s.overflowed = overflowed_.load(std::memory_order_relaxed);
  s.overflowed_sum_us = overflowed_sum_.load(std::memory_order_relaxed);
  return s;
}

void LatencyHistogram::Reset() {
  for (auto& b : buckets_) b.store(0, std::memory_order_relaxed);
  total_.store(0, std::memory_order_relaxed);
  sum_.store(0, std::memory_order_relaxed);
  overflowed_.store(0, std::memory_order_relaxed);
  overflowed_sum_.store(0, std::memory_order_relaxed);
}

uint64_t LatencyHistogram::Snapshot::CountBelow(uint64_t bound_us) const {
  uint64_t n = 0;
  for (const Bucket& b : buckets) {
    if (b.upper < bound_us) n += b.count;
  }
  return n;
}

double LatencyHistogram::Snapshot::MeanUs() const {
  const uint64_t all = count + overflowed;
  return all == 0 ? 0.0 : static_cast<double>(sum_us) / static_cast<double>(all);
}

}  // namespace sluice
