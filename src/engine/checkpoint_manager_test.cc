#include "engine/checkpoint_manager.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

namespace sluice::engine {
namespace {

std::shared_ptr<Item> Mut(const std::string& key, const std::string& value = "v") {
  auto item = std::make_shared<Item>();
  item->key = key;
  item->value = Blob::Make(value);
  return item;
}

// "id:[start,end] key@seqno ... | id:[...] ..." — compact and exact.
std::string Describe(const CursorItems& items) {
  std::string out;
  for (const auto& snap : items.snapshots) {
    if (!out.empty()) out += " | ";
    out += std::to_string(snap.checkpoint_id) + ":[" + std::to_string(snap.start) + "," +
           std::to_string(snap.end) + "]";
    for (const auto& item : snap.items) {
      out += " " + item->key + "@" + std::to_string(item->by_seqno);
    }
  }
  return out;
}

class CheckpointManagerTest : public ::testing::Test {
 protected:
  std::unique_ptr<CheckpointManager> Make(uint64_t last_seqno = 0, CheckpointConfig config = {}) {
    return std::make_unique<CheckpointManager>(/*vbid=*/3, config, last_seqno, &counter_);
  }

  // The bucket-wide counter always equals the sum of the live managers' usage.
  void ExpectCounterMatches(const CheckpointManager& mgr) {
    EXPECT_EQ(counter_.load(), static_cast<int64_t>(mgr.MemoryUsage()));
  }

  // Queues `keys` in order; returns the last seqno.
  uint64_t QueueAll(CheckpointManager& mgr, std::initializer_list<const char*> keys) {
    uint64_t seqno = 0;
    for (const char* key : keys) seqno = mgr.Queue(Mut(key));
    return seqno;
  }

  // Moves the persistence cursor to the end and commits.
  void Persist(CheckpointManager& mgr) {
    mgr.GetItemsForPersistence(SIZE_MAX);
    mgr.PersistenceCommitted();
  }

