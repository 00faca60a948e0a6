// File: dcp/conn_map.h
//
// ConnMap: the DCP side of one bucket - the directory of its producers (by name) and of its
// streams (by vbucket), the bucket-wide BackfillTracker, the engine's SeqnoListener, the
// connection-manager task, the "dcp" / "dcpagg" stats, and shutdown.
//
//   NewProducer(options)   creates and registers a producer; an older live producer with the same
//                          name is disconnected and its connection asked to close (kv_engine).
//   OnSeqnoAdvanced        (engine, every write) wakes the in-memory streams of that vbucket. An
//                          atomic per-vbucket stream count is checked first, so a write to a
//                          vbucket nobody streams costs one relaxed load.
//   OnVBucketStateChanged  ends that vbucket's streams with StateChanged (state change, deletion).
//   connection manager     every connection_manager_interval (nonio): producers due a noop are
//                          notified so their Step runs; consumers silent past dcp_idle_timeout
//                          (with noops on) are disconnected; and once a burst of producer
//                          disconnects has been over for a whole interval, the heap is trimmed
//                          (ReleaseFreeHeapToOs): the queued items and scan buffers they freed
//                          would otherwise stay in malloc's arenas, at the burst's peak RSS.
//   Shutdown()             call before Bucket::Shutdown(): stops listening, disconnects every
//                          producer (their connections are asked to close) and waits, bounded,
//                          until no backfill token or scan is alive, because the bucket cannot
//                          close its store while a scan is open.
//
// Ownership: shared (Create returns one); the server owns it beside its bucket, and every
// Producer holds it strongly. It holds the bucket strongly and registers itself as the bucket's
// SeqnoListener (a raw pointer inside the bucket, cleared by Shutdown()/the destructor). Weak
// references: producers and streams (a directory for notifications, not an owner), and its task
// holds it weakly (the weak-owner pattern). Shutdown() must be called before the last reference
// is dropped; the destructor does not wait (it may run on a backfill thread).
//
// Thread safety: thread-safe. The listener methods run on writer / front-end threads; the locks
// here have rank kDcpObject (common/lock_rank.h): nothing is called and no producer or stream
// reference is dropped under them.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/mutex.h"
#include "common/status.h"
#include "common/types.h"
#include "dcp/backfill_tracker.h"
#include "dcp/producer.h"
#include "engine/bucket.h"
#include "engine/engine_types.h"
#include "executor/task.h"

