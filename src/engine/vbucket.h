// File: engine/vbucket.h
//
// VBucket: one partition of a bucket — its state (active/replica/pending/dead), hash table,
// checkpoint manager, failover table, seqno counter and CAS clock — and every document operation
// on it.
//
// A write, under the key's hash-table stripe lock:  check CAS/existence -> new CAS (HLC) ->
// CheckpointManager::Queue assigns the seqno -> hash-table entry updated (dirty). After the lock
// is released the listener is told (flusher wake-up, DCP notification). The flusher later takes
// the persistence cursor's items (CollectForFlush), commits them with the vbucket state record,
// and reports back (FlushSucceeded): entries become clean, tombstones leave the table, waiters for
// persistence are notified.
//
// Lock order: state_lock_ (shared, taken by every operation) -> hash-table stripe lock ->
// checkpoint manager lock. flush_mu_ serialises the flusher's collect/commit/ack sequence and is
// taken before any of them.
//
// Ownership: the Bucket owns vbuckets through shared_ptr, because a vbucket can be deleted
// (DEL_VBUCKET) while a command or a background task still uses it; each of those holds a
// shared_ptr for the duration of one operation only. The VBucket holds a plain pointer to its
// Listener and Context, which the bucket guarantees outlive it.
//
// Thread safety: thread-safe. Operations may come from any network thread, the flusher and the
// pagers concurrently.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/mutex.h"
#include "common/status.h"
#include "common/types.h"
#include "common/vbucket_topology.h"
#include "engine/checkpoint_manager.h"
#include "engine/durability_monitor.h"
#include "engine/engine_stats.h"
#include "engine/engine_types.h"
#include "engine/failover_table.h"
#include "engine/hash_table.h"
#include "engine/hlc.h"
#include "storage/kvstore.h"

namespace sluice::engine {

class VBucket;

// Which vbuckets a read may be served from: front-end reads need an active vbucket, GET_REPLICA
// a replica one (where an expired document is simply not found: its expiration arrives over DCP).
enum class ReadFrom : uint8_t { kActive, kReplica };

// What a vbucket tells its bucket. Implemented by Bucket; called without any vbucket lock held.
class VBucketListener {
 public:
  virtual ~VBucketListener() = default;
  // The vbucket queued a change with this seqno (flusher wake-up, DCP notification).
  virtual void OnQueued(VBucket& vb, uint64_t seqno) = 0;
  // The vbucket's durability monitor tracks a new SyncWrite (its timeout must be watched).
  virtual void OnSyncWriteTracked(VBucket& vb) {}
  // A replica vbucket's fsynced seqno reached a persistToMajority prepare it holds: its seqno
  // acknowledgement may now move (flusher thread).
  virtual void OnReplicaSynced(VBucket& vb) {}
  // The value of `key` (version `seqno`) is not resident: fetch it and notify `waiter`.
  virtual void ScheduleBgFetch(Vbid vbid, std::string key, uint64_t seqno, Waiter waiter) = 0;
  // Bytes of memory in use in the bucket (for write admission).
  virtual int64_t MemUsed() const = 0;
  // True while front-end writes to active vbuckets must answer TMPFAIL: the node may have lost
  // its claim on its actives (Bucket::SetWritesFenced; a node agent whose etcd lease is lost, or
  // whose lease's local expiry passed: Bucket::SetWritesValidUntil).
  virtual bool WritesFenced() const { return false; }
};

// Bucket-wide things a vbucket uses; owned by the Bucket, which outlives its vbuckets.
struct VBucketContext {
  const Config* config = nullptr;
  const Clock* clock = nullptr;
  EngineStats* stats = nullptr;
  VBucketListener* listener = nullptr;
  CheckpointConfig checkpoint_config;
};

struct VBucketCounters {
  uint64_t ops_create = 0;
  uint64_t ops_update = 0;
  uint64_t ops_delete = 0;
  uint64_t ops_get = 0;
  uint64_t ops_reject = 0;
};

// One vbucket's part of a flusher commit, kept until the commit's outcome is known.
struct FlushPlan {
  Vbid vbid = 0;
  std::vector<QueuedItem> items;  // the mutations written (may include superseded versions)
  uint64_t high_seqno = 0;        // persisted high seqno once committed
  storage::VBucketStateRecord state;
  bool more = false;  // the persistence cursor has more items
};

struct ObserveSeqnoResult {
  bool failover = false;  // the uuid asked for is not the current one
  uint64_t uuid = 0;      // current uuid
  uint64_t last_persisted_seqno = 0;
  uint64_t current_seqno = 0;
  uint64_t old_uuid = 0;        // when failover: the uuid asked for ...
  uint64_t old_last_seqno = 0;  // ... and the last seqno of its branch
};

class VBucket {
 public:
  // A vbucket from its persisted state (warmup) or a fresh one (state.high_seqno = 0, no
  // failover entries: one is created).
  VBucket(Vbid id, const storage::VBucketStateRecord& persisted, const VBucketContext& ctx);
  ~VBucket();
  VBucket(const VBucket&) = delete;
  VBucket& operator=(const VBucket&) = delete;

