#include "server/connection.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <utility>

#include "common/logging.h"
#include "protocol/datatype.h"
#include "protocol/encode.h"
#include "protocol/payload.h"

namespace sluice::server {

using protocol::McbpStatus;

namespace {

// Codes a client that did not negotiate XERROR may not understand, mapped as kv_engine does
// (its remapErrorCode); EACCESS and NO_BUCKET are sent as they are.
McbpStatus RemapForLegacyClient(McbpStatus status, bool collections) {
  switch (status) {
    case McbpStatus::kLocked:
      return McbpStatus::kKeyEexists;
    case McbpStatus::kUnknownCollection:
      return collections ? status : McbpStatus::kEinval;
    case McbpStatus::kSyncWriteInProgress:
    case McbpStatus::kSyncWriteReCommitInProgress:
      return McbpStatus::kEtmpfail;
    default:
      return status;
  }
}

}  // namespace

Connection::Connection(std::shared_ptr<Transport> transport, ServerContext& ctx, uint64_t id,
                       FrameRunner run_frame)
    : transport_(std::move(transport)),
      ctx_(ctx),
      id_(id),
      run_frame_(run_frame),
      idle_timer_(transport_->executor()),
      pause_timer_(transport_->executor()),
      consumer_timer_(transport_->executor()),
      last_progress_(std::chrono::steady_clock::now()) {
  ctx_.stats().curr_connections.fetch_add(1, std::memory_order_relaxed);
  ctx_.stats().total_connections.fetch_add(1, std::memory_order_relaxed);
}

Connection::~Connection() {
  ctx_.UnregisterConnection(id_);
  ctx_.stats().curr_connections.fetch_sub(1, std::memory_order_relaxed);
}

void Connection::Start() {
  ctx_.RegisterConnection(id_, weak_from_this());
  LOG_DEBUG("conn {} from {}{}", id_, peer(), transport_->tls() ? " (TLS)" : "");
  if (ctx_.config().connection_idle_time > 0) {
    ArmIdleTimer(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(ctx_.config().connection_idle_time)));
  }
  transport_->AsyncStart(
      [self = shared_from_this()](const asio::error_code& ec) { self->OnStarted(ec); });
}

void Connection::OnStarted(const asio::error_code& ec) {
  if (closed_) return;
  if (ec) {
    LOG_INFO("conn {} ({}): TLS handshake failed: {}", id_, peer(), ec.message());
    Close("TLS handshake failed");
    return;
  }
  last_progress_ = std::chrono::steady_clock::now();
  DoRead();
}

void Connection::ArmIdleTimer(std::chrono::steady_clock::duration after) {
  idle_timer_.expires_after(after);
  idle_timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
    if (!ec) self->OnIdleTimer();
  });
}

void Connection::OnIdleTimer() {
  if (closed_) return;
  const auto limit = std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::chrono::duration<double>(ctx_.config().connection_idle_time));
  const auto idle_for = std::chrono::steady_clock::now() - last_progress_;
  // DCP connections have their own liveness rules; a blocked command waits for the engine.
  if (idle_for >= limit && !is_dcp() && !blocked_) {
    ctx_.stats().idle_disconnects.fetch_add(1, std::memory_order_relaxed);
    LOG_INFO("conn {} ({}): no progress for {:.1f} s (connection_idle_time); closing", id_, peer(),
             std::chrono::duration<double>(idle_for).count());
    Close("idle");
    return;
  }
  ArmIdleTimer(idle_for >= limit ? limit : limit - idle_for);
}

void Connection::PauseFor(std::chrono::milliseconds delay) {
  if (closed_ || delay.count() <= 0) return;
  paused_ = true;
  pause_timer_.expires_after(delay);
  pause_timer_.async_wait(
      [self = shared_from_this()](const asio::error_code& ec) { self->OnPauseEnd(ec); });
}

void Connection::OnPauseEnd(const asio::error_code& ec) {
  if (ec || closed_ || !paused_) return;
  paused_ = false;
  ProcessInput();
}

