// File: engine/bucket.h
//
// Bucket: the storage engine of one named bucket — its vbuckets, its KVStore, its flushers and
// background tasks — and the document API the front end calls.
//
// Life cycle:
//   Bucket::Open()  opens the store, warms up (every vbucket's state, failover log and documents;
//                   after an unclean stop each vbucket gets a new failover entry at its persisted
//                   high seqno), starts the flushers, expiry pager, item pager and checkpoint
//                   remover. A fresh data directory gets max_vbuckets active vbuckets.
//   Shutdown()      stops the background tasks, persists every outstanding write, writes the
//                   clean-shutdown marker and closes the store. Destroying a bucket without
//                   Shutdown() drops unpersisted writes, exactly like a crash (tests use that).
//
// Ownership: shared_ptr (Open returns one). The server owns it; background tasks hold a weak_ptr
// (a queued task must not keep a closed bucket alive) and promote it once per run, so the last
// reference may be dropped on an executor thread: the destructor takes no lock of another object
// and never waits for a task. The executor and clock are borrowed and must outlive the bucket.
//
// Thread safety: thread-safe. Document operations come from network threads; tasks run on the
// executor's groups.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/status.h"
#include "engine/bg_fetch_queue.h"
#include "engine/engine_stats.h"
#include "engine/engine_types.h"
#include "engine/flusher.h"
#include "engine/vbucket.h"
#include "engine/vbucket_map.h"
#include "executor/executor.h"
#include "storage/kvstore.h"

namespace sluice::engine {

struct BucketOptions {
  std::string name = "default";
  std::string data_dir;  // the bucket's files live in <data_dir>/<name>
  Config config;
  executor::Executor* executor = nullptr;
  const Clock* clock = Clock::Real();
  // Test seam: given the opened store, returns the store the bucket uses (tests wrap it in a
  // storage::FaultInjectingKVStore). Production code leaves it empty.
  std::function<std::unique_ptr<storage::KVStore>(std::unique_ptr<storage::KVStore>)> wrap_store;
};

struct WarmupStats {
  uint64_t vbuckets = 0;
  uint64_t documents = 0;
  uint64_t values_loaded = 0;
  uint64_t duration_ms = 0;
  bool clean_shutdown = false;
  bool fresh = false;
};

// What DCP needs to hear from the engine. Called on the thread that made the change, without any
// vbucket lock held; implementations must be cheap and must not block or call back into the
// bucket's vbucket lifecycle methods.
class SeqnoListener {
 public:
  virtual ~SeqnoListener() = default;
  // vbid queued a change with this seqno (every write).
  virtual void OnSeqnoAdvanced(Vbid vbid, uint64_t seqno) = 0;
  // vbid changed state (SET_VBUCKET) or was deleted (`deleted`, state is then kDead): streams on
  // it must end.
  virtual void OnVBucketStateChanged(Vbid vbid, VBucketState state, bool deleted) = 0;
};

// What the front end needs to hear when the vbucket map changes: a vbucket was created or
// deleted, or its state or topology changed (config_revision() moved), so that the cluster
// config can be pushed to clients. Called on the thread that made the change, after it is
// visible and without any bucket lock held; implementations must be cheap and must not block.
// Two hooks hear vbucket map changes for now: this listener (one, told after the change without
// any lock: the front end's cluster-config pushes) and the VBucketStateObservers below (several,
// weak, told under the lifecycle lock: the replicator's sources). To be folded into one.
class VBucketMapListener {
 public:
  virtual ~VBucketMapListener() = default;
  virtual void OnVBucketMapChanged() = 0;
};

// Told that the vbucket map changed (a state change, a creation, a deletion, a reset), after it
// happened. Called with the bucket's vbucket-lifecycle lock held: an implementation only notes
// the change (e.g. wakes a task) and never calls back into the bucket or waits.
class VBucketStateObserver {
 public:
  virtual ~VBucketStateObserver() = default;
  virtual void OnVBucketStatesChanged() = 0;
};

// Told on the flusher's thread that a replica vbucket's fsynced seqno moved while it held a
// persistToMajority prepare above the old one (kv_engine: the flusher notifies the passive
// durability monitor), so that its seqno acknowledgement goes out without polling. Called with
// no bucket lock held; an implementation only wakes whoever acknowledges, never waits.
class ReplicaPersistenceObserver {
 public:
  virtual ~ReplicaPersistenceObserver() = default;
  virtual void OnReplicaSynced(Vbid vb) = 0;
};

// What Bucket::RollbackVBucket did.
struct VBucketRollback {
  uint64_t seqno = 0;  // the seqno reached (<= the one asked for)
  uint64_t items_rolled_back = 0;
  std::shared_ptr<VBucket> vb;  // the vbucket that replaced the rolled-back one
};

class Bucket final : public VBucketListener, public std::enable_shared_from_this<Bucket> {
 public:
  static StatusOr<std::shared_ptr<Bucket>> Open(BucketOptions options);
  ~Bucket() override;
  Bucket(const Bucket&) = delete;
  Bucket& operator=(const Bucket&) = delete;