  Vbid id() const { return id_; }

  // ---- documents (state must be active: else kNotMyVbucket) ----
  // The document (its value with any xattrs; the datatype says). With `include_deleted` a
  // tombstone is a result too (deleted = true, its value the xattrs it kept): one the hash table
  // no longer holds is loaded from disk first (kWouldBlock; see LoadTombstone). `from`
  // kReplica: the vbucket must be a replica instead (GET_REPLICA), and an expired document is
  // not found without being expired here.
  StatusOr<GetResult> Get(std::string_view key, const Waiter& waiter, bool include_deleted = false,
                          ReadFrom from = ReadFrom::kActive);
  // GET_META: metadata of a live document or an in-memory tombstone (deleted = true).
  StatusOr<GetResult> GetMeta(std::string_view key);
  // SET / ADD / REPLACE, and the subdoc writes (StoreRequest::deleted and friends). The size
  // limit applies to the value without its system xattrs (those have their own quota,
  // xattr::kMaxSystemXattrBytes, checked when the value was validated).
  StatusOr<MutationResult> Store(const StoreRequest& req);
  // DELETE: the tombstone keeps the document's system xattrs (kv_engine); their value must be in
  // memory, so an evicted document with xattrs is fetched first (kWouldBlock).
  StatusOr<MutationResult> Delete(std::string_view key, uint64_t cas, const Waiter& waiter = {},
                                  const SyncWriteSpec* sync = nullptr);
  StatusOr<ArithmeticResult> Arithmetic(const ArithmeticRequest& req, const Waiter& waiter);
  // APPEND (append = true) / PREPEND of the body. Keeps flags, expiry and xattrs; NotStored if
  // the key is missing.
  StatusOr<MutationResult> AppendPrepend(std::string_view key, std::string_view data, bool append,
                                         uint64_t cas, const Waiter& waiter,
                                         const SyncWriteSpec* sync = nullptr);
  // TOUCH (new expiry; a mutation with a new seqno and CAS). With `fetch`, the result carries
  // the value (GAT), which may need a background fetch.
  StatusOr<GetResult> Touch(std::string_view key, uint32_t expiry, bool fetch,
                            const Waiter& waiter);