void Connection::SetAuthenticated(std::string user) {
  authenticated_ = true;
  user_ = std::move(user);
}

void Connection::ResetAuthentication() {
  authenticated_ = false;
  user_.clear();
  bucket_.reset();
}

void Connection::Close(std::string_view why) {
  if (closed_) return;
  closed_ = true;
  LOG_DEBUG("conn {} ({}) closed: {}", id_, peer(), why);
  idle_timer_.cancel();
  pause_timer_.cancel();
  consumer_timer_.cancel();
  paused_ = false;
  transport_->Close(/*graceful=*/!write_in_flight_);
  bucket_.reset();
  sasl_.reset();
  blocked_self_.reset();
  if (producer_) {
    // Ends the streams and releases the backfills now, not when the last reference goes.
    producer_->Disconnect();
    if (ctx_.conn_map()) ctx_.conn_map()->Unregister(*producer_);
    producer_.reset();
  }
  if (consumer_) {
    consumer_->Disconnect();
    consumer_.reset();
    if (ctx_.conn_map()) ctx_.conn_map()->ConsumerClosed();
  }
}

void Connection::SetConsumer(std::unique_ptr<replication::Consumer> consumer) {
  consumer_ = std::move(consumer);
  if (ctx_.conn_map()) ctx_.conn_map()->ConsumerOpened();
  ctx_.AddConsumerBoard(consumer_->stats_board(), local_port());
  consumer_->Start(&out_);
  ArmConsumerTimer();
}

void Connection::ArmConsumerTimer() {
  consumer_timer_.expires_after(consumer_->TickInterval());
  consumer_timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
    if (!ec) self->OnConsumerTimer();
  });
}

void Connection::OnConsumerTimer() {
  if (closed_ || !consumer_) return;
  if (Status s = consumer_->Tick(&out_); !s.ok()) {
    Close(s.message());
    return;
  }
  FlushOutput();
  ArmConsumerTimer();
}

void Connection::CloseFromAnyThread(std::string why) {
  asio::post(executor(), [self = shared_from_this(), why = std::move(why)] { self->Close(why); });
}

void Connection::NotifyIoComplete(Status status) {
  // Weak: a connection closed while the engine worked must simply be dropped.
  std::weak_ptr<Connection> weak = weak_from_this();
  asio::post(executor(), [weak, status = std::move(status)]() mutable {
    if (auto self = weak.lock()) self->Resume(std::move(status));
  });
}

void Connection::NotifyProducerReady() {
  // Weak: a notification must not keep a closed connection alive.
  std::weak_ptr<Connection> weak = weak_from_this();
  asio::post(executor(), [weak] {
    if (auto self = weak.lock()) {
      self->PumpProducer();
      self->FlushOutput();
      // The producer gave up (Step found the consumer idle): with nothing left to write, no
      // OnWrite will close us, and a silent consumer sends no input that would. Close now.
      if (self->close_after_write_ && !self->write_in_flight_ && self->out_.empty()) {
        self->Close("DCP producer disconnected");
      }
    }
  });
}

void Connection::RequestDisconnect(std::string_view reason) {
  CloseFromAnyThread(std::string(reason));
}

void Connection::NotifyClusterConfigChanged() {
  // Weak: a notification must not keep a closed connection alive.
  std::weak_ptr<Connection> weak = weak_from_this();
  asio::post(executor(), [weak] {
    if (auto self = weak.lock()) self->PushClusterConfig();
  });
}

