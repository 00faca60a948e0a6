#include "dcp/producer.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "common/logging.h"
#include "dcp/conn_map.h"
#include "dcp/queue_release.h"

namespace sluice::dcp {
namespace {

using protocol::DcpStreamEndStatus;

Duration Seconds(double s) {
  return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s));
}

bool ParseU32(std::string_view text, uint32_t* out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return !text.empty() && ec == std::errc() && ptr == text.data() + text.size();
}

bool ParseU64(std::string_view text, uint64_t* out) {
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return !text.empty() && ec == std::errc() && ptr == text.data() + text.size();
}

bool ParseSeconds(std::string_view text, double* out) {
  const std::string s(text);
  char* end = nullptr;
  errno = 0;
  *out = std::strtod(s.c_str(), &end);
  return !s.empty() && end == s.c_str() + s.size() && errno == 0 && std::isfinite(*out) &&
         *out >= 0;
}

// The consumer's purge seqno from the stream request's JSON value (kv_engine sends it as a
// string; a number is accepted too). Other keys (uid, collections, scope, ...) are ignored: only
// the default collection exists.
Status ParseStreamRequestJson(std::string_view text, uint64_t* remote_purge_seqno) {
  if (text.empty()) return Status::Ok();
  const nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Status(Errc::kInvalid, "stream request value is not a JSON object");
  }
  const auto it = doc.find("purge_seqno");
  if (it == doc.end()) return Status::Ok();
  if (it->is_number_unsigned()) {
    *remote_purge_seqno = it->get<uint64_t>();
    return Status::Ok();
  }
  if (it->is_string() && ParseU64(it->get_ref<const std::string&>(), remote_purge_seqno)) {
    return Status::Ok();
  }
  return Status(Errc::kInvalid, "purge_seqno must be an unsigned integer (or its decimal text)");
}

}  // namespace

std::shared_ptr<Producer> Producer::Create(std::shared_ptr<ConnMap> conn_map,
                                           ProducerOptions options) {
  // A factory: the BackfillManager's task needs a weak_ptr to us. (Not make_shared: the
  // constructor is private.)
  std::shared_ptr<Producer> producer(new Producer(std::move(conn_map), std::move(options)));
  std::shared_ptr<BackfillManager> manager = BackfillManager::Create(
      producer->conn_name_, producer->bucket_, producer->conn_map_->tracker(),
      BackfillConfig::FromConfig(producer->bucket_->config()), producer);
  MutexLock lock(&producer->mu_);
  producer->manager_ = std::move(manager);
  return producer;
}

Producer::Producer(std::shared_ptr<ConnMap> conn_map, ProducerOptions options)
    : name_(std::move(options.name)),
      conn_name_(std::string(kConnNamePrefix) + name_),
      user_(std::move(options.user)),
      port_(options.port),
      open_flags_(options.open_flags),
      collections_(options.collections),
      notifier_(std::move(options.notifier)),
      conn_map_(std::move(conn_map)),
      bucket_(conn_map_->bucket()),
      clock_(bucket_->clock()),
      created_(clock_.Now()),
      idle_timeout_(Seconds(bucket_->config().dcp_idle_timeout)),
      connection_manager_interval_(bucket_->config().connection_manager_interval),
      last_receive_(clock_.Now().time_since_epoch().count()) {
  MutexLock lock(&mu_);
  in_ready_.assign(bucket_->num_vbuckets(), false);
  noop_interval_ = Seconds(bucket_->config().dcp_noop_tx_interval);
  noop_sent_ = created_;
}

Producer::~Producer() {
  // Possibly on an auxio or writer thread, inside a notification (README rule 4): touch no other
  // object's lock. Cancel the manager (an atomic flag: a backfill running now stops at its next
  // item); the streams and the manager reference go with our members. A stream or manager that a
  // running backfill still holds dies when that run releases it.
  disconnecting_.store(true);
  if (manager_ != nullptr) manager_->Cancel();
}

// ---- connection thread ----

void Producer::MessageReceived() {
  last_receive_.store(clock_.Now().time_since_epoch().count(), std::memory_order_relaxed);
}

