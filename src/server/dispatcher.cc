// File: server/dispatcher.cc
#include "server/dispatcher.h"

#include <chrono>

#include "common/logging.h"
#include "protocol/validate.h"
#include "server/command_table.h"
#include "server/commands.h"

namespace sluice::server {

using protocol::Opcode;

namespace {

CommandResult DispatchRequest(Connection& conn, const protocol::Frame& request) {
  if (!request.is_request() || protocol::IsServerMagic(request.magic)) {
    // A response from the client: DCP consumers answer a producer's NOOPs; on a consumer
    // connection, the (relayed) producer answers what the consumer sent; anything else has
    // nothing to match and is dropped.
    if (request.magic == protocol::Magic::kClientResponse) {
      return OnClientResponse(conn, request);
    } else {
      LOG_DEBUG("conn {}: ignoring frame with magic {:#x}", conn.id(),
                static_cast<int>(request.magic));
    }
    return CommandResult::kDone;
  }
  if (conn.consumer() != nullptr && !replication::Consumer::Takes(request.client_opcode())) {
    // A consumer connection carries DCP only: anything else means the driver lost its way.
    LOG_WARN("conn {} ({}): {} on DCP consumer connection '{}'; closing", conn.id(), conn.peer(),
             protocol::OpcodeName(request.client_opcode()), conn.consumer()->name());
    return CommandResult::kClose;
  }
  protocol::ValidationContext vctx;
  vctx.collections = conn.HasFeature(protocol::Feature::kCollections);
  vctx.xattr = conn.HasFeature(protocol::Feature::kXattr);
  vctx.dcp_delete_v2 = conn.consumer() != nullptr && conn.consumer()->delete_v2();
  if (Status v = protocol::ValidateRequest(request, vctx); !v.ok()) {
    conn.RespondError(request, v);
    return CommandResult::kDone;
  }
  const Opcode op = request.client_opcode();
  const Command& command = CommandOf(op);
  if (!conn.authenticated() && command.needs != Needs::kNothing) {
    conn.Respond(request, protocol::McbpStatus::kEaccess);
    return CommandResult::kDone;
  }
  if (command.handler == nullptr) {
    conn.Respond(request, protocol::McbpStatus::kUnknownCommand);
    return CommandResult::kDone;
  }
  if (command.needs == Needs::kBucket && conn.bucket() == nullptr) {
    conn.Respond(request, protocol::McbpStatus::kNoBucket);
    return CommandResult::kDone;
  }
  // A DCP command shows the consumer is alive (the producer's idle detection).
  if (protocol::IsDcpOpcode(op) && conn.producer()) conn.producer()->MessageReceived();
  return command.handler(conn, request, command.facts);
}

}  // namespace

CommandResult Dispatch(Connection& conn, const protocol::Frame& request) {
  const auto start = std::chrono::steady_clock::now();
  const CommandResult result = DispatchRequest(conn, request);
  if (result != CommandResult::kWouldBlock && request.is_request() &&
      !protocol::IsServerMagic(request.magic)) {
    conn.ctx().timings().Record(request.client_opcode(), std::chrono::steady_clock::now() - start);
  }
  return result;
}

}  // namespace sluice::server
