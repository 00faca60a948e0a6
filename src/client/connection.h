// File: client/connection.h
//
// Connection: sluice's one client of the memcached binary protocol, used by the integration
// tests, the `sluice` CLI and the load generator. Blocking I/O on one TCP connection, with every
// wait bounded by ConnectOptions::io_timeout so a hung server fails a test instead of hanging it.
// All encoding and decoding goes through src/protocol; this class adds only the socket, opaques,
// buffering and the conversations (handshake, KV, DCP consumer).
//
// Layers, from raw to convenient:
//   SendRaw / ReadFrame                 bytes out, next frame in (no interpretation at all)
//   Enqueue / Flush / ReadResponses     pipelining: many requests encoded into one send buffer,
//                                       responses parsed in place from one big read buffer, no
//                                       allocation per operation (the load generator's path)
//   Execute                             one request, its response (matched by opaque)
//   Hello / Authenticate / Get / Set / DcpStreamReq / ReadDcpMessage / ...   conversations
//
// Errors. A transport failure (I/O error, timeout, a malformed frame from the server, a response
// that matches nothing outstanding on a non-DCP connection) returns a non-OK Status and marks the
// connection broken: every later call fails fast with the same status. What the server answers is
// not an error at this level: KV helpers return it in KvResult::status; admin helpers that only
// succeed or fail turn a non-success answer into a Status via protocol::ErrcFromMcbpStatus (the
// message names the opcode and the wire status).
//
// Frames from the server that nobody asked for are never dropped silently:
//   - DCP_NOOP requests are answered at once (magic 0x81, same opaque) and counted;
//   - other server requests (DCP messages arriving while Execute waits for its response,
//     server-initiated 0x82 requests) are kept in arrival order and returned by ReadDcpMessage();
//   - on a DCP connection (after DcpOpen) responses for other opaques are kept the same way.
//
// DCP flow control: after EnableDcpFlowControl(n) (or SetDcpAutoAck(n)), every producer request
// except NOOP that ReadDcpMessage() returns is counted at its full size (24-byte header included);
// once the unacknowledged count reaches n/2 a DCP_BUFFER_ACKNOWLEDGEMENT for that count is sent.
//
// Frame views (protocol::Frame) handed out by ReadFrame / ReadResponses point into the read buffer
// and are valid until the next call that reads or writes on this connection (for ReadResponses:
// during the callback only).
//
// Ownership: Connect() returns a unique_ptr; the Connection owns its socket and buffers.
// Thread safety: thread-compatible: one thread uses a Connection at a time.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client/dcp_message.h"
#include "client/socket.h"
#include "client/types.h"
#include "common/status.h"
#include "protocol/encode.h"
#include "protocol/feature.h"
#include "protocol/frame.h"

namespace sluice::client {

class Connection {
 public:
  static StatusOr<std::unique_ptr<Connection>> Connect(const std::string& host, uint16_t port,
                                                       const ConnectOptions& options = {});
  // Wraps an already connected socket (e.g. one end of a socketpair in tests).
  static std::unique_ptr<Connection> FromSocket(Socket socket, const ConnectOptions& options = {});
  ~Connection();

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // ---- Raw frames ----

  // Writes `bytes` as they are (also flushes anything Enqueue()d before).
  Status SendRaw(std::string_view bytes);
  // Appends `bytes` as they are to the send buffer; nothing is written until Flush() (or the next
  // SendRaw / request), so several small frames leave in one write.
  void EnqueueRaw(std::string_view bytes) { send_buf_.append(bytes); }
  // The next frame the server sent, whatever it is (stashed frames are not consulted, NOOPs are not
  // answered). Valid until the next call on this connection.
  StatusOr<protocol::Frame> ReadFrame();

  // ---- Request / response ----

  // A fresh opaque (never 0).
  uint32_t NextOpaque();
  // Sends `request` (with a fresh opaque if request.opaque is 0) and returns its response.
  // REQUIRES: no pipelined requests outstanding (their responses would arrive first).
  StatusOr<Response> Execute(protocol::RequestFields request);

  // ---- Pipelining ----

