#include "replication/peer_link.h"

#include <fmt/format.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <variant>

#include "common/logging.h"
#include "protocol/dcp_codec.h"
#include "protocol/dcp_sync_write.h"

namespace sluice::replication {
namespace {

using std::chrono::milliseconds;

constexpr uint32_t kOpenFlags = protocol::kDcpOpenProducer | protocol::kDcpOpenIncludeXattrs |
                                protocol::kDcpOpenIncludeDeleteTimes |
                                protocol::kDcpOpenIncludeDeletedUserXattrs;
// A rollback asks again at once; three rounds settle any answer (a reset streams from 0).
constexpr int kMaxStreamRequestRounds = 3;
// Messages applied per Pump() before the loop looks at its streams again.
constexpr int kPumpBatch = 1024;
// The longest the loop waits with nothing to do (it then checks for a silent producer).
constexpr milliseconds kMaxIdleWait{1000};
// How often a prepare waiting for this replica's persistence is looked at again without being
// told: the flusher wakes the link when it synced such a prepare (NotifyPersisted, as kv_engine's
// flusher notifies its passive durability monitor); this is the safety net.
constexpr milliseconds kSeqnoAckRecheck{50};
// Below a quarter of the buffer, applied bytes are acknowledged once the input is drained and this
// long after the previous acknowledgement: not on every idle moment, which at a low write rate
// meant a second write (and a wake-up of the producer) per message.
constexpr milliseconds kIdleAckDelay{100};

SteadyTime Now() { return std::chrono::steady_clock::now(); }

}  // namespace

PeerLink::PeerLink(LinkOptions options, std::shared_ptr<engine::Bucket> bucket)
    : options_(std::move(options)), bucket_(std::move(bucket)) {
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd_ < 0) {
    LOG_ERROR("replication {}: eventfd: {} (the link will poll)", options_.conn_name, errno);
  }
  thread_ = std::thread([this] { Run(); });
}

PeerLink::~PeerLink() {
  Stop();
  if (wake_fd_ >= 0) ::close(wake_fd_);
}

void PeerLink::Wake() {
  if (wake_fd_ < 0) return;
  const uint64_t one = 1;
  // A full counter (never, in practice) still leaves the fd readable: the wake-up is not lost.
  [[maybe_unused]] const ssize_t n = ::write(wake_fd_, &one, sizeof(one));
}

void PeerLink::DrainWake() {
  if (wake_fd_ < 0) return;
  uint64_t value = 0;
  [[maybe_unused]] const ssize_t n = ::read(wake_fd_, &value, sizeof(value));
}

bool PeerLink::Sleep(milliseconds timeout) {
  if (stopping_.load()) return false;
  if (wake_fd_ >= 0) {
    pollfd pfd{wake_fd_, POLLIN, 0};
    ::poll(&pfd, 1, static_cast<int>(std::min<int64_t>(timeout.count(), 0x7fffffff)));
    DrainWake();
  } else {
    std::this_thread::sleep_for(std::min(timeout, milliseconds(100)));
  }
  return !stopping_.load();
}

void PeerLink::SetVBuckets(std::set<Vbid> vbuckets) {
  {
    MutexLock lock(&desired_mu_);
    if (desired_ == vbuckets) return;
    desired_ = std::move(vbuckets);
    desired_changed_ = true;
  }
  Wake();
}

void PeerLink::Stop() {
  stopping_.store(true);
  Wake();
  if (thread_.joinable()) thread_.join();
}

void PeerLink::SetError(const Status& status) {
  MutexLock lock(&error_mu_);
  last_error_ = status.ToString();
}

PassiveStream* PeerLink::Find(Vbid vb) {
  MutexLock lock(&streams_mu_);
  auto it = streams_.find(vb);
  return it == streams_.end() ? nullptr : it->second.get();
}

PassiveStream* PeerLink::FindCached(Vbid vb) {
  if (cached_stream_ == nullptr || cached_vb_ != vb) {
    cached_stream_ = Find(vb);
    cached_vb_ = vb;
  }
  return cached_stream_;
}