  Status Shutdown();

  const std::string& name() const { return options_.name; }
  const Config& config() const { return options_.config; }
  size_t num_vbuckets() const { return vbuckets_.size(); }
  const WarmupStats& warmup_stats() const { return warmup_; }
  EngineStats& stats() { return stats_; }
  storage::KVStore& store() { return *store_; }
  executor::Executor& executor() { return *options_.executor; }
  const Clock& clock() const { return *options_.clock; }

  // The vbucket, or null if it does not exist.
  std::shared_ptr<VBucket> GetVBucket(Vbid vbid) const { return vbuckets_.Get(vbid); }

  // ---- documents: kNotMyVbucket if vbid is missing or not active ----
  // include_deleted: a tombstone is a result too (VBucket::Get). from kReplica: GET_REPLICA
  // (the vbucket must be a replica instead).
  StatusOr<GetResult> Get(Vbid vbid, std::string_view key, const Waiter& waiter,
                          bool include_deleted = false, ReadFrom from = ReadFrom::kActive);
  StatusOr<GetResult> GetMeta(Vbid vbid, std::string_view key);
  StatusOr<MutationResult> Store(Vbid vbid, const StoreRequest& req);
  // kWouldBlock (waiter notified later) only for an evicted document with xattrs.
  // `sync` (here, in AppendPrepend, and StoreRequest::sync / ArithmeticRequest::sync): a
  // SyncWrite, queued as a prepare (VBucket, "SyncWrites").
  StatusOr<MutationResult> Delete(Vbid vbid, std::string_view key, uint64_t cas,
                                  const Waiter& waiter = {}, const SyncWriteSpec* sync = nullptr);
  StatusOr<ArithmeticResult> Arithmetic(Vbid vbid, const ArithmeticRequest& req,
                                        const Waiter& waiter);
  StatusOr<MutationResult> AppendPrepend(Vbid vbid, std::string_view key, std::string_view data,
                                         bool append, uint64_t cas, const Waiter& waiter,
                                         const SyncWriteSpec* sync = nullptr);
  StatusOr<GetResult> Touch(Vbid vbid, std::string_view key, uint32_t expiry, bool fetch,
                            const Waiter& waiter);
  // The vbucket's HLC (subdoc's $vbucket); kNotMyVbucket if it does not exist.
  StatusOr<HlcNow> GetHlcNow(Vbid vbid) const;
  // Notify `waiter` once `seqno` of vbid is persisted.
  Status WaitForPersistence(Vbid vbid, uint64_t seqno, const Waiter& waiter);
  // DCP_SEQNO_ACKNOWLEDGED: node `node` holds vbid's prepares up to `seqno` (its durability
  // monitor may commit some). kNotMyVbucket unless vbid is active here.
  Status SeqnoAcknowledged(Vbid vbid, const std::string& node, uint64_t seqno);