  // ---- SyncWrites (vbucket_sync_write.cc; docs/replication.md "SyncWrites") ----
  // Every write above with a SyncWriteSpec (StoreRequest::sync, ArithmeticRequest::sync, the
  // `sync` parameters) queues a *prepare* instead of changing the document: its MutationResult
  // carries the prepare's seqno, readers keep seeing the committed version, and the spec's
  // waiter is told once the durability monitor committed (OK) or aborted it (ambiguous). It
  // answers kDurabilityImpossible when the topology can never reach a majority. Any write to a
  // key with a prepare in flight answers kSyncWriteInProgress.
  // Node `node` of the topology holds every prepare up to `seqno` (DCP_SEQNO_ACKNOWLEDGED).
  // kNotMyVbucket unless active.
  Status SeqnoAcknowledged(const std::string& node, uint64_t seqno);
  // Aborts the prepares whose durability timeout passed by `now` (answered ambiguous). Returns
  // whether SyncWrites remain tracked.
  bool ProcessDurabilityTimeouts(SteadyTime now);
  // Prepares in flight (tracked or, on a replica, awaiting their commit or abort).
  size_t NumPreparesInFlight() const;
  uint64_t high_prepared_seqno() const { return adm_.high_prepared_seqno(); }
  uint64_t high_completed_seqno() const { return adm_.high_completed_seqno(); }

  // ---- replication (state must be replica or pending: else kNotMyVbucket) ----
  // Implemented in vbucket_replica.cc; called by one passive stream at a time (the replicator's),
  // in the order its producer sent the messages.
  // A DCP snapshot marker: the changes that follow belong to the snapshot [start, end]. With
  // `new_checkpoint` it opens a checkpoint of its own (kv_engine: the marker's checkpoint flag, a
  // disk snapshot, or a change of snapshot type), else it extends the open one's snapshot.
  // `disk`: the marker announces a disk snapshot (its checkpoint deduplicates nothing:
  // CheckpointManager::CreateSnapshot). REQUIRES: new_checkpoint when disk.
  Status ApplySnapshotMarker(uint64_t start, uint64_t end, bool new_checkpoint, bool disk);
  // A mutation, deletion or expiration stored with the producer's seqno, CAS, rev seqno, flags,
  // expiry and datatype. kRange (nothing applied) unless item.seqno is above the high seqno.
  // Never refused for memory: a replica throttles its producer instead (flow control).
  Status ApplyReplicated(const ReplicatedItem& item);
  // SyncWrites from the producer: a DCP_PREPARE is queued with the producer's seqno and stays in
  // flight, invisible, until its DCP_COMMIT (the value becomes visible at the commit's seqno) or
  // DCP_ABORT. A commit for a prepare this replica does not hold is kNotFound (nothing applied);
  // an abort of one is queued all the same. A plain mutation or deletion of a key drops the key's
  // prepare (a disk snapshot sends a resolved SyncWrite as what it left). kRange as
  // ApplyReplicated.
  Status ApplyReplicatedPrepare(const ReplicatedItem& item, SyncWriteLevel level);
  Status ApplyReplicatedCommit(std::string_view key, uint64_t prepared_seqno,
                               uint64_t commit_seqno);
  Status ApplyReplicatedAbort(std::string_view key, uint64_t prepared_seqno, uint64_t abort_seqno);
  // Where a stream request resumes (see ReplicaPosition).
  ReplicaPosition ReplicaResumePoint() const;
  // The producer's failover log replaces ours (after a successful stream request); persisted
  // with the next flush.
  void AdoptFailoverLog(std::vector<FailoverEntry> entries);
  // Treat the high seqno as the end of a whole snapshot (a ROLLBACK answer at or above it: the
  // producer's history agrees with everything we hold).
  void MarkSnapshotWholeAtHigh();
  // Times this vbucket was emptied to be copied again from 0 (a rollback beyond its history);
  // carried over to the vbucket that replaces it (Bucket::ResetVBucket).
  uint64_t rollback_resets() const { return rollback_resets_.load(std::memory_order_relaxed); }
  void set_rollback_resets(uint64_t n) { rollback_resets_.store(n, std::memory_order_relaxed); }
  // Items undone by rollbacks and resets of this vbucket (kv_engine's rollback_item_count);
  // carried over like rollback_resets (Bucket::RollbackVBucket, Bucket::ResetVBucket).
  uint64_t rollback_item_count() const {
    return rollback_item_count_.load(std::memory_order_relaxed);
  }
  void set_rollback_item_count(uint64_t n) {
    rollback_item_count_.store(n, std::memory_order_relaxed);
  }

