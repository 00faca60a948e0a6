#include "engine/bucket.h"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>

#include "common/clock.h"
#include "common/logging.h"

namespace sluice::engine {
namespace {

CheckpointConfig MakeCheckpointConfig(const Config& c) {
  CheckpointConfig cc;
  cc.max_checkpoints = c.max_checkpoints;
  if (c.checkpoint_max_size != 0) {
    cc.max_size_bytes = c.checkpoint_max_size;
  } else {
    const double quota = static_cast<double>(c.max_size) * c.checkpoint_memory_ratio;
    const double per = quota / static_cast<double>(c.max_vbuckets * c.max_checkpoints);
    cc.max_size_bytes = std::max<size_t>(256 << 10, static_cast<size_t>(per));
  }
  return cc;
}

}  // namespace

Bucket::Bucket(BucketOptions options)
    : options_(std::move(options)), vbuckets_(options_.config.max_vbuckets) {
  vb_context_.config = &options_.config;
  vb_context_.clock = options_.clock;
  vb_context_.stats = &stats_;
  vb_context_.listener = this;
  vb_context_.checkpoint_config = MakeCheckpointConfig(options_.config);
}

StatusOr<std::shared_ptr<Bucket>> Bucket::Open(BucketOptions options) {
  if (options.executor == nullptr) return Status(Errc::kInvalid, "bucket needs an executor");
  RETURN_IF_ERROR(options.config.Validate());
  std::shared_ptr<Bucket> bucket(new Bucket(std::move(options)));
  RETURN_IF_ERROR(bucket->Warmup());
  bucket->StartTasks();
  return bucket;
}

Bucket::~Bucket() {
  CancelTasks();
  if (!shut_down_.load() && store_ != nullptr) {
    const uint64_t lost = QueueSize();
    if (lost != 0)
      LOG_WARN("bucket {} closed without shutdown: {} writes not persisted", name(), lost);
    store_->Close().IgnoreError();  // nothing more to do on failure; the WAL has the commits
  }
}

std::shared_ptr<VBucket> Bucket::MakeVBucket(Vbid vbid, const storage::VBucketStateRecord& state) {
  return std::make_shared<VBucket>(vbid, state, vb_context_);
}

Status Bucket::Warmup() {
  const auto start = std::chrono::steady_clock::now();
  const std::string dir = options_.data_dir + "/" + options_.name;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status(Errc::kIoError, fmt::format("cannot create {}: {}", dir, ec.message()));

  storage::RocksDBOptions ropts;
  ropts.block_cache_size = options_.config.rocksdb_block_cache_size;
  ropts.write_buffer_size = options_.config.rocksdb_write_buffer_size;
  ropts.history_retention_bytes = options_.config.history_retention_bytes;
  ropts.history_retention_seconds = options_.config.history_retention_seconds;
  ropts.midpoint_rollback_optimisation = options_.config.midpoint_rollback_optimisation;
  ASSIGN_OR_RETURN(store_, storage::OpenRocksDBKVStore(dir, ropts));
  if (options_.wrap_store) store_ = options_.wrap_store(std::move(store_));
  for (size_t shard = 0; shard < options_.config.max_num_shards; ++shard) {
    flushers_.push_back(std::make_unique<Flusher>(shard, &vbuckets_, store_.get(), &stats_,
                                                  &options_.config, options_.clock));
  }

  ASSIGN_OR_RETURN(auto states, store_->LoadVBucketStates());
  ASSIGN_OR_RETURN(const bool clean, store_->HasCleanShutdownMarker());
  for (const auto& [vbid, state] : states) {
    if (vbid >= vbuckets_.size()) {
      return Status(Errc::kInvalid,
                    fmt::format("data directory {} holds vbucket {} but max_vbuckets is {}; "
                                "the vbucket count is fixed for the life of a data directory",
                                dir, vbid, vbuckets_.size()));
    }
  }
  RETURN_IF_ERROR(store_->SetCleanShutdownMarker(false));

  warmup_.fresh = states.empty();
  warmup_.clean_shutdown = clean;
  storage::FlushBatch state_batch;
  if (warmup_.fresh) {
    for (size_t i = 0; i < vbuckets_.size(); ++i) {
      const auto vbid = static_cast<Vbid>(i);
      storage::VBucketStateRecord rec;
      rec.state = VBucketState::kActive;
      auto vb = MakeVBucket(vbid, rec);
      rec.failover = vb->failover_table().Entries();
      state_batch.SetState(vbid, rec);
      vbuckets_.Set(vbid, std::move(vb));
    }
  } else {
    for (auto& [vbid, rec] : states) {
      auto vb = MakeVBucket(vbid, rec);
      if (!clean && rec.state == VBucketState::kActive) {
        // Anything a client saw after the last persisted seqno may be gone: start a new branch.
        // Not for a replica (kv_engine): its history is its producer's, which it resumes with.
        vb->failover_table().CreateEntry(rec.high_seqno);
        rec.failover = vb->failover_table().Entries();
        state_batch.SetState(vbid, rec);
      }
      vbuckets_.Set(vbid, std::move(vb));
    }
  }
  if (!state_batch.empty()) RETURN_IF_ERROR(store_->Commit(state_batch, /*sync=*/true));

  // Documents: one seqno-ordered scan per vbucket. Values are loaded while memory allows.
  for (const auto& vb : vbuckets_.All()) {
    ++warmup_.vbuckets;
    RETURN_IF_ERROR(LoadFromDisk(*vb, &warmup_.documents, &warmup_.values_loaded));
  }
  for (const auto& vb : vbuckets_.All()) vb->WarmupComplete();
  warmup_.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::steady_clock::now() - start)
                            .count();
  LOG_INFO("bucket {}: warmup of {} vbuckets, {} documents ({} values) in {} ms ({} shutdown)",
           name(), warmup_.vbuckets, warmup_.documents, warmup_.values_loaded, warmup_.duration_ms,
           warmup_.fresh ? "fresh" : (clean ? "after a clean" : "after an unclean"));
  return Status::Ok();
}