void Connection::PushClusterConfig() {
  using protocol::Feature;
  const bool full = HasFeature(Feature::kClustermapChangeNotification);
  const bool brief = HasFeature(Feature::kClustermapChangeNotificationBrief);
  if (closed_ || !HasFeature(Feature::kDuplex) || !(full || brief) || bucket_ == nullptr) return;
  if (out_.size() >= kMaxPendingOutput) {
    config_push_pending_ = true;  // OnWrite pushes the newest config once the client read
    return;
  }
  config_push_pending_ = false;
  const ClusterView::Config config = ctx_.CurrentClusterConfig(local_host());
  if (std::pair(config.epoch, config.rev) <= std::pair(pushed_config_epoch_, pushed_config_rev_)) {
    return;
  }
  pushed_config_epoch_ = config.epoch;
  pushed_config_rev_ = config.rev;
  std::string extras;
  protocol::AppendClusterConfigVersion(&extras, {config.epoch, config.rev});
  const uint8_t datatype =
      full && HasFeature(Feature::kJson) ? protocol::kDatatypeJson : protocol::kDatatypeRaw;
  protocol::AppendFrame(&out_, protocol::Magic::kServerRequest,
                        static_cast<uint8_t>(protocol::ServerOpcode::kClustermapChangeNotification),
                        /*specific=*/0, datatype, /*opaque=*/0, /*cas=*/0, {}, extras,
                        bucket_->name(), full ? std::string_view(config.json) : std::string_view());
  FlushOutput();
}

void Connection::PumpProducer() {
  if (!producer_ || closed_ || close_after_write_) return;
  // The producer's budget follows its set_priority: a low-priority connection yields the I/O
  // thread to the others sooner.
  const size_t budget = producer_->StepBudget();
  if (out_.size() >= budget) return;  // OnWrite pumps again once it drained
  const dcp::StepResult r = producer_->Step(&out_, budget - out_.size());
  if (r == dcp::StepResult::kDisconnect) close_after_write_ = true;
}

void Connection::Resume(Status status) {
  if (closed_ || !blocked_) return;
  blocked_ = false;
  auto keep_alive = std::move(blocked_self_);
  if (!status.ok()) {
    // The command cannot complete: answer its frame with the error and move past it.
    auto r =
        protocol::DecodeFrame(in_.data(), static_cast<uint32_t>(ctx_.config().max_packet_size));
    if (r.status == protocol::DecodeStatus::kOk) {
      RespondError(r.frame, status);
      in_.Consume(r.size);
    }
  }
  ProcessInput();
}

void Connection::DoRead() {
  if (read_in_flight_ || closed_ || blocked_ || out_.size() >= kMaxPendingOutput) return;
  // Paused: keep reading (to notice a peer that hangs up) but buffer at most kReadChunk.
  if (paused_ && in_.size() >= kReadChunk) return;
  size_t free_bytes = 0;
  char* dst = in_.StartRead(4096, &free_bytes);
  read_in_flight_ = true;
  transport_->AsyncReadSome(
      asio::buffer(dst, free_bytes),
      [self = shared_from_this()](const asio::error_code& ec, size_t n) { self->OnRead(ec, n); });
}

void Connection::OnRead(const asio::error_code& ec, size_t n) {
  read_in_flight_ = false;
  in_.FinishRead(ec ? 0 : n);
  if (closed_) return;
  if (ec) {
    const bool eof = ec == asio::error::eof || ec == asio::ssl::error::stream_truncated;
    Close(eof ? "peer closed" : ec.message());
    return;
  }
  last_progress_ = std::chrono::steady_clock::now();
  ctx_.stats().bytes_read.fetch_add(n, std::memory_order_relaxed);
  ProcessInput();
}