  // ---- state ----
  VBucketState state() const { return state_.load(std::memory_order_acquire); }
  // Changes state and topology as kv_engine's SET_VBUCKET does: `meta` is the request's vbucket
  // meta (nullopt: none). The same state without meta changes nothing; otherwise the topology
  // becomes meta's (the empty one without meta or without a topology in it). Becoming active from
  // another state adds a failover entry at the high seqno. Persisted by the flusher (queued as a
  // meta item). Returns whether the state or the topology changed. REQUIRES: a non-empty
  // topology only with kActive, valid (Bucket::SetVBucketState checks both).
  bool SetState(VBucketState state, const std::optional<VBucketTopology>& meta = std::nullopt);
  // The replication topology (empty unless the vbucket is active and was given one).
  VBucketTopology topology() const;
  // A rebalance's takeover (docs/cluster.md, "Moving a vbucket"): while set, front-end writes to
  // this active answer TMPFAIL while replication, reads and DCP go on. Taken under state_lock_
  // exclusively, so when SetTakeover(true) returns no write that passed the check is still in
  // flight: the high seqno only moves by SyncWrite commits and expiries. A state change clears
  // it. Not persisted (a restarted node is fenced until it has applied the map again).
  void SetTakeover(bool takeover);
  bool takeover() const { return takeover_.load(std::memory_order_acquire); }
  uint64_t high_seqno() const { return checkpoints_.GetHighSeqno(); }
  uint64_t persisted_seqno() const { return persisted_seqno_.load(std::memory_order_acquire); }
  // The highest seqno covered by an fsynced commit (<= persisted_seqno(); equal at warmup).
  // Persistence waiters wait for this one: persisted_seqno() survives a process crash, this one
  // also a power loss.
  uint64_t synced_seqno() const { return synced_seqno_.load(std::memory_order_acquire); }
  uint64_t purge_seqno() const { return purge_seqno_.load(std::memory_order_relaxed); }
  uint64_t uuid() const { return failover_.Latest().uuid; }
  FailoverTable& failover_table() { return failover_; }
  CheckpointManager& checkpoints() { return checkpoints_; }
  const HashTable& hash_table() const { return ht_; }
  ObserveSeqnoResult ObserveSeqno(uint64_t uuid) const;
  VBucketCounters counters() const;
  uint64_t max_cas() const { return hlc_.max_cas(); }

  // ---- persistence ----
  // Moves up to `max_items` from the persistence cursor into `batch` and returns the plan to
  // pass to FlushSucceeded/FlushFailed. Call under the flusher's serialisation only.
  FlushPlan CollectForFlush(size_t max_items, storage::FlushBatch& batch);
  // The plan's commit succeeded; `synced`: it was fsynced. Persistence waiters are released only
  // by a synced commit (a durable write must survive a power loss, not just a process crash):
  // returns true when some waiter is due but the commit was not synced (one registered after
  // the batch was collected) — the flusher then queues the vbucket again, and that next commit
  // is synced because a waiter exists.
  bool FlushSucceeded(const FlushPlan& plan, bool synced);
  void FlushFailed(const FlushPlan& plan);
  // Items not yet persisted (ep_queue_size share).
  size_t DirtyQueueSize() const { return checkpoints_.NumItemsForPersistence(); }
  // Notify `waiter` once `seqno` is persisted by a synced commit (immediately if it already is).
  // The caller queues the vbucket for flushing afterwards (the next commit is then synced).
  void AddPersistenceWaiter(uint64_t seqno, Waiter waiter);
  bool HasPersistenceWaiters() const;
  // The flusher's "this vbucket is queued for flushing" flag; returns the previous value.
  bool SetFlushPending(bool pending) { return flush_pending_.exchange(pending); }

