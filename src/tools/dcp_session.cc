// File: tools/dcp_session.cc
#include "tools/dcp_session.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <unordered_map>

#include "protocol/dcp_codec.h"
#include "protocol/frame.h"

namespace sluice::tools {
namespace {

using protocol::McbpStatus;

struct WireSizer {
  uint64_t operator()(const protocol::DcpSnapshotMarker& m) const {
    switch (m.version) {
      case protocol::DcpSnapshotMarkerVersion::kV1:
        return protocol::kHeaderSize + protocol::kDcpSnapshotMarkerV1ExtrasSize;
      case protocol::DcpSnapshotMarkerVersion::kV2_0:
        return protocol::kHeaderSize + 1 + 36;
      case protocol::DcpSnapshotMarkerVersion::kV2_2:
        return protocol::kHeaderSize + 1 + 52;
    }
    return protocol::kHeaderSize;
  }
  uint64_t operator()(const client::DcpMutation& m) const {
    return protocol::kHeaderSize + protocol::kDcpMutationExtrasSize + m.key.size() + m.value.size();
  }
  uint64_t operator()(const client::DcpDeletion& d) const {
    const size_t extras = d.version == protocol::DcpDeletionVersion::kV2
                              ? protocol::kDcpDeletionV2ExtrasSize
                              : protocol::kDcpDeletionV1ExtrasSize;
    return protocol::kHeaderSize + extras + d.key.size() + d.value.size();
  }
  uint64_t operator()(const client::DcpExpiration& x) const {
    return protocol::kHeaderSize + protocol::kDcpExpirationExtrasSize + x.key.size();
  }
  uint64_t operator()(const protocol::DcpStreamEnd&) const {
    return protocol::kHeaderSize + protocol::kDcpStreamEndExtrasSize;
  }
  uint64_t operator()(const protocol::DcpSeqnoAdvanced&) const { return protocol::kHeaderSize + 8; }
  uint64_t operator()(const protocol::DcpOsoSnapshot&) const { return protocol::kHeaderSize + 4; }
  uint64_t operator()(const client::Response&) const { return 0; }
  uint64_t operator()(const client::DcpOtherRequest& r) const {
    return protocol::kHeaderSize + r.extras.size() + r.key.size() + r.value.size();
  }
};

}  // namespace

uint32_t NoopIntervalSeconds(double timeout_seconds) {
  const double third = std::floor(timeout_seconds / 3.0);
  return static_cast<uint32_t>(std::clamp(third, 1.0, 20.0));
}

ConnectionFlags DcpConnectionFlags(const ConnectionFlags& flags) {
  ConnectionFlags out = flags;
  const double interval = NoopIntervalSeconds(flags.timeout_seconds);
  out.timeout_seconds = std::max(flags.timeout_seconds, 2.0 * interval + 2.0);
  return out;
}

std::optional<Failure> BeginDcp(client::Connection& conn, const DcpSessionOptions& options) {
  auto failed = [&](const Status& status, std::string_view what) {
    Failure failure = FailureFromStatus(status, &conn);
    failure.message = fmt::format("{}: {}", what, failure.message);
    return failure;
  };
  Status status =
      conn.DcpOpen(options.name, protocol::kDcpOpenProducer | protocol::kDcpOpenIncludeDeleteTimes);
  if (!status.ok()) return failed(status, fmt::format("DCP_OPEN '{}'", options.name));
  const uint32_t interval = NoopIntervalSeconds(conn.options().io_timeout.count() / 1000.0);
  const std::pair<std::string_view, std::string> controls[] = {
      {"enable_noop", "true"},
      {"set_noop_interval", std::to_string(interval)},
      {"enable_expiry_opcode", "true"},
  };
  for (const auto& [key, value] : controls) {
    status = conn.DcpControl(key, value);
    if (!status.ok()) return failed(status, fmt::format("DCP_CONTROL {}={}", key, value));
  }
  if (options.buffer_size > 0) {
    status = conn.EnableDcpFlowControl(options.buffer_size);
    if (!status.ok()) {
      return failed(status,
                    fmt::format("DCP_CONTROL connection_buffer_size={}", options.buffer_size));
    }
  }
  return std::nullopt;
}

std::variant<std::vector<VBucketTarget>, Failure> ResolveVBuckets(
    client::Connection& conn, const std::optional<std::vector<Vbid>>& listed) {
  std::optional<protocol::AllVbSeqnosFilter> filter;
  if (!listed) filter = protocol::AllVbSeqnosFilter{.state = 1};  // active only
  auto seqnos = conn.GetAllVbSeqnos(filter);
  if (!seqnos.ok()) {
    Failure failure = FailureFromStatus(seqnos.status(), &conn);
    failure.message = fmt::format("GET_ALL_VB_SEQNOS: {}", failure.message);
    return failure;
  }
  std::vector<VBucketTarget> targets;
  if (!listed) {
    targets.reserve(seqnos->size());
    for (const auto& [vb, seqno] : *seqnos) targets.push_back({vb, seqno});
    std::sort(targets.begin(), targets.end(),
              [](const VBucketTarget& a, const VBucketTarget& b) { return a.vbucket < b.vbucket; });
    return targets;
  }
  std::unordered_map<Vbid, uint64_t> high;
  high.reserve(seqnos->size());
  for (const auto& [vb, seqno] : *seqnos) high[vb] = seqno;
  targets.reserve(listed->size());
  for (const Vbid vb : *listed) {
    const auto it = high.find(vb);
    targets.push_back({vb, it == high.end() ? 0 : it->second});
  }
  return targets;
}

StatusOr<client::StreamReqResult> RequestStream(client::Connection& conn, Vbid vbucket,
                                                const StreamRange& range) {
  protocol::DcpStreamReqRequest request;
  request.vbucket = vbucket;
  if (range.from.latest) {
    request.flags |= protocol::kDcpStreamFromLatest;
  } else if (range.from.seqno > 0) {
    // A resume: the server checks our position against its failover log (rollback rules), so
    // present the current branch's UUID and a snapshot that ends where we start.
    auto log = conn.DcpGetFailoverLog(vbucket);
    if (!log.ok()) {
      if (!conn.broken() && log.status().code() == Errc::kNotMyVbucket) {
        client::StreamReqResult result;
        result.status = McbpStatus::kNotMyVbucket;
        return result;
      }
      return log.status();
    }
    request.start_seqno = range.from.seqno;
    request.snap_start_seqno = range.from.seqno;
    request.snap_end_seqno = range.from.seqno;
    if (!log->empty()) request.vbucket_uuid = log->front().vbucket_uuid;
  }
  if (range.to_latest) {
    request.flags |= protocol::kDcpStreamToLatest;
  } else if (range.to) {
    request.end_seqno = *range.to;
  }
  return conn.DcpStreamReq(request);
}

Failure StreamRequestFailure(Vbid vbucket, const client::StreamReqResult& result) {
  switch (result.status) {
    case McbpStatus::kNotMyVbucket:
      return {ExitCode::kNotMyVbucket,
              fmt::format("vbucket {}: not my vbucket: it is not active on this server", vbucket)};
    case McbpStatus::kRollback:
      return {ExitCode::kServerError,
              fmt::format("vbucket {}: the server asks for a rollback to seqno {} (the start "
                          "position is not on its history)",
                          vbucket, result.rollback_seqno)};
    case McbpStatus::kErange:
      return {ExitCode::kUsage,
              fmt::format("vbucket {}: the server refused the seqno range (ERANGE){}", vbucket,
                          result.value.empty() ? "" : ": " + result.value)};
    case McbpStatus::kEaccess:
      return {ExitCode::kAuth, fmt::format("vbucket {}: no access to DCP streams", vbucket)};
    default:
      return {
          ExitCode::kServerError,
          fmt::format("vbucket {}: stream request refused: {} ({:#04x}){}", vbucket,
                      protocol::McbpStatusName(result.status), static_cast<uint16_t>(result.status),
                      result.value.empty() ? "" : ": " + result.value)};
  }
}

uint64_t WireSize(const client::DcpMessage& message) { return std::visit(WireSizer{}, message); }

}  // namespace sluice::tools
