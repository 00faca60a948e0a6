// File: tools/failure.cc
#include "tools/failure.h"

#include <fmt/format.h>

namespace sluice::tools {

using protocol::McbpStatus;

std::string_view ExitCodeName(ExitCode code) {
  switch (code) {
    case ExitCode::kOk:
      return "ok";
    case ExitCode::kNotFound:
      return "not_found";
    case ExitCode::kUsage:
      return "usage";
    case ExitCode::kConnection:
      return "connection";
    case ExitCode::kAuth:
      return "auth";
    case ExitCode::kNotMyVbucket:
      return "not_my_vbucket";
    case ExitCode::kServerError:
      return "server_error";
  }
  return "unknown";
}

Failure FailureFromStatus(const Status& status, const client::Connection* conn) {
  std::string message(status.message().empty() ? status.ToString() : status.message());
  if (conn == nullptr || conn->broken()) {
    if (status.code() == Errc::kAuthError) return {ExitCode::kAuth, std::move(message)};
    return {ExitCode::kConnection, std::move(message)};
  }
  switch (status.code()) {
    case Errc::kAuthError:
    case Errc::kNoAccess:
    case Errc::kNoBucket:
      return {ExitCode::kAuth, std::move(message)};
    case Errc::kNotMyVbucket:
      // The server's message carries the whole cluster config: too long to be worth printing.
      return {ExitCode::kNotMyVbucket, "not my vbucket: the vbucket is not active on this server"};
    case Errc::kNotFound:
      return {ExitCode::kNotFound, std::move(message)};
    default:
      return {ExitCode::kServerError, std::move(message)};
  }
}

Failure FailureFromKv(const client::KvResult& result, std::string_view op, std::string_view key) {
  const std::string context = result.value.empty() ? "" : fmt::format(" ({})", result.value);
  switch (result.status) {
    case McbpStatus::kKeyEnoent:
      return {ExitCode::kNotFound, fmt::format("{} {}: key not found", op, key)};
    case McbpStatus::kNotMyVbucket:
      // The body is the cluster config; too long to be worth printing.
      return {ExitCode::kNotMyVbucket,
              fmt::format("{} {}: not my vbucket: vbucket {} is not active on this server", op, key,
                          result.vbucket)};
    case McbpStatus::kEaccess:
    case McbpStatus::kNoBucket:
    case McbpStatus::kAuthError:
      return {ExitCode::kAuth, fmt::format("{} {}: no access: {} ({:#04x}){}", op, key,
                                           protocol::McbpStatusName(result.status),
                                           static_cast<uint16_t>(result.status), context)};
    default:
      return {ExitCode::kServerError, fmt::format("{} {}: the server answered {} ({:#04x}){}", op,
                                                  key, protocol::McbpStatusName(result.status),
                                                  static_cast<uint16_t>(result.status), context)};
  }
}

}  // namespace sluice::tools
