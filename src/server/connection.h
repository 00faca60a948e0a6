// File: server/connection.h
//
// Connection: one client connection. It reads bytes from its Transport (server/transport.h: TCP,
// TLS, or memory in tests), delimits frames in place, runs each command in order through the
// FrameRunner its creator gave it (the dispatcher), and writes the responses back, batching every
// response produced from one read into one write. It also holds what the command handlers keep
// per client: authentication, HELLO features, the selected bucket, a DCP producer.
//
// Pipelining and blocking. Requests are answered strictly in order. When a command cannot finish
// now (the engine answered kWouldBlock: an evicted value is being fetched, a durable write waits
// for the flusher), the connection stops at that frame; the engine later calls
// NotifyIoComplete(status) from a background thread, which posts back to this connection's I/O
// thread; the frame is then run again (status OK) or answered with the error. Frames behind it
// wait — the memcached model.
//
// Back-pressure. While more than kMaxPendingOutput bytes wait to be written, the connection stops
// processing input and stops reading; a client that does not read its responses cannot make the
// server buffer without bound.
//
// TLS is the transport's business: the protocol above it is unchanged.
//
// Idle connections. With connection_idle_time > 0, a connection that made no progress — no byte
// read and no write completed — for that long is closed (kv_engine's connection_idle_time),
// unless it is a DCP connection (the producer's noop/idle timeout governs those) or waits for the
// engine. That also ends a client that holds half a frame forever. Input memory follows the
// bytes actually received: a header announcing a large body does not reserve it up front.
//
// Malformed input. A frame whose lengths do not add up but can be skipped gets EINVAL and the
// connection continues; a stream that cannot be delimited (bad magic, body over max_packet_size)
// is logged and the connection closed.
//
// Ownership: shared_ptr. The pending transport operations hold a reference while in flight; the
// Server's registry holds a weak_ptr (to close everything at shutdown); the engine holds only
// weak_ptrs (as a Waiter), so a closed connection is freed as soon as its last I/O completes.
//
// DCP consumer. After a DCP_OPEN without the Producer flag the connection owns a
// replication::Consumer instead (a driver relays it to a producer: docs/replication.md). Its
// requests (ADD_STREAM, CLOSE_STREAM, the producer's messages, NOOP) and the responses to what it
// sent go to the consumer, which appends its answers and requests to the output; after the
// commands of a read it acknowledges what was applied (Flush), and a timer ticks it (a withheld
// acknowledgement, a silent producer). Any other request on it closes the connection.
//
// DCP producer. After DCP_OPEN with the Producer flag the connection owns a dcp::Producer. Whenever
// the output has room (after the commands of a read, after a write completed, or when the producer
// notifies that its streams have something), the connection asks the producer to append messages,
// up to the producer's StepBudget() at a time (its set_priority); flow control and the producer's
// own limits decide the rest. Closing the connection disconnects the producer (which ends its
// streams and frees its backfills).
//
// Cluster-config pushes. A client that agreed HELLO Duplex and ClustermapChangeNotification (or
// its Brief form) and selected the bucket gets each new config as a server request (magic 0x82,
// opcode 0x01, extras = epoch and revision as two i64, key = the bucket name, value = the config
// JSON; no value in the Brief form), queued in the output like a response, never twice for one
// revision. Its reply (magic 0x83) is dropped, as kv_engine does. Over kMaxPendingOutput of
// unsent output the push waits until the client drained it, and then sends only the newest config.
//
// Thread safety: every method runs on the connection's I/O thread (its transport's executor),
// except NotifyIoComplete(), NotifyProducerReady(), RequestDisconnect(), CloseFromAnyThread() and
// NotifyClusterConfigChanged(), which post to it.
#pragma once

#include <asio.hpp>
#include <bitset>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"
#include "dcp/producer.h"
#include "engine/bucket.h"
#include "engine/engine_types.h"
#include "protocol/feature.h"
#include "protocol/frame.h"
#include "protocol/status.h"
#include "replication/consumer.h"
#include "sasl/server_session.h"
#include "server/read_buffer.h"
#include "server/server_context.h"
#include "server/transport.h"

