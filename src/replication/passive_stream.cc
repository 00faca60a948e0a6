#include "replication/passive_stream.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <type_traits>
#include <variant>

#include "common/logging.h"
#include "protocol/dcp_sync_write.h"
#include "protocol/opcode.h"

namespace sluice::replication {
namespace {

std::vector<storage::FailoverEntry> FromWire(const std::vector<protocol::FailoverEntry>& log) {
  std::vector<storage::FailoverEntry> out;
  out.reserve(log.size());
  for (const auto& e : log) out.push_back({e.vbucket_uuid, e.seqno});
  return out;
}

}  // namespace

std::string_view PassiveStream::StateName(State state) {
  switch (state) {
    case State::kPending:
      return "pending";
    case State::kAwaitingResponse:
      return "awaiting-response";
    case State::kReading:
      return "reading";
    case State::kDead:
      return "dead";
  }
  return "unknown";
}

PassiveStream::PassiveStream(Vbid vb, std::string name, engine::Bucket& bucket)
    : vb_(vb), name_(fmt::format("{} vb:{}", name, vb)), bucket_(bucket) {}

void PassiveStream::Transition(State next) {
  const State now = state();
  bool valid = false;
  switch (now) {
    case State::kPending:
      valid = next == State::kAwaitingResponse || next == State::kDead;
      break;
    case State::kAwaitingResponse:
      valid = next == State::kReading || next == State::kPending || next == State::kDead;
      break;
    case State::kReading:
      valid = next == State::kPending || next == State::kDead;
      break;
    case State::kDead:
      valid = false;
      break;
  }
  if (!valid) {
    LOG_CRITICAL("passive stream {}: invalid transition {} -> {}", name_, StateName(now),
                 StateName(next));
    std::abort();
  }
  LOG_DEBUG("passive stream {}: {} -> {}", name_, StateName(now), StateName(next));
  state_.store(next, std::memory_order_relaxed);
}

StatusOr<protocol::DcpStreamReqRequest> PassiveStream::Request(uint32_t opaque, uint32_t flags) {
  std::shared_ptr<engine::VBucket> vb = bucket_.GetVBucket(vb_);
  if (vb == nullptr || !IsReplicaState(vb->state())) {
    return Status(Errc::kNotMyVbucket, "the local vbucket is missing or not a replica");
  }
  const engine::ReplicaPosition pos = vb->ReplicaResumePoint();
  acked_hps_ = 0;  // the new stream acknowledges the HPS again
  protocol::DcpStreamReqRequest req;
  req.vbucket = vb_;
  req.opaque = opaque;
  req.start_seqno = pos.high_seqno;
  req.end_seqno = ~uint64_t{0};
  req.vbucket_uuid = pos.uuid;
  req.snap_start_seqno = pos.snap_start;
  req.snap_end_seqno = pos.snap_end;
  req.flags = flags;
  opaque_ = opaque;
  req_flags_.store(flags, std::memory_order_relaxed);
  req_opaque_.store(opaque, std::memory_order_relaxed);
  req_start_.store(req.start_seqno, std::memory_order_relaxed);
  req_uuid_.store(req.vbucket_uuid, std::memory_order_relaxed);
  req_snap_start_.store(req.snap_start_seqno, std::memory_order_relaxed);
  req_snap_end_.store(req.snap_end_seqno, std::memory_order_relaxed);
  cur_snap_flags_.store(0, std::memory_order_relaxed);
  cur_snap_prepare_.store(false, std::memory_order_relaxed);
  requested_start_ = pos.high_seqno;
  marker_seen_ = false;
  marker_flags_ = 0;
  snap_start_ = snap_end_ = pos.high_seqno;
  last_seqno_.store(pos.high_seqno, std::memory_order_relaxed);
  requests_.fetch_add(1, std::memory_order_relaxed);
  Transition(State::kAwaitingResponse);
  LOG_DEBUG("passive stream {}: requesting from {} (snapshot [{}, {}], uuid {})", name_,
            pos.high_seqno, pos.snap_start, pos.snap_end, pos.uuid);
  return req;
}

PassiveStream::AfterResponse PassiveStream::OnResponse(const client::StreamReqResult& result) {
  if (result.status == protocol::McbpStatus::kSuccess) {
    std::shared_ptr<engine::VBucket> vb = bucket_.GetVBucket(vb_);
    if (vb == nullptr || !IsReplicaState(vb->state())) {
      Transition(State::kPending);
      return AfterResponse::kRetryLater;
    }
    vb->AdoptFailoverLog(FromWire(result.failover_log));
    Transition(State::kReading);
    LOG_INFO("passive stream {}: reading from seqno {}", name_, requested_start_);
    return AfterResponse::kReading;
  }
  Transition(State::kPending);
  if (result.status == protocol::McbpStatus::kRollback) {
    rollbacks_.fetch_add(1, std::memory_order_relaxed);
    return Rollback(result.rollback_seqno);
  }
  LOG_WARN("passive stream {}: stream request refused: {} {}", name_,
           protocol::McbpStatusName(result.status), result.value);
  return AfterResponse::kRetryLater;
}

PassiveStream::AfterResponse PassiveStream::Rollback(uint64_t rollback_seqno) {
  std::shared_ptr<engine::VBucket> vb = bucket_.GetVBucket(vb_);
  if (vb == nullptr) return AfterResponse::kRetryLater;
  const engine::ReplicaPosition pos = vb->ReplicaResumePoint();
  if (rollback_seqno >= pos.high_seqno) {
    // Nothing we hold lies past the producer's history: the snapshot we were in is whole.
    LOG_INFO("passive stream {}: rollback to {} (high seqno {}): nothing to undo", name_,
             rollback_seqno, pos.high_seqno);
    vb->MarkSnapshotWholeAtHigh();
    return AfterResponse::kRequestAgain;
  }
  // Rewind from the history first; beyond it, empty the vbucket and copy it again.
  StatusOr<engine::VBucketRollback> rolled = bucket_.RollbackVBucket(vb_, rollback_seqno);
  if (rolled.ok()) {
    LOG_INFO("passive stream {}: rolled back from seqno {} to {} (asked for {}): {} items undone",
             name_, pos.high_seqno, rolled->seqno, rollback_seqno, rolled->items_rolled_back);
    ForgetAbove(rolled->seqno);
    return AfterResponse::kRequestAgain;
  }
  if (rolled.status().code() == Errc::kNotMyVbucket) return AfterResponse::kRetryLater;
  // Beyond the history window, or kv_engine's midpoint rule (at least half of the items would
  // go): the status's message says which.
  LOG_WARN(
      "passive stream {}: cannot roll back from seqno {} to {} from the replica's history ({}): "
      "resetting the vbucket (copied again from 0)",
      name_, pos.high_seqno, rollback_seqno, rolled.status().ToString());
  StatusOr<std::shared_ptr<engine::VBucket>> reset = bucket_.ResetVBucket(vb_);
  if (!reset.ok()) {
    LOG_WARN("passive stream {}: reset failed: {}", name_, reset.status().ToString());
    return AfterResponse::kRetryLater;
  }
  rollback_resets_.fetch_add(1, std::memory_order_relaxed);
  ForgetAbove(0);
  return AfterResponse::kRequestAgain;
}

void PassiveStream::ForgetAbove(uint64_t seqno) {
  while (!unacked_prepares_.empty() && unacked_prepares_.back().first > seqno) {
    unacked_prepares_.pop_back();
  }
  hps_ = std::min(hps_, seqno);
  acked_hps_ = std::min(acked_hps_, seqno);
  whole_upto_ = std::min(whole_upto_, seqno);
}

Status PassiveStream::Violation(std::string what) {
  errors_.fetch_add(1, std::memory_order_relaxed);
  LOG_WARN("passive stream {}: closing the stream: {}", name_, what);
  Transition(State::kPending);
  return Status(Errc::kInvalid, std::move(what));
}

Status PassiveStream::OnMessage(const client::DcpMessageView& message) {
  if (state() != State::kReading) {
    return Status(Errc::kInvalid, fmt::format("a message while {}", StateName(state())));
  }
  return std::visit(
      [&](const auto& m) -> Status {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, protocol::DcpSnapshotMarker>) {
          return OnMarker(m);
        } else if constexpr (std::is_same_v<T, protocol::DcpMutation>) {
          RETURN_IF_ERROR(CheckSeqno(m.by_seqno, "DCP_MUTATION"));
          return Apply({.key = m.key,
                        .value = m.value,
                        .seqno = m.by_seqno,
                        .cas = m.cas,
                        .rev_seqno = m.rev_seqno,
                        .flags = m.flags,
                        .expiry = m.expiration,
                        .datatype = m.datatype},
                       "DCP_MUTATION");
        } else if constexpr (std::is_same_v<T, protocol::DcpDeletion>) {
          RETURN_IF_ERROR(CheckSeqno(m.by_seqno, "DCP_DELETION"));
          return Apply({.key = m.key,
                        .value = m.value,
                        .seqno = m.by_seqno,
                        .cas = m.cas,
                        .rev_seqno = m.rev_seqno,
                        .expiry = m.delete_time,
                        .datatype = m.datatype,
                        .deleted = true,
                        .delete_source = DeleteSource::kExplicit},
                       "DCP_DELETION");
        } else if constexpr (std::is_same_v<T, protocol::DcpExpiration>) {
          RETURN_IF_ERROR(CheckSeqno(m.by_seqno, "DCP_EXPIRATION"));
          return Apply({.key = m.key,
                        .value = m.value,
                        .seqno = m.by_seqno,
                        .cas = m.cas,
                        .rev_seqno = m.rev_seqno,
                        .expiry = m.delete_time,
                        .datatype = m.datatype,
                        .deleted = true,
                        .delete_source = DeleteSource::kTtl},
                       "DCP_EXPIRATION");
        } else if constexpr (std::is_same_v<T, protocol::DcpSeqnoAdvanced>) {
          RETURN_IF_ERROR(CheckSeqno(m.by_seqno, "DCP_SEQNO_ADVANCED"));
          last_seqno_.store(m.by_seqno, std::memory_order_relaxed);
          if (m.by_seqno == snap_end_) OnSnapshotEnd();
          return Status::Ok();
        } else if constexpr (std::is_same_v<T, protocol::DcpStreamEnd>) {
          LOG_INFO("passive stream {}: stream end ({}) at seqno {}", name_,
                   protocol::DcpStreamEndStatusName(m.status), last_seqno_.load());
          Transition(State::kPending);
          return Status::Ok();
        } else if constexpr (std::is_same_v<T, protocol::DcpOsoSnapshot>) {
          return Violation("an out-of-order snapshot, which this consumer did not ask for");
        } else {
          static_assert(std::is_same_v<T, protocol::Frame>);
          // An answer to one of our requests is not the stream's business.
          if (m.is_response()) return Status::Ok();
          return OnSyncWrite(m);
        }
      },
      message.message);
}