  // Encodes `request` into the send buffer (a fresh opaque if request.opaque is 0); returns the
  // opaque used. Nothing is written until Flush().
  uint32_t Enqueue(protocol::RequestFields request);
  size_t queued_bytes() const { return send_buf_.size(); }
  // Writes the send buffer. While the socket is full it keeps reading what the server sends into
  // the read buffer, so arbitrarily large batches cannot deadlock against a server that blocks on
  // writing its responses.
  Status Flush();
  // Reads `count` responses in order, calling fn(const protocol::Frame&) for each (the view is
  // valid during the call). Quiet requests that stay silent must not be counted: use
  // ReadResponsesUntil() with a trailing NOOP instead.
  template <class Fn>
  Status ReadResponses(size_t count, Fn&& fn) {
    for (size_t i = 0; i < count; ++i) {
      ASSIGN_OR_RETURN(protocol::Frame frame, NextResponse());
      fn(static_cast<const protocol::Frame&>(frame));
    }
    return Status::Ok();
  }
  // Reads responses, calling fn for each, up to and including the one carrying `opaque`.
  template <class Fn>
  Status ReadResponsesUntil(uint32_t opaque, Fn&& fn) {
    while (true) {
      ASSIGN_OR_RETURN(protocol::Frame frame, NextResponse());
      fn(static_cast<const protocol::Frame&>(frame));
      if (frame.opaque == opaque) return Status::Ok();
    }
  }

  // ---- Handshake ----

  // HELLO: returns the features the server agreed to (also remembered: HasFeature()).
  StatusOr<std::vector<protocol::Feature>> Hello(std::string_view agent,
                                                 const std::vector<protocol::Feature>& features);
  bool HasFeature(protocol::Feature feature) const;
  // SASL_LIST_MECHS, split on spaces.
  StatusOr<std::vector<std::string>> ListMechs();
  // SASL with "PLAIN", "SCRAM-SHA1", "SCRAM-SHA256" or "SCRAM-SHA512". For SCRAM the server's
  // signature is verified. kAuthError when the server refuses.
  Status Authenticate(std::string_view user, std::string_view password,
                      std::string_view mechanism = "SCRAM-SHA512");
  Status SelectBucket(std::string_view bucket);

  // ---- KV (keys get the collection prefix when Collections was agreed) ----

  StatusOr<KvResult> Get(std::string_view key, const KeyOptions& options = {});
  StatusOr<KvResult> GetK(std::string_view key, const KeyOptions& options = {});
  StatusOr<KvResult> Set(std::string_view key, std::string_view value,
                         const MutationOptions& options = {});
  StatusOr<KvResult> Add(std::string_view key, std::string_view value,
                         const MutationOptions& options = {});
  StatusOr<KvResult> Replace(std::string_view key, std::string_view value,
                             const MutationOptions& options = {});
  StatusOr<KvResult> Append(std::string_view key, std::string_view value,
                            const MutationOptions& options = {});
  StatusOr<KvResult> Prepend(std::string_view key, std::string_view value,
                             const MutationOptions& options = {});
  // Uses options.cas, options.durability and options.route.
  StatusOr<KvResult> Delete(std::string_view key, const MutationOptions& options = {});
  StatusOr<KvResult> Increment(std::string_view key, uint64_t delta,
                               const ArithmeticOptions& options = {});
  StatusOr<KvResult> Decrement(std::string_view key, uint64_t delta,
                               const ArithmeticOptions& options = {});
  StatusOr<KvResult> Touch(std::string_view key, uint32_t expiry, const KeyOptions& options = {});
  StatusOr<KvResult> GetAndTouch(std::string_view key, uint32_t expiry,
                                 const KeyOptions& options = {});

  // ---- Admin ----