Status Bucket::LoadFromDisk(VBucket& vb, uint64_t* documents, uint64_t* values) {
  if (vb.high_seqno() == 0) return Status::Ok();
  const int64_t value_limit = static_cast<int64_t>(options_.config.MemLowWatBytes());
  ASSIGN_OR_RETURN(auto scan,
                   store_->OpenSeqnoScan(vb.id(), 1, UINT64_MAX, {.include_prepares = true}));
  bool done = false;
  while (!done) {
    RETURN_IF_ERROR(scan->Scan(
        [&](storage::DiskDoc&& doc) {
          const bool with_value = MemUsed() < value_limit;
          if (!doc.deleted && !doc.prepared) {
            if (documents != nullptr) ++*documents;
            if (with_value && values != nullptr) ++*values;
          }
          vb.WarmupLoad(std::move(doc), with_value);
          return storage::ScanControl::kContinue;
        },
        &done));
  }
  return Status::Ok();
}

void Bucket::StartTasks() {
  using executor::MakeTask;
  using executor::Task;
  using executor::TaskGroup;
  // Weak: a queued task must not keep a closed bucket alive.
  std::weak_ptr<Bucket> weak = weak_from_this();
  const Config& c = options_.config;

  for (size_t shard = 0; shard < flushers_.size(); ++shard) {
    auto task =
        MakeTask(TaskGroup::kWriter, fmt::format("flusher:{}", shard), [weak, shard](Task& self) {
          auto bucket = weak.lock();
          if (!bucket) return false;
          return bucket->flushers_[shard]->RunTask(self);
        });
    flushers_[shard]->SetTask(task);
    options_.executor->Schedule(std::move(task));
  }

  auto item_pager = MakeTask(TaskGroup::kNonIO, "item_pager", [weak](Task& self) {
    auto bucket = weak.lock();
    if (!bucket) return false;
    bucket->RunItemPager();
    self.Snooze(std::chrono::duration_cast<Duration>(
        std::chrono::duration<double, std::milli>(bucket->config().pager_sleep_time_ms)));
    return true;
  });
  auto remover = MakeTask(TaskGroup::kNonIO, "checkpoint_remover", [weak](Task& self) {
    auto bucket = weak.lock();
    if (!bucket) return false;
    const bool still_over = bucket->RunCheckpointRemover();
    const Duration stime = Seconds(bucket->config().chk_remover_stime);
    self.Snooze(still_over ? std::min<Duration>(stime, kRemoverRetry) : stime);
    return true;
  });
  auto durability = MakeTask(TaskGroup::kNonIO, "durability_timeout", [weak](Task& self) {
    auto bucket = weak.lock();
    if (!bucket) return false;
    // Parked from before the scan: a SyncWrite tracked from now on wakes the task (a wake during
    // this run runs it again), so none can be missed by the park below.
    bucket->durability_task_parked_.store(true);
    if (bucket->RunDurabilityTimeouts()) {
      bucket->durability_task_parked_.store(false);  // the periodic runs watch the new ones too
      self.Snooze(kDurabilityTimeoutInterval);
    } else {
      self.SnoozeForever();
    }
    return true;
  });
  durability->SnoozeForever();
  std::vector<std::shared_ptr<Task>> to_schedule = {item_pager, remover, durability};
  if (c.exp_pager_enabled) {
    auto expiry = MakeTask(TaskGroup::kNonIO, "expiry_pager", [weak](Task& self) {
      auto bucket = weak.lock();
      if (!bucket) return false;
      bucket->RunExpiryPager();
      self.Snooze(Seconds(bucket->config().exp_pager_stime));
      return true;
    });
    expiry->Snooze(Seconds(c.exp_pager_stime));
    to_schedule.push_back(expiry);
  }
  {
    MutexLock lock(&tasks_mu_);
    tasks_ = to_schedule;
    item_pager_ = item_pager;
    checkpoint_remover_ = remover;
    durability_timeouts_ = durability;
  }
  for (auto& t : to_schedule) options_.executor->Schedule(t);
}

