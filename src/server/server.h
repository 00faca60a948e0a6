// File: server/server.h
//
// Server: the network front end. A fixed set of I/O threads, each running its own asio
// io_context; the listening socket lives on the first, and each accepted connection is assigned
// round-robin to one thread for its whole life (all of its socket I/O happens there).
// Connections past max_connections are refused with a log line: accepted, then closed at once
// (the client sees end-of-stream), so the backlog does not fill with connections we will never
// serve; established connections are not affected.
//
// TLS (optional): a second acceptor on its own port, on the same I/O thread as the first. Its
// connections wrap their socket in TLS (OpenSSL through asio::ssl, TLS 1.2 or later, the
// certificate chain and key read from PEM files at Listen) and then speak exactly the same
// protocol; max_connections counts both ports together.
//
// Ownership: owned by main (or a test). Borrows the ServerContext, which must outlive it.
// Connections are shared (the DCP producer's notifier is a weak_ptr to one, promoted on executor
// threads), so the io_contexts they use live until ~Server, not only until Stop: destroy the
// Server only when no other thread can hold a Connection (main does it after the executor
// stops).
// Thread safety: Listen() and Stop() from one controlling thread; port() from any.
#pragma once

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "server/server_context.h"

namespace sluice::server {

// Where and with what to serve TLS.
struct TlsListenOptions {
  uint16_t port = 0;      // 0 picks a free one
  std::string cert_file;  // PEM certificate chain, the server's certificate first
  std::string key_file;   // PEM private key of that certificate
};

class Server {
 public:
  explicit Server(ServerContext& ctx);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port (port 0 picks a free one) and, if `tls` is set, host:tls->port for TLS,
  // starts the I/O threads and accepts. kInvalid if the certificate or key cannot be used.
  Status Listen(const std::string& host, uint16_t port,
                const std::optional<TlsListenOptions>& tls = std::nullopt);
  uint16_t port() const { return port_.load(); }
  // The TLS port once listening with TLS, else 0.
  uint16_t tls_port() const { return tls_port_.load(); }
  // Stops accepting, closes every connection and joins the I/O threads. Idempotent.
  void Stop();

 private:
  // Accepts the next connection on `acceptor`; `tls` is the TLS context for its connections
  // (null: plain TCP).
  void Accept(asio::ip::tcp::acceptor* acceptor, asio::ssl::context* tls);
  StatusOr<std::unique_ptr<asio::ip::tcp::acceptor>> Bind(const std::string& host, uint16_t port);

  ServerContext& ctx_;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
  std::unique_ptr<asio::ip::tcp::acceptor> acceptor_;
  // TLS: the context every TLS connection borrows (outlives them: connections are closed and
  // the I/O threads joined in Stop before it goes) and the second acceptor.
  std::unique_ptr<asio::ssl::context> tls_context_;
  std::unique_ptr<asio::ip::tcp::acceptor> tls_acceptor_;
  std::atomic<uint16_t> port_{0};
  std::atomic<uint16_t> tls_port_{0};
  std::atomic<uint64_t> next_id_{1};
  size_t next_context_ = 0;  // accept handler only (I/O thread 0)
  bool stopped_ = false;
};

}  // namespace sluice::server