  // ---- warmup, pagers, bg fetch ----
  // Loads a persisted document into the hash table (clean). Tombstones only raise
  // max_deleted_rev_seqno. `with_value` false leaves the entry non-resident. A prepare
  // (doc.prepared) becomes a prepare in flight again.
  void WarmupLoad(storage::DiskDoc&& doc, bool with_value);
  // After warmup: an active vbucket tracks its warmed-up prepares (without a timeout, as
  // kv_engine) and commits those already satisfied.
  void WarmupComplete();
  // A background fetch read `doc` for `key`: restore the value if the entry is still that
  // version and evicted.
  void BgFetchCompleted(std::string_view key, uint64_t seqno, const storage::DiskDoc& doc);
  // Expires every live document whose TTL passed by `now`. Returns how many expired.
  size_t ExpireItems(uint32_t now);
  // Evicts clean values, starting where the last call stopped, until `target_bytes` are freed
  // or every stripe was visited once. Returns bytes freed.
  size_t EvictValues(size_t target_bytes);
  // Drops every document (DEL_VBUCKET); the vbucket must be dead and unreachable.
  void Clear();
  // For Get(include_deleted) of a key the hash table does not hold (a background fetch, reader
  // thread): reads the key from `store` and, if the hash table still has no entry for it and no
  // persisted tombstone was dropped meanwhile, inserts a clean copy of the tombstone (or a
  // "nothing on disk" marker) so that the command, run again, finds it. kInternal if the disk
  // holds a live version the hash table does not know (never expected).
  Status LoadTombstone(storage::KVStore& store, std::string_view key);
  // The HLC as subdoc's $vbucket reports it.
  HlcNow hlc_now() const;

  void AddStats(std::string_view prefix, bool details, const AddStatFn& add) const;
  void AddSeqnoStats(const AddStatFn& add) const;
  void AddFailoverStats(const AddStatFn& add) const;
  void AddCheckpointStats(const AddStatFn& add) const;

 private:
  // The checkpoint item of a new version of `key`.
  std::shared_ptr<Item> MakeItem(std::string_view key, const StoredValue& sv, bool deleted) const;
  // A change to `key` prepared under its stripe lock: queued into the checkpoint and applied to
  // the hash table (with `sync`: queued as a prepare instead, see QueuePrepareLocked). Returns
  // the seqno.
  uint64_t QueueLocked(const HashTable::KeyLock& lock, std::string_view key, StoredValue sv,
                       bool deleted, const PreLinkFn* pre_link = nullptr,
                       const SyncWriteSpec* sync = nullptr);
  // Queues `item` (its seqno assigned), expanding `pre_link` into it and into *sv.
  uint64_t QueueItem(std::shared_ptr<Item> item, StoredValue* sv, const PreLinkFn* pre_link);
  // QueueLocked's common part: `item` (built from sv) queued, then sv applied to the table.
  uint64_t QueueItemLocked(const HashTable::KeyLock& lock, std::string_view key,
                           std::shared_ptr<Item> item, StoredValue sv, bool deleted,
                           const PreLinkFn* pre_link);