Status Producer::Control(std::string_view key, std::string_view value) {
  MessageReceived();
  if (disconnecting_.load()) return Errc::kDisconnect;
  auto invalid = [&] {
    LOG_WARN("dcp {}: invalid control {}={}", conn_name_, key, value);
    return Status(Errc::kInvalid, "invalid value for DCP control " + std::string(key));
  };
  if (key == "connection_buffer_size") {
    uint32_t size = 0;
    if (!ParseU32(value, &size)) return invalid();
    bool unblocked = false;
    {
      MutexLock lock(&mu_);
      const bool was_full = flow_.IsFull();
      flow_.SetBufferSize(size);
      unblocked = was_full && !flow_.IsFull();
    }
    if (unblocked) NotifyConnection();
    return Status::Ok();
  }
  if (key == "enable_noop") {
    MutexLock lock(&mu_);
    noop_enabled_ = value == "true";
    return Status::Ok();
  }
  if (key == "set_noop_interval") {
    double seconds = 0;
    // kv_engine: must not be below the connection manager interval (the noop is driven by it).
    if (!ParseSeconds(value, &seconds) || seconds < connection_manager_interval_) return invalid();
    MutexLock lock(&mu_);
    noop_interval_ = Seconds(seconds);
    return Status::Ok();
  }
  if (key == "set_priority") {
    if (value != "high" && value != "medium" && value != "low") return invalid();
    MutexLock lock(&mu_);
    priority_ = std::string(value);  // recorded only: all connections are served alike
    return Status::Ok();
  }
  if (key == "supports_cursor_dropping" || key == "supports_cursor_dropping_vulcan") {
    MutexLock lock(&mu_);
    cursor_dropping_ = value == "true";
    return Status::Ok();
  }
  if (key == "send_stream_end_on_client_close_stream") {
    // One way, as kv_engine: it cannot be turned off again.
    if (value == "true") {
      MutexLock lock(&mu_);
      send_stream_end_on_close_ = true;
    }
    return Status::Ok();
  }
  if (key == "enable_expiry_opcode") {
    // Expirations use the deletion-v2 layout: only with DCP_OPEN IncludeDeleteTimes.
    MutexLock lock(&mu_);
    expiry_opcode_ = value == "true" && (open_flags_ & protocol::kDcpOpenIncludeDeleteTimes) != 0;
    return Status::Ok();
  }
  if (key == "backfill_order") {
    BackfillManager::Order order;
    if (value == "round-robin") {
      order = BackfillManager::Order::kRoundRobin;
    } else if (value == "sequential") {
      order = BackfillManager::Order::kSequential;
    } else {
      return invalid();
    }
    std::shared_ptr<BackfillManager> manager;
    {
      MutexLock lock(&mu_);
      manager = manager_;
    }
    if (manager == nullptr) return Errc::kDisconnect;
    manager->SetOrder(order);
    return Status::Ok();
  }
  if (key == "v7_dcp_status_codes") {
    if (value != "true") return invalid();
    v7_status_codes_.store(true);
    return Status::Ok();
  }
  if (key == "consumer_name") {
    MutexLock lock(&mu_);
    consumer_name_ = std::string(value);
    return Status::Ok();
  }
  if (key == "supports_hifi_MFU") return Status::Ok();  // no MFU values are sent; harmless
  if (key == "enable_out_of_order_snapshots") {
    // Permission to send out of order; we always send in seqno order, which stays valid.
    if (value == "true" || value == "true_with_seqno_advanced") return Status::Ok();
    return invalid();
  }
  if (key == "enable_stream_id" || key == "enable_sync_writes" ||
      key == "force_value_compression" || key == "stream_buffer_size" || key == "change_streams" ||
      key == "flatbuffers_system_events" || key == "max_marker_version" ||
      key == "include_deleted_user_xattrs" || key == "cache_transfer") {
    return Status(Errc::kNotSupported, "DCP control " + std::string(key) + " is not supported");
  }
  return invalid();
}

