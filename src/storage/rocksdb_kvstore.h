// File: storage/rocksdb_kvstore.h
//
// RocksDBKVStore: the KVStore on one RocksDB database with the column families `seq`, `key` and
// `local` (kvstore.h has the layout and invariants, disk_format.h the bytes, rocksdb_options.h
// the tuning). Users get it through OpenRocksDBKVStore(); this header is internal to storage/.
//
// How the invariants are kept:
//   One entry per key: Commit() builds one rocksdb::WriteBatch for the whole FlushBatch. It keeps
//     only the last version of each (vbid, key) in the batch and deletes the `seq` entry of each
//     such key's previous version, then puts the new `seq` and `key` entries (all deletes before
//     all puts, so a delete never hides a put of the same batch). Where the previous version is
//     comes from the caller (DiskDoc::previous_seqno, which the engine tracks per key); only the
//     keys it marks unknown are looked up, with one MultiGet on `key` (none when every key is
//     known, the usual case). Because writes to one vbucket are serialised by the caller, nothing
//     can change a key's `key` entry between that MultiGet and the write.
//   State with its documents: the FlushBatch's state records go into the same WriteBatch.
//   One snapshot per scan: OpenSeqnoScan() takes a snapshot first and reads the state record
//     from it.
//
// Ownership: returned to the caller as unique_ptr<KVStore>. It owns the DB, its column family
// handles and the block cache. Scans point at the DB (see rocksdb_seqno_scan.h); Close() refuses
// while any is alive, and destroying the store with a live scan is a fatal bug (abort).
//
// Thread safety: thread-safe under KVStore's rules. Counters are atomics; Close() is serialised
// by close_mu_; the DB pointer is constant from Open() until Close(), which (KVStore's rule "Close
// last") never races other calls.
#pragma once

#include <rocksdb/db.h>

#include <atomic>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/mutex.h"
#include "storage/kvstore.h"
#include "storage/rocksdb_history.h"
#include "storage/rocksdb_seqno_scan.h"

namespace sluice::storage {

class RocksDBKVStore final : public KVStore {
 public:
  static StatusOr<std::unique_ptr<RocksDBKVStore>> Open(const std::string& dir,
                                                        const RocksDBOptions& options);
  ~RocksDBKVStore() override;
  RocksDBKVStore(const RocksDBKVStore&) = delete;
  RocksDBKVStore& operator=(const RocksDBKVStore&) = delete;

  Status Commit(const FlushBatch& batch, bool sync) override;
  StatusOr<DiskDoc> Get(Vbid vbid, std::string_view key) override;
  StatusOr<DiskDoc> GetAtSeqno(Vbid vbid, uint64_t seqno, std::string_view key) override;
  StatusOr<std::map<Vbid, VBucketStateRecord>> LoadVBucketStates() override;
  Status SaveVBucketState(Vbid vbid, const VBucketStateRecord& state, bool sync) override;
  StatusOr<std::unique_ptr<SeqnoScan>> OpenSeqnoScan(Vbid vbid, uint64_t start, uint64_t end,
                                                     ScanOptions options) override;
  Status DeleteVBucket(Vbid vbid) override;
  StatusOr<RollbackResult> Rollback(Vbid vbid, uint64_t seqno) override;
  StatusOr<bool> HasCleanShutdownMarker() override;
  Status SetCleanShutdownMarker(bool clean) override;
  KVStoreStats GetStats() const override;
  Status Close() override;

 private:
  RocksDBKVStore(std::string dir, bool read_only, std::shared_ptr<rocksdb::Cache> block_cache,
                 std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> handles,
                 RocksDBHistory::Options history, bool midpoint_rollback);
  // A key replaced (or a prepare resolved) by this commit whose older version is on disk.
  struct Replaced {
    Vbid vbid;
    uint64_t old_seqno;
    uint64_t at;  // the replacing write's seqno
    bool prepare;
  };
  // Adds to *wb the history of a commit: the replaced versions (read from `seq`) and a boundary
  // per vbucket the batch writes.
  Status AddHistory(const FlushBatch& batch, const std::vector<Replaced>& replaced,
                    rocksdb::WriteBatch* wb, RocksDBHistory::Pending* pending);
  // Rollback's batch: `seq` above the boundary removed, `key` entries fixed, versions restored.
  Status RollbackDocs(Vbid vbid, uint64_t boundary, rocksdb::WriteBatch* wb,
                      RollbackResult* result);
  // The number of vbid's `seq` entries at or below `seqno`, counting no further than `limit`.
  StatusOr<uint64_t> CountSeqEntries(Vbid vbid, uint64_t seqno, uint64_t limit);

  // kCancelled once closed.
  Status CheckOpen() const;
  // CheckOpen(), then kNotSupported on a read-only store.
  Status CheckWritable() const;
  // Writes `batch` (the only write path). After a failed write, first asks RocksDB to resume
  // from its background error (a full disk stops all writes until resumed).
  Status Write(rocksdb::WriteBatch* batch, bool sync, std::string_view context);
  // Adds the deletion of every `key` entry of vbid to *batch.
  Status DeleteKeyEntries(Vbid vbid, rocksdb::WriteBatch* batch);
  // Deletes the persisted prepare (its `seq` document and `key` entry) of every prepare key in
  // `removed` (prepare key -> the resolving seqno), where there is one.
  Status RemovePrepares(const std::unordered_map<std::string, uint64_t>& removed,
                        rocksdb::WriteBatch* wb, std::vector<Replaced>* replaced);
  // Reads a key's document at `snapshot` (null: the latest state). Sets *moved when the key's
  // `key` entry points at a `seq` entry that is not there — without a snapshot, a concurrent
  // commit moving the key; with one, corruption.
  Status GetAt(const rocksdb::Snapshot* snapshot, Vbid vbid, std::string_view key, DiskDoc* doc,
               bool* moved);
  uint64_t DiskSize() const;

  // ---- Constant after construction ----
  const std::string dir_;
  const bool read_only_;
  const std::shared_ptr<rocksdb::Cache> block_cache_;  // shared with the table factories
  const bool midpoint_rollback_;  // RocksDBOptions::midpoint_rollback_optimisation

  // ---- Set by Open(), released by Close() (which never races other calls) ----
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // default, seq, key, local, history
  rocksdb::ColumnFamilyHandle* const seq_cf_;          // these four point into handles_
  rocksdb::ColumnFamilyHandle* const key_cf_;
  rocksdb::ColumnFamilyHandle* const local_cf_;
  rocksdb::ColumnFamilyHandle* const history_cf_;
  RocksDBHistory history_;  // its per-vbucket parts follow KVStore's writer rule

  // ---- Protected by close_mu_ ----
  Mutex close_mu_;
  bool close_done_ GUARDED_BY(close_mu_) = false;

  // ---- Atomics (lock-free: read on every call, or plain counters) ----
  std::atomic<bool> closed_{false};
  std::atomic<bool> write_failed_{false};  // the last write failed: Resume() before the next
  ScanCounters scan_counters_;             // updated by the scans themselves
  std::atomic<uint64_t> commits_{0};
  std::atomic<uint64_t> commit_failures_{0};
  std::atomic<uint64_t> docs_written_{0};
  std::atomic<uint64_t> bytes_written_{0};
  std::atomic<uint64_t> gets_{0};
  std::atomic<uint64_t> scans_opened_{0};
};

}  // namespace sluice::storage