  std::atomic<int64_t> counter_{0};
};

// ---- seqnos ----

TEST_F(CheckpointManagerTest, QueueAssignsConsecutiveSeqnos) {
  auto mgr = Make();
  EXPECT_EQ(mgr->GetHighSeqno(), 0u);
  auto item = Mut("a");
  EXPECT_EQ(mgr->Queue(item), 1u);
  EXPECT_EQ(item->by_seqno, 1u);
  EXPECT_EQ(mgr->Queue(Mut("b")), 2u);
  EXPECT_EQ(mgr->Queue(Mut("a")), 3u);  // dedup still consumes a new seqno
  EXPECT_EQ(mgr->GetHighSeqno(), 3u);
}

TEST_F(CheckpointManagerTest, QueueContinuesFromWarmupSeqno) {
  auto mgr = Make(/*last_seqno=*/100);
  EXPECT_EQ(mgr->GetHighSeqno(), 100u);
  EXPECT_EQ(mgr->Queue(Mut("a")), 101u);
  auto reg = mgr->RegisterCursor("dcp", 100, true);
  EXPECT_EQ(Describe(mgr->GetItemsForCursor(reg.cursor, 10)), "1:[101,101] a@101");
  EXPECT_EQ(mgr->GetStats().persistence_cursor_seqno, 100u);
}

TEST_F(CheckpointManagerTest, SetVBucketStateIsInvisibleAndConsumesNoSeqno) {
  auto mgr = Make();
  auto reg = mgr->RegisterCursor("dcp", 0, true);
  mgr->QueueSetVBucketState(VBucketState::kActive);
  EXPECT_EQ(mgr->GetHighSeqno(), 0u);
  CursorItems got = mgr->GetItemsForCursor(reg.cursor, 10);
  EXPECT_TRUE(got.snapshots.empty());
  EXPECT_FALSE(got.more_available);
  mgr->CreateNewCheckpoint();  // no mutation: no-op
  EXPECT_EQ(mgr->GetStats().num_checkpoints, 1u);
  EXPECT_EQ(mgr->Queue(Mut("a")), 1u);
  mgr->QueueSetVBucketState(VBucketState::kReplica);
  EXPECT_EQ(mgr->Queue(Mut("b")), 2u);
  EXPECT_EQ(Describe(mgr->GetItemsForCursor(reg.cursor, 10)), "1:[1,2] a@1 b@2");
  EXPECT_EQ(mgr->GetStats().num_items, 2u);
}

// ---- reading and snapshot ranges ----

TEST_F(CheckpointManagerTest, ReadsOpenCheckpointIncrementally) {
  auto mgr = Make();
  auto reg = mgr->RegisterCursor("dcp", 0, true);
  EXPECT_FALSE(reg.needs_backfill);
  EXPECT_EQ(reg.next_seqno, 1u);
  EXPECT_TRUE(mgr->GetItemsForCursor(reg.cursor, 10).snapshots.empty());
  QueueAll(*mgr, {"a", "b", "c"});
  CursorItems got = mgr->GetItemsForCursor(reg.cursor, 10);
  EXPECT_EQ(Describe(got), "1:[1,3] a@1 b@2 c@3");
  EXPECT_FALSE(got.more_available);
  EXPECT_EQ(got.NumItems(), 3u);
  mgr->Queue(Mut("d"));
  EXPECT_EQ(Describe(mgr->GetItemsForCursor(reg.cursor, 10)), "1:[4,4] d@4");
  EXPECT_TRUE(mgr->GetItemsForCursor(reg.cursor, 10).snapshots.empty());
}

TEST_F(CheckpointManagerTest, PartialReadsOfClosedAndOpenCheckpoints) {
  auto mgr = Make();
  auto reg = mgr->RegisterCursor("dcp", 0, true);
  QueueAll(*mgr, {"a", "b", "c"});
  mgr->CreateNewCheckpoint();
  QueueAll(*mgr, {"d", "e", "f"});

  CursorItems got = mgr->GetItemsForCursor(reg.cursor, 2);
  EXPECT_EQ(Describe(got), "1:[1,3] a@1 b@2");  // a closed checkpoint's end, even if partial
  EXPECT_TRUE(got.more_available);
  got = mgr->GetItemsForCursor(reg.cursor, 2);
  EXPECT_EQ(Describe(got), "1:[3,3] c@3 | 2:[4,4] d@4");  // open: end = last item returned
  EXPECT_TRUE(got.more_available);
  got = mgr->GetItemsForCursor(reg.cursor, 2);
  EXPECT_EQ(Describe(got), "2:[5,6] e@5 f@6");
  EXPECT_FALSE(got.more_available);  // exactly at the limit but nothing left
  got = mgr->GetItemsForCursor(reg.cursor, 0);
  EXPECT_TRUE(got.snapshots.empty());
  EXPECT_FALSE(got.more_available);
}

TEST_F(CheckpointManagerTest, MaxItemsIsExactAndZeroReturnsNothing) {
  auto mgr = Make();
  auto reg = mgr->RegisterCursor("dcp", 0, true);
  QueueAll(*mgr, {"a", "b"});
  CursorItems got = mgr->GetItemsForCursor(reg.cursor, 0);
  EXPECT_TRUE(got.snapshots.empty());
  EXPECT_TRUE(got.more_available);
  EXPECT_EQ(mgr->GetItemsForCursor(reg.cursor, 1).NumItems(), 1u);
  EXPECT_EQ(Describe(mgr->GetItemsForCursor(reg.cursor, 5)), "1:[2,2] b@2");
}

TEST_F(CheckpointManagerTest, ReadsSeveralCheckpointsInOneCall) {
  auto mgr = Make();
  auto reg = mgr->RegisterCursor("dcp", 0, true);
  QueueAll(*mgr, {"a", "b"});
  mgr->CreateNewCheckpoint();
  QueueAll(*mgr, {"a"});
  mgr->CreateNewCheckpoint();
  QueueAll(*mgr, {"c", "a"});
  EXPECT_EQ(Describe(mgr->GetItemsForCursor(reg.cursor, 100)),
            "1:[1,2] a@1 b@2 | 2:[3,3] a@3 | 3:[4,5] c@4 a@5");
  EXPECT_EQ(mgr->GetStats().num_checkpoints, 3u);
  EXPECT_EQ(mgr->GetStats().open_checkpoint_id, 3u);
}

TEST_F(CheckpointManagerTest, CreateNewCheckpointIsNoOpWithoutMutations) {
  auto mgr = Make();
  mgr->CreateNewCheckpoint();
  EXPECT_EQ(mgr->GetStats().num_checkpoints, 1u);
  mgr->Queue(Mut("a"));
  mgr->CreateNewCheckpoint();
  mgr->CreateNewCheckpoint();
  CheckpointStats s = mgr->GetStats();
  EXPECT_EQ(s.num_checkpoints, 2u);
  EXPECT_EQ(s.open_checkpoint_id, 2u);
  EXPECT_EQ(s.num_open_checkpoint_items, 0u);
  EXPECT_EQ(s.num_items, 1u);
}

TEST_F(CheckpointManagerTest, NewCheckpointWhenSizeExceededUpToMaxCheckpoints) {
  const std::string value(500, 'x');
  // Measure what an empty checkpoint and one item cost.
  size_t empty_bytes = 0;
  size_t item_bytes = 0;
  {
    auto probe = Make();
    empty_bytes = probe->MemoryUsage();
    probe->Queue(Mut("k0", value));
    item_bytes = probe->MemoryUsage() - empty_bytes;
  }
  CheckpointConfig config;
  // Past the limit with the 4th item: the 5th Queue() opens a new checkpoint.
  config.max_size_bytes = empty_bytes + 3 * item_bytes + item_bytes / 2;
  config.max_checkpoints = 3;
  auto mgr = Make(0, config);
  for (int i = 0; i < 4; ++i) mgr->Queue(Mut("k" + std::to_string(i), value));
  EXPECT_EQ(mgr->GetStats().num_checkpoints, 1u);
  EXPECT_GT(mgr->MemoryUsage(), config.max_size_bytes);
  mgr->Queue(Mut("k4", value));
  CheckpointStats s = mgr->GetStats();
  EXPECT_EQ(s.num_checkpoints, 2u);
  EXPECT_EQ(s.num_open_checkpoint_items, 1u);
  for (int i = 5; i < 100; ++i) mgr->Queue(Mut("k" + std::to_string(i), value));
  s = mgr->GetStats();
  EXPECT_EQ(s.num_checkpoints, 3u);  // capped: the open one keeps growing
  EXPECT_EQ(s.num_items, 100u);
  EXPECT_EQ(s.num_open_checkpoint_items, 92u);
  // The closed checkpoints are [1,4] and [5,8].
  auto reg = mgr->RegisterCursor("dcp", 0, true);
  CursorItems got = mgr->GetItemsForCursor(reg.cursor, 8);
  ASSERT_EQ(got.snapshots.size(), 2u);
  EXPECT_EQ(got.snapshots[0].start, 1u);
  EXPECT_EQ(got.snapshots[0].end, 4u);
  EXPECT_EQ(got.snapshots[1].start, 5u);
  EXPECT_EQ(got.snapshots[1].end, 8u);
  ExpectCounterMatches(*mgr);
}

// ---- deduplication ----

TEST_F(CheckpointManagerTest, DedupKeepsOnlyTheLatestVersionInOpenCheckpoint) {
  auto mgr = Make();
  mgr->Queue(Mut("a", "v1"));
  const size_t one_item = mgr->MemoryUsage();
  mgr->Queue(Mut("b", "v1"));
  mgr->Queue(Mut("a", "v2"));
  EXPECT_EQ(mgr->GetStats().num_items, 2u);
  auto reg = mgr->RegisterCursor("dcp", 0, true);
  CursorItems got = mgr->GetItemsForCursor(reg.cursor, 10);
  EXPECT_EQ(Describe(got), "1:[1,3] b@2 a@3");
  EXPECT_EQ(got.snapshots[0].items[1]->value.view(), "v2");
  // Replacing an item by one of the same size leaves memory unchanged.
  auto mgr2 = Make();
  mgr2->Queue(Mut("a", "v1"));
  mgr2->Queue(Mut("a", "v2"));
  EXPECT_EQ(mgr2->MemoryUsage(), one_item);
}

TEST_F(CheckpointManagerTest, DedupDoesNotCrossCheckpoints) {
  auto mgr = Make();
  mgr->Queue(Mut("a"));
  mgr->CreateNewCheckpoint();
  mgr->Queue(Mut("a"));
  mgr->Queue(Mut("a"));
  auto reg = mgr->RegisterCursor("dcp", 0, true);
  EXPECT_EQ(Describe(mgr->GetItemsForCursor(reg.cursor, 10)), "1:[1,1] a@1 | 2:[2,3] a@3");
}

TEST_F(CheckpointManagerTest, DedupOfEntryAfterCursor) {
  auto mgr = Make();
  auto reg = mgr->RegisterCursor("dcp", 0, true);
  QueueAll(*mgr, {"a", "b", "c"});
  EXPECT_EQ(Describe(mgr->GetItemsForCursor(reg.cursor, 1)), "1:[1,1] a@1");
  mgr->Queue(Mut("b"));  // b@2 (unread) replaced by b@4
  EXPECT_EQ(mgr->NumItemsForCursor(reg.cursor), 2u);
  EXPECT_EQ(Describe(mgr->GetItemsForCursor(reg.cursor, 10)), "1:[2,4] c@3 b@4");
}

TEST_F(CheckpointManagerTest, DedupOfEntryUnderCursorMovesItBack) {
  auto mgr = Make();
  auto reg = mgr->RegisterCursor("dcp", 0, true);
  QueueAll(*mgr, {"a", "b", "c"});
  EXPECT_EQ(Describe(mgr->GetItemsForCursor(reg.cursor, 2)), "1:[1,2] a@1 b@2");
  mgr->Queue(Mut("b"));  // the cursor was on b@2
  EXPECT_EQ(mgr->NumItemsForCursor(reg.cursor), 2u);
  EXPECT_EQ(Describe(mgr->GetItemsForCursor(reg.cursor, 10)), "1:[3,4] c@3 b@4");
}

TEST_F(CheckpointManagerTest, DedupOfEntryBeforeCursor) {
  auto mgr = Make();
  auto reg = mgr->RegisterCursor("dcp", 0, true);
  QueueAll(*mgr, {"a", "b", "c"});
  EXPECT_EQ(mgr->GetItemsForCursor(reg.cursor, 10).NumItems(), 3u);
  mgr->Queue(Mut("a"));  // a@1 was read
  EXPECT_EQ(mgr->NumItemsForCursor(reg.cursor), 1u);
  EXPECT_EQ(Describe(mgr->GetItemsForCursor(reg.cursor, 10)), "1:[4,4] a@4");
}

TEST_F(CheckpointManagerTest, DedupOfFirstEntryUnderCursorDoesNotRestartSnapshot) {
  auto mgr = Make();
  auto reg = mgr->RegisterCursor("dcp", 0, true);
  mgr->Queue(Mut("a"));
  EXPECT_EQ(Describe(mgr->GetItemsForCursor(reg.cursor, 10)), "1:[1,1] a@1");
  mgr->Queue(Mut("a"));  // the cursor moves back onto the checkpoint-start item
  // Starts after what was read (2), not at the checkpoint's start (1).
  EXPECT_EQ(Describe(mgr->GetItemsForCursor(reg.cursor, 10)), "1:[2,2] a@2");
}

TEST_F(CheckpointManagerTest, DedupWithCursorsEverywhere) {
  auto mgr = Make();
  QueueAll(*mgr, {"a", "b", "c", "d"});
  // Cursors on start, a, b, c, d.
  std::vector<std::weak_ptr<Cursor>> cursors;
  for (uint64_t at = 0; at <= 4; ++at) {
    cursors.push_back(mgr->RegisterCursor("c" + std::to_string(at), at, true).cursor);
  }
  mgr->Queue(Mut("b"));  // b@2 -> b@5
  mgr->Queue(Mut("d"));  // d@4 -> d@6
  mgr->Queue(Mut("b"));  // b@5 -> b@7
  EXPECT_EQ(Describe(mgr->GetItemsForCursor(cursors[0], 10)), "1:[1,7] a@1 c@3 d@6 b@7");
  EXPECT_EQ(Describe(mgr->GetItemsForCursor(cursors[1], 10)), "1:[2,7] c@3 d@6 b@7");
  EXPECT_EQ(Describe(mgr->GetItemsForCursor(cursors[2], 10)), "1:[3,7] c@3 d@6 b@7");
  EXPECT_EQ(Describe(mgr->GetItemsForCursor(cursors[3], 10)), "1:[4,7] d@6 b@7");
  EXPECT_EQ(Describe(mgr->GetItemsForCursor(cursors[4], 10)), "1:[5,7] d@6 b@7");
}

// ---- registration ----

class RegisterCursorTest : public CheckpointManagerTest {
 protected:
  // Checkpoint 1 = [1,3] a b c (closed), checkpoint 2 = [4,5] d e (open).
  void SetUp() override {
    mgr_ = Make();
    QueueAll(*mgr_, {"a", "b", "c"});
    mgr_->CreateNewCheckpoint();
    QueueAll(*mgr_, {"d", "e"});
  }
  std::unique_ptr<CheckpointManager> mgr_;
};

TEST_F(RegisterCursorTest, AtZero) {
  auto reg = mgr_->RegisterCursor("dcp", 0, true);
  EXPECT_FALSE(reg.needs_backfill);
  EXPECT_EQ(reg.next_seqno, 1u);
  EXPECT_EQ(mgr_->NumItemsForCursor(reg.cursor), 5u);
  EXPECT_EQ(Describe(mgr_->GetItemsForCursor(reg.cursor, 10)),
            "1:[1,3] a@1 b@2 c@3 | 2:[4,5] d@4 e@5");
}

TEST_F(RegisterCursorTest, InTheMiddleOfAClosedCheckpoint) {
  auto reg = mgr_->RegisterCursor("dcp", 2, true);
  EXPECT_FALSE(reg.needs_backfill);
  EXPECT_EQ(reg.next_seqno, 3u);
  EXPECT_EQ(mgr_->NumItemsForCursor(reg.cursor), 3u);
  EXPECT_EQ(Describe(mgr_->GetItemsForCursor(reg.cursor, 10)), "1:[3,3] c@3 | 2:[4,5] d@4 e@5");
}

TEST_F(RegisterCursorTest, AtACheckpointBoundary) {
  auto reg = mgr_->RegisterCursor("dcp", 3, true);
  EXPECT_FALSE(reg.needs_backfill);
  EXPECT_EQ(reg.next_seqno, 4u);
  Persist(*mgr_);
  // The cursor is in checkpoint 2 already: checkpoint 1 can go.
  EXPECT_GT(mgr_->RemoveClosedUnrefCheckpoints(), 0u);
  EXPECT_EQ(Describe(mgr_->GetItemsForCursor(reg.cursor, 10)), "2:[4,5] d@4 e@5");
}

TEST_F(RegisterCursorTest, InTheMiddleOfTheOpenCheckpoint) {
  auto reg = mgr_->RegisterCursor("dcp", 4, true);
  EXPECT_FALSE(reg.needs_backfill);
  EXPECT_EQ(reg.next_seqno, 5u);
  EXPECT_EQ(Describe(mgr_->GetItemsForCursor(reg.cursor, 10)), "2:[5,5] e@5");
}

TEST_F(RegisterCursorTest, AtHighSeqno) {
  auto reg = mgr_->RegisterCursor("dcp", 5, true);
  EXPECT_FALSE(reg.needs_backfill);
  EXPECT_EQ(reg.next_seqno, 6u);
  EXPECT_EQ(mgr_->NumItemsForCursor(reg.cursor), 0u);
  EXPECT_TRUE(mgr_->GetItemsForCursor(reg.cursor, 10).snapshots.empty());
  mgr_->Queue(Mut("f"));
  EXPECT_EQ(Describe(mgr_->GetItemsForCursor(reg.cursor, 10)), "2:[6,6] f@6");
}

TEST_F(RegisterCursorTest, AboveHighSeqnoIsTreatedAsHighSeqno) {
  auto reg = mgr_->RegisterCursor("dcp", 50, true);
  EXPECT_FALSE(reg.needs_backfill);
  EXPECT_EQ(reg.next_seqno, 6u);
  mgr_->Queue(Mut("f"));
  EXPECT_EQ(Describe(mgr_->GetItemsForCursor(reg.cursor, 10)), "2:[6,6] f@6");
}

TEST_F(RegisterCursorTest, BeforeTheOldestRetainedCheckpoint) {
  Persist(*mgr_);
  EXPECT_GT(mgr_->RemoveClosedUnrefCheckpoints(), 0u);  // checkpoint 1 ([1,3]) is gone
  for (uint64_t at : {0, 1, 2}) {
    auto reg = mgr_->RegisterCursor("dcp", at, true);
    EXPECT_TRUE(reg.needs_backfill) << at;
    EXPECT_EQ(reg.next_seqno, 4u) << at;  // backfill [at + 1, 3]
    EXPECT_EQ(Describe(mgr_->GetItemsForCursor(reg.cursor, 10)), "2:[4,5] d@4 e@5");
  }
  auto reg = mgr_->RegisterCursor("dcp", 3, true);
  EXPECT_FALSE(reg.needs_backfill);
  EXPECT_EQ(reg.next_seqno, 4u);
}

TEST_F(CheckpointManagerTest, RegisterBeforeACheckpointWhoseFirstItemWasDeduplicated) {
  auto mgr = Make();
  QueueAll(*mgr, {"a", "b", "c"});
  mgr->CreateNewCheckpoint();
  QueueAll(*mgr, {"x", "y", "x"});  // checkpoint 2 = [4,6]: y@5 x@6
  Persist(*mgr);
  mgr->RemoveClosedUnrefCheckpoints();
  auto reg = mgr->RegisterCursor("dcp", 1, true);
  EXPECT_TRUE(reg.needs_backfill);
  // The checkpoint's start, not its first remaining item (5): backfill [2,3], snapshot [4,6].
  EXPECT_EQ(reg.next_seqno, 4u);
  EXPECT_EQ(Describe(mgr->GetItemsForCursor(reg.cursor, 10)), "2:[4,6] y@5 x@6");
  reg = mgr->RegisterCursor("dcp", 3, true);
  EXPECT_FALSE(reg.needs_backfill);
  EXPECT_EQ(reg.next_seqno, 4u);
}

TEST_F(CheckpointManagerTest, RegisterInsideADeduplicatedHole) {
  auto mgr = Make();
  QueueAll(*mgr, {"a", "b", "c", "b"});  // a@1 c@3 b@4
  for (uint64_t at : {1, 2}) {
    auto reg = mgr->RegisterCursor("dcp", at, true);
    EXPECT_FALSE(reg.needs_backfill);
    EXPECT_EQ(reg.next_seqno, 3u);
    EXPECT_EQ(mgr->NumItemsForCursor(reg.cursor), 2u);
    EXPECT_EQ(Describe(mgr->GetItemsForCursor(reg.cursor, 10)),
              "1:[" + std::to_string(at + 1) + ",4] c@3 b@4");
  }
}

TEST_F(CheckpointManagerTest, RegisterAfterWarmupBelowAndAtTheWarmupSeqno) {
  auto mgr = Make(/*last_seqno=*/100);
  auto reg = mgr->RegisterCursor("dcp", 100, true);
  EXPECT_FALSE(reg.needs_backfill);
  EXPECT_EQ(reg.next_seqno, 101u);
  reg = mgr->RegisterCursor("dcp", 50, true);
  EXPECT_TRUE(reg.needs_backfill);
  EXPECT_EQ(reg.next_seqno, 101u);
  mgr->Queue(Mut("a"));
  EXPECT_EQ(Describe(mgr->GetItemsForCursor(reg.cursor, 10)), "1:[101,101] a@101");
}

TEST_F(CheckpointManagerTest, RegisteringAnExistingNameReplacesTheCursor) {
  auto mgr = Make();
  QueueAll(*mgr, {"a", "b"});
  auto first = mgr->RegisterCursor("dcp", 0, true);
  auto second = mgr->RegisterCursor("dcp", 1, true);
  EXPECT_TRUE(first.cursor.expired());
  EXPECT_FALSE(second.cursor.expired());
  EXPECT_EQ(mgr->GetStats().num_cursors, 2u);  // persistence + dcp
  EXPECT_TRUE(mgr->GetItemsForCursor(first.cursor, 10).snapshots.empty());
  EXPECT_EQ(Describe(mgr->GetItemsForCursor(second.cursor, 10)), "1:[2,2] b@2");
}

TEST_F(CheckpointManagerTest, ReplacedCursorHeldAliveByItsUserIsInert) {
  auto mgr = Make();
  QueueAll(*mgr, {"a"});
  auto first = mgr->RegisterCursor("dcp", 0, true);
  std::shared_ptr<Cursor> pinned = first.cursor.lock();
  mgr->RegisterCursor("dcp", 0, true);
  EXPECT_TRUE(mgr->GetItemsForCursor(first.cursor, 10).snapshots.empty());
  EXPECT_EQ(mgr->NumItemsForCursor(first.cursor), 0u);
  mgr->RemoveCursor(first.cursor);  // must not remove the new "dcp"
  EXPECT_EQ(mgr->GetStats().num_cursors, 2u);
}

TEST_F(CheckpointManagerTest, RemovedAndForeignCursorsReturnNothing) {
  auto mgr = Make();
  auto other = Make();
  QueueAll(*mgr, {"a"});
  QueueAll(*other, {"a"});
  auto reg = mgr->RegisterCursor("dcp", 0, true);
  auto other_reg = other->RegisterCursor("dcp", 0, true);
  // A cursor of `other` used with `mgr`: ignored, and mgr's own "dcp" is untouched.
  EXPECT_TRUE(mgr->GetItemsForCursor(other_reg.cursor, 10).snapshots.empty());
  EXPECT_EQ(mgr->NumItemsForCursor(other_reg.cursor), 0u);
  mgr->RemoveCursor(other_reg.cursor);
  EXPECT_FALSE(reg.cursor.expired());
  EXPECT_EQ(other->NumItemsForCursor(other_reg.cursor), 1u);

  mgr->RemoveCursor(reg.cursor);
  EXPECT_TRUE(reg.cursor.expired());
  EXPECT_TRUE(mgr->GetItemsForCursor(reg.cursor, 10).snapshots.empty());
  EXPECT_EQ(mgr->GetStats().num_cursors, 1u);
  mgr->RemoveCursor(reg.cursor);  // already gone: no-op
}

TEST_F(CheckpointManagerTest, NumItemsForCursorAcrossCheckpoints) {
  auto mgr = Make();
  auto reg = mgr->RegisterCursor("dcp", 0, true);
  QueueAll(*mgr, {"a", "b", "a"});
  mgr->CreateNewCheckpoint();
  QueueAll(*mgr, {"a", "c"});
  EXPECT_EQ(mgr->NumItemsForCursor(reg.cursor), 4u);
  mgr->GetItemsForCursor(reg.cursor, 1);
  EXPECT_EQ(mgr->NumItemsForCursor(reg.cursor), 3u);
  mgr->GetItemsForCursor(reg.cursor, 2);
  EXPECT_EQ(mgr->NumItemsForCursor(reg.cursor), 1u);
  EXPECT_EQ(mgr->NumItemsForCursor(std::weak_ptr<Cursor>()), 0u);
}

// ---- persistence ----

TEST_F(CheckpointManagerTest, PersistenceCommit) {
  auto mgr = Make();
  QueueAll(*mgr, {"a", "b", "c"});
  EXPECT_EQ(mgr->NumItemsForPersistence(), 3u);
  CursorItems got = mgr->GetItemsForPersistence(2);
  EXPECT_EQ(Describe(got), "1:[1,2] a@1 b@2");
  EXPECT_TRUE(got.more_available);
  mgr->PersistenceCommitted();
  EXPECT_EQ(mgr->NumItemsForPersistence(), 1u);
  CheckpointStats s = mgr->GetStats();
  EXPECT_EQ(s.persistence_cursor_seqno, 2u);
  EXPECT_EQ(s.items_for_persistence, 1u);
  EXPECT_EQ(Describe(mgr->GetItemsForPersistence(10)), "1:[3,3] c@3");
  mgr->PersistenceCommitted();
  EXPECT_EQ(mgr->NumItemsForPersistence(), 0u);
}

TEST_F(CheckpointManagerTest, PersistenceFailureRewindsOverEveryUncommittedBatch) {
  auto mgr = Make();
  QueueAll(*mgr, {"a", "b", "c"});
  Persist(*mgr);  // persisted up to 3
  mgr->CreateNewCheckpoint();
  QueueAll(*mgr, {"d", "e", "f"});
  EXPECT_EQ(Describe(mgr->GetItemsForPersistence(1)), "2:[4,4] d@4");
  EXPECT_EQ(Describe(mgr->GetItemsForPersistence(1)), "2:[5,5] e@5");
  mgr->PersistenceFailed();
  EXPECT_EQ(mgr->NumItemsForPersistence(), 3u);
  EXPECT_EQ(mgr->GetStats().persistence_cursor_seqno, 3u);
  EXPECT_EQ(Describe(mgr->GetItemsForPersistence(10)), "2:[4,6] d@4 e@5 f@6");
  mgr->PersistenceCommitted();
  mgr->PersistenceFailed();  // nothing in flight: no-op
  EXPECT_EQ(mgr->NumItemsForPersistence(), 0u);
}

TEST_F(CheckpointManagerTest, PersistenceFailureAfterDedupOfAnItemInTheBatch) {
  auto mgr = Make();
  QueueAll(*mgr, {"a", "b"});
  EXPECT_EQ(Describe(mgr->GetItemsForPersistence(10)), "1:[1,2] a@1 b@2");
  mgr->Queue(Mut("b"));  // b@2 (under the persistence cursor) -> b@3
  mgr->Queue(Mut("a"));  // a@1 -> a@4
  mgr->PersistenceFailed();
  EXPECT_EQ(Describe(mgr->GetItemsForPersistence(10)), "1:[1,4] b@3 a@4");
  mgr->PersistenceCommitted();
}

TEST_F(CheckpointManagerTest, PersistenceFailureAfterDedupOfTheItemUnderTheBackup) {
  auto mgr = Make();
  QueueAll(*mgr, {"a", "b"});
  EXPECT_EQ(Describe(mgr->GetItemsForPersistence(1)), "1:[1,1] a@1");
  mgr->PersistenceCommitted();
  EXPECT_EQ(Describe(mgr->GetItemsForPersistence(1)), "1:[2,2] b@2");  // backup on a@1
  mgr->Queue(Mut("a"));  // a@1 -> a@3: the backup moves back to the checkpoint start
  mgr->PersistenceFailed();
  EXPECT_EQ(mgr->NumItemsForPersistence(), 2u);
  EXPECT_EQ(Describe(mgr->GetItemsForPersistence(10)), "1:[2,3] b@2 a@3");
}

TEST_F(CheckpointManagerTest, PersistenceBackupPinsItsCheckpoint) {
  auto mgr = Make();
  QueueAll(*mgr, {"a", "b"});
  mgr->CreateNewCheckpoint();
  QueueAll(*mgr, {"c"});
  mgr->GetItemsForPersistence(10);
  EXPECT_EQ(mgr->RemoveClosedUnrefCheckpoints(), 0u);
  mgr->PersistenceCommitted();
  EXPECT_GT(mgr->RemoveClosedUnrefCheckpoints(), 0u);
  EXPECT_EQ(mgr->GetStats().num_checkpoints, 1u);
}

TEST_F(CheckpointManagerTest, PersistenceSnapshotRange) {
  auto mgr = Make(/*last_seqno=*/10);
  EXPECT_EQ(mgr->GetPersistenceSnapshotRange().start, 10u);
  EXPECT_EQ(mgr->GetPersistenceSnapshotRange().end, 10u);
  QueueAll(*mgr, {"a", "b", "c"});
  mgr->CreateNewCheckpoint();
  QueueAll(*mgr, {"d"});
  mgr->GetItemsForPersistence(2);  // 11, 12 of closed [11,13]
  SeqnoRange r = mgr->GetPersistenceSnapshotRange();
  EXPECT_EQ(r.start, 11u);
  EXPECT_EQ(r.end, 13u);
  mgr->PersistenceFailed();
  r = mgr->GetPersistenceSnapshotRange();
  EXPECT_EQ(r.start, 10u);
  EXPECT_EQ(r.end, 10u);
  mgr->GetItemsForPersistence(10);  // through the open checkpoint [14, 14]
  r = mgr->GetPersistenceSnapshotRange();
  EXPECT_EQ(r.start, 14u);
  EXPECT_EQ(r.end, 14u);
}

TEST_F(CheckpointManagerTest, RegisteringThePersistenceNameRepositionsIt) {
  auto mgr = Make();
  QueueAll(*mgr, {"a", "b", "c"});
  mgr->GetItemsForPersistence(1);
  auto reg = mgr->RegisterCursor(std::string(CheckpointManager::kPersistenceCursor), 2, true);
  EXPECT_FALSE(reg.cursor.lock()->droppable());
  mgr->PersistenceFailed();  // the backup was discarded: no rewind
  EXPECT_EQ(mgr->GetStats().persistence_cursor_seqno, 2u);
  EXPECT_EQ(Describe(mgr->GetItemsForPersistence(10)), "1:[3,3] c@3");
  mgr->RemoveCursor(reg.cursor);  // never removed
  EXPECT_EQ(mgr->GetStats().num_cursors, 1u);
}

// ---- memory ----

TEST_F(CheckpointManagerTest, RemoveClosedUnrefCheckpointsStopsAtTheOldestCursor) {
  auto mgr = Make();
  auto reg = mgr->RegisterCursor("dcp", 0, true);
  QueueAll(*mgr, {"a"});
  mgr->CreateNewCheckpoint();
  QueueAll(*mgr, {"b"});
  mgr->CreateNewCheckpoint();
  QueueAll(*mgr, {"c"});
  mgr->CreateNewCheckpoint();
  Persist(*mgr);
  EXPECT_EQ(mgr->GetStats().num_checkpoints, 4u);
  EXPECT_EQ(mgr->RemoveClosedUnrefCheckpoints(), 0u);  // dcp is in checkpoint 1

  // Having read the last mutation of checkpoint 1, the cursor steps over its end into checkpoint
  // 2 (the limit only stops it before a mutation), so checkpoint 1 can go.
  EXPECT_EQ(Describe(mgr->GetItemsForCursor(reg.cursor, 1)), "1:[1,1] a@1");
  size_t before = mgr->MemoryUsage();
  size_t freed = mgr->RemoveClosedUnrefCheckpoints();
  EXPECT_GT(freed, 0u);
  EXPECT_EQ(mgr->MemoryUsage(), before - freed);
  EXPECT_EQ(mgr->GetStats().num_checkpoints, 3u);
  ExpectCounterMatches(*mgr);

  EXPECT_EQ(Describe(mgr->GetItemsForCursor(reg.cursor, 1)), "2:[2,2] b@2");
  before = mgr->MemoryUsage();
  freed = mgr->RemoveClosedUnrefCheckpoints();
  EXPECT_EQ(mgr->MemoryUsage(), before - freed);
  EXPECT_EQ(mgr->GetStats().num_checkpoints, 2u);

  mgr->GetItemsForCursor(reg.cursor, 10);
  mgr->RemoveClosedUnrefCheckpoints();
  CheckpointStats s = mgr->GetStats();
  EXPECT_EQ(s.num_checkpoints, 1u);  // the open one is never freed
  EXPECT_EQ(s.open_checkpoint_id, 4u);
  EXPECT_EQ(s.num_items, 0u);
  ExpectCounterMatches(*mgr);
}

TEST_F(CheckpointManagerTest, ClosingMovesCaughtUpCursorsToTheNewCheckpoint) {
  auto mgr = Make();
  auto reg = mgr->RegisterCursor("dcp", 0, true);
  QueueAll(*mgr, {"a", "b"});
  mgr->GetItemsForCursor(reg.cursor, 10);
  Persist(*mgr);
  mgr->CreateNewCheckpoint();
  EXPECT_GT(mgr->RemoveClosedUnrefCheckpoints(), 0u);
  mgr->Queue(Mut("c"));
  EXPECT_EQ(Describe(mgr->GetItemsForCursor(reg.cursor, 10)), "2:[3,3] c@3");
}

TEST_F(CheckpointManagerTest, MemoryCounterReturnsToZeroAfterDestruction) {
  auto a = Make();
  auto b = Make();
  EXPECT_GT(counter_.load(), 0);  // empty checkpoints cost something too
  auto reg = a->RegisterCursor("dcp", 0, true);
  for (int i = 0; i < 200; ++i) {
    a->Queue(Mut("k" + std::to_string(i % 37), std::string(i, 'x')));
    b->Queue(Mut("k" + std::to_string(i % 11), std::string(i, 'y')));
    if (i % 50 == 0) a->CreateNewCheckpoint();
  }
  a->QueueSetVBucketState(VBucketState::kActive);
  a->GetItemsForCursor(reg.cursor, 30);
  a->GetItemsForPersistence(40);  // a backup in flight
  b->GetItemsForPersistence(SIZE_MAX);
  b->PersistenceCommitted();
  b->CreateNewCheckpoint();
  b->RemoveClosedUnrefCheckpoints();
  EXPECT_EQ(counter_.load(), static_cast<int64_t>(a->MemoryUsage() + b->MemoryUsage()));
  a.reset();
  EXPECT_EQ(counter_.load(), static_cast<int64_t>(b->MemoryUsage()));
  b.reset();
  EXPECT_EQ(counter_.load(), 0);
}

TEST_F(CheckpointManagerTest, NullMemoryCounterIsAllowed) {
  CheckpointManager mgr(0, {}, 0, nullptr);
  mgr.Queue(Mut("a"));
  EXPECT_GT(mgr.MemoryUsage(), 0u);
}

// ---- cursor dropping ----

TEST_F(CheckpointManagerTest, DropsCursorsInTheOldestClosedCheckpointAndFreesIt) {
  auto mgr = Make();
  int dropped_calls = 0;
  auto reg = mgr->RegisterCursor("dcp", 0, true, [&] { ++dropped_calls; });
  QueueAll(*mgr, {"a", "b"});
  mgr->CreateNewCheckpoint();
  QueueAll(*mgr, {"c"});
  Persist(*mgr);
  const size_t before = mgr->MemoryUsage();
  EXPECT_EQ(mgr->DropCursorsInOldestCheckpoint(), 1u);
  EXPECT_EQ(dropped_calls, 1);
  EXPECT_TRUE(reg.cursor.expired());
  EXPECT_LT(mgr->MemoryUsage(), before);
  CheckpointStats s = mgr->GetStats();
  EXPECT_EQ(s.num_checkpoints, 1u);
  EXPECT_EQ(s.num_cursors, 1u);
  ExpectCounterMatches(*mgr);
  // Nothing droppable left.
  EXPECT_EQ(mgr->DropCursorsInOldestCheckpoint(), 0u);
}

TEST_F(CheckpointManagerTest, OnDroppedRunsWithoutTheLockAndMayCallBack) {
  auto mgr = Make();
  QueueAll(*mgr, {"a", "b"});
  mgr->CreateNewCheckpoint();
  QueueAll(*mgr, {"c"});
  Persist(*mgr);
  std::weak_ptr<Cursor> cursor;
  std::optional<CursorRegistration> again;
  bool expired_in_callback = false;
  cursor = mgr->RegisterCursor("dcp", 1, true,
                               [&] {
                                 expired_in_callback = cursor.expired();
                                 // Re-registering (and any other call) from the callback must not
                                 // deadlock.
                                 EXPECT_EQ(mgr->GetStats().num_cursors, 1u);
                                 again = mgr->RegisterCursor("dcp", 1, true);
                               })
               .cursor;
  EXPECT_EQ(mgr->DropCursorsInOldestCheckpoint(), 1u);
  EXPECT_TRUE(expired_in_callback);
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(again->needs_backfill);  // checkpoint 1 was freed before the callback ran
  EXPECT_EQ(again->next_seqno, 3u);
  EXPECT_EQ(Describe(mgr->GetItemsForCursor(again->cursor, 10)), "2:[3,3] c@3");
}

TEST_F(CheckpointManagerTest, DoesNotDropWhenTheOldestCheckpointIsPinnedByPersistence) {
  auto mgr = Make();
  bool called = false;
  auto reg = mgr->RegisterCursor("dcp", 0, true, [&] { called = true; });
  QueueAll(*mgr, {"a"});
  mgr->CreateNewCheckpoint();
  QueueAll(*mgr, {"b"});
  EXPECT_EQ(mgr->DropCursorsInOldestCheckpoint(), 0u);  // persistence is in checkpoint 1 too
  EXPECT_FALSE(called);
  EXPECT_FALSE(reg.cursor.expired());
  // Nor by a non-droppable cursor.
  Persist(*mgr);
  auto keep = mgr->RegisterCursor("keep", 0, false);
  EXPECT_EQ(mgr->DropCursorsInOldestCheckpoint(), 0u);
  EXPECT_FALSE(reg.cursor.expired());
  mgr->RemoveCursor(keep.cursor);
  EXPECT_EQ(mgr->DropCursorsInOldestCheckpoint(), 1u);
  EXPECT_TRUE(called);
}

TEST_F(CheckpointManagerTest, DropClosesAPinnedSingleOpenCheckpoint) {
  auto mgr = Make();
  bool called = false;
  auto slow = mgr->RegisterCursor("slow", 0, true, [&] { called = true; });
  QueueAll(*mgr, {"a", "b"});
  auto fast = mgr->RegisterCursor("fast", 2, true);  // caught up
  Persist(*mgr);
  EXPECT_EQ(mgr->DropCursorsInOldestCheckpoint(), 1u);
  EXPECT_TRUE(called);
  EXPECT_TRUE(slow.cursor.expired());
  EXPECT_FALSE(fast.cursor.expired());
  CheckpointStats s = mgr->GetStats();
  EXPECT_EQ(s.num_checkpoints, 1u);  // closed, then freed
  EXPECT_EQ(s.open_checkpoint_id, 2u);
  mgr->Queue(Mut("c"));
  EXPECT_EQ(Describe(mgr->GetItemsForCursor(fast.cursor, 10)), "2:[3,3] c@3");
  ExpectCounterMatches(*mgr);
}

TEST_F(CheckpointManagerTest, DropWithOnlyAnEmptyOpenCheckpointDoesNothing) {
  auto mgr = Make();
  auto reg = mgr->RegisterCursor("dcp", 0, true);
  EXPECT_EQ(mgr->DropCursorsInOldestCheckpoint(), 0u);
  EXPECT_FALSE(reg.cursor.expired());
  EXPECT_EQ(mgr->GetStats().num_checkpoints, 1u);
}

// ---- randomized model check ----

// A reader's view: per key, the last version it read; checks each read against the contract.
struct ReaderModel {
  std::weak_ptr<Cursor> cursor;
  uint64_t registered_at = 0;
  uint64_t last_seqno = 0;
  std::map<std::string, std::pair<uint64_t, std::string>> latest;

