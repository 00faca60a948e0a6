// Bucket operations of a replica (the contract is on the declarations in bucket.h).
#include "common/logging.h"
#include "engine/bucket.h"

namespace sluice::engine {

StatusOr<std::shared_ptr<VBucket>> Bucket::ResetVBucket(Vbid vbid) {
  if (vbid >= vbuckets_.size()) return Errc::kNotMyVbucket;
  std::shared_ptr<VBucket> old;  // released after the locks: its destructor frees its memory
  std::shared_ptr<VBucket> fresh;
  Status result;
  MutexLock lock(&lifecycle_mu_);
  // Under the flush lock, so no commit writes the old vbucket back after its data was removed.
  flusher_for(vbid).WithFlushLock([&] {
    old = vbuckets_.Get(vbid);
    // Checked under lifecycle_mu_, which every state change takes: it cannot become active now.
    if (old == nullptr ||
        (old->state() != VBucketState::kReplica && old->state() != VBucketState::kPending)) {
      result = Errc::kNotMyVbucket;
      return;
    }
    result = store_->DeleteVBucket(vbid);
    if (!result.ok()) return;
    storage::VBucketStateRecord rec;
    rec.state = old->state();
    fresh = MakeVBucket(vbid, rec);
    fresh->set_rollback_resets(old->rollback_resets() + 1);
    // Everything it held is undone (kv_engine counts the old high seqno too).
    fresh->set_rollback_item_count(old->rollback_item_count() + old->high_seqno());
    vbuckets_.Set(vbid, fresh);
    // The empty vbucket's record at once, so a crash now does not lose the vbucket (if this
    // fails, the flush queued below writes it).
    rec.failover = fresh->failover_table().Entries();
    if (Status s = store_->SaveVBucketState(vbid, rec, /*sync=*/true); !s.ok()) {
      LOG_WARN("vb:{} reset: state record not saved yet: {}", vbid, s.ToString());
    }
  });
  RETURN_IF_ERROR(result);
  config_revision_.fetch_add(1, std::memory_order_relaxed);
  stats_.rollback_count.fetch_add(1, std::memory_order_relaxed);
  stats_.rollback_resets.fetch_add(1, std::memory_order_relaxed);
  stats_.rollback_item_count.fetch_add(old->high_seqno(), std::memory_order_relaxed);
  LOG_WARN("vb:{} reset: emptied (was at seqno {}) to be copied again from 0", vbid,
           old->high_seqno());
  if (SeqnoListener* l = seqno_listener_.load(std::memory_order_acquire)) {
    l->OnVBucketStateChanged(vbid, fresh->state(), /*deleted=*/true);
  }
  OnQueued(*fresh, 0);  // persist the new vbucket's state record
  NotifyStateObservers();
  return fresh;
}

StatusOr<VBucketRollback> Bucket::RollbackVBucket(Vbid vbid, uint64_t seqno) {
  if (vbid >= vbuckets_.size()) return Errc::kNotMyVbucket;
  std::shared_ptr<VBucket> old;  // released after the locks: its destructor frees its memory
  VBucketRollback out;
  Status result;
  MutexLock lock(&lifecycle_mu_);
  // Under the flush lock: no commit of this vbucket runs while its disk is rolled back and read.
  flusher_for(vbid).WithFlushLock([&] {
    old = vbuckets_.Get(vbid);
    if (old == nullptr ||
        (old->state() != VBucketState::kReplica && old->state() != VBucketState::kPending)) {
      result = Errc::kNotMyVbucket;
      return;
    }
    // What is only in memory goes with the old vbucket (the producer sends it again); the disk
    // is rolled back only if it holds something above `seqno`.
    storage::VBucketStateRecord state;
    if (seqno < old->persisted_seqno()) {
      StatusOr<storage::RollbackResult> rolled = store_->Rollback(vbid, seqno);
      if (!rolled.ok()) {
        result = rolled.status();
        return;
      }
      out.seqno = rolled->seqno;
      out.items_rolled_back = rolled->items_rolled_back;
      state = std::move(rolled->state);
    } else {
      StatusOr<std::map<Vbid, storage::VBucketStateRecord>> states = store_->LoadVBucketStates();
      if (!states.ok()) {
        result = states.status();
        return;
      }
      auto it = states->find(vbid);
      if (it != states->end()) state = it->second;
      out.seqno = state.high_seqno;
    }
    state.state = old->state();
    out.items_rolled_back +=
        old->high_seqno() - std::min(old->high_seqno(), old->persisted_seqno());
    std::shared_ptr<VBucket> fresh = MakeVBucket(vbid, state);
    // The disk is rolled back: the old vbucket must go whatever happens next (its hash table
    // points at versions that are gone). A load error leaves the new one partial and is
    // returned: the caller then resets it.
    result = LoadFromDisk(*fresh, nullptr, nullptr);
    if (result.ok()) fresh->WarmupComplete();
    fresh->set_rollback_resets(old->rollback_resets());
    fresh->set_rollback_item_count(old->rollback_item_count() + out.items_rolled_back);
    vbuckets_.Set(vbid, fresh);
    out.vb = std::move(fresh);
  });
  if (out.vb != nullptr) {
    // Replaced: its DCP streams end (their seqnos went back) and the replicator hears of it.
    config_revision_.fetch_add(1, std::memory_order_relaxed);
    if (SeqnoListener* l = seqno_listener_.load(std::memory_order_acquire)) {
      l->OnVBucketStateChanged(vbid, out.vb->state(), /*deleted=*/true);
    }
    NotifyStateObservers();
  }
  RETURN_IF_ERROR(result);
  stats_.rollback_count.fetch_add(1, std::memory_order_relaxed);
  stats_.rollback_item_count.fetch_add(out.items_rolled_back, std::memory_order_relaxed);
  LOG_INFO("vb:{} rolled back from seqno {} to {} (asked for {}) from its history: {} items", vbid,
           old->high_seqno(), out.seqno, seqno, out.items_rolled_back);
  return out;
}

void Bucket::AddStateObserver(std::weak_ptr<VBucketStateObserver> observer) {
  MutexLock lock(&observers_mu_);
  std::erase_if(state_observers_, [](const auto& o) { return o.expired(); });
  state_observers_.push_back(std::move(observer));
}

void Bucket::SetReplicaPersistenceObserver(std::weak_ptr<ReplicaPersistenceObserver> observer) {
  MutexLock lock(&observers_mu_);
  persistence_observer_ = std::move(observer);
}

void Bucket::OnReplicaSynced(VBucket& vb) {
  std::shared_ptr<ReplicaPersistenceObserver> observer;
  {
    MutexLock lock(&observers_mu_);
    observer = persistence_observer_.lock();
  }
  if (observer) observer->OnReplicaSynced(vb.id());
}

void Bucket::NotifyStateObservers() {
  std::vector<std::shared_ptr<VBucketStateObserver>> live;
  {
    MutexLock lock(&observers_mu_);
    for (const auto& weak : state_observers_) {
      if (auto o = weak.lock()) live.push_back(std::move(o));
    }
  }
  for (const auto& o : live) o->OnVBucketStatesChanged();
}

}  // namespace sluice::engine