Status PassiveStream::OnMarker(const protocol::DcpSnapshotMarker& m) {
  const uint64_t last = last_seqno_.load(std::memory_order_relaxed);
  if (m.start_seqno > m.end_seqno) {
    return Violation(
        fmt::format("snapshot marker [{}, {}] starts after its end", m.start_seqno, m.end_seqno));
  }
  if (m.end_seqno <= last) {
    return Violation(fmt::format("snapshot marker [{}, {}] ends at or below the last seqno {}",
                                 m.start_seqno, m.end_seqno, last));
  }
  if (marker_seen_ && m.start_seqno <= last) {
    return Violation(fmt::format("snapshot marker [{}, {}] starts at or below the last seqno {}",
                                 m.start_seqno, m.end_seqno, last));
  }
  // kv_engine: a checkpoint of its own unless a memory snapshot continues a memory snapshot.
  const bool new_checkpoint =
      !marker_seen_ ||
      (m.flags & (protocol::kDcpSnapshotCheckpoint | protocol::kDcpSnapshotDisk)) != 0 ||
      (marker_flags_ & protocol::kDcpSnapshotDisk) != 0;
  std::shared_ptr<engine::VBucket> vb = bucket_.GetVBucket(vb_);
  if (vb == nullptr) return Violation("the local vbucket is gone");
  const bool disk = (m.flags & protocol::kDcpSnapshotDisk) != 0;
  if (Status s = vb->ApplySnapshotMarker(m.start_seqno, m.end_seqno, new_checkpoint, disk);
      !s.ok()) {
    return Violation(fmt::format("snapshot marker [{}, {}] not applied: {}", m.start_seqno,
                                 m.end_seqno, s.ToString()));
  }
  marker_seen_ = true;
  marker_flags_ = m.flags;
  snap_start_ = m.start_seqno;
  snap_end_ = m.end_seqno;
  // Memory unless disk (kv_engine's cur_snapshot_type); never 0 once a marker arrived.
  cur_snap_flags_.store(m.flags | protocol::kDcpSnapshotMemory, std::memory_order_relaxed);
  cur_snap_start_.store(m.start_seqno, std::memory_order_relaxed);
  cur_snap_end_.store(m.end_seqno, std::memory_order_relaxed);
  cur_snap_prepare_.store(false, std::memory_order_relaxed);
  markers_.fetch_add(1, std::memory_order_relaxed);
  return Status::Ok();
}

