// File: dcp/active_stream.h
//
// ActiveStream: one DCP stream of one vbucket for one producer connection - its state machine,
// its ready queue of messages, and the snapshot markers it announces.
//
//   kPending ──Activate──▶ kBackfilling ──backfill complete, ready queue drained──▶ kInMemory
//       │                     ▲   │                                                   │
//       │                     │   └──────── (or: nothing on disk to read) ────────────┤
//       │                     └───────────── cursor dropped ──────────────────────────┘
//       └── start == end ──┐
//   any state ─────────────┴──EndStream(reason)──▶ kDead
//
// Activation (and every re-backfill) registers a checkpoint cursor at the last seqno read. If the
// checkpoints no longer hold everything after it (or the stream is DiskOnly), the stream schedules
// a Backfill of [last_read + 1, min(end, cursor's next seqno - 1)] through its producer. The
// backfill reads from disk up to the snapshot's persisted high seqno (clamped to the stream's
// end), queues a marker with flags Disk|Checkpoint - the first marker of a stream starts at
// min(request snap_start, start) so it continues the consumer's partial snapshot - and then the
// documents. When it completes, last_read moves to the end of the disk snapshot; once the ready
// queue drains the stream goes in-memory (or ends Ok at its end seqno; DiskOnly streams end Ok).
// In memory, the stream reads its cursor when the ready queue is empty: each checkpoint snapshot
// becomes a marker with flag Memory, plus Checkpoint on the first one after every entry into
// kInMemory (kv_engine sets it on every transition to in-memory, also when no backfill ran),
// followed by its items. Items at or below last_read (already sent from disk, because the disk
// snapshot may reach past where the cursor resumed) are skipped, so nothing is sent twice and
// nothing is skipped: the cursor resumed no later than the backfill's range ended.
//
// End seqno: a stream never sends a seqno above its end; a marker crossing it is clamped to it.
// It ends Ok once the last seqno read reaches the end, or the cursor has read past it (the end
// seqno itself may have been deduplicated away). A stream with start == end ends Ok at once.
//
// End reasons: Ok, Closed (client CLOSE_STREAM), StateChanged (vbucket state change or deletion),
// Disconnected (no STREAM_END queued), TooSlow (backfill idle protection), BackfillFailed,
// Rollback (start below the purge seqno found by the backfill). Ending a backfilling stream
// discards its ready queue and returns its bytes to the connection's backfill buffer. Whatever the
// reason, a backfill it still has scheduled is removed from the connection's BackfillManager as it
// ends (StreamOwner::CancelBackfill, after the stream's lock is released), so its admission unit
// and its snapshot return at once.
//
// Disk items arrive in batches (backfill_batch.h): the backfill encodes a batch of documents on its
// auxio thread and hands it over with BackfillBatchReceived, one lock and one backfill-buffer
// charge per batch. The ready queue holds the batch as one kBackfillItems entry; Next(limit) gives
// the producer all of its remaining messages, or the prefix that ends at the first message
// reaching `limit` bytes (flow control and the output budget are overshot by at most one message,
// as with single messages). The counters (readyQ_items, buffered bytes and items, last sent
// seqno, backfill_sent) count the messages of a batch one by one.
//
// Cursor dropping: the cursor is registered droppable only when the consumer sent control
// supports_cursor_dropping=true (kv_engine drops cursors only of such connections). A dropped
// cursor sends the stream back to kBackfilling from its last read seqno, after any running
// backfill completes.
//
// Ownership: shared. The Producer owns its streams (map vbid -> shared_ptr) and is seen by them
// only through StreamOwner, the interface declared here. Weak references: a Backfill (through
// BackfillTarget; promotes it for one run: a queued backfill must not keep a closed stream alive),
// the ConnMap's per-vbucket directory (a notification directory, not an owner), the cursor's drop
// callback. The stream holds its owner weakly (the owner owns it; it promotes it only to notify
// it, with no lock held, so the producer's destructor may run inside such a notification on
// whatever thread) and its vbucket weakly (a deleted vbucket must be freed; the stream then
// ends). Whatever thread drops the last reference runs ~ActiveStream, which only removes its own
// cursor.
//
// Thread safety: thread-safe. Activate/Next on the producer's connection thread; backfill methods
// on auxio threads; NotifySeqnoAvailable/EndStream on writer, nonio, connection threads. mu_ has
// rank kDcpObject (common/lock_rank.h): under it the stream takes only the checkpoint manager's
// lock and the backfill buffer's leaf lock, and it never calls its owner (or anything that may
// destroy it) while holding mu_.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "common/mutex.h"
#include "common/types.h"
#include "dcp/backfill.h"
#include "dcp/backfill_batch.h"
#include "dcp/backfill_buffer.h"
#include "dcp/dcp_message.h"
#include "dcp/item_encoder.h"
#include "dcp/stream_key.h"
#include "engine/checkpoint_manager.h"
#include "engine/engine_types.h"
#include "engine/vbucket.h"
#include "protocol/dcp_codec.h"

