// File: storage/rocksdb_seqno_scan.h
//
// RocksDBSeqnoScan: the SeqnoScan of RocksDBKVStore (internal to storage/). It owns a RocksDB
// snapshot, taken by the store before the vbucket's state record was read from it, and a forward
// iterator over the `seq` column family of that snapshot:
//
//   ReadOptions{snapshot, fill_cache = false, iterate_upper_bound = SeqKey(vb, end + 1)}
//   Seek(SeqKey(vb, start)) ... stop at the bound, at another vbucket, or past `end`
//
// fill_cache = false keeps a backfill from evicting the point-read working set from the block
// cache. The iterator is created on the first Scan() call and kept across yields (it stays
// positioned on the last delivered document; the next call steps past it). It is dropped once the
// range is exhausted or fails; the snapshot is released only by the destructor.
//
// Ownership: created by RocksDBKVStore::OpenSeqnoScan and handed to the caller (unique_ptr). It
// holds the DB and the store's scan counters by raw pointer: the store outlives every scan (the
// KVStore contract; the store refuses to close while a scan is alive).
//
// Thread safety: thread-compatible; one thread at a time (KVStore's rule for scans).
#pragma once

#include <rocksdb/db.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "storage/kvstore.h"

namespace sluice::storage {

// Scan counters kept by the store and updated by its scans.
struct ScanCounters {
  std::atomic<uint64_t> open{0};
  std::atomic<uint64_t> docs{0};
};

class RocksDBSeqnoScan final : public SeqnoScan {
 public:
  // Takes ownership of `snapshot` (released in the destructor). `state` was read from it.
  // `end` is already clamped to state.high_seqno by the caller.
  RocksDBSeqnoScan(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* seq_cf,
                   const rocksdb::Snapshot* snapshot, ScanCounters* counters, Vbid vbid,
                   uint64_t start, uint64_t end, ScanOptions options, VBucketStateRecord state);
  ~RocksDBSeqnoScan() override;
  RocksDBSeqnoScan(const RocksDBSeqnoScan&) = delete;
  RocksDBSeqnoScan& operator=(const RocksDBSeqnoScan&) = delete;

  const VBucketStateRecord& state() const override { return state_; }
  uint64_t EstimateCount() const override;
  Status ScanViews(const std::function<ScanControl(const DiskDocView&)>& fn, bool* done) override;
  uint64_t last_seqno() const override { return last_seqno_; }

 private:
  // Creates the iterator and seeks to the start of the range.
  void StartIterator();

  // ---- Constant after construction ----
  rocksdb::DB* const db_;                      // not owned; the store outlives the scan
  rocksdb::ColumnFamilyHandle* const seq_cf_;  // not owned; lives as long as db_
  const rocksdb::Snapshot* const snapshot_;    // owned; released in the destructor
  ScanCounters* const counters_;               // not owned; the store outlives the scan
  const Vbid vbid_;
  const uint64_t start_;
  const uint64_t end_;
  const ScanOptions options_;
  const VBucketStateRecord state_;

  // ---- Scan progress (one thread at a time) ----
  // iterate_upper_bound points into upper_bound_, so it must outlive iter_.
  std::string upper_bound_;
  rocksdb::Slice upper_bound_slice_;
  std::unique_ptr<rocksdb::Iterator> iter_;
  bool step_on_resume_ = false;  // iter_ is on the document delivered last
  bool done_ = false;
  Status error_;  // sticky: a failed scan keeps failing
  uint64_t last_seqno_ = 0;
};

}  // namespace sluice::storage
