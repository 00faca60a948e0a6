// File: storage/kvstore.h
//
// KVStore: the durable store under the engine. One instance per bucket holds every vbucket's
// documents and state. The RocksDB implementation (rocksdb_kvstore.h) keeps three column
// families:
//
//   seq   : vbid(u16 BE) + seqno(u64 BE)  -> the document (key, meta, value)   [backfill scans]
//   key   : vbid(u16 BE) + key bytes      -> seqno + deleted bit               [point lookups]
//   local : named records                 -> vbucket states, clean-shutdown marker
//   history: the rollback window (below)  -> older versions of keys, commit boundaries
//
// History (rollback): when a commit replaces or deletes a persisted key (or resolves a persisted
// prepare), the version it replaces goes to `history` in the same atomic batch, keyed by the
// vbucket and the seqno that replaced it; every commit also records its boundary (the vbucket's
// new high seqno and the time). Rollback(vb, R) rewinds the vbucket to the newest boundary at or
// below R: each key changed after it gets back the version it had there (or is removed), the
// `seq` entries above it go, and the state record moves back, all in one atomic batch. Only a
// boundary is a point the disk really held (a commit writes only the last version of a key it
// saw several times), so the seqno reached may be below R, as with kv_engine's couchstore and
// magma rollbacks. The window is bounded by RocksDBOptions::history_retention_* (kv_engine's
// magma names): the oldest boundaries and the versions only they need are trimmed as commits
// go; a rollback below the window is refused (the engine then resets the vbucket). Retention 0
// (both) keeps no history, and opening such a store drops any history left on disk.
//
// Prepares: a SyncWrite's prepare is a document of `seq` (flagged prepared) whose `key` entry
// sits in the key's *prepare namespace*, vbid | 0x8000 instead of vbid, so a key has at most one
// committed and one prepared entry and neither shadows the other (kv_engine's prepare
// namespace). A commit or abort removes the prepare (FlushBatch::RemovePrepare); the commit's
// document is an ordinary one. Scans skip prepares unless asked (ScanOptions::include_prepares).
// vbids must therefore stay below 0x8000.
//
// Invariants:
//   One entry per key: each key of a vbucket has at most one entry in `seq`. Commit() deletes the
//     entry of the key's previous seqno in the same atomic batch that writes the new one. A
//     seqno-ordered scan therefore yields the latest version of every key exactly once.
//   State with its documents: a vbucket's state record is written in the same atomic batch as
//     the documents it describes, so the persisted high seqno never points past the persisted
//     data.
//   One snapshot per scan: a SeqnoScan's documents and its state record agree.
//
// Ownership: the engine's Bucket owns the KVStore (unique_ptr). A SeqnoScan holds a RocksDB
// snapshot and must be destroyed before the KVStore; the bucket guarantees that by ending every
// scan (DCP backfills) before it closes the store.
//
// Thread safety: thread-safe, with two rules. One writer per vbucket: writes touching one
// vbucket (Commit, SaveVBucketState, DeleteVBucket) are serialised by the caller (the engine
// gives each vbucket to one flusher shard). Close last: Close() runs after every other call has
// returned (the owner stops its users first). Reads and scans may run from any thread at any time.
// A SeqnoScan is used by one thread at a time.
//
// Errors (one translation from rocksdb::Status, storage/rocksdb_status.h): a full disk is
// Errc::kTempFail, never a crash; the failed write left nothing behind, and the next write call
// first asks RocksDB to resume, so the engine simply retries the flush. kIoError and kCorruption
// are real faults. Calls after Close() return kCancelled; writes on a read-only store return
// kNotSupported.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/types.h"
#include "common/vbucket_topology.h"

namespace rocksdb {
class Env;
}  // namespace rocksdb

namespace sluice::storage {

// A document as stored on disk (also a tombstone when `deleted`).
struct DiskDoc {
  Vbid vbid = 0;
  std::string key;
  uint64_t seqno = 0;
  uint64_t rev_seqno = 0;
  uint64_t cas = 0;
  uint32_t flags = 0;    // client flags, stored verbatim
  uint32_t expiry = 0;   // absolute unix seconds, 0 = never; for tombstones: delete time
  uint8_t datatype = 0;  // wire datatype bits (JSON, XATTR, ...)
  bool deleted = false;
  DeleteSource delete_source = DeleteSource::kExplicit;
  std::string value;  // empty for tombstones without xattrs / for key-only scans
  // A SyncWrite's prepare: stored in the key's prepare namespace (see "Prepares" above), never
  // shadowing the committed version; `durability_level` is its level (1..3).
  bool prepared = false;
  uint8_t durability_level = 0;
  // Commit only: where the key's previous version lives in `seq`, when the caller knows it
  // (the engine tracks it per key), which saves Commit a read of the `key` column family.
  // kNoPreviousVersion: the key has no entry on disk; kUnknownPreviousSeqno: look it up.
  // Every version of one key in a batch carries the same value (the state before the batch).
  uint64_t previous_seqno = kUnknownPreviousSeqno;

