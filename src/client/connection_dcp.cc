// File: client/connection_dcp.cc
//
// Connection's DCP consumer side: open, control, stream requests, the message loop with automatic
// NOOP replies and buffer acknowledgements.
#include <fmt/format.h>

#include "client/connection.h"
#include "protocol/dcp_codec.h"

namespace sluice::client {

using protocol::Frame;
using protocol::McbpStatus;
using protocol::Opcode;
using protocol::RequestFields;

Status Connection::DcpOpen(std::string_view name, uint32_t flags, std::string_view json_value) {
  std::string wire;
  const uint32_t opaque = NextOpaque();
  protocol::AppendDcpOpen(
      &wire,
      {.opaque = opaque, .seqno = 0, .flags = flags, .name = name, .json_value = json_value});
  RETURN_IF_ERROR(SendRaw(wire));
  ASSIGN_OR_RETURN(Frame frame, AwaitResponse(opaque));
  if (frame.status() != McbpStatus::kSuccess) {
    return Status(protocol::ErrcFromMcbpStatus(frame.status()),
                  fmt::format("DCP_OPEN failed: {}", protocol::McbpStatusName(frame.status())));
  }
  dcp_ = true;
  dcp_collections_ = HasFeature(protocol::Feature::kCollections);
  return Status::Ok();
}

Status Connection::DcpControl(std::string_view key, std::string_view value) {
  RequestFields request;
  request.opcode = Opcode::kDcpControl;
  request.key = key;
  request.value = value;
  return ExecuteExpectSuccess(request).status();
}

StatusOr<StreamReqResult> Connection::DcpStreamReq(protocol::DcpStreamReqRequest request) {
  if (request.opaque == 0) request.opaque = NextOpaque();
  std::string wire;
  protocol::AppendDcpStreamReq(&wire, request);
  RETURN_IF_ERROR(SendRaw(wire));
  ASSIGN_OR_RETURN(Frame frame, AwaitResponse(request.opaque));
  return ToStreamReqResult(frame);
}

StatusOr<McbpStatus> Connection::DcpCloseStream(Vbid vbucket, std::optional<uint16_t> stream_id) {
  const uint32_t opaque = NextOpaque();
  std::string wire;
  protocol::AppendDcpCloseStream(&wire, vbucket, opaque, stream_id);
  RETURN_IF_ERROR(SendRaw(wire));
  ASSIGN_OR_RETURN(Frame frame, AwaitResponse(opaque));
  return frame.status();
}

StatusOr<std::vector<protocol::FailoverEntry>> Connection::DcpGetFailoverLog(Vbid vbucket) {
  RequestFields request;
  request.opcode = Opcode::kDcpGetFailoverLog;
  request.vbucket = vbucket;
  ASSIGN_OR_RETURN(Response response, ExecuteExpectSuccess(request));
  return protocol::DecodeFailoverLog(response.value);
}

Status Connection::EnableDcpFlowControl(uint32_t buffer_size) {
  RETURN_IF_ERROR(DcpControl("connection_buffer_size", std::to_string(buffer_size)));
  SetDcpAutoAck(buffer_size);
  return Status::Ok();
}

void Connection::SetDcpAutoAck(uint32_t buffer_size) {
  ack_window_ = buffer_size;
  if (buffer_size == 0) unacked_bytes_ = 0;
}

Status Connection::AccountDcpBytes(uint32_t bytes) {
  if (ack_window_ == 0) return Status::Ok();
  unacked_bytes_ += bytes;
  if (unacked_bytes_ < ack_window_ / 2) return Status::Ok();
  std::string wire;
  protocol::AppendDcpBufferAck(&wire, unacked_bytes_);
  RETURN_IF_ERROR(SendRaw(wire));
  bytes_acked_ += unacked_bytes_;
  unacked_bytes_ = 0;
  return Status::Ok();
}

StatusOr<Frame> Connection::NextDcpFrame(std::string* held) {
  if (!broken_.ok()) return broken_;
  if (!stashed_.empty()) {
    *held = std::move(stashed_.front());
    stashed_.pop_front();
    const protocol::DecodeResult d = protocol::DecodeFrame(*held, ~uint32_t{0});
    if (d.status != protocol::DecodeStatus::kOk) {
      return Break(Status(Errc::kInternal, "stashed frame does not decode"));
    }
    return d.frame;
  }
  while (true) {
    std::string_view raw;
    ASSIGN_OR_RETURN(Frame frame, ReadFrameInternal(&raw));
    if (frame.is_request() && frame.magic != protocol::Magic::kServerRequest &&
        frame.client_opcode() == Opcode::kDcpNoop) {
      RETURN_IF_ERROR(AnswerNoop(frame.opaque));
      continue;
    }
    return frame;
  }
}

StatusOr<DcpMessage> Connection::ReadDcpMessage() {
  std::string held;  // backs `frame` when it comes from the stash
  ASSIGN_OR_RETURN(Frame frame, NextDcpFrame(&held));
  return TakeDcpMessage(frame);
}

StatusOr<DcpMessage> Connection::TakeDcpMessage(const Frame& frame) {
  // Copy out before anything else touches the read buffer (the ack below writes).
  ASSIGN_OR_RETURN(DcpMessage message, ToDcpMessage(frame, dcp_collections_));
  last_message_bytes_ = static_cast<uint32_t>(frame.size);
  if (frame.is_request() && frame.magic != protocol::Magic::kServerRequest) {
    RETURN_IF_ERROR(AccountDcpBytes(frame.size));
  }
  return message;
}

StatusOr<DcpMessageView> Connection::ReadDcpMessageView() {
  // The views point into the read buffer, or into view_held_ for a stashed frame; both stay
  // untouched until the next read (the acknowledgement below only writes).
  ASSIGN_OR_RETURN(Frame frame, NextDcpFrame(&view_held_));
  ASSIGN_OR_RETURN(DcpMessageView message, ToDcpMessageView(frame, dcp_collections_));
  if (frame.is_request() && frame.magic != protocol::Magic::kServerRequest) {
    RETURN_IF_ERROR(AccountDcpBytes(frame.size));
  }
  last_message_bytes_ = static_cast<uint32_t>(frame.size);
  return message;
}

StatusOr<std::optional<Frame>> Connection::PollDcpFrame(std::string* held) {
  if (!broken_.ok()) return broken_;
  if (!stashed_.empty()) {
    ASSIGN_OR_RETURN(Frame frame, NextDcpFrame(held));
    return std::optional<Frame>(frame);
  }
  while (true) {
    if (rpos_ == rend_) rpos_ = rend_ = 0;
    const protocol::DecodeResult d =
        protocol::DecodeFrame(rbuf_.data() + rpos_, rend_ - rpos_, options_.max_frame_body);
    if (d.status == protocol::DecodeStatus::kNeedMore) {
      ASSIGN_OR_RETURN(Socket::Input input, socket_.WaitForInput(std::chrono::milliseconds(0), -1));
      if (!input.readable) return std::optional<Frame>();
      RETURN_IF_ERROR(Fill(d.size));
      continue;
    }
    // A whole frame (or a malformed one, which ReadFrameInternal reports).
    std::string_view raw;
    ASSIGN_OR_RETURN(Frame frame, ReadFrameInternal(&raw));
    if (frame.is_request() && frame.magic != protocol::Magic::kServerRequest &&
        frame.client_opcode() == Opcode::kDcpNoop) {
      RETURN_IF_ERROR(AnswerNoop(frame.opaque));
      continue;
    }
    return std::optional<Frame>(frame);
  }
}

StatusOr<std::optional<DcpMessage>> Connection::PollDcpMessage() {
  std::string held;  // backs the frame when it comes from the stash
  ASSIGN_OR_RETURN(std::optional<Frame> frame, PollDcpFrame(&held));
  if (!frame.has_value()) return std::optional<DcpMessage>();
  ASSIGN_OR_RETURN(DcpMessage message, TakeDcpMessage(*frame));
  return std::optional<DcpMessage>(std::move(message));
}

StatusOr<std::optional<DcpMessageView>> Connection::PollDcpMessageView() {
  // As ReadDcpMessageView: the views point into the read buffer or into view_held_.
  ASSIGN_OR_RETURN(std::optional<Frame> frame, PollDcpFrame(&view_held_));
  if (!frame.has_value()) return std::optional<DcpMessageView>();
  ASSIGN_OR_RETURN(DcpMessageView message, ToDcpMessageView(*frame, dcp_collections_));
  if (frame->is_request() && frame->magic != protocol::Magic::kServerRequest) {
    RETURN_IF_ERROR(AccountDcpBytes(frame->size));
  }
  last_message_bytes_ = static_cast<uint32_t>(frame->size);
  return std::optional<DcpMessageView>(std::move(message));
}

StatusOr<bool> Connection::WaitForInput(std::chrono::milliseconds timeout, int wake_fd) {
  if (!broken_.ok()) return broken_;
  if (!stashed_.empty() || rpos_ != rend_) {
    // Something is buffered; whether it is a whole frame PollDcpMessage finds out.
    const protocol::DecodeResult d =
        protocol::DecodeFrame(rbuf_.data() + rpos_, rend_ - rpos_, options_.max_frame_body);
    if (!stashed_.empty() || d.status != protocol::DecodeStatus::kNeedMore) return true;
  }
  ASSIGN_OR_RETURN(Socket::Input input, socket_.WaitForInput(timeout, wake_fd));
  return input.readable;
}

Status Connection::DcpBufferAck(uint32_t bytes) {
  if (bytes == 0) return Status::Ok();
  EnqueueDcpBufferAck(bytes);
  return Flush();
}

void Connection::EnqueueDcpBufferAck(uint32_t bytes) {
  if (bytes == 0) return;
  protocol::AppendDcpBufferAck(&send_buf_, bytes);
  bytes_acked_ += bytes;
}

}  // namespace sluice::client
