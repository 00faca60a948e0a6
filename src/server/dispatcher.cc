#include "server/dispatcher.h"

#include <chrono>

#include "common/logging.h"
#include "protocol/validate.h"

namespace sluice::server {

using protocol::Opcode;

namespace {

// What a connection may do before SASL succeeds (kv_engine's list).
bool AllowedBeforeAuth(Opcode op) {
  switch (op) {
    case Opcode::kHello:
    case Opcode::kSaslListMechs:
    case Opcode::kSaslAuth:
    case Opcode::kSaslStep:
    case Opcode::kVersion:
    case Opcode::kNoop:
    case Opcode::kGetErrorMap:
    case Opcode::kQuit:
    case Opcode::kQuitq:
      return true;
    default:
      return false;
  }
}

CommandResult DispatchRequest(Connection& conn, const protocol::Frame& request) {
  if (!request.is_request() || protocol::IsServerMagic(request.magic)) {
    // A response from the client: DCP consumers answer our NOOPs; anything else has nothing
    // to match and is dropped.
    if (request.magic == protocol::Magic::kClientResponse) {
      OnClientResponse(conn, request);
    } else {
      LOG_DEBUG("conn {}: ignoring frame with magic {:#x}", conn.id(),
                static_cast<int>(request.magic));
    }
    return CommandResult::kDone;
  }
  protocol::ValidationContext vctx;
  vctx.collections = conn.HasFeature(protocol::Feature::kCollections);
  vctx.xattr = conn.HasFeature(protocol::Feature::kXattr);
  if (Status v = protocol::ValidateRequest(request, vctx); !v.ok()) {
    conn.RespondError(request, v);
    return CommandResult::kDone;
  }
  const Opcode op = request.client_opcode();
  if (!conn.authenticated() && !AllowedBeforeAuth(op)) {
    conn.Respond(request, protocol::McbpStatus::kEaccess);
    return CommandResult::kDone;
  }
  if (auto r = DispatchSession(conn, request)) return *r;
  if (auto r = DispatchKv(conn, request)) return *r;
  if (auto r = DispatchAdmin(conn, request)) return *r;
  if (auto r = DispatchDcp(conn, request)) return *r;
  conn.Respond(request, protocol::McbpStatus::kUnknownCommand);
  return CommandResult::kDone;
}

}  // namespace

// Times every client request into the server's CommandTimings. A request answered kWouldBlock
// is timed on the run that completes it (from that run's start).
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
