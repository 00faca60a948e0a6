// BgFetchQueue: how many drainers it asks for, the batches it hands out, and the waiters it
// answers when destroyed with fetches queued.
#include "engine/bg_fetch_queue.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sluice::engine {
namespace {

class StatusRecorder : public IoCompletion {
 public:
  void NotifyIoComplete(Status status) override { got = std::move(status); }
  std::optional<Status> got;
};

BgFetchQueue::Fetch FetchOf(std::string key, Waiter waiter = {}) {
  return {.vbid = 1, .key = std::move(key), .seqno = 7, .waiter = std::move(waiter)};
}

TEST(BgFetchQueueTest, StartsDrainersUpToTheLimit) {
  BgFetchQueue queue(2);
  EXPECT_TRUE(queue.Push(FetchOf("a")));
  EXPECT_TRUE(queue.Push(FetchOf("b")));
  EXPECT_FALSE(queue.Push(FetchOf("c")));  // two drainers run: they will take it
  EXPECT_EQ(queue.size(), 3u);
}

TEST(BgFetchQueueTest, TakeHandsOutBatchesOldestFirstAndEndsADrainerWhenEmpty) {
  BgFetchQueue queue(1);
  ASSERT_TRUE(queue.Push(FetchOf("a")));
  ASSERT_FALSE(queue.Push(FetchOf("b")));
  ASSERT_FALSE(queue.Push(FetchOf("c")));
  std::vector<BgFetchQueue::Fetch> batch = queue.Take(2);
  ASSERT_EQ(batch.size(), 2u);
  EXPECT_EQ(batch[0].key, "a");
  EXPECT_EQ(batch[1].key, "b");
  EXPECT_EQ(batch[1].seqno, 7u);
  EXPECT_EQ(queue.Take(2).size(), 1u);
  EXPECT_FALSE(queue.Push(FetchOf("d")));  // the drainer still runs: it takes "d"
  EXPECT_EQ(queue.Take(2).size(), 1u);
  EXPECT_TRUE(queue.Take(2).empty());     // the drainer ends...
  EXPECT_TRUE(queue.Push(FetchOf("e")));  // ...so the next fetch starts one
}

TEST(BgFetchQueueTest, ADestroyedQueueCancelsItsFetches) {
  auto waiter = std::make_shared<StatusRecorder>();
  {
    BgFetchQueue queue(1);
    queue.Push(FetchOf("a", waiter));
  }
  ASSERT_TRUE(waiter->got.has_value());
  EXPECT_EQ(waiter->got->code(), Errc::kCancelled);
}

}  // namespace
}  // namespace sluice::engine
