// File: engine/checkpoint_manager.h
//
// CheckpointManager: the in-memory, seqno-ordered queue of a vbucket's recent changes, read by
// named cursors — the flusher's persistence cursor and one cursor per DCP stream.
//
//   closed checkpoints (oldest first)                 open checkpoint
//   [start|a:3 b:4 c:5|end] [start|d:6 a:7|end]   [start| b:8 c:9 e:10 ... ]
//                  ^ cursor "dcp:x"   ^ "persistence"                 ^ new items appended here
//
// - Every checkpoint begins with a kCheckpointStart meta item (so a cursor always has an element
//   to point at) and, once closed, ends with a kCheckpointEnd one. A cursor points at the last
//   element it has read; the next element is the one after it. Meta items are never returned to
//   readers: cursors step over them.
// - Queue() assigns the next seqno (under the manager's lock, so seqno order is queue order) and
//   appends to the open checkpoint. If the open checkpoint already holds the key, the old entry
//   is removed (deduplication): cursors that had already read it stay where they are and will read
//   the new entry; a cursor positioned on the removed entry moves back one element. No cursor
//   ever misses the latest version of a key, and none reads a seqno twice. Closed checkpoints are
//   immutable (a key may appear in several checkpoints).
// - The open checkpoint is closed and a new one opened when, at the next Queue(), its memory
//   exceeds max_size_bytes and fewer than max_checkpoints exist; or on demand
//   (CreateNewCheckpoint). A checkpoint without mutations is never closed.
// - Snapshot ranges: a checkpoint covers [start, end] where start is high seqno + 1 when it was
//   opened (the seqno of its first mutation, even if that one was later deduplicated) and end the
//   seqno of its last mutation. Consecutive checkpoints cover contiguous ranges. A cursor returns
//   items checkpoint by checkpoint, each group with the snapshot range a DCP marker needs (see
//   CheckpointSnapshot).
// - Closed checkpoints older than the oldest one any cursor is in are freed by
//   RemoveClosedUnrefCheckpoints(); the open checkpoint is never freed.
// - Replicas: items arrive with their producer's seqnos (QueueWithSeqno: above the high seqno,
//   gaps allowed) and each DCP snapshot marker opens a checkpoint that *declares* the marker's
//   range (CreateSnapshot; ExtendSnapshot for a memory marker that continues one); a disk
//   snapshot's checkpoints deduplicate nothing (kv_engine: no key index). Readers then
//   report that range, so the flusher persists the snapshot the replica is in and a DCP stream
//   from the replica sends its producer's snapshot boundaries. A checkpoint closed for size while
//   its snapshot is incomplete passes the declaration on to the next one. Queue() (own seqnos: a
//   promoted replica) ends any declaration.
// - Under memory pressure, droppable cursors (DCP) holding the oldest checkpoint are dropped;
//   their owner learns it through the cursor's weak_ptr expiring and the on_dropped callback, and
//   must backfill from disk.
//
// Memory: each element is charged Item::SizeInMemory() plus a fixed overhead (list node, index
// slot), each checkpoint sizeof(Checkpoint). The same amounts are added to and subtracted from the
// bucket-wide counter; the destructor subtracts whatever is left, so a destroyed manager leaves no
// residue.
//
// Ownership: a VBucket owns its CheckpointManager. The manager owns its checkpoints, items
// (shared with readers) and cursors (shared_ptr); cursor users hold only a weak_ptr<Cursor>,
// because the manager may drop a cursor at any time and must be able to free its checkpoints.
//
// Thread safety: thread-safe; every method takes the manager's lock. Callbacks (on_dropped) are
// invoked after the lock is released, and so are the destructors of dropped cursors and freed
// checkpoints (they may release the last reference to values or to callback captures). Its lock
// has rank kCheckpoints (common/lock_rank.h): a DCP stream reads its cursor under its own lock,
// and a hash-table stripe lock may be held when calling Queue() (the vbucket does so to keep the
// key's hash-table entry and its seqno consistent); the manager never calls out while holding it.
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
#include "common/types.h"
#include "engine/checkpoint_items.h"
#include "engine/item.h"

