// File: engine/hash_table.h
//
// HashTable: a vbucket's in-memory index of documents, key -> StoredValue. Metadata of every live
// document is always resident (value eviction): a value may be evicted once persisted and is
// fetched back from disk on demand. Tombstones stay here only until they are persisted.
//
// The table is split into lock stripes (key hash % num_stripes), each a flat hash map under its
// own mutex, so reads and writes of different keys proceed in parallel. Every operation on a key
// takes a KeyLock on that key's stripe; the lock is held across the read-check-write sequence of
// a command (and, by the vbucket, across queueing the change into the checkpoint, so the entry's
// seqno and the checkpoint order agree).
//
// Locking note: each stripe's map is GUARDED_BY its mutex, but clang's analysis cannot name "the
// stripe of this key" that a KeyLock holds. The methods taking a KeyLock reach the map through
// LockedMap, which checks at run time (assert builds) that the KeyLock is the key's stripe's and
// then tells the analysis with Mutex::AssertHeld. This is the one place in the engine that uses
// a lock token.
//
// Memory: the table adds its footprint (entries, keys, resident values) to a bucket-wide counter
// and subtracts it on every change and in its destructor, so the counter never drifts.
//
// Ownership: a VBucket owns its HashTable (unique_ptr). Thread safety: thread-safe through
// KeyLocks; the counters are atomics readable without a lock.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/mutex.h"
#include "common/types.h"
#include "engine/blob.h"
#include "engine/string_hash.h"

namespace sluice::engine {

struct StoredValue {
  BlobPtr value;  // null when the body is empty or the value is evicted
  uint64_t cas = 0;
  uint64_t by_seqno = 0;
  uint64_t rev_seqno = 0;
  uint32_t flags = 0;
  uint32_t expiry = 0;  // absolute unix seconds, 0 = never; tombstones: delete time
  uint8_t datatype = 0;
  bool deleted = false;
  bool dirty = true;     // this version is not persisted yet
  bool resident = true;  // the value is in memory
  // Restored by a background fetch and not read yet: the pager leaves it alone, or a reader of a
  // clean value could be starved when memory is full of dirty items the pager cannot evict (a
  // full disk): fetch, evict, fetch again, forever. Cleared by the read (MarkRead) or a rewrite.
  bool fetched_unread = false;
  DeleteSource delete_source = DeleteSource::kExplicit;
  // A clean deleted entry (never queued) loaded for an AccessDeleted read of a key the hash table
  // had dropped: a copy of its persisted tombstone, or, with this flag, a marker that the key
  // has no version on disk at all (VBucket::LoadTombstone). The pagers drop clean deleted
  // entries; a write replaces them like any tombstone.
  bool temp_nonexistent = false;
  // The seqno of this key's version on disk, so the flusher can delete it without reading the
  // store: storage::DiskDoc::kNoPreviousVersion (none) or kUnknownPreviousSeqno (a new entry
  // whose key may still have a persisted tombstone). Kept by Upsert across versions and set by
  // MarkPersisted; only a new entry (or warmup) chooses it.
  uint64_t disk_seqno = UINT64_MAX;

  bool IsExpired(uint32_t now) const { return !deleted && expiry != 0 && expiry <= now; }
};

class HashTable {
 private:
  struct Stripe;

 public:
  // Holds the stripe lock of one key for its scope.
  class KeyLock {
   public:
    KeyLock(HashTable& table, std::string_view key);
    ~KeyLock();
    KeyLock(const KeyLock&) = delete;
    KeyLock& operator=(const KeyLock&) = delete;

   private:
    friend class HashTable;
    KeyLock(HashTable& table, size_t stripe);
    HashTable& table_;
    const size_t stripe_;
  };

  struct Counters {
    int64_t items = 0;         // live documents (not deleted)
    int64_t deleted = 0;       // tombstones not yet persisted/removed
    int64_t non_resident = 0;  // live documents whose value is evicted
    int64_t memory = 0;        // bytes: entries, keys, resident values
    int64_t ejects = 0;        // values evicted so far
  };

