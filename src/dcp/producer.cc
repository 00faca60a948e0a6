#include "dcp/producer.h"

#include <algorithm>
#include <limits>
#include <utility>

#include "common/clock.h"
#include "common/logging.h"
#include "dcp/queue_release.h"

namespace sluice::dcp {
namespace {

using protocol::DcpStreamEndStatus;

}  // namespace

std::shared_ptr<Producer> Producer::Create(std::shared_ptr<StreamDirectory> directory,
                                           ProducerOptions options) {
  // A factory: the BackfillManager's task needs a weak_ptr to us. (Not make_shared: the
  // constructor is private.)
  std::shared_ptr<Producer> producer(new Producer(std::move(directory), std::move(options)));
  std::shared_ptr<BackfillManager> manager = BackfillManager::Create(
      producer->conn_name_, producer->bucket_, producer->directory_->tracker(),
      BackfillConfig::FromConfig(producer->bucket_->config()), producer);
  MutexLock lock(&producer->mu_);
  producer->manager_ = std::move(manager);
  return producer;
}

Producer::Producer(std::shared_ptr<StreamDirectory> directory, ProducerOptions options)
    : name_(std::move(options.name)),
      conn_name_(std::string(kConnNamePrefix) + name_),
      user_(std::move(options.user)),
      port_(options.port),
      open_flags_(options.open_flags),
      collections_(options.collections),
      notifier_(std::move(options.notifier)),
      directory_(std::move(directory)),
      bucket_(directory_->bucket()),
      clock_(bucket_->clock()),
      created_(clock_.Now()),
      idle_timeout_(Seconds(bucket_->config().dcp_idle_timeout)),
      connection_manager_interval_(bucket_->config().connection_manager_interval),
      last_receive_(clock_.Now().time_since_epoch().count()) {
  MutexLock lock(&mu_);
  noop_interval_ = Seconds(bucket_->config().dcp_noop_tx_interval);
  noop_sent_ = created_;
}

Producer::~Producer() {
  // Possibly on an auxio or writer thread, inside a notification (dcp/README.md, "Whatever thread
  // drops the last reference"): touch no other object's lock. Cancel the manager (an atomic flag: a
  // backfill running now stops at its next item); the streams and the manager reference go with our
  // members. A stream or manager that a running backfill still holds dies when that run releases
  // it.
  disconnecting_.store(true);
  if (manager_ != nullptr) manager_->Cancel();
}

// ---- connection thread ----

void Producer::MessageReceived() {
  last_receive_.store(clock_.Now().time_since_epoch().count(), std::memory_order_relaxed);
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

Status Producer::SeqnoAcknowledged(uint32_t opaque, Vbid vb, uint64_t prepared_seqno) {
  MessageReceived();
  std::string consumer;
  std::shared_ptr<ActiveStream> stream;
  {
    MutexLock lock(&mu_);
    if (!sync_writes_ || consumer_name_.empty()) {
      LOG_WARN("dcp {}: seqno_acknowledged vb:{} without sync writes or a consumer name",
               conn_name_, vb);
      return Status(Errc::kInvalid,
                    "seqno_acknowledged needs enable_sync_writes and "
                    "consumer_name");
    }
    consumer = consumer_name_;
    for (const auto& [key, s] : streams_) {
      if (key.vb == vb && s->opaque() == opaque) stream = s;
    }
  }
  // kv_engine: an ack for a stream that just ended is dropped (the consumer may not know yet).
  if (stream == nullptr || stream->IsDead()) return Status::Ok();
  Status s = bucket_->SeqnoAcknowledged(vb, consumer, prepared_seqno);
  if (s.code() == Errc::kNotMyVbucket && bucket_->GetVBucket(vb) != nullptr) {
    return Status::Ok();  // no longer active here: the ack means nothing any more
  }
  return s;
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
  const size_t start_size = out->size();
  if (!NoopOrIdleCheck(out)) {
    LOG_WARN("dcp {}: nothing received for the DCP idle timeout; disconnecting", conn_name_);
    Disconnect();
    return StepResult::kDisconnect;
  }
  total_bytes_sent_.fetch_add(out->size() - start_size, std::memory_order_relaxed);

  for (;;) {
    const size_t appended = out->size() - start_size;
    if (appended >= budget) {
      MutexLock lock(&mu_);
      paused_ = false;
      return StepResult::kBudgetFull;
    }
    // Released at the end of each iteration, with no lock held (it may be the last reference).
    std::shared_ptr<ActiveStream> stream;
    size_t window = std::numeric_limits<size_t>::max();  // bytes the consumer still accepts
    if (std::optional<StepResult> stop = NextReadyStream(&stream, &window)) return *stop;
    const StreamTurn turn = SendTurn(*stream, std::min(window, budget - appended), out);
    if (turn.bytes != 0) FinishTurn(*stream, turn);
  }
}

bool Producer::NoopOrIdleCheck(std::string* out) {
  const SteadyTime now = clock_.Now();
  MutexLock lock(&mu_);
  if (!noop_enabled_) return true;
  const SteadyTime last_receive{Duration(last_receive_.load(std::memory_order_relaxed))};
  if (now - last_receive > idle_timeout_) return false;
  if (!noop_pending_ && now - noop_sent_ >= noop_interval_) {
    protocol::AppendDcpNoop(out, ++noop_opaque_);
    noop_pending_ = true;
    noop_sent_ = now;
  }
  return true;
}

std::optional<StepResult> Producer::NextReadyStream(std::shared_ptr<ActiveStream>* stream,
                                                    size_t* window) {
  MutexLock lock(&mu_);
  if (flow_.IsFull()) {
    paused_ = true;
    paused_reason_ = "BufferLogFull";
    return StepResult::kFlowControlFull;
  }
  if (flow_.enabled()) *window = flow_.max_bytes() - flow_.outstanding();
  while (*stream == nullptr && !ready_.empty()) {
    const StreamKey key = ready_.front();
    ready_.pop_front();
    in_ready_.erase(key);
    auto it = streams_.find(key);
    if (it != streams_.end()) *stream = it->second;
  }
  if (*stream == nullptr) {
    paused_ = true;
    paused_reason_ = "ReadyListEmpty";
    return StepResult::kNothingReady;
  }
  return std::nullopt;
}

Producer::StreamTurn Producer::SendTurn(ActiveStream& stream, size_t room, std::string* out) {
  // Up to kStreamBatch messages of this stream in a row: the producer's lock and the backfill
  // buffer are touched once per turn, not once per message. The turn stops where `room` (the
  // consumer's window or the budget) ends, so it is exceeded by at most one message, as with one
  // message per turn (a backfilled batch's messages are cut at that point too: `limit`, see
  // ActiveStream::Next).
  const StreamKey key = stream.key();
  StreamTurn turn;
  for (int n = 0; n < kStreamBatch && turn.bytes < room; ++n) {
    std::optional<DcpMessage> message = stream.Next(*this, room - turn.bytes);
    if (!message.has_value()) break;  // the stream notifies again when it has something
    const size_t before = out->size();
    Encode(*message, key, stream.opaque(), stream.encoder(), out);
    turn.bytes += out->size() - before;
    turn.backfill_bytes += message->backfill_bytes;
    turn.items += message->num_items();
    if (message->type == DcpMessage::Type::kStreamEnd) {
      turn.ended = true;
      break;
    }
  }
  return turn;
}

void Producer::FinishTurn(ActiveStream& stream, const StreamTurn& turn) {
  const StreamKey key = stream.key();
  std::shared_ptr<BackfillManager> manager;
  {
    MutexLock lock(&mu_);
    flow_.Sent(turn.bytes);
    paused_ = false;
    // Round-robin: back of the list while it may have more.
    if (!turn.ended && streams_.count(key) != 0 && in_ready_.insert(key).second) {
      ready_.push_back(key);
    }
    if (turn.backfill_bytes != 0) manager = manager_;
  }
  items_sent_.fetch_add(turn.items, std::memory_order_relaxed);
  total_bytes_sent_.fetch_add(turn.bytes, std::memory_order_relaxed);
  if (manager != nullptr) manager->BytesSent(turn.backfill_bytes);
  if (turn.ended) RemoveStream(&stream);
}

// ---- any thread ----

void Producer::Disconnect() {
  if (disconnecting_.exchange(true)) return;
  std::map<StreamKey, std::shared_ptr<ActiveStream>> streams;
  std::shared_ptr<BackfillManager> manager;
  {
    MutexLock lock(&mu_);
    streams.swap(streams_);
    ready_.clear();
    in_ready_.clear();
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
  for (auto& [key, stream] : streams) {
    std::deque<DcpMessage> queue = stream->EndStreamTakingQueue();
    if (!queue.empty()) queues.push_back(std::move(queue));
    directory_->RemoveStream(key.vb, stream.get());
  }
  LOG_INFO("dcp {}: disconnected ({} streams closed)", conn_name_, streams.size());
  streams.clear();
  ReleaseQueuesInBackground(bucket_->executor(), std::move(queues));
  directory_->NoteProducerDisconnected();
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

void Producer::NotifyStreamReady(StreamKey key) {
  bool added = false;
  {
    MutexLock lock(&mu_);
    if (disconnecting_.load()) return;
    if (in_ready_.insert(key).second) {
      ready_.push_back(key);
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
  manager->Schedule(std::make_unique<Backfill>(std::move(spec), bucket_, directory_->tracker()));
}

void Producer::CancelBackfill(uint64_t backfill_id) {
  std::shared_ptr<BackfillManager> manager;
  {
    MutexLock lock(&mu_);
    manager = manager_;
  }
  // Null once disconnected: the manager and every backfill of it are gone already.
  if (manager != nullptr) manager->Remove(backfill_id);
}

void Producer::BackfillBytesSent(size_t bytes) {
  std::shared_ptr<BackfillManager> manager;
  {
    MutexLock lock(&mu_);
    manager = manager_;
  }
  if (manager != nullptr) manager->BytesSent(bytes);
}

void Producer::RemoveStream(const ActiveStream* stream) {
  std::shared_ptr<ActiveStream> removed;  // released after the lock
  {
    MutexLock lock(&mu_);
    auto it = streams_.find(stream->key());
    if (it == streams_.end() || it->second.get() != stream) return;
    removed = std::move(it->second);
    streams_.erase(it);
  }
  directory_->RemoveStream(stream->vbid(), stream);
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
