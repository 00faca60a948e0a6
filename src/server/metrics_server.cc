#include "server/metrics_server.h"

#include <fmt/format.h>
#include <httplib.h>
#include <sys/socket.h>

#include <chrono>

#include "common/logging.h"
#include "server/console_page.h"
#include "server/console_state.h"
#include "server/metrics.h"

namespace sluice::server {

MetricsServer::MetricsServer(ServerContext& ctx) : ctx_(ctx) {}

MetricsServer::~MetricsServer() { Stop(); }

Status MetricsServer::Start(const std::string& host, uint16_t port) {
  if (http_) return Status(Errc::kInvalid, "metrics server already started");
  auto http = std::make_unique<httplib::Server>();
  // cpp-httplib's default also sets SO_REUSEPORT: a second sluiced given the same metrics port
  // would then share it silently (the kernel spreads requests over both processes) instead of
  // failing to start. SO_REUSEADDR only, as the memcached port.
  http->set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  http->new_task_queue = [] { return new httplib::ThreadPool(kWorkers); };
  http->set_read_timeout(std::chrono::seconds(5));
  http->set_write_timeout(std::chrono::seconds(5));
  http->set_keep_alive_max_count(100);
  http->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(RenderMetrics(ctx_), "text/plain; version=0.0.4; charset=utf-8");
  });
  // The read-only console (server/console_page.h) and its data.
  http->Get("/",
            [](const httplib::Request&, httplib::Response& res) { res.set_redirect("/console"); });
  http->Get("/console", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::string(ConsolePage()), "text/html; charset=utf-8");
  });
  http->Get("/console/state.json", [this](const httplib::Request& req, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    res.set_content(ConsoleStateJson(ctx_, req.local_addr), "application/json");
  });
  // cpp-httplib reports failures as return values; an exception from it (allocation) would
  // be a bug here, so none is caught.
  int bound = 0;
  if (port == 0) {
    bound = http->bind_to_any_port(host);
  } else if (http->bind_to_port(host, port)) {
    bound = port;
  } else {
    bound = -1;
  }
  if (bound <= 0) {
    return Status(Errc::kIoError, fmt::format("metrics: cannot listen on {}:{}", host, port));
  }
  port_.store(static_cast<uint16_t>(bound));
  http_ = std::move(http);
  auto done = std::make_shared<std::atomic<bool>>(false);
  thread_ = std::thread([server = http_.get(), done] {
    if (!server->listen_after_bind()) LOG_ERROR("metrics: the HTTP server stopped on an error");
    done->store(true);
  });
  // httplib::Server::stop() is a no-op until the accept loop runs: wait for it, so a Stop()
  // right after Start() cannot miss it. The loop starts at once (the socket is bound).
  while (!http_->is_running() && !done->load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return Status::Ok();
}

void MetricsServer::Stop() {
  if (!http_) return;
  http_->stop();
  if (thread_.joinable()) thread_.join();
  http_.reset();
}

}  // namespace sluice::server