  static constexpr uint64_t kNoPreviousVersion = 0;
  static constexpr uint64_t kUnknownPreviousSeqno = UINT64_MAX;
};

// A document as a scan reads it, without copying: `key` and `value` view the store's buffers and
// are valid only during the scan callback that receives it (SeqnoScan::ScanViews). The other
// fields as in DiskDoc.
struct DiskDocView {
  Vbid vbid = 0;
  uint64_t seqno = 0;
  uint64_t rev_seqno = 0;
  uint64_t cas = 0;
  uint32_t flags = 0;
  uint32_t expiry = 0;
  uint8_t datatype = 0;
  bool deleted = false;
  DeleteSource delete_source = DeleteSource::kExplicit;
  std::string_view key;
  std::string_view value;  // empty for key-only scans
  bool prepared = false;
  uint8_t durability_level = 0;

  // An owning copy.
  DiskDoc ToDiskDoc() const {
    DiskDoc doc;
    doc.vbid = vbid;
    doc.key.assign(key);
    doc.seqno = seqno;
    doc.rev_seqno = rev_seqno;
    doc.cas = cas;
    doc.flags = flags;
    doc.expiry = expiry;
    doc.datatype = datatype;
    doc.deleted = deleted;
    doc.delete_source = delete_source;
    doc.value.assign(value);
    doc.prepared = prepared;
    doc.durability_level = durability_level;
    return doc;
  }
};

struct FailoverEntry {
  uint64_t uuid = 0;
  uint64_t seqno = 0;
  friend bool operator==(const FailoverEntry&, const FailoverEntry&) = default;
};

// Everything the engine persists about a vbucket besides its documents.
struct VBucketStateRecord {
  VBucketState state = VBucketState::kActive;
  uint64_t high_seqno = 0;  // highest seqno persisted
  uint64_t snap_start = 0;  // persisted snapshot range containing high_seqno
  uint64_t snap_end = 0;
  uint64_t purge_seqno = 0;  // tombstones at or below this were purged
  uint64_t max_cas = 0;      // highest CAS persisted (HLC recovery)
  uint64_t max_deleted_rev_seqno = 0;
  std::vector<FailoverEntry> failover;  // newest first
  VBucketTopology topology;             // an active vbucket's replication chains (may be empty)
  friend bool operator==(const VBucketStateRecord&, const VBucketStateRecord&) = default;
};

// A prepare resolved (committed or aborted) at `seqno`: its entry leaves the prepare namespace.
struct PrepareRemoval {
  Vbid vbid = 0;
  std::string key;
  uint64_t seqno = 0;  // the commit's or abort's seqno
};

// The documents and state of one or more vbuckets committed atomically. Documents of one vbucket
// must be added in increasing seqno order; a key may appear more than once (the last wins).
class FlushBatch {
 public:
  void Add(DiskDoc doc) { docs_.push_back(std::move(doc)); }
  // Removes the key's prepare (one added earlier in this batch with a lower seqno included).
  void RemovePrepare(Vbid vbid, std::string key, uint64_t seqno) {
    removals_.push_back(PrepareRemoval{vbid, std::move(key), seqno});
  }
  const std::vector<PrepareRemoval>& removals() const { return removals_; }
  void SetState(Vbid vbid, VBucketStateRecord state) { states_[vbid] = std::move(state); }
  const std::vector<DiskDoc>& docs() const { return docs_; }
  const std::map<Vbid, VBucketStateRecord>& states() const { return states_; }
  bool empty() const { return docs_.empty() && states_.empty() && removals_.empty(); }
  size_t size() const { return docs_.size(); }