  // `bucket_memory` (may be null) receives the table's memory changes.
  HashTable(size_t num_stripes, std::atomic<int64_t>* bucket_memory);
  ~HashTable();
  HashTable(const HashTable&) = delete;
  HashTable& operator=(const HashTable&) = delete;

  // The entry for `key`, or null. Valid while `lock` is held and the entry is not changed.
  const StoredValue* Find(const KeyLock& lock, std::string_view key) const;
  // Inserts or replaces the entry of `key`. Replacing keeps the old entry's disk_seqno.
  void Upsert(const KeyLock& lock, std::string_view key, StoredValue sv);
  // Removes the entry of `key` (no-op if absent).
  void Erase(const KeyLock& lock, std::string_view key);
  // The flusher persisted `seqno` of `key`: records it as the entry's disk_seqno, marks the entry
  // clean if it is still that version, and removes it if that version is a tombstone. Returns
  // true if the entry was that version.
  bool MarkPersisted(const KeyLock& lock, std::string_view key, uint64_t seqno);
  // Drops the value of a clean, live, resident entry. Returns bytes freed (0 if not evictable).
  // (EvictFromStripe also removes clean deleted entries: see StoredValue::temp_nonexistent.)
  size_t EvictValue(const KeyLock& lock, std::string_view key);
  // Restores an evicted value if the entry is still version `seqno` and non-resident.
  bool RestoreValue(const KeyLock& lock, std::string_view key, uint64_t seqno, BlobPtr value);
  // The value of `key` was read: a value restored by a background fetch may be evicted again.
  void MarkRead(const KeyLock& lock, std::string_view key);

  // Evicts clean, live, resident values of stripe `stripe` until `max_bytes` are freed or the
  // stripe is exhausted. Returns bytes freed.
  size_t EvictFromStripe(size_t stripe, size_t max_bytes);

  // Calls `fn` for every entry of every stripe, one stripe at a time under its lock. `fn` must not
  // modify the table; collect keys and act on them afterwards with a KeyLock.
  void ForEach(const std::function<void(std::string_view key, const StoredValue&)>& fn) const;
  // As ForEach, for stripe `stripe` only (0 <= stripe < num_stripes()).
  void ForEachInStripe(size_t stripe,
                       const std::function<void(std::string_view, const StoredValue&)>& fn) const;
  size_t num_stripes() const { return num_stripes_; }

  Counters GetCounters() const;
  int64_t NumItems() const { return items_.load(std::memory_order_relaxed); }
  int64_t MemoryUsage() const { return memory_.load(std::memory_order_relaxed); }

  // Removes everything (vbucket deletion).
  void Clear();

  // Bytes one entry accounts for.
  static size_t Footprint(std::string_view key, const StoredValue& sv);

 private:
  using Map = absl::flat_hash_map<std::string, StoredValue, StringViewHash, StringViewEq>;
  struct Stripe {
    mutable Mutex mu;
    Map map GUARDED_BY(mu);
  };

  size_t StripeOf(std::string_view key) const;
  // The map of `key`'s stripe, whose lock `lock` holds (checked at run time in assert builds).
  Map& LockedMap(const KeyLock& lock, std::string_view key) const;
  void Account(const StoredValue* before, std::string_view key, const StoredValue* after);

  const size_t num_stripes_;
  std::atomic<int64_t>* const bucket_memory_;
  std::unique_ptr<Stripe[]> stripes_;

  // Atomics: read lock-free by stats and pagers.
  std::atomic<int64_t> items_{0};
  std::atomic<int64_t> deleted_{0};
  std::atomic<int64_t> non_resident_{0};
  std::atomic<int64_t> memory_{0};
  std::atomic<int64_t> ejects_{0};
};

}  // namespace sluice::engine
