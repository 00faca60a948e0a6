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

Status VBucket::ApplySnapshotMarker(uint64_t start, uint64_t end, bool new_checkpoint, bool disk) {
  if (start > end) return Status(Errc::kRange, "snapshot start above its end");
  ReaderLock state(&state_lock_);
  if (!IsReplicaState(state_.load(std::memory_order_relaxed))) return Errc::kNotMyVbucket;
  if (new_checkpoint) {
    checkpoints_.CreateSnapshot(start, end, disk);
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
  if (!IsReplicaState(state_.load(std::memory_order_relaxed))) return Errc::kNotMyVbucket;
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
    item->resolves_prepare = !CheckNoPrepareLocked(lock, in.key).ok();
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
    DropPrepareLocked(lock, in.key);  // resolved, if the key had one (see the declaration)
  }
  NotifyQueued(in.seqno);
  return Status::Ok();
}

namespace {

StoredValue ReplicatedValue(const ReplicatedItem& in) {
  StoredValue sv;
  sv.value = in.value.empty() ? BlobPtr() : Blob::Make(in.value);
  sv.cas = in.cas;
  sv.rev_seqno = in.rev_seqno;
  sv.flags = in.flags;
  sv.expiry = in.expiry;
  sv.datatype = in.datatype;
  sv.delete_source = in.delete_source;
  sv.resident = true;
  sv.deleted = in.deleted;
  sv.by_seqno = in.seqno;
  return sv;
}

Status NotAbove(uint64_t seqno, uint64_t high) {
  return Status(Errc::kRange, fmt::format("seqno {} not above the high seqno {}", seqno, high));
}

}  // namespace

Status VBucket::ApplyReplicatedPrepare(const ReplicatedItem& in, SyncWriteLevel level) {
  StoredValue sv = ReplicatedValue(in);  // the value copied before taking any lock
  ReaderLock state(&state_lock_);
  if (!IsReplicaState(state_.load(std::memory_order_relaxed))) return Errc::kNotMyVbucket;
  hlc_.ForceAtLeast(in.cas);
  {
    HashTable::KeyLock lock(ht_, in.key);
    std::shared_ptr<Item> item = MakeItem(in.key, sv, in.deleted);
    item->by_seqno = in.seqno;
    item->sync_op = SyncOp::kPrepare;
    item->durability_level = static_cast<uint8_t>(level);
    if (!checkpoints_.QueueWithSeqno(std::move(item))) {
      return NotAbove(in.seqno, checkpoints_.GetHighSeqno());
    }
    sv.dirty = true;
    MutexLock plock(&prepare_mu_);
    prepares_[std::string(in.key)] = PendingPrepare{std::move(sv), in.deleted, in.seqno, level};
    CountPreparesLocked();
  }
  // Before the flusher can be told (NotifyQueued): its flush of this prepare must be synced.
  if (level == SyncWriteLevel::kPersistToMajority) {
    replica_sync_wanted_.store(in.seqno, std::memory_order_release);
  }
  NotifyQueued(in.seqno);
  return Status::Ok();
}

Status VBucket::ApplyReplicatedCommit(std::string_view key, uint64_t prepared_seqno,
                                      uint64_t commit_seqno) {
  ReaderLock state(&state_lock_);
  if (!IsReplicaState(state_.load(std::memory_order_relaxed))) return Errc::kNotMyVbucket;
  {
    HashTable::KeyLock lock(ht_, key);
    if (commit_seqno <= checkpoints_.GetHighSeqno()) {
      return NotAbove(commit_seqno, checkpoints_.GetHighSeqno());
    }
    std::optional<PendingPrepare> p = TakePrepareLocked(lock, key, prepared_seqno);
    if (!p) return Status(Errc::kNotFound, fmt::format("no prepare {} of the key", prepared_seqno));
    const StoredValue* old = ht_.Find(lock, key);
    const bool existed = old != nullptr && !old->deleted;
    std::shared_ptr<Item> item = MakeItem(key, p->sv, p->deleted);
    item->by_seqno = commit_seqno;
    item->sync_op = SyncOp::kCommit;
    item->prepared_seqno = prepared_seqno;
    checkpoints_.QueueWithSeqno(std::move(item));
    if (p->deleted) {
      NoteDeletedRev(p->sv.rev_seqno);
      ops_delete_.fetch_add(1, std::memory_order_relaxed);
    } else {
      (existed ? ops_update_ : ops_create_).fetch_add(1, std::memory_order_relaxed);
    }
    StoredValue sv = std::move(p->sv);
    sv.by_seqno = commit_seqno;
    sv.deleted = p->deleted;
    sv.dirty = true;
    ht_.Upsert(lock, key, std::move(sv));
  }
  NotifyQueued(commit_seqno);
  return Status::Ok();
}

Status VBucket::ApplyReplicatedAbort(std::string_view key, uint64_t prepared_seqno,
                                     uint64_t abort_seqno) {
  ReaderLock state(&state_lock_);
  if (!IsReplicaState(state_.load(std::memory_order_relaxed))) return Errc::kNotMyVbucket;
  {
    HashTable::KeyLock lock(ht_, key);
    auto item = std::make_shared<Item>();
    item->vbid = id_;
    item->key.assign(key);
    item->deleted = true;
    item->by_seqno = abort_seqno;
    item->sync_op = SyncOp::kAbort;
    item->prepared_seqno = prepared_seqno;
    if (!checkpoints_.QueueWithSeqno(std::move(item))) {
      return NotAbove(abort_seqno, checkpoints_.GetHighSeqno());
    }
    TakePrepareLocked(lock, key, prepared_seqno);
  }
  NotifyQueued(abort_seqno);
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