StreamRequestResult Producer::StreamRequest(const StreamRequestArgs& a) {
  MessageReceived();
  StreamRequestResult result;
  auto fail = [&](Status status) {
    result.status = std::move(status);
    return std::move(result);
  };
  if (disconnecting_.load()) return fail(Errc::kDisconnect);
  if ((a.flags & ~(protocol::kDcpStreamKnownFlags | protocol::kDcpStreamNoValue)) != 0) {
    return fail(Status(Errc::kInvalid, "unknown stream request flags"));
  }
  std::shared_ptr<engine::VBucket> vb = bucket_->GetVBucket(a.vbucket);
  if (vb == nullptr || vb->state() != VBucketState::kActive) return fail(Errc::kNotMyVbucket);
  if ((a.flags & (protocol::kDcpStreamTakeOver | protocol::kDcpStreamCacheTransfer)) != 0) {
    return fail(Status(Errc::kNotSupported, "takeover and cache-transfer streams"));
  }

  StreamParams p;
  p.flags = a.flags;
  p.opaque = a.opaque;
  p.start_seqno = a.start_seqno;
  p.end_seqno = a.end_seqno;
  p.vbucket_uuid = a.vbucket_uuid;
  p.snap_start_seqno = a.snap_start_seqno;
  p.snap_end_seqno = a.snap_end_seqno;
  const uint64_t high = vb->high_seqno();
  if ((a.flags & protocol::kDcpStreamFromLatest) != 0) {
    p.start_seqno = p.snap_start_seqno = p.snap_end_seqno = high;
    if (p.vbucket_uuid == 0) p.vbucket_uuid = vb->uuid();
  }
  if (p.start_seqno > p.end_seqno) {
    return fail(Status(Errc::kRange, "start seqno above end seqno"));
  }
  if (!(p.snap_start_seqno <= p.start_seqno && p.start_seqno <= p.snap_end_seqno)) {
    return fail(Status(Errc::kRange, "need snap_start <= start <= snap_end"));
  }
  {
    MutexLock lock(&mu_);
    auto it = streams_.find(a.vbucket);
    if (it != streams_.end() && !it->second->IsDead()) {
      return fail(Status(Errc::kExists, "a stream already exists for this vbucket"));
    }
  }
  if (Status s = ParseStreamRequestJson(a.json_value, &p.remote_purge_seqno); !s.ok()) {
    return fail(std::move(s));
  }

  const bool ignore_purged = (a.flags & protocol::kDcpStreamIgnorePurgedTombstones) != 0;
  const engine::RollbackDecision rollback = vb->failover_table().NeedsRollback(
      p.start_seqno, high, p.vbucket_uuid, p.snap_start_seqno, p.snap_end_seqno,
      ignore_purged ? 0 : vb->purge_seqno(), p.remote_purge_seqno,
      (a.flags & protocol::kDcpStreamStrictVbUuid) != 0);
  if (rollback.rollback) {
    LOG_INFO(
        "dcp {}: vb:{} stream request (start {}, snapshot [{}, {}], uuid {}) must roll back "
        "to {}",
        conn_name_, a.vbucket, p.start_seqno, p.snap_start_seqno, p.snap_end_seqno, p.vbucket_uuid,
        rollback.rollback_seqno);
    result.rollback_seqno = rollback.rollback_seqno;
    return fail(Errc::kRollback);
  }

  if ((a.flags & protocol::kDcpStreamToLatest) != 0) p.end_seqno = high;
  if ((a.flags & protocol::kDcpStreamDiskOnly) != 0) p.end_seqno = vb->persisted_seqno();
  if (p.start_seqno > p.end_seqno || p.start_seqno > high) {
    return fail(Status(Errc::kRange, "start seqno above the end or the vbucket's high seqno"));
  }
  const Config& config = bucket_->config();
  if (static_cast<double>(bucket_->MemUsed()) >
      static_cast<double>(config.max_size) * config.backfill_mem_threshold) {
    return fail(Status(Errc::kNoMemory, "memory above backfill_mem_threshold"));
  }

  StreamOptions options;
  options.include_value = (open_flags_ & (protocol::kDcpOpenNoValue |
                                          protocol::kDcpOpenNoValueWithUnderlyingDatatype)) == 0;
  options.skip_deletes_in_initial_backfill =
      (open_flags_ & protocol::kDcpOpenSkipDeletesInInitialBackfill) != 0;
  {
    MutexLock lock(&mu_);
    options.encoder = ItemEncoder(open_flags_, collections_, expiry_opcode_);
    options.cursor_droppable = cursor_dropping_;
  }
  auto stream = std::make_shared<ActiveStream>(weak_from_this(), conn_name_, vb, p, options);
  std::shared_ptr<ActiveStream> replaced;  // a dead stream, released after the lock
  {
    MutexLock lock(&mu_);
    if (disconnecting_.load()) return fail(Errc::kDisconnect);
    std::shared_ptr<ActiveStream>& slot = streams_[a.vbucket];
    if (slot != nullptr && !slot->IsDead()) {
      return fail(Status(Errc::kExists, "a stream already exists for this vbucket"));
    }
    replaced = std::move(slot);
    slot = stream;
  }
  if (replaced != nullptr) conn_map_->RemoveStream(a.vbucket, replaced.get());
  conn_map_->AddStream(a.vbucket, stream);
  // The vbucket may have changed state (or been deleted) since we checked; the ConnMap ends the
  // streams it knows of, and ours is known from here on. Check again to close the window.
  if (bucket_->GetVBucket(a.vbucket) != vb || vb->state() != VBucketState::kActive) {
    RemoveStream(a.vbucket, stream.get());
    stream->EndStream(DcpStreamEndStatus::kStateChanged);
    return fail(Errc::kNotMyVbucket);
  }
  stream->Activate(*this);
  LOG_INFO("dcp {}: vb:{} stream opened: start {}, end {}, snapshot [{}, {}], flags {:#x}",
           conn_name_, a.vbucket, p.start_seqno, p.end_seqno, p.snap_start_seqno, p.snap_end_seqno,
           p.flags);
  result.failover_log = vb->failover_table().Entries();
  return result;
}