void Bucket::CancelTasks() {
  std::vector<std::shared_ptr<executor::Task>> tasks;
  {
    MutexLock lock(&tasks_mu_);
    tasks.swap(tasks_);
    item_pager_.reset();
    checkpoint_remover_.reset();
    durability_timeouts_.reset();
  }
  for (auto& t : tasks) t->Cancel();
  for (auto& f : flushers_) f->CancelTask();
}

Status Bucket::Shutdown() {
  if (shut_down_.exchange(true)) return Status::Ok();
  CancelTasks();
  Status result;
  for (auto& f : flushers_) {
    Status s = f->FlushAll();
    if (!s.ok()) result = s;
  }
  if (result.ok()) {
    result = store_->SetCleanShutdownMarker(true);
  } else {
    LOG_ERROR("bucket {}: shutdown could not persist every write: {}", name(), result.ToString());
  }
  Status closed = store_->Close();
  if (result.ok()) result = closed;
  LOG_INFO("bucket {}: shut down ({})", name(), result.ToString());
  return result;
}

int64_t Bucket::MemUsed() const {
  return stats_.ht_memory.load(std::memory_order_relaxed) +
         stats_.checkpoint_memory.load(std::memory_order_relaxed);
}

uint64_t Bucket::QueueSize() const {
  uint64_t n = 0;
  for (const auto& vb : vbuckets_.All()) n += vb->DirtyQueueSize();
  return n;
}

namespace {
// This thread's Bucket::DeferFlusherWakes, if any.
thread_local Bucket::DeferFlusherWakes* t_defer_flusher_wakes = nullptr;
}  // namespace

