// File: tools/failure.h
//
// The `sluice` CLI's exit codes and the one place where a failure (a transport Status, or a
// server's answer to a KV request) becomes an exit code plus a message for the user.
//
//   0  success
//   1  the key does not exist (get/rm/touch of a missing key: like grep, a miss is not an error
//      of the tool, but scripts can tell it from a hit)
//   2  usage error (unknown flag, bad value, missing argument)
//   3  connection error: cannot connect (refused, unresolvable host, timeout) or the connection
//      broke (closed by the server, I/O timeout, malformed frame)
//   4  authentication failed, or the user may not access the bucket / command
//   5  not my vbucket: the vbucket is not active on this server
//   6  any other failure status from the server (exists, too big, temporary failure, ...),
//      `load` runs that finished but saw failure statuses, and `tail` / `drain` runs in which a
//      stream ended other than Ok or `drain --verify` found a violation
//
// Thread safety: pure functions over values.
#pragma once

#include <string>
#include <string_view>

#include "client/connection.h"
#include "client/types.h"
#include "common/status.h"

namespace sluice::tools {

enum class ExitCode : int {
  kOk = 0,
  kNotFound = 1,
  kUsage = 2,
  kConnection = 3,
  kAuth = 4,
  kNotMyVbucket = 5,
  kServerError = 6,
};

inline int ToInt(ExitCode code) { return static_cast<int>(code); }

// "not_found", "usage", ...: the exit code's name in --json error objects.
std::string_view ExitCodeName(ExitCode code);

struct Failure {
  ExitCode code = ExitCode::kServerError;
  std::string message;
};

// The failure for `status`, returned by a call on `conn` (nullptr: while connecting). A broken
// connection is a connection error whatever the status code says; otherwise the status is what
// the server answered.
Failure FailureFromStatus(const Status& status, const client::Connection* conn);

// The failure for a non-success answer to `op` (e.g. "GET") on `key`.
Failure FailureFromKv(const client::KvResult& result, std::string_view op, std::string_view key);

}  // namespace sluice::tools