namespace sluice::dcp {

// What a stream asks of the connection that owns it (the Producer implements it). Any thread;
// never called with the stream's lock held.
class StreamOwner {
 public:
  virtual ~StreamOwner() = default;
  // Stream `key` has something to send: queue it for the connection's next Step.
  virtual void NotifyStreamReady(StreamKey key) = 0;
  // Hands `spec` to the connection's BackfillManager (dropped if the connection is going away).
  virtual void ScheduleBackfill(BackfillSpec spec) = 0;
  // The stream discarded `bytes` of backfilled messages it had charged to the backfill buffer.
  virtual void BackfillBytesSent(size_t bytes) = 0;
  // The stream ended while backfill `backfill_id` was scheduled: remove it at once.
  virtual void CancelBackfill(uint64_t backfill_id) = 0;
};

// The stream request as the producer accepted it (seqnos already adjusted: FromLatest, ToLatest,
// DiskOnly).
struct StreamParams {
  uint16_t sid = 0;    // JSON "sid" (0: none)
  uint32_t flags = 0;  // DCP_STREAM_REQ flags
  uint32_t opaque = 0;
  uint64_t start_seqno = 0;
  uint64_t end_seqno = 0;
  uint64_t vbucket_uuid = 0;
  uint64_t snap_start_seqno = 0;
  uint64_t snap_end_seqno = 0;
  uint64_t remote_purge_seqno = 0;  // JSON "purge_seqno"
};

// Connection settings captured when the stream is created.
struct StreamOptions {
  enum class Oso : uint8_t { kOff, kOn, kWithSeqnoAdvanced };  // enable_out_of_order_snapshots

