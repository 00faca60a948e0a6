// File: common/latency_histogram.h
//
// LatencyHistogram: a fixed-size, lock-free histogram of durations in whole microseconds, for
// the per-opcode command timings (STAT timings, Prometheus /metrics). Log-linear buckets, the
// shape of kv_engine's HdrHistogram with one significant figure:
//
//   values 0..7           one bucket each               [0,0] [1,1] ... [7,7]
//   values 8..2^36-1      8 buckets per power of two    [8,8] [9,9] ... [16,17] [18,19] ...
//                         (bucket width 2^(e-3) for values in [2^e, 2^(e+1)))
//   values >= 2^36 us     counted as overflowed (about 19 hours: never a real command)
//
// Every power of two is a bucket boundary, so "how many samples were below 2^k us" is exact
// (the Prometheus buckets use that). The relative error of a bucket is at most 1/8.
//
// Record() is one relaxed fetch_add on the bucket, the count and the sum; Snapshot() reads the
// counters one by one, so a snapshot taken while other threads record may be a few samples
// inconsistent (count vs buckets); Snapshot() derives its total from the buckets it read, so a
// snapshot is always self-consistent.
//
// Ownership: a value type without copy (atomics); owned by whoever measures (e.g. the server's
// CommandTimings). Thread safety: Record, Snapshot and Reset from any thread.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace sluice {

class LatencyHistogram {
 public:
  static constexpr int kSubBucketBits = 3;  // 8 buckets per power of two
  static constexpr int kMaxExponent = 36;   // values < 2^36 us are tracked
  static constexpr uint64_t kMaxTrackable = (uint64_t{1} << kMaxExponent) - 1;
  static constexpr size_t kNumBuckets =
      (size_t{1} << kSubBucketBits) * (kMaxExponent - kSubBucketBits + 1);

  struct Bucket {
    uint64_t lower = 0;  // inclusive, microseconds
    uint64_t upper = 0;  // inclusive, microseconds
    uint64_t count = 0;
  };
  struct Snapshot {
    std::vector<Bucket> buckets;  // the non-empty ones, ascending
    uint64_t count = 0;           // samples in buckets (overflowed not included)
    uint64_t sum_us = 0;          // sum of every sample's value, overflowed included
    uint64_t overflowed = 0;
    uint64_t overflowed_sum_us = 0;
    // Samples below `bound_us` (exact when bound_us is a power of two or <= 8).
    uint64_t CountBelow(uint64_t bound_us) const;
    double MeanUs() const;
  };

  LatencyHistogram() = default;
  LatencyHistogram(const LatencyHistogram&) = delete;
  LatencyHistogram& operator=(const LatencyHistogram&) = delete;

  void Record(uint64_t micros);
  // Truncated to whole microseconds (as kv_engine); a negative duration counts as 0.
  void Record(std::chrono::nanoseconds duration) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(duration).count();
    Record(us < 0 ? uint64_t{0} : static_cast<uint64_t>(us));
  }
  // Samples recorded (overflowed included); one relaxed load.
  uint64_t TotalCount() const { return total_.load(std::memory_order_relaxed); }
  Snapshot Take() const;
  void Reset();

  // The bucket index of a value below kMaxTrackable + 1, and a bucket's inclusive range.
  static size_t IndexOf(uint64_t micros);
  static Bucket RangeOf(size_t index);

 private:
  std::array<std::atomic<uint64_t>, kNumBuckets> buckets_{};
  std::atomic<uint64_t> total_{0};
  std::atomic<uint64_t> sum_{0};
  std::atomic<uint64_t> overflowed_{0};
  std::atomic<uint64_t> overflowed_sum_{0};
};

}  // namespace sluice