  // ---- SyncWrites (vbucket_sync_write.cc) ----
  struct PendingPrepare {
    StoredValue sv;  // the version the commit makes visible
    bool deleted = false;
    uint64_t seqno = 0;
    SyncWriteLevel level = SyncWriteLevel::kMajority;
  };
  // kSyncWriteInProgress if `key` has a prepare in flight. Call under the key's stripe lock.
  Status CheckNoPrepareLocked(const HashTable::KeyLock& lock, std::string_view key) const;
  // kDurabilityImpossible when `sync` is set and the topology cannot reach a majority.
  Status CheckSyncWritePossible(const SyncWriteSpec* sync) const;
  // Queues a prepare of `sv` and tracks it (prepares_ and the monitor). Returns its seqno.
  uint64_t QueuePrepareLocked(const HashTable::KeyLock& lock, std::string_view key, StoredValue sv,
                              bool deleted, const PreLinkFn* pre_link, const SyncWriteSpec& sync);
  // Queues the commit (or abort) of `key`'s prepare `prepare_seqno`; 0 if that prepare is no
  // longer in flight. Returns the new seqno.
  uint64_t CommitPrepare(std::string_view key, uint64_t prepare_seqno) REQUIRES_SHARED(state_lock_);
  uint64_t AbortPrepare(std::string_view key, uint64_t prepare_seqno) REQUIRES_SHARED(state_lock_);
  // After a write queued a prepare (no stripe lock held): wakes the timeout task, commits what
  // is satisfied already.
  void SyncWriteQueued() REQUIRES_SHARED(state_lock_);
  // Commits what the monitor says is satisfied. Call after releasing every stripe lock.
  void CommitSatisfied() REQUIRES_SHARED(state_lock_);
  // Queues the resolutions and tells their waiters.
  void Complete(std::vector<SyncWriteResolution> resolutions) REQUIRES_SHARED(state_lock_);
  // The monitor tracks every prepare in flight (a promotion or warmup: no timeout).
  void TrackPreparesInFlight();
  // Removes `key`'s prepare, if any (under its stripe lock).
  void DropPrepareLocked(const HashTable::KeyLock& lock, std::string_view key);
  // The in-flight prepare of `key` if it is `seqno` (removed), else nullopt.
  std::optional<PendingPrepare> TakePrepareLocked(const HashTable::KeyLock& lock,
                                                  std::string_view key, uint64_t seqno);
  // A prepare read by warmup becomes a prepare in flight.
  void WarmupLoadPrepare(storage::DiskDoc&& doc);
  // The rev seqno a new version of a key gets (its entry may be null or a "nothing on disk"
  // marker).
  uint64_t NextRevSeqno(const StoredValue* sv) const;
  // A tombstone is queued: raises max_deleted_rev_seqno.
  void NoteDeletedRev(uint64_t rev_seqno);
  // Turns an expired entry into a TTL tombstone (under its stripe lock).
  void ExpireLocked(const HashTable::KeyLock& lock, std::string_view key, const StoredValue& sv);
  // The entry of `key` as a document operation may see it (kv_engine: fetchValidValue): a live
  // document whose TTL passed is turned into its TTL tombstone first (an expiry on access), and
  // that tombstone is returned, its seqno in *expired_seqno for NotifyQueued once the locks are
  // released (*expired_seqno is left alone otherwise). Null if the table has no entry for `key`.
  const StoredValue* FindValid(const HashTable::KeyLock& lock, std::string_view key,
                               uint64_t* expired_seqno);
  // Document operations run only on an active vbucket, which it stays while the caller holds
  // state_lock_: OK, else kNotMyVbucket.
  Status CheckActive() const REQUIRES_SHARED(state_lock_);
  // A front-end write: CheckActive, then kTempFail while the bucket's writes are fenced or the
  // vbucket is being taken over.
  Status CheckWritable() const REQUIRES_SHARED(state_lock_);
  // Has the bucket read version `seqno` of `key` from disk (0: its tombstone, see LoadTombstone)
  // and notify `waiter`. Returns kWouldBlock, the operation's answer meanwhile.
  Status BgFetch(std::string_view key, uint64_t seqno, const Waiter& waiter);
  // Write admission: TempFail when memory is above the mutation threshold.
  Status CheckMemoryForWrite(size_t value_size) const;
  void NotifyQueued(uint64_t seqno) const;
  uint32_t Now() const { return ctx_.clock->WallSeconds(); }

  // ---- constant after construction ----
  const Vbid id_;
  const VBucketContext ctx_;