namespace sluice::engine {

class Checkpoint;  // engine/checkpoint.h: internal to the manager.
using CheckpointList = std::list<std::unique_ptr<Checkpoint>>;

struct CheckpointConfig {
  size_t max_size_bytes = 8 << 20;  // close the open checkpoint past this many bytes
  size_t max_checkpoints = 10;      // at most this many checkpoints (open included)
};

struct SeqnoRange {
  uint64_t start = 0;
  uint64_t end = 0;
};

// One group of items from one checkpoint, with the snapshot range a DCP marker announces.
//   start: the checkpoint's start if the cursor had read nothing of this checkpoint before the
//          call, else (last seqno the cursor had read + 1). A replica's checkpoint: the start of
//          the snapshot it declares. Seqnos in [start, first item) that
//          are absent were deduplicated: a newer version of the same key is in this snapshot.
//   end:   a closed checkpoint's end (even if the read stopped early); for the open checkpoint
//          the seqno of the last item returned. A replica's checkpoint: at least the end of the
//          snapshot it declares.
struct CheckpointSnapshot {
  uint64_t checkpoint_id = 0;
  uint64_t start = 0;             // snapshot start seqno
  uint64_t end = 0;               // snapshot end seqno (>= every item's seqno)
  std::vector<QueuedItem> items;  // mutations/deletions only, ascending seqno
};

struct CursorItems {
  std::vector<CheckpointSnapshot> snapshots;  // ascending, non-overlapping, none empty
  bool more_available = false;                // stopped at max_items with a mutation left
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

  // ---- constant after construction ----
  const std::string name_;
  const bool droppable_;

  // ---- guarded by the owning manager's lock (the manager is the only one to touch them) ----
  std::function<void()> on_dropped_;
  bool attached_ = false;                // false once removed, replaced or dropped
  CheckpointList::iterator checkpoint_;  // the checkpoint it is in (counted in its num_cursors)
  CheckpointItems::iterator item_;       // the element last read, in *checkpoint_
  size_t mutations_read_ = 0;            // mutations of *checkpoint_ at or before item_
  uint64_t last_seqno_ = 0;              // last seqno returned (or registered at)
  SeqnoRange last_snapshot_;             // {checkpoint start, snapshot end} of the last item read
};

struct CursorRegistration {
  // The new cursor; weak because the manager may drop it (see file comment).
  std::weak_ptr<Cursor> cursor;
  // True when seqnos in (last_read_seqno, next_seqno) are no longer in memory: the caller must
  // read them from disk first (a DCP backfill of [last_read_seqno + 1, next_seqno - 1]).
  bool needs_backfill = false;
  // Where in-memory coverage resumes: everything after last_read_seqno from next_seqno on is in
  // memory. If the cursor starts at a checkpoint's beginning (last_read_seqno < its start), that
  // checkpoint's start (the seqno of its first item unless that one was deduplicated; the first
  // snapshot returned starts there). Otherwise the seqno of the first mutation after
  // last_read_seqno, or high_seqno + 1 if there is none yet.
  uint64_t next_seqno = 0;
};

struct CheckpointStats {
  size_t num_checkpoints = 0;
  size_t num_open_checkpoint_items = 0;  // mutations in the open checkpoint
  size_t num_items = 0;                  // mutations in all checkpoints
  size_t memory_bytes = 0;
  size_t num_cursors = 0;  // registered cursors, persistence included
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
  // be null; must outlive the manager). A persistence cursor is registered at last_seqno.
  CheckpointManager(Vbid vbid, CheckpointConfig config, uint64_t last_seqno,
                    std::atomic<int64_t>* memory_counter);
  ~CheckpointManager();
  CheckpointManager(const CheckpointManager&) = delete;
  CheckpointManager& operator=(const CheckpointManager&) = delete;

