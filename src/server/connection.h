// File: server/connection.h
//
// Connection: one client TCP connection. It reads bytes, delimits frames in place, runs each
// command through the dispatcher in order, and writes the responses back, batching every
// response produced from one read into one write.
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
// Malformed input. A frame whose lengths do not add up but can be skipped gets EINVAL and the
// connection continues; a stream that cannot be delimited (bad magic, body over max_packet_size)
// is logged and the connection closed.
//
// Ownership: shared_ptr. The pending asio operations hold a reference while in flight; the
// Server's registry holds a weak_ptr (to close everything at shutdown); the engine holds only
// weak_ptrs (as a Waiter), so a closed connection is freed as soon as its last I/O completes.
//
// DCP. After DCP_OPEN the connection owns a dcp::Producer. Whenever the output has room (after
// the commands of a read, after a write completed, or when the producer notifies that its streams
// have something), the connection asks the producer to append messages, up to kDcpOutputBudget
// at a time; flow control and the producer's own limits decide the rest. Closing the connection
// disconnects the producer (which ends its streams and frees its backfills).
//
// Thread safety: every method runs on the connection's I/O thread (its socket's executor), except
// NotifyIoComplete(), NotifyProducerReady(), RequestDisconnect() and CloseFromAnyThread(), which
// post to it.
#pragma once

#include <asio.hpp>

#include <bitset>
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
#include "sasl/server_session.h"
#include "server/read_buffer.h"
#include "server/server_context.h"

namespace sluice::server {

enum class CommandResult {
  kDone,        // the response (if any) is in the output buffer
  kWouldBlock,  // the engine will call NotifyIoComplete; run the frame again then
  kClose,       // close the connection once the output is written
};

class Connection final : public std::enable_shared_from_this<Connection>,
                         public engine::IoCompletion,
                         public dcp::ProducerNotifier {
 public:
  static constexpr size_t kMaxPendingOutput = 4 << 20;
  // Bytes of DCP messages a producer may add to the output before it waits for the write.
  static constexpr size_t kDcpOutputBudget = 512 << 10;

  Connection(asio::ip::tcp::socket socket, ServerContext& ctx, uint64_t id);
  ~Connection() override;
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Starts reading. I/O thread.
  void Start();
  // Closes the socket (idempotent). I/O thread.
  void Close(std::string_view why);
  // Posts Close() to the I/O thread. Any thread.
  void CloseFromAnyThread(std::string why);
  // engine::IoCompletion: any thread.
  void NotifyIoComplete(Status status) override;
  // dcp::ProducerNotifier: any thread; both post to the I/O thread.
  void NotifyProducerReady() override;
  void RequestDisconnect(std::string_view reason) override;

  // The connection's I/O thread.
  asio::any_io_executor executor() { return socket_.get_executor(); }

  // ---- for command handlers (I/O thread) ----
  ServerContext& ctx() { return ctx_; }
  uint64_t id() const { return id_; }
  const std::string& peer() const { return peer_; }
  // The local address the client connected to (the host in cluster configs we send it).
  const std::string& local_host() const { return local_host_; }

  bool authenticated() const { return authenticated_; }
  const std::string& user() const { return user_; }
  void SetAuthenticated(std::string user);
  void ResetAuthentication();
  std::unique_ptr<sasl::ServerSession>& sasl_session() { return sasl_; }

  engine::Bucket* bucket() const { return bucket_.get(); }
  void SelectBucket(std::shared_ptr<engine::Bucket> bucket) { bucket_ = std::move(bucket); }

  bool HasFeature(protocol::Feature f) const {
    return features_.test(static_cast<uint16_t>(f) & 0xff);
  }
  void ClearFeatures() { features_.reset(); }
  void EnableFeature(protocol::Feature f) { features_.set(static_cast<uint16_t>(f) & 0xff); }

  // DCP: the producer this connection became with DCP_OPEN (null otherwise).
  const std::shared_ptr<dcp::Producer>& producer() const { return producer_; }
  void SetProducer(std::shared_ptr<dcp::Producer> producer) { producer_ = std::move(producer); }

  // The engine's handle back to this connection for kWouldBlock answers.
  engine::Waiter waiter() { return weak_from_this(); }

  // The response buffer; handlers append complete frames (see protocol/encode.h).
  std::string* out() { return &out_; }
  // A response with the request's opcode and opaque.
  void Respond(const protocol::Frame& req, protocol::McbpStatus status,
               std::string_view extras = {}, std::string_view key = {},
               std::string_view value = {}, uint8_t datatype = 0, uint64_t cas = 0);
  // An error response for an engine status: translated once (protocol::ToMcbpStatus), remapped
  // for clients without XERROR, with the cluster config as body for NOT_MY_VBUCKET and an
  // error context body for EINVAL when XERROR is on.
  void RespondError(const protocol::Frame& req, const Status& status);

 private:
  void DoRead();
  void OnRead(const asio::error_code& ec, size_t n);
  // Runs as many buffered frames as possible, then flushes output and resumes reading.
  void ProcessInput();
  CommandResult RunFrame(const protocol::Frame& frame);
  void FlushOutput();
  void OnWrite(const asio::error_code& ec, size_t n);
  void Resume(Status status);
  // Lets the producer append what its streams have ready, within kDcpOutputBudget.
  void PumpProducer();

  // ---- constant after construction ----
  ServerContext& ctx_;
  const uint64_t id_;
  std::string peer_;
  std::string local_host_;

  // ---- I/O thread only ----
  asio::ip::tcp::socket socket_;
  ReadBuffer in_;
  std::string out_;      // responses not yet handed to the socket
  std::string writing_;  // the buffer of the write in flight
  bool read_in_flight_ = false;
  bool write_in_flight_ = false;
  bool blocked_ = false;           // the frame at the head of in_ waits for NotifyIoComplete
  // Set while blocked: no socket operation is pending then, and the engine holds only a weak
  // reference, so the connection keeps itself alive until Resume() or Close().
  std::shared_ptr<Connection> blocked_self_;
  bool close_after_write_ = false;
  bool closed_ = false;

  bool authenticated_ = false;
  std::string user_;
  std::unique_ptr<sasl::ServerSession> sasl_;
  std::shared_ptr<engine::Bucket> bucket_;
  std::bitset<256> features_;
  // Owned: a DCP connection owns its producer (see src/dcp/README.md).
  std::shared_ptr<dcp::Producer> producer_;
};

}  // namespace sluice::server