void Connection::ProcessInput() {
  const auto max_body = static_cast<uint32_t>(ctx_.config().max_packet_size);
  while (!closed_ && !blocked_ && !paused_ && !close_after_write_ &&
         out_.size() < kMaxPendingOutput) {
    auto r = protocol::DecodeFrame(in_.data(), max_body);
    if (r.status == protocol::DecodeStatus::kNeedMore) {
      // Make room for more of the frame, but only as much as a read can fill soon: memory grows
      // with the bytes that really arrive, not with what a (possibly lying) header announces.
      size_t free_bytes = 0;
      if (r.size > in_.size()) in_.Reserve(std::min(r.size - in_.size(), kReadChunk), &free_bytes);
      break;
    }
    if (r.status == protocol::DecodeStatus::kMalformed) {
      ctx_.stats().malformed_frames.fetch_add(1, std::memory_order_relaxed);
      LOG_WARN("conn {} ({}): malformed frame ({}); closing", id_, peer(), r.reason);
      Close("malformed frame");
      return;
    }
    if (r.status == protocol::DecodeStatus::kInvalid) {
      ctx_.stats().malformed_frames.fetch_add(1, std::memory_order_relaxed);
      RespondError(r.frame, Status(Errc::kInvalid, r.reason));
      in_.Consume(r.size);
      continue;
    }
    const CommandResult result = run_frame_(*this, r.frame);
    if (result == CommandResult::kWouldBlock) {
      blocked_ = true;  // the frame stays at the head of in_ until Resume()
      blocked_self_ = shared_from_this();
      break;
    }
    in_.Consume(r.size);
    if (result == CommandResult::kClose) close_after_write_ = true;
  }
  in_.ShrinkIfIdle();
  if (paused_) {  // OnPauseEnd resumes; the output waits with the input
    DoRead();
    return;
  }
  PumpProducer();
  if (consumer_ && !close_after_write_) consumer_->Flush(&out_);
  FlushOutput();
  if (close_after_write_ && !write_in_flight_ && out_.empty()) {
    Close("quit");
    return;
  }
  DoRead();
}

void Connection::FlushOutput() {
  if (write_in_flight_ || out_.empty() || closed_ || paused_) return;
  writing_.swap(out_);
  out_.clear();
  write_in_flight_ = true;
  transport_->AsyncWrite(
      asio::buffer(writing_),
      [self = shared_from_this()](const asio::error_code& ec, size_t n) { self->OnWrite(ec, n); });
}

void Connection::OnWrite(const asio::error_code& ec, size_t n) {
  write_in_flight_ = false;
  if (closed_) return;
  if (ec) {
    Close(ec.message());
    return;
  }
  last_progress_ = std::chrono::steady_clock::now();
  ctx_.stats().bytes_written.fetch_add(n, std::memory_order_relaxed);
  // Keep a moderate buffer for reuse; drop a huge one.
  if (writing_.capacity() > (1 << 20)) {
    std::string().swap(writing_);
  } else {
    writing_.clear();
  }
  if (close_after_write_ && out_.empty()) {
    Close("quit");
    return;
  }
  if (config_push_pending_) PushClusterConfig();
  // Output drained: continue with buffered input (processing may have paused on back-pressure).
  ProcessInput();
}

void Connection::Respond(const protocol::Frame& req, McbpStatus status, std::string_view extras,
                         std::string_view key, std::string_view value, uint8_t datatype,
                         uint64_t cas) {
  protocol::ResponseFields f;
  f.opcode = req.client_opcode();
  f.status = status;
  f.opaque = req.opaque;
  f.cas = cas;
  f.datatype = datatype;
  f.extras = extras;
  f.key = key;
  f.value = value;
  protocol::AppendResponse(&out_, f);
}

void Connection::RespondError(const protocol::Frame& req, const Status& status) {
  McbpStatus code = protocol::ToMcbpStatus(status.code());
  const bool xerror = HasFeature(protocol::Feature::kXerror);
  if (!xerror) code = RemapForLegacyClient(code, HasFeature(protocol::Feature::kCollections));
  const uint8_t json =
      HasFeature(protocol::Feature::kJson) ? protocol::kDatatypeJson : protocol::kDatatypeRaw;
  if (code == McbpStatus::kNotMyVbucket && ctx_.bucket()) {
    // Couchbase clients refresh their map from the body of NOT_MY_VBUCKET.
    Respond(req, code, {}, {}, ctx_.ClusterConfig(local_host()), json);
    return;
  }
  if (xerror && code == McbpStatus::kEinval && !status.message().empty()) {
    const std::string body =
        nlohmann::json{{"error", {{"context", std::string(status.message())}}}}.dump(
            -1, ' ', false, nlohmann::json::error_handler_t::replace);
    Respond(req, code, {}, {}, body, json);
    return;
  }
  Respond(req, code);
}

}  // namespace sluice::server
