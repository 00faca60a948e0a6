// File: dcp/backfill.h
//
// Backfill: one disk backfill of one stream - a seqno-ordered scan of the vbucket over a
// consistent RocksDB snapshot, delivering documents into the stream's ready queue.
//
//   kCreate ──scan opened, marker sent──▶ kScan ──range exhausted──▶ kDone
//      │                                    │
//      └── stream gone/dead, empty range,   └── stream gone/dead, producer disconnecting,
//          rollback, open failed ──▶ kDone      scan error ──▶ kDone
//
// Create (first run after admission):
//   - The stream is gone or dead, or the producer is disconnecting: done.
//   - The vbucket's persisted seqno is below `end` (the flusher has not written everything the
//     stream needs from disk yet): snooze (dcp_backfill_snooze_interval), try again.
//   - Open the scan from `start` over a fresh snapshot. Its end is the stream's end seqno clamped
//   to
//     the snapshot's persisted high seqno (kv_engine scans to the disk snapshot's end, so keys
//     rewritten past the cursor position are not lost; we additionally never scan past the end
//     seqno the consumer asked for). Open failure: the stream ends BackfillFailed. The producer
//     disconnected while the snapshot was being opened: done, without reading it.
//   - Purge check as kv_engine: if start != 1 and start <= the snapshot's purge seqno, and neither
//     IgnorePurgedTombstones nor a matching remote purge seqno excuses it, the stream ends
//     Rollback.
//   - Empty range: complete at once. Else the stream queues the disk snapshot marker
//     (Disk|Checkpoint) and the backfill moves to kScan; with CreateAndScan (round-robin) it scans
//     in the same run, with CreateOnly (sequential) it returns and scans next time.
// Scan (each run is one slice; the first one counts the scan as started in the tracker, after
// the stream and cancel checks, so a scan is counted only once it really reads): encode each
// document as its DCP message straight from the store's buffers (storage::SeqnoScan::ScanViews,
// ItemEncoder) into a BackfillBatch, and deliver the batch to the stream, which queues it and
// charges the connection's backfill buffer, once it holds BackfillBatch::kMaxItems documents or
// kMaxBytes bytes, or the buffer's room at the batch's start (so the buffer fills at the same
// document as with one delivery per document), and before the run returns. Yield after
// dcp_scan_item_limit items, dcp_scan_byte_limit bytes, dcp_backfill_run_duration_limit, or when
// the buffer is full. Stop at the next item if the stream is gone/dead or the producer is
// disconnecting (the batch in progress is dropped). Range exhausted: deliver the last batch, then
// stream.CompleteBackfill().
//
// Threads and the hot path: a run and its batch in progress belong to the auxio thread running it
// (the batch lives on that run's stack until delivered); per document it costs the RocksDB step,
// the document header's decoding and the message's bytes appended to the batch, with no
// allocation (a value with xattrs is filtered through a copy: item_encoder.h); per batch one
// stream lock, one buffer charge, one producer notification.
//
// Ownership: created by the Producer for an ActiveStream and handed to the BackfillManager
// (unique_ptr), which owns it in one of its queues or, during a run, on the running thread's
// stack. It owns its BackfillToken (admission) and its SeqnoScan. The stream is seen only through
// BackfillTarget, the interface declared here, and held weakly: the producer owns streams, and a
// queued backfill must not keep a closed stream alive; it is promoted once per run and released
// before the run returns. A stream that ends asks the manager to destroy its backfill at once
// (BackfillManager::Remove, by id), so its unit and its snapshot return then, not when the
// backfill would next have run. The bucket is held strongly because the scan reads its KVStore,
// which must outlive every scan (kvstore.h); member order destroys the scan first, then returns
// the token.
//
// Failures are contained: an exception thrown by a run (bad_alloc, a decoder) is caught by the
// manager, which calls Fail(): the stream ends BackfillFailed and the backfill is done.
//
// Thread safety: thread-compatible. The manager gives it to one thread at a time (a run, or its
// buffer-full sweep under the manager's lock); the manager's lock orders those hand-offs.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "common/clock.h"
#include "common/types.h"
#include "dcp/backfill_batch.h"
#include "dcp/backfill_buffer.h"
#include "dcp/backfill_tracker.h"
#include "dcp/item_encoder.h"
#include "engine/bucket.h"
#include "protocol/dcp_codec.h"
#include "storage/kvstore.h"

