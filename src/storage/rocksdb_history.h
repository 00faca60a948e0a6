// File: storage/rocksdb_history.h
//
// RocksDBHistory: the `history` column family of RocksDBKVStore (kvstore.h, "History") and its
// in-memory index of commit boundaries. Internal to storage/.
//
//   'm' | vbid u16 BE | seqno u64 BE          boundary: a commit left the vbucket at `seqno`
//        value: 1 | varint time | varint bytes | varint snap_start | varint snap_end
//   'v' | vbid u16 BE | seqno u64 BE | ns u8  version: the one the write at `seqno` replaced
//        value: 1 | varint its seqno | its `seq` value (EncodeDoc)       ns: 0 key, 1 prepare
//
// A boundary's `bytes` are the versions its own commit wrote. Rolling back to boundary P needs
// every version replaced after P, so trimming the oldest boundary P0 (the next one being P1)
// deletes the boundaries up to P0 and the versions up to P1 (P1 can no longer be rolled back
// below). Trims run inside a commit, for the vbuckets it writes: whole boundaries go, oldest
// first, while the store's history is over history_retention_bytes (down to 90% of it, so
// trims are rare range deletions) or the oldest is older than history_retention_seconds. The
// newest boundary always stays.
//
// The index changes only after the write holding the matching RocksDB changes succeeded: the
// store collects them in a Pending and calls Apply() then.
//
// Ownership: a member of RocksDBKVStore; points at its DB and column family.
// Thread safety: KVStore's writer rule: one vbucket's boundaries are touched only by that
// vbucket's writer (Commit/Rollback/DeleteVBucket calls for it are serialised by the engine);
// different vbuckets' windows are separate objects, allocated at construction. The byte total
// and counters are atomics (stats may read them from any thread).
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/types.h"
#include "storage/kvstore.h"

namespace sluice::storage {

struct HistoryBoundary {
  uint64_t seqno = 0;
  uint64_t time = 0;   // unix seconds of the commit
  uint64_t bytes = 0;  // versions written by that commit (0 once they were trimmed)
  uint64_t snap_start = 0;
  uint64_t snap_end = 0;
};

class RocksDBHistory {
 public:
  struct Options {
    uint64_t retention_seconds = 0;
    uint64_t retention_bytes = 0;
    std::function<uint64_t()> now;  // unix seconds; null = the system clock
  };

  // Index changes of one write, applied after it succeeded.
  class Pending {
   private:
    friend class RocksDBHistory;
    struct Op {
      enum class Kind : uint8_t { kAppend, kPopFront, kTruncateAbove, kClear } kind;
      Vbid vbid = 0;
      HistoryBoundary boundary;  // kAppend
      uint64_t count = 0;        // kPopFront: boundaries; kTruncateAbove: the seqno
      uint64_t freed = 0;        // bytes leaving the total
    };
    std::vector<Op> ops_;
    std::vector<std::pair<Vbid, uint64_t>> added_;  // version bytes per vbucket, this write
    uint64_t versions_ = 0;
  };

  RocksDBHistory(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, Options options);

  bool enabled() const { return options_.retention_seconds != 0 || options_.retention_bytes != 0; }
  // At open: loads every boundary, or (history disabled) deletes whatever history is on disk.
  Status Load();

  // ---- a commit ----
  // The write at `replaced_at` replaced the version `old_seqno` whose `seq` value is
  // `old_value`, in the key (prepare = false) or prepare namespace.
  void AddVersion(Vbid vbid, uint64_t replaced_at, bool prepare, uint64_t old_seqno,
                  std::string_view old_value, rocksdb::WriteBatch* wb, Pending* pending) const;
  // The commit leaves vbid at `state` (high seqno and snapshot): records the boundary (unless it
  // is not above the newest one) and trims the window.
  void AddBoundary(Vbid vbid, const VBucketStateRecord& state, rocksdb::WriteBatch* wb,
                   Pending* pending) const;

  // ---- a rollback ----
  // The newest boundary at or below seqno, if the window reaches it.
  std::optional<HistoryBoundary> BoundaryAtOrBelow(Vbid vbid, uint64_t seqno) const;
  // Calls fn for every version replaced after `seqno`, in the order they were replaced.
  Status ForEachVersionAbove(Vbid vbid, uint64_t seqno,
                             const std::function<Status(bool prepare, uint64_t old_seqno,
                                                        std::string_view value)>& fn) const;
  // Deletes the boundaries and versions above seqno.
  void DropAbove(Vbid vbid, uint64_t seqno, rocksdb::WriteBatch* wb, Pending* pending) const;
  // Deletes all of vbid's history.
  void DropVBucket(Vbid vbid, rocksdb::WriteBatch* wb, Pending* pending) const;

  void Apply(const Pending& pending);

  uint64_t bytes() const { return total_bytes_.load(std::memory_order_relaxed); }
  uint64_t versions_written() const { return versions_.load(std::memory_order_relaxed); }
  uint64_t trims() const { return trims_.load(std::memory_order_relaxed); }

 private:
  using Window = std::vector<HistoryBoundary>;  // oldest first
  uint64_t Now() const;
  const Window& window(Vbid vbid) const { return windows_[vbid]; }

  rocksdb::DB* const db_;
  rocksdb::ColumnFamilyHandle* const cf_;
  const Options options_;
  // Indexed by vbid (< 0x8000); each touched by its vbucket's writer only.
  std::vector<Window> windows_;
  std::atomic<uint64_t> total_bytes_{0};
  std::atomic<uint64_t> versions_{0};
  std::atomic<uint64_t> trims_{0};
};

}  // namespace sluice::storage
