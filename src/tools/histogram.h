// File: tools/histogram.h
//
// LatencyHistogram: an HDR-style histogram of non-negative 64-bit values (the load generator
// records nanoseconds), with a fixed relative precision over the whole range and O(1) recording
// that never allocates. Debian packages no C/C++ HdrHistogram, so this is the small part of it we
// need: record, merge, percentiles, min/max/mean.
//
// Bucket layout (log-linear, as HdrHistogram with two significant digits):
//
//   values 0 .. 127                      one bucket per value (exact)
//   values [2^e, 2^(e+1)), e >= 7        128 equal buckets of width 2^(e-7)
//
// so a bucket is never wider than 1/128 (0.78%) of the values it holds. ValueAtPercentile()
// answers the upper end of the bucket the percentile falls in, clamped to [Min(), Max()], so a
// reported percentile is never below the true one and at most 0.78% above it.
//
// Ownership: a plain value (about 60 KB of counters, allocated once at construction); each load
// worker owns one and the results are merged after the workers are joined.
// Thread safety: thread-compatible.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace sluice::tools {

// A histogram value in nanoseconds as microseconds, as the tools print latencies.
inline double Micros(uint64_t nanos) { return static_cast<double>(nanos) / 1000.0; }

class LatencyHistogram {
 public:
  // 2^kSubBucketBits buckets per power of two.
  static constexpr int kSubBucketBits = 7;
  static constexpr uint64_t kSubBucketCount = uint64_t{1} << kSubBucketBits;
  // Largest relative width of a bucket (the precision guarantee above).
  static constexpr double kRelativePrecision = 1.0 / kSubBucketCount;

  LatencyHistogram();

  void Record(uint64_t value) { RecordMany(value, 1); }
  void RecordMany(uint64_t value, uint64_t count);
  // Adds every value recorded in `other`.
  void Merge(const LatencyHistogram& other);
  void Reset();

  uint64_t Count() const { return count_; }
  // 0 when empty.
  uint64_t Min() const { return count_ == 0 ? 0 : min_; }
  uint64_t Max() const { return max_; }
  double Mean() const;
  // The value below or at which `percentile` (0..100) percent of the recorded values fall; 0 when
  // empty. Percentiles outside [0, 100] are clamped.
  uint64_t ValueAtPercentile(double percentile) const;

  // Bucket arithmetic, public for tests and for documentation of the layout.
  static size_t BucketIndex(uint64_t value);
  static uint64_t BucketLowest(size_t index);
  static uint64_t BucketHighest(size_t index);
  static size_t BucketCount();

 private:
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  long double sum_ = 0;  // for Mean(); long double keeps nanosecond sums of long runs exact enough
};

}  // namespace sluice::tools
