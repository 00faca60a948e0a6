// File: client/dcp_message.h
//
// DcpMessage: what Connection::ReadDcpMessage() hands back — one producer message, decoded and
// owning its bytes (the protocol codecs return views into the read buffer; these outlive it).
// Snapshot markers, seqno-advanced, OSO snapshot brackets and stream ends have no variable-length
// parts, so the protocol structs are used as they are. Responses (e.g. a stream request answered
// while other streams are flowing) and producer requests this client does not decode (system
// events, set-vbucket-state, server-initiated requests) come through as Response /
// DcpOtherRequest rather than being dropped.
//
// Thread safety: plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "client/types.h"
#include "common/status.h"
#include "protocol/dcp_codec.h"
#include "protocol/frame.h"

namespace sluice::client {

struct DcpMutation {
  Vbid vbucket = 0;
  uint32_t opaque = 0;
  uint64_t cas = 0;
  uint8_t datatype = 0;
  uint64_t by_seqno = 0;
  uint64_t rev_seqno = 0;
  uint32_t flags = 0;
  uint32_t expiration = 0;
  uint32_t lock_time = 0;
  uint32_t collection_id = 0;
  std::string key;
  std::string value;
  std::optional<uint16_t> stream_id;
};

struct DcpDeletion {
  Vbid vbucket = 0;
  uint32_t opaque = 0;
  uint64_t cas = 0;
  uint8_t datatype = 0;
  protocol::DcpDeletionVersion version = protocol::DcpDeletionVersion::kV1;
  uint64_t by_seqno = 0;
  uint64_t rev_seqno = 0;
  uint32_t delete_time = 0;
  uint32_t collection_id = 0;
  std::string key;
  std::string value;
  std::optional<uint16_t> stream_id;
};

struct DcpExpiration {
  Vbid vbucket = 0;
  uint32_t opaque = 0;
  uint64_t cas = 0;
  uint64_t by_seqno = 0;
  uint64_t rev_seqno = 0;
  uint32_t delete_time = 0;
  uint32_t collection_id = 0;
  std::string key;
  std::optional<uint16_t> stream_id;
  uint8_t datatype = 0;
  std::string value;  // the tombstone's xattrs (with IncludeXattrs), else empty
};

// A request from the server that is not one of the decoded kinds.
struct DcpOtherRequest {
  protocol::Magic magic = protocol::Magic::kClientRequest;
  uint8_t opcode = 0;
  Vbid vbucket = 0;
  uint32_t opaque = 0;
  uint64_t cas = 0;
  uint8_t datatype = 0;
  std::string extras;
  std::string key;
  std::string value;
};

using DcpMessage = std::variant<protocol::DcpSnapshotMarker, DcpMutation, DcpDeletion,
                                DcpExpiration, protocol::DcpSeqnoAdvanced, protocol::DcpOsoSnapshot,
                                protocol::DcpStreamEnd, Response, DcpOtherRequest>;

// Decodes a frame the producer sent into an owned message. `collections`: the connection is
// collection-aware (keys carry a LEB128 prefix). kInvalid if a known message is malformed.
StatusOr<DcpMessage> ToDcpMessage(const protocol::Frame& frame, bool collections);

// Short description for logs and test failures ("DCP_MUTATION vb:3 seqno:7 key:k").
std::string DescribeDcpMessage(const DcpMessage& message);

}  // namespace sluice::client
