// File: server/transport.cc
#include "server/transport.h"

#include <fmt/format.h>

namespace sluice::server {
namespace {

Endpoints EndpointsOf(asio::ip::tcp::socket& socket) {
  Endpoints e;
  asio::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  if (!ec) e.peer = fmt::format("{}:{}", remote.address().to_string(), remote.port());
  const auto local = socket.local_endpoint(ec);
  if (!ec) {
    e.local_host = local.address().to_string();
    e.local_port = local.port();
  }
  socket.set_option(asio::ip::tcp::no_delay(true), ec);
  return e;
}

void CloseSocket(asio::ip::tcp::socket& socket) {
  asio::error_code ec;
  socket.shutdown(asio::ip::tcp::socket::shutdown_both, ec);
  socket.close(ec);
}

class TcpTransport final : public Transport {
 public:
  explicit TcpTransport(asio::ip::tcp::socket socket)
      : socket_(std::move(socket)), endpoints_(EndpointsOf(socket_)) {}

  asio::any_io_executor executor() override { return socket_.get_executor(); }
  const Endpoints& endpoints() const override { return endpoints_; }
  bool tls() const override { return false; }

  void AsyncStart(StartHandler done) override {
    asio::post(socket_.get_executor(), [done = std::move(done)] { done(asio::error_code()); });
  }
  void AsyncReadSome(asio::mutable_buffer into, IoHandler done) override {
    socket_.async_read_some(into, std::move(done));
  }
  void AsyncWrite(asio::const_buffer data, IoHandler done) override {
    asio::async_write(socket_, data, std::move(done));
  }
  void Close(bool /*graceful*/) override { CloseSocket(socket_); }

 private:
  asio::ip::tcp::socket socket_;
  const Endpoints endpoints_;
};

class TlsTransport final : public Transport, public std::enable_shared_from_this<TlsTransport> {
 public:
  TlsTransport(asio::ip::tcp::socket socket, asio::ssl::context& context)
      : socket_(std::move(socket)),
        endpoints_(EndpointsOf(socket_)),
        stream_(socket_, context),
        shutdown_timer_(socket_.get_executor()) {}

  asio::any_io_executor executor() override { return socket_.get_executor(); }
  const Endpoints& endpoints() const override { return endpoints_; }
  bool tls() const override { return true; }

  void AsyncStart(StartHandler done) override {
    stream_.async_handshake(asio::ssl::stream_base::server,
                            [this, done = std::move(done)](const asio::error_code& ec) {
                              usable_ = !ec && socket_.is_open();
                              done(ec);
                            });
  }
  // A read or write error ends the stream: no close_notify exchange after it.
  void AsyncReadSome(asio::mutable_buffer into, IoHandler done) override {
    stream_.async_read_some(into,
                            [this, done = std::move(done)](const asio::error_code& ec, size_t n) {
                              if (ec) usable_ = false;
                              done(ec, n);
                            });
  }
  void AsyncWrite(asio::const_buffer data, IoHandler done) override {
    asio::async_write(stream_, data,
                      [this, done = std::move(done)](const asio::error_code& ec, size_t n) {
                        if (ec) usable_ = false;
                        done(ec, n);
                      });
  }
  void Close(bool graceful) override {
    if (!graceful || !usable_) {
      CloseSocket(socket_);
      return;
    }
    usable_ = false;
    // The pending read (if any) ends. Then close_notify, and the socket closes when the peer
    // answered with its own, hung up, or kTlsShutdownTimeout passed. The handlers hold this
    // transport: the connection may be gone by then.
    asio::error_code ec;
    socket_.cancel(ec);
    stream_.async_shutdown([self = shared_from_this()](const asio::error_code&) {
      CloseSocket(self->socket_);
      self->shutdown_timer_.cancel();
    });
    shutdown_timer_.expires_after(kTlsShutdownTimeout);
    shutdown_timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
      if (!ec) CloseSocket(self->socket_);
    });
  }

 private:
  asio::ip::tcp::socket socket_;
  const Endpoints endpoints_;
  // Over socket_ (declared after it: it refers to it).
  asio::ssl::stream<asio::ip::tcp::socket&> stream_;
  asio::steady_timer shutdown_timer_;
  bool usable_ = false;  // handshake done and no error on the stream since
};

}  // namespace

std::shared_ptr<Transport> MakeTcpTransport(asio::ip::tcp::socket socket) {
  return std::make_shared<TcpTransport>(std::move(socket));
}

std::shared_ptr<Transport> MakeTlsTransport(asio::ip::tcp::socket socket,
                                            asio::ssl::context& context) {
  return std::make_shared<TlsTransport>(std::move(socket), context);
}

}  // namespace sluice::server
