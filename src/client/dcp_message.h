// File: client/dcp_message.h
//
// DcpMessage: what Connection::ReadDcpMessage() hands back — one producer message, decoded and
// owning its bytes (the protocol codecs return views into the read buffer; these outlive it).
// Every kind is the protocol's struct (protocol/dcp_codec.h): mutations, deletions and
// expirations as their copies owning their key and value, the others (snapshot markers,
// seqno-advanced, OSO snapshot brackets, stream ends) as they are. Responses (e.g. a stream request
// answered while other streams are flowing) and producer requests this client does not decode
// (system events, set-vbucket-state, server-initiated requests) come through as Response /
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

using DcpMutation = protocol::BasicDcpMutation<std::string>;
using DcpDeletion = protocol::BasicDcpDeletion<std::string>;
using DcpExpiration = protocol::BasicDcpExpiration<std::string>;

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

// A STREAM_REQ response as its result: the failover log on success, the seqno on Rollback, the
// raw value (error context) otherwise. kInvalid if the value does not decode.
StatusOr<StreamReqResult> ToStreamReqResult(const protocol::Frame& response);

// Short description for logs and test failures ("DCP_MUTATION vb:3 seqno:7 key:k").
std::string DescribeDcpMessage(const DcpMessage& message);

// DcpMessageView: what Connection::ReadDcpMessageView() hands back - the same message decoded
// without a copy: the protocol structs with views into the connection's read buffer, valid until
// the next call on that connection. Anything but the DCP kinds ToDcpMessage decodes (responses,
// other requests) is the raw frame. For consumers that look at each message once (`sluice drain`):
// no allocation and no copy per message.
struct DcpMessageView {
  uint32_t wire_size = 0;  // the frame's bytes, 24-byte header included
  std::variant<protocol::DcpSnapshotMarker, protocol::DcpMutation, protocol::DcpDeletion,
               protocol::DcpExpiration, protocol::DcpSeqnoAdvanced, protocol::DcpOsoSnapshot,
               protocol::DcpStreamEnd, protocol::Frame>
      message;
};

// Decodes a frame the producer sent into views of it (see DcpMessageView).
StatusOr<DcpMessageView> ToDcpMessageView(const protocol::Frame& frame, bool collections);

// Views of an owned message, valid while `message` lives and is not modified (for a caller that
// holds owned messages and hands them to code that takes views). A Response or DcpOtherRequest
// becomes the frame it came from (its size is only the header's: wire_size is 0, unknown).
DcpMessageView ViewOf(const DcpMessage& message);

// DescribeDcpMessage of a view (for logs: it copies).
std::string DescribeDcpMessage(const DcpMessageView& message);

}  // namespace sluice::client
