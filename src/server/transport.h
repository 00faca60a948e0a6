// File: server/transport.h
//
// Transport: the byte stream under a Connection. The Connection decides what to read and write
// and when; the transport moves the bytes and knows how its kind of stream opens and closes.
// Two kinds serve clients: TcpTransport (a plain socket) and TlsTransport (OpenSSL over a socket,
// through asio::ssl). Tests put a Connection on memory instead (server/memory_transport.h), so the
// command handlers run in-process without sockets.
//
// Ownership: shared_ptr. The Connection holds its transport; a TLS transport also holds itself
// while its closing handshake runs, which may outlive the connection.
//
// Thread safety: every method, and every completion handler, runs on executor() (the
// connection's I/O thread). At most one read and one write are in flight at a time.
#pragma once

#include <asio.hpp>
#include <asio/ssl.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace sluice::server {

// Who is at each end of a stream.
struct Endpoints {
  std::string peer = "?";                // "host:port" of the client
  std::string local_host = "127.0.0.1";  // the local address the client connected to
  uint16_t local_port = 0;               // the server port it connected to
};

class Transport {
 public:
  using StartHandler = std::function<void(const asio::error_code& ec)>;
  using IoHandler = std::function<void(const asio::error_code& ec, size_t bytes)>;

  virtual ~Transport() = default;

  virtual asio::any_io_executor executor() = 0;
  virtual const Endpoints& endpoints() const = 0;
  virtual bool tls() const = 0;

  // Makes the stream ready for reads and writes (TLS: the server handshake), then calls `done`
  // (never from inside this call). An error means the stream is unusable: close it.
  virtual void AsyncStart(StartHandler done) = 0;
  // Reads at least one byte into `into`; an error (asio::error::eof when the peer closed) ends
  // the stream.
  virtual void AsyncReadSome(asio::mutable_buffer into, IoHandler done) = 0;
  // Writes all of `data`, which must stay valid until `done` runs.
  virtual void AsyncWrite(asio::const_buffer data, IoHandler done) = 0;
  // Ends the stream (idempotent); operations in flight complete with an error. `graceful`: no
  // write is in flight, so a closing handshake may run first (TLS close_notify, when the stream
  // had no error).
  virtual void Close(bool graceful) = 0;
};

// A plain TCP connection (TCP_NODELAY on).
std::shared_ptr<Transport> MakeTcpTransport(asio::ip::tcp::socket socket);

// TLS over `socket` as the server, with `context` (which must outlive the transport). Close on a
// healthy stream sends close_notify and closes the socket once the peer answered, hung up, or
// kTlsShutdownTimeout passed.
inline constexpr std::chrono::seconds kTlsShutdownTimeout{1};
std::shared_ptr<Transport> MakeTlsTransport(asio::ip::tcp::socket socket,
                                            asio::ssl::context& context);

}  // namespace sluice::server