  // STAT `group` ("" = default): every (key, value) pair up to the terminating empty packet.
  StatusOr<std::vector<std::pair<std::string, std::string>>> Stats(
      std::string_view group = {}, std::string_view json_value = {});
  // GET_CLUSTER_CONFIG (optionally only if newer than `known`); the answer as is.
  StatusOr<KvResult> GetClusterConfig(
      std::optional<protocol::ClusterConfigVersion> known = std::nullopt);
  // GET_ERROR_MAP for `version`; the answer as is (value = JSON map on success).
  StatusOr<KvResult> GetErrorMap(uint16_t version);
  Status SetVBucket(Vbid vbucket, VBucketState state, std::string_view json_value = {});
  StatusOr<VBucketState> GetVBucket(Vbid vbucket);
  // GET_ALL_VB_SEQNOS, optionally filtered by state (and collection).
  StatusOr<std::vector<std::pair<Vbid, uint64_t>>> GetAllVbSeqnos(
      std::optional<protocol::AllVbSeqnosFilter> filter = std::nullopt);
  StatusOr<protocol::ObserveSeqnoReply> ObserveSeqno(Vbid vbucket, uint64_t vbucket_uuid);
  // GET_FAILOVER_LOG (0x96), newest entry first.
  StatusOr<std::vector<protocol::FailoverEntry>> GetFailoverLog(Vbid vbucket);
  Status Noop();
  StatusOr<std::string> Version();

  // ---- DCP consumer ----

  // DCP_OPEN; on success the connection is a DCP connection (collection-aware if HELLO
  // Collections was agreed; deletions V2 if flags include IncludeDeleteTimes).
  Status DcpOpen(std::string_view name, uint32_t flags, std::string_view json_value = {});
  Status DcpControl(std::string_view key, std::string_view value);
  // DCP_STREAM_REQ (a fresh opaque if request.opaque is 0). Other DCP traffic arriving meanwhile is
  // kept for ReadDcpMessage().
  StatusOr<StreamReqResult> DcpStreamReq(protocol::DcpStreamReqRequest request);
  // DCP_CLOSE_STREAM; the server's status.
  // DCP_CLOSE_STREAM; `stream_id` goes in a frame info (after the control enable_stream_id).
  StatusOr<protocol::McbpStatus> DcpCloseStream(Vbid vbucket,
                                                std::optional<uint16_t> stream_id = std::nullopt);
  // DCP_GET_FAILOVER_LOG (0x54).
  StatusOr<std::vector<protocol::FailoverEntry>> DcpGetFailoverLog(Vbid vbucket);
  // The next message from the producer (NOOPs are answered, never returned).
  StatusOr<DcpMessage> ReadDcpMessage();
  // ReadDcpMessage without copying: the message's views are valid until the next call on this
  // connection (client/dcp_message.h DcpMessageView).
  StatusOr<DcpMessageView> ReadDcpMessageView();
  // As ReadDcpMessage, but never waits: nullopt when no whole message is buffered and the socket
  // has nothing more to read right now (a large frame is gathered over several calls). For a
  // consumer that waits on WaitForInput() between calls (the replicator).
  StatusOr<std::optional<DcpMessage>> PollDcpMessage();
  // PollDcpMessage without copying: the views of ReadDcpMessageView, valid until the next call
  // on this connection (the replicator's path: no allocation per message).
  StatusOr<std::optional<DcpMessageView>> PollDcpMessageView();
  // Waits up to `timeout` for bytes from the server or for `wake_fd` (-1 = none) to be readable;
  // returns true if input may be there (buffered or on the socket), false on a wake-up or a
  // timeout. Never reads the socket, never marks the connection broken.
  StatusOr<bool> WaitForInput(std::chrono::milliseconds timeout, int wake_fd);
  // The wire size (header included) of the last message ReadDcpMessage / PollDcpMessage (or
  // their view forms) returned: what a consumer acknowledging by hand counts.
  uint32_t last_dcp_message_bytes() const { return last_message_bytes_; }
  // DCP_BUFFER_ACKNOWLEDGEMENT of `bytes` (for a consumer acknowledging by hand, without
  // SetDcpAutoAck).
  Status DcpBufferAck(uint32_t bytes);
  // The same acknowledgement appended to the send buffer (written by the next Flush()).
  void EnqueueDcpBufferAck(uint32_t bytes);
  // Sends DCP_CONTROL connection_buffer_size=`buffer_size` and acknowledges automatically.
  Status EnableDcpFlowControl(uint32_t buffer_size);
  // Local part only: count and acknowledge against a window of `buffer_size` (0 = off).
  void SetDcpAutoAck(uint32_t buffer_size);

  // ---- State ----