  // ---- writers ----
  // Assigns item->by_seqno = high seqno + 1, appends it (deduplicating by key) and returns the
  // seqno. `item` must be a mutation and must not be modified afterwards. `pre_link`, if set, is
  // called with the item once its seqno is assigned and before anyone can see it (under the
  // manager's lock: it must be quick and call nothing back), to finish its value (xattr macros).
  uint64_t Queue(std::shared_ptr<Item> item, const std::function<void(Item&)>& pre_link = {});
  // A replica's write: appends `item` with the seqno it carries and makes that the high seqno.
  // False (nothing queued) unless item->by_seqno is above the high seqno.
  bool QueueWithSeqno(std::shared_ptr<Item> item);
  // A replica received the DCP snapshot marker [start, end]: closes the open checkpoint if it
  // holds mutations and has the open one declare [start, end] (replacing an empty one's range).
  // `disk`: a disk snapshot, whose checkpoints (this one and those it continues in when closed
  // for size) keep every item without deduplicating (kv_engine's disk checkpoints).
  void CreateSnapshot(uint64_t start, uint64_t end, bool disk = false);
  // The open checkpoint's declared snapshot now ends at `end` (a memory marker that continues a
  // memory snapshot, kv_engine's extendOpenCheckpoint); one without a declaration gets
  // [high seqno + 1, end].
  void ExtendSnapshot(uint64_t end);
  // Appends a set-vbucket-state meta item (consumes no seqno; the state is in Item::flags).
  // Readers never see it: the flusher persists the vbucket state record with every batch.
  void QueueSetVBucketState(VBucketState state);
  // Closes the open checkpoint (if it holds any mutation) and opens a new one.
  void CreateNewCheckpoint();
  uint64_t GetHighSeqno() const;

  // ---- cursors ----
  // Registers (or replaces: the old cursor's weak_ptrs expire) cursor `name` so that the first
  // item it returns is the first one with seqno > last_read_seqno that is still in memory; see
  // CursorRegistration. A last_read_seqno above the high seqno is treated as the high seqno (the
  // caller must have checked for rollback). `on_dropped` runs (without the manager's lock, after
  // the cursor's weak_ptrs expired) if the manager drops a droppable cursor; it may call back into
  // the manager. Registering kPersistenceCursor repositions the persistence cursor (never
  // droppable; an in-flight persistence backup is discarded). Walks the target checkpoint: O(its
  // items).
  CursorRegistration RegisterCursor(std::string name, uint64_t last_read_seqno, bool droppable,
                                    std::function<void()> on_dropped = nullptr);
  // Removes the cursor (no callback). No-op if it is gone or is the persistence cursor.
  void RemoveCursor(const std::weak_ptr<Cursor>& cursor);
  // Returns at most `max_items` mutations after the cursor (exact: never more; 0 returns none)
  // and advances it past them and past any meta items, moving into the next checkpoint when a
  // closed one is finished. A snapshot may stop mid-checkpoint at the limit; the next call
  // continues it (with start = last seqno read + 1). An expired, removed or foreign cursor
  // returns nothing.
  CursorItems GetItemsForCursor(const std::weak_ptr<Cursor>& cursor, size_t max_items);
  // Mutations after the cursor (0 for an expired cursor). O(number of checkpoints).
  size_t NumItemsForCursor(const std::weak_ptr<Cursor>& cursor) const;

  // ---- the flusher ----
  // As GetItemsForCursor for the persistence cursor, but keeps a backup of the old position until
  // PersistenceCommitted() (done) or PersistenceFailed() (rewind: the same and newer items are
  // returned again by the next call; versions deduplicated meanwhile are replaced by their newer
  // version). Calling it again before either keeps the first backup, so a failure rewinds over
  // every batch taken since the last commit. The backup pins its checkpoint like a cursor.
  CursorItems GetItemsForPersistence(size_t max_items);
  void PersistenceCommitted();
  void PersistenceFailed();
  size_t NumItemsForPersistence() const;
  // Snapshot range to record with the persisted state: {start of the checkpoint holding the last
  // item the persistence cursor read, end of the snapshot it was returned in}. Both equal the
  // registration seqno before anything was read.
  SeqnoRange GetPersistenceSnapshotRange() const;