Bucket::DeferFlusherWakes::DeferFlusherWakes(Bucket& bucket)
    : bucket_(bucket), shards_(bucket.flushers_.size(), false) {
  t_defer_flusher_wakes = this;
}

Bucket::DeferFlusherWakes::~DeferFlusherWakes() {
  t_defer_flusher_wakes = nullptr;
  for (size_t i = 0; i < shards_.size(); ++i) {
    if (shards_[i]) bucket_.flushers_[i]->WakeTask();
  }
}

void Bucket::OnQueued(VBucket& vb, uint64_t seqno) {
  // DCP first: a replica's copy (and a SyncWrite's acknowledgement) waits on the producer's
  // wake-up, persistence does not.
  if (seqno != 0) {
    if (SeqnoListener* l = seqno_listener_.load(std::memory_order_acquire)) {
      l->OnSeqnoAdvanced(vb.id(), seqno);
    }
  }
  if (DeferFlusherWakes* defer = t_defer_flusher_wakes;
      defer != nullptr && &defer->bucket_ == this) {
    flusher_for(vb.id()).QueueDirty(vb);
    defer->shards_[vb.id() % flushers_.size()] = true;
  } else {
    flusher_for(vb.id()).NotifyDirty(vb);
  }
  WakeItemPagerIfOverHighWatermark();
  const Config& c = options_.config;
  const double ckpt_quota = static_cast<double>(c.max_size) * c.checkpoint_memory_ratio;
  if (static_cast<double>(stats_.checkpoint_memory.load(std::memory_order_relaxed)) >
          ckpt_quota * c.checkpoint_memory_recovery_upper_mark &&
      !remover_wake_pending_.exchange(true)) {
    std::shared_ptr<executor::Task> remover;
    {
      MutexLock lock(&tasks_mu_);
      remover = checkpoint_remover_;
    }
    if (remover) remover->Wake();
  }
}

void Bucket::WakeItemPagerIfOverHighWatermark() {
  if (MemUsed() > static_cast<int64_t>(options_.config.MemHighWatBytes()) &&
      !pager_wake_pending_.exchange(true)) {
    std::shared_ptr<executor::Task> pager;
    {
      MutexLock lock(&tasks_mu_);
      pager = item_pager_;
    }
    if (pager) pager->Wake();
  }
}

void Bucket::ScheduleBgFetch(Vbid vbid, std::string key, uint64_t seqno, Waiter waiter) {
  if (!bg_fetches_.Push({vbid, std::move(key), seqno, std::move(waiter)})) return;
  std::weak_ptr<Bucket> weak = weak_from_this();  // weak: see StartTasks
  options_.executor->Schedule(
      executor::MakeTask(executor::TaskGroup::kReader, "bg_fetch", [weak](executor::Task&) {
        // Without the bucket the queue is gone too, and it answered its waiters.
        auto bucket = weak.lock();
        return bucket ? bucket->RunBgFetches() : false;
      }));
}

bool Bucket::RunBgFetches() {
  // A slice of a few fetches, then the task yields its reader thread (backfills share them).
  constexpr size_t kBgFetchBatch = 32;
  std::vector<BgFetchQueue::Fetch> batch = bg_fetches_.Take(kBgFetchBatch);
  for (BgFetchQueue::Fetch& fetch : batch) {
    const Status status = BgFetchOne(fetch);
    if (auto w = fetch.waiter.lock()) w->NotifyIoComplete(status);
  }
  return !batch.empty();
}