Status Producer::CloseStream(Vbid vb) {
  MessageReceived();
  if (disconnecting_.load()) return Errc::kDisconnect;
  std::shared_ptr<ActiveStream> stream;
  bool remove_now = false;
  {
    MutexLock lock(&mu_);
    auto it = streams_.find(vb);
    if (it == streams_.end()) return Status(Errc::kStreamNotFound, "no stream for this vbucket");
    stream = it->second;
    remove_now = !send_stream_end_on_close_;
  }
  const bool was_live = !stream->IsDead();
  if (remove_now) RemoveStream(vb, stream.get());
  stream->EndStream(DcpStreamEndStatus::kClosed);
  if (!was_live) return Status(Errc::kStreamNotFound, "the stream had already ended");
  return Status::Ok();
}

StatusOr<std::vector<storage::FailoverEntry>> Producer::GetFailoverLog(Vbid vb) {
  MessageReceived();
  return bucket_->GetFailoverLog(vb);
}

void Producer::BufferAcknowledged(uint32_t bytes) {
  MessageReceived();
  bool unblocked = false;
  {
    MutexLock lock(&mu_);
    unblocked = flow_.Acknowledge(bytes);
  }
  if (unblocked) NotifyConnection();
}

void Producer::NoopResponse() {
  MessageReceived();
  MutexLock lock(&mu_);
  noop_pending_ = false;
}

// Messages one stream may send in a row before the next ready stream gets a turn.
constexpr int kStreamBatch = 32;

