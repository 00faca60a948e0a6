#include "dcp/active_stream.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "common/logging.h"

namespace sluice::dcp {

using protocol::DcpStreamEndStatus;

std::string_view ActiveStream::StateName(State state) {
  switch (state) {
    case State::kPending:
      return "pending";
    case State::kBackfilling:
      return "backfilling";
    case State::kInMemory:
      return "in-memory";
    case State::kDead:
      return "dead";
  }
  return "unknown";
}

ActiveStream::ActiveStream(std::weak_ptr<StreamOwner> owner, std::string_view conn_name,
                           const std::shared_ptr<engine::VBucket>& vb, StreamParams params,
                           StreamOptions options)
    : owner_(std::move(owner)),
      vb_(vb),
      vbid_(vb->id()),
      cursor_name_(params.sid == 0 ? fmt::format("{}:{}", conn_name, vb->id())
                                   : fmt::format("{}:{}:sid:{}", conn_name, vb->id(), params.sid)),
      params_(params),
      options_(options),
      initial_backfill_(params.start_seqno == 0) {
  MutexLock lock(&mu_);
  last_read_seqno_ = params_.start_seqno;
  last_sent_seqno_ = params_.start_seqno;
}

ActiveStream::~ActiveStream() {
  // Only our own cursor (the checkpoint manager's lock is a leaf for us).
  MutexLock lock(&mu_);
  RemoveCursorLocked();
}

void ActiveStream::RemoveCursorLocked() {
  if (cursor_.expired()) return;
  if (std::shared_ptr<engine::VBucket> vb = vb_.lock()) vb->checkpoints().RemoveCursor(cursor_);
  cursor_.reset();
}

void ActiveStream::TransitionLocked(State next) {
  bool valid = false;
  switch (state_) {
    case State::kPending:
      valid = next == State::kBackfilling || next == State::kDead;
      break;
    case State::kBackfilling:
      valid = next == State::kInMemory || next == State::kDead;
      break;
    case State::kInMemory:
      valid = next == State::kBackfilling || next == State::kDead;
      break;
    case State::kDead:
      valid = false;
      break;
  }
  if (!valid) {
    LOG_CRITICAL("dcp stream {}: invalid transition {} -> {}", cursor_name_, StateName(state_),
                 StateName(next));
    std::abort();
  }
  LOG_DEBUG("dcp stream {}: {} -> {}", cursor_name_, StateName(state_), StateName(next));
  state_ = next;
  state_mirror_.store(next, std::memory_order_release);
  switch (next) {
    case State::kInMemory:
      // The consumer may see keys again that the disk snapshot had: start a new checkpoint.
      next_snapshot_is_checkpoint_ = true;
      initial_backfill_ = false;
      break;
    case State::kDead:
      RemoveCursorLocked();
      break;
    case State::kPending:
    case State::kBackfilling:
      break;
  }
}

// ---- producer side ----

void ActiveStream::Activate(StreamOwner& owner) {
  std::optional<BackfillSpec> schedule;
  EndEffects ended;
  {
    MutexLock lock(&mu_);
    if (state_ != State::kPending) return;
    if (params_.start_seqno >= params_.end_seqno) {
      EndStreamLocked(DcpStreamEndStatus::kOk);
    } else {
      TransitionLocked(State::kBackfilling);
      ScheduleBackfillLocked(&schedule);
    }
    ended = TakeEndEffectsLocked();
  }
  if (schedule.has_value()) owner.ScheduleBackfill(std::move(*schedule));
  ApplyEndEffects(ended, owner);
  NotifyReady(/*force=*/true);
}

std::optional<DcpMessage> ActiveStream::Next(StreamOwner& owner, size_t limit) {
  std::optional<BackfillSpec> schedule;
  std::optional<DcpMessage> message;
  EndEffects ended;
  {
    MutexLock lock(&mu_);
    // Cleared before looking, so a message queued after we found nothing notifies again.
    items_ready_.store(false);
    // A phase may change the state (backfill done -> in memory, dropped cursor -> backfill);
    // then the new state's phase runs too. Three passes cover every chain of transitions.
    for (int pass = 0; pass < 3 && !message.has_value() && !schedule.has_value(); ++pass) {
      const State before = state_;
      switch (state_) {
        case State::kPending:
          break;
        case State::kBackfilling:
          message = BackfillPhaseLocked(&schedule, limit);
          break;
        case State::kInMemory:
          message = InMemoryPhaseLocked(&schedule, limit);
          break;
        case State::kDead:
          message = PopLocked(limit);
          break;
      }
      if (state_ == before) break;
    }
    if (message.has_value()) items_ready_.store(true);
    ended = TakeEndEffectsLocked();
  }
  if (schedule.has_value()) owner.ScheduleBackfill(std::move(*schedule));
  ApplyEndEffects(ended, owner);
  return message;
}

std::optional<DcpMessage> ActiveStream::BackfillPhaseLocked(std::optional<BackfillSpec>* schedule,
                                                            size_t limit) {
  if (!ready_.empty()) return PopLocked(limit);
  if (backfill_running_) return std::nullopt;  // CompleteBackfill() notifies
  if (pending_backfill_) {
    pending_backfill_ = false;
    ScheduleBackfillLocked(schedule);
    return PopLocked(limit);
  }
  if (last_read_seqno_ >= params_.end_seqno || disk_only()) {
    EndStreamLocked(DcpStreamEndStatus::kOk);
    return PopLocked(limit);
  }
  TransitionLocked(State::kInMemory);
  return std::nullopt;
}

std::optional<DcpMessage> ActiveStream::InMemoryPhaseLocked(std::optional<BackfillSpec>* schedule,
                                                            size_t limit) {
  if (!ready_.empty()) return PopLocked(limit);
  if (pending_backfill_ || cursor_.expired()) {
    // Dropped (its callback may still be on its way: the weak_ptr expires first).
    pending_backfill_ = false;
    TransitionLocked(State::kBackfilling);
    ScheduleBackfillLocked(schedule);
    // Backfilling (or ended); or the checkpoints still cover everything: then read them now.
    if (state_ != State::kInMemory) return PopLocked(limit);
  }
  std::shared_ptr<engine::VBucket> vb = vb_.lock();
  if (vb == nullptr) {
    EndStreamLocked(DcpStreamEndStatus::kStateChanged);
    return PopLocked(limit);
  }
  ProcessItemsLocked(vb->checkpoints().GetItemsForCursor(cursor_, kMemoryBatchItems),
                     vb->purge_seqno());
  return PopLocked(limit);
}

void ActiveStream::ScheduleBackfillLocked(std::optional<BackfillSpec>* schedule) {
  const uint64_t start = last_read_seqno_ + 1;
  uint64_t backfill_end = params_.end_seqno;
  bool needed = true;
  if (!disk_only()) {
    std::shared_ptr<engine::VBucket> vb = vb_.lock();
    if (vb == nullptr) {
      EndStreamLocked(DcpStreamEndStatus::kStateChanged);
      return;
    }
    const uint64_t generation = ++cursor_generation_;
    // Weak: the callback is owned by the checkpoint manager's cursor and must not keep us alive.
    std::weak_ptr<ActiveStream> weak = weak_from_this();
    engine::CursorRegistration reg = vb->checkpoints().RegisterCursor(
        cursor_name_, last_read_seqno_, options_.cursor_droppable, [weak, generation] {
          if (std::shared_ptr<ActiveStream> stream = weak.lock()) {
            stream->OnCursorDropped(generation);
          }
        });
    cursor_ = reg.cursor;
    needed = reg.needs_backfill;
    backfill_end = std::min(params_.end_seqno, reg.next_seqno - 1);
  }
  if (!needed) {
    TransitionLocked(State::kInMemory);
    return;
  }
  if (start > backfill_end) {
    EndStreamLocked(DcpStreamEndStatus::kOk);  // the end seqno was already read
    return;
  }
  backfill_running_ = true;
  backfill_id_ = NewBackfillId();
  // Key order only for the initial backfill from 0: the consumer then has nothing to merge with.
  backfill_oso_ = options_.oso != StreamOptions::Oso::kOff && last_read_seqno_ == 0;
  ++backfills_scheduled_;
  BackfillSpec spec;
  spec.id = backfill_id_;
  spec.key_order = backfill_oso_;
  spec.stream = weak_from_this();
  spec.vbid = vbid_;
  spec.sid = params_.sid;
  spec.opaque = params_.opaque;
  spec.encoder = options_.encoder;
  spec.start = start;
  spec.end = backfill_end;
  spec.stream_end = params_.end_seqno;
  spec.key_only = !options_.include_value;
  spec.skip_deleted = options_.skip_deletes_in_initial_backfill && initial_backfill_;
  spec.ignore_purged_tombstones = (params_.flags & protocol::kDcpStreamIgnorePurgedTombstones) != 0;
  spec.remote_purge_seqno = params_.remote_purge_seqno;
  *schedule = std::move(spec);
}

void ActiveStream::ProcessItemsLocked(engine::CursorItems&& items, uint64_t purge_seqno) {
  for (engine::CheckpointSnapshot& snap : items.snapshots) {
    if (!snap.items.empty()) {
      cursor_last_seqno_ = std::max(cursor_last_seqno_, snap.items.back()->by_seqno);
    }
    // Skip what the disk snapshot already sent, and never go past the end seqno.
    const uint64_t after = last_read_seqno_;
    const uint64_t end_seqno = params_.end_seqno;
    auto first = std::find_if(snap.items.begin(), snap.items.end(),
                              [after](const auto& item) { return item->by_seqno > after; });
    auto last = std::find_if(first, snap.items.end(),
                             [end_seqno](const auto& item) { return item->by_seqno > end_seqno; });
    if (first == last) continue;
    // A closed checkpoint read only partly (the batch limit) continues in the next read with
    // the rest of its items: the marker already sent covers them.
    const bool continuation = first_marker_sent_ && (*first)->by_seqno <= last_marker_end_;
    if (!continuation) {
      uint64_t start = snap.start;
      if (first_marker_sent_) {
        start = std::max(start, last_marker_end_ + 1);
      } else {
        start = std::min(params_.snap_start_seqno, start);
        first_marker_sent_ = true;
      }
      const uint64_t end = std::min(snap.end, params_.end_seqno);
      uint32_t flags = protocol::kDcpSnapshotMemory;
      if (next_snapshot_is_checkpoint_) {
        flags |= protocol::kDcpSnapshotCheckpoint;
        next_snapshot_is_checkpoint_ = false;
      }
      PushLocked(DcpMessage::SnapshotMarker(start, end, flags, purge_seqno));
      last_marker_end_ = end;
    }
    for (auto it = first; it != last; ++it) {
      last_read_seqno_ = (*it)->by_seqno;
      // Without SyncWrites a stream carries committed data only: no prepares nor aborts, and
      // a commit goes as the plain mutation it makes visible (kv_engine).
      if (!options_.sync_writes && !(*it)->IsCommittedData()) continue;
      PushLocked(ItemMessage(std::move(*it)));
    }
  }
  if (last_read_seqno_ >= params_.end_seqno || cursor_last_seqno_ >= params_.end_seqno) {
    // The end seqno itself may have been deduplicated away: a marker promised up to it.
    if (last_marker_end_ == params_.end_seqno && last_read_seqno_ < last_marker_end_) {
      PushSeqnoAdvancedLocked(last_marker_end_);
    }
    EndStreamLocked(DcpStreamEndStatus::kOk);
  }
}

void ActiveStream::PushSeqnoAdvancedLocked(uint64_t seqno) {
  // kv_engine moves the stream's position either way; only a collection-aware consumer is told.
  last_read_seqno_ = std::max(last_read_seqno_, seqno);
  if (options_.seqno_advanced) PushLocked(DcpMessage::SeqnoAdvanced(seqno));
}

DcpMessage ActiveStream::ItemMessage(engine::QueuedItem item) const {
  DcpMessage m;
  m.type = options_.encoder.TypeOf(item->deleted, item->delete_source);
  if (options_.sync_writes) {
    switch (item->sync_op) {
      case engine::SyncOp::kPrepare:
        m.type = DcpMessage::Type::kPrepare;
        break;
      case engine::SyncOp::kCommit:
        m.type = DcpMessage::Type::kCommit;
        break;
      case engine::SyncOp::kAbort:
        m.type = DcpMessage::Type::kAbort;
        break;
      case engine::SyncOp::kNone:
        break;
    }
  }
  m.item = std::move(item);
  return m;
}

void ActiveStream::PushLocked(DcpMessage message) {
  ready_memory_ += message.MemorySize();
  ready_messages_ += message.num_messages();
  ready_.push_back(std::move(message));
}

std::optional<DcpMessage> ActiveStream::PopLocked(size_t limit) {
  if (ready_.empty()) return std::nullopt;
  DcpMessage& front = ready_.front();
  if (front.type == DcpMessage::Type::kBackfillItems) {
    const auto cut = static_cast<uint32_t>(front.batch->CutAt(front.first, limit));
    if (cut < front.last) {
      // A prefix: the entry stays queued (and keeps its memory charge) with the rest.
      DcpMessage part = DcpMessage::BackfillItems(front.batch, front.batch_memory, front.first, cut,
                                                  front.batch->RangeBytes(front.first, cut));
      front.first = cut;
      front.backfill_bytes -= part.backfill_bytes;
      CountSentLocked(part);
      return part;
    }
  }
  DcpMessage m = std::move(front);
  ready_.pop_front();
  ready_memory_ -= m.MemorySize();
  CountSentLocked(m);
  return m;
}

void ActiveStream::CountSentLocked(const DcpMessage& m) {
  ready_messages_ -= m.num_messages();
  const size_t items = m.num_items();
  if (m.backfill_bytes != 0) {
    buffered_bytes_ -= m.backfill_bytes;
    buffered_items_ -= items;
  }
  if (items == 0) return;
  last_sent_seqno_ = m.is_item() ? m.item->by_seqno : m.batch->seqno(m.last - 1);
  if (m.from_backfill) {
    backfill_sent_ += items;
  } else {
    memory_phase_items_ += items;
  }
}

void ActiveStream::EndStreamLocked(DcpStreamEndStatus reason) {
  if (state_ == State::kDead) return;
  if (state_ == State::kBackfilling || reason == DcpStreamEndStatus::kDisconnected) {
    // Nothing more of it will be sent: release the memory and the backfill-buffer bytes.
    end_effects_.freed_bytes += buffered_bytes_;
    buffered_bytes_ = 0;
    buffered_items_ = 0;
    ready_.clear();
    ready_messages_ = 0;
    ready_memory_ = 0;
  }
  // A backfill still scheduled (queued, or running now) must not outlive the stream.
  if (backfill_running_) end_effects_.cancel_backfill = backfill_id_;
  pending_backfill_ = false;
  end_reason_ = reason;
  TransitionLocked(State::kDead);
  if (reason != DcpStreamEndStatus::kDisconnected) PushLocked(DcpMessage::StreamEnd(reason));
  const bool normal = reason == DcpStreamEndStatus::kOk || reason == DcpStreamEndStatus::kClosed ||
                      reason == DcpStreamEndStatus::kStateChanged;
  if (reason == DcpStreamEndStatus::kDisconnected) {
    // The producer logs its disconnect once; a line per stream (hundreds of them when many
    // consumers hang up together) would cost the io thread more than the disconnect itself.
    LOG_DEBUG("dcp stream {}: closing ({}), last sent seqno {}", cursor_name_,
              protocol::DcpStreamEndStatusName(reason), last_sent_seqno_);
  } else if (normal) {
    LOG_INFO("dcp stream {}: closing ({}), last sent seqno {}", cursor_name_,
             protocol::DcpStreamEndStatusName(reason), last_sent_seqno_);
  } else {
    LOG_WARN("dcp stream {}: closing ({}), last sent seqno {}", cursor_name_,
             protocol::DcpStreamEndStatusName(reason), last_sent_seqno_);
  }
}

void ActiveStream::EndStream(DcpStreamEndStatus reason) {
  EndEffects ended;
  {
    MutexLock lock(&mu_);
    if (state_ == State::kDead) return;
    EndStreamLocked(reason);
    ended = TakeEndEffectsLocked();
  }
  ApplyEndEffects(ended);
  if (reason != DcpStreamEndStatus::kDisconnected) NotifyReady(/*force=*/true);
}

std::deque<DcpMessage> ActiveStream::EndStreamTakingQueue() {
  std::deque<DcpMessage> queue;
  EndEffects ended;
  {
    MutexLock lock(&mu_);
    if (state_ == State::kDead) return queue;
    queue.swap(ready_);
    EndStreamLocked(DcpStreamEndStatus::kDisconnected);
    ended = TakeEndEffectsLocked();
  }
  ApplyEndEffects(ended);
  return queue;
}

void ActiveStream::ApplyEndEffects(const EndEffects& effects, StreamOwner& owner) {
  if (effects.freed_bytes != 0) owner.BackfillBytesSent(effects.freed_bytes);
  if (effects.cancel_backfill != 0) owner.CancelBackfill(effects.cancel_backfill);
}

void ActiveStream::ApplyEndEffects(const EndEffects& effects) {
  if (effects.freed_bytes == 0 && effects.cancel_backfill == 0) return;
  // `owner` may be the last reference: it is released at the end of this block, with no lock of
  // ours held.
  if (std::shared_ptr<StreamOwner> owner = owner_.lock()) ApplyEndEffects(effects, *owner);
}

void ActiveStream::NotifySeqnoAvailable() {
  if (state() == State::kInMemory) NotifyReady(/*force=*/false);
}

void ActiveStream::NotifyReady(bool force) {
  bool expected = false;
  if (!force && !items_ready_.compare_exchange_strong(expected, true)) return;
  if (force) items_ready_.store(true);
  // Promoted only for the call; if it is the last reference, the owner's destructor runs at the
  // end of this statement, on this thread, with no lock of ours held.
  if (std::shared_ptr<StreamOwner> owner = owner_.lock()) owner->NotifyStreamReady(key());
}

void ActiveStream::OnCursorDropped(uint64_t generation) {
  {
    MutexLock lock(&mu_);
    if (generation != cursor_generation_) return;  // a cursor we replaced meanwhile
    if (state_ != State::kBackfilling && state_ != State::kInMemory) return;
    pending_backfill_ = true;
    cursor_.reset();
    ++cursor_drops_;
    LOG_INFO("dcp stream {}: cursor dropped at seqno {}; will backfill", cursor_name_,
             last_read_seqno_);
  }
  NotifyReady(/*force=*/true);
}

// ---- backfill side ----

bool ActiveStream::MarkDiskSnapshot(uint64_t start, uint64_t end, uint64_t purge_seqno) {
  {
    MutexLock lock(&mu_);
    if (state_ != State::kBackfilling) return false;
    backfill_max_seqno_ = 0;
    if (backfill_oso_) {
      // Out of order: no snapshot marker; the OSO brackets say where the snapshot ends.
      PushLocked(DcpMessage::OsoSnapshot(protocol::kDcpOsoSnapshotStart));
      oso_open_ = true;
    } else {
      uint64_t marker_start = start;
      if (!first_marker_sent_) {
        marker_start = std::min(params_.snap_start_seqno, start);
        first_marker_sent_ = true;
      }
      PushLocked(DcpMessage::SnapshotMarker(
          marker_start, end, protocol::kDcpSnapshotDisk | protocol::kDcpSnapshotCheckpoint,
          purge_seqno));
      last_marker_end_ = end;
    }
  }
  NotifyReady(/*force=*/false);
  return true;
}

BackfillTarget::Delivery ActiveStream::BackfillBatchReceived(
    std::shared_ptr<const BackfillBatch> batch, BackfillBuffer& buffer) {
  bool full = false;
  {
    MutexLock lock(&mu_);
    if (state_ != State::kBackfilling) return Delivery::kStreamNotBackfilling;
    const size_t items = batch->size();
    const size_t bytes = batch->bytes();
    const uint64_t max_seqno = batch->max_seqno();
    // Stream and buffer counts move together under mu_: EndStreamLocked frees exactly what
    // was charged here and not yet popped.
    buffered_bytes_ += bytes;
    buffered_items_ += items;
    full = !buffer.Read(bytes);
    last_backfilled_seqno_ = std::max(last_backfilled_seqno_, max_seqno);
    backfill_max_seqno_ = std::max(backfill_max_seqno_, max_seqno);
    backfill_disk_items_ += items;
    const size_t memory = batch->MemorySize();
    PushLocked(DcpMessage::BackfillItems(std::move(batch), memory, 0, static_cast<uint32_t>(items),
                                         bytes));
  }
  NotifyReady(/*force=*/false);
  return full ? Delivery::kBufferFull : Delivery::kQueued;
}

void ActiveStream::CompleteBackfill(uint64_t scan_end) {
  {
    MutexLock lock(&mu_);
    if (state_ == State::kBackfilling) {
      if (oso_open_) {
        // kv_engine: with "true_with_seqno_advanced", a SeqnoAdvanced to the snapshot's end
        // unless the last item sent was it; then the OSO end. The next marker starts after it.
        if (options_.oso == StreamOptions::Oso::kWithSeqnoAdvanced &&
            backfill_max_seqno_ != scan_end) {
          PushLocked(DcpMessage::SeqnoAdvanced(scan_end));
        }
        PushLocked(DcpMessage::OsoSnapshot(protocol::kDcpOsoSnapshotEnd));
        oso_open_ = false;
        first_marker_sent_ = true;
        last_marker_end_ = scan_end;
      } else if (last_marker_end_ == scan_end && backfill_max_seqno_ < scan_end) {
        // The disk snapshot ends past its last item (skipped deletes, the end seqno rewritten).
        PushSeqnoAdvancedLocked(scan_end);
      }
    }
    last_read_seqno_ = std::max({last_read_seqno_, last_backfilled_seqno_, scan_end});
    backfill_running_ = false;
    backfill_oso_ = false;
    initial_backfill_ = false;
  }
  // Forced: a producer that just found the ready queue empty must look again.
  NotifyReady(/*force=*/true);
}

// ---- stats ----

std::string ActiveStream::StatName() const {
  return params_.sid == 0 ? fmt::format("stream_{}", vbid_)
                          : fmt::format("stream_{}_sid:{}", vbid_, params_.sid);
}

void ActiveStream::AddStats(const engine::AddStatFn& add) const {
  std::string state;
  uint64_t last_read = 0, last_sent = 0, disk_items = 0, sent = 0, memory = 0, drops = 0;
  uint64_t backfills = 0;
  size_t ready_items = 0, ready_memory = 0, buffered_bytes = 0, buffered_items = 0;
  bool cursor_registered = false;
  {
    MutexLock lock(&mu_);
    state = std::string(StateName(state_));
    last_read = last_read_seqno_;
    last_sent = last_sent_seqno_;
    disk_items = backfill_disk_items_;
    sent = backfill_sent_;
    memory = memory_phase_items_;
    drops = cursor_drops_;
    backfills = backfills_scheduled_;
    ready_items = ready_messages_;
    ready_memory = ready_memory_;
    buffered_bytes = buffered_bytes_;
    buffered_items = buffered_items_;
    cursor_registered = !cursor_.expired();
  }
  auto stat = [&](std::string_view name, const auto& value) {
    add(name, fmt::format("{}", value));
  };
  stat("state", state);
  if (params_.sid != 0) stat("sid", params_.sid);
  stat("flags", params_.flags);
  stat("opaque", params_.opaque);
  stat("start_seqno", params_.start_seqno);
  stat("end_seqno", params_.end_seqno);
  stat("vb_uuid", params_.vbucket_uuid);
  stat("snap_start_seqno", params_.snap_start_seqno);
  stat("snap_end_seqno", params_.snap_end_seqno);
  stat("items_ready", items_ready_.load() ? "true" : "false");
  stat("readyQ_items", ready_items);
  stat("last_sent_seqno", last_sent);
  stat("last_read_seqno", last_read);
  stat("backfill_disk_items", disk_items);
  stat("backfill_sent", sent);
  stat("memory_phase", memory);
  stat("ready_queue_memory", ready_memory);
  stat("backfill_buffer_bytes", buffered_bytes);
  stat("backfill_buffer_items", buffered_items);
  stat("backfill_pauses", backfill_pauses_.load());
  stat("backfills_scheduled", backfills);
  stat("cursor_registered", cursor_registered ? "true" : "false");
  stat("cursor_drops", drops);
}

void ActiveStream::Aggregate(StreamAggregate* agg) const {
  std::weak_ptr<engine::Cursor> cursor;
  {
    MutexLock lock(&mu_);
    agg->ready_queue_items += ready_messages_;
    agg->ready_queue_memory += ready_memory_;
    agg->backfill_disk_items += backfill_disk_items_;
    agg->items_remaining += ready_messages_;
    cursor = cursor_;
  }
  if (std::shared_ptr<engine::VBucket> vb = vb_.lock()) {
    agg->items_remaining += vb->checkpoints().NumItemsForCursor(cursor);
  }
}

}  // namespace sluice::dcp
