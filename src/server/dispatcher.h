// File: server/dispatcher.h
//
// Dispatch: runs one decoded frame on a connection. A request is validated
// (protocol/validate.h), checked against what its command needs (server/command_table.h: only the
// handshake commands before authentication; a selected bucket for data commands) and handed to
// its handler (server/commands.h). A response from the client goes to the DCP producer.
//
// Thread safety: runs on the connection's I/O thread.
#pragma once

#include "protocol/frame.h"
#include "server/connection.h"

namespace sluice::server {

// Runs `frame` and times it into the server's CommandTimings (a request answered kWouldBlock is
// timed on the run that completes it, from that run's start).
CommandResult Dispatch(Connection& conn, const protocol::Frame& frame);

}  // namespace sluice::server