namespace sluice::dcp {

// What a backfill delivers into: the stream that asked for it (ActiveStream implements it).
// Every method may be called from an auxio thread while the stream's owner uses it on others.
class BackfillTarget {
 public:
  virtual ~BackfillTarget() = default;
  // The stream ended (lock-free).
  virtual bool IsDead() const = 0;
  // Queues the disk snapshot marker (in-order backfill) or the OSO snapshot start (key order);
  // false if the stream is no longer backfilling. `purge_seqno`: the snapshot's.
  virtual bool MarkDiskSnapshot(uint64_t start, uint64_t end, uint64_t purge_seqno) = 0;
  enum class Delivery : uint8_t { kQueued, kBufferFull, kStreamNotBackfilling };
  // Queues a batch of documents read from disk and encoded by the backfill (non-empty), and
  // charges `buffer` with its bytes (atomically with the stream's own count). kBufferFull:
  // queued, and the backfill must yield. kStreamNotBackfilling: dropped.
  virtual Delivery BackfillBatchReceived(std::shared_ptr<const BackfillBatch> batch,
                                         BackfillBuffer& buffer) = 0;
  // The scan covered everything up to `scan_end` (an OSO snapshot ends here).
  virtual void CompleteBackfill(uint64_t scan_end) = 0;
  // The backfill yielded because the buffer was full (stats).
  virtual void BackfillPaused() = 0;
  // Ends the stream with `reason` (no-op if it already ended).
  virtual void EndStream(protocol::DcpStreamEndStatus reason) = 0;
};

// A process-wide unique id for a new backfill (never 0): how a stream names its backfill to the
// manager when it ends.
uint64_t NewBackfillId();

// What the stream asks for.
struct BackfillSpec {
  uint64_t id = 0;  // NewBackfillId()
  // Weak: see the file comment.
  std::weak_ptr<BackfillTarget> stream;
  Vbid vbid = 0;
  uint16_t sid = 0;           // the stream's id (0: none), in every message
  uint32_t opaque = 0;        // the stream's opaque, in every message
  ItemEncoder encoder;        // the stream's item encodings
  uint64_t start = 1;         // first seqno to read
  uint64_t end = 0;           // wait until the vbucket persisted at least this
  uint64_t stream_end = 0;    // never scan past this (the stream's end seqno)
  bool key_only = false;      // DCP_OPEN NoValue
  bool skip_deleted = false;  // SkipDeletesInInitialBackfill on the initial backfill
  bool key_order = false;     // an OSO backfill: documents in key order
  bool ignore_purged_tombstones = false;
  uint64_t remote_purge_seqno = 0;  // the consumer's purge seqno (stream request JSON)
};

// What the manager gives one run.
struct BackfillRunContext {
  BackfillBuffer* buffer = nullptr;              // the connection's backfill buffer
  const std::atomic<bool>* cancelled = nullptr;  // set when the producer disconnects
  const Clock* clock = nullptr;
  size_t scan_item_limit = 4096;
  size_t scan_byte_limit = 4 << 20;
  Duration run_duration_limit = std::chrono::milliseconds(300);
  bool create_only = false;  // sequential order: the first run only creates
};

class Backfill {
 public:
  enum class State : uint8_t { kCreate, kScan, kDone };
  enum class Result : uint8_t {
    kSuccess,   // yielded (or created only): run again
    kSnooze,    // waiting for the flusher: run again after the snooze interval
    kFinished,  // done (completed, failed or cancelled): destroy it
  };

  Backfill(BackfillSpec spec, std::shared_ptr<engine::Bucket> bucket,
           std::shared_ptr<BackfillTracker> tracker);
  ~Backfill();
  Backfill(const Backfill&) = delete;
  Backfill& operator=(const Backfill&) = delete;

  // Admission: the manager hands over the unit it acquired for this backfill.
  void Admit(BackfillToken token) { token_ = std::move(token); }
  bool admitted() const { return token_.valid(); }

  // One run (a slice of work). REQUIRES: admitted, not kDone.
  Result Run(const BackfillRunContext& ctx);

  // The run threw `what`: logs it, ends the stream BackfillFailed and finishes (kFinished).
  Result Fail(std::string_view what);

  // The buffer-full sweep's questions, asked under the manager's lock: neither promotes the
  // stream (which could destroy it there). StreamGone: the stream no longer exists.
  // IdleFor: nothing was delivered for at least `limit` since the scan began.
  bool StreamGone() const { return spec_.stream.expired(); }
  bool IdleFor(SteadyTime now, Duration limit) const;
  // Ends the stream TooSlow (idle protection). Call without the manager's lock held.
  void EndStreamTooSlow();

  // The stream, promoted (null if gone). The caller decides where the reference is released.
  std::shared_ptr<BackfillTarget> target() const { return spec_.stream.lock(); }
  uint64_t id() const { return spec_.id; }
  State state() const { return state_; }
  Vbid vbid() const { return spec_.vbid; }

  static std::string_view StateName(State state);

 private:
  // One Scan run's progress (backfill.cc): on the running thread's stack.
  struct ScanRun;

  Result Create(const BackfillRunContext& ctx);
  Result Scan(const BackfillRunContext& ctx);
  // Scan's per-document step: appends `doc` to the run's batch, delivers the batch when due and
  // says whether the run goes on.
  storage::ScanControl Take(ScanRun& run, const storage::DiskDocView& doc);
  // Hands the run's batch (non-empty) to the stream; sets run.stop or run.buffer_full.
  void Deliver(ScanRun& run);
  // How the run ends, once the scan returned `status` (`done`: the range is exhausted).
  Result EndRun(ScanRun& run, const Status& status, bool done);
  // The single transition check (see the diagram above).
  void TransitionTo(State next);
  // Closes the scan (reported to the tracker).
  void CloseScan();

  // ---- constant after construction ----
  const BackfillSpec spec_;
  const std::shared_ptr<engine::Bucket> bucket_;  // keeps the KVStore alive while scan_ is
  const std::shared_ptr<BackfillTracker> tracker_;

  // ---- one thread at a time (see the file comment) ----
  BackfillToken token_;  // declared before scan_: the scan is closed before the unit returns
  std::unique_ptr<storage::SeqnoScan> scan_;
  State state_ = State::kCreate;
  uint64_t scan_end_ = 0;  // last seqno the scan covers (set by Create)
  SteadyTime last_progress_{};
  bool progress_started_ = false;
  bool scan_started_ = false;    // counted in the tracker (the first Scan run)
  size_t batch_reserve_ = 4096;  // bytes to reserve for the next batch (the last one's size)
};

}  // namespace sluice::dcp