  // ---- memory ----
  // Frees closed checkpoints older than the oldest checkpoint any cursor (or the persistence
  // backup) is in. Returns bytes freed.
  size_t RemoveClosedUnrefCheckpoints();
  // For use under memory pressure. Finds the oldest checkpoint holding a cursor; if it is the
  // open one and the only checkpoint, closes it first (when it has mutations) so later items go to
  // a new checkpoint and caught-up cursors move there. If that oldest checkpoint is closed and
  // holds no non-droppable cursor (persistence, its backup, or a cursor registered with
  // droppable = false), drops every cursor in it: dropping would free nothing otherwise. Then frees
  // unreferenced closed checkpoints. on_dropped callbacks run after the lock is released. Returns
  // cursors dropped.
  size_t DropCursorsInOldestCheckpoint();
  size_t MemoryUsage() const;

  CheckpointStats GetStats() const;
  Vbid vbid() const { return vbid_; }

 private:
  // Creates a cursor object (not yet positioned nor registered).
  static std::shared_ptr<Cursor> NewCursor(std::string name, bool droppable,
                                           std::function<void()> on_dropped);
  // Applies a memory delta to memory_bytes_ and the bucket-wide counter.
  void AccountLocked(int64_t delta) REQUIRES(mu_);
  // Appends a new open checkpoint starting at high_seqno_ + 1.
  void OpenCheckpointLocked() REQUIRES(mu_);
  // Closes the open checkpoint, opens a new one, and moves cursors with nothing left to read in
  // the closed one to the new one's start.
  void CloseOpenCheckpointLocked() REQUIRES(mu_);
  // Closes the open checkpoint if it is over max_size_bytes (and the count allows).
  void MaybeCloseForSizeLocked() REQUIRES(mu_);
  // Appends a mutation whose seqno is set to the open checkpoint (deduplicating its key, moving
  // cursors off the replaced entry) and returns the replaced entry, to be released after the
  // lock.
  QueuedItem AppendLocked(std::shared_ptr<Item> item) REQUIRES(mu_);
  // Calls f(Cursor&) for every attached cursor, the persistence backup included.
  template <typename F>
  void ForEachCursorLocked(F&& f) REQUIRES(mu_);
  // Moves `c` onto element `item` of checkpoint `ckpt` (updating checkpoint cursor counts).
  void PlaceCursorLocked(Cursor& c, CheckpointList::iterator ckpt, CheckpointItems::iterator item,
                         size_t mutations_read) REQUIRES(mu_);
  void DetachCursorLocked(Cursor& c) REQUIRES(mu_);
  // Gives `dst` the position of `src`.
  void CopyPositionLocked(Cursor& dst, const Cursor& src) REQUIRES(mu_);
  // Positions `c` for RegisterCursor (cursor field of the result left empty).
  CursorRegistration PositionCursorLocked(Cursor& c, uint64_t last_read_seqno) REQUIRES(mu_);
  // True if `c` is attached and registered in this manager under its name.
  bool IsRegisteredLocked(const Cursor& c) const REQUIRES(mu_);
  CursorItems ReadLocked(Cursor& c, size_t max_items) REQUIRES(mu_);
  size_t NumItemsAfterLocked(const Cursor& c) const REQUIRES(mu_);
  // Moves unreferenced closed checkpoints at the front into `freed` (destroyed by the caller
  // after the lock is released). Returns bytes freed.
  size_t RemoveUnrefLocked(CheckpointList* freed) REQUIRES(mu_);

  // ---- constant after construction ----
  const Vbid vbid_;
  const CheckpointConfig config_;
  std::atomic<int64_t>* const memory_counter_;  // may be null; not owned

  // ---- protected by mu_ ----
  mutable Mutex mu_{LockRank::kCheckpoints};
  CheckpointList checkpoints_ GUARDED_BY(mu_);  // front = oldest, back = open; never empty
  std::unordered_map<std::string, std::shared_ptr<Cursor>> cursors_ GUARDED_BY(mu_);
  uint64_t high_seqno_ GUARDED_BY(mu_) = 0;
  uint64_t next_checkpoint_id_ GUARDED_BY(mu_) = 1;
  size_t memory_bytes_ GUARDED_BY(mu_) = 0;
  // Also in cursors_ (shared with the map, which never loses it).
  std::shared_ptr<Cursor> persistence_ GUARDED_BY(mu_);
  // The persistence cursor's position before the uncommitted batches; not in cursors_.
  std::unique_ptr<Cursor> persistence_backup_ GUARDED_BY(mu_);
};

}  // namespace sluice::engine
