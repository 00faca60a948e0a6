// File: engine/checkpoint.h
//
// Checkpoint: one segment of a CheckpointManager's queue. A list of items that opens with a
// kCheckpointStart meta item and, once closed, ends with a kCheckpointEnd one; while open, a key
// index (key -> list element) lets Queue() deduplicate. Internal to the CheckpointManager (see
// engine/checkpoint_manager.h for the semantics); nothing else should use it.
//
// Invariants:
//   Starts with its start: items() is never empty; its first element is the kCheckpointStart
//     meta item, whose seqno is start_seqno().
//   Seqno order: mutations are in ascending seqno order; a set-vbucket-state meta item carries
//     the seqno the next mutation will get, so comparing seqnos orders any element against a
//     mutation.
//   Indexed while open: the index holds exactly the committed-namespace mutations of the list,
//     one per key (prepares and aborts are not indexed: never deduplicated). A replica's disk
//     checkpoint (one declaring a disk snapshot) has no index at all, as in kv_engine: a disk
//     snapshot holds each key once (a history snapshot may hold several versions, all kept), and
//     an index of a whole backfilled vbucket would only cost memory and time.
//   Counted memory: memory_bytes() = sizeof(Checkpoint) + sum of ElementBytes() over the list.
//
// Ownership: owned by its CheckpointManager (unique_ptr in its list). The index keys are views of
// the keys of the items in the list.
// Thread safety: thread-compatible; the manager touches it only under its lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/container/flat_hash_map.h"
#include "common/types.h"
#include "engine/checkpoint_items.h"
#include "engine/item.h"

namespace sluice::engine {

class Checkpoint {
 public:
  // Approximate per-element cost on top of Item::SizeInMemory(): the list node, an index slot and
  // the item's shared_ptr control block.
  static constexpr size_t kElementOverhead = 64;
  static size_t ElementBytes(const Item& item) { return item.SizeInMemory() + kElementOverhead; }

  // A new open checkpoint whose first mutation will have seqno `start_seqno`.
  Checkpoint(uint64_t id, Vbid vbid, uint64_t start_seqno);
  Checkpoint(const Checkpoint&) = delete;
  Checkpoint& operator=(const Checkpoint&) = delete;

  uint64_t id() const { return id_; }
  bool is_open() const { return open_; }
  // Snapshot range: [start_seqno, end_seqno]; end is start - 1 while there is no mutation.
  uint64_t start_seqno() const { return start_seqno_; }
  uint64_t end_seqno() const { return end_seqno_; }
  size_t num_mutations() const { return num_mutations_; }
  size_t memory_bytes() const { return memory_bytes_; }

  // A replica's checkpoint holds (part of) the snapshot a DCP marker announced, [start, end]: it
  // may start before start_seqno() (a snapshot resumed after a reconnect) and end past the last
  // mutation received so far. Readers report that range instead of the checkpoint's own. An
  // active's checkpoint declares none.
  bool has_declared_snapshot() const { return declared_end_ != 0; }
  uint64_t declared_start() const { return declared_start_; }
  uint64_t declared_end() const { return declared_end_; }
  // Whether the declared snapshot is a disk snapshot (the checkpoint deduplicates nothing).
  bool is_disk() const { return disk_; }
  // REQUIRES: start <= end, end > 0; to turn disk on, no mutation yet (the index must be empty).
  void DeclareSnapshot(uint64_t start, uint64_t end, bool disk) {
    declared_start_ = start;
    declared_end_ = end;
    disk_ = disk;
  }
  // REQUIRES: no mutation (an active's own writes are indexed from the first one).
  void ClearDeclaredSnapshot() {
    declared_start_ = declared_end_ = 0;
    disk_ = false;
  }

  // Cursors (and the persistence backup) positioned in this checkpoint.
  size_t num_cursors() const { return num_cursors_; }
  void AddCursor() { ++num_cursors_; }
  void RemoveCursor() { --num_cursors_; }

  CheckpointItems::iterator begin() { return items_.begin(); }
  CheckpointItems::iterator end() { return items_.end(); }

  struct Appended {
    CheckpointItems::iterator added;
    // The older entry of the same key: unindexed but still in the list. The caller moves cursors
    // off it, then calls Erase().
    std::optional<CheckpointItems::iterator> replaced;
  };
  // Appends a mutation (deduplicating its key unless is_disk()). REQUIRES: open; item->by_seqno
  // above every seqno in the checkpoint.
  Appended AppendMutation(QueuedItem item);
  // Removes a mutation returned as Appended::replaced and returns it (so the caller can release
  // it after dropping its lock).
  QueuedItem Erase(CheckpointItems::iterator it);
  // Appends a meta item (not indexed, not a mutation). REQUIRES: open.
  void AppendMeta(QueuedItem meta);
  // Appends `end_meta` (kCheckpointEnd), drops the index and makes the checkpoint immutable.
  void Close(QueuedItem end_meta);

 private:
  const uint64_t id_;
  const uint64_t start_seqno_;
  uint64_t end_seqno_;
  bool open_ = true;
  size_t num_mutations_ = 0;
  size_t memory_bytes_ = sizeof(Checkpoint);
  size_t num_cursors_ = 0;
  uint64_t declared_start_ = 0;
  uint64_t declared_end_ = 0;  // 0: no declared snapshot
  bool disk_ = false;          // the declared snapshot is a disk one: no index
  CheckpointItems items_;
  absl::flat_hash_map<std::string_view, CheckpointItems::iterator> index_;  // open only
};

}  // namespace sluice::engine
