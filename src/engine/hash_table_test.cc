#include "engine/hash_table.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace sluice::engine {
namespace {

StoredValue Value(std::string_view v, uint64_t seqno, bool dirty = true) {
  StoredValue sv;
  sv.value = Blob::Make(v);
  sv.by_seqno = seqno;
  sv.dirty = dirty;
  return sv;
}

TEST(HashTableTest, UpsertFindErase) {
  std::atomic<int64_t> bucket{0};
  HashTable ht(4, &bucket);
  {
    HashTable::KeyLock lock(ht, "a");
    EXPECT_EQ(ht.Find(lock, "a"), nullptr);
    ht.Upsert(lock, "a", Value("1", 1));
    ASSERT_NE(ht.Find(lock, "a"), nullptr);
    EXPECT_EQ(ht.Find(lock, "a")->value.view(), "1");
  }
  EXPECT_EQ(ht.NumItems(), 1);
  EXPECT_GT(bucket.load(), 0);
  EXPECT_EQ(bucket.load(), ht.MemoryUsage());
  {
    HashTable::KeyLock lock(ht, "a");
    ht.Erase(lock, "a");
  }
  EXPECT_EQ(ht.NumItems(), 0);
  EXPECT_EQ(bucket.load(), 0);
}

TEST(HashTableTest, PersistEvictRestore) {
  std::atomic<int64_t> bucket{0};
  HashTable ht(4, &bucket);
  const std::string big(1000, 'x');
  HashTable::KeyLock lock(ht, "k");
  ht.Upsert(lock, "k", Value(big, 5));
  EXPECT_EQ(ht.EvictValue(lock, "k"), 0u);  // dirty: not evictable
  EXPECT_FALSE(ht.MarkPersisted(lock, "k", 4));
  EXPECT_TRUE(ht.MarkPersisted(lock, "k", 5));
  const int64_t before = ht.MemoryUsage();
  EXPECT_GE(ht.EvictValue(lock, "k"), 1000u);
  EXPECT_EQ(ht.GetCounters().non_resident, 1);
  EXPECT_LT(ht.MemoryUsage(), before - 999);
  EXPECT_FALSE(ht.RestoreValue(lock, "k", 4, Blob::Make(big)));  // stale version
  EXPECT_TRUE(ht.RestoreValue(lock, "k", 5, Blob::Make(big)));
  EXPECT_EQ(ht.MemoryUsage(), before);
  EXPECT_EQ(ht.GetCounters().non_resident, 0);
  EXPECT_EQ(ht.GetCounters().ejects, 1);
}

TEST(HashTableTest, PersistedTombstonesLeave) {
  HashTable ht(2, nullptr);
  HashTable::KeyLock lock(ht, "t");
  StoredValue t;
  t.deleted = true;
  t.by_seqno = 9;
  ht.Upsert(lock, "t", t);
  EXPECT_EQ(ht.GetCounters().deleted, 1);
  EXPECT_EQ(ht.NumItems(), 0);
  EXPECT_TRUE(ht.MarkPersisted(lock, "t", 9));
  EXPECT_EQ(ht.Find(lock, "t"), nullptr);
  EXPECT_EQ(ht.GetCounters().deleted, 0);
}

TEST(HashTableTest, DestructorReturnsMemoryToBucket) {
  std::atomic<int64_t> bucket{0};
  {
    HashTable ht(8, &bucket);
    for (int i = 0; i < 1000; ++i) {
      const std::string key = "key-number-" + std::to_string(i);
      HashTable::KeyLock lock(ht, key);
      ht.Upsert(lock, key, Value(std::string(i, 'v'), i));
    }
    EXPECT_GT(bucket.load(), 0);
  }
  EXPECT_EQ(bucket.load(), 0);
}

TEST(HashTableTest, ConcurrentWritersOnDistinctAndSharedKeys) {
  std::atomic<int64_t> bucket{0};
  HashTable ht(8, &bucket);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&ht, t] {
      for (int i = 0; i < 5000; ++i) {
        const std::string key = "k" + std::to_string(i % 500);
        HashTable::KeyLock lock(ht, key);
        const StoredValue* old = ht.Find(lock, key);
        StoredValue sv = Value("v" + std::to_string(t), old ? old->by_seqno + 1 : 1);
        ht.Upsert(lock, key, sv);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ht.NumItems(), 500);
  int64_t total_seqno = 0;
  ht.ForEach([&](std::string_view, const StoredValue& sv) { total_seqno += sv.by_seqno; });
  EXPECT_EQ(total_seqno, 4 * 5000);  // every update seen exactly once per key chain
  EXPECT_EQ(bucket.load(), ht.MemoryUsage());
}

}  // namespace
}  // namespace sluice::engine