  void Apply(const CursorItems& got, size_t max_items) {
    ASSERT_LE(got.NumItems(), max_items);
    for (const auto& snap : got.snapshots) {
      ASSERT_FALSE(snap.items.empty());
      // Snapshots tile: each starts right after what was read before (no backfill here).
      ASSERT_EQ(snap.start, last_seqno + 1);
      for (const auto& item : snap.items) {
        ASSERT_GT(item->by_seqno, last_seqno);
        ASSERT_LE(item->by_seqno, snap.end);
        ASSERT_FALSE(item->IsMeta());
        last_seqno = item->by_seqno;
        latest[item->key] = {item->by_seqno, std::string(item->value.view())};
      }
    }
  }
};

TEST_F(CheckpointManagerTest, RandomizedOperationsKeepEveryReaderConsistent) {
  for (uint32_t seed = 1; seed <= 20; ++seed) {
    SCOPED_TRACE(seed);
    std::mt19937 rng(seed);
    auto pick = [&](uint32_t n) { return static_cast<uint32_t>(rng() % n); };
    CheckpointConfig config;
    config.max_size_bytes = 1500;
    config.max_checkpoints = 4;
    auto mgr = Make(0, config);
    std::map<std::string, std::pair<uint64_t, std::string>> written;  // key -> last version
    std::vector<std::pair<uint64_t, std::string>> history;            // seqno -> key
    std::vector<ReaderModel> readers(3);
    for (size_t i = 0; i < readers.size(); ++i) {
      readers[i].cursor = mgr->RegisterCursor("r" + std::to_string(i), 0, false).cursor;
    }
    ReaderModel persistence;
    ReaderModel persisted;  // state as of the last commit

    for (int step = 0; step < 3000; ++step) {
      const uint32_t op = pick(100);
      if (op < 55) {
        const std::string key = "k" + std::to_string(pick(8));
        const std::string value = std::to_string(step);
        const uint64_t seqno = mgr->Queue(Mut(key, value));
        ASSERT_EQ(seqno, history.size() + 1);
        history.emplace_back(seqno, key);
        written[key] = {seqno, value};
      } else if (op < 80) {
        ReaderModel& r = readers[pick(readers.size())];
        const size_t max = pick(6);
        const size_t expected_left = mgr->NumItemsForCursor(r.cursor);
        CursorItems got = mgr->GetItemsForCursor(r.cursor, max);
        ASSERT_NO_FATAL_FAILURE(r.Apply(got, max));
        ASSERT_EQ(got.more_available, expected_left > got.NumItems());
        ASSERT_EQ(mgr->NumItemsForCursor(r.cursor), expected_left - got.NumItems());
      } else if (op < 85) {
        mgr->CreateNewCheckpoint();
      } else if (op < 88) {
        mgr->QueueSetVBucketState(VBucketState::kActive);
      } else if (op < 92) {
        mgr->RemoveClosedUnrefCheckpoints();
      } else if (op < 97) {
        const size_t max = pick(8);
        ASSERT_NO_FATAL_FAILURE(persistence.Apply(mgr->GetItemsForPersistence(max), max));
        ASSERT_EQ(mgr->GetStats().persistence_cursor_seqno, persistence.last_seqno);
      } else if (pick(2) == 0) {
        mgr->PersistenceCommitted();
        persisted = persistence;
      } else {
        mgr->PersistenceFailed();
        persistence = persisted;
        ASSERT_EQ(mgr->GetStats().persistence_cursor_seqno, persistence.last_seqno);
      }
      ASSERT_EQ(counter_.load(), static_cast<int64_t>(mgr->MemoryUsage()));
    }
    // A late reader registered at a seqno still in memory.
    ReaderModel late;
    {
      mgr->RemoveClosedUnrefCheckpoints();
      const uint64_t at = mgr->GetHighSeqno() / 2;
      CursorRegistration reg = mgr->RegisterCursor("late", at, false);
      if (!reg.needs_backfill) {
        late.cursor = reg.cursor;
        late.registered_at = at;
        late.last_seqno = at;
        readers.push_back(late);
      }
    }
    // Drain everyone: each saw, per key, exactly the last version written after its start.
    for (ReaderModel& r : readers) {
      ASSERT_NO_FATAL_FAILURE(r.Apply(mgr->GetItemsForCursor(r.cursor, SIZE_MAX), SIZE_MAX));
      ASSERT_EQ(mgr->NumItemsForCursor(r.cursor), 0u);
      for (const auto& [key, version] : written) {
        if (version.first <= r.registered_at) continue;
        ASSERT_EQ(r.latest.count(key), 1u) << key;
        EXPECT_EQ(r.latest[key], version) << key;
      }
    }
    ASSERT_NO_FATAL_FAILURE(persistence.Apply(mgr->GetItemsForPersistence(SIZE_MAX), SIZE_MAX));
    mgr->PersistenceCommitted();
    for (const auto& [key, version] : written) EXPECT_EQ(persistence.latest[key], version) << key;
    mgr.reset();
    EXPECT_EQ(counter_.load(), 0);
  }
}

// ---- concurrency ----

// One writer queues 100k items on random keys while two readers and the flusher drain; the
// readers check seqnos strictly increase and that each key's last value read is the last written.
TEST_F(CheckpointManagerTest, ConcurrentWriterAndReaders) {
  constexpr uint64_t kItems = 100000;
  constexpr uint32_t kKeys = 1000;
  CheckpointConfig config;
  config.max_size_bytes = 32 << 10;
  config.max_checkpoints = 10;
  auto mgr = Make(0, config);
  std::vector<std::string> final_values(kKeys);

  auto reader = [&](std::weak_ptr<Cursor> cursor, std::vector<std::string>* seen,
                    std::atomic<bool>* ok) {
    uint64_t last = 0;
    while (last < kItems) {
      CursorItems got = mgr->GetItemsForCursor(cursor, 512);
      if (got.snapshots.empty()) {
        std::this_thread::yield();
        continue;
      }
      for (const auto& snap : got.snapshots) {
        if (snap.start != last + 1) ok->store(false);
        for (const auto& item : snap.items) {
          if (item->by_seqno <= last || item->by_seqno > snap.end) ok->store(false);
          last = item->by_seqno;
          (*seen)[std::stoul(item->key.substr(1))] = std::string(item->value.view());
        }
      }
      mgr->RemoveClosedUnrefCheckpoints();
    }
  };

  std::vector<std::string> seen_a(kKeys), seen_b(kKeys), seen_flusher(kKeys);
  std::atomic<bool> ok_a{true}, ok_b{true}, ok_flusher{true};
  auto cursor_a = mgr->RegisterCursor("a", 0, false).cursor;
  auto cursor_b = mgr->RegisterCursor("b", 0, false).cursor;
  std::thread writer([&] {
    std::mt19937 rng(42);
    for (uint64_t i = 1; i <= kItems; ++i) {
      const uint32_t key = rng() % kKeys;
      const std::string value = std::to_string(i);
      EXPECT_EQ(mgr->Queue(Mut("k" + std::to_string(key), value)), i);
      final_values[key] = value;
      if (i % 10007 == 0) mgr->CreateNewCheckpoint();
    }
  });
  std::thread reader_a(reader, cursor_a, &seen_a, &ok_a);
  std::thread reader_b(reader, cursor_b, &seen_b, &ok_b);
  std::thread flusher([&] {
    uint64_t last = 0;
    int batch = 0;
    while (last < kItems) {
      CursorItems got = mgr->GetItemsForPersistence(1000);
      if (got.snapshots.empty()) {
        mgr->PersistenceCommitted();
        std::this_thread::yield();
        continue;
      }
      if (++batch % 7 == 0) {  // a failed flush: the same items come again
        mgr->PersistenceFailed();
        continue;
      }
      for (const auto& snap : got.snapshots) {
        if (snap.start != last + 1) ok_flusher.store(false);
        for (const auto& item : snap.items) {
          if (item->by_seqno <= last) ok_flusher.store(false);
          last = item->by_seqno;
          seen_flusher[std::stoul(item->key.substr(1))] = std::string(item->value.view());
        }
      }
      mgr->PersistenceCommitted();
      mgr->GetStats();
    }
  });
  writer.join();
  reader_a.join();
  reader_b.join();
  flusher.join();

  EXPECT_TRUE(ok_a.load());
  EXPECT_TRUE(ok_b.load());
  EXPECT_TRUE(ok_flusher.load());
  EXPECT_EQ(seen_a, final_values);
  EXPECT_EQ(seen_b, final_values);
  EXPECT_EQ(seen_flusher, final_values);
  mgr->RemoveClosedUnrefCheckpoints();
  EXPECT_EQ(mgr->GetStats().num_checkpoints, 1u);
  ExpectCounterMatches(*mgr);
  mgr.reset();
  EXPECT_EQ(counter_.load(), 0);
}

}  // namespace
}  // namespace sluice::engine

