// File: client/socket.cc
#include "client/socket.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace sluice::client {
namespace {

// The one errno -> Status translation of the client.
Status PosixError(std::string_view what, int err) {
  std::string message(what);
  message += ": ";
  message += std::strerror(err);
  return Status(Errc::kIoError, message);
}

Status SetNonBlocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL, 0);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) {
    return PosixError("fcntl(O_NONBLOCK)", errno);
  }
  return Status::Ok();
}

int PollMillis(std::chrono::milliseconds timeout) {
  const auto ms = timeout.count();
  if (ms < 0) return 0;
  return ms > 0x7fffffff ? 0x7fffffff : static_cast<int>(ms);
}

// poll() restarted on EINTR (with the full timeout again: good enough for a client).
int PollOne(int fd, short events, std::chrono::milliseconds timeout, short* revents) {
  pollfd pfd{fd, events, 0};
  int rc;
  do {
    rc = ::poll(&pfd, 1, PollMillis(timeout));
  } while (rc < 0 && errno == EINTR);
  *revents = pfd.revents;
  return rc;
}

// OpenSSL's error queue as text (and cleared).
std::string TlsErrors() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    char text[256];
    ERR_error_string_n(e, text, sizeof(text));
    if (!out.empty()) out += "; ";
    out += text;
  }
  return out.empty() ? "unknown TLS error" : out;
}

}  // namespace

void Socket::TlsDeleter::operator()(ssl_st* ssl) const { SSL_free(ssl); }
void Socket::TlsDeleter::operator()(ssl_ctx_st* ctx) const { SSL_CTX_free(ctx); }

Socket::Socket(int fd) : fd_(fd) {
  if (fd_ >= 0) SetNonBlocking(fd_).IgnoreError();  // a socketpair/accepted fd: cannot fail
}

Socket::~Socket() { Close(); }

Socket::Socket(Socket&& other) noexcept
    : fd_(other.fd_), tls_ctx_(std::move(other.tls_ctx_)), tls_(std::move(other.tls_)) {
  other.fd_ = -1;
}

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = other.fd_;
    tls_ctx_ = std::move(other.tls_ctx_);
    tls_ = std::move(other.tls_);
    other.fd_ = -1;
  }
  return *this;
}