StepResult Producer::Step(std::string* out, size_t budget) {
  // Cleared first: anything that becomes ready from here on notifies again.
  notify_pending_.store(false);
  if (disconnecting_.load()) return StepResult::kDisconnect;
  const SteadyTime now = clock_.Now();
  const size_t start_size = out->size();
  bool idle = false;
  {
    MutexLock lock(&mu_);
    if (noop_enabled_) {
      const SteadyTime last_receive{Duration(last_receive_.load(std::memory_order_relaxed))};
      if (now - last_receive > idle_timeout_) {
        idle = true;
      } else if (!noop_pending_ && now - noop_sent_ >= noop_interval_) {
        protocol::AppendDcpNoop(out, ++noop_opaque_);
        noop_pending_ = true;
        noop_sent_ = now;
      }
    }
  }
  if (idle) {
    LOG_WARN("dcp {}: nothing received for the DCP idle timeout; disconnecting", conn_name_);
    Disconnect();
    return StepResult::kDisconnect;
  }
  total_bytes_sent_.fetch_add(out->size() - start_size, std::memory_order_relaxed);

  for (;;) {
    if (out->size() - start_size >= budget) {
      MutexLock lock(&mu_);
      paused_ = false;
      return StepResult::kBudgetFull;
    }
    // Released at the end of each iteration, with no lock held (it may be the last reference).
    std::shared_ptr<ActiveStream> stream;
    size_t window = std::numeric_limits<size_t>::max();  // bytes the consumer still accepts
    {
      MutexLock lock(&mu_);
      if (flow_.IsFull()) {
        paused_ = true;
        paused_reason_ = "BufferLogFull";
        return StepResult::kFlowControlFull;
      }
      if (flow_.enabled()) window = flow_.max_bytes() - flow_.outstanding();
      while (stream == nullptr && !ready_.empty()) {
        const Vbid vb = ready_.front();
        ready_.pop_front();
        in_ready_[vb] = false;
        auto it = streams_.find(vb);
        if (it != streams_.end()) stream = it->second;
      }
      if (stream == nullptr) {
        paused_ = true;
        paused_reason_ = "ReadyListEmpty";
        return StepResult::kNothingReady;
      }
    }
    // Up to kStreamBatch messages of this stream in a row: the producer's lock and the backfill
    // buffer are touched once per batch, not once per message. The batch stops where the
    // consumer's window or the budget ends, so the window is exceeded by at most one message,
    // as with one message per turn (a backfilled batch's messages are cut at that point too:
    // `limit`, see ActiveStream::Next).
    const Vbid vb = stream->vbid();
    size_t batch_bytes = 0;
    size_t batch_backfill_bytes = 0;
    uint64_t batch_items = 0;
    bool ended = false;
    for (int n = 0; n < kStreamBatch; ++n) {
      const size_t limit = std::min(window - batch_bytes, budget - (out->size() - start_size));
      std::optional<DcpMessage> message = stream->Next(*this, limit);
      if (!message.has_value()) break;  // the stream notifies again when it has something
      const size_t before = out->size();
      Encode(*message, vb, stream->opaque(), stream->encoder(), out);
      batch_bytes += out->size() - before;
      batch_backfill_bytes += message->backfill_bytes;
      batch_items += message->num_items();
      if (message->type == DcpMessage::Type::kStreamEnd) {
        ended = true;
        break;
      }
      if (batch_bytes >= window || out->size() - start_size >= budget) break;
    }
    if (batch_bytes == 0) continue;
    std::shared_ptr<BackfillManager> manager;
    {
      MutexLock lock(&mu_);
      flow_.Sent(batch_bytes);
      paused_ = false;
      // Round-robin: back of the list while it may have more.
      if (!ended && !in_ready_[vb] && streams_.count(vb) != 0) {
        in_ready_[vb] = true;
        ready_.push_back(vb);
      }
      if (batch_backfill_bytes != 0) manager = manager_;
    }
    items_sent_.fetch_add(batch_items, std::memory_order_relaxed);
    total_bytes_sent_.fetch_add(batch_bytes, std::memory_order_relaxed);
    if (manager != nullptr) manager->BytesSent(batch_backfill_bytes);
    if (ended) RemoveStream(vb, stream.get());
  }
}

void Producer::Encode(const DcpMessage& m, Vbid vb, uint32_t opaque, const ItemEncoder& encoder,
                      std::string* out) const {
  switch (m.type) {
    case DcpMessage::Type::kSnapshotMarker: {
      protocol::DcpSnapshotMarker marker;
      marker.vbucket = vb;
      marker.opaque = opaque;
      marker.start_seqno = m.snap_start;
      marker.end_seqno = m.snap_end;
      marker.flags = m.snap_flags;
      protocol::AppendDcpSnapshotMarker(out, marker);
      return;
    }
    case DcpMessage::Type::kMutation:
    case DcpMessage::Type::kDeletion:
    case DcpMessage::Type::kExpiration:
      encoder.Append(m.type, ItemView::Of(*m.item), vb, opaque, out);
      return;
    case DcpMessage::Type::kBackfillItems:
      // Encoded by the backfill with the same encoder (backfill_batch.h).
      out->append(m.batch->Bytes(m.first, m.last));
      return;
    case DcpMessage::Type::kStreamEnd: {
      protocol::DcpStreamEnd end;
      end.vbucket = vb;
      end.opaque = opaque;
      end.status = m.end_status;
      protocol::AppendDcpStreamEnd(out, end);
      return;
    }
  }
}

