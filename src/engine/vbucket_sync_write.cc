// File: engine/vbucket_sync_write.cc
//
// VBucket's SyncWrites (see vbucket.h, "SyncWrites"): prepares, their commit or abort, and the
// calls into the active durability monitor.
#include "common/logging.h"
#include "engine/vbucket.h"

namespace sluice::engine {

Status VBucket::CheckNoPrepareLocked(const HashTable::KeyLock& /*lock*/,
                                     std::string_view key) const {
  if (num_prepares_.load(std::memory_order_relaxed) == 0) return Status::Ok();
  MutexLock lock(&prepare_mu_);
  if (prepares_.find(key) != prepares_.end()) return Errc::kSyncWriteInProgress;
  return Status::Ok();
}

Status VBucket::CheckSyncWritePossible(const SyncWriteSpec* sync) const {
  if (sync == nullptr || adm_.DurabilityPossible()) return Status::Ok();
  return Status(Errc::kDurabilityImpossible, "the topology cannot reach a majority");
}

uint64_t VBucket::QueuePrepareLocked(const HashTable::KeyLock& /*lock*/, std::string_view key,
                                     StoredValue sv, bool deleted, const PreLinkFn* pre_link,
                                     const SyncWriteSpec& sync) {
  std::shared_ptr<Item> item = MakeItem(key, sv, deleted);
  item->sync_op = SyncOp::kPrepare;
  item->durability_level = static_cast<uint8_t>(sync.level);
  const uint64_t seqno = QueueItem(std::move(item), &sv, pre_link);
  sv.by_seqno = seqno;
  sv.deleted = deleted;
  sv.dirty = true;
  sv.resident = true;
  MutexLock lock(&prepare_mu_);
  prepares_[std::string(key)] = PendingPrepare{std::move(sv), deleted, seqno, sync.level};
  CountPreparesLocked();
  adm_.Add(seqno, std::string(key), sync.level, ctx_.clock->Now() + sync.timeout, sync.waiter);
  return seqno;
}

void VBucket::DropPrepareLocked(const HashTable::KeyLock& /*lock*/, std::string_view key) {
  if (num_prepares_.load(std::memory_order_relaxed) == 0) return;
  MutexLock plock(&prepare_mu_);
  auto it = prepares_.find(key);
  if (it == prepares_.end()) return;
  prepares_.erase(it);
  CountPreparesLocked();
}

std::optional<VBucket::PendingPrepare> VBucket::TakePrepareLocked(
    const HashTable::KeyLock& /*lock*/, std::string_view key, uint64_t seqno) {
  MutexLock plock(&prepare_mu_);
  auto it = prepares_.find(key);
  if (it == prepares_.end() || it->second.seqno != seqno) return std::nullopt;
  PendingPrepare p = std::move(it->second);
  prepares_.erase(it);
  CountPreparesLocked();
  return p;
}

uint64_t VBucket::CommitPrepare(std::string_view key, uint64_t prepare_seqno) {
  HashTable::KeyLock lock(ht_, key);
  std::optional<PendingPrepare> taken = TakePrepareLocked(lock, key, prepare_seqno);
  if (!taken) return 0;
  PendingPrepare& p = *taken;
  std::shared_ptr<Item> item = MakeItem(key, p.sv, p.deleted);
  item->sync_op = SyncOp::kCommit;
  item->prepared_seqno = prepare_seqno;
  return QueueItemLocked(lock, key, std::move(item), std::move(p.sv), p.deleted, nullptr);
}

uint64_t VBucket::AbortPrepare(std::string_view key, uint64_t prepare_seqno) {
  HashTable::KeyLock lock(ht_, key);
  if (!TakePrepareLocked(lock, key, prepare_seqno)) return 0;
  auto item = std::make_shared<Item>();
  item->vbid = id_;
  item->key.assign(key);
  item->cas = hlc_.NextCas();
  item->deleted = true;
  item->expiry = Now();
  item->sync_op = SyncOp::kAbort;
  item->prepared_seqno = prepare_seqno;
  return checkpoints_.Queue(std::move(item));
}

void VBucket::SyncWriteQueued() {
  ctx_.listener->OnSyncWriteTracked(*this);
  CommitSatisfied();
}

void VBucket::CommitSatisfied() { Complete(adm_.TakeCommittable()); }

void VBucket::Complete(std::vector<SyncWriteResolution> resolutions) {
  uint64_t last = 0;
  for (SyncWriteResolution& r : resolutions) {
    const bool commit = r.kind == SyncWriteResolution::Kind::kCommit;
    const uint64_t seqno = commit ? CommitPrepare(r.key, r.seqno) : AbortPrepare(r.key, r.seqno);
    if (seqno == 0) {
      LOG_WARN("vb:{} prepare {} resolved but no longer in flight", id_, r.seqno);
    }
    last = std::max(last, seqno);
    if (auto w = r.waiter.lock()) {
      w->NotifyIoComplete(commit ? Status::Ok()
                                 : Status(Errc::kSyncWriteAmbiguous, "durability timeout"));
    }
  }
  NotifyQueued(last);
}

Status VBucket::SeqnoAcknowledged(const std::string& node, uint64_t seqno) {
  ReaderLock state(&state_lock_);
  RETURN_IF_ERROR(CheckActive());
  adm_.SeqnoAck(node, seqno);
  CommitSatisfied();
  return Status::Ok();
}

bool VBucket::ProcessDurabilityTimeouts(SteadyTime now) {
  ReaderLock state(&state_lock_);
  if (!CheckActive().ok()) return false;
  Complete(adm_.TakeTimedOut(now));
  return adm_.NumTracked() != 0;
}

size_t VBucket::NumPreparesInFlight() const {
  MutexLock lock(&prepare_mu_);
  return prepares_.size();
}

void VBucket::TrackPreparesInFlight() {
  MutexLock lock(&prepare_mu_);
  for (const auto& [key, p] : prepares_) {
    adm_.Add(p.seqno, key, p.level, std::nullopt, Waiter());
  }
}

void VBucket::WarmupLoadPrepare(storage::DiskDoc&& doc) {
  PendingPrepare p;
  p.sv.value = doc.value.empty() ? BlobPtr() : Blob::Make(doc.value);
  p.sv.cas = doc.cas;
  p.sv.by_seqno = doc.seqno;
  p.sv.rev_seqno = doc.rev_seqno;
  p.sv.flags = doc.flags;
  p.sv.expiry = doc.expiry;
  p.sv.datatype = doc.datatype;
  p.sv.deleted = doc.deleted;
  p.sv.delete_source = doc.delete_source;
  p.deleted = doc.deleted;
  p.seqno = doc.seqno;
  p.level = doc.durability_level >= 1 && doc.durability_level <= 3
                ? static_cast<SyncWriteLevel>(doc.durability_level)
                : SyncWriteLevel::kMajority;
  MutexLock lock(&prepare_mu_);
  prepares_[doc.key] = std::move(p);
  CountPreparesLocked();
}

void VBucket::WarmupComplete() {
  ReaderLock state(&state_lock_);
  if (!CheckActive().ok()) return;
  TrackPreparesInFlight();
  CommitSatisfied();
}

}  // namespace sluice::engine