  // ---- self-synchronised members ----
  HashTable ht_;
  CheckpointManager checkpoints_;
  FailoverTable failover_;
  HybridLogicalClock hlc_;

  // Held shared by every document operation and exclusively by SetState, so no write lands in a
  // vbucket after it stopped being active.
  mutable SharedMutex state_lock_;
  std::atomic<VBucketState> state_;
  std::atomic<bool> takeover_{false};  // SetTakeover; written under state_lock_ (exclusive)
  // Written under state_lock_ (exclusive) by SetState; read by stats, the flusher and the
  // cluster config without it.
  mutable Mutex topology_mu_;
  VBucketTopology topology_ GUARDED_BY(topology_mu_);

  // ---- atomics: independent values read without locks by stats and the front end ----
  std::atomic<uint64_t> persisted_seqno_;
  std::atomic<uint64_t> synced_seqno_;
  // The highest persistToMajority prepare applied as a replica: the flusher syncs until
  // synced_seqno_ covers it (HasPersistenceWaiters), as the prepare's acknowledgement waits for.
  std::atomic<uint64_t> replica_sync_wanted_{0};
  std::atomic<uint64_t> persisted_snap_start_;
  std::atomic<uint64_t> persisted_snap_end_;
  std::atomic<uint64_t> purge_seqno_;
  std::atomic<uint64_t> max_deleted_rev_seqno_;
  std::atomic<bool> flush_pending_{false};
  // Persisted tombstones dropped from the hash table so far: LoadTombstone inserts what it read
  // from disk only if this did not move meanwhile (else the disk changed under it).
  std::atomic<uint64_t> tombstones_dropped_{0};
  // The store may hold a key the hash table does not know: a tombstone persisted and then
  // dropped from memory, or found by warmup. Until then a key new to the hash table is new to
  // the store too, and the flusher need not look up its previous version. Never cleared.
  std::atomic<bool> disk_may_hide_keys_{false};
  std::atomic<size_t> evict_stripe_{0};  // where EvictValues resumes
  mutable std::atomic<uint64_t> ops_create_{0};
  mutable std::atomic<uint64_t> ops_update_{0};
  mutable std::atomic<uint64_t> ops_delete_{0};
  mutable std::atomic<uint64_t> ops_get_{0};
  mutable std::atomic<uint64_t> ops_reject_{0};

  // ---- SyncWrites: lock order stripe lock -> prepare_mu_ -> the monitor's lock ----
  ActiveDurabilityMonitor adm_;
  mutable Mutex prepare_mu_;
  absl::flat_hash_map<std::string, PendingPrepare, StringViewHash, StringViewEq> prepares_
      GUARDED_BY(prepare_mu_);
  // prepares_.size(), stored under prepare_mu_ after each change, so a writer holding a key's
  // stripe lock can skip prepare_mu_ when there is none: a prepare of that key was added under
  // the same stripe lock, so its count is visible (a count of another key's prepare may not be,
  // which does not matter). The common case of a vbucket without SyncWrites takes no lock.
  std::atomic<size_t> num_prepares_{0};
  void CountPreparesLocked() REQUIRES(prepare_mu_) {
    num_prepares_.store(prepares_.size(), std::memory_order_relaxed);
  }

  // ---- replication: the snapshot the replica is in (see ReplicaResumePoint) ----
  mutable Mutex replica_mu_;
  uint64_t replica_snap_start_ GUARDED_BY(replica_mu_) = 0;
  uint64_t replica_snap_end_ GUARDED_BY(replica_mu_) = 0;
  std::atomic<uint64_t> rollback_resets_{0};
  std::atomic<uint64_t> rollback_item_count_{0};

  // ---- persistence waiters ----
  mutable Mutex waiters_mu_;
  std::vector<std::pair<uint64_t, Waiter>> persistence_waiters_ GUARDED_BY(waiters_mu_);
};

}  // namespace sluice::engine
