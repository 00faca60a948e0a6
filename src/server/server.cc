#include "server/server.h"

#include <openssl/ssl.h>

#include <future>

#include "common/logging.h"
#include "server/connection.h"
#include "server/dispatcher.h"

namespace sluice::server {

Server::Server(ServerContext& ctx) : ctx_(ctx) {}

Server::~Server() { Stop(); }

namespace {

// A TLS server context: TLS 1.2 or later, the certificate chain and its key from PEM files.
StatusOr<std::unique_ptr<asio::ssl::context>> MakeTlsContext(const TlsListenOptions& options) {
  auto tls = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_server);
  asio::error_code ec;
  tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::single_dh_use,
                   ec);
  if (SSL_CTX_set_min_proto_version(tls->native_handle(), TLS1_2_VERSION) != 1) {
    return Status(Errc::kInvalid, "cannot require TLS 1.2");
  }
  tls->use_certificate_chain_file(options.cert_file, ec);
  if (ec) {
    return Status(Errc::kInvalid,
                  "--tls-cert " + options.cert_file + ": cannot use it: " + ec.message());
  }
  tls->use_private_key_file(options.key_file, asio::ssl::context::pem, ec);
  if (ec) {
    return Status(Errc::kInvalid,
                  "--tls-key " + options.key_file + ": cannot use it: " + ec.message());
  }
  if (SSL_CTX_check_private_key(tls->native_handle()) != 1) {
    return Status(Errc::kInvalid, "--tls-key " + options.key_file +
                                      " does not match the certificate in " + options.cert_file);
  }
  return tls;
}

}  // namespace

StatusOr<std::unique_ptr<asio::ip::tcp::acceptor>> Server::Bind(const std::string& host,
                                                                uint16_t port) {
  asio::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return Status(Errc::kInvalid, "invalid --host '" + host + "': " + ec.message());
  const asio::ip::tcp::endpoint endpoint(address, port);
  auto acceptor = std::make_unique<asio::ip::tcp::acceptor>(*contexts_[0]);
  acceptor->open(endpoint.protocol(), ec);
  if (!ec) acceptor->set_option(asio::ip::tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor->bind(endpoint, ec);
  if (!ec) acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Status(Errc::kIoError,
                  "cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
  }
  return acceptor;
}

Status Server::Listen(const std::string& host, uint16_t port,
                      const std::optional<TlsListenOptions>& tls) {
  if (tls) {
    ASSIGN_OR_RETURN(tls_context_, MakeTlsContext(*tls));
  }
  const size_t n = ctx_.config().io_threads;
  for (size_t i = 0; i < n; ++i) {
    contexts_.push_back(std::make_unique<asio::io_context>(1));
    guards_.push_back(asio::make_work_guard(*contexts_.back()));
  }
  ASSIGN_OR_RETURN(acceptor_, Bind(host, port));
  if (tls) {
    ASSIGN_OR_RETURN(tls_acceptor_, Bind(host, tls->port));
    tls_port_.store(tls_acceptor_->local_endpoint().port());
  }
  port_.store(acceptor_->local_endpoint().port());
  ctx_.set_port(port_.load());
  Accept(acceptor_.get(), nullptr);
  if (tls_acceptor_) Accept(tls_acceptor_.get(), tls_context_.get());
  for (size_t i = 0; i < n; ++i) {
    threads_.emplace_back([this, i] {
      pthread_setname_np(pthread_self(), ("io:" + std::to_string(i)).c_str());
      contexts_[i]->run();
    });
  }
  return Status::Ok();
}

void Server::Accept(asio::ip::tcp::acceptor* acceptor, asio::ssl::context* tls) {
  asio::io_context& target = *contexts_[next_context_];
  next_context_ = (next_context_ + 1) % contexts_.size();
  acceptor->async_accept(
      target, [this, acceptor, tls](const asio::error_code& ec, asio::ip::tcp::socket socket) {
        if (ec == asio::error::operation_aborted || !acceptor->is_open()) return;
        if (ec) {
          LOG_WARN("accept failed: {}", ec.message());
        } else if (ctx_.stats().curr_connections.load() >=
                   static_cast<int64_t>(ctx_.config().max_connections)) {
          ctx_.stats().rejected_connections.fetch_add(1, std::memory_order_relaxed);
          asio::error_code ignored;
          const auto peer = socket.remote_endpoint(ignored);
          LOG_WARN("refusing {}connection from {}:{}: max_connections ({}) reached",
                   tls != nullptr ? "TLS " : "", peer.address().to_string(), peer.port(),
                   ctx_.config().max_connections);
          socket.close(ignored);
        } else {
          auto transport = tls != nullptr ? MakeTlsTransport(std::move(socket), *tls)
                                          : MakeTcpTransport(std::move(socket));
          const uint64_t id = next_id_.fetch_add(1);
          auto conn = std::make_shared<Connection>(std::move(transport), ctx_, id, &Dispatch);
          // Start on the connection's own I/O thread.
          asio::post(conn->executor(), [conn] { conn->Start(); });
        }
        Accept(acceptor, tls);
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
    if (tls_acceptor_) tls_acceptor_->close(ec);
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
  tls_acceptor_.reset();
  // The io_contexts (and the TLS context) stay until ~Server: another thread may still hold a
  // Connection for a moment (a DCP backfill that promoted its producer's notifier), and the
  // last holder runs ~Connection, whose timer and socket use their io_context's services.
  LOG_INFO("server stopped");
}

}  // namespace sluice::server
