// The replica side of VBucket: applying what a DCP producer sent, with the producer's metadata
// (the contract is on the declarations in vbucket.h, "replication").
//
// A replica never generates a seqno, a CAS or a rev seqno of its own: the item keeps the
// producer's, the checkpoint takes its seqno as the new high seqno (gaps are deduplicated
// versions), the HLC only moves up to the CAS seen (so a promoted replica's CAS stays above every
// CAS it holds). Expiry is not applied locally (the pagers and readers skip replicas): the
// producer sends the expiration.
#include <fmt/format.h>

#include "common/logging.h"
#include "engine/vbucket.h"

namespace sluice::engine {
namespace {

bool AcceptsReplication(VBucketState state) {
  return state == VBucketState::kReplica || state == VBucketState::kPending;
}

}  // namespace

Status VBucket::ApplySnapshotMarker(uint64_t start, uint64_t end, bool new_checkpoint) {
  if (start > end) return Status(Errc::kRange, "snapshot start above its end");
  ReaderLock state(&state_lock_);
  if (!AcceptsReplication(state_.load(std::memory_order_relaxed))) return Errc::kNotMyVbucket;
  if (new_checkpoint) {
    checkpoints_.CreateSnapshot(start, end);
  } else {
    checkpoints_.ExtendSnapshot(end);
  }
  MutexLock lock(&replica_mu_);
  if (new_checkpoint) replica_snap_start_ = start;  // an extension keeps the open one's start
  replica_snap_end_ = end;
  return Status::Ok();
}

Status VBucket::ApplyReplicated(const ReplicatedItem& in) {
  // Copy the value before taking any lock.
  BlobPtr value = in.value.empty() ? BlobPtr() : Blob::Make(in.value);
  ReaderLock state(&state_lock_);
  if (!AcceptsReplication(state_.load(std::memory_order_relaxed))) return Errc::kNotMyVbucket;
  hlc_.ForceAtLeast(in.cas);
  {
    HashTable::KeyLock lock(ht_, in.key);
    const StoredValue* old = ht_.Find(lock, in.key);
    const bool existed = old != nullptr && !old->deleted;
    StoredValue sv;
    sv.value = std::move(value);
    sv.cas = in.cas;
    sv.rev_seqno = in.rev_seqno;
    sv.flags = in.flags;
    sv.expiry = in.expiry;
    sv.datatype = in.datatype;
    sv.delete_source = in.delete_source;
    sv.resident = true;
    std::shared_ptr<Item> item = MakeItem(in.key, sv, in.deleted);
    item->by_seqno = in.seqno;
    if (!checkpoints_.QueueWithSeqno(std::move(item))) {
      return Status(Errc::kRange, fmt::format("seqno {} not above the high seqno {}", in.seqno,
                                              checkpoints_.GetHighSeqno()));
    }
    if (in.deleted) {
      NoteDeletedRev(in.rev_seqno);
      ops_delete_.fetch_add(1, std::memory_order_relaxed);
    } else {
      (existed ? ops_update_ : ops_create_).fetch_add(1, std::memory_order_relaxed);
    }
    sv.by_seqno = in.seqno;
    sv.deleted = in.deleted;
    sv.dirty = true;
    ht_.Upsert(lock, in.key, std::move(sv));
  }
  NotifyQueued(in.seqno);
  return Status::Ok();
}

ReplicaPosition VBucket::ReplicaResumePoint() const {
  ReplicaPosition p;
  p.high_seqno = checkpoints_.GetHighSeqno();
  p.uuid = p.high_seqno == 0 ? 0 : failover_.Latest().uuid;
  MutexLock lock(&replica_mu_);
  if (replica_snap_start_ <= p.high_seqno && p.high_seqno < replica_snap_end_) {
    p.snap_start = replica_snap_start_;  // inside a snapshot not yet received whole
    p.snap_end = replica_snap_end_;
  } else {
    p.snap_start = p.snap_end = p.high_seqno;
  }
  return p;
}

void VBucket::AdoptFailoverLog(std::vector<FailoverEntry> entries) {
  failover_.Replace(std::move(entries));
  ctx_.listener->OnQueued(*this, 0);  // the flusher persists the state record with the new log
}

void VBucket::MarkSnapshotWholeAtHigh() {
  const uint64_t high = checkpoints_.GetHighSeqno();
  MutexLock lock(&replica_mu_);
  replica_snap_start_ = replica_snap_end_ = high;
}

}  // namespace sluice::engine