// ---- a replica's checkpoints (producer seqnos, declared snapshots) ----

namespace sluice::engine {
namespace {

std::shared_ptr<Item> MutAt(const std::string& key, uint64_t seqno) {
  auto item = Mut(key);
  item->by_seqno = seqno;
  return item;
}

TEST_F(CheckpointManagerTest, QueueWithSeqnoKeepsTheProducersSeqnos) {
  auto mgr = Make();
  mgr->CreateSnapshot(1, 10);
  EXPECT_TRUE(mgr->QueueWithSeqno(MutAt("a", 3)));
  EXPECT_TRUE(mgr->QueueWithSeqno(MutAt("b", 7)));
  EXPECT_FALSE(mgr->QueueWithSeqno(MutAt("c", 7)));  // not above the high seqno
  EXPECT_FALSE(mgr->QueueWithSeqno(MutAt("c", 2)));
  EXPECT_EQ(mgr->GetHighSeqno(), 7u);
  // The open checkpoint reports the declared snapshot, not its last item.
  auto reg = mgr->RegisterCursor("dcp", 0, /*droppable=*/true);
  EXPECT_EQ(Describe(mgr->GetItemsForCursor(reg.cursor, 100)), "1:[1,10] a@3 b@7");
  EXPECT_TRUE(mgr->QueueWithSeqno(MutAt("c", 10)));
  EXPECT_EQ(Describe(mgr->GetItemsForCursor(reg.cursor, 100)), "1:[1,10] c@10");
  // The flusher persists the snapshot range it is in.
  mgr->GetItemsForPersistence(2);
  mgr->PersistenceCommitted();
  EXPECT_EQ(mgr->GetPersistenceSnapshotRange().start, 1u);
  EXPECT_EQ(mgr->GetPersistenceSnapshotRange().end, 10u);
  ExpectCounterMatches(*mgr);
}

TEST_F(CheckpointManagerTest, EachMarkerOpensACheckpointUnlessExtended) {
  auto mgr = Make();
  mgr->CreateSnapshot(1, 2);
  ASSERT_TRUE(mgr->QueueWithSeqno(MutAt("a", 1)));
  ASSERT_TRUE(mgr->QueueWithSeqno(MutAt("b", 2)));
  mgr->ExtendSnapshot(4);                           // a memory marker continuing a memory snapshot
  ASSERT_TRUE(mgr->QueueWithSeqno(MutAt("a", 4)));  // deduplicates a@1 in the same checkpoint
  mgr->CreateSnapshot(5, 6);
  mgr->CreateSnapshot(5, 8);  // an empty checkpoint just takes the new range
  ASSERT_TRUE(mgr->QueueWithSeqno(MutAt("c", 8)));
  auto reg = mgr->RegisterCursor("dcp", 0, /*droppable=*/true);
  EXPECT_EQ(Describe(mgr->GetItemsForCursor(reg.cursor, 100)), "1:[1,4] b@2 a@4 | 2:[5,8] c@8");
  EXPECT_EQ(mgr->GetStats().num_checkpoints, 2u);
}

TEST_F(CheckpointManagerTest, ADiskSnapshotDeduplicatesNothing) {
  CheckpointConfig config;
  config.max_size_bytes = 600;  // a few items per checkpoint
  auto mgr = Make(0, config);
  mgr->CreateSnapshot(1, 9, /*disk=*/true);
  ASSERT_TRUE(mgr->QueueWithSeqno(MutAt("a", 1)));
  ASSERT_TRUE(mgr->QueueWithSeqno(MutAt("a", 2)));  // a history snapshot: both versions kept
  for (uint64_t s = 3; s <= 6; ++s) ASSERT_TRUE(mgr->QueueWithSeqno(MutAt("a", s)));
  ASSERT_GT(mgr->GetStats().num_checkpoints, 1u);  // closed for size: the next one is disk too
  EXPECT_EQ(mgr->GetStats().num_items, 6u);
  // A memory snapshot after it deduplicates again.
  mgr->CreateSnapshot(10, 12);
  ASSERT_TRUE(mgr->QueueWithSeqno(MutAt("b", 10)));
  ASSERT_TRUE(mgr->QueueWithSeqno(MutAt("b", 12)));
  EXPECT_EQ(mgr->GetStats().num_items, 7u);
  auto reg = mgr->RegisterCursor("dcp", 0, /*droppable=*/true);
  CursorItems got = mgr->GetItemsForCursor(reg.cursor, 100);
  ASSERT_FALSE(got.snapshots.empty());
  EXPECT_EQ(got.NumItems(), 7u);
  EXPECT_EQ(got.snapshots.back().items.back()->by_seqno, 12u);
  ExpectCounterMatches(*mgr);
}

TEST_F(CheckpointManagerTest, ASnapshotSplitForSizeKeepsItsRange) {
  CheckpointConfig config;
  config.max_size_bytes = 1;  // every item closes the checkpoint before the next
  auto mgr = Make(0, config);
  mgr->CreateSnapshot(1, 9);
  ASSERT_TRUE(mgr->QueueWithSeqno(MutAt("a", 2)));
  ASSERT_TRUE(mgr->QueueWithSeqno(MutAt("b", 5)));
  auto reg = mgr->RegisterCursor("dcp", 0, /*droppable=*/true);
  EXPECT_EQ(Describe(mgr->GetItemsForCursor(reg.cursor, 100)), "1:[1,9] a@2 | 2:[1,9] b@5");
}

TEST_F(CheckpointManagerTest, OwnSeqnosEndTheDeclaredSnapshot) {
  auto mgr = Make();
  mgr->CreateSnapshot(1, 9);
  ASSERT_TRUE(mgr->QueueWithSeqno(MutAt("a", 4)));
  // Promoted mid-snapshot: its own writes start a checkpoint of their own.
  EXPECT_EQ(mgr->Queue(Mut("b")), 5u);
  auto reg = mgr->RegisterCursor("dcp", 0, /*droppable=*/true);
  EXPECT_EQ(Describe(mgr->GetItemsForCursor(reg.cursor, 100)), "1:[1,9] a@4 | 2:[5,5] b@5");
}

}  // namespace
}  // namespace sluice::engine