namespace sluice::dcp {

class ActiveStream;

class ConnMap final : public engine::SeqnoListener,
                      public StreamDirectory,
                      public std::enable_shared_from_this<ConnMap> {
 public:
  // Registers with the bucket as its SeqnoListener and schedules the connection manager.
  static std::shared_ptr<ConnMap> Create(std::shared_ptr<engine::Bucket> bucket);
  ~ConnMap() override;
  ConnMap(const ConnMap&) = delete;
  ConnMap& operator=(const ConnMap&) = delete;

  // For DCP_OPEN. kInvalid for unknown or invalid open flags or an empty name, kNotSupported for
  // a consumer (the server's: ConsumerOpened), kDisconnect after Shutdown().
  StatusOr<std::shared_ptr<Producer>> NewProducer(ProducerOptions options);
  // Forgets `producer` (its connection closed). Optional: dead entries are pruned anyway.
  void Unregister(const Producer& producer);
  // A consumer connection opened / closed on this bucket (they live in the server, beside the
  // producers): counted in ep_dcp_consumer_count and ep_dcp_count.
  void ConsumerOpened() { consumers_.fetch_add(1, std::memory_order_relaxed); }
  void ConsumerClosed() { consumers_.fetch_sub(1, std::memory_order_relaxed); }

  // See the file comment. Returns false (and logs) if backfills were still alive at `timeout`.
  bool Shutdown(std::chrono::milliseconds timeout = std::chrono::seconds(30));

  // group "dcp" (aggregates, then every connection's and stream's stats) or "dcpagg [sep]"
  // (per connection type: the part of the name before `sep`, ":" by default). kNotFound for other
  // groups. For "dcp", `options` is kv_engine's JSON parameter object - the STAT request's value
  // (cbstats sends {"stream_format":"json"}) or, if that is empty, a JSON argument after the
  // group: {"stream_format": "legacy"|"json"|"skip"} picks Producer::StreamStatsFormat (legacy
  // when absent), and {"filter": {"user": U, "port": P}} lists (and aggregates) only the
  // connections opened by user U on server port P (either may be left out); ep_dcp_count still
  // counts every one. As in kv_engine, options that do not parse are ignored (logged).
  // `consumers` adds the consumer connections' entries to "dcp" (kv_engine lists them beside
  // the producers; they live above dcp, in src/replication, so the server passes them in), given
  // the parsed options: it lists only those that match the filter.
  struct StatsFilter {
    Producer::StreamStatsFormat format = Producer::StreamStatsFormat::kLegacy;
    std::optional<std::string> user;
    std::optional<uint16_t> port;
  };
  using ConsumerStatsFn = std::function<void(const StatsFilter&, const engine::AddStatFn&)>;
  Status GetStats(std::string_view group, std::string_view options, const engine::AddStatFn& add,
                  const ConsumerStatsFn& consumers = {}) const;
  Status GetStats(std::string_view group, const engine::AddStatFn& add) const {
    return GetStats(group, {}, add);
  }

  // ---- engine::SeqnoListener ----
  void OnSeqnoAdvanced(Vbid vbid, uint64_t seqno) override;
  void OnVBucketStateChanged(Vbid vbid, VBucketState state, bool deleted) override;

  // ---- StreamDirectory: for producers ----
  const std::shared_ptr<engine::Bucket>& bucket() const override { return bucket_; }
  const std::shared_ptr<BackfillTracker>& tracker() const override { return tracker_; }
  void AddStream(Vbid vbid, const std::shared_ptr<ActiveStream>& stream) override;
  void RemoveStream(Vbid vbid, const ActiveStream* stream) override;
  // Producer::Disconnect, once per producer: counts towards the heap trim (file comment).
  void NoteProducerDisconnected() override { disconnects_.fetch_add(1, std::memory_order_relaxed); }

  // ---- the connection manager task / tests ----
  void ManageConnections();
  size_t num_producers() const;
  // Streams registered for vbid (dead ones not yet pruned included).
  size_t num_streams(Vbid vbid) const;

 private:
  explicit ConnMap(std::shared_ptr<engine::Bucket> bucket);

  struct ProducerEntry {
    // Weak: the connection owns its producer; this is a directory.
    std::weak_ptr<Producer> producer;
    const Producer* raw = nullptr;  // identity, compared without promoting
  };
  struct VbStreams {
    mutable Mutex mu{LockRank::kDcpObject};
    struct Entry {
      // Weak: the producer owns its streams; this is a directory.
      std::weak_ptr<ActiveStream> stream;
      const ActiveStream* raw = nullptr;
    };
    std::vector<Entry> entries GUARDED_BY(mu);
    std::atomic<uint32_t> count{0};  // entries.size(), read without the lock
  };

  std::vector<std::shared_ptr<Producer>> LiveProducers() const;
  // Live streams of vbid; prunes expired and dead entries.
  std::vector<std::shared_ptr<ActiveStream>> StreamsOf(Vbid vbid);

  // ---- constant after Create ----
  const std::shared_ptr<engine::Bucket> bucket_;
  const std::shared_ptr<BackfillTracker> tracker_;
  const size_t num_vbuckets_;
  std::unique_ptr<VbStreams[]> vbs_;  // [num_vbuckets_]; entries self-synchronised
  std::shared_ptr<executor::Task> task_;

  // ---- self-synchronised ----
  std::atomic<bool> shut_down_{false};
  std::atomic<uint64_t> disconnects_{0};
  std::atomic<uint64_t> consumers_{0};  // ConsumerOpened - ConsumerClosed

  // ---- the connection manager's (one ManageConnections at a time) ----
  uint64_t disconnects_seen_ = 0;  // disconnects_ at its previous run
  bool trim_due_ = false;          // disconnects since the last trim; waiting for a quiet run

  // ---- protected by mu_ ----
  mutable Mutex mu_{LockRank::kDcpObject};
  std::map<std::string, ProducerEntry> producers_ GUARDED_BY(mu_);
};

}  // namespace sluice::dcp
