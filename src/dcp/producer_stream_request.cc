// Producer::StreamRequest and Producer::CloseStream: opening and closing streams, with
// kv_engine's checks in kv_engine's order (the contract is on the declarations in producer.h).
#include "common/logging.h"
#include "dcp/producer.h"

namespace sluice::dcp {

using protocol::DcpStreamEndStatus;

Status Producer::CheckStreamId(const StreamFilter& filter) const {
  MutexLock lock(&mu_);
  if (stream_ids_ && !filter.stream_id.has_value()) {
    return Status(Errc::kDcpStreamIdInvalid, "enable_stream_id: a stream request needs a sid");
  }
  if (!stream_ids_ && filter.stream_id.has_value()) {
    return Status(Errc::kDcpStreamIdInvalid, "a sid needs the control enable_stream_id");
  }
  return Status::Ok();
}

Status Producer::CheckRange(StreamParams* p, const engine::VBucket& vb) const {
  const uint64_t high = vb.high_seqno();
  if ((p->flags & protocol::kDcpStreamFromLatest) != 0) {
    p->start_seqno = p->snap_start_seqno = p->snap_end_seqno = high;
    if (p->vbucket_uuid == 0) p->vbucket_uuid = vb.uuid();
  }
  if (p->start_seqno > p->end_seqno) return Status(Errc::kRange, "start seqno above end seqno");
  if (!(p->snap_start_seqno <= p->start_seqno && p->start_seqno <= p->snap_end_seqno)) {
    return Status(Errc::kRange, "need snap_start <= start <= snap_end");
  }
  return Status::Ok();
}

StreamRequestResult Producer::CheckRollback(const StreamParams& p, engine::VBucket& vb) const {
  StreamRequestResult result;
  const bool ignore_purged = (p.flags & protocol::kDcpStreamIgnorePurgedTombstones) != 0;
  const engine::RollbackDecision rollback = vb.failover_table().NeedsRollback(
      p.start_seqno, vb.high_seqno(), p.vbucket_uuid, p.snap_start_seqno, p.snap_end_seqno,
      ignore_purged ? 0 : vb.purge_seqno(), p.remote_purge_seqno,
      (p.flags & protocol::kDcpStreamStrictVbUuid) != 0);
  if (rollback.rollback) {
    LOG_INFO(
        "dcp {}: vb:{} stream request (start {}, snapshot [{}, {}], uuid {}) must roll back "
        "to {}",
        conn_name_, vb.id(), p.start_seqno, p.snap_start_seqno, p.snap_end_seqno, p.vbucket_uuid,
        rollback.rollback_seqno);
    result.status = Errc::kRollback;
    result.rollback_seqno = rollback.rollback_seqno;
  }
  return result;
}

StreamOptions Producer::OptionsForNewStream() const {
  StreamOptions options;
  // A backfill reads values unless nothing of them is sent: with NoValue, IncludeXattrs still
  // sends the xattrs (ItemEncoder::Outgoing).
  options.include_value = (open_flags_ & (protocol::kDcpOpenNoValue |
                                          protocol::kDcpOpenNoValueWithUnderlyingDatatype)) == 0 ||
                          (open_flags_ & protocol::kDcpOpenIncludeXattrs) != 0;
  options.skip_deletes_in_initial_backfill =
      (open_flags_ & protocol::kDcpOpenSkipDeletesInInitialBackfill) != 0;
  options.seqno_advanced = collections_;
  MutexLock lock(&mu_);
  options.cursor_droppable = cursor_dropping_;
  options.oso = oso_;
  options.sync_writes = sync_writes_;
  options.encoder = ItemEncoder(open_flags_, collections_, expiry_opcode_, sync_writes_);
  return options;
}

Status Producer::InsertStream(const std::shared_ptr<ActiveStream>& stream) {
  std::shared_ptr<ActiveStream> replaced;  // a dead stream, released after the lock
  {
    MutexLock lock(&mu_);
    if (disconnecting_.load()) return Errc::kDisconnect;
    std::shared_ptr<ActiveStream>& slot = streams_[stream->key()];
    if (slot != nullptr && !slot->IsDead()) {
      return Status(Errc::kExists, "a stream already exists for this vbucket (and stream id)");
    }
    replaced = std::move(slot);
    slot = stream;
  }
  if (replaced != nullptr) directory_->RemoveStream(replaced->vbid(), replaced.get());
  directory_->AddStream(stream->vbid(), stream);
  return Status::Ok();
}

namespace {

// kv_engine: any vbucket but a dead one may be streamed (a replica feeds its own consumers);
// ActiveVbOnly asks for an active one.
bool StreamableState(VBucketState state, uint32_t flags) {
  if ((flags & protocol::kDcpStreamActiveVbOnly) != 0) return state == VBucketState::kActive;
  return state != VBucketState::kDead;
}

}  // namespace

StatusOr<StreamParams> Producer::CheckRequest(const protocol::DcpStreamReqRequest& a,
                                              std::shared_ptr<engine::VBucket>* vb) const {
  if (disconnecting_.load()) return Status(Errc::kDisconnect);
  if ((a.flags & ~(protocol::kDcpStreamKnownFlags | protocol::kDcpStreamNoValue)) != 0) {
    return Status(Errc::kInvalid, "unknown stream request flags");
  }
  ASSIGN_OR_RETURN(StreamFilter filter, ParseStreamFilter(a.json_value));
  RETURN_IF_ERROR(CheckStreamId(filter));
  *vb = bucket_->GetVBucket(a.vbucket);
  if (*vb == nullptr || !StreamableState((*vb)->state(), a.flags)) return Errc::kNotMyVbucket;
  if ((a.flags & (protocol::kDcpStreamTakeOver | protocol::kDcpStreamCacheTransfer)) != 0) {
    return Status(Errc::kNotSupported, "takeover and cache-transfer streams");
  }
  StreamParams p;
  p.sid = filter.stream_id.value_or(0);
  p.flags = a.flags;
  p.opaque = a.opaque;
  p.start_seqno = a.start_seqno;
  p.end_seqno = a.end_seqno;
  p.vbucket_uuid = a.vbucket_uuid;
  p.snap_start_seqno = a.snap_start_seqno;
  p.snap_end_seqno = a.snap_end_seqno;
  p.remote_purge_seqno = filter.remote_purge_seqno;
  RETURN_IF_ERROR(CheckRange(&p, **vb));
  MutexLock lock(&mu_);
  auto it = streams_.find(StreamKey{a.vbucket, p.sid});
  if (it != streams_.end() && !it->second->IsDead()) {
    return Status(Errc::kExists, "a stream already exists for this vbucket");
  }
  return p;
}

Status Producer::ResolveEnd(StreamParams* p, const engine::VBucket& vb) const {
  const uint64_t high = vb.high_seqno();
  if ((p->flags & protocol::kDcpStreamToLatest) != 0) p->end_seqno = high;
  if ((p->flags & protocol::kDcpStreamDiskOnly) != 0) p->end_seqno = vb.persisted_seqno();
  if (p->start_seqno > p->end_seqno || p->start_seqno > high) {
    return Status(Errc::kRange, "start seqno above the end or the vbucket's high seqno");
  }
  const Config& config = bucket_->config();
  if (static_cast<double>(bucket_->MemUsed()) >
      static_cast<double>(config.max_size) * config.backfill_mem_threshold) {
    return Status(Errc::kNoMemory, "memory above backfill_mem_threshold");
  }
  return Status::Ok();
}

Status Producer::OpenStream(const StreamParams& p, const std::shared_ptr<engine::VBucket>& vb) {
  auto stream =
      std::make_shared<ActiveStream>(weak_from_this(), conn_name_, vb, p, OptionsForNewStream());
  RETURN_IF_ERROR(InsertStream(stream));
  // The vbucket may have changed state (or been deleted) since we checked; the ConnMap ends the
  // streams it knows of, and ours is known from here on. Check again to close the window.
  if (bucket_->GetVBucket(vb->id()) != vb || !StreamableState(vb->state(), p.flags)) {
    RemoveStream(stream.get());
    stream->EndStream(DcpStreamEndStatus::kStateChanged);
    return Errc::kNotMyVbucket;
  }
  stream->Activate(*this);
  LOG_INFO("dcp {}: vb:{} stream{} opened: start {}, end {}, snapshot [{}, {}], flags {:#x}",
           conn_name_, vb->id(), p.sid == 0 ? "" : fmt::format(" (sid {})", p.sid), p.start_seqno,
           p.end_seqno, p.snap_start_seqno, p.snap_end_seqno, p.flags);
  return Status::Ok();
}

StreamRequestResult Producer::StreamRequest(const protocol::DcpStreamReqRequest& a) {
  MessageReceived();
  StreamRequestResult result;
  std::shared_ptr<engine::VBucket> vb;
  StatusOr<StreamParams> p = CheckRequest(a, &vb);
  if (!p.ok()) {
    result.status = p.status();
    return result;
  }
  if (StreamRequestResult r = CheckRollback(*p, *vb); !r.status.ok()) return r;
  result.status = ResolveEnd(&*p, *vb);
  if (result.status.ok()) result.status = OpenStream(*p, vb);
  if (result.status.ok()) result.failover_log = vb->failover_table().Entries();
  return result;
}

Status Producer::CloseStream(Vbid vb, std::optional<uint16_t> sid) {
  MessageReceived();
  if (disconnecting_.load()) return Errc::kDisconnect;
  std::shared_ptr<ActiveStream> stream;
  bool remove_now = false;
  {
    MutexLock lock(&mu_);
    if (stream_ids_ != sid.has_value()) {
      return Status(Errc::kDcpStreamIdInvalid, stream_ids_
                                                   ? "enable_stream_id: CLOSE_STREAM needs a sid"
                                                   : "a sid needs the control enable_stream_id");
    }
    auto it = streams_.find(StreamKey{vb, sid.value_or(0)});
    if (it == streams_.end()) return Status(Errc::kStreamNotFound, "no stream for this vbucket");
    stream = it->second;
    remove_now = !send_stream_end_on_close_;
  }
  const bool was_live = !stream->IsDead();
  if (remove_now) RemoveStream(stream.get());
  stream->EndStream(DcpStreamEndStatus::kClosed);
  if (!was_live) return Status(Errc::kStreamNotFound, "the stream had already ended");
  return Status::Ok();
}

}  // namespace sluice::dcp
