// File: server/commands_dcp.cc
//
// DCP commands of a producer connection: DCP_OPEN, DCP_CONTROL, DCP_STREAM_REQ,
// DCP_CLOSE_STREAM, DCP_GET_FAILOVER_LOG, DCP_BUFFER_ACKNOWLEDGEMENT, DCP_NOOP, and the
// consumer's responses to our NOOPs. The stream machinery is in src/dcp/. On a consumer
// connection DCP_CLOSE_STREAM, DCP_NOOP and responses go to its consumer
// (commands_dcp_consumer.cc).
#include "common/logging.h"
#include "protocol/dcp_codec.h"
#include "protocol/dcp_sync_write.h"
#include "protocol/frame_info.h"
#include "protocol/payload.h"
#include "server/command_util.h"
#include "server/commands.h"

namespace sluice::server {

using protocol::Frame;
using protocol::McbpStatus;
using protocol::Opcode;

namespace {

std::vector<protocol::FailoverEntry> ToWire(const std::vector<storage::FailoverEntry>& log) {
  std::vector<protocol::FailoverEntry> out;
  out.reserve(log.size());
  for (const auto& e : log) out.push_back({e.uuid, e.seqno});
  return out;
}

// The producer of this connection, or null after answering EINVAL.
dcp::Producer* RequireProducer(Connection& conn, const Frame& req) {
  if (!conn.producer()) {
    conn.RespondError(req,
                      Status(Errc::kInvalid, "not a DCP producer connection (DCP_OPEN first)"));
    return nullptr;
  }
  return conn.producer().get();
}

}  // namespace

CommandResult DcpOpen(Connection& conn, const Frame& req, const CommandFacts&) {
  if (conn.is_dcp()) {
    conn.RespondError(req, Status(Errc::kInvalid, "DCP_OPEN on a connection already open"));
    return CommandResult::kDone;
  }
  auto open = protocol::DecodeDcpOpen(req);
  if (!open.ok()) {
    conn.RespondError(req, open.status());
    return CommandResult::kDone;
  }
  if ((open->flags & protocol::kDcpOpenProducer) == 0) return OpenConsumer(conn, req, *open);
  const auto& conn_map = conn.ctx().conn_map();
  if (!conn_map) {
    conn.RespondError(req, Status(Errc::kNotSupported));
    return CommandResult::kDone;
  }
  dcp::ProducerOptions options;
  options.name = std::string(open->name);
  options.open_flags = open->flags;
  options.collections = conn.HasFeature(protocol::Feature::kCollections);
  options.user = conn.user();
  options.port = conn.local_port();
  options.notifier = std::weak_ptr<dcp::ProducerNotifier>(conn.shared_from_this());
  auto producer = conn_map->NewProducer(std::move(options));
  if (!producer.ok()) {
    conn.RespondError(req, producer.status());
    return CommandResult::kDone;
  }
  LOG_DEBUG("conn {}: DCP_OPEN '{}' flags {:#x}", conn.id(), open->name, open->flags);
  conn.SetProducer(std::move(*producer));
  conn.Respond(req, McbpStatus::kSuccess);
  return CommandResult::kDone;
}

CommandResult DcpControl(Connection& conn, const Frame& req, const CommandFacts&) {
  dcp::Producer* producer = RequireProducer(conn, req);
  if (producer == nullptr) return CommandResult::kDone;
  Status s = producer->Control(req.key, req.value);
  if (s.ok()) {
    conn.Respond(req, McbpStatus::kSuccess);
  } else {
    conn.RespondError(req, s);
  }
  return CommandResult::kDone;
}

CommandResult DcpStreamReq(Connection& conn, const Frame& req, const CommandFacts&) {
  dcp::Producer* producer = RequireProducer(conn, req);
  if (producer == nullptr) return CommandResult::kDone;
  auto decoded = protocol::DecodeDcpStreamReq(req);
  if (!decoded.ok()) {
    conn.RespondError(req, decoded.status());
    return CommandResult::kDone;
  }
  dcp::StreamRequestResult r = producer->StreamRequest(*decoded);
  std::string value;
  if (r.status.ok()) {
    // The answer goes out before any message of the new stream: Step runs after this handler.
    protocol::AppendFailoverLog(&value, ToWire(r.failover_log));
    conn.Respond(req, McbpStatus::kSuccess, {}, {}, value);
  } else if (r.status.code() == Errc::kRollback) {
    protocol::AppendRollbackSeqno(&value, r.rollback_seqno);
    conn.Respond(req, McbpStatus::kRollback, {}, {}, value);
  } else if (r.status.code() == Errc::kDisconnect) {
    return CommandResult::kClose;
  } else {
    conn.RespondError(req, r.status);
  }
  return CommandResult::kDone;
}

CommandResult DcpCloseStream(Connection& conn, const Frame& req, const CommandFacts& facts) {
  if (conn.consumer() != nullptr) return ConsumerRequest(conn, req, facts);
  dcp::Producer* producer = RequireProducer(conn, req);
  if (producer == nullptr) return CommandResult::kDone;
  // The validator checked the framing extras; the stream id is one of them.
  auto infos = protocol::ParseRequestFrameInfos(req.framing_extras);
  if (!infos.ok()) {
    conn.RespondError(req, infos.status());
    return CommandResult::kDone;
  }
  Status s = producer->CloseStream(req.vbucket(), infos->dcp_stream_id);
  if (s.ok()) {
    conn.Respond(req, McbpStatus::kSuccess);
  } else if (s.code() == Errc::kStreamNotFound) {
    conn.Respond(req, protocol::ToMcbpStatus(s.code(), {producer->v7_dcp_status_codes()}));
  } else {
    conn.RespondError(req, s);
  }
  return CommandResult::kDone;
}

CommandResult DcpGetFailoverLog(Connection& conn, const Frame& req, const CommandFacts&) {
  auto log = conn.producer() ? conn.producer()->GetFailoverLog(req.vbucket())
                             : conn.bucket()->GetFailoverLog(req.vbucket());
  if (!log.ok()) {
    conn.RespondError(req, log.status());
    return CommandResult::kDone;
  }
  std::string value;
  protocol::AppendFailoverLog(&value, ToWire(*log));
  conn.Respond(req, McbpStatus::kSuccess, {}, {}, value);
  return CommandResult::kDone;
}

CommandResult DcpBufferAck(Connection& conn, const Frame& req, const CommandFacts&) {
  auto bytes = protocol::DecodeDcpBufferAck(req);
  if (!bytes.ok()) {
    conn.RespondError(req, bytes.status());
    return CommandResult::kDone;
  }
  if (conn.producer()) conn.producer()->BufferAcknowledged(*bytes);
  return CommandResult::kDone;
}

CommandResult DcpSeqnoAcknowledged(Connection& conn, const Frame& req, const CommandFacts&) {
  // No response on success (kv_engine); an error is answered.
  auto ack = protocol::DecodeDcpSeqnoAcknowledged(req);
  if (!ack.ok()) {
    conn.RespondError(req, ack.status());
    return CommandResult::kDone;
  }
  if (!conn.producer()) {
    conn.RespondError(req, Status(Errc::kInvalid, "not a DCP producer connection"));
    return CommandResult::kDone;
  }
  Status s = conn.producer()->SeqnoAcknowledged(ack->opaque, ack->vbucket, ack->prepared_seqno);
  if (!s.ok()) conn.RespondError(req, s);
  return CommandResult::kDone;
}

CommandResult DcpNoop(Connection& conn, const Frame& req, const CommandFacts& facts) {
  if (conn.consumer() != nullptr) return ConsumerRequest(conn, req, facts);
  conn.Respond(req, McbpStatus::kSuccess);
  return CommandResult::kDone;
}

CommandResult OnClientResponse(Connection& conn, const Frame& response) {
  if (conn.consumer() != nullptr) {
    return conn.consumer()->OnResponse(response, conn.out()).ok() ? CommandResult::kDone
                                                                  : CommandResult::kClose;
  }
  const auto& producer = conn.producer();
  if (!producer) return CommandResult::kDone;
  if (response.client_opcode() == Opcode::kDcpNoop) {
    producer->NoopResponse();
  } else {
    producer->MessageReceived();
  }
  return CommandResult::kDone;
}

}  // namespace sluice::server