namespace sluice::server {

enum class CommandResult {
  kDone,        // the response (if any) is in the output buffer
  kWouldBlock,  // the engine will call NotifyIoComplete; run the frame again then
  kClose,       // close the connection once the output is written
};

class Connection;

// Runs one decoded frame on the connection: the command dispatcher (server/dispatcher.h), which
// the connection's creator hands it, so the connection does not depend on the commands above it.
using FrameRunner = CommandResult (*)(Connection& conn, const protocol::Frame& frame);

class Connection final : public std::enable_shared_from_this<Connection>,
                         public engine::IoCompletion,
                         public dcp::ProducerNotifier,
                         public ClosableConnection {
 public:
  static constexpr size_t kMaxPendingOutput = 4 << 20;
  // Most input room reserved ahead of the bytes received while a frame is incomplete.
  static constexpr size_t kReadChunk = 256 << 10;

  // A connection over `transport` (server/transport.h), not yet started, that runs each frame it
  // reads with `run_frame` (server/dispatcher.h's Dispatch).
  Connection(std::shared_ptr<Transport> transport, ServerContext& ctx, uint64_t id,
             FrameRunner run_frame);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Starts the transport (the TLS handshake), then reads. I/O thread.
  void Start();
  // Closes the transport (idempotent). I/O thread.
  void Close(std::string_view why);
  // ClosableConnection: posts Close() to the I/O thread. Any thread.
  void CloseFromAnyThread(std::string why) override;
  // engine::IoCompletion: any thread.
  void NotifyIoComplete(Status status) override;
  // dcp::ProducerNotifier: any thread; both post to the I/O thread.
  void NotifyProducerReady() override;
  void RequestDisconnect(std::string_view reason) override;
  // ClosableConnection: the cluster config changed; push it if the client asked for pushes.
  // Any thread; posts.
  void NotifyClusterConfigChanged() override;

  // The connection's I/O thread.
  asio::any_io_executor executor() { return transport_->executor(); }

  // ---- for command handlers (I/O thread) ----
  ServerContext& ctx() { return ctx_; }
  uint64_t id() const { return id_; }
  const std::string& peer() const { return transport_->endpoints().peer; }
  // The local address the client connected to (the host in cluster configs we send it).
  const std::string& local_host() const { return transport_->endpoints().local_host; }
  // The server port it connected to.
  uint16_t local_port() const { return transport_->endpoints().local_port; }

  bool authenticated() const { return authenticated_; }
  const std::string& user() const { return user_; }
  void SetAuthenticated(std::string user);
  void ResetAuthentication();
  std::unique_ptr<sasl::ServerSession>& sasl_session() { return sasl_; }
  // Counts a failed SASL attempt and returns how many this connection made (the SASL handler
  // pauses after the first and closes at auth_failure_limit).
  uint32_t NoteAuthFailure() { return ++auth_failures_; }
  // Holds the output produced so far and stops processing input for `delay`; the I/O thread
  // serves other connections meanwhile (a timer, never a sleep). Input keeps being read (up to
  // kReadChunk bytes), so a peer that hangs up is noticed.
  void PauseFor(std::chrono::milliseconds delay);

  engine::Bucket* bucket() const { return bucket_.get(); }
  const std::shared_ptr<engine::Bucket>& shared_bucket() const { return bucket_; }
  void SelectBucket(std::shared_ptr<engine::Bucket> bucket) { bucket_ = std::move(bucket); }

  bool HasFeature(protocol::Feature f) const {
    return features_.test(static_cast<uint16_t>(f) & 0xff);
  }
  void ClearFeatures() { features_.reset(); }
  // The client's name from HELLO (its "a" member when the key is JSON); "" before HELLO. STAT
  // "timings" answers cbstats ("cbstat" in the name) in text, everyone else in JSON (kv_engine).
  const std::string& agent() const { return agent_; }
  void set_agent(std::string agent) { agent_ = std::move(agent); }
  void EnableFeature(protocol::Feature f) { features_.set(static_cast<uint16_t>(f) & 0xff); }

  // DCP: the producer this connection became with DCP_OPEN (null otherwise).
  const std::shared_ptr<dcp::Producer>& producer() const { return producer_; }
  void SetProducer(std::shared_ptr<dcp::Producer> producer) { producer_ = std::move(producer); }
  // DCP: the consumer this connection became with DCP_OPEN (null otherwise).
  replication::Consumer* consumer() const { return consumer_.get(); }
  // Makes the connection a consumer: appends its first control and starts its tick timer.
  void SetConsumer(std::unique_ptr<replication::Consumer> consumer);
  // A DCP connection (producer or consumer): the idle rule does not apply.
  bool is_dcp() const { return producer_ != nullptr || consumer_ != nullptr; }

  // The engine's handle back to this connection for kWouldBlock answers.
  engine::Waiter waiter() { return weak_from_this(); }

  // What a blocked command already did (kv_engine: the cookie's engine storage). A handler that
  // answers kWouldBlock may park its progress here and finds it again when its frame is run
  // again (a durable write keeps its mutation while it waits for the flusher; see
  // server/durable_write.h); the handler clears it when it answers. Shared: the engine and timers
  // hold weak references to what is parked.
  class Continuation {
   public:
    virtual ~Continuation() = default;
  };
  std::shared_ptr<Continuation>& continuation() { return continuation_; }

  // The response buffer; handlers append complete frames (see protocol/encode.h).
  std::string* out() { return &out_; }
  // A response with the request's opcode and opaque.
  void Respond(const protocol::Frame& req, protocol::McbpStatus status,
               std::string_view extras = {}, std::string_view key = {}, std::string_view value = {},
               uint8_t datatype = 0, uint64_t cas = 0);
  // An error response for an engine status: translated once (protocol::ToMcbpStatus), remapped
  // for clients without XERROR, with the cluster config as body for NOT_MY_VBUCKET and an
  // error context body for EINVAL when XERROR is on.
  void RespondError(const protocol::Frame& req, const Status& status);

 private:
  void DoRead();
  void OnRead(const asio::error_code& ec, size_t n);
  // Runs as many buffered frames as possible, then flushes output and resumes reading.
  void ProcessInput();
  void FlushOutput();
  void OnWrite(const asio::error_code& ec, size_t n);
  void Resume(Status status);
  // Lets the producer append what its streams have ready, within its StepBudget().
  void PumpProducer();
  // Queues the current cluster config for a client that asked for pushes (see above).
  void PushClusterConfig();
  void OnStarted(const asio::error_code& ec);
  // connection_idle_time: (re)arms the idle check `after` from now; OnIdleTimer closes the
  // connection or re-arms.
  void ArmIdleTimer(std::chrono::steady_clock::duration after);
  void OnIdleTimer();
  void OnPauseEnd(const asio::error_code& ec);
  // The consumer's tick (see "DCP consumer").
  void ArmConsumerTimer();
  void OnConsumerTimer();

  // ---- constant after construction ----
  const std::shared_ptr<Transport> transport_;
  ServerContext& ctx_;
  const uint64_t id_;
  const FrameRunner run_frame_;

  // ---- I/O thread only ----
  asio::steady_timer idle_timer_;
  asio::steady_timer pause_timer_;
  asio::steady_timer consumer_timer_;
  std::chrono::steady_clock::time_point last_progress_;  // last read or completed write
  bool paused_ = false;  // PauseFor: output held and input not processed until the timer fires
  uint32_t auth_failures_ = 0;
  ReadBuffer in_;
  std::string out_;      // responses not yet handed to the socket
  std::string writing_;  // the buffer of the write in flight
  bool read_in_flight_ = false;
  bool write_in_flight_ = false;
  bool blocked_ = false;  // the frame at the head of in_ waits for NotifyIoComplete
  // Set while blocked: no socket operation is pending then, and the engine holds only a weak
  // reference, so the connection keeps itself alive until Resume() or Close().
  std::shared_ptr<Connection> blocked_self_;
  bool close_after_write_ = false;
  bool closed_ = false;
  int64_t pushed_config_rev_ = 0;     // the newest revision pushed to this client
  int64_t pushed_config_epoch_ = 0;   // and its epoch (configs compare by (epoch, revision))
  bool config_push_pending_ = false;  // a push waits for the output to drain

  bool authenticated_ = false;
  std::string user_;
  std::string agent_;
  std::unique_ptr<sasl::ServerSession> sasl_;
  std::shared_ptr<engine::Bucket> bucket_;
  std::bitset<256> features_;
  // Owned: a DCP connection owns its producer (see src/dcp/README.md).
  std::shared_ptr<dcp::Producer> producer_;
  std::unique_ptr<replication::Consumer> consumer_;  // owned: the connection is its only user
  std::shared_ptr<Continuation> continuation_;       // see continuation()
};

}  // namespace sluice::server
