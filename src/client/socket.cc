// File: client/socket.cc
#include "client/socket.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

}  // namespace

Socket::Socket(int fd) : fd_(fd) {
  if (fd_ >= 0) SetNonBlocking(fd_).IgnoreError();  // a socketpair/accepted fd: cannot fail
}

Socket::~Socket() { Close(); }

Socket::Socket(Socket&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }

Socket& Socket::operator=(Socket&& other) noexcept {
  if (this != &other) {
    Close();
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

void Socket::Close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

void Socket::ShutdownWrite() {
  if (fd_ >= 0) ::shutdown(fd_, SHUT_WR);
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

}  // namespace sluice::client
