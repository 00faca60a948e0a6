// File: common/heap.cc
#include "common/heap.h"

#include <cstddef>
#include <cstdlib>  // defines __GLIBC__ with glibc, so it is tested after this

#if defined(__GLIBC__)
#include <malloc.h>
#endif

// jemalloc's control interface, present when the binary links jemalloc (sluiced's release
// build): weak, so that everything else links without it.
extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen)
    __attribute__((weak));

namespace sluice {
namespace {

// jemalloc's MALLCTL_ARENAS_ALL: the pseudo-arena index meaning "every arena".
constexpr const char* kPurgeAllArenas = "arena.4096.purge";

}  // namespace

bool ReleaseFreeHeapToOs() {
  if (mallctl != nullptr) {
    return mallctl(kPurgeAllArenas, nullptr, nullptr, nullptr, 0) == 0;
  }
#if defined(__GLIBC__)
  return malloc_trim(0) != 0;
#else
  return false;
#endif
}

}  // namespace sluice
