// File: replication/consumer_common.h
//
// What both consumers of sluice share: the built-in replicator's PeerLink (which talks to a
// producer itself) and the consumer connection (replication/consumer.h, which an external driver
// such as ns_server's proxy relays to a producer). Both negotiate the same controls, treat a
// producer silent for three noop intervals as gone, and acknowledge applied bytes the same way
// (BufferAcker); AddressOf is how a decoded message names its stream (the consumer connection
// reads the same two fields from the frame's header before decoding it).
//
// Ownership: plain values and functions; BufferAcker is owned by its connection.
// Thread safety: BufferAcker is thread-compatible (its connection's thread); the rest is pure.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "client/dcp_message.h"
#include "common/types.h"

namespace sluice::replication {

// The knobs the consumer's controls carry.
struct ControlOptions {
  std::string consumer_name;  // empty: the consumer_name control is not sent
  uint32_t noop_interval_seconds = 1;
  uint32_t buffer_size = 10u << 20;  // connection_buffer_size
  bool sync_writes = false;          // enable_sync_writes (the built-in replicator's links)
};

// The DCP_CONTROLs a consumer sends its producer, in order (kv_engine's DcpConsumer sends the
// same keys): consumer_name, enable_noop, set_noop_interval, set_priority=high,
// connection_buffer_size, enable_expiry_opcode, v7_dcp_status_codes, and enable_sync_writes when
// asked (the driver-relayed Consumer does not take PREPARE/COMMIT/ABORT yet).
std::vector<std::pair<std::string, std::string>> ConsumerControls(const ControlOptions& options);

// A producer silent this long is gone: three noop intervals plus two seconds.
std::chrono::milliseconds SilenceLimit(uint32_t noop_interval_seconds);

// The vbucket and opaque a producer message is addressed with; nullopt for what belongs to no
// stream (responses to the consumer's requests, server-initiated requests). Flow control counts
// exactly the addressed messages.
std::optional<std::pair<Vbid, uint32_t>> AddressOf(const client::DcpMessage& message);
std::optional<std::pair<Vbid, uint32_t>> AddressOf(const client::DcpMessageView& message);

// Flow control from the consumer's side: bytes of applied producer messages, acknowledged
// (DCP_BUFFER_ACKNOWLEDGEMENT) once a quarter of the buffer is applied or when the connection is
// idle, and not at all while the bucket's memory is above the throttle threshold (the producer
// stalls once the buffer is full: a replica under pressure slows its producer, never drops data).
// While a BufferAcker withholds acknowledgement for memory, how often its owner looks again.
inline constexpr std::chrono::milliseconds kThrottleRecheck{100};

class BufferAcker {
 public:
  BufferAcker(uint32_t buffer_size, uint64_t throttle_mem_bytes)
      : buffer_size_(buffer_size), throttle_mem_bytes_(throttle_mem_bytes) {}

  void Add(uint32_t bytes) { pending_ += bytes; }
  // The bytes to acknowledge now (0: nothing, or withheld), given the bucket's memory use;
  // they count as acknowledged from then on. `idle`: nothing more is buffered to apply.
  // `*throttled` (optional) is set when acknowledgement was withheld for memory.
  uint32_t Take(int64_t mem_used, bool idle, bool* throttled = nullptr);
  uint32_t pending() const { return pending_; }
  void Clear() { pending_ = 0; }

 private:
  const uint32_t buffer_size_;
  const uint64_t throttle_mem_bytes_;
  uint32_t pending_ = 0;  // applied, not yet acknowledged
};

}  // namespace sluice::replication