  // ---- vbuckets ----
  // SET_VBUCKET: creates the vbucket if missing (with a new failover entry), or changes its
  // state and topology (VBucket::SetState: `meta` is the request's vbucket meta, nullopt for
  // none). kInvalid for a topology with a state other than active or one that breaks the rules
  // (common/vbucket_topology.h); kRange for a vbid out of range (kv_engine's ERANGE).
  Status SetVBucketState(Vbid vbid, VBucketState state,
                         const std::optional<VBucketTopology>& meta = std::nullopt);
  StatusOr<VBucketState> GetVBucketState(Vbid vbid) const;
  // The vbucket's topology (empty if it has none); kNotMyVbucket if it does not exist.
  StatusOr<VBucketTopology> GetVBucketTopology(Vbid vbid) const;
  // VBucket::SetTakeover / takeover() of `vbid`; kNotMyVbucket when the bucket has no such vbucket.
  Status SetVBucketTakeover(Vbid vbid, bool takeover);
  StatusOr<bool> GetVBucketTakeover(Vbid vbid) const;
  // DEL_VBUCKET: removes the vbucket and its data, whatever its state (kv_engine marks it dead
  // first: its DCP streams end). kNotMyVbucket if it does not exist.
  Status DeleteVBucket(Vbid vbid);
  // Persists every outstanding change (documents and vbucket states) now, beside the flusher
  // tasks; for start-up steps that must be on disk before they are recorded elsewhere.
  Status PersistAll();
  // A replica's rollback beyond its history (bucket_replica.cc): the vbucket is replaced by an
  // empty one in the same state (its documents and state record removed from disk, a fresh
  // failover log), so that its passive stream copies it again from 0. DCP streams on it end as
  // for a deletion. Counted (ep_rollback_resets, vb_N:rollback_resets). Returns the new
  // vbucket; kNotMyVbucket if vbid does not exist or is not a replica (or pending).
  StatusOr<std::shared_ptr<VBucket>> ResetVBucket(Vbid vbid);
  // A replica's rollback within its history (bucket_replica.cc; storage/kvstore.h "History"):
  // persists what the vbucket holds, rolls its disk back to the newest commit boundary at or
  // below `seqno` (KVStore::Rollback), then replaces the vbucket by one rebuilt from disk (hash
  // table, prepares, high seqno, snapshot range, failover log without the entries above it). DCP
  // streams on it end as for a deletion. Counted (ep_rollback_count, rollback_item_count,
  // vb_N:rollback_item_count) and logged. kNotFound when the history does not reach back that
  // far (or is disabled), or when the rollback would discard at least half of the vbucket's
  // items on disk (kv_engine's midpoint rule, Config::midpoint_rollback_optimisation): the caller
  // resets instead (ResetVBucket; the status's message says which). kNotMyVbucket as
  // ResetVBucket; a storage error as is (nothing changed).
  StatusOr<VBucketRollback> RollbackVBucket(Vbid vbid, uint64_t seqno);
  // (vbid, high seqno) of vbuckets in `state` (nullopt = all alive ones), ascending vbid.
  std::vector<std::pair<Vbid, uint64_t>> GetAllVbSeqnos(std::optional<VBucketState> state) const;
  StatusOr<ObserveSeqnoResult> ObserveSeqno(Vbid vbid, uint64_t uuid) const;
  StatusOr<std::vector<FailoverEntry>> GetFailoverLog(Vbid vbid) const;

  // ---- stats ----
  // group: "" (default), "vbucket", "vbucket-details [vb]", "vbucket-seqno [vb]",
  // "failovers [vb]", "checkpoint [vb]", "memory". kNotFound for an unknown group.
  Status GetStats(std::string_view group, const AddStatFn& add) const;
  int64_t MemUsed() const override;
  uint64_t QueueSize() const;  // ep_queue_size: writes not yet persisted

