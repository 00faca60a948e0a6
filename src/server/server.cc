#include "server/server.h"

#include <future>

#include "common/logging.h"
#include "server/connection.h"

namespace sluice::server {

Server::Server(ServerContext& ctx) : ctx_(ctx) {}

Server::~Server() { Stop(); }

Status Server::Listen(const std::string& host, uint16_t port) {
  const size_t n = ctx_.config().io_threads;
  for (size_t i = 0; i < n; ++i) {
    contexts_.push_back(std::make_unique<asio::io_context>(1));
    guards_.push_back(asio::make_work_guard(*contexts_.back()));
  }
  asio::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return Status(Errc::kInvalid, "invalid --host '" + host + "': " + ec.message());
  const asio::ip::tcp::endpoint endpoint(address, port);
  acceptor_ = std::make_unique<asio::ip::tcp::acceptor>(*contexts_[0]);
  acceptor_->open(endpoint.protocol(), ec);
  if (!ec) acceptor_->set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_->bind(endpoint, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status(Errc::kIoError,
                  "cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
  }
  port_.store(acceptor_->local_endpoint().port());
  ctx_.set_port(port_.load());
  Accept();
  for (size_t i = 0; i < n; ++i) {
    threads_.emplace_back([this, i] {
      pthread_setname_np(pthread_self(), ("io:" + std::to_string(i)).c_str());
      contexts_[i]->run();
    });
  }
  return Status::Ok();
}

void Server::Accept() {
  asio::io_context& target = *contexts_[next_context_];
  next_context_ = (next_context_ + 1) % contexts_.size();
  acceptor_->async_accept(target, [this](const asio::error_code& ec,
                                         asio::ip::tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_->is_open()) return;
    if (ec) {
      LOG_WARN("accept failed: {}", ec.message());
    } else if (ctx_.stats().curr_connections.load() >=
               static_cast<int64_t>(ctx_.config().max_connections)) {
      ctx_.stats().rejected_connections.fetch_add(1, std::memory_order_relaxed);
      asio::error_code ignored;
      const auto peer = socket.remote_endpoint(ignored);
      LOG_WARN("refusing connection from {}:{}: max_connections ({}) reached",
               peer.address().to_string(), peer.port(), ctx_.config().max_connections);
      socket.close(ignored);
    } else {
      auto conn = std::make_shared<Connection>(std::move(socket), ctx_, next_id_.fetch_add(1));
      // Start on the connection's own I/O thread.
      asio::post(conn->executor(), [conn] { conn->Start(); });
    }
    Accept();
  });
}

void Server::Stop() {
  if (stopped_ || contexts_.empty()) return;
  stopped_ = true;
  // Close the acceptor on its own thread, then every connection on theirs.
  std::promise<void> closed;
  asio::post(*contexts_[0], [this, &closed] {
    asio::error_code ec;
    acceptor_->close(ec);
    closed.set_value();
  });
  closed.get_future().wait();
  for (auto& conn : ctx_.Connections()) conn->CloseFromAnyThread("server stopping");
  // With the sockets closed, each io_context runs out of work once the aborted operations'
  // handlers have run.
  guards_.clear();
  for (auto& t : threads_) t.join();
  threads_.clear();
  acceptor_.reset();
  contexts_.clear();
  LOG_INFO("server stopped");
}

}  // namespace sluice::server