Status Bucket::BgFetchOne(const BgFetchQueue::Fetch& fetch) {
  auto vb = GetVBucket(fetch.vbid);
  if (!vb) return Status::Ok();  // the GET runs again and answers NOT_MY_VBUCKET
  if (fetch.seqno == 0) {
    // VBucket::Get(include_deleted) of a key memory does not hold.
    Status status = vb->LoadTombstone(*store_, fetch.key);
    if (!status.ok() && status.code() != Errc::kInternal) {
      status = Status(Errc::kTempFail, status.ToString());
    }
    return status;
  }
  // The hash table knows where the ejected value lives: one `seq` read. Were that version gone
  // (replaced on disk meanwhile), read the key's latest one instead.
  auto doc = store_->GetAtSeqno(fetch.vbid, fetch.seqno, fetch.key);
  if (!doc.ok() && doc.status().code() == Errc::kNotFound) doc = store_->Get(fetch.vbid, fetch.key);
  if (!doc.ok()) {
    return doc.status().code() == Errc::kNotFound
               ? Status::Ok()
               : Status(Errc::kTempFail, doc.status().ToString());
  }
  vb->BgFetchCompleted(fetch.key, fetch.seqno, *doc);
  // A restored value takes memory like a write does: reads alone must not push memory past the
  // quota while the pager sleeps.
  WakeItemPagerIfOverHighWatermark();
  // Past the level where writes get TMPFAIL the pager is lagging (a busy machine): free memory
  // here, so that reads cannot outrun it towards the quota.
  const Config& c = config();
  if (static_cast<double>(MemUsed()) > static_cast<double>(c.max_size) * c.mutation_mem_ratio) {
    RunItemPager();
  }
  return Status::Ok();
}

StatusOr<std::shared_ptr<VBucket>> Bucket::ActiveVBucket(Vbid vbid) const {
  auto vb = vbuckets_.Get(vbid);
  if (!vb) return Errc::kNotMyVbucket;
  return vb;
}

StatusOr<GetResult> Bucket::Get(Vbid vbid, std::string_view key, const Waiter& waiter,
                                bool include_deleted, ReadFrom from) {
  stats_.cmd_get.fetch_add(1, std::memory_order_relaxed);
  ASSIGN_OR_RETURN(auto vb, ActiveVBucket(vbid));
  auto r = vb->Get(key, waiter, include_deleted, from);
  if (r.ok()) {
    stats_.get_hits.fetch_add(1, std::memory_order_relaxed);
  } else if (r.status().code() == Errc::kNotFound) {
    stats_.get_misses.fetch_add(1, std::memory_order_relaxed);
  }
  return r;
}

StatusOr<GetResult> Bucket::GetMeta(Vbid vbid, std::string_view key) {
  ASSIGN_OR_RETURN(auto vb, ActiveVBucket(vbid));
  return vb->GetMeta(key);
}

StatusOr<MutationResult> Bucket::Store(Vbid vbid, const StoreRequest& req) {
  stats_.cmd_set.fetch_add(1, std::memory_order_relaxed);
  ASSIGN_OR_RETURN(auto vb, ActiveVBucket(vbid));
  auto r = vb->Store(req);
  // Refused for memory: make sure the pager runs now rather than at its next period (after a
  // storage fault clears, the values it can evict become clean only when the flusher caught up).
  if (r.status().code() == Errc::kTempFail) WakeItemPagerIfOverHighWatermark();
  return r;
}

StatusOr<MutationResult> Bucket::Delete(Vbid vbid, std::string_view key, uint64_t cas,
                                        const Waiter& waiter, const SyncWriteSpec* sync) {
  ASSIGN_OR_RETURN(auto vb, ActiveVBucket(vbid));
  auto r = vb->Delete(key, cas, waiter, sync);
  if (r.ok()) {
    stats_.delete_hits.fetch_add(1, std::memory_order_relaxed);
  } else if (r.status().code() == Errc::kNotFound) {
    stats_.delete_misses.fetch_add(1, std::memory_order_relaxed);
  }
  return r;
}

