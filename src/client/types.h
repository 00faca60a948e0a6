// File: client/types.h
//
// Value types of the client API: connection options, an owned copy of a response, the result of a
// KV operation and the per-operation options. Transport failures (I/O errors, timeouts, protocol
// violations) travel as sluice::Status; what the server answered travels inside these results
// (`status` is the wire status), so a test can tell "the server said KeyEnoent" from "the
// connection broke".
//
// Thread safety: plain values.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/types.h"
#include "protocol/dcp_codec.h"
#include "protocol/frame.h"
#include "protocol/frame_info.h"
#include "protocol/payload.h"
#include "protocol/status.h"

namespace sluice::client {

struct ConnectOptions {
  std::chrono::milliseconds connect_timeout{30'000};
  // Longest wait for any progress on a read or write; past it the call fails with kTempFail and
  // the connection is marked broken.
  std::chrono::milliseconds io_timeout{30'000};
  // Largest frame body accepted from the server; a larger announcement breaks the connection.
  uint32_t max_frame_body = 64u << 20;
  // Initial size of the read buffer (it grows to fit the largest frame).
  size_t read_buffer_size = 256u << 10;
  // When > 0, KV helpers without an explicit vbucket send the key's vbucket
  // (VBucketForKey(key, num_vbuckets)); when 0 they use vbucket 0, as memcached clients do.
  uint32_t num_vbuckets = 0;
  // Non-empty: speak TLS (sluiced's --tls-port). The server's certificate must verify against
  // the PEM certificates in this file and name the host connected to.
  std::string tls_ca_file;
};

// An owned copy of one response frame.
struct Response {
  protocol::Magic magic = protocol::Magic::kClientResponse;
  protocol::Opcode opcode = protocol::Opcode::kNoop;
  protocol::McbpStatus status = protocol::McbpStatus::kSuccess;
  uint8_t datatype = 0;
  uint32_t opaque = 0;
  uint64_t cas = 0;
  std::string framing_extras;
  std::string extras;
  std::string key;
  std::string value;

  bool ok() const { return status == protocol::McbpStatus::kSuccess; }
  static Response FromFrame(const protocol::Frame& frame);
};

// What a KV helper returns when the server answered (whatever it answered).
struct KvResult {
  protocol::McbpStatus status = protocol::McbpStatus::kSuccess;
  uint64_t cas = 0;
  uint32_t flags = 0;  // GET/GAT hits
  uint8_t datatype = 0;
  Vbid vbucket = 0;      // the vbucket the request was sent to
  std::string key;       // GETK
  std::string value;     // document (GET), error context (XERROR), counter text, ...
  uint64_t counter = 0;  // INCR/DECR: the new value
  // Successful mutations after HELLO MutationSeqno.
  std::optional<protocol::MutationToken> token;

  bool ok() const { return status == protocol::McbpStatus::kSuccess; }
};

// Routing shared by all KV helpers.
struct KeyOptions {
  std::optional<Vbid> vbucket;  // default: see ConnectOptions::num_vbuckets
  uint32_t collection_id = 0;   // used only when HELLO Collections was agreed
};

// Durable writes (SyncWrites): a mutation with options.durability set is answered only once the
// server met the level — on a single node kMajority once in memory, kMajorityAndPersistOnMaster
// and kPersistToMajority once the write is on disk (fsynced). E.g.
//   conn->Set(key, value, {.durability =
//   DurabilityRequirement{DurabilityLevel::kPersistToMajority}})
// Statuses: kDurabilityImpossible, kSyncWriteAmbiguous (the durability timeout passed: the write
// may or may not be durable), kDurabilityInvalidLevel.
using DurabilityLevel = protocol::DurabilityLevel;
using DurabilityRequirement = protocol::DurabilityRequirement;

struct MutationOptions {
  uint64_t cas = 0;
  uint32_t flags = 0;
  uint32_t expiry = 0;
  uint8_t datatype = 0;
  std::optional<protocol::DurabilityRequirement> durability;
  bool preserve_ttl = false;
  KeyOptions route;
};

struct ArithmeticOptions {
  uint64_t initial = 0;
  uint32_t expiry = 0;  // protocol::kArithmeticNoCreate: do not create a missing counter
  std::optional<protocol::DurabilityRequirement> durability;
  KeyOptions route;
};

// DCP_STREAM_REQ outcome: status Success carries the failover log, Rollback the seqno.
struct StreamReqResult {
  protocol::McbpStatus status = protocol::McbpStatus::kSuccess;
  uint32_t opaque = 0;
  std::vector<protocol::FailoverEntry> failover_log;
  uint64_t rollback_seqno = 0;
  std::string value;  // raw value for other statuses (error context)
};

}  // namespace sluice::client