Status PassiveStream::CheckSeqno(uint64_t seqno, std::string_view what) {
  const uint64_t last = last_seqno_.load(std::memory_order_relaxed);
  if (!marker_seen_)
    return Violation(fmt::format("{} seqno {} before any snapshot marker", what, seqno));
  if (seqno <= last) {
    return Violation(fmt::format("{} seqno {} not above the last seqno {}", what, seqno, last));
  }
  if (seqno < snap_start_ || seqno > snap_end_) {
    return Violation(fmt::format("{} seqno {} outside the snapshot [{}, {}]", what, seqno,
                                 snap_start_, snap_end_));
  }
  return Status::Ok();
}

Status PassiveStream::Apply(const engine::ReplicatedItem& item, std::string_view what) {
  std::shared_ptr<engine::VBucket> vb = bucket_.GetVBucket(vb_);
  if (vb == nullptr) return Violation("the local vbucket is gone");
  if (Status s = vb->ApplyReplicated(item); !s.ok()) {
    return Violation(fmt::format("{} seqno {} not applied: {}", what, item.seqno, s.ToString()));
  }
  last_seqno_.store(item.seqno, std::memory_order_relaxed);
  items_.fetch_add(1, std::memory_order_relaxed);
  if (item.seqno == snap_end_) OnSnapshotEnd();
  return Status::Ok();
}

