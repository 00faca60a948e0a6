// File: client/connection.cc
//
// The transport half of Connection: socket, buffers, frames, opaques, Execute and pipelining.
// Handshake, KV and DCP conversations live in connection_{auth,kv,dcp}.cc.
#include "client/connection.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "protocol/dcp_codec.h"

namespace sluice::client {

using protocol::DecodeResult;
using protocol::DecodeStatus;
using protocol::Frame;

Response Response::FromFrame(const Frame& frame) {
  Response r;
  r.magic = frame.magic;
  r.opcode = frame.client_opcode();
  r.status = frame.status();
  r.datatype = frame.datatype;
  r.opaque = frame.opaque;
  r.cas = frame.cas;
  r.framing_extras.assign(frame.framing_extras);
  r.extras.assign(frame.extras);
  r.key.assign(frame.key);
  r.value.assign(frame.value);
  return r;
}

StatusOr<std::unique_ptr<Connection>> Connection::Connect(const std::string& host, uint16_t port,
                                                          const ConnectOptions& options) {
  ASSIGN_OR_RETURN(Socket socket, Socket::Connect(host, port, options.connect_timeout));
  if (!options.tls_ca_file.empty()) {
    RETURN_IF_ERROR(socket.StartTls(options.tls_ca_file, host, options.connect_timeout));
  }
  return FromSocket(std::move(socket), options);
}

std::unique_ptr<Connection> Connection::FromSocket(Socket socket, const ConnectOptions& options) {
  return std::unique_ptr<Connection>(new Connection(std::move(socket), options));
}

Connection::Connection(Socket socket, const ConnectOptions& options)
    : options_(options), socket_(std::move(socket)) {
  rbuf_.resize(std::max<size_t>(options_.read_buffer_size, protocol::kHeaderSize));
}

Connection::~Connection() = default;

Status Connection::Break(Status status) {
  if (broken_.ok()) broken_ = status;
  return status;
}

uint32_t Connection::NextOpaque() {
  const uint32_t opaque = next_opaque_++;
  if (next_opaque_ == 0) next_opaque_ = 1;
  return opaque;
}

// ---- Writing ----

Status Connection::WriteAll(std::string_view data) {
  if (!broken_.ok()) return broken_;
  while (!data.empty()) {
    StatusOr<size_t> written = socket_.WriteSome(data);
    if (!written.ok()) return Break(written.status());
    data.remove_prefix(*written);
    if (data.empty()) break;
    // The socket is full. Keep draining what the server sends meanwhile, or a server that blocks
    // writing its responses would never read the rest of our requests.
    StatusOr<Socket::Ready> ready = socket_.Wait(true, true, options_.io_timeout);
    if (!ready.ok()) return Break(ready.status());
    if (ready->readable) RETURN_IF_ERROR(Fill(0));
  }
  return Status::Ok();
}

Status Connection::SendRaw(std::string_view bytes) {
  if (!send_buf_.empty()) RETURN_IF_ERROR(Flush());
  return WriteAll(bytes);
}

uint32_t Connection::Enqueue(protocol::RequestFields request) {
  if (request.opaque == 0) request.opaque = NextOpaque();
  protocol::AppendRequest(&send_buf_, request);
  return request.opaque;
}

Status Connection::Flush() {
  const Status status = WriteAll(send_buf_);
  send_buf_.clear();
  return status;
}

// ---- Reading ----

Status Connection::Fill(size_t needed) {
  if (!broken_.ok()) return broken_;
  const size_t pending = rend_ - rpos_;
  if (rpos_ > 0 && (rbuf_.size() - rpos_ < needed || rend_ == rbuf_.size())) {
    // Move the unconsumed bytes to the front (views from earlier calls are already invalid).
    if (pending > 0) std::memmove(rbuf_.data(), rbuf_.data() + rpos_, pending);
    rpos_ = 0;
    rend_ = pending;
  }
  if (rbuf_.size() - rpos_ < needed || rend_ == rbuf_.size()) {
    rbuf_.resize(std::max({rbuf_.size() * 2, rpos_ + needed, rend_ + 4096}));
  }
  StatusOr<size_t> n =
      socket_.ReadSome(rbuf_.data() + rend_, rbuf_.size() - rend_, options_.io_timeout);
  if (!n.ok()) return Break(n.status());
  rend_ += *n;
  return Status::Ok();
}

StatusOr<Frame> Connection::ReadFrameInternal(std::string_view* raw) {
  if (!broken_.ok()) return broken_;
  // Views handed out earlier are dead now: restart at the front when everything was consumed.
  if (rpos_ == rend_) rpos_ = rend_ = 0;
  while (true) {
    const DecodeResult d =
        protocol::DecodeFrame(rbuf_.data() + rpos_, rend_ - rpos_, options_.max_frame_body);
    switch (d.status) {
      case DecodeStatus::kOk:
        *raw = std::string_view(rbuf_.data() + rpos_, d.size);
        rpos_ += d.size;
        return d.frame;
      case DecodeStatus::kNeedMore:
        RETURN_IF_ERROR(Fill(d.size));
        break;
      case DecodeStatus::kMalformed:
      case DecodeStatus::kInvalid:
        return Break(
            Status(Errc::kIoError, fmt::format("malformed frame from the server: {}", d.reason)));
    }
  }
}

StatusOr<Frame> Connection::ReadFrame() {
  std::string_view raw;
  return ReadFrameInternal(&raw);
}

Status Connection::AnswerNoop(uint32_t opaque) {
  std::string reply;
  protocol::AppendDcpNoopResponse(&reply, opaque);
  RETURN_IF_ERROR(WriteAll(reply));
  ++noops_answered_;
  return Status::Ok();
}

StatusOr<Frame> Connection::NextResponse(std::string_view* raw_out) {
  while (true) {
    std::string_view raw;
    ASSIGN_OR_RETURN(Frame frame, ReadFrameInternal(&raw));
    if (frame.is_response()) {
      if (raw_out != nullptr) *raw_out = raw;
      return frame;
    }
    if (frame.magic != protocol::Magic::kServerRequest &&
        frame.client_opcode() == protocol::Opcode::kDcpNoop) {
      RETURN_IF_ERROR(AnswerNoop(frame.opaque));
      continue;
    }
    Stash(raw);
  }
}

StatusOr<Frame> Connection::AwaitResponse(uint32_t opaque) {
  while (true) {
    std::string_view raw;
    ASSIGN_OR_RETURN(Frame frame, NextResponse(&raw));
    if (frame.opaque == opaque) return frame;
    if (dcp_) {
      // A DCP connection may see answers to requests sent with SendRaw (e.g. pipelined stream
      // requests): keep them for ReadDcpMessage.
      Stash(raw);
      continue;
    }
    return Break(
        Status(Errc::kInternal,
               fmt::format("unexpected response {} opaque {} while waiting for opaque {}",
                           protocol::OpcodeName(frame.client_opcode()), frame.opaque, opaque)));
  }
}

StatusOr<Response> Connection::Execute(protocol::RequestFields request) {
  const uint32_t opaque = Enqueue(request);
  RETURN_IF_ERROR(Flush());
  ASSIGN_OR_RETURN(Frame frame, AwaitResponse(opaque));
  return Response::FromFrame(frame);
}

StatusOr<Response> Connection::ExecuteExpectSuccess(const protocol::RequestFields& request) {
  ASSIGN_OR_RETURN(Response response, Execute(request));
  if (!response.ok()) {
    return Status(protocol::ErrcFromMcbpStatus(response.status),
                  fmt::format("{} failed: {} ({:#x}){}{}", protocol::OpcodeName(request.opcode),
                              protocol::McbpStatusName(response.status),
                              static_cast<uint16_t>(response.status),
                              response.value.empty() ? "" : ": ", response.value));
  }
  return response;
}

}  // namespace sluice::client
