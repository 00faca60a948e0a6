// File: server/metrics_server.h
//
// MetricsServer: the Prometheus endpoint - an HTTP server (Debian's cpp-httplib) on its own port
// that answers GET /metrics with RenderMetrics() (server/metrics.h) as
// "text/plain; version=0.0.4", GET /console with the read-only web console
// (server/console_page.h) and GET /console/state.json with its data (server/console_state.h;
// / redirects to /console), and 404 for any other path. Its threads are its own: one runs the
// accept loop, a small pool (kWorkers) serves requests, so a slow scraper never touches the
// memcached I/O threads.
//
//   Start(host, port)   binds (port 0 picks a free one) and starts serving; port() is then known
//   Stop()              stops accepting, finishes the requests in flight, joins; idempotent
//
// Ownership: owned by main (or a test); borrows the ServerContext, which must outlive it (Stop()
// or the destructor before the context goes). Thread safety: Start/Stop from one controlling
// thread; port() from any.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "common/status.h"
#include "server/server_context.h"

namespace httplib {
class Server;
}

namespace sluice::server {

class MetricsServer {
 public:
  static constexpr size_t kWorkers = 2;

  explicit MetricsServer(ServerContext& ctx);
  ~MetricsServer();
  MetricsServer(const MetricsServer&) = delete;
  MetricsServer& operator=(const MetricsServer&) = delete;

  [[nodiscard]] Status Start(const std::string& host, uint16_t port);
  void Stop();
  uint16_t port() const { return port_.load(); }

 private:
  ServerContext& ctx_;
  std::unique_ptr<httplib::Server> http_;
  std::thread thread_;  // runs the accept loop
  std::atomic<uint16_t> port_{0};
};

}  // namespace sluice::server