void PassiveStream::OnSnapshotEnd() {
  whole_upto_ = snap_end_;  // its prepares may move the HPS (TakeSeqnoAck)
  whole_start_.store(snap_start_, std::memory_order_relaxed);
  whole_end_.store(snap_end_, std::memory_order_relaxed);
}

void PassiveStream::Reset(std::string_view why) {
  const State now = state();
  if (now == State::kDead || now == State::kPending) return;
  // DEBUG: a lost connection resets every stream of it; the link logs that once.
  LOG_DEBUG("passive stream {}: {} (was {}, last seqno {})", name_, why, StateName(now),
            last_seqno_.load());
  Transition(State::kPending);
}

void PassiveStream::Close() {
  if (state() != State::kDead) Transition(State::kDead);
}

Status PassiveStream::OnSyncWrite(const protocol::Frame& frame) {
  const auto opcode = frame.client_opcode();
  if (frame.magic != protocol::Magic::kClientRequest ||
      (opcode != protocol::Opcode::kDcpPrepare && opcode != protocol::Opcode::kDcpCommit &&
       opcode != protocol::Opcode::kDcpAbort)) {
    return Violation(fmt::format("unexpected message opcode {:#04x}", frame.opcode));
  }
  return opcode == protocol::Opcode::kDcpPrepare ? OnPrepare(frame) : OnResolution(frame);
}

Status PassiveStream::OnPrepare(const protocol::Frame& frame) {
  auto p = protocol::DecodeDcpPrepare(frame, /*collections=*/false);
  if (!p.ok()) return Violation("DCP_PREPARE: " + p.status().ToString());
  RETURN_IF_ERROR(CheckSeqno(p->by_seqno, "DCP_PREPARE"));
  std::shared_ptr<engine::VBucket> vb = bucket_.GetVBucket(vb_);
  if (vb == nullptr) return Violation("the local vbucket is gone");
  const auto level = static_cast<engine::SyncWriteLevel>(p->durability_level);
  const engine::ReplicatedItem item{.key = p->key,
                                    .value = p->value,
                                    .seqno = p->by_seqno,
                                    .cas = p->cas,
                                    .rev_seqno = p->rev_seqno,
                                    .flags = p->flags,
                                    .expiry = p->expiration,
                                    .datatype = p->datatype,
                                    .deleted = p->deleted};
  if (Status s = vb->ApplyReplicatedPrepare(item, level); !s.ok()) {
    return Violation(
        fmt::format("DCP_PREPARE seqno {} not applied: {}", p->by_seqno, s.ToString()));
  }
  unacked_prepares_.emplace_back(p->by_seqno, level);
  cur_snap_prepare_.store(true, std::memory_order_relaxed);
  last_seqno_.store(p->by_seqno, std::memory_order_relaxed);
  items_.fetch_add(1, std::memory_order_relaxed);
  if (p->by_seqno == snap_end_) OnSnapshotEnd();
  return Status::Ok();
}

