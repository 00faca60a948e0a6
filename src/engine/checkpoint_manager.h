// File: engine/checkpoint_manager.h
//
// CheckpointManager: the in-memory, seqno-ordered queue of a vbucket's recent changes, read by
// named cursors — the flusher's persistence cursor and one cursor per DCP stream.
//
//   closed checkpoints (oldest first)                 open checkpoint
//   [start|a:3 b:4 c:5|end] [start|d:6 a:7|end]   [start| b:8 c:9 e:10 ... ]
//                  ^ cursor "dcp:x"   ^ "persistence"                 ^ new items appended here
//
// - Queue() assigns the next seqno (under the manager's lock, so seqno order is queue order) and
//   appends to the open checkpoint. If the open checkpoint already holds the key, the old entry
//   is removed (deduplication): cursors that had already read it stay where they are and will read
//   the new entry; a cursor positioned on the removed entry moves back one element.
// - The open checkpoint is closed and a new one opened when it exceeds the size limit (and fewer
//   than max_checkpoints exist), or on demand (CreateNewCheckpoint).
// - A cursor returns items checkpoint by checkpoint, each group with the snapshot range a DCP
//   snapshot marker needs.
// - Closed checkpoints that no cursor still needs are freed by RemoveClosedUnrefCheckpoints().
// - Under memory pressure, droppable cursors (DCP) holding the oldest checkpoints are dropped;
//   their owner learns it through the cursor's weak_ptr expiring and the on_dropped callback, and
//   must backfill from disk.
//
// Ownership: a VBucket owns its CheckpointManager (unique_ptr). The manager owns its checkpoints,
// items (shared with readers) and cursors (shared_ptr); cursor users hold only a weak_ptr<Cursor>,
// because the manager may drop a cursor at any time and must be able to free its checkpoints.
//
// Thread safety: thread-safe; every method takes the manager's lock. Callbacks (on_dropped) are
// invoked after the lock is released. Lock order: a hash-table stripe lock may be held when
// calling Queue() (the vbucket does so to keep the key's hash-table entry and its seqno
// consistent); the manager never calls out while holding its lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "common/types.h"
#include "engine/item.h"

namespace sluice::engine {

struct CheckpointConfig {
  size_t max_size_bytes = 8 << 20;  // close the open checkpoint past this many bytes
  size_t max_checkpoints = 10;      // at most this many checkpoints (open included)
};

// One group of items from one checkpoint, with the snapshot range a DCP marker announces.
struct CheckpointSnapshot {
  uint64_t checkpoint_id = 0;
  uint64_t start = 0;  // snapshot start seqno
  uint64_t end = 0;    // snapshot end seqno (>= every item's seqno)
  std::vector<QueuedItem> items;  // mutations/deletions only, ascending seqno
};

struct CursorItems {
  std::vector<CheckpointSnapshot> snapshots;  // ascending, non-overlapping, none empty
  bool more_available = false;                 // stopped at a limit, not at the end
  size_t NumItems() const {
    size_t n = 0;
    for (const auto& s : snapshots) n += s.items.size();
    return n;
  }
};

// A reader's position. Opaque to users: they pass it back to the manager.
class Cursor {
 public:
  const std::string& name() const { return name_; }
  bool droppable() const { return droppable_; }

 private:
  friend class CheckpointManager;
  Cursor(std::string name, bool droppable, std::function<void()> on_dropped)
      : name_(std::move(name)), droppable_(droppable), on_dropped_(std::move(on_dropped)) {}
  struct Position;
  const std::string name_;
  const bool droppable_;
  std::function<void()> on_dropped_;
  // Guarded by the owning manager's lock (the manager is the only one to touch it).
  std::unique_ptr<Position> pos_;
};

struct CursorRegistration {
  // The new cursor; weak because the manager may drop it (see file comment).
  std::weak_ptr<Cursor> cursor;
  // True when seqnos in (last_read_seqno, next_seqno) are no longer in memory: the caller must
  // read them from disk first (a DCP backfill of [last_read_seqno + 1, next_seqno - 1]).
  bool needs_backfill = false;
  // The lowest seqno the cursor can return; everything after last_read_seqno from here on is in
  // memory. If the vbucket has no newer item yet, this is high_seqno + 1.
  uint64_t next_seqno = 0;
};

struct CheckpointStats {
  size_t num_checkpoints = 0;
  size_t num_open_checkpoint_items = 0;  // mutations in the open checkpoint
  size_t num_items = 0;                  // mutations in all checkpoints
  size_t memory_bytes = 0;
  size_t num_cursors = 0;
  uint64_t open_checkpoint_id = 0;
  uint64_t high_seqno = 0;
  uint64_t persistence_cursor_seqno = 0;  // last seqno the persistence cursor read
  size_t items_for_persistence = 0;       // mutations not yet read by the persistence cursor
};

class CheckpointManager {
 public:
  static constexpr std::string_view kPersistenceCursor = "persistence";

