// File: server/server.h
//
// Server: the network front end. A fixed set of I/O threads, each running its own asio
// io_context; the listening socket lives on the first, and each accepted connection is assigned
// round-robin to one thread for its whole life (all of its socket I/O happens there).
// Connections past max_connections are refused with a log line.
//
// Ownership: owned by main (or a test). Borrows the ServerContext, which must outlive it.
// Thread safety: Listen() and Stop() from one controlling thread; port() from any.
#pragma once

#include <asio.hpp>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "server/server_context.h"

namespace sluice::server {

class Server {
 public:
  explicit Server(ServerContext& ctx);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds host:port (port 0 picks a free one), starts the I/O threads and accepts.
  Status Listen(const std::string& host, uint16_t port);
  uint16_t port() const { return port_.load(); }
  // Stops accepting, closes every connection and joins the I/O threads. Idempotent.
  void Stop();

 private:
  void Accept();

  ServerContext& ctx_;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
  std::unique_ptr<asio::ip::tcp::acceptor> acceptor_;
  std::atomic<uint16_t> port_{0};
  std::atomic<uint64_t> next_id_{1};
  size_t next_context_ = 0;  // accept handler only (I/O thread 0)
  bool stopped_ = false;
};

}  // namespace sluice::server