StatusOr<ArithmeticResult> Bucket::Arithmetic(Vbid vbid, const ArithmeticRequest& req,
                                              const Waiter& waiter) {
  ASSIGN_OR_RETURN(auto vb, ActiveVBucket(vbid));
  auto r = vb->Arithmetic(req, waiter);
  auto& hits = req.increment ? stats_.incr_hits : stats_.decr_hits;
  auto& misses = req.increment ? stats_.incr_misses : stats_.decr_misses;
  if (r.ok()) {
    hits.fetch_add(1, std::memory_order_relaxed);
  } else if (r.status().code() == Errc::kNotFound) {
    misses.fetch_add(1, std::memory_order_relaxed);
  }
  return r;
}

StatusOr<MutationResult> Bucket::AppendPrepend(Vbid vbid, std::string_view key,
                                               std::string_view data, bool append, uint64_t cas,
                                               const Waiter& waiter, const SyncWriteSpec* sync) {
  stats_.cmd_set.fetch_add(1, std::memory_order_relaxed);
  ASSIGN_OR_RETURN(auto vb, ActiveVBucket(vbid));
  return vb->AppendPrepend(key, data, append, cas, waiter, sync);
}

Status Bucket::SeqnoAcknowledged(Vbid vbid, const std::string& node, uint64_t seqno) {
  ASSIGN_OR_RETURN(auto vb, ActiveVBucket(vbid));
  return vb->SeqnoAcknowledged(node, seqno);
}

bool Bucket::RunDurabilityTimeouts() {
  const SteadyTime now = options_.clock->Now();
  bool tracked = false;
  for (const auto& vb : vbuckets_.All()) tracked |= vb->ProcessDurabilityTimeouts(now);
  return tracked;
}

void Bucket::OnSyncWriteTracked(VBucket& vb) {
  // Only a parked task needs waking: a running or snoozing one sees the write on its next run
  // (waking it per write made it scan every vbucket per write).
  if (!durability_task_parked_.exchange(false)) return;
  std::shared_ptr<executor::Task> task;
  {
    MutexLock lock(&tasks_mu_);
    task = durability_timeouts_;
  }
  if (task) {
    task->Wake();
  } else {
    durability_task_parked_.store(true);  // not started yet: StartTasks' task parks first
  }
}

StatusOr<GetResult> Bucket::Touch(Vbid vbid, std::string_view key, uint32_t expiry, bool fetch,
                                  const Waiter& waiter) {
  ASSIGN_OR_RETURN(auto vb, ActiveVBucket(vbid));
  auto r = vb->Touch(key, expiry, fetch, waiter);
  if (r.ok()) {
    stats_.touch_hits.fetch_add(1, std::memory_order_relaxed);
  } else if (r.status().code() == Errc::kNotFound) {
    stats_.touch_misses.fetch_add(1, std::memory_order_relaxed);
  }
  return r;
}

StatusOr<HlcNow> Bucket::GetHlcNow(Vbid vbid) const {
  auto vb = vbuckets_.Get(vbid);
  if (!vb) return Errc::kNotMyVbucket;
  return vb->hlc_now();
}

Status Bucket::WaitForPersistence(Vbid vbid, uint64_t seqno, const Waiter& waiter) {
  ASSIGN_OR_RETURN(auto vb, ActiveVBucket(vbid));
  if (vb->synced_seqno() >= seqno) return Status::Ok();
  vb->AddPersistenceWaiter(seqno, waiter);
  // Persisted but not yet synced, or not yet queued by a commit in progress: make sure a
  // (synced) flush comes.
  flusher_for(vbid).NotifyDirty(*vb);
  return Errc::kWouldBlock;
}

