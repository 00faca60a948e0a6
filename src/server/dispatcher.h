// File: server/dispatcher.h
//
// Dispatch: runs one decoded request frame on a connection — validation (protocol/validate.h),
// the access rules (only the handshake commands before authentication; a selected bucket for
// data commands), then the command's handler. Handlers live in commands_*.cc by area:
//   commands_session.cc  HELLO, SASL, SELECT_BUCKET, VERSION, NOOP, QUIT, GET_ERROR_MAP, ...
//   commands_kv.cc       GET/SET/... document commands
//   commands_admin.cc    STAT, vbucket commands, GET_CLUSTER_CONFIG, OBSERVE_SEQNO, ...
//   commands_dcp.cc      DCP_OPEN, DCP_CONTROL, DCP_STREAM_REQ, ... (the producer side)
//   commands_replica.cc  GET_REPLICA
//
// Thread safety: runs on the connection's I/O thread.
#pragma once

#include "protocol/frame.h"
#include "server/connection.h"

namespace sluice::server {

CommandResult Dispatch(Connection& conn, const protocol::Frame& request);

// Per-area entry points; each returns nullopt if the opcode is not its own.
std::optional<CommandResult> DispatchSession(Connection& conn, const protocol::Frame& request);
std::optional<CommandResult> DispatchKv(Connection& conn, const protocol::Frame& request);
std::optional<CommandResult> DispatchAdmin(Connection& conn, const protocol::Frame& request);
std::optional<CommandResult> DispatchDcp(Connection& conn, const protocol::Frame& request);
std::optional<CommandResult> DispatchReplica(Connection& conn, const protocol::Frame& request);

// A response frame from the client (a DCP consumer answering our NOOP).
void OnClientResponse(Connection& conn, const protocol::Frame& response);

}  // namespace sluice::server
