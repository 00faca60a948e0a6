// File: cluster/etcd_transport.h
//
// EtcdTransport: how sluice reaches etcd's JSON gateway — HTTP/1.1 POSTs of JSON bodies to
// /v3/... paths on one of the configured endpoints, with Debian's cpp-httplib. It keeps a few
// idle keep-alive connections per endpoint so that concurrent callers (a lease keeper, an
// election, a node agent's writes) neither serialise on one socket nor open a connection per call.
//
// Failures become Status values here, once:
//   - the TCP connection could not be made → the next endpoint is tried (the request was not sent,
//     so this is safe for every call); when none answers: kTempFail "etcd unreachable (...)";
//   - the request was sent but no answer came in time, or the connection broke → kTempFail
//     naming the endpoint and path (the outcome of a write is then unknown: callers that need
//     exactly-once effects guard their writes with txn compares);
//   - an error body ({"error":..,"code":..}, sent with HTTP 4xx/5xx and an HTTP trailer that
//     Debian's cpp-httplib 0.11 cannot parse: the body is taken as received) →
//     codec::ErrorInBody (the gRPC code mapped once);
//   - any other non-200 answer or malformed JSON → kIoError quoting the body.
// Watches are long-lived streams and do not go through Call(): cluster/etcd_watch.h opens its own
// connection to current_endpoint() with these options.
//
// Ownership: owned by one EtcdClient (cluster/etcd_client.h). Thread safety: thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/etcd_codec.h"
#include "common/mutex.h"
#include "common/status.h"

namespace httplib {
class Client;
}

namespace sluice::cluster {

struct EtcdOptions {
  // "host:port" or "http://host:port" (TLS endpoints are refused: not supported yet).
  std::vector<std::string> endpoints;
  std::chrono::milliseconds connect_timeout{1000};
  // How long one unary call may wait for its answer (also the write timeout).
  std::chrono::milliseconds request_timeout{5000};
  // A watch stream that receives nothing for this long is closed; its owner re-opens it (from the
  // next revision, so nothing is lost). Bounds how long a silently dead connection goes unnoticed.
  std::chrono::milliseconds watch_idle_timeout{60000};
};

struct EtcdEndpoint {
  std::string host;
  uint16_t port = 0;
  std::string ToString() const;  // "host:port"
};

// kInvalid for an empty list, a malformed endpoint or an https:// one.
StatusOr<std::vector<EtcdEndpoint>> ParseEndpoints(const std::vector<std::string>& endpoints);

class EtcdTransport {
 public:
  static StatusOr<std::unique_ptr<EtcdTransport>> Create(EtcdOptions options);
  ~EtcdTransport();
  EtcdTransport(const EtcdTransport&) = delete;
  EtcdTransport& operator=(const EtcdTransport&) = delete;

  // POSTs `request` to `path` (e.g. "/v3/kv/range") and returns the decoded response body (for
  // the streaming lease keepalive call, the object inside "result"). Errors as described above.
  // `timeout` (if non-zero) replaces options().request_timeout for this call.
  StatusOr<codec::Json> Call(std::string_view path, const codec::Json& request,
                             std::chrono::milliseconds timeout = {});

  // The endpoint calls go to now: the last one a connection was made to.
  EtcdEndpoint current_endpoint() const EXCLUDES(mu_);
  // Every configured endpoint, in order.
  const std::vector<EtcdEndpoint>& endpoints() const { return endpoints_; }
  const EtcdOptions& options() const { return options_; }

 private:
  EtcdTransport(EtcdOptions options, std::vector<EtcdEndpoint> endpoints);

  // An idle connection to endpoint `index`, or a new one.
  std::unique_ptr<httplib::Client> Take(size_t index) EXCLUDES(mu_);
  // Keeps a connection that answered for reuse (up to kMaxIdle per endpoint).
  void Give(size_t index, std::unique_ptr<httplib::Client> client) EXCLUDES(mu_);

  static constexpr size_t kMaxIdle = 4;

  const EtcdOptions options_;
  const std::vector<EtcdEndpoint> endpoints_;
  mutable Mutex mu_;
  size_t current_ GUARDED_BY(mu_) = 0;
  // idle_[i]: idle connections to endpoints_[i].
  std::vector<std::vector<std::unique_ptr<httplib::Client>>> idle_ GUARDED_BY(mu_);
};

}  // namespace sluice::cluster