Status Bucket::SetVBucketState(Vbid vbid, VBucketState state,
                               const std::optional<VBucketTopology>& meta) {
  if (vbid >= vbuckets_.size()) {
    return Status(Errc::kRange, fmt::format("vbucket {} is out of range (max_vbuckets {})", vbid,
                                            vbuckets_.size()));
  }
  if (meta && !meta->empty()) {
    if (state != VBucketState::kActive) {
      return Status(Errc::kInvalid, fmt::format("topology only permitted for state:active, found "
                                                "state:{}",
                                                VBucketStateName(state)));
    }
    RETURN_IF_ERROR(ValidateTopology(*meta));
  }
  {
    MutexLock lock(&lifecycle_mu_);
    if (auto vb = vbuckets_.Get(vbid)) {
      const VBucketState old = vb->state();
      if (!vb->SetState(state, meta)) return Status::Ok();
      if (old != state) {
        if (SeqnoListener* l = seqno_listener_.load(std::memory_order_acquire)) {
          l->OnVBucketStateChanged(vbid, state, /*deleted=*/false);
        }
        NotifyStateObservers();
      }
    } else {
      storage::VBucketStateRecord rec;
      rec.state = state;
      if (meta) rec.topology = *meta;
      auto created = MakeVBucket(vbid, rec);
      vbuckets_.Set(vbid, created);
      LOG_INFO("vb:{} created as {}, topology {}", vbid, VBucketStateName(state),
               TopologyToJson(rec.topology));
      OnQueued(*created, 0);  // persist the new vbucket's state record
      NotifyStateObservers();
    }
  }
  VBucketMapChanged();
  return Status::Ok();
}

void Bucket::VBucketMapChanged() {
  config_revision_.fetch_add(1, std::memory_order_relaxed);
  if (VBucketMapListener* l = map_listener_.load(std::memory_order_acquire)) {
    l->OnVBucketMapChanged();
  }
}

StatusOr<VBucketTopology> Bucket::GetVBucketTopology(Vbid vbid) const {
  auto vb = vbuckets_.Get(vbid);
  if (!vb) return Errc::kNotMyVbucket;
  return vb->topology();
}

Status Bucket::SetVBucketTakeover(Vbid vbid, bool takeover) {
  auto vb = vbuckets_.Get(vbid);
  if (!vb) return Errc::kNotMyVbucket;
  vb->SetTakeover(takeover);
  return Status::Ok();
}

StatusOr<bool> Bucket::GetVBucketTakeover(Vbid vbid) const {
  auto vb = vbuckets_.Get(vbid);
  if (!vb) return Errc::kNotMyVbucket;
  return vb->takeover();
}

Status Bucket::PersistAll() {
  for (auto& f : flushers_) RETURN_IF_ERROR(f->FlushAll());
  return Status::Ok();
}

StatusOr<VBucketState> Bucket::GetVBucketState(Vbid vbid) const {
  auto vb = vbuckets_.Get(vbid);
  if (!vb) return Errc::kNotMyVbucket;
  return vb->state();
}

Status Bucket::DeleteVBucket(Vbid vbid) {
  if (vbid >= vbuckets_.size()) return Errc::kNotMyVbucket;
  Status result;
  {
    MutexLock lock(&lifecycle_mu_);
    flusher_for(vbid).WithFlushLock([&] {
      auto vb = vbuckets_.Remove(vbid);
      if (!vb) {
        result = Errc::kNotMyVbucket;
        return;
      }
      result = store_->DeleteVBucket(vbid);
    });
    if (!result.ok()) return result;
    LOG_INFO("vb:{} deleted", vbid);
    if (SeqnoListener* l = seqno_listener_.load(std::memory_order_acquire)) {
      l->OnVBucketStateChanged(vbid, VBucketState::kDead, /*deleted=*/true);
    }
    NotifyStateObservers();
  }
  VBucketMapChanged();
  return result;
}

std::vector<std::pair<Vbid, uint64_t>> Bucket::GetAllVbSeqnos(
    std::optional<VBucketState> state) const {
  std::vector<std::pair<Vbid, uint64_t>> out;
  for (const auto& vb : vbuckets_.All()) {
    const VBucketState s = vb->state();
    if (state ? s != *state : s == VBucketState::kDead) continue;
    out.emplace_back(vb->id(), vb->high_seqno());
  }
  return out;
}