void Socket::Close() {
  tls_.reset();  // no close_notify: the peer sees end of stream, as for plain TCP
  tls_ctx_.reset();
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void Socket::ShutdownWrite() {
  if (fd_ < 0) return;
  if (tls_) {
    SSL_shutdown(tls_.get());  // queues and sends close_notify; the answer is not awaited
    ERR_clear_error();
  }
  ::shutdown(fd_, SHUT_WR);
}

Status Socket::WaitForTls(int ssl_error, std::chrono::milliseconds timeout, std::string_view what) {
  short events = 0;
  if (ssl_error == SSL_ERROR_WANT_READ) {
    events = POLLIN;
  } else if (ssl_error == SSL_ERROR_WANT_WRITE) {
    events = POLLOUT;
  } else {
    return Status(Errc::kIoError, std::string(what) + ": " + TlsErrors());
  }
  short revents = 0;
  const int rc = PollOne(fd_, events, timeout, &revents);
  if (rc < 0) return PosixError("poll", errno);
  if (rc == 0) {
    return Status(Errc::kTempFail, std::string(what) + " timed out after " +
                                       std::to_string(timeout.count()) + " ms");
  }
  return Status::Ok();
}

Status Socket::StartTls(const std::string& ca_file, const std::string& host,
                        std::chrono::milliseconds timeout) {
  if (fd_ < 0 || tls_) return Status(Errc::kInvalid, "StartTls on a closed or TLS socket");
  tls_ctx_.reset(SSL_CTX_new(TLS_client_method()));
  if (!tls_ctx_ || SSL_CTX_set_min_proto_version(tls_ctx_.get(), TLS1_2_VERSION) != 1) {
    return Status(Errc::kIoError, "TLS context: " + TlsErrors());
  }
  if (SSL_CTX_load_verify_locations(tls_ctx_.get(), ca_file.c_str(), nullptr) != 1) {
    return Status(Errc::kIoError, "TLS CA file " + ca_file + ": " + TlsErrors());
  }
  SSL_CTX_set_verify(tls_ctx_.get(), SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_mode(tls_ctx_.get(),
                   SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  tls_.reset(SSL_new(tls_ctx_.get()));
  if (!tls_) return Status(Errc::kIoError, "TLS session: " + TlsErrors());
  X509_VERIFY_PARAM* param = SSL_get0_param(tls_.get());
  // An IP literal is checked against the certificate's IP addresses, a name against its names.
  if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) {
    ERR_clear_error();
    X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
    SSL_set_tlsext_host_name(tls_.get(), host.c_str());
  }
  SSL_set_fd(tls_.get(), fd_);
  while (true) {
    const int rc = SSL_connect(tls_.get());
    if (rc == 1) break;
    const int error = SSL_get_error(tls_.get(), rc);
    if (error != SSL_ERROR_WANT_READ && error != SSL_ERROR_WANT_WRITE) {
      const long verify = SSL_get_verify_result(tls_.get());
      std::string why = verify != X509_V_OK ? X509_verify_cert_error_string(verify) : TlsErrors();
      ERR_clear_error();
      tls_.reset();
      return Status(Errc::kIoError, "TLS handshake with " + host + ": " + why);
    }
    if (Status s = WaitForTls(error, timeout, "TLS handshake"); !s.ok()) {
      tls_.reset();
      return s;
    }
  }
  return Status::Ok();
}

StatusOr<Socket> Socket::Connect(const std::string& host, uint16_t port,
                                 std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* addrs = nullptr;
  const std::string service = std::to_string(port);
  const int gai = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &addrs);
  if (gai != 0) {
    return Status(Errc::kIoError, std::string("cannot resolve ") + host + ": " + gai_strerror(gai));
  }
  Status last(Errc::kIoError, "no address for " + host);
  for (addrinfo* a = addrs; a != nullptr; a = a->ai_next) {
    Socket sock(::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol));
    if (!sock.valid()) {
      last = PosixError("socket", errno);
      continue;
    }
    if (::connect(sock.fd(), a->ai_addr, a->ai_addrlen) != 0) {
      if (errno != EINPROGRESS) {
        last = PosixError("connect to " + host + ":" + service, errno);
        continue;
      }
      short revents = 0;
      const int rc = PollOne(sock.fd(), POLLOUT, timeout, &revents);
      if (rc == 0) {
        last = Status(Errc::kTempFail, "connect to " + host + ":" + service + " timed out after " +
                                           std::to_string(timeout.count()) + " ms");
        continue;
      }
      if (rc < 0) {
        last = PosixError("poll", errno);
        continue;
      }
      int err = 0;
      socklen_t len = sizeof(err);
      ::getsockopt(sock.fd(), SOL_SOCKET, SO_ERROR, &err, &len);
      if (err != 0) {
        last = PosixError("connect to " + host + ":" + service, err);
        continue;
      }
    }
    const int one = 1;
    ::setsockopt(sock.fd(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ::freeaddrinfo(addrs);
    return sock;
  }
  ::freeaddrinfo(addrs);
  return last;
}

StatusOr<size_t> Socket::ReadSome(char* data, size_t capacity, std::chrono::milliseconds timeout) {
  while (tls_) {
    size_t n = 0;
    errno = 0;
    const int rc = SSL_read_ex(tls_.get(), data, capacity, &n);
    if (rc == 1) return n;
    const int error = SSL_get_error(tls_.get(), rc);
    if (error == SSL_ERROR_ZERO_RETURN || (error == SSL_ERROR_SYSCALL && errno == 0) ||
        (error == SSL_ERROR_SSL &&
         ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
      ERR_clear_error();
      return Status(Errc::kIoError, "connection closed by peer");
    }
    if (error == SSL_ERROR_SYSCALL) return PosixError("TLS read", errno);
    RETURN_IF_ERROR(WaitForTls(error, timeout, "read"));
  }
  while (true) {
    const ssize_t n = ::recv(fd_, data, capacity, 0);
    if (n > 0) return static_cast<size_t>(n);
    if (n == 0) return Status(Errc::kIoError, "connection closed by peer");
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return PosixError("recv", errno);
    short revents = 0;
    const int rc = PollOne(fd_, POLLIN, timeout, &revents);
    if (rc == 0) {
      return Status(Errc::kTempFail,
                    "read timed out after " + std::to_string(timeout.count()) + " ms");
    }
    if (rc < 0) return PosixError("poll", errno);
  }
}

StatusOr<size_t> Socket::WriteSome(std::string_view data) {
  if (tls_) {
    if (data.empty()) return size_t{0};
    size_t n = 0;
    errno = 0;
    const int rc = SSL_write_ex(tls_.get(), data.data(), data.size(), &n);
    if (rc == 1) return n;
    const int error = SSL_get_error(tls_.get(), rc);
    // Retried by the caller with the same bytes once the socket is ready again.
    if (error == SSL_ERROR_WANT_WRITE || error == SSL_ERROR_WANT_READ) return size_t{0};
    if (error == SSL_ERROR_SYSCALL && errno != 0) return PosixError("TLS write", errno);
    return Status(Errc::kIoError, "TLS write: " + TlsErrors());
  }
  while (true) {
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return size_t{0};
    return PosixError("send", errno);
  }
}

StatusOr<Socket::Ready> Socket::Wait(bool want_read, bool want_write,
                                     std::chrono::milliseconds timeout) {
  if (want_read && tls_ && SSL_pending(tls_.get()) > 0) {
    // Decrypted bytes wait inside OpenSSL; poll() would not see them.
    return Ready{.readable = true, .writable = false};
  }
  short events = 0;
  if (want_read) events |= POLLIN;
  if (want_write) events |= POLLOUT;
  short revents = 0;
  const int rc = PollOne(fd_, events, timeout, &revents);
  if (rc < 0) return PosixError("poll", errno);
  if (rc == 0) {
    return Status(Errc::kTempFail,
                  "socket wait timed out after " + std::to_string(timeout.count()) + " ms");
  }
  Ready ready;
  // Errors and hang-ups surface through the next read or write.
  ready.readable = (revents & (POLLIN | POLLHUP | POLLERR)) != 0 && want_read;
  ready.writable = (revents & (POLLOUT | POLLERR | POLLHUP)) != 0 && want_write;
  return ready;
}

StatusOr<Socket::Input> Socket::WaitForInput(std::chrono::milliseconds timeout, int wake_fd) {
  if (tls_ && SSL_pending(tls_.get()) > 0) return Input{.readable = true, .woken = false};
  pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_fd, POLLIN, 0}};
  const nfds_t n = wake_fd >= 0 ? 2 : 1;
  int rc;
  do {
    rc = ::poll(fds, n, PollMillis(timeout));
  } while (rc < 0 && errno == EINTR);
  if (rc < 0) return PosixError("poll", errno);
  Input input;
  // Errors and hang-ups surface through the next read.
  input.readable = (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0;
  input.woken = n == 2 && (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) != 0;
  return input;
}

}  // namespace sluice::client
