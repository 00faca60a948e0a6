// File: common/heap.h
//
// Giving freed heap memory back to the operating system.
//
// glibc's malloc keeps what a thread frees in that thread's arena for reuse; after a burst (a
// hundred DCP consumers disconnecting with megabytes of backfilled items queued each) the process
// RSS stays at its peak although the memory is free. ReleaseFreeHeapToOs() asks the allocator to
// return it: jemalloc (sluiced's release build) purges every arena's dirty pages at once instead
// of over its decay time; glibc's malloc_trim unmaps top chunks and MADV_DONTNEEDs free pages.
// Either walks every arena, which takes milliseconds on a large heap: call it from a background
// thread, after a large release, never per operation. A no-op where neither exists.
//
// Thread safety: thread-safe (the allocator locks each arena in turn).
#pragma once

namespace sluice {

// Returns true if the allocator released some memory.
bool ReleaseFreeHeapToOs();

}  // namespace sluice
