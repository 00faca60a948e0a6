#include "storage/rocksdb_seqno_scan.h"

#include <algorithm>
#include <limits>

#include "storage/disk_format.h"
#include "storage/rocksdb_status.h"

namespace sluice::storage {

RocksDBSeqnoScan::RocksDBSeqnoScan(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* seq_cf,
                                   const rocksdb::Snapshot* snapshot, ScanCounters* counters,
                                   Vbid vbid, uint64_t start, uint64_t end, ScanOptions options,
                                   VBucketStateRecord state)
    : db_(db),
      seq_cf_(seq_cf),
      snapshot_(snapshot),
      counters_(counters),
      vbid_(vbid),
      start_(start),
      end_(end),
      options_(options),
      state_(std::move(state)) {
  counters_->open.fetch_add(1, std::memory_order_relaxed);
  // Seqnos start at 1: nothing below it exists, so an empty range is known now.
  done_ = std::max<uint64_t>(start_, 1) > end_;
}

RocksDBSeqnoScan::~RocksDBSeqnoScan() {
  iter_.reset();  // an iterator must not outlive the snapshot it reads
  db_->ReleaseSnapshot(snapshot_);
  counters_->open.fetch_sub(1, std::memory_order_relaxed);
}

uint64_t RocksDBSeqnoScan::EstimateCount() const {
  const uint64_t first = std::max<uint64_t>(start_, 1);
  if (first > end_) return 0;
  return end_ - first + 1;  // first >= 1, so this cannot overflow
}

void RocksDBSeqnoScan::StartIterator() {
  // The tightest exclusive bound: the seq key after `end`, or the next vbucket's prefix when
  // `end` is the largest seqno. (vbid 0xffff with end 2^64-1 has no bound; the loop's own
  // vbid/seqno check stops it.)
  const bool has_bound =
      end_ < std::numeric_limits<uint64_t>::max() || VBucketPrefixEnd(vbid_).has_value();
  if (end_ < std::numeric_limits<uint64_t>::max()) {
    upper_bound_ = SeqKey(vbid_, end_ + 1);
  } else if (has_bound) {
    upper_bound_ = *VBucketPrefixEnd(vbid_);
  }
  upper_bound_slice_ = rocksdb::Slice(upper_bound_);

  rocksdb::ReadOptions read;
  read.snapshot = snapshot_;
  read.fill_cache = false;
  if (has_bound) read.iterate_upper_bound = &upper_bound_slice_;
  iter_.reset(db_->NewIterator(read, seq_cf_));
  iter_->Seek(SeqKey(vbid_, start_));
}

Status RocksDBSeqnoScan::ScanViews(const std::function<ScanControl(const DiskDocView&)>& fn,
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

  for (; iter_->Valid(); iter_->Next()) {
    Vbid vbid;
    uint64_t seqno;
    if (!DecodeSeqKey(std::string_view(iter_->key().data(), iter_->key().size()), &vbid, &seqno)) {
      error_ = Status(Errc::kCorruption, "seq: malformed key");
      iter_.reset();
      return error_;
    }
    if (vbid != vbid_ || seqno > end_) break;

    const std::string_view value(iter_->value().data(), iter_->value().size());
    if (options_.skip_deleted) {
      StatusOr<bool> deleted = DecodeDocDeleted(value);
      if (!deleted.ok()) {
        error_ = deleted.status();
        iter_.reset();
        return error_;
      }
      if (*deleted) continue;
    }
    DiskDocView doc;
    if (Status s = DecodeDocView(value, options_.key_only, &doc); !s.ok()) {
      error_ = std::move(s);
      iter_.reset();
      return error_;
    }
    if (doc.prepared && !options_.include_prepares) continue;
    doc.vbid = vbid;
    doc.seqno = seqno;
    last_seqno_ = seqno;
    counters_->docs.fetch_add(1, std::memory_order_relaxed);
    if (fn(doc) == ScanControl::kYield) {
      step_on_resume_ = true;
      return Status::Ok();
    }
  }

  if (!iter_->status().ok()) {
    error_ = FromRocksDB(iter_->status(), "seq scan");
    iter_.reset();
    return error_;
  }
  iter_.reset();
  done_ = true;
  *done = true;
  return Status::Ok();
}

}  // namespace sluice::storage
