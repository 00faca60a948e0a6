#include "common/lock_rank.h"

#include <cstdio>
#include <cstdlib>

namespace sluice {

const char* LockRankName(LockRank rank) {
  switch (rank) {
    case LockRank::kUnranked:
      return "unranked";
    case LockRank::kDcpObject:
      return "dcp-object";
    case LockRank::kCheckpoints:
      return "checkpoints";
    case LockRank::kDcpLeaf:
      return "dcp-leaf";
  }
  return "unknown";
}

namespace lock_rank_internal {
namespace {

// The ranked locks this thread holds, in acquisition order. A thread never holds more than a
// handful (the order has three levels); the bound only protects the checker itself.
constexpr int kMaxHeld = 16;
struct Held {
  const void* mu;
  LockRank rank;
};
thread_local Held held[kMaxHeld];
thread_local int num_held = 0;

[[noreturn]] void Violation(LockRank held_rank, LockRank wanted) {
  std::fprintf(stderr,
               "lock order violation: acquiring a '%s' lock while holding a '%s' lock "
               "(common/lock_rank.h)\n",
               LockRankName(wanted), LockRankName(held_rank));
  std::abort();
}

}  // namespace

void OnAcquire(const void* mu, LockRank rank) {
  for (int i = 0; i < num_held; ++i) {
    if (held[i].rank >= rank) Violation(held[i].rank, rank);
  }
  if (num_held == kMaxHeld) {
    std::fprintf(stderr, "lock rank checker: more than %d ranked locks held\n", kMaxHeld);
    std::abort();
  }
  held[num_held++] = {mu, rank};
}

void OnRelease(const void* mu) {
  // Locks need not be released in reverse order (MutexUnlock, hand-over-hand).
  for (int i = num_held - 1; i >= 0; --i) {
    if (held[i].mu == mu) {
      held[i] = held[--num_held];
      return;
    }
  }
}

int HeldCount() { return num_held; }

}  // namespace lock_rank_internal
}  // namespace sluice