  bool broken() const { return !broken_.ok(); }
  bool is_dcp() const { return dcp_; }
  uint64_t dcp_noops_answered() const { return noops_answered_; }
  uint64_t dcp_bytes_acked() const { return bytes_acked_; }
  uint32_t dcp_unacked_bytes() const { return unacked_bytes_; }
  size_t stashed_frames() const { return stashed_.size(); }
  const ConnectOptions& options() const { return options_; }

  // Half-closes the write side; the server sees end of stream.
  void ShutdownWrite() { socket_.ShutdownWrite(); }

 private:
  Connection(Socket socket, const ConnectOptions& options);

  // Marks the connection broken with `status` and returns it.
  Status Break(Status status);
  Status WriteAll(std::string_view data);
  // Reads whatever the socket has into the read buffer (waiting up to io_timeout); makes room
  // for at least `needed` bytes from the unconsumed start first.
  Status Fill(size_t needed);
  // The next whole frame from the producer that is not a NOOP (NOOPs are answered), without
  // waiting: from the stash (its bytes then kept in *held) or the read buffer, reading the socket
  // only while it has bytes; nullopt when no whole frame is there yet.
  StatusOr<std::optional<protocol::Frame>> PollDcpFrame(std::string* held);
  // Decodes the next frame from the socket; `raw` is its bytes.
  StatusOr<protocol::Frame> ReadFrameInternal(std::string_view* raw);
  // The next response: answers NOOPs and stashes other server requests on the way. `raw`, if
  // given, receives the response's bytes.
  StatusOr<protocol::Frame> NextResponse(std::string_view* raw = nullptr);
  // NextResponse until the one with `opaque` (stashing others on a DCP connection).
  StatusOr<protocol::Frame> AwaitResponse(uint32_t opaque);
  Status AnswerNoop(uint32_t opaque);
  void Stash(std::string_view raw) { stashed_.emplace_back(raw); }
  // The next producer frame for ReadDcpMessage*: a stashed one (its bytes moved to *held) or one
  // from the socket; NOOPs are answered on the way.
  StatusOr<protocol::Frame> NextDcpFrame(std::string* held);
  Status AccountDcpBytes(uint32_t bytes);
  // A decoded producer frame as a message (accounted for flow control).
  StatusOr<DcpMessage> TakeDcpMessage(const protocol::Frame& frame);

  // Helpers for the KV wrappers.
  protocol::RequestFields KeyRequest(protocol::Opcode opcode, std::string_view key,
                                     const KeyOptions& route) const;
  StatusOr<KvResult> ExecuteKv(const protocol::RequestFields& request, bool mutation);
  StatusOr<KvResult> Store(protocol::Opcode opcode, std::string_view key, std::string_view value,
                           const MutationOptions& options);
  StatusOr<KvResult> Arithmetic(protocol::Opcode opcode, std::string_view key, uint64_t delta,
                                const ArithmeticOptions& options);
  // Execute + turn a non-success status into a Status naming the opcode.
  StatusOr<Response> ExecuteExpectSuccess(const protocol::RequestFields& request);

  // ---- Constant after construction ----
  const ConnectOptions options_;

  // ---- Owner-thread state ----
  Socket socket_;
  Status broken_;  // OK while usable
  uint32_t next_opaque_ = 1;
  std::string send_buf_;
  std::vector<char> rbuf_;
  size_t rpos_ = 0;                  // start of unconsumed bytes in rbuf_
  size_t rend_ = 0;                  // end of received bytes in rbuf_
  std::deque<std::string> stashed_;  // whole frames kept for ReadDcpMessage, arrival order
  std::string view_held_;            // the stashed frame the last ReadDcpMessageView viewed
  uint64_t features_ = 0;            // bit n = feature code n agreed (codes < 64)

  // DCP consumer state.
  bool dcp_ = false;
  bool dcp_collections_ = false;
  uint32_t ack_window_ = 0;  // 0: no automatic buffer acknowledgement
  uint32_t unacked_bytes_ = 0;
  uint64_t bytes_acked_ = 0;
  uint64_t noops_answered_ = 0;
  uint32_t last_message_bytes_ = 0;
};

}  // namespace sluice::client
