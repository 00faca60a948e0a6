// File: server/commands_session.cc
//
// Session commands: HELLO, SASL, bucket selection, and the small always-allowed ones.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "common/logging.h"
#include "protocol/datatype.h"
#include "protocol/error_map.h"
#include "protocol/payload.h"
#include "sasl/mechanism.h"
#include "server/commands.h"

namespace sluice::server {

using protocol::Feature;
using protocol::Frame;
using protocol::McbpStatus;

namespace {

constexpr std::string_view kNoBucket = "@no bucket@";

// The features sluice really implements; HELLO agrees to no others.
bool Supported(Feature f) {
  switch (f) {
    case Feature::kTcpNoDelay:
    case Feature::kMutationSeqno:
    case Feature::kXerror:
    case Feature::kSelectBucket:
    case Feature::kJson:
    case Feature::kAltRequestSupport:
    case Feature::kCollections:
    case Feature::kSyncReplication:  // durability frame infos (server/durable_write.h)
    // Extended attributes (docs/xattrs.md): stored, in subdoc, GET_META's datatype and DCP.
    case Feature::kXattr:
    case Feature::kVAttr:  // $document, $vbucket, $XTOC
    case Feature::kSubdocCreateAsDeleted:
    case Feature::kSubdocDocumentMacroSupport:  // ${$document...} macros
    case Feature::kSubdocReplaceBodyWithXattr:
    case Feature::kSubdocAllowsAccessOnMultipleXattrKeys:
    // Server-initiated requests: cluster-config pushes (server/connection.h).
    case Feature::kDuplex:
    case Feature::kClustermapChangeNotification:
    case Feature::kClustermapChangeNotificationBrief:
      return true;
    default:
      return false;
  }
}

// HELLO's key: the agent name, or {"a": agent, "i": connection id} (kv_engine).
std::string AgentName(std::string_view key) {
  const auto json = nlohmann::json::parse(key, nullptr, /*allow_exceptions=*/false);
  if (json.is_object()) {
    auto a = json.find("a");
    if (a != json.end() && a->is_string()) return a->get<std::string>();
  }
  return std::string(key);
}

// The features a HELLO asks for, in order.
std::vector<Feature> Requested(const Frame& req) {
  std::vector<Feature> out;
  for (size_t i = 0; i + 1 < req.value.size(); i += 2) {
    out.push_back(static_cast<Feature>((static_cast<uint8_t>(req.value[i]) << 8) |
                                       static_cast<uint8_t>(req.value[i + 1])));
  }
  return out;
}

}  // namespace

CommandResult Hello(Connection& conn, const Frame& req, const CommandFacts&) {
  const std::vector<Feature> requested = Requested(req);
  auto asked = [&](Feature f) {
    return std::find(requested.begin(), requested.end(), f) != requested.end();
  };
  // kv_engine's combination rules: a clustermap notification needs Duplex (else EINVAL, and the
  // connection keeps what it had); with both forms asked, only the brief one is agreed.
  for (Feature f :
       {Feature::kClustermapChangeNotification, Feature::kClustermapChangeNotificationBrief}) {
    if (asked(f) && !asked(Feature::kDuplex)) {
      conn.RespondError(
          req, Status(Errc::kInvalid, fmt::format("{} needs Duplex", protocol::FeatureName(f))));
      return CommandResult::kDone;
    }
  }
  const bool brief = asked(Feature::kClustermapChangeNotificationBrief);
  // HELLO replaces whatever an earlier HELLO enabled.
  conn.ClearFeatures();
  conn.set_agent(AgentName(req.key));
  std::string agreed;
  for (size_t i = 0; i + 1 < req.value.size(); i += 2) {
    const auto f = static_cast<Feature>((static_cast<uint8_t>(req.value[i]) << 8) |
                                        static_cast<uint8_t>(req.value[i + 1]));
    if (!Supported(f) || conn.HasFeature(f)) continue;
    if (f == Feature::kClustermapChangeNotification && brief) continue;
    conn.EnableFeature(f);
    agreed.push_back(req.value[i]);
    agreed.push_back(req.value[i + 1]);
  }
  LOG_DEBUG("conn {}: HELLO from '{}', {} features agreed", conn.id(), req.key, agreed.size() / 2);
  conn.Respond(req, McbpStatus::kSuccess, {}, {}, agreed);
  return CommandResult::kDone;
}

namespace {

// After authentication, connections are associated with the server's bucket if the user may use
// it, so memcached clients (which never send SELECT_BUCKET) can work right away.
void AutoSelectBucket(Connection& conn) {
  const auto& bucket = conn.ctx().bucket();
  if (!bucket) return;
  auto users = conn.ctx().users();
  const sasl::User* user = users ? users->Find(conn.user()) : nullptr;
  if (user != nullptr && user->MayAccessBucket(bucket->name())) conn.SelectBucket(bucket);
}

// A failed SASL attempt: the same AUTH_ERROR whatever went wrong (the reason only goes to the
// log). The first failure on a connection is answered at once; later ones after
// auth_failure_delay_ms (the connection pauses on a timer); the auth_failure_limit-th closes the
// connection once answered.
CommandResult AuthFailed(Connection& conn, const Frame& req, std::string_view reason) {
  conn.sasl_session().reset();
  conn.ctx().stats().auth_errors.fetch_add(1, std::memory_order_relaxed);
  const uint32_t failures = conn.NoteAuthFailure();
  const Config& config = conn.ctx().config();
  LOG_WARN("conn {} ({}): authentication failed ({} of {} allowed): {}", conn.id(), conn.peer(),
           failures, config.auth_failure_limit, reason);
  conn.Respond(req, McbpStatus::kAuthError);
  if (failures >= config.auth_failure_limit) {
    conn.ctx().stats().auth_failure_disconnects.fetch_add(1, std::memory_order_relaxed);
    LOG_WARN("conn {} ({}): {} failed authentication attempts; closing the connection", conn.id(),
             conn.peer(), failures);
    return CommandResult::kClose;
  }
  if (failures > 1) {
    conn.PauseFor(std::chrono::milliseconds(static_cast<int64_t>(config.auth_failure_delay_ms)));
  }
  return CommandResult::kDone;
}

CommandResult SaslReply(Connection& conn, const Frame& req, const sasl::AuthStep& step) {
  switch (step.result) {
    case sasl::AuthResult::kOk:
      conn.sasl_session().reset();
      conn.SetAuthenticated(step.user);
      AutoSelectBucket(conn);
      LOG_DEBUG("conn {}: authenticated as '{}'", conn.id(), step.user);
      conn.Respond(req, McbpStatus::kSuccess, {}, {}, step.response);
      break;
    case sasl::AuthResult::kContinue:
      conn.Respond(req, McbpStatus::kAuthContinue, {}, {}, step.response);
      break;
    case sasl::AuthResult::kError:
      return AuthFailed(conn, req, step.reason);
  }
  return CommandResult::kDone;
}

}  // namespace

CommandResult SaslListMechs(Connection& conn, const Frame& req, const CommandFacts&) {
  conn.Respond(req, McbpStatus::kSuccess, {}, {}, sasl::SupportedMechanisms());
  return CommandResult::kDone;
}

CommandResult SaslAuth(Connection& conn, const Frame& req, const CommandFacts&) {
  conn.ctx().stats().auth_cmds.fetch_add(1, std::memory_order_relaxed);
  // A new attempt drops any earlier identity.
  conn.ResetAuthentication();
  conn.sasl_session() = std::make_unique<sasl::ServerSession>(conn.ctx().users());
  return SaslReply(conn, req, conn.sasl_session()->Start(req.key, req.value));
}

CommandResult SaslStep(Connection& conn, const Frame& req, const CommandFacts&) {
  if (!conn.sasl_session()) {
    conn.RespondError(req, Status(Errc::kInvalid, "SASL_STEP without SASL_AUTH"));
    return CommandResult::kDone;
  }
  return SaslReply(conn, req, conn.sasl_session()->Step(req.value));
}

CommandResult SelectBucket(Connection& conn, const Frame& req, const CommandFacts&) {
  if (req.key == kNoBucket) {
    conn.SelectBucket(nullptr);
    conn.Respond(req, McbpStatus::kSuccess);
    return CommandResult::kDone;
  }
  const auto& bucket = conn.ctx().bucket();
  auto users = conn.ctx().users();
  const sasl::User* user = users ? users->Find(conn.user()) : nullptr;
  // Unknown bucket and no access look the same (kv_engine: EACCESS), so bucket names do not leak.
  if (!bucket || req.key != bucket->name() || user == nullptr ||
      !user->MayAccessBucket(bucket->name())) {
    conn.Respond(req, McbpStatus::kEaccess);
    return CommandResult::kDone;
  }
  conn.SelectBucket(bucket);
  conn.Respond(req, McbpStatus::kSuccess);
  return CommandResult::kDone;
}

CommandResult ListBuckets(Connection& conn, const Frame& req, const CommandFacts&) {
  const auto& bucket = conn.ctx().bucket();
  auto users = conn.ctx().users();
  const sasl::User* user = users ? users->Find(conn.user()) : nullptr;
  std::string names;
  if (bucket && user != nullptr && user->MayAccessBucket(bucket->name())) names = bucket->name();
  conn.Respond(req, McbpStatus::kSuccess, {}, {}, names);
  return CommandResult::kDone;
}

CommandResult GetErrorMap(Connection& conn, const Frame& req, const CommandFacts&) {
  auto version = protocol::DecodeU16(req.value);
  if (!version.ok() || *version == 0) {
    conn.RespondError(req, Status(Errc::kInvalid, "error map version must be at least 1"));
    return CommandResult::kDone;
  }
  const int v = std::min<int>(*version, protocol::kErrorMapMaxVersion);
  const uint8_t datatype = conn.HasFeature(Feature::kJson) ? protocol::kDatatypeJson : 0;
  conn.Respond(req, McbpStatus::kSuccess, {}, {}, protocol::ErrorMapJson(v), datatype);
  return CommandResult::kDone;
}

CommandResult Version(Connection& conn, const Frame& req, const CommandFacts&) {
  conn.Respond(req, McbpStatus::kSuccess, {}, {}, SLUICE_VERSION);
  return CommandResult::kDone;
}

CommandResult Noop(Connection& conn, const Frame& req, const CommandFacts&) {
  conn.Respond(req, McbpStatus::kSuccess);
  return CommandResult::kDone;
}

CommandResult Quit(Connection& conn, const Frame& req, const CommandFacts& facts) {
  if (!facts.quiet) conn.Respond(req, McbpStatus::kSuccess);
  return CommandResult::kClose;
}

}  // namespace sluice::server