 private:
  std::vector<DiskDoc> docs_;
  std::vector<PrepareRemoval> removals_;
  std::map<Vbid, VBucketStateRecord> states_;
};

struct ScanOptions {
  bool key_only = false;      // leave DiskDoc::value empty
  bool skip_deleted = false;  // do not yield tombstones
  // Yield the same documents in key order instead of seqno order (a DCP out-of-order backfill).
  bool key_order = false;
  // Also yield prepares (DiskDoc::prepared; warmup). Seqno order only.
  bool include_prepares = false;
};

// What the scan callback tells the scan to do next.
enum class ScanControl { kContinue, kYield };

// A forward scan of one vbucket's `seq` column family, by seqno, over one snapshot.
class SeqnoScan {
 public:
  virtual ~SeqnoScan() = default;
  // The vbucket state as of the snapshot (its high_seqno bounds the scan; purge_seqno for the
  // DCP rollback check).
  virtual const VBucketStateRecord& state() const = 0;
  // Number of documents (including tombstones unless skip_deleted) in [start, end] — an estimate
  // for progress reporting ("backfill remaining"). The RocksDB scan returns the size of the
  // clamped range, an upper bound (exact when no key in the range was rewritten later).
  virtual uint64_t EstimateCount() const = 0;
  // Calls `fn` for each document with start <= seqno <= end in seqno order, resuming after the
  // last document delivered by a previous call. Stops early when `fn` returns kYield (the next
  // call resumes after that document). Returns OK when the range is exhausted or on yield;
  // `*done` says which. The views `fn` receives are valid only during that call: this is the
  // scan without a copy per document (a DCP backfill encodes its messages straight from them).
  virtual Status ScanViews(const std::function<ScanControl(const DiskDocView&)>& fn,
                           bool* done) = 0;
  // ScanViews, each document copied into an owning DiskDoc.
  Status Scan(const std::function<ScanControl(DiskDoc&&)>& fn, bool* done) {
    return ScanViews([&fn](const DiskDocView& view) { return fn(view.ToDiskDoc()); }, done);
  }
  // The seqno of the last document delivered (0 if none yet).
  virtual uint64_t last_seqno() const = 0;
};

// What Rollback() did.
struct RollbackResult {
  uint64_t seqno = 0;              // the seqno reached: the newest commit boundary <= the target
  uint64_t items_rolled_back = 0;  // `seq` entries above it that were removed
  uint64_t items_restored = 0;     // older versions put back from history
  VBucketStateRecord state;        // the vbucket's state record as now persisted
};

struct KVStoreStats {
  uint64_t commits = 0;          // Commit() calls with a non-empty batch, failed ones included
  uint64_t commit_failures = 0;  // of those, the ones that returned an error (nothing written)
  uint64_t docs_written = 0;     // documents that reached disk (older versions in a batch excluded)
  uint64_t bytes_written = 0;    // RocksDB batch bytes (keys + values + batch framing)
  uint64_t gets = 0;
  uint64_t scans_opened = 0;
  uint64_t scan_docs = 0;         // documents delivered by scans
  uint64_t open_scans = 0;        // SeqnoScans alive now
  uint64_t disk_size = 0;         // SST (including files kept for snapshots) + WAL bytes
  uint64_t history_bytes = 0;     // encoded older versions held for rollback (all vbuckets)
  uint64_t history_versions = 0;  // older versions written to history since open
  uint64_t history_trims = 0;     // times a vbucket's window was trimmed
};

class KVStore {
 public:
  virtual ~KVStore() = default;

  // Writes `batch` atomically (the invariants "one entry per key" and "state with its
  // documents"). `sync` fsyncs the WAL before returning. Only the last version of a key in the
  // batch is written. kInvalid (and nothing written) if a document has an empty key, seqno 0, or
  // a seqno not above the previous one of its vbucket in the batch. Documents above the vbucket's
  // persisted high seqno are invisible to scans (which clamp to it), so the engine puts the state
  // record in the same batch.
  virtual Status Commit(const FlushBatch& batch, bool sync) = 0;

  // The latest persisted version of `key` (tombstones included: check `deleted`).
  // NotFound if the key has no entry.
  virtual StatusOr<DiskDoc> Get(Vbid vbid, std::string_view key) = 0;
  // The persisted version of `key` at `seqno`: one `seq` read and no `key` lookup, for a caller
  // that knows where the key's latest version lives (the hash table keeps the seqno of an ejected
  // value). NotFound if `seq` has no entry at `seqno`, or the entry holds another key or a
  // prepare.
  virtual StatusOr<DiskDoc> GetAtSeqno(Vbid vbid, uint64_t seqno, std::string_view key) = 0;

