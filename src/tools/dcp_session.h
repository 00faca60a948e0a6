// File: tools/dcp_session.h
//
// What `sluice tail` and `sluice drain` share: turning a session (tools/session.h) into a DCP
// producer connection set up the way both consume it, the stream request for one vbucket from a
// start position, and the size a producer message had on the wire.
//
// A DCP connection opened here:
//   - DCP_OPEN with flags Producer | IncludeDeleteTimes (deletions arrive as V2), under `name`
//     (reusing a name makes the server drop the older connection);
//   - DCP_CONTROL enable_noop=true and set_noop_interval=NoopIntervalSeconds(--timeout), so an idle
//     stream still sees traffic well within the read timeout (the client answers noops itself);
//   - DCP_CONTROL enable_expiry_opcode=true: expirations arrive as DCP_EXPIRATION, not deletions;
//   - with buffer_size > 0, connection_buffer_size=buffer_size and automatic buffer
//     acknowledgements (client::Connection::EnableDcpFlowControl).
//
// Start positions (--from): "latest" streams only what is written after the stream opens
// (FromLatest); a seqno S streams every change after S (DCP's start seqno: 0 = everything). A
// resume from S > 0 needs the vbucket's UUID, read with DCP_GET_FAILOVER_LOG (newest entry), with
// the snapshot range S..S. End positions (--to): "latest" = the high seqno when the stream opens
// (ToLatest); a seqno = that seqno; none = follow forever.
//
// Ownership: connections are the caller's. Thread safety: pure functions of their arguments; a
// connection is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "client/connection.h"
#include "client/dcp_message.h"
#include "common/status.h"
#include "common/types.h"
#include "tools/command_line.h"
#include "tools/dcp_options.h"
#include "tools/failure.h"

namespace sluice::tools {

// The noop interval asked of the producer for a --timeout: a third of it, within [1, 20] s.
uint32_t NoopIntervalSeconds(double timeout_seconds);
// `flags` with the read timeout raised where needed, so that it always exceeds the noop interval
// plus the producer's 1 s housekeeping tick with room to spare.
ConnectionFlags DcpConnectionFlags(const ConnectionFlags& flags);

struct DcpSessionOptions {
  std::string name;          // DCP connection name
  uint32_t buffer_size = 0;  // flow-control window in bytes; 0 = no flow control
};

// DCP_OPEN and the controls above on a ready session (opened with DcpConnectionFlags()).
std::optional<Failure> BeginDcp(client::Connection& conn, const DcpSessionOptions& options);

// A vbucket to stream and its high seqno when the command started (for progress and ETA).
struct VBucketTarget {
  Vbid vbucket = 0;
  uint64_t high_seqno = 0;
};

// The listed vbuckets (nullopt: every active vbucket) with their high seqnos, from
// GET_ALL_VB_SEQNOS. A listed vbucket the server did not report gets high seqno 0 (its stream
// request then says NOT_MY_VBUCKET). Call before BeginDcp().
std::variant<std::vector<VBucketTarget>, Failure> ResolveVBuckets(
    client::Connection& conn, const std::optional<std::vector<Vbid>>& listed);

struct StreamRange {
  StartPosition from;
  bool to_latest = false;      // end = the high seqno when the stream opens
  std::optional<uint64_t> to;  // else this end seqno; neither: no end
};

// DCP_STREAM_REQ for `vbucket` over `range` (DCP_GET_FAILOVER_LOG first for a resume). The answer
// as the server gave it: callers decide what a Rollback or NotMyVbucket means to them.
StatusOr<client::StreamReqResult> RequestStream(client::Connection& conn, Vbid vbucket,
                                                const StreamRange& range);

// The failure for a stream request the server refused.
Failure StreamRequestFailure(Vbid vbucket, const client::StreamReqResult& result);

// The size `message` had on the wire, 24-byte header included (what flow control counts); 0 for
// responses. Exact for connections opened here (no collections, no stream ids, no compression).
uint64_t WireSize(const client::DcpMessage& message);

}  // namespace sluice::tools
