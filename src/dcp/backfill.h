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
//   - The stream is gone or dead: done.
//   - The vbucket's persisted seqno is below `end` (the flusher has not written everything the
//     stream needs from disk yet): snooze (dcp_backfill_snooze_interval), try again.
//   - Open the scan from `start` over a fresh snapshot. Its end is the stream's end seqno clamped
//   to
//     the snapshot's persisted high seqno (kv_engine scans to the disk snapshot's end, so keys
//     rewritten past the cursor position are not lost; we additionally never scan past the end
//     seqno the consumer asked for). Open failure: the stream ends BackfillFailed.
//   - Purge check as kv_engine: if start != 1 and start <= the snapshot's purge seqno, and neither
//     IgnorePurgedTombstones nor a matching remote purge seqno excuses it, the stream ends
//     Rollback.
//   - Empty range: complete at once. Else the stream queues the disk snapshot marker
//     (Disk|Checkpoint) and the backfill moves to kScan; with CreateAndScan (round-robin) it scans
//     in the same run, with CreateOnly (sequential) it returns and scans next time.
// Scan (each run is one slice): encode each document as its DCP message straight from the store's
// buffers (storage::SeqnoScan::ScanViews, ItemEncoder) into a BackfillBatch, and deliver the batch
// to the stream, which queues it and charges the connection's backfill buffer, once it holds
// BackfillBatch::kMaxItems documents or kMaxBytes bytes, or the buffer's room at the batch's start
// (so the buffer fills at the same document as with one delivery per document), and before the
// run returns. Yield after dcp_scan_item_limit items, dcp_scan_byte_limit bytes,
// dcp_backfill_run_duration_limit, or when the buffer is full. Stop at the next item if the stream
// is gone/dead or the producer is disconnecting (the batch in progress is dropped). Range
// exhausted: deliver the last batch, then stream.CompleteBackfill().
//
// Threads and the hot path: a run and its batch in progress belong to the auxio thread running it
// (the batch lives on that run's stack until delivered); per document it costs the RocksDB step,
// the document header's decoding and the message's bytes appended to the batch, with no
// allocation; per batch one stream lock, one buffer charge, one producer notification.
//
// Ownership: created by the Producer for an ActiveStream and handed to the BackfillManager
// (unique_ptr), which owns it in one of its queues or, during a run, on the running thread's
// stack. It owns its BackfillToken (admission) and its SeqnoScan. The stream is held weakly: the
// producer owns streams, and a queued backfill must not keep a closed stream alive; it is promoted
// once per run and released before the run returns. The bucket is held strongly because the scan
// reads its KVStore, which must outlive every scan (kvstore.h); member order destroys the scan
// first, then returns the token.
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
#include "dcp/backfill_buffer.h"
#include "dcp/backfill_tracker.h"
#include "dcp/item_encoder.h"
#include "engine/bucket.h"
#include "storage/kvstore.h"

namespace sluice::dcp {

class ActiveStream;

// What the stream asks for.
struct BackfillSpec {
  // Weak: see the file comment.
  std::weak_ptr<ActiveStream> stream;
  Vbid vbid = 0;
  uint64_t start = 1;         // first seqno to read
  uint64_t end = 0;           // wait until the vbucket persisted at least this
  uint64_t stream_end = 0;    // never scan past this (the stream's end seqno)
  bool key_only = false;      // DCP_OPEN NoValue
  ItemEncoder encoder;        // the stream's item encodings
  uint32_t opaque = 0;        // the stream's opaque (in every message)
  bool skip_deleted = false;  // SkipDeletesInInitialBackfill on the initial backfill
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

  // The buffer-full sweep's question: should this queued backfill be dropped? True if its stream
  // is gone or dead, or (idle protection) it has not delivered anything for `idle_limit`.
  // Sets *too_slow in the second case: the caller then ends the stream (EndStreamTooSlow) after
  // releasing its lock.
  bool ShouldCancel(SteadyTime now, bool idle_protection, Duration idle_limit,
                    bool* too_slow) const;
  void EndStreamTooSlow();

  State state() const { return state_; }
  Vbid vbid() const { return spec_.vbid; }
  uint64_t num_pauses() const { return num_pauses_; }

  static std::string_view StateName(State state);

 private:
  Result Create(const BackfillRunContext& ctx);
  Result Scan(const BackfillRunContext& ctx);
  // Hands `batch` (non-empty) to `stream`; it is moved from. Sets *stop or *buffer_full.
  void Deliver(ActiveStream& stream, std::shared_ptr<BackfillBatch>* batch,
               const BackfillRunContext& ctx, bool* stop, bool* buffer_full);
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
  uint64_t num_pauses_ = 0;      // yields because the backfill buffer was full
  size_t batch_reserve_ = 4096;  // bytes to reserve for the next batch (the last one's size)
};

}  // namespace sluice::dcp
