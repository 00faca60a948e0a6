// File: common/lock_rank.h
//
// The program's lock order, written once. A Mutex constructed with a LockRank may only be
// acquired by a thread whose ranked locks held all have a strictly lower rank. Two locks of the
// same rank are therefore never held together (two streams, or a stream and a backfill manager).
// Locks built without a rank (kUnranked) are not checked.
//
// Builds with assertions (no NDEBUG: the ASan/UBSan and TSan builds, so every test of those runs)
// check the order at run time and abort with both locks' names on a violation. Release builds
// compile the check out. Clang's -Wthread-safety checks GUARDED_BY/REQUIRES at compile time;
// it cannot check an order between locks of different objects, which is what this adds.
//
// The order (outer first) and why each edge exists:
//
//   kDcpObject        one DCP object's own state: ConnMap::mu_, ConnMap's per-vbucket stream
//                     directory, Producer::mu_, BackfillManager::mu_, ActiveStream::mu_. Never two
//                     at once: each calls the others only after releasing its own lock, and never
//                     drops a reference that may be the last one under it (dcp/README.md).
//     └▶ kCheckpoints   CheckpointManager::mu_: a stream registers, reads and removes its cursor
//                       under its own lock. The manager calls no one under its lock (cursor-drop
//                       callbacks run after it is released).
//     └▶ kDcpLeaf       BackfillBuffer::mu_ (a stream charges it under its lock; the manager
//                       reads it under its lock) and BackfillTracker::mu_ (the manager asks for an
//                       admission unit under its lock). Leaves: nothing is called under them.
//
// Thread safety: the checker's state is per thread (thread_local); nothing is shared.
#pragma once

#include <cstdint>

namespace sluice {

enum class LockRank : uint8_t {
  kUnranked = 0,
  kDcpObject = 10,
  kCheckpoints = 20,
  kDcpLeaf = 30,
};

// The rank's name, for the checker's message.
const char* LockRankName(LockRank rank);

namespace lock_rank_internal {

#ifndef NDEBUG
inline constexpr bool kChecked = true;
#else
inline constexpr bool kChecked = false;
#endif

// Called by Mutex around every acquisition and release of a ranked lock (checked builds only).
// OnAcquire aborts, naming both ranks, if the calling thread holds a lock of equal or higher rank.
void OnAcquire(const void* mu, LockRank rank);
void OnRelease(const void* mu);
// Ranked locks the calling thread holds now (tests).
int HeldCount();

}  // namespace lock_rank_internal
}  // namespace sluice
