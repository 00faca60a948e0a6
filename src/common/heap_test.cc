#include "common/heap.h"

#include <gtest/gtest.h>

#include <cstdlib>  // __GLIBC__
#include <memory>
#include <thread>
#include <vector>

namespace sluice {
namespace {

// Many small blocks freed on a thread of their own (its own malloc arena, as a backfill's or a
// queue release's are) are given back: the call reports that it released memory.
TEST(HeapTest, FreedSmallBlocksOfAnotherThreadAreGivenBack) {
#if defined(__GLIBC__) && !defined(SLUICE_SANITIZER_BUILD)
  std::thread([] {
    std::vector<std::unique_ptr<char[]>> blocks;
    for (int i = 0; i < 200000; ++i) blocks.push_back(std::make_unique<char[]>(200));
    blocks.clear();
  }).join();
  EXPECT_TRUE(ReleaseFreeHeapToOs());
#else
  GTEST_SKIP() << "the sanitizers' allocators keep their own caches; nothing to trim";
#endif
}

TEST(HeapTest, CallingItWithNothingFreedIsHarmless) {
  ReleaseFreeHeapToOs();
  ReleaseFreeHeapToOs();
}

}  // namespace
}  // namespace sluice
