#include "common/clock.h"

namespace sluice {

uint64_t SystemClock::WallNanos() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Clock* Clock::Real() {
  static SystemClock clock;
  return &clock;
}

}  // namespace sluice
