// File: storage/rocksdb_key_order_scan.h
//
// RocksDBKeyOrderScan: the SeqnoScan of RocksDBKVStore for ScanOptions::key_order (internal to
// storage/): one vbucket's documents with start <= seqno <= end in key order, for a DCP
// out-of-order (OSO) backfill. It walks the `key` column family of its snapshot (vbid + key ->
// seqno + deleted bit: the latest version of every key) and reads each document from `seq` with a
// point lookup in the same snapshot, so the result is exactly the set an in-order scan of the
// snapshot yields, in another order. A point lookup per document makes it slower than the seqno
// scan; kv_engine chooses OSO where it saves work elsewhere (a small collection); a consumer asks
// for it with the control enable_out_of_order_snapshots.
//
// Ownership and threading as RocksDBSeqnoScan (rocksdb_seqno_scan.h): created by the store, owns
// its snapshot, holds the DB and the counters by raw pointer; one thread at a time.
#pragma once

#include <rocksdb/db.h>

#include <cstdint>
#include <memory>
#include <string>

#include "storage/kvstore.h"
#include "storage/rocksdb_seqno_scan.h"

namespace sluice::storage {

class RocksDBKeyOrderScan final : public SeqnoScan {
 public:
  // Takes ownership of `snapshot`. `end` is already clamped to state.high_seqno.
  RocksDBKeyOrderScan(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* seq_cf,
                      rocksdb::ColumnFamilyHandle* key_cf, const rocksdb::Snapshot* snapshot,
                      ScanCounters* counters, Vbid vbid, uint64_t start, uint64_t end,
                      ScanOptions options, VBucketStateRecord state);
  ~RocksDBKeyOrderScan() override;
  RocksDBKeyOrderScan(const RocksDBKeyOrderScan&) = delete;
  RocksDBKeyOrderScan& operator=(const RocksDBKeyOrderScan&) = delete;

  const VBucketStateRecord& state() const override { return state_; }
  uint64_t EstimateCount() const override;
  Status ScanViews(const std::function<ScanControl(const DiskDocView&)>& fn, bool* done) override;
  // The seqno of the last document delivered (not the highest: the order is by key).
  uint64_t last_seqno() const override { return last_seqno_; }

 private:
  void StartIterator();
  // The document of the `key` entry the iterator is on, read into *value and decoded as a view of
  // it into *doc; false if it is out of range (skip it).
  StatusOr<bool> ReadCurrent(rocksdb::PinnableSlice* value, DiskDocView* doc);
  Status Fail(Status status);

  // ---- Constant after construction ----
  rocksdb::DB* const db_;
  rocksdb::ColumnFamilyHandle* const seq_cf_;
  rocksdb::ColumnFamilyHandle* const key_cf_;
  const rocksdb::Snapshot* const snapshot_;  // owned
  ScanCounters* const counters_;
  const Vbid vbid_;
  const uint64_t start_;
  const uint64_t end_;
  const ScanOptions options_;
  const VBucketStateRecord state_;

  // ---- Scan progress (one thread at a time) ----
  std::string upper_bound_;  // outlives iter_ (iterate_upper_bound points into it)
  rocksdb::Slice upper_bound_slice_;
  std::unique_ptr<rocksdb::Iterator> iter_;
  bool step_on_resume_ = false;
  bool done_ = false;
  Status error_;
  uint64_t last_seqno_ = 0;
};

}  // namespace sluice::storage