  // ---- write fence ----
  // While fenced, front-end writes to active vbuckets (store, delete, arithmetic, append/prepend,
  // touch) answer kTempFail; reads, replication and vbucket state changes go on. The node agent
  // fences while its cluster membership is not confirmed (docs/cluster.md, "The states of a
  // node"). Any thread.
  void SetWritesFenced(bool fenced) { writes_fenced_.store(fenced, std::memory_order_relaxed); }
  // Writes are also fenced from `until` on (steady clock), whatever SetWritesFenced says: the
  // local expiry of the etcd lease the node's claim on its actives rests on, moved forward by
  // each renewal etcd confirmed. Checked at each write, so a process that was stopped (SIGSTOP,
  // a long pause) past it refuses its first write after resuming, before any thread of its own
  // has noticed the loss. Default: never. Any thread.
  void SetWritesValidUntil(std::chrono::steady_clock::time_point until) {
    writes_valid_until_.store(until.time_since_epoch().count(), std::memory_order_relaxed);
  }
  bool WritesFenced() const override {
    return writes_fenced_.load(std::memory_order_relaxed) ||
           std::chrono::steady_clock::now().time_since_epoch().count() >=
               writes_valid_until_.load(std::memory_order_relaxed);
  }

  // Changes whenever the vbucket map changes (a state change, creation or deletion), so the
  // cluster config's "rev" moves and clients refetch it.
  uint64_t config_revision() const { return config_revision_.load(std::memory_order_relaxed); }

  // Adds an observer of vbucket state changes (e.g. the replicator's topology source). Weak:
  // the observer's owner may go away before the bucket; expired ones are skipped.
  void AddStateObserver(std::weak_ptr<VBucketStateObserver> observer);
  // Sets the one observer of replica persistence (the replicator). Weak: the replicator stops and
  // goes before the bucket's flushers do.
  void SetReplicaPersistenceObserver(std::weak_ptr<ReplicaPersistenceObserver> observer);

  // ---- DCP hook ----
  // At most one listener; set it before serving traffic and clear it before it is destroyed.
  void SetSeqnoListener(SeqnoListener* listener) { seqno_listener_.store(listener); }
  // The cluster config's hook, with the same rules.
  void SetVBucketMapListener(VBucketMapListener* listener) { map_listener_.store(listener); }

  // While one exists on a thread, the flusher wake-ups of that thread's writes to this bucket
  // wait until it is destroyed (the writes are queued for persistence at once). The replicator
  // applies a batch of messages and writes its acknowledgements first: waking a writer thread
  // per message put a syscall and a competing thread before each SyncWrite's acknowledgement.
  // Not nested; keep it short (persistence waits for it).
  class DeferFlusherWakes {
   public:
    explicit DeferFlusherWakes(Bucket& bucket);
    ~DeferFlusherWakes();
    DeferFlusherWakes(const DeferFlusherWakes&) = delete;
    DeferFlusherWakes& operator=(const DeferFlusherWakes&) = delete;

   private:
    friend class Bucket;
    Bucket& bucket_;
    std::vector<bool> shards_;  // by flusher: a write queued a vbucket without waking it
  };

  // ---- VBucketListener ----
  void OnQueued(VBucket& vb, uint64_t seqno) override;
  void OnSyncWriteTracked(VBucket& vb) override;
  void OnReplicaSynced(VBucket& vb) override;
  // Queues the fetch (BgFetchQueue); a reader task drains the queue.
  void ScheduleBgFetch(Vbid vbid, std::string key, uint64_t seqno, Waiter waiter) override;

  // ---- for the background tasks (called with a promoted shared_ptr) ----
  Flusher& flusher_for(Vbid vbid) { return *flushers_[vbid % flushers_.size()]; }
  void RunItemPager();
  // One slice of a bg_fetch drainer: a few queued fetches done and their waiters told. False once
  // the queue was empty (the drainer has ended).
  bool RunBgFetches();
  void RunExpiryPager();
  // Aborts the SyncWrites whose durability timeout passed (kv_engine's durability timeout task).
  // Returns whether some remain tracked (the task then runs again soon, else sleeps until
  // OnSyncWriteTracked wakes it).
  bool RunDurabilityTimeouts();
  // Frees unreferenced closed checkpoints and, over the recovery upper mark, drops slow DCP
  // cursors. Returns true if checkpoint memory is still over the upper mark afterwards (what
  // remains is pinned by the persistence cursor: the flusher is behind). Writers' wakes are then
  // ignored until the next run, kRemoverRetry later: waking it on every write would spin the
  // nonio thread over every vbucket while freeing nothing.
  bool RunCheckpointRemover();
  static constexpr std::chrono::milliseconds kRemoverRetry{100};
  // How often SyncWrite timeouts are checked (kv_engine's durability_timeout_task_interval).
  static constexpr std::chrono::milliseconds kDurabilityTimeoutInterval{25};

