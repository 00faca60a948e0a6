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

StatusOr<std::optional<DiskDoc>> RocksDBKeyOrderScan::ReadCurrent() {
  ASSIGN_OR_RETURN(KeyEntry entry,
                   DecodeKeyEntry(std::string_view(iter_->value().data(), iter_->value().size())));
  if (entry.seqno < start_ || entry.seqno > end_) return std::optional<DiskDoc>();
  if (entry.deleted && options_.skip_deleted) return std::optional<DiskDoc>();
  rocksdb::ReadOptions read;
  read.snapshot = snapshot_;
  read.fill_cache = false;
  rocksdb::PinnableSlice value;
  const rocksdb::Status s = db_->Get(read, seq_cf_, SeqKey(vbid_, entry.seqno), &value);
  if (!s.ok()) {
    if (s.IsNotFound()) return Status(Errc::kCorruption, "key entry points at a missing document");
    return FromRocksDB(s, "key-order scan: document");
  }
  DiskDoc doc;
  RETURN_IF_ERROR(DecodeDoc(std::string_view(value.data(), value.size()), options_.key_only, &doc));
  doc.vbid = vbid_;
  doc.seqno = entry.seqno;
  return std::optional<DiskDoc>(std::move(doc));
}

Status RocksDBKeyOrderScan::Scan(const std::function<ScanControl(DiskDoc&&)>& fn, bool* done) {
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
  for (; iter_->Valid(); iter_->Next()) {
    if (!std::string_view(iter_->key().data(), iter_->key().size()).starts_with(prefix)) break;
    StatusOr<std::optional<DiskDoc>> doc = ReadCurrent();
    if (!doc.ok()) return Fail(doc.status());
    if (!doc->has_value()) continue;
    last_seqno_ = (*doc)->seqno;
    counters_->docs.fetch_add(1, std::memory_order_relaxed);
    if (fn(std::move(**doc)) == ScanControl::kYield) {
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
