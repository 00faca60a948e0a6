#include "engine/vbucket.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "common/json_check.h"
#include "common/logging.h"
#include "xattr/blob.h"

namespace sluice::engine {
namespace {

constexpr uint8_t kDatatypeJson = 0x01;
constexpr uint8_t kDatatypeXattr = xattr::kDatatypeXattr;

// The bytes of a value that count against max_item_size: all but its system xattrs.
size_t UserBytes(uint8_t datatype, std::string_view value) {
  if ((datatype & kDatatypeXattr) == 0) return value.size();
  const auto split = xattr::SplitValue(value);
  return split ? value.size() - xattr::SystemSize(split->section) : value.size();
}

// The xattr section of a stored value ("" without the XATTR bit).
std::string_view XattrSection(uint8_t datatype, std::string_view value) {
  if ((datatype & kDatatypeXattr) == 0) return {};
  const auto split = xattr::SplitValue(value);
  return split ? split->section : std::string_view();
}

// What a tombstone of a document keeps (kv_engine): its system xattrs, if it has any.
void KeepSystemXattrs(const StoredValue& live, StoredValue* tombstone) {
  const std::string kept =
      xattr::Prune(XattrSection(live.datatype, live.value.view()), xattr::Keep::kSystem);
  if (kept.empty()) return;
  tombstone->value = Blob::Make(kept);
  tombstone->datatype = kDatatypeXattr;
  tombstone->flags = 0;  // kv_engine (MB-25273): a tombstone with xattrs has no flags
}

uint32_t kThirtyDays = 30 * 24 * 3600;

}  // namespace

uint32_t ExpiryFromWire(uint32_t wire, uint32_t now) {
  if (wire == 0) return 0;
  if (wire <= kThirtyDays) return now + wire;
  return wire;
}

VBucket::VBucket(Vbid id, const storage::VBucketStateRecord& persisted, const VBucketContext& ctx)
    : id_(id),
      ctx_(ctx),
      ht_(ctx.config->ht_locks, &ctx.stats->ht_memory),
      checkpoints_(id, ctx.checkpoint_config, persisted.high_seqno, &ctx.stats->checkpoint_memory),
      failover_(persisted.failover),
      hlc_(ctx.clock, persisted.max_cas),
      state_(persisted.state),
      topology_(persisted.topology),
      persisted_seqno_(persisted.high_seqno),
      synced_seqno_(persisted.high_seqno),
      persisted_snap_start_(persisted.snap_start),
      persisted_snap_end_(persisted.snap_end),
      purge_seqno_(persisted.purge_seqno),
      max_deleted_rev_seqno_(persisted.max_deleted_rev_seqno) {
  adm_.SetTopology(persisted.topology);
  adm_.NotifyLocalPersisted(persisted.high_seqno);
  MutexLock lock(&replica_mu_);
  replica_snap_start_ = persisted.snap_start;
  replica_snap_end_ = persisted.snap_end;
}

VBucket::~VBucket() {
  // A deleted vbucket's SyncWrites are never resolved: their clients must not wait forever.
  for (auto& r : adm_.TakeAll()) {
    if (auto w = r.waiter.lock()) w->NotifyIoComplete(Status(Errc::kSyncWriteAmbiguous));
  }
}

Status VBucket::CheckMemoryForWrite(size_t value_size) const {
  const double limit = static_cast<double>(ctx_.config->max_size) * ctx_.config->mutation_mem_ratio;
  if (static_cast<double>(ctx_.listener->MemUsed()) + static_cast<double>(value_size) > limit) {
    ctx_.stats->tmp_oom_errors.fetch_add(1, std::memory_order_relaxed);
    ops_reject_.fetch_add(1, std::memory_order_relaxed);
    return Status(Errc::kTempFail, "memory above the mutation threshold");
  }
  return Status::Ok();
}

void VBucket::NotifyQueued(uint64_t seqno) const {
  if (seqno != 0) ctx_.listener->OnQueued(const_cast<VBucket&>(*this), seqno);
}

uint64_t VBucket::NextRevSeqno(const StoredValue* sv) const {
  if (sv != nullptr && !sv->temp_nonexistent) return sv->rev_seqno + 1;
  return max_deleted_rev_seqno_.load(std::memory_order_relaxed) + 1;
}

void VBucket::NoteDeletedRev(uint64_t rev_seqno) {
  uint64_t prev = max_deleted_rev_seqno_.load(std::memory_order_relaxed);
  while (rev_seqno > prev && !max_deleted_rev_seqno_.compare_exchange_weak(prev, rev_seqno)) {
  }
}

HlcNow VBucket::hlc_now() const {
  HlcNow now;
  now.seconds = hlc_.Peek(&now.real) / 1'000'000'000;
  return now;
}

std::shared_ptr<Item> VBucket::MakeItem(std::string_view key, const StoredValue& sv,
                                        bool deleted) const {
  auto item = std::make_shared<Item>();
  item->op = QueueOp::kMutation;
  item->vbid = id_;
  item->key.assign(key);
  item->value = sv.value;
  item->cas = sv.cas;
  item->rev_seqno = sv.rev_seqno;
  item->flags = sv.flags;
  item->expiry = sv.expiry;
  item->datatype = sv.datatype;
  item->deleted = deleted;
  item->delete_source = sv.delete_source;
  return item;
}

uint64_t VBucket::QueueLocked(const HashTable::KeyLock& lock, std::string_view key, StoredValue sv,
                              bool deleted, const PreLinkFn* pre_link, const SyncWriteSpec* sync) {
  if (sync != nullptr)
    return QueuePrepareLocked(lock, key, std::move(sv), deleted, pre_link, *sync);
  std::shared_ptr<Item> item = MakeItem(key, sv, deleted);
  return QueueItemLocked(lock, key, std::move(item), std::move(sv), deleted, pre_link);
}

uint64_t VBucket::QueueItem(std::shared_ptr<Item> item, StoredValue* sv,
                            const PreLinkFn* pre_link) {
  if (pre_link == nullptr || !*pre_link) return checkpoints_.Queue(std::move(item));
  return checkpoints_.Queue(std::move(item), [&](Item& queued) {
    queued.value = (*pre_link)(queued.value, queued.cas, queued.by_seqno);
    sv->value = queued.value;
  });
}

uint64_t VBucket::QueueItemLocked(const HashTable::KeyLock& lock, std::string_view key,
                                  std::shared_ptr<Item> item, StoredValue sv, bool deleted,
                                  const PreLinkFn* pre_link) {
  const uint64_t seqno = QueueItem(std::move(item), &sv, pre_link);
  sv.by_seqno = seqno;
  sv.deleted = deleted;
  sv.dirty = true;
  sv.fetched_unread = false;
  ht_.Upsert(lock, key, std::move(sv));
  return seqno;
}

void VBucket::ExpireLocked(const HashTable::KeyLock& lock, std::string_view key,
                           const StoredValue& sv) {
  StoredValue t;
  t.cas = hlc_.NextCas();
  t.rev_seqno = sv.rev_seqno + 1;
  t.flags = sv.flags;
  t.expiry = Now();  // delete time
  t.delete_source = DeleteSource::kTtl;
  t.resident = true;
  // An evicted value's system xattrs cannot be read here (under the lock): they are lost, the
  // one case where a tombstone does not keep them (docs/xattrs.md).
  if (sv.resident) KeepSystemXattrs(sv, &t);
  NoteDeletedRev(t.rev_seqno);
  ops_delete_.fetch_add(1, std::memory_order_relaxed);
  QueueLocked(lock, key, std::move(t), /*deleted=*/true);
}

namespace {

GetResult ResultOf(const StoredValue& sv) {
  return GetResult{sv.value, sv.cas,    sv.by_seqno, sv.rev_seqno,
                   sv.flags, sv.expiry, sv.datatype, sv.deleted};
}

}  // namespace

Status VBucket::CheckActive() const {
  if (state_.load(std::memory_order_relaxed) != VBucketState::kActive) {
    return Errc::kNotMyVbucket;
  }
  return Status::Ok();
}

Status VBucket::CheckWritable() const {
  RETURN_IF_ERROR(CheckActive());
  if (ctx_.listener->WritesFenced()) {
    return Status(Errc::kTempFail,
                  "writes fenced: this node's cluster membership is not confirmed");
  }
  if (takeover_.load(std::memory_order_acquire)) {
    return Status(Errc::kTempFail, "vbucket is being handed over to another node (rebalance)");
  }
  return Status::Ok();
}

const StoredValue* VBucket::FindValid(const HashTable::KeyLock& lock, std::string_view key,
                                      uint64_t* expired_seqno) {
  const StoredValue* sv = ht_.Find(lock, key);
  if (sv == nullptr || !sv->IsExpired(Now())) return sv;
  ExpireLocked(lock, key, *sv);
  ctx_.stats->expired_access.fetch_add(1, std::memory_order_relaxed);
  sv = ht_.Find(lock, key);
  *expired_seqno = sv->by_seqno;
  return sv;
}

Status VBucket::BgFetch(std::string_view key, uint64_t seqno, const Waiter& waiter) {
  ctx_.listener->ScheduleBgFetch(id_, std::string(key), seqno, waiter);
  return Errc::kWouldBlock;
}

StatusOr<GetResult> VBucket::Get(std::string_view key, const Waiter& waiter, bool include_deleted,
                                 ReadFrom from) {
  ReaderLock state(&state_lock_);
  const bool replica_read = from == ReadFrom::kReplica;
  const VBucketState serves = replica_read ? VBucketState::kReplica : VBucketState::kActive;
  if (state_.load(std::memory_order_relaxed) != serves) return Errc::kNotMyVbucket;
  uint64_t expired_seqno = 0;
  uint64_t fetch_seqno = 0;
  bool fetch_tombstone = false;
  StatusOr<GetResult> result = Errc::kNotFound;
  {
    HashTable::KeyLock lock(ht_, key);
    // A replica never expires a document itself (below).
    const StoredValue* sv =
        replica_read ? ht_.Find(lock, key) : FindValid(lock, key, &expired_seqno);
    if (sv == nullptr) {
      // Only a persisted tombstone can be missing from memory.
      fetch_tombstone = include_deleted && disk_may_hide_keys_.load(std::memory_order_relaxed);
    } else if (sv->deleted) {
      if (include_deleted && !sv->temp_nonexistent) result = ResultOf(*sv);
    } else if (replica_read && sv->IsExpired(Now())) {
      // Not found: the active expires it; the expiration comes over DCP.
    } else if (!sv->resident) {
      fetch_seqno = sv->by_seqno;
    } else {
      ops_get_.fetch_add(1, std::memory_order_relaxed);
      if (sv->fetched_unread) ht_.MarkRead(lock, key);
      result = ResultOf(*sv);
    }
  }
  NotifyQueued(expired_seqno);
  // seqno 0 asks the bucket for LoadTombstone (no live version has seqno 0).
  if (fetch_seqno != 0 || fetch_tombstone) return BgFetch(key, fetch_seqno, waiter);
  return result;
}

Status VBucket::LoadTombstone(storage::KVStore& store, std::string_view key) {
  // A few rounds at most: each one only fails if the flusher dropped a tombstone of this
  // vbucket while we read (then the disk may have changed under us).
  for (int attempt = 0; attempt < 4; ++attempt) {
    const uint64_t dropped = tombstones_dropped_.load(std::memory_order_acquire);
    auto doc = store.Get(id_, key);
    if (!doc.ok() && doc.status().code() != Errc::kNotFound) return doc.status();
    if (doc.ok() && !doc->deleted) {
      return Status(Errc::kInternal, "a live document on disk that memory does not know");
    }
    HashTable::KeyLock lock(ht_, key);
    if (ht_.Find(lock, key) != nullptr) return Status::Ok();  // written meanwhile
    if (tombstones_dropped_.load(std::memory_order_acquire) != dropped) continue;
    StoredValue t;
    t.deleted = true;
    t.dirty = false;
    t.resident = true;
    if (doc.ok()) {
      t.value = doc->value.empty() ? BlobPtr() : Blob::Make(doc->value);
      t.cas = doc->cas;
      t.by_seqno = doc->seqno;
      t.rev_seqno = doc->rev_seqno;
      t.flags = doc->flags;
      t.expiry = doc->expiry;
      t.datatype = doc->datatype;
      t.delete_source = doc->delete_source;
      t.disk_seqno = doc->seqno;
    } else {
      t.temp_nonexistent = true;
      t.disk_seqno = storage::DiskDoc::kNoPreviousVersion;
    }
    ht_.Upsert(lock, key, std::move(t));
    return Status::Ok();
  }
  return Status::Ok();  // the command runs again and fetches again
}

StatusOr<GetResult> VBucket::GetMeta(std::string_view key) {
  ReaderLock state(&state_lock_);
  RETURN_IF_ERROR(CheckActive());
  uint64_t expired_seqno = 0;
  GetResult result;
  {
    HashTable::KeyLock lock(ht_, key);
    const StoredValue* sv = FindValid(lock, key, &expired_seqno);
    if (sv == nullptr || sv->temp_nonexistent) return Errc::kNotFound;
    result = GetResult{nullptr,   sv->cas,    sv->by_seqno, sv->rev_seqno,
                       sv->flags, sv->expiry, sv->datatype, sv->deleted};
  }
  NotifyQueued(expired_seqno);
  return result;
}

StatusOr<MutationResult> VBucket::Store(const StoreRequest& req) {
  if (UserBytes(req.datatype, req.value) > ctx_.config->max_item_size) return Errc::kTooBig;
  // Copy the value before taking any lock.
  BlobPtr value = req.value.empty() ? BlobPtr() : Blob::Make(req.value);
  ReaderLock state(&state_lock_);
  RETURN_IF_ERROR(CheckWritable());
  RETURN_IF_ERROR(CheckSyncWritePossible(req.sync));
  RETURN_IF_ERROR(CheckMemoryForWrite(req.value.size()));
  uint64_t seqno = 0;
  uint64_t expired_seqno = 0;
  Status verdict;
  StoredValue nsv;
  {
    HashTable::KeyLock lock(ht_, req.key);
    const StoredValue* sv = FindValid(lock, req.key, &expired_seqno);
    verdict = CheckNoPrepareLocked(lock, req.key);
    const bool exists = sv != nullptr && !sv->deleted;
    // What a CAS or a replace may match: the live document, or (AccessDeleted) its tombstone.
    const bool matchable = exists || (req.cas_may_match_tombstone && sv != nullptr && sv->deleted &&
                                      !sv->temp_nonexistent);
    if (verdict.ok() && req.cas != 0) {
      if (!matchable) {
        verdict = Errc::kNotFound;
        ctx_.stats->cas_misses.fetch_add(1, std::memory_order_relaxed);
      } else if (sv->cas != req.cas) {
        verdict = Errc::kExists;
        ctx_.stats->cas_badval.fetch_add(1, std::memory_order_relaxed);
      } else {
        ctx_.stats->cas_hits.fetch_add(1, std::memory_order_relaxed);
      }
    }
    if (verdict.ok() && req.op == StoreOp::kAdd && exists) verdict = Errc::kExists;
    if (verdict.ok() && req.op == StoreOp::kReplace && !matchable) verdict = Errc::kNotFound;
    if (verdict.ok()) {
      nsv.value = std::move(value);
      nsv.flags = req.flags;
      nsv.expiry = req.deleted ? Now() : req.expiry;  // a tombstone's expiry is its delete time
      nsv.datatype = req.datatype;
      nsv.rev_seqno = NextRevSeqno(sv);
      nsv.cas = hlc_.NextCas();
      if (req.deleted) {
        NoteDeletedRev(nsv.rev_seqno);
        ops_delete_.fetch_add(1, std::memory_order_relaxed);
      } else {
        (exists ? ops_update_ : ops_create_).fetch_add(1, std::memory_order_relaxed);
      }
      seqno = QueueLocked(lock, req.key, nsv, req.deleted, &req.pre_link, req.sync);
    }
  }
  // A lazy expiry above queued a change even when the store itself failed.
  NotifyQueued(seqno != 0 ? seqno : expired_seqno);
  if (!verdict.ok()) return verdict;
  if (req.sync != nullptr) SyncWriteQueued();
  return MutationResult{nsv.cas, seqno, uuid()};
}

StatusOr<MutationResult> VBucket::Delete(std::string_view key, uint64_t cas, const Waiter& waiter,
                                         const SyncWriteSpec* sync) {
  ReaderLock state(&state_lock_);
  RETURN_IF_ERROR(CheckWritable());
  RETURN_IF_ERROR(CheckSyncWritePossible(sync));
  uint64_t expired_seqno = 0;
  uint64_t seqno = 0;
  uint64_t fetch_seqno = 0;
  uint64_t new_cas = 0;
  Status verdict;
  {
    HashTable::KeyLock lock(ht_, key);
    const StoredValue* sv = FindValid(lock, key, &expired_seqno);
    verdict = CheckNoPrepareLocked(lock, key);
    if (!verdict.ok()) {
      // answered below
    } else if (sv == nullptr || sv->deleted) {
      verdict = Errc::kNotFound;  // an expired document is a tombstone now
    } else if (cas != 0 && sv->cas != cas) {
      verdict = Errc::kExists;
    } else if ((sv->datatype & kDatatypeXattr) != 0 && !sv->resident) {
      fetch_seqno = sv->by_seqno;  // its system xattrs go into the tombstone
    } else {
      StoredValue t;
      t.cas = new_cas = hlc_.NextCas();
      t.rev_seqno = sv->rev_seqno + 1;
      t.flags = sv->flags;
      t.expiry = Now();
      t.delete_source = DeleteSource::kExplicit;
      KeepSystemXattrs(*sv, &t);
      NoteDeletedRev(t.rev_seqno);
      ops_delete_.fetch_add(1, std::memory_order_relaxed);
      seqno = QueueLocked(lock, key, std::move(t), /*deleted=*/true, nullptr, sync);
    }
  }
  NotifyQueued(seqno != 0 ? seqno : expired_seqno);
  if (fetch_seqno != 0) return BgFetch(key, fetch_seqno, waiter);
  RETURN_IF_ERROR(verdict);
  if (sync != nullptr) SyncWriteQueued();
  return MutationResult{new_cas, seqno, uuid()};
}

namespace {

// memcached's rule: the value must be an unsigned decimal of at most 20 digits that fits u64.
bool ParseCounter(std::string_view text, uint64_t* out) {
  if (text.empty() || text.size() > 20) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

}  // namespace

StatusOr<ArithmeticResult> VBucket::Arithmetic(const ArithmeticRequest& req, const Waiter& waiter) {
  ReaderLock state(&state_lock_);
  RETURN_IF_ERROR(CheckWritable());
  RETURN_IF_ERROR(CheckSyncWritePossible(req.sync));
  RETURN_IF_ERROR(CheckMemoryForWrite(20));
  uint64_t expired_seqno = 0;
  uint64_t fetch_seqno = 0;
  uint64_t seqno = 0;
  ArithmeticResult result;
  Status verdict;
  {
    HashTable::KeyLock lock(ht_, req.key);
    const StoredValue* sv = FindValid(lock, req.key, &expired_seqno);
    const bool exists = sv != nullptr && !sv->deleted;
    verdict = CheckNoPrepareLocked(lock, req.key);
    if (!verdict.ok()) {
      // answered below
    } else if (exists && !sv->resident) {
      fetch_seqno = sv->by_seqno;
    } else if (req.cas != 0 && (!exists || sv->cas != req.cas)) {
      verdict = exists ? Errc::kExists : Errc::kNotFound;
    } else if (!exists && !req.create) {
      verdict = Errc::kNotFound;
    } else {
      uint64_t value = req.initial;
      StoredValue nsv;
      std::string_view xattrs;  // kept as they are (kv_engine)
      if (exists) {
        uint64_t current = 0;
        xattrs = XattrSection(sv->datatype, sv->value.view());
        if (!ParseCounter(xattr::Body(sv->datatype, sv->value.view()), &current)) {
          verdict = Errc::kDeltaBadval;
        } else if (req.increment) {
          value = current + req.delta;  // wraps, as memcached
        } else {
          value = req.delta > current ? 0 : current - req.delta;
        }
        nsv.flags = sv->flags;
        nsv.expiry = sv->expiry;
        nsv.rev_seqno = sv->rev_seqno + 1;
      } else {
        nsv.expiry = req.expiry;
        nsv.rev_seqno = NextRevSeqno(sv);
      }
      if (verdict.ok()) {
        const std::string text = std::to_string(value);
        nsv.value = xattrs.empty() ? Blob::Make(text) : Blob::Concat(xattrs, text);
        // A decimal number is a JSON document.
        nsv.datatype = kDatatypeJson | (xattrs.empty() ? 0 : kDatatypeXattr);
        nsv.cas = hlc_.NextCas();
        (exists ? ops_update_ : ops_create_).fetch_add(1, std::memory_order_relaxed);
        seqno = QueueLocked(lock, req.key, nsv, /*deleted=*/false, nullptr, req.sync);
        result.value = value;
        result.mutation = MutationResult{nsv.cas, seqno, 0};
      }
    }
  }
  NotifyQueued(seqno != 0 ? seqno : expired_seqno);
  if (fetch_seqno != 0) return BgFetch(req.key, fetch_seqno, waiter);
  if (!verdict.ok()) return verdict;
  if (req.sync != nullptr) SyncWriteQueued();
  result.mutation.vbucket_uuid = uuid();
  return result;
}

StatusOr<MutationResult> VBucket::AppendPrepend(std::string_view key, std::string_view data,
                                                bool append, uint64_t cas, const Waiter& waiter,
                                                const SyncWriteSpec* sync) {
  ReaderLock state(&state_lock_);
  RETURN_IF_ERROR(CheckWritable());
  RETURN_IF_ERROR(CheckSyncWritePossible(sync));
  RETURN_IF_ERROR(CheckMemoryForWrite(data.size()));
  uint64_t expired_seqno = 0;
  uint64_t fetch_seqno = 0;
  uint64_t seqno = 0;
  Status verdict;
  StoredValue nsv;
  {
    HashTable::KeyLock lock(ht_, key);
    const StoredValue* sv = FindValid(lock, key, &expired_seqno);
    const bool exists = sv != nullptr && !sv->deleted;
    verdict = CheckNoPrepareLocked(lock, key);
    if (!verdict.ok()) {
      // answered below
    } else if (!exists) {
      verdict = Errc::kNotStored;
    } else if (!sv->resident) {
      fetch_seqno = sv->by_seqno;
    } else if (cas != 0 && sv->cas != cas) {
      verdict = Errc::kExists;
    } else if (UserBytes(sv->datatype, sv->value.view()) + data.size() >
               ctx_.config->max_item_size) {
      verdict = Errc::kTooBig;
    } else {
      // The body changes; the xattrs stay in front of it (kv_engine).
      nsv = *sv;
      const std::string_view xattrs = XattrSection(sv->datatype, sv->value.view());
      const std::string_view body = xattr::Body(sv->datatype, sv->value.view());
      if (xattrs.empty()) {
        nsv.value = append ? Blob::Concat(body, data) : Blob::Concat(data, body);
      } else {
        std::string joined(xattrs);
        joined.append(append ? body : data);
        joined.append(append ? data : body);
        nsv.value = Blob::Make(joined);
      }
      const std::string_view new_body = nsv.value.view().substr(xattrs.size());
      nsv.datatype =
          (IsValidJson(new_body) ? kDatatypeJson : 0) | (xattrs.empty() ? 0 : kDatatypeXattr);
      nsv.rev_seqno = sv->rev_seqno + 1;
      nsv.cas = hlc_.NextCas();
      nsv.resident = true;
      ops_update_.fetch_add(1, std::memory_order_relaxed);
      seqno = QueueLocked(lock, key, nsv, /*deleted=*/false, nullptr, sync);
    }
  }
  NotifyQueued(seqno != 0 ? seqno : expired_seqno);
  if (fetch_seqno != 0) return BgFetch(key, fetch_seqno, waiter);
  if (!verdict.ok()) return verdict;
  if (sync != nullptr) SyncWriteQueued();
  return MutationResult{nsv.cas, seqno, uuid()};
}

StatusOr<GetResult> VBucket::Touch(std::string_view key, uint32_t expiry, bool fetch,
                                   const Waiter& waiter) {
  ReaderLock state(&state_lock_);
  RETURN_IF_ERROR(CheckWritable());
  uint64_t expired_seqno = 0;
  uint64_t fetch_seqno = 0;
  uint64_t seqno = 0;
  GetResult result;
  Status verdict;
  {
    HashTable::KeyLock lock(ht_, key);
    const StoredValue* sv = FindValid(lock, key, &expired_seqno);
    verdict = CheckNoPrepareLocked(lock, key);
    if (!verdict.ok()) {
      // answered below
    } else if (sv == nullptr || sv->deleted) {
      // fall through to the NotFound answer below (an expired document is a tombstone now)
    } else if (!sv->resident) {
      // The new version is queued with its value, so the value must be in memory.
      fetch_seqno = sv->by_seqno;
    } else {
      StoredValue nsv = *sv;
      nsv.expiry = expiry;
      nsv.rev_seqno = sv->rev_seqno + 1;
      nsv.cas = hlc_.NextCas();
      ops_update_.fetch_add(1, std::memory_order_relaxed);
      seqno = QueueLocked(lock, key, nsv, /*deleted=*/false);
      result = GetResult{fetch ? nsv.value : BlobPtr(),
                         nsv.cas,
                         seqno,
                         nsv.rev_seqno,
                         nsv.flags,
                         nsv.expiry,
                         nsv.datatype,
                         false};
    }
  }
  NotifyQueued(seqno != 0 ? seqno : expired_seqno);
  if (fetch_seqno != 0) return BgFetch(key, fetch_seqno, waiter);
  RETURN_IF_ERROR(verdict);
  if (seqno == 0) return Errc::kNotFound;
  return result;
}

bool VBucket::SetState(VBucketState new_state, const std::optional<VBucketTopology>& meta) {
  uint64_t high = 0;
  std::vector<SyncWriteResolution> orphaned;
  {
    WriterLock lock(&state_lock_);
    const VBucketState old = state_.load(std::memory_order_relaxed);
    {
      MutexLock topology_lock(&topology_mu_);
      if (old == new_state && (!meta || *meta == topology_)) return false;
      topology_ = meta ? *meta : VBucketTopology{};
      adm_.SetTopology(topology_);
    }
    // kv_engine: the SyncWrites of an active that steps down are answered ambiguous (their
    // prepares stay, for the next active to resolve); a new active tracks what it holds.
    if (old == VBucketState::kActive && new_state != VBucketState::kActive) {
      orphaned = adm_.TakeAll();
    }
    if (new_state == VBucketState::kActive && old != VBucketState::kActive) {
      TrackPreparesInFlight();
    }
    high = checkpoints_.GetHighSeqno();
    if (new_state == VBucketState::kActive && old != VBucketState::kActive) {
      failover_.CreateEntry(high);
    }
    if (new_state != VBucketState::kActive) MarkSnapshotWholeAtHigh();
    if (old != new_state) takeover_.store(false, std::memory_order_release);
    state_.store(new_state, std::memory_order_release);
    checkpoints_.QueueSetVBucketState(new_state);
    LOG_INFO("vb:{} state {} -> {}, topology {}", id_, VBucketStateName(old),
             VBucketStateName(new_state), meta ? TopologyToJson(*meta) : "null");
  }
  // Have the flusher persist the new state record.
  ctx_.listener->OnQueued(*this, high);
  for (auto& r : orphaned) {
    if (auto w = r.waiter.lock()) w->NotifyIoComplete(Status(Errc::kSyncWriteAmbiguous));
  }
  if (new_state == VBucketState::kActive) {
    ReaderLock lock(&state_lock_);
    if (CheckActive().ok()) CommitSatisfied();  // a new topology may complete some
  }
  return true;
}

void VBucket::SetTakeover(bool takeover) {
  WriterLock lock(&state_lock_);
  if (takeover_.exchange(takeover, std::memory_order_acq_rel) != takeover) {
    LOG_INFO("vb:{} takeover {}: front-end writes {}", id_, takeover ? "begins" : "ends",
             takeover ? "answer TMPFAIL" : "accepted again");
  }
}

VBucketTopology VBucket::topology() const {
  MutexLock lock(&topology_mu_);
  return topology_;
}

ObserveSeqnoResult VBucket::ObserveSeqno(uint64_t uuid) const {
  ObserveSeqnoResult r;
  r.uuid = failover_.Latest().uuid;
  r.last_persisted_seqno = persisted_seqno();
  r.current_seqno = high_seqno();
  if (uuid != r.uuid) {
    r.failover = true;
    r.old_uuid = uuid;
    r.old_last_seqno = failover_.LastSeqnoForUuid(uuid).value_or(0);
  }
  return r;
}

VBucketCounters VBucket::counters() const {
  return VBucketCounters{ops_create_.load(), ops_update_.load(), ops_delete_.load(),
                         ops_get_.load(), ops_reject_.load()};
}

FlushPlan VBucket::CollectForFlush(size_t max_items, storage::FlushBatch& batch) {
  FlushPlan plan;
  plan.vbid = id_;
  CursorItems ci = checkpoints_.GetItemsForPersistence(max_items);
  plan.more = ci.more_available;
  uint64_t snap_start = persisted_snap_start_.load(std::memory_order_relaxed);
  uint64_t snap_end = persisted_snap_end_.load(std::memory_order_relaxed);
  uint64_t high = persisted_seqno_.load(std::memory_order_relaxed);
  for (auto& snapshot : ci.snapshots) {
    for (auto& item : snapshot.items) {
      high = std::max(high, item->by_seqno);
      if (item->sync_op == SyncOp::kCommit || item->sync_op == SyncOp::kAbort ||
          item->resolves_prepare) {
        batch.RemovePrepare(id_, item->key, item->by_seqno);
      }
      if (item->sync_op == SyncOp::kAbort) {
        plan.items.push_back(std::move(item));
        continue;  // nothing to write: the prepare just goes
      }
      storage::DiskDoc doc;
      if (item->sync_op == SyncOp::kPrepare) {
        doc.prepared = true;
        doc.durability_level = item->durability_level;
      } else {
        // The hash table knows where the key's previous version is on disk (the entry exists:
        // it is only removed once a tombstone newer than this item is persisted).
        HashTable::KeyLock lock(ht_, item->key);
        const StoredValue* sv = ht_.Find(lock, item->key);
        doc.previous_seqno = sv ? sv->disk_seqno : storage::DiskDoc::kUnknownPreviousSeqno;
        if (doc.previous_seqno == storage::DiskDoc::kUnknownPreviousSeqno &&
            !disk_may_hide_keys_.load(std::memory_order_relaxed)) {
          doc.previous_seqno = storage::DiskDoc::kNoPreviousVersion;
        }
      }
      doc.vbid = id_;
      doc.key = item->key;
      doc.seqno = item->by_seqno;
      doc.rev_seqno = item->rev_seqno;
      doc.cas = item->cas;
      doc.flags = item->flags;
      doc.expiry = item->expiry;
      doc.datatype = item->datatype;
      doc.deleted = item->deleted;
      doc.delete_source = item->delete_source;
      doc.value.assign(item->value.view());
      batch.Add(std::move(doc));
      plan.items.push_back(std::move(item));
    }
    snap_start = snapshot.start;
    snap_end = snapshot.end;
  }
  plan.high_seqno = high;
  plan.state.state = state();
  plan.state.high_seqno = high;
  plan.state.snap_start = std::min(snap_start, high);
  plan.state.snap_end = std::max(snap_end, high);
  plan.state.purge_seqno = purge_seqno();
  plan.state.max_cas = hlc_.max_cas();
  plan.state.max_deleted_rev_seqno = max_deleted_rev_seqno_.load(std::memory_order_relaxed);
  plan.state.failover = failover_.Entries();
  plan.state.topology = topology();
  batch.SetState(id_, plan.state);
  return plan;
}

bool VBucket::FlushSucceeded(const FlushPlan& plan, bool synced) {
  checkpoints_.PersistenceCommitted();
  // Before MarkPersisted drops a persisted tombstone from the hash table (this flusher runs the
  // next CollectForFlush of this vbucket, so it sees the flag).
  if (std::any_of(plan.items.begin(), plan.items.end(),
                  [](const auto& item) { return item->deleted && !item->InPrepareNamespace(); })) {
    disk_may_hide_keys_.store(true, std::memory_order_relaxed);
  }
  for (const auto& item : plan.items) {
    if (item->InPrepareNamespace()) continue;  // the hash table holds committed versions only
    HashTable::KeyLock lock(ht_, item->key);
    if (ht_.MarkPersisted(lock, item->key, item->by_seqno) && item->deleted) {
      tombstones_dropped_.fetch_add(1, std::memory_order_release);
    }
  }
  persisted_snap_start_.store(plan.state.snap_start, std::memory_order_relaxed);
  persisted_snap_end_.store(plan.state.snap_end, std::memory_order_relaxed);
  persisted_seqno_.store(plan.high_seqno, std::memory_order_release);
  // An fsync of the WAL covers every earlier commit too.
  if (synced) {
    const uint64_t synced_before = synced_seqno_.exchange(plan.high_seqno);
    adm_.NotifyLocalPersisted(plan.high_seqno);
    {
      ReaderLock lock(&state_lock_);
      if (CheckActive().ok()) CommitSatisfied();
    }
    // Some persistToMajority prepare was waiting above the old synced seqno: this sync may cover
    // it (the replicator looks at what is ackable now).
    if (replica_sync_wanted_.load(std::memory_order_acquire) > synced_before) {
      ctx_.listener->OnReplicaSynced(*this);
    }
  }
  ctx_.stats->total_persisted.fetch_add(plan.items.size(), std::memory_order_relaxed);

  std::vector<Waiter> ready;
  {
    MutexLock lock(&waiters_mu_);
    if (!synced) {
      return adm_.WaitsForLocalPersistence() ||
             std::any_of(persistence_waiters_.begin(), persistence_waiters_.end(),
                         [&](const auto& w) { return w.first <= plan.high_seqno; });
    }
    auto it = std::partition(persistence_waiters_.begin(), persistence_waiters_.end(),
                             [&](const auto& w) { return w.first > plan.high_seqno; });
    for (auto i = it; i != persistence_waiters_.end(); ++i) ready.push_back(std::move(i->second));
    persistence_waiters_.erase(it, persistence_waiters_.end());
  }
  for (auto& w : ready) {
    if (auto waiter = w.lock()) waiter->NotifyIoComplete(Status::Ok());
  }
  return false;
}

void VBucket::FlushFailed(const FlushPlan& plan) { checkpoints_.PersistenceFailed(); }

void VBucket::AddPersistenceWaiter(uint64_t seqno, Waiter waiter) {
  {
    MutexLock lock(&waiters_mu_);
    if (synced_seqno() < seqno) {
      persistence_waiters_.emplace_back(seqno, std::move(waiter));
      return;
    }
  }
  if (auto w = waiter.lock()) w->NotifyIoComplete(Status::Ok());
}

bool VBucket::HasPersistenceWaiters() const {
  if (adm_.WaitsForLocalPersistence()) return true;
  if (replica_sync_wanted_.load(std::memory_order_acquire) >
      synced_seqno_.load(std::memory_order_acquire)) {
    return true;
  }
  MutexLock lock(&waiters_mu_);
  return !persistence_waiters_.empty();
}

void VBucket::WarmupLoad(storage::DiskDoc&& doc, bool with_value) {
  hlc_.ForceAtLeast(doc.cas);
  if (doc.prepared) {
    WarmupLoadPrepare(std::move(doc));
    return;
  }
  if (doc.deleted) {
    disk_may_hide_keys_.store(true, std::memory_order_relaxed);
    uint64_t prev = max_deleted_rev_seqno_.load(std::memory_order_relaxed);
    while (doc.rev_seqno > prev &&
           !max_deleted_rev_seqno_.compare_exchange_weak(prev, doc.rev_seqno)) {
    }
    return;
  }
  StoredValue sv;
  sv.value = with_value && !doc.value.empty() ? Blob::Make(doc.value) : BlobPtr();
  sv.cas = doc.cas;
  sv.by_seqno = doc.seqno;
  sv.rev_seqno = doc.rev_seqno;
  sv.flags = doc.flags;
  sv.expiry = doc.expiry;
  sv.datatype = doc.datatype;
  sv.dirty = false;
  sv.resident = with_value || doc.value.empty();
  sv.disk_seqno = doc.seqno;
  HashTable::KeyLock lock(ht_, doc.key);
  ht_.Upsert(lock, doc.key, std::move(sv));
}

void VBucket::BgFetchCompleted(std::string_view key, uint64_t seqno, const storage::DiskDoc& doc) {
  if (doc.deleted || doc.seqno != seqno) return;
  BlobPtr value = Blob::Make(doc.value);
  HashTable::KeyLock lock(ht_, key);
  if (ht_.RestoreValue(lock, key, seqno, std::move(value))) {
    ctx_.stats->bg_fetched.fetch_add(1, std::memory_order_relaxed);
  }
}

size_t VBucket::ExpireItems(uint32_t now) {
  ReaderLock state(&state_lock_);
  if (!CheckActive().ok()) return 0;
  size_t expired = 0;
  uint64_t last_seqno = 0;
  std::vector<std::string> keys;
  for (size_t stripe = 0; stripe < ht_.num_stripes(); ++stripe) {
    keys.clear();
    ht_.ForEachInStripe(stripe, [&](std::string_view key, const StoredValue& sv) {
      if (sv.IsExpired(now)) keys.emplace_back(key);
    });
    for (const auto& key : keys) {
      HashTable::KeyLock lock(ht_, key);
      const StoredValue* sv = ht_.Find(lock, key);
      if (sv == nullptr || !sv->IsExpired(now)) continue;
      ExpireLocked(lock, key, *sv);
      last_seqno = ht_.Find(lock, key)->by_seqno;
      ++expired;
    }
  }
  ctx_.stats->expired_pager.fetch_add(expired, std::memory_order_relaxed);
  NotifyQueued(last_seqno);
  return expired;
}

size_t VBucket::EvictValues(size_t target_bytes) {
  size_t freed = 0;
  const size_t n = ht_.num_stripes();
  size_t stripe = evict_stripe_.load(std::memory_order_relaxed) % n;
  for (size_t visited = 0; visited < n && freed < target_bytes; ++visited) {
    freed += ht_.EvictFromStripe(stripe, target_bytes - freed);
    stripe = (stripe + 1) % n;
  }
  evict_stripe_.store(stripe, std::memory_order_relaxed);
  return freed;
}

void VBucket::Clear() {
  disk_may_hide_keys_.store(true, std::memory_order_relaxed);  // whatever is on disk stays
  ht_.Clear();
}

void VBucket::AddStats(std::string_view prefix, bool details, const AddStatFn& add) const {
  add(prefix, VBucketStateName(state()));
  if (!details) return;
  fmt::memory_buffer buf;
  auto stat = [&](std::string_view name, auto value) {
    buf.clear();
    fmt::format_to(std::back_inserter(buf), "{}:{}", prefix, name);
    add(std::string_view(buf.data(), buf.size()), fmt::format("{}", value));
  };
  const auto c = ht_.GetCounters();
  const auto ops = counters();
  stat("num_items", c.items);
  stat("num_temp_items", 0);
  stat("num_non_resident", c.non_resident);
  stat("ht_memory", c.memory);
  stat("ht_num_items", c.items + c.deleted);
  stat("ht_num_deleted_items", c.deleted);
  stat("ops_create", ops.ops_create);
  stat("ops_delete", ops.ops_delete);
  stat("ops_get", ops.ops_get);
  stat("ops_reject", ops.ops_reject);
  stat("ops_update", ops.ops_update);
  stat("queue_size", DirtyQueueSize());
  stat("high_seqno", high_seqno());
  stat("uuid", uuid());
  stat("purge_seqno", purge_seqno());
  stat("max_cas", max_cas());
  stat("max_deleted_revid", max_deleted_rev_seqno_.load(std::memory_order_relaxed));
  stat("persistence_seqno", persisted_seqno());
  stat("topology", TopologyToJson(topology()));
  stat("rollback_resets", rollback_resets());
  stat("rollback_item_count", rollback_item_count());
}

void VBucket::AddSeqnoStats(const AddStatFn& add) const {
  fmt::memory_buffer buf;
  auto stat = [&](std::string_view name, uint64_t value) {
    buf.clear();
    fmt::format_to(std::back_inserter(buf), "vb_{}:{}", id_, name);
    add(std::string_view(buf.data(), buf.size()), std::to_string(value));
  };
  const uint64_t high = high_seqno();
  stat("high_seqno", high);
  stat("abs_high_seqno", high);
  stat("last_persisted_seqno", persisted_seqno());
  stat("uuid", uuid());
  stat("purge_seqno", purge_seqno());
  stat("last_persisted_snap_start", persisted_snap_start_.load(std::memory_order_relaxed));
  stat("last_persisted_snap_end", persisted_snap_end_.load(std::memory_order_relaxed));
  stat("high_prepared_seqno", high_prepared_seqno());
  stat("high_completed_seqno", high_completed_seqno());
  stat("max_visible_seqno", high);
}

void VBucket::AddFailoverStats(const AddStatFn& add) const {
  const auto entries = failover_.Entries();
  add(fmt::format("vb_{}:num_entries", id_), std::to_string(entries.size()));
  add(fmt::format("vb_{}:num_erroneous_entries_erased", id_), "0");
  for (size_t i = 0; i < entries.size(); ++i) {
    add(fmt::format("vb_{}:{}:id", id_, i), std::to_string(entries[i].uuid));
    add(fmt::format("vb_{}:{}:seq", id_, i), std::to_string(entries[i].seqno));
  }
}

void VBucket::AddCheckpointStats(const AddStatFn& add) const {
  const CheckpointStats s = checkpoints_.GetStats();
  fmt::memory_buffer buf;
  auto stat = [&](std::string_view name, auto value) {
    buf.clear();
    fmt::format_to(std::back_inserter(buf), "vb_{}:{}", id_, name);
    add(std::string_view(buf.data(), buf.size()), fmt::format("{}", value));
  };
  stat("state", VBucketStateName(state()));
  stat("open_checkpoint_id", s.open_checkpoint_id);
  stat("num_conn_cursors", s.num_cursors);
  stat("num_checkpoint_items", s.num_items);
  stat("num_open_checkpoint_items", s.num_open_checkpoint_items);
  stat("num_checkpoints", s.num_checkpoints);
  stat("num_items_for_persistence", s.items_for_persistence);
  stat("mem_usage", s.memory_bytes);
  stat("high_seqno", s.high_seqno);
  stat("persistence_seqno", persisted_seqno());
}

}  // namespace sluice::engine