  // Every persisted vbucket state.
  virtual StatusOr<std::map<Vbid, VBucketStateRecord>> LoadVBucketStates() = 0;
  // Writes one vbucket's state alone (e.g. a SET_VBUCKET while it has no dirty items).
  virtual Status SaveVBucketState(Vbid vbid, const VBucketStateRecord& state, bool sync) = 0;

  // Opens a scan of vbid's documents with start <= seqno <= end over a fresh snapshot. `end` is
  // clamped to the snapshot's persisted high seqno. Range errors are not errors: an empty range
  // yields nothing. A vbucket without a persisted state record scans empty, and the scan's
  // state() is a default-constructed record (high_seqno 0).
  virtual StatusOr<std::unique_ptr<SeqnoScan>> OpenSeqnoScan(Vbid vbid, uint64_t start,
                                                             uint64_t end, ScanOptions options) = 0;

  // Removes every document and the state record of vbid.
  virtual Status DeleteVBucket(Vbid vbid) = 0;

  // Rewinds vbid to the newest commit boundary at or below `seqno` ("History" above), in one
  // atomic (synced) write: keys changed after it get their version there back from history (or
  // are removed), prepares included; `seq` entries above it are removed; the state record gets
  // high seqno = snapshot start = snapshot end = the boundary and loses the failover entries
  // above it (the oldest one stays); history above it is dropped. kNotFound when the history
  // does not reach back that far (or is disabled, or seqno is 0), or, with
  // RocksDBOptions::midpoint_rollback_optimisation, when the `seq` entries above the boundary are
  // at least half of the vbucket's (kv_engine's rule: T / 2 <= D, T all entries, D those above;
  // prepares and tombstones count): the caller resets the vbucket instead. The status's message
  // says which. kInvalid when seqno is not below the persisted high seqno. Same writer rule as
  // Commit (the caller serialises it with the vbucket's flushes).
  virtual StatusOr<RollbackResult> Rollback(Vbid vbid, uint64_t seqno) = 0;

  // The clean-shutdown marker: set (synced) as the last write of a clean stop, cleared by the
  // engine at start (opening the store never touches it). Both writes are synced.
  virtual StatusOr<bool> HasCleanShutdownMarker() = 0;
  virtual Status SetCleanShutdownMarker(bool clean) = 0;

  virtual KVStoreStats GetStats() const = 0;

  // Flushes memtables and closes the database. Further calls fail. Idempotent (a second call
  // returns OK). Refused with kInternal, leaving the store open, while a SeqnoScan is alive. The
  // store is closed whatever else happens; an error means the final WAL sync or flush failed
  // (what reached the WAL is replayed at the next open).
  virtual Status Close() = 0;
};

struct RocksDBOptions {
  uint64_t block_cache_size = 64ULL << 20;   // one LRU cache shared by `seq` and `key`
  uint64_t write_buffer_size = 64ULL << 20;  // per memtable; all memtables together <= 2x this
  bool read_only = false;                    // for tools that read a data dir (bench raw scan)
  // The rollback history ("History" above): kept while either bound allows it (0 = no bound of
  // that kind); both 0 = no history. Bytes are for the whole store.
  uint64_t history_retention_seconds = 0;
  uint64_t history_retention_bytes = 0;
  // kv_engine's couchstore_midpoint_rollback_optimisation: a Rollback() that would remove at
  // least half of the vbucket's `seq` entries is refused (kNotFound) so that the caller resets
  // the vbucket instead. The engine sets it from its config (on by default, as kv_engine).
  bool midpoint_rollback_optimisation = false;
  // Test seam: the history's clock (unix seconds); null = the system clock.
  std::function<uint64_t()> history_clock;
  // Test seam: a RocksDB Env (e.g. one that fails writes with "no space") used instead of the
  // default one. Not owned; must outlive the store. Production code leaves it null.
  rocksdb::Env* env = nullptr;
};

// Opens the RocksDB store in `dir`, creating the directory (and its parents) and the database if
// needed. With options.read_only, opens an existing database read-only (RocksDB's
// OpenForReadOnly: nothing is written in `dir`, no LOCK is taken, so it works beside a running
// writer; writes return kNotSupported); a missing one is kIoError. Opening for writing a database
// that another store (or process) has open for writing is kIoError.
StatusOr<std::unique_ptr<KVStore>> OpenRocksDBKVStore(const std::string& dir,
                                                      const RocksDBOptions& options);

}  // namespace sluice::storage