Status PassiveStream::OnResolution(const protocol::Frame& frame) {
  const bool commit = frame.client_opcode() == protocol::Opcode::kDcpCommit;
  const char* what = commit ? "DCP_COMMIT" : "DCP_ABORT";
  auto r = protocol::DecodeDcpResolution(frame, /*collections=*/false);
  if (!r.ok()) return Violation(std::string(what) + ": " + r.status().ToString());
  RETURN_IF_ERROR(CheckSeqno(r->seqno, what));
  std::shared_ptr<engine::VBucket> vb = bucket_.GetVBucket(vb_);
  if (vb == nullptr) return Violation("the local vbucket is gone");
  const Status s = commit ? vb->ApplyReplicatedCommit(r->key, r->prepared_seqno, r->seqno)
                          : vb->ApplyReplicatedAbort(r->key, r->prepared_seqno, r->seqno);
  if (!s.ok()) {
    return Violation(fmt::format("{} seqno {} (prepare {}) not applied: {}", what, r->seqno,
                                 r->prepared_seqno, s.ToString()));
  }
  last_seqno_.store(r->seqno, std::memory_order_relaxed);
  items_.fetch_add(1, std::memory_order_relaxed);
  if (r->seqno == snap_end_) OnSnapshotEnd();
  return Status::Ok();
}

std::optional<uint64_t> PassiveStream::TakeSeqnoAck() {
  if (state() != State::kReading) return std::nullopt;
  // The link asks each stream that received something (and each one awaiting persistence): a
  // stream without prepares in flight answers without looking the vbucket up.
  uint64_t persisted = 0;
  if (!unacked_prepares_.empty()) {
    std::shared_ptr<engine::VBucket> vb = bucket_.GetVBucket(vb_);
    // Persisted means fsynced (it survives a power loss, not only a process crash): the flusher
    // syncs for such a prepare (VBucket::HasPersistenceWaiters).
    if (vb != nullptr) persisted = vb->synced_seqno();
  }
  while (!unacked_prepares_.empty()) {
    const auto [seqno, level] = unacked_prepares_.front();
    if (seqno > whole_upto_) break;
    if (level == engine::SyncWriteLevel::kPersistToMajority && persisted < seqno) break;
    hps_ = seqno;
    unacked_prepares_.pop_front();
  }
  if (hps_ == 0 || hps_ == acked_hps_) return std::nullopt;
  acked_hps_ = hps_;
  return hps_;
}

bool PassiveStream::AwaitsPersistence() const {
  return !unacked_prepares_.empty() && unacked_prepares_.front().first <= whole_upto_;
}

PassiveStreamStats PassiveStream::stats() const {
  PassiveStreamStats s;
  s.state = std::string(StateName(state()));
  s.last_received_seqno = last_seqno_.load(std::memory_order_relaxed);
  s.items = items_.load(std::memory_order_relaxed);
  s.markers = markers_.load(std::memory_order_relaxed);
  s.requests = requests_.load(std::memory_order_relaxed);
  s.rollbacks = rollbacks_.load(std::memory_order_relaxed);
  s.rollback_resets = rollback_resets_.load(std::memory_order_relaxed);
  s.errors = errors_.load(std::memory_order_relaxed);
  s.last_snapshot_start = whole_start_.load(std::memory_order_relaxed);
  s.last_snapshot_end = whole_end_.load(std::memory_order_relaxed);
  s.flags = req_flags_.load(std::memory_order_relaxed);
  s.opaque = req_opaque_.load(std::memory_order_relaxed);
  s.start_seqno = req_start_.load(std::memory_order_relaxed);
  s.vb_uuid = req_uuid_.load(std::memory_order_relaxed);
  s.snap_start_seqno = req_snap_start_.load(std::memory_order_relaxed);
  s.snap_end_seqno = req_snap_end_.load(std::memory_order_relaxed);
  const uint32_t snap = cur_snap_flags_.load(std::memory_order_relaxed);
  s.cur_snapshot_type = snap == 0                                  ? "none"
                        : (snap & protocol::kDcpSnapshotDisk) != 0 ? "disk"
                                                                   : "memory";
  s.cur_snapshot_start = cur_snap_start_.load(std::memory_order_relaxed);
  s.cur_snapshot_end = cur_snap_end_.load(std::memory_order_relaxed);
  s.cur_snapshot_prepare = cur_snap_prepare_.load(std::memory_order_relaxed);
  return s;
}

}  // namespace sluice::replication
