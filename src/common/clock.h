// File: common/clock.h
//
// Clock: the seam through which sluice reads time, so that expiry, HLC, snoozing tasks and timeouts
// can be driven deterministically in tests (FakeClock) and from the real clocks in production
// (SystemClock).
//
// Ownership: the process owns one SystemClock (Clock::Real()); tests own FakeClocks and pass them
// down by pointer. Users hold a non-owning pointer; the clock outlives every user.
// Thread safety: thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace sluice {

using SteadyTime = std::chrono::steady_clock::time_point;
using Duration = std::chrono::steady_clock::duration;

// A setting in (fractional) seconds, as the config holds it, as a Duration.
inline Duration Seconds(double s) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s));
}

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time, for intervals and deadlines.
  virtual SteadyTime Now() const = 0;
  // Wall-clock time in nanoseconds since the Unix epoch (HLC, expiry).
  virtual uint64_t WallNanos() const = 0;
  // Wall-clock seconds since the Unix epoch.
  uint32_t WallSeconds() const { return static_cast<uint32_t>(WallNanos() / 1'000'000'000ULL); }

  // The process's real clock.
  static Clock* Real();
};

class SystemClock final : public Clock {
 public:
  SteadyTime Now() const override { return std::chrono::steady_clock::now(); }
  uint64_t WallNanos() const override;
};

// Starts at a fixed time and moves only when told.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(uint64_t wall_nanos = 1'700'000'000ULL * 1'000'000'000ULL)
      : steady_(0), wall_nanos_(wall_nanos) {}
  SteadyTime Now() const override { return SteadyTime(Duration(steady_.load())); }
  uint64_t WallNanos() const override { return wall_nanos_.load(); }
  void Advance(Duration d) {
    steady_.fetch_add(d.count());
    wall_nanos_.fetch_add(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
  }

 private:
  std::atomic<Duration::rep> steady_;
  std::atomic<uint64_t> wall_nanos_;
};

}  // namespace sluice