StatusOr<ObserveSeqnoResult> Bucket::ObserveSeqno(Vbid vbid, uint64_t uuid) const {
  auto vb = vbuckets_.Get(vbid);
  // kv_engine serves every vbucket but a dead one: SDKs observe replicas too.
  if (!vb || vb->state() == VBucketState::kDead) return Errc::kNotMyVbucket;
  return vb->ObserveSeqno(uuid);
}

StatusOr<std::vector<FailoverEntry>> Bucket::GetFailoverLog(Vbid vbid) const {
  auto vb = vbuckets_.Get(vbid);
  if (!vb) return Errc::kNotMyVbucket;
  return vb->failover_table().Entries();
}

void Bucket::RunItemPager() {
  pager_wake_pending_.store(false);
  const Config& c = options_.config;
  const int64_t used = MemUsed();
  if (used <= static_cast<int64_t>(c.MemHighWatBytes())) return;
  const size_t target = static_cast<size_t>(used - static_cast<int64_t>(c.MemLowWatBytes()));
  auto vbs = vbuckets_.All();
  if (vbs.empty()) return;
  size_t freed = 0;
  // Round-robin passes over all vbuckets, each giving up a share, until the target is met or a
  // pass frees nothing (only dirty values left: the flusher must catch up first).
  while (freed < target) {
    size_t pass = 0;
    const size_t share = std::max<size_t>((target - freed) / vbs.size() + 1, 64 << 10);
    for (const auto& vb : vbs) {
      pass += vb->EvictValues(share);
      if (freed + pass >= target) break;
    }
    freed += pass;
    if (pass == 0) break;
  }
  uint64_t ejects = 0;
  for (const auto& vb : vbs) ejects += vb->hash_table().GetCounters().ejects;
  stats_.num_value_ejects.store(ejects, std::memory_order_relaxed);
  LOG_DEBUG("item pager: freed {} of {} bytes", freed, target);
}

void Bucket::RunExpiryPager() {
  const uint32_t now = options_.clock->WallSeconds();
  size_t expired = 0;
  for (const auto& vb : vbuckets_.All()) expired += vb->ExpireItems(now);
  if (expired != 0) LOG_DEBUG("expiry pager: {} items expired", expired);
}

bool Bucket::RunCheckpointRemover() {
  auto vbs = vbuckets_.All();
  for (const auto& vb : vbs) vb->checkpoints().RemoveClosedUnrefCheckpoints();
  const Config& c = options_.config;
  const double quota = static_cast<double>(c.max_size) * c.checkpoint_memory_ratio;
  auto used = [&] { return static_cast<double>(stats_.checkpoint_memory.load()); };
  auto still_over = [&] {
    const bool over = used() > quota * c.checkpoint_memory_recovery_upper_mark;
    // While over, the flag stays set: writers do not wake us, the retry snooze does.
    if (!over) remover_wake_pending_.store(false);
    return over;
  };
  if (!still_over()) return false;
  // Memory recovery: drop slow DCP cursors from the vbuckets holding the most checkpoint memory.
  // Sort on a snapshot of the usages: writers change them meanwhile, and a comparator whose
  // answers change during std::sort breaks its ordering contract (it then runs off the range).
  std::vector<std::pair<size_t, std::shared_ptr<VBucket>>> by_usage;
  by_usage.reserve(vbs.size());
  for (auto& vb : vbs) by_usage.emplace_back(vb->checkpoints().MemoryUsage(), std::move(vb));
  std::sort(by_usage.begin(), by_usage.end(),
            [](const auto& a, const auto& b) { return a.first > b.first; });
  for (const auto& [usage, vb] : by_usage) {
    if (used() <= quota * c.checkpoint_memory_recovery_lower_mark) break;
    const size_t dropped = vb->checkpoints().DropCursorsInOldestCheckpoint();
    stats_.cursors_dropped.fetch_add(dropped, std::memory_order_relaxed);
    vb->checkpoints().RemoveClosedUnrefCheckpoints();
  }
  return still_over();
}

}  // namespace sluice::engine
