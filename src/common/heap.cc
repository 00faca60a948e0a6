// File: common/heap.cc
#include "common/heap.h"

#include <cstdlib>  // defines __GLIBC__ with glibc, so it is tested after this

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace sluice {

bool ReleaseFreeHeapToOs() {
#if defined(__GLIBC__)
  return malloc_trim(0) != 0;
#else
  return false;
#endif
}

}  // namespace sluice