  // `last_seqno`: the vbucket's high seqno (from warmup or 0); the first queued item gets
  // last_seqno + 1. `memory_counter`: a bucket-wide counter the manager adds its memory to (may
  // be null). A persistence cursor is registered at last_seqno.
  CheckpointManager(Vbid vbid, CheckpointConfig config, uint64_t last_seqno,
                    std::atomic<int64_t>* memory_counter);
  ~CheckpointManager();
  CheckpointManager(const CheckpointManager&) = delete;
  CheckpointManager& operator=(const CheckpointManager&) = delete;

  // ---- writers ----
  // Assigns item->by_seqno = high seqno + 1, appends it (deduplicating by key) and returns the
  // seqno. `item` must be a mutation.
  uint64_t Queue(std::shared_ptr<Item> item);
  // Appends a set-vbucket-state meta item (consumes no seqno).
  void QueueSetVBucketState(VBucketState state);
  // Closes the open checkpoint (if it holds any mutation) and opens a new one.
  void CreateNewCheckpoint();
  uint64_t GetHighSeqno() const;

  // ---- cursors ----
  // Registers (or replaces) cursor `name` so that the first item it returns is the first one with
  // seqno > last_read_seqno that is still in memory. `on_dropped` runs (without the manager's
  // lock) if the manager drops a droppable cursor.
  CursorRegistration RegisterCursor(std::string name, uint64_t last_read_seqno, bool droppable,
                                    std::function<void()> on_dropped = nullptr);
  // Removes the cursor (no callback). No-op if it is gone.
  void RemoveCursor(const std::weak_ptr<Cursor>& cursor);
  // Returns up to about `max_items` items after the cursor and advances it past them. Whole
  // checkpoints are not required: a snapshot of the open checkpoint ends at its last item.
  // An expired cursor returns nothing.
  CursorItems GetItemsForCursor(const std::weak_ptr<Cursor>& cursor, size_t max_items);
  // Mutations after the cursor.
  size_t NumItemsForCursor(const std::weak_ptr<Cursor>& cursor) const;

  // ---- the flusher ----
  // As GetItemsForCursor for the persistence cursor, but keeps a backup of the old position until
  // PersistenceCommitted() (done) or PersistenceFailed() (rewind: the same and newer items are
  // returned again by the next call).
  CursorItems GetItemsForPersistence(size_t max_items);
  void PersistenceCommitted();
  void PersistenceFailed();
  size_t NumItemsForPersistence() const;

  // ---- memory ----
  // Frees closed checkpoints no cursor is in. Returns bytes freed.
  size_t RemoveClosedUnrefCheckpoints();
  // Drops droppable cursors positioned in the oldest checkpoint(s) so they can be freed (closing
  // the open checkpoint first if every checkpoint is pinned by it). Returns cursors dropped.
  size_t DropCursorsInOldestCheckpoint();
  size_t MemoryUsage() const;

  CheckpointStats GetStats() const;
  // Seqno range of the checkpoint the persistence cursor is in (for the persisted snapshot).
  Vbid vbid() const { return vbid_; }

 private:
  struct Checkpoint;
  using CheckpointList = std::list<std::unique_ptr<Checkpoint>>;

  const Vbid vbid_;
  const CheckpointConfig config_;
  std::atomic<int64_t>* const memory_counter_;

  mutable Mutex mu_;
  CheckpointList checkpoints_ GUARDED_BY(mu_);  // front = oldest, back = open
  std::unordered_map<std::string, std::shared_ptr<Cursor>> cursors_ GUARDED_BY(mu_);
  uint64_t high_seqno_ GUARDED_BY(mu_) = 0;
  uint64_t next_checkpoint_id_ GUARDED_BY(mu_) = 1;
  size_t memory_bytes_ GUARDED_BY(mu_) = 0;
  std::shared_ptr<Cursor> persistence_ GUARDED_BY(mu_);
  std::shared_ptr<Cursor> persistence_backup_ GUARDED_BY(mu_);
};

}  // namespace sluice::engine
