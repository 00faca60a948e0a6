// File: tools/session.cc
#include "tools/session.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <nlohmann/json.hpp>

#include "protocol/encode.h"
#include "protocol/feature.h"
#include "protocol/opcode.h"

namespace sluice::tools {
namespace {

using protocol::Feature;
using protocol::McbpStatus;

std::chrono::milliseconds ToMillis(double seconds) {
  return std::chrono::milliseconds(static_cast<int64_t>(std::ceil(seconds * 1000.0)));
}

// The server did not understand the request (memcached for Couchbase extensions).
bool IsUnsupported(Errc code) {
  return code == Errc::kUnknownCommand || code == Errc::kNotSupported;
}

}  // namespace

std::variant<std::unique_ptr<client::Connection>, Failure> OpenSession(
    const ConnectionFlags& flags, const SessionOptions& options) {
  const std::string where = fmt::format("{}:{}", flags.host, flags.port);
  client::ConnectOptions connect_options;
  connect_options.connect_timeout = ToMillis(flags.timeout_seconds);
  connect_options.io_timeout = ToMillis(flags.timeout_seconds);
  StatusOr<std::unique_ptr<client::Connection>> connected =
      client::Connection::Connect(flags.host, flags.port, connect_options);
  if (!connected.ok()) {
    // The socket layer says "connect to HOST:PORT: REASON"; keep the reason only.
    std::string_view reason = connected.status().message();
    const std::string prefix = fmt::format("connect to {}: ", where);
    if (reason.starts_with(prefix)) reason.remove_prefix(prefix.size());
    return Failure{ExitCode::kConnection, fmt::format("cannot connect to {}: {}", where, reason)};
  }
  std::unique_ptr<client::Connection> conn = std::move(connected).value();

  // memcached (1.6) holds back its UNKNOWN_COMMAND answer to HELLO until the next request arrives,
  // so a plain-memcached session (--no-auth) sends no HELLO at all.
  if (flags.no_auth) return conn;

  std::vector<Feature> features = {Feature::kTcpNoDelay, Feature::kXerror, Feature::kSelectBucket,
                                   Feature::kJson};
  if (options.mutation_seqno) features.push_back(Feature::kMutationSeqno);
  if (options.durable_writes) {
    features.push_back(Feature::kAltRequestSupport);
    features.push_back(Feature::kSyncReplication);
  }
  StatusOr<std::vector<Feature>> hello = conn->Hello(options.agent, features);
  if (!hello.ok()) {
    Failure failure = FailureFromStatus(hello.status(), conn.get());
    failure.message = fmt::format("HELLO to {} failed: {}", where, failure.message);
    if (hello.status().code() == Errc::kTempFail) {
      failure.message += " (plain memcached does not answer HELLO: use --no-auth)";
    }
    return failure;
  }

  const Status auth = conn->Authenticate(flags.user, flags.password, "SCRAM-SHA512");
  if (!auth.ok()) {
    Failure failure = FailureFromStatus(auth, conn.get());
    if (failure.code == ExitCode::kAuth) {
      failure.message = fmt::format("authentication failed for user '{}' at {}", flags.user, where);
    } else if (IsUnsupported(auth.code())) {
      failure.message =
          fmt::format("{} does not support SASL (plain memcached?): use --no-auth ({})", where,
                      failure.message);
    } else {
      failure.message = fmt::format("authentication at {}: {}", where, failure.message);
    }
    return failure;
  }
  const Status selected = conn->SelectBucket(flags.bucket);
  if (!selected.ok()) {
    Failure failure = FailureFromStatus(selected, conn.get());
    failure.message = fmt::format("cannot select bucket '{}' as user '{}': {}", flags.bucket,
                                  flags.user, failure.message);
    return failure;
  }
  return conn;
}

std::variant<std::optional<uint32_t>, Failure> FetchVBucketCount(client::Connection& conn) {
  // A NOOP follows the request: memcached answers an unknown command only once another request
  // arrives, and the NOOP's answer marks the end either way.
  protocol::RequestFields config_request;
  config_request.opcode = protocol::Opcode::kGetClusterConfig;
  const uint32_t config_opaque = conn.Enqueue(config_request);
  protocol::RequestFields noop;
  noop.opcode = protocol::Opcode::kNoop;
  const uint32_t noop_opaque = conn.Enqueue(noop);
  Status status = conn.Flush();
  std::optional<McbpStatus> config_status;
  std::string config;
  if (status.ok()) {
    status = conn.ReadResponsesUntil(noop_opaque, [&](const protocol::Frame& frame) {
      if (frame.opaque != config_opaque) return;
      config_status = frame.status();
      config.assign(frame.value);
    });
  }
  if (!status.ok()) return FailureFromStatus(status, &conn);
  // No cluster config (memcached, or a connection without a bucket): no vbucket count.
  if (config_status != McbpStatus::kSuccess) return std::optional<uint32_t>();
  const nlohmann::json json =
      nlohmann::json::parse(config, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    return Failure{ExitCode::kServerError, "GET_CLUSTER_CONFIG returned invalid JSON"};
  }
  const auto map = json.find("vBucketServerMap");
  if (map == json.end() || !map->is_object()) return std::optional<uint32_t>();
  const auto vbmap = map->find("vBucketMap");
  if (vbmap == map->end() || !vbmap->is_array() || vbmap->empty()) {
    return std::optional<uint32_t>();
  }
  return std::optional<uint32_t>(static_cast<uint32_t>(vbmap->size()));
}

}  // namespace sluice::tools