// ---- any thread ----

void Producer::Disconnect() {
  if (disconnecting_.exchange(true)) return;
  std::map<Vbid, std::shared_ptr<ActiveStream>> streams;
  std::shared_ptr<BackfillManager> manager;
  {
    MutexLock lock(&mu_);
    streams.swap(streams_);
    ready_.clear();
    in_ready_.assign(in_ready_.size(), false);
    manager = std::move(manager_);
  }
  // A run in progress stops at its next item. The manager goes first, before the streams free
  // their ready queues (megabytes for a fast backfill), so the bucket's running-backfill slots
  // are given back at once. Its backfills hold the streams only weakly. This is the last
  // reference unless a backfill run pins it: then ~BackfillManager runs when that run ends, on
  // its thread.
  if (manager != nullptr) manager->Cancel();
  manager.reset();
  // The queued messages are freed on a nonio thread, not this (io) thread: see queue_release.h.
  std::vector<std::deque<DcpMessage>> queues;
  for (auto& [vb, stream] : streams) {
    std::deque<DcpMessage> queue = stream->EndStreamTakingQueue();
    if (!queue.empty()) queues.push_back(std::move(queue));
    conn_map_->RemoveStream(vb, stream.get());
  }
  LOG_INFO("dcp {}: disconnected ({} streams closed)", conn_name_, streams.size());
  streams.clear();
  ReleaseQueuesInBackground(bucket_->executor(), std::move(queues));
  conn_map_->NoteProducerDisconnected();
}

void Producer::RequestDisconnect(std::string_view reason) {
  if (std::shared_ptr<ProducerNotifier> notifier = notifier_.lock()) {
    notifier->RequestDisconnect(reason);
  }
}

void Producer::NotifyConnection() {
  if (notify_pending_.exchange(true)) return;
  if (std::shared_ptr<ProducerNotifier> notifier = notifier_.lock()) {
    notifier->NotifyProducerReady();
  }
}

void Producer::NotifyStreamReady(Vbid vb) {
  bool added = false;
  {
    MutexLock lock(&mu_);
    if (disconnecting_.load() || vb >= in_ready_.size()) return;
    if (!in_ready_[vb]) {
      in_ready_[vb] = true;
      ready_.push_back(vb);
      added = true;
    }
  }
  if (added) NotifyConnection();
}

void Producer::ScheduleBackfill(BackfillSpec spec) {
  std::shared_ptr<BackfillManager> manager;
  {
    MutexLock lock(&mu_);
    manager = manager_;
  }
  if (manager == nullptr || disconnecting_.load()) return;  // the stream is being ended
  manager->Schedule(std::make_unique<Backfill>(std::move(spec), bucket_, conn_map_->tracker()));
}

void Producer::BackfillBytesSent(size_t bytes) {
  std::shared_ptr<BackfillManager> manager;
  {
    MutexLock lock(&mu_);
    manager = manager_;
  }
  if (manager != nullptr) manager->BytesSent(bytes);
}

void Producer::RemoveStream(Vbid vb, const ActiveStream* stream) {
  std::shared_ptr<ActiveStream> removed;  // released after the lock
  {
    MutexLock lock(&mu_);
    auto it = streams_.find(vb);
    if (it == streams_.end() || it->second.get() != stream) return;
    removed = std::move(it->second);
    streams_.erase(it);
  }
  conn_map_->RemoveStream(vb, stream);
}

void Producer::ManageConnection(SteadyTime now) {
  if (disconnecting_.load()) return;
  bool idle = false;
  bool noop_due = false;
  {
    MutexLock lock(&mu_);
    if (noop_enabled_) {
      const SteadyTime last_receive{Duration(last_receive_.load(std::memory_order_relaxed))};
      if (now - last_receive > idle_timeout_) {
        idle = true;
      } else if (!noop_pending_ && now - noop_sent_ >= noop_interval_) {
        noop_due = true;
      }
    }
  }
  if (idle) {
    LOG_WARN("dcp {}: nothing received for the DCP idle timeout; disconnecting", conn_name_);
    Disconnect();
    RequestDisconnect("DCP idle timeout");
  } else if (noop_due) {
    NotifyConnection();
  }
}

}  // namespace sluice::dcp
