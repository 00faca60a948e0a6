// File: dcp/flow_control.h
//
// FlowControl: a DCP producer connection's buffer log (kv_engine's DcpProducer::BufferLog). The
// consumer announces a window with control "connection_buffer_size" (0 = no flow control) and
// returns space with DCP_BUFFER_ACKNOWLEDGEMENT(bytes). The producer may send while the bytes sent
// and not yet acknowledged are below the window, so one message may overshoot it (a message larger
// than the whole window still goes out, alone). Sizes count whole frames, 24-byte header included.
// Noops are not counted (the consumer does not acknowledge them).
//
// Ownership: a value member of the Producer. Thread safety: thread-compatible; the Producer
// guards it with its own lock.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sluice::dcp {

class FlowControl {
 public:
  // 0 disables flow control (and forgets what was outstanding, as kv_engine does).
  void SetBufferSize(size_t bytes) {
    max_bytes_ = bytes;
    if (bytes == 0) outstanding_ = 0;
  }
  bool enabled() const { return max_bytes_ != 0; }
  // True when nothing more may be sent until the consumer acknowledges.
  bool IsFull() const { return enabled() && outstanding_ >= max_bytes_; }
  // Records a message of `bytes` that was sent.
  void Sent(size_t bytes) {
    if (enabled()) outstanding_ += bytes;
  }
  // The consumer acknowledged `bytes`; returns true if this turned a full log into a non-full
  // one (the producer can send again). More than outstanding is clamped (a consumer that counts
  // noops, or acknowledges after the window was resized).
  bool Acknowledge(size_t bytes) {
    if (!enabled()) return false;
    const bool was_full = IsFull();
    outstanding_ -= bytes > outstanding_ ? outstanding_ : bytes;
    acked_ += bytes;
    return was_full && !IsFull();
  }

  size_t max_bytes() const { return max_bytes_; }
  size_t outstanding() const { return outstanding_; }
  uint64_t acked() const { return acked_; }

 private:
  size_t max_bytes_ = 0;
  size_t outstanding_ = 0;
  uint64_t acked_ = 0;
};

}  // namespace sluice::dcp
