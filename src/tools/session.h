// File: tools/session.h
//
// How every `sluice` subcommand gets a ready connection: connect, HELLO, SASL, SELECT_BUCKET (all
// three skipped with --no-auth, the plain-memcached session), and how it learns the server's
// vbucket count from GET_CLUSTER_CONFIG. Failures come back as tools::Failure (exit code +
// message), already phrased for the user ("cannot connect to ...", "authentication failed for
// user ...").
//
// Plain memcached (1.6) knows neither HELLO nor GET_CLUSTER_CONFIG, and answers an unknown command
// only when the next request arrives. Hence no HELLO with --no-auth, and GET_CLUSTER_CONFIG is
// always followed by a NOOP; its UNKNOWN_COMMAND answer means "no vbucket count".
//
// Ownership: the caller owns the returned connection. Thread safety: pure functions of their
// arguments; a connection is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <variant>

#include "client/connection.h"
#include "tools/command_line.h"
#include "tools/failure.h"

namespace sluice::tools {

struct SessionOptions {
  std::string_view agent = "sluice-cli";
  // HELLO MutationSeqno: mutations answer with (vbucket uuid, seqno).
  bool mutation_seqno = true;
  // HELLO AltRequestSupport and SyncReplication: requests may carry durability frame infos.
  bool durable_writes = false;
};

// A connection ready for commands, or why not.
std::variant<std::unique_ptr<client::Connection>, Failure> OpenSession(
    const ConnectionFlags& flags, const SessionOptions& options = {});

// The server's vbucket count from its cluster config; nullopt if the server has none (memcached,
// or a bucketless connection). A broken connection is a Failure.
std::variant<std::optional<uint32_t>, Failure> FetchVBucketCount(client::Connection& conn);

}  // namespace sluice::tools