 private:
  explicit Bucket(BucketOptions options);
  Status Warmup();
  // Loads vb's documents and prepares from disk into it (warmup, a rollback). Values while
  // memory is below the low watermark. Counts into *documents and *values when not null.
  Status LoadFromDisk(VBucket& vb, uint64_t* documents, uint64_t* values);
  void StartTasks();
  void CancelTasks();
  std::shared_ptr<VBucket> MakeVBucket(Vbid vbid, const storage::VBucketStateRecord& state);
  StatusOr<std::shared_ptr<VBucket>> ActiveVBucket(Vbid vbid) const;
  // Tells the state observers (bucket_replica.cc). REQUIRES lifecycle_mu_ held.
  void NotifyStateObservers();
  // Wakes the item pager (once until it runs) when memory use is above the high watermark.
  void WakeItemPagerIfOverHighWatermark();
  // config_revision_ moves and the map listener hears it. Call without lifecycle_mu_ held.
  void VBucketMapChanged();
  // Reads one fetch's value from disk into its vbucket: what its waiter is told.
  Status BgFetchOne(const BgFetchQueue::Fetch& fetch);

  // ---- constant after Open ----
  const BucketOptions options_;
  VBucketContext vb_context_;
  std::unique_ptr<storage::KVStore> store_;
  std::vector<std::unique_ptr<Flusher>> flushers_;
  WarmupStats warmup_;

  // ---- self-synchronised ----
  EngineStats stats_;
  VBucketMap vbuckets_;
  std::atomic<SeqnoListener*> seqno_listener_{nullptr};
  std::atomic<VBucketMapListener*> map_listener_{nullptr};
  std::atomic<bool> shut_down_{false};
  std::atomic<bool> writes_fenced_{false};
  std::atomic<std::chrono::steady_clock::rep> writes_valid_until_{
      std::chrono::steady_clock::time_point::max().time_since_epoch().count()};
  std::atomic<bool> pager_wake_pending_{false};
  std::atomic<bool> remover_wake_pending_{false};
  std::atomic<uint64_t> config_revision_{1};
  // Drained by at most num_reader_threads bg_fetch tasks at a time.
  BgFetchQueue bg_fetches_{options_.config.num_reader_threads};

  // Serialises vbucket creation and deletion (SET_VBUCKET / DEL_VBUCKET).
  Mutex lifecycle_mu_;

  Mutex observers_mu_ ACQUIRED_AFTER(lifecycle_mu_);
  std::vector<std::weak_ptr<VBucketStateObserver>> state_observers_ GUARDED_BY(observers_mu_);
  std::weak_ptr<ReplicaPersistenceObserver> persistence_observer_ GUARDED_BY(observers_mu_);

  // Background tasks other than the flushers'; set in StartTasks, cancelled in CancelTasks.
  Mutex tasks_mu_;
  std::vector<std::shared_ptr<executor::Task>> tasks_ GUARDED_BY(tasks_mu_);
  std::shared_ptr<executor::Task> item_pager_ GUARDED_BY(tasks_mu_);
  std::shared_ptr<executor::Task> checkpoint_remover_ GUARDED_BY(tasks_mu_);
  std::shared_ptr<executor::Task> durability_timeouts_ GUARDED_BY(tasks_mu_);
  // The durability timeout task is parked (or about to be) until a SyncWrite is tracked: the
  // first OnSyncWriteTracked to clear it wakes the task.
  std::atomic<bool> durability_task_parked_{true};
};

}  // namespace sluice::engine