  bool include_value = true;  // backfills read values (not NoValue, or IncludeXattrs)
  // The connection's item encodings, with control enable_expiry_opcode (needs delete times).
  ItemEncoder encoder;
  bool skip_deletes_in_initial_backfill = false;
  bool cursor_droppable = false;  // control supports_cursor_dropping
  // A collection-aware stream (HELLO Collections): kv_engine tells such a consumer with
  // SeqnoAdvanced when a snapshot ends past the last item it received.
  bool seqno_advanced = false;
  Oso oso = Oso::kOff;  // the initial backfill (from 0) goes in key order, between OSO markers
  // Control enable_sync_writes: prepares, commits and aborts go as DCP_PREPARE / DCP_COMMIT /
  // DCP_ABORT; without it the stream carries committed data only (a commit as the mutation it
  // makes visible). A backfill sends committed data either way (docs/replication.md).
  bool sync_writes = false;
};

// Totals a producer sums over its streams (dcpagg, ep_dcp_* aggregates).
struct StreamAggregate {
  size_t ready_queue_items = 0;
  size_t ready_queue_memory = 0;
  uint64_t backfill_disk_items = 0;
  size_t items_remaining = 0;  // queued + left in the checkpoints for the cursor
};

class ActiveStream final : public BackfillTarget,
                           public std::enable_shared_from_this<ActiveStream> {
 public:
  enum class State : uint8_t { kPending, kBackfilling, kInMemory, kDead };
  static std::string_view StateName(State state);

  // Items read from the cursor per step when the ready queue is empty.
  static constexpr size_t kMemoryBatchItems = 1024;

  // `conn_name` is the producer's "eq_dcpq:<name>"; the cursor is named "<conn_name>:<vb>".
  ActiveStream(std::weak_ptr<StreamOwner> owner, std::string_view conn_name,
               const std::shared_ptr<engine::VBucket>& vb, StreamParams params,
               StreamOptions options);
  ~ActiveStream() override;
  ActiveStream(const ActiveStream&) = delete;
  ActiveStream& operator=(const ActiveStream&) = delete;

  // ---- the owner (connection thread), after inserting the stream in its map ----
  // kPending -> kBackfilling (-> kInMemory), or kDead (start == end). Schedules a backfill
  // through `owner` if one is needed.
  void Activate(StreamOwner& owner);
  // The next message to send, or nullopt (the stream notifies its owner when one is ready).
  // Drives the state machine: may schedule a backfill through `owner` and may end the stream.
  // A kBackfillItems message stops at the first of its messages that reaches `limit` bytes.
  std::optional<DcpMessage> Next(StreamOwner& owner,
                                 size_t limit = std::numeric_limits<size_t>::max());

  // ---- any thread ----
  // The vbucket has a new seqno (ConnMap, on the writer's thread): wake the producer if in memory.
  void NotifySeqnoAvailable();
  // Ends the stream (no-op if dead). Queues STREAM_END(reason) unless reason is Disconnected.
  // Returns its backfill-buffer bytes and removes its scheduled backfill before returning.
  void EndStream(protocol::DcpStreamEndStatus reason) override;
  // EndStream(Disconnected), handing over the queued messages instead of freeing them: freeing
  // tens of thousands of backfilled items takes milliseconds, which the producer's Disconnect
  // moves off the connection's thread.
  std::deque<DcpMessage> EndStreamTakingQueue();
  bool IsDead() const override {
    return state_mirror_.load(std::memory_order_acquire) == State::kDead;
  }
  State state() const { return state_mirror_.load(std::memory_order_acquire); }
  Vbid vbid() const { return vbid_; }
  StreamKey key() const { return {vbid_, params_.sid}; }
  uint32_t opaque() const { return params_.opaque; }
  // How its item messages are encoded (the memory phase's, on the connection's thread).
  const ItemEncoder& encoder() const { return options_.encoder; }
  // "stream_<vb>", or "stream_<vb>_sid:<sid>" for a stream with an id: the head of its stat names.
  std::string StatName() const;
  // Each stream stat, by its bare name ("state", "last_sent_seqno", ...).
  void AddStats(const engine::AddStatFn& add) const;
  void Aggregate(StreamAggregate* agg) const;

  // ---- BackfillTarget: the backfill (auxio thread) ----
  bool MarkDiskSnapshot(uint64_t start, uint64_t end, uint64_t purge_seqno) override;
  Delivery BackfillBatchReceived(std::shared_ptr<const BackfillBatch> batch,
                                 BackfillBuffer& buffer) override;
  void CompleteBackfill(uint64_t scan_end) override;
  void BackfillPaused() override { backfill_pauses_.fetch_add(1, std::memory_order_relaxed); }

 private:
  // What ending the stream leaves to do once mu_ is released (EndStreamLocked records it).
  struct EndEffects {
    size_t freed_bytes = 0;        // backfill-buffer bytes of discarded messages
    uint64_t cancel_backfill = 0;  // the id of a backfill still scheduled, or 0
  };

  bool disk_only() const { return (params_.flags & protocol::kDcpStreamDiskOnly) != 0; }

  // The single transition check (see the diagram). Entering kInMemory sets the Checkpoint flag
  // for the next marker; entering kDead removes the cursor.
  void TransitionLocked(State next) REQUIRES(mu_);
  // Registers the cursor and decides whether a backfill is needed; sets *schedule if so.
  void ScheduleBackfillLocked(std::optional<BackfillSpec>* schedule) REQUIRES(mu_);
  // Each phase's step of Next (`limit` as there).
  std::optional<DcpMessage> BackfillPhaseLocked(std::optional<BackfillSpec>* schedule, size_t limit)
      REQUIRES(mu_);
  std::optional<DcpMessage> InMemoryPhaseLocked(std::optional<BackfillSpec>* schedule, size_t limit)
      REQUIRES(mu_);
  // Turns cursor snapshots into markers and item messages.
  void ProcessItemsLocked(engine::CursorItems&& items, uint64_t purge_seqno) REQUIRES(mu_);
  // A SeqnoAdvanced to `seqno` (collection-aware streams), moving last_read_seqno_ there.
  void PushSeqnoAdvancedLocked(uint64_t seqno) REQUIRES(mu_);
  // Ends the stream; what must follow outside the lock accumulates in end_effects_.
  void EndStreamLocked(protocol::DcpStreamEndStatus reason) REQUIRES(mu_);
  EndEffects TakeEndEffectsLocked() REQUIRES(mu_) { return std::exchange(end_effects_, {}); }
  // Returns the discarded bytes and cancels the backfill through `owner` (no lock held).
  static void ApplyEndEffects(const EndEffects& effects, StreamOwner& owner);
  // The same, promoting the owner (skipped if it is gone: then so are its manager and buffer).
  void ApplyEndEffects(const EndEffects& effects) EXCLUDES(mu_);
  void PushLocked(DcpMessage message) REQUIRES(mu_);
  // The front of the ready queue, or of a kBackfillItems entry the prefix up to `limit` bytes
  // (the rest stays queued).
  std::optional<DcpMessage> PopLocked(size_t limit) REQUIRES(mu_);
  // Moves the counters for `m` leaving the queue (sent).
  void CountSentLocked(const DcpMessage& m) REQUIRES(mu_);
  DcpMessage ItemMessage(engine::QueuedItem item) const;
  void RemoveCursorLocked() REQUIRES(mu_);
  // The cursor registered with generation `generation` was dropped by the checkpoint manager.
  void OnCursorDropped(uint64_t generation);
  // Tells the owner this stream has something to send (unless it already knows, or `force`).
  // Must be called without mu_ held.
  void NotifyReady(bool force);

  // ---- constant after construction ----
  // Weak: the owner (producer) owns this stream; promoted only to notify it (file comment).
  const std::weak_ptr<StreamOwner> owner_;
  // Weak: a deleted vbucket must be freed even while streams linger; the stream then ends.
  const std::weak_ptr<engine::VBucket> vb_;
  const Vbid vbid_;
  const std::string cursor_name_;
  const StreamParams params_;
  const StreamOptions options_;

  // ---- atomics: read without the lock (hot checks, stats) ----
  std::atomic<State> state_mirror_{State::kPending};  // state_, for IsDead() on the scan path
  std::atomic<bool> items_ready_{false};  // the producer has been told / will call Next again
  std::atomic<uint64_t> backfill_pauses_{0};

  // ---- protected by mu_ ----
  mutable Mutex mu_{LockRank::kDcpObject};
  State state_ GUARDED_BY(mu_) = State::kPending;
  std::deque<DcpMessage> ready_ GUARDED_BY(mu_);
  size_t ready_messages_ GUARDED_BY(mu_) = 0;  // wire messages queued (a batch counts each one)
  size_t ready_memory_ GUARDED_BY(mu_) = 0;
  size_t buffered_bytes_ GUARDED_BY(mu_) = 0;  // backfill-buffer bytes of queued messages
  size_t buffered_items_ GUARDED_BY(mu_) = 0;
  uint64_t last_read_seqno_ GUARDED_BY(mu_) = 0;
  uint64_t last_backfilled_seqno_ GUARDED_BY(mu_) = 0;
  uint64_t last_sent_seqno_ GUARDED_BY(mu_) = 0;
  uint64_t last_marker_end_ GUARDED_BY(mu_) = 0;    // end of the last marker queued
  uint64_t cursor_last_seqno_ GUARDED_BY(mu_) = 0;  // highest seqno the cursor returned
  bool first_marker_sent_ GUARDED_BY(mu_) = false;
  bool next_snapshot_is_checkpoint_ GUARDED_BY(mu_) = false;
  bool backfill_running_ GUARDED_BY(mu_) = false;
  uint64_t backfill_id_ GUARDED_BY(mu_) = 0;         // of the backfill scheduled last
  bool backfill_oso_ GUARDED_BY(mu_) = false;        // that backfill goes in key order
  bool oso_open_ GUARDED_BY(mu_) = false;            // its OSO start marker was queued
  uint64_t backfill_max_seqno_ GUARDED_BY(mu_) = 0;  // highest seqno that backfill delivered
  EndEffects end_effects_ GUARDED_BY(mu_);
  bool pending_backfill_ GUARDED_BY(mu_) = false;  // cursor dropped: backfill again
  bool initial_backfill_ GUARDED_BY(mu_);          // started at 0 and no backfill completed yet
  std::weak_ptr<engine::Cursor> cursor_ GUARDED_BY(mu_);  // weak: the manager may drop it
  uint64_t cursor_generation_ GUARDED_BY(mu_) = 0;
  std::optional<protocol::DcpStreamEndStatus> end_reason_ GUARDED_BY(mu_);
  uint64_t backfill_disk_items_ GUARDED_BY(mu_) = 0;
  uint64_t backfill_sent_ GUARDED_BY(mu_) = 0;
  uint64_t memory_phase_items_ GUARDED_BY(mu_) = 0;
  uint64_t cursor_drops_ GUARDED_BY(mu_) = 0;
  uint64_t backfills_scheduled_ GUARDED_BY(mu_) = 0;
};

}  // namespace sluice::dcp
