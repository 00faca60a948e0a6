#include "storage/rocksdb_key_order_scan.h"

#include <algorithm>

#include "storage/disk_format.h"
#include "storage/rocksdb_status.h"

namespace sluice::storage {

RocksDBKeyOrderScan::RocksDBKeyOrderScan(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* seq_cf,
                                         rocksdb::ColumnFamilyHandle* key_cf,
                                         const rocksdb::Snapshot* snapshot, ScanCounters* counters,
                                         Vbid vbid, uint64_t start, uint64_t end,
                                         ScanOptions options, VBucketStateRecord state)
    : db_(db),
      seq_cf_(seq_cf),
      key_cf_(key_cf),
      snapshot_(snapshot),
      counters_(counters),
      vbid_(vbid),
      start_(start),
      end_(end),
      options_(options),
      state_(std::move(state)) {
  counters_->open.fetch_add(1, std::memory_order_relaxed);
  done_ = std::max<uint64_t>(start_, 1) > end_;
}

RocksDBKeyOrderScan::~RocksDBKeyOrderScan() {
  iter_.reset();  // an iterator must not outlive the snapshot it reads
  db_->ReleaseSnapshot(snapshot_);
  counters_->open.fetch_sub(1, std::memory_order_relaxed);
}

uint64_t RocksDBKeyOrderScan::EstimateCount() const {
  const uint64_t first = std::max<uint64_t>(start_, 1);
  return first > end_ ? 0 : end_ - first + 1;
}

void RocksDBKeyOrderScan::StartIterator() {
  rocksdb::ReadOptions read;
  read.snapshot = snapshot_;
  read.fill_cache = false;
  // vbid 0xffff has no prefix end; the loop's prefix check stops the walk then.
  if (std::optional<std::string> end = VBucketPrefixEnd(vbid_)) {
    upper_bound_ = std::move(*end);
    upper_bound_slice_ = rocksdb::Slice(upper_bound_);
    read.iterate_upper_bound = &upper_bound_slice_;
  }
  iter_.reset(db_->NewIterator(read, key_cf_));
  iter_->Seek(VBucketPrefix(vbid_));
}

Status RocksDBKeyOrderScan::Fail(Status status) {
  error_ = std::move(status);
  iter_.reset();
  return error_;
}

StatusOr<bool> RocksDBKeyOrderScan::ReadCurrent(rocksdb::PinnableSlice* value, DiskDocView* doc) {
  ASSIGN_OR_RETURN(KeyEntry entry,
                   DecodeKeyEntry(std::string_view(iter_->value().data(), iter_->value().size())));
  if (entry.seqno < start_ || entry.seqno > end_) return false;
  if (entry.deleted && options_.skip_deleted) return false;
  rocksdb::ReadOptions read;
  read.snapshot = snapshot_;
  read.fill_cache = false;
  value->Reset();
  const rocksdb::Status s = db_->Get(read, seq_cf_, SeqKey(vbid_, entry.seqno), value);
  if (!s.ok()) {
    if (s.IsNotFound()) return Status(Errc::kCorruption, "key entry points at a missing document");
    return FromRocksDB(s, "key-order scan: document");
  }
  RETURN_IF_ERROR(
      DecodeDocView(std::string_view(value->data(), value->size()), options_.key_only, doc));
  doc->vbid = vbid_;
  doc->seqno = entry.seqno;
  return true;
}

Status RocksDBKeyOrderScan::ScanViews(const std::function<ScanControl(const DiskDocView&)>& fn,
                                      bool* done) {
  *done = false;
  if (!error_.ok()) return error_;
  if (done_) {
    *done = true;
    return Status::Ok();
  }
  if (!iter_) {
    StartIterator();
  } else if (step_on_resume_) {
    iter_->Next();
  }
  step_on_resume_ = false;
  const std::string prefix = VBucketPrefix(vbid_);
  rocksdb::PinnableSlice value;  // the current document's bytes (the view passed to fn)
  for (; iter_->Valid(); iter_->Next()) {
    if (!std::string_view(iter_->key().data(), iter_->key().size()).starts_with(prefix)) break;
    DiskDocView doc;
    StatusOr<bool> in_range = ReadCurrent(&value, &doc);
    if (!in_range.ok()) return Fail(in_range.status());
    if (!*in_range) continue;
    last_seqno_ = doc.seqno;
    counters_->docs.fetch_add(1, std::memory_order_relaxed);
    if (fn(doc) == ScanControl::kYield) {
      step_on_resume_ = true;
      return Status::Ok();
    }
  }
  if (!iter_->status().ok()) return Fail(FromRocksDB(iter_->status(), "key-order scan"));
  iter_.reset();
  done_ = true;
  *done = true;
  return Status::Ok();
}

}  // namespace sluice::storage