void PeerLink::Run() {
  milliseconds backoff = options_.min_backoff;
  while (!stopping_.load()) {
    UpdateStreams();  // also while disconnected: the streams (and their stats) follow the set
    const uint64_t connects_before = connects_.load();
    Status s = Session();
    connected_.store(false);
    {
      MutexLock lock(&streams_mu_);
      for (auto& [vb, stream] : streams_) stream->Reset("connection closed");
    }
    // Every stream is requested again as soon as the next session is up (Session()).
    retry_at_.clear();
    stream_backoff_.clear();
    for (Vbid vb : ack_watch_) ack_watched_[vb] = false;
    ack_watch_.clear();
    stream_requests_.clear();
    request_rounds_.clear();
    acker_.Clear();
    unacked_bytes_.store(0);
    if (stopping_.load()) break;
    if (connects_.load() != connects_before) backoff = options_.min_backoff;
    SetError(s);
    LOG_WARN("replication {}: {}; reconnecting to {}:{} in {} ms", options_.conn_name, s.ToString(),
             options_.host, options_.port, backoff.count());
    if (!Sleep(backoff)) break;
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
  LOG_INFO("replication {}: stopped", options_.conn_name);
}

Status PeerLink::Session() {
  client::ConnectOptions copts;
  copts.connect_timeout = options_.connect_timeout;
  copts.io_timeout = options_.io_timeout;
  auto conn = client::Connection::Connect(options_.host, options_.port, copts);
  if (!conn.ok()) {
    connect_failures_.fetch_add(1);
    return conn.status();
  }
  if (Status s = Handshake(**conn); !s.ok()) {
    connect_failures_.fetch_add(1);
    return s;
  }
  connects_.fetch_add(1);
  connected_.store(true);
  {
    MutexLock lock(&streams_mu_);
    for (const auto& [vb, stream] : streams_) {
      if (stream->state() == PassiveStream::State::kPending) retry_at_[vb] = Now();
    }
  }
  LOG_INFO("replication {}: connected to {}:{}", options_.conn_name, options_.host, options_.port);
  last_input_ = Now();
  noops_seen_ = (*conn)->dcp_noops_answered();
  const milliseconds silence_limit = SilenceLimit(options_.noop_interval_seconds);
  while (!stopping_.load()) {
    RETURN_IF_ERROR(SyncStreams(**conn));
    bool got = false;
    bool drained = false;
    {
      // The acknowledgements leave before the writer threads are woken for what was applied.
      engine::Bucket::DeferFlusherWakes defer(*bucket_);
      RETURN_IF_ERROR(Pump(**conn, &got, &drained));
      QueueSeqnoAcks(**conn);
      MaybeAck(**conn, drained);
      RETURN_IF_ERROR((*conn)->Flush());  // one write for the whole pass
    }
    if (got && !drained) continue;  // a full batch: more may be buffered
    if ((*conn)->dcp_noops_answered() != noops_seen_) {
      noops_seen_ = (*conn)->dcp_noops_answered();
      last_input_ = Now();
    }
    if (Now() - last_input_ > silence_limit) {
      return Status(Errc::kTempFail,
                    fmt::format("nothing from the producer for {} ms", silence_limit.count()));
    }
    ASSIGN_OR_RETURN(const bool input, (*conn)->WaitForInput(NextWait(), wake_fd_));
    if (!input) DrainWake();
  }
  return Status::Ok();
}

Status PeerLink::Handshake(client::Connection& conn) {
  RETURN_IF_ERROR(
      conn.Hello("sluice-replicator",
                 {protocol::Feature::kXattr, protocol::Feature::kXerror, protocol::Feature::kJson})
          .status());
  RETURN_IF_ERROR(conn.Authenticate(options_.user, options_.password));
  RETURN_IF_ERROR(conn.SelectBucket(options_.bucket));
  // kv_engine takes {"consumer_name"} in the value of a *consumer's* DCP_OPEN only; a consumer
  // talking to its producer names itself with the control, as kv_engine's DcpConsumer does.
  RETURN_IF_ERROR(conn.DcpOpen(options_.conn_name, kOpenFlags));
  const auto controls = ConsumerControls({.consumer_name = options_.consumer_name,
                                          .noop_interval_seconds = options_.noop_interval_seconds,
                                          .buffer_size = options_.buffer_size,
                                          .sync_writes = true});
  for (const auto& [key, value] : controls) {
    if (Status s = conn.DcpControl(key, value); !s.ok()) {
      return Status(s.code(), fmt::format("control {}={}: {}", key, value, s.message()));
    }
  }
  return Status::Ok();
}

std::vector<Vbid> PeerLink::UpdateStreams() {
  std::set<Vbid> desired;
  {
    MutexLock lock(&desired_mu_);
    if (!desired_changed_) return {};
    desired_changed_ = false;
    desired = desired_;
  }
  std::vector<Vbid> were_open;
  std::vector<std::unique_ptr<PassiveStream>> removed;  // destroyed after the lock
  cached_stream_ = nullptr;                             // it may be removed below
  {
    MutexLock lock(&streams_mu_);
    for (auto it = streams_.begin(); it != streams_.end();) {
      if (desired.count(it->first) != 0) {
        ++it;
        continue;
      }
      removed.push_back(std::move(it->second));
      retry_at_.erase(it->first);
      it = streams_.erase(it);
    }
    for (Vbid vb : desired) {
      if (streams_.count(vb) != 0) continue;
      streams_.emplace(vb, std::make_unique<PassiveStream>(vb, options_.conn_name, *bucket_));
      retry_at_[vb] = Now();
    }
  }
  for (auto& stream : removed) {
    const PassiveStream::State state = stream->state();
    if (state == PassiveStream::State::kReading ||
        state == PassiveStream::State::kAwaitingResponse) {
      were_open.push_back(stream->vbid());
    }
    stream->Close();
    LOG_INFO("replication {}: vb:{} no longer replicated from this peer", options_.conn_name,
             stream->vbid());
  }
  return were_open;
}

Status PeerLink::SyncStreams(client::Connection& conn) {
  std::string wire;  // every request of this round in one write
  for (Vbid vb : UpdateStreams()) protocol::AppendDcpCloseStream(&wire, vb, conn.NextOpaque());
  // Closed streams' answers arrive later and are ignored.
  const SteadyTime now = Now();
  std::vector<Vbid> due;
  for (const auto& [vb, at] : retry_at_) {
    if (at <= now) due.push_back(vb);
  }
  for (Vbid vb : due) {
    if (stopping_.load()) break;
    retry_at_.erase(vb);
    PassiveStream* stream = Find(vb);
    if (stream == nullptr || stream->state() != PassiveStream::State::kPending) continue;
    request_rounds_[vb] = 0;
    AppendStreamRequest(conn, *stream, &wire);
  }
  if (!wire.empty()) RETURN_IF_ERROR(conn.SendRaw(wire));
  return CheckStreamRequestsAnswered(now);
}

void PeerLink::RetryLater(Vbid vb) {
  milliseconds& backoff = stream_backoff_[vb];
  if (backoff.count() == 0) backoff = options_.min_backoff;
  retry_at_[vb] = Now() + backoff;
  backoff = std::min(backoff * 2, options_.max_backoff);
  request_rounds_.erase(vb);
}

void PeerLink::AppendStreamRequest(client::Connection& conn, PassiveStream& stream,
                                   std::string* wire) {
  const Vbid vb = stream.vbid();
  StatusOr<protocol::DcpStreamReqRequest> request = stream.Request(conn.NextOpaque());
  if (!request.ok()) {
    LOG_DEBUG("replication {}: vb:{} not requested: {}", options_.conn_name, vb,
              request.status().ToString());
    RetryLater(vb);
    return;
  }
  request_rounds_[vb]++;
  stream_requests_[request->opaque] = {vb, Now()};
  protocol::AppendDcpStreamReq(wire, *request);
}

Status PeerLink::OnStreamReqResponse(client::Connection& conn, const protocol::Frame& response) {
  auto it = stream_requests_.find(response.opaque);
  if (it == stream_requests_.end()) return Status::Ok();  // not a stream request of this session
  const Vbid vb = it->second.vb;
  stream_requests_.erase(it);
  PassiveStream* stream = FindCached(vb);
  if (stream == nullptr || stream->state() != PassiveStream::State::kAwaitingResponse ||
      stream->opaque() != response.opaque) {
    return Status::Ok();  // the stream was removed (or closed) meanwhile
  }
  ASSIGN_OR_RETURN(client::StreamReqResult result, client::ToStreamReqResult(response));
  switch (stream->OnResponse(result)) {
    case PassiveStream::AfterResponse::kReading:
      Watch(vb);  // a stream that resumes may owe an acknowledgement
      stream_backoff_[vb] = options_.min_backoff;
      request_rounds_.erase(vb);
      return Status::Ok();
    case PassiveStream::AfterResponse::kRequestAgain: {
      // A rollback asks again at once; three rounds settle any answer (a reset streams from 0).
      if (request_rounds_[vb] >= kMaxStreamRequestRounds) {
        RetryLater(vb);
        return Status::Ok();
      }
      std::string wire;
      AppendStreamRequest(conn, *stream, &wire);
      return wire.empty() ? Status::Ok() : conn.SendRaw(wire);
    }
    case PassiveStream::AfterResponse::kRetryLater:
      RetryLater(vb);
      return Status::Ok();
  }
  return Status::Ok();
}

Status PeerLink::CheckStreamRequestsAnswered(SteadyTime now) const {
  for (const auto& [opaque, pending] : stream_requests_) {
    if (now - pending.sent > options_.io_timeout) {
      return Status(Errc::kTempFail,
                    fmt::format("no answer to the stream request of vb:{} in {} ms", pending.vb,
                                options_.io_timeout.count()));
    }
  }
  return Status::Ok();
}

Status PeerLink::Pump(client::Connection& conn, bool* got, bool* drained) {
  *got = false;
  *drained = false;
  for (int i = 0; i < kPumpBatch && !stopping_.load(); ++i) {
    // Views into the connection's buffer: applied (copied into the vbucket) before the next read.
    ASSIGN_OR_RETURN(std::optional<client::DcpMessageView> message, conn.PollDcpMessageView());
    if (!message.has_value()) {
      *drained = true;
      break;
    }
    *got = true;
    messages_.fetch_add(1, std::memory_order_relaxed);
    const bool counted = AddressOf(*message).has_value();  // flow control counts these
    RETURN_IF_ERROR(Dispatch(conn, *message));
    if (counted) {
      const uint32_t bytes = conn.last_dcp_message_bytes();
      acker_.Add(bytes);
      bytes_received_.fetch_add(bytes, std::memory_order_relaxed);
      unacked_bytes_.store(acker_.pending(), std::memory_order_relaxed);
      MaybeAck(conn, /*drained=*/false);
    }
  }
  if (*got) last_input_ = Now();
  return Status::Ok();
}

Status PeerLink::Dispatch(client::Connection& conn, const client::DcpMessageView& message) {
  if (const auto* frame = std::get_if<protocol::Frame>(&message.message);
      frame != nullptr && frame->is_response() &&
      frame->client_opcode() == protocol::Opcode::kDcpStreamReq) {
    return OnStreamReqResponse(conn, *frame);
  }
  const auto address = AddressOf(message);
  if (!address.has_value()) {
    LOG_DEBUG("replication {}: ignored {}", options_.conn_name,
              client::DescribeDcpMessage(message));
    return Status::Ok();
  }
  const auto [vb, opaque] = *address;
  PassiveStream* stream = FindCached(vb);
  if (stream == nullptr || stream->state() != PassiveStream::State::kReading ||
      stream->opaque() != opaque) {
    // What a closed (or replaced) stream still had in flight.
    LOG_DEBUG("replication {}: dropped {} (no stream reading with opaque {})", options_.conn_name,
              client::DescribeDcpMessage(message), opaque);
    return Status::Ok();
  }
  const Status s = stream->OnMessage(message);
  Watch(vb);
  if (stream->state() == PassiveStream::State::kPending) {
    milliseconds& backoff = stream_backoff_[vb];
    if (backoff.count() == 0) backoff = options_.min_backoff;
    retry_at_[vb] = Now() + (s.ok() ? options_.min_backoff : backoff);
    if (!s.ok()) {
      backoff = std::min(backoff * 2, options_.max_backoff);
      // Tell the producer; what it already sent is dropped (its opaque is stale from now on).
      std::string wire;
      protocol::AppendDcpCloseStream(&wire, vb, conn.NextOpaque());
      RETURN_IF_ERROR(conn.SendRaw(wire));
    }
  }
  return Status::Ok();
}

void PeerLink::MaybeAck(client::Connection& conn, bool drained) {
  const bool idle = drained && Now() - last_buffer_ack_ >= kIdleAckDelay;
  bool throttled = false;
  const uint32_t bytes = acker_.Take(bucket_->MemUsed(), idle, &throttled);
  if (throttled && drained) throttled_.fetch_add(1, std::memory_order_relaxed);
  if (bytes == 0) return;
  conn.EnqueueDcpBufferAck(bytes);
  last_buffer_ack_ = Now();
  bytes_acked_.fetch_add(bytes, std::memory_order_relaxed);
  unacked_bytes_.store(acker_.pending(), std::memory_order_relaxed);
}

void PeerLink::Watch(Vbid vb) {
  if (vb >= ack_watched_.size()) ack_watched_.resize(vb + 1, false);
  if (ack_watched_[vb]) return;
  ack_watched_[vb] = true;
  ack_watch_.push_back(vb);
}

void PeerLink::QueueSeqnoAcks(client::Connection& conn) {
  if (ack_watch_.empty()) return;
  std::string wire;
  std::vector<Vbid> still_waiting;
  {
    MutexLock lock(&streams_mu_);
    for (Vbid vb : ack_watch_) {
      auto it = streams_.find(vb);
      if (it == streams_.end()) continue;
      PassiveStream& stream = *it->second;
      if (std::optional<uint64_t> hps = stream.TakeSeqnoAck()) {
        protocol::AppendDcpSeqnoAcknowledged(
            &wire, {.vbucket = vb, .opaque = stream.opaque(), .prepared_seqno = *hps});
      }
      if (stream.state() == PassiveStream::State::kReading && stream.AwaitsPersistence()) {
        still_waiting.push_back(vb);
      }
    }
  }
  for (Vbid vb : ack_watch_) ack_watched_[vb] = false;
  ack_watch_.clear();
  for (Vbid vb : still_waiting) Watch(vb);
  if (!wire.empty()) conn.EnqueueRaw(wire);
}

milliseconds PeerLink::NextWait() const {
  milliseconds wait = kMaxIdleWait;
  if (AwaitsPersistence()) wait = kSeqnoAckRecheck;
  const SteadyTime now = Now();
  if (acker_.pending() != 0) {
    // Due for the idle acknowledgement, or withheld for memory.
    const auto due =
        std::chrono::duration_cast<milliseconds>(last_buffer_ack_ + kIdleAckDelay - now) +
        milliseconds(1);
    wait = std::min({wait, kThrottleRecheck, std::max(due, milliseconds(1))});
  }
  for (const auto& [vb, at] : retry_at_) {
    const auto until = std::chrono::duration_cast<milliseconds>(at - now) + milliseconds(1);
    wait = std::min(wait, std::max(until, milliseconds(0)));
  }
  return wait;
}

LinkStats PeerLink::stats() const {
  LinkStats s;
  s.connected = connected_.load();
  s.connects = connects_.load();
  s.connect_failures = connect_failures_.load();
  s.messages = messages_.load();
  s.bytes_received = bytes_received_.load();
  s.bytes_acked = bytes_acked_.load();
  s.unacked_bytes = unacked_bytes_.load();
  s.throttled = throttled_.load();
  s.created = created_;
  {
    MutexLock lock(&error_mu_);
    s.last_error = last_error_;
  }
  MutexLock lock(&streams_mu_);
  for (const auto& [vb, stream] : streams_) s.streams.emplace(vb, stream->stats());
  return s;
}

}  // namespace sluice::replication
