// File: client/socket.h
//
// Socket: an owned, connected TCP (or socketpair) file descriptor with deadline-bounded I/O, the
// only place in the client that touches POSIX sockets (and OpenSSL: after StartTls every read and
// write goes through a TLS session on the descriptor, with the same non-blocking contract). The
// descriptor is non-blocking; every wait goes through poll() with the caller's timeout, so a peer
// that stops answering turns into a kTempFail ("timed out") status instead of a hung test. errno
// values become Status in exactly one function (PosixError in socket.cc): kIoError for socket
// failures and end of stream.
//
// Ownership: a Socket owns its fd (and TLS session) and closes it on destruction; movable, not
// copyable.
// Thread safety: thread-compatible (one owner thread at a time).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

// OpenSSL's types, so this header does not pull in its headers.
struct ssl_st;
struct ssl_ctx_st;

namespace sluice::client {

class Socket {
 public:
  Socket() = default;
  // Adopts a connected descriptor (switches it to non-blocking).
  explicit Socket(int fd);
  ~Socket();
  Socket(Socket&& other) noexcept;
  Socket& operator=(Socket&& other) noexcept;
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;

  // Resolves `host` (name or literal) and connects to the first address that answers within
  // `timeout`; sets TCP_NODELAY.
  static StatusOr<Socket> Connect(const std::string& host, uint16_t port,
                                  std::chrono::milliseconds timeout);

  bool valid() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  // Runs a TLS client handshake (TLS 1.2 or later) within `timeout`. The server's certificate
  // must verify against the PEM certificates in `ca_file` and name `host` (an IP literal or a DNS
  // name). kIoError (with OpenSSL's reason) if the handshake or the verification fails.
  Status StartTls(const std::string& ca_file, const std::string& host,
                  std::chrono::milliseconds timeout);
  bool tls() const { return tls_ != nullptr; }

  // Reads whatever is available (at least one byte) into [data, data + capacity), waiting up to
  // `timeout` for the first byte. Returns the count; kIoError on end of stream or error.
  StatusOr<size_t> ReadSome(char* data, size_t capacity, std::chrono::milliseconds timeout);

  // Writes as much of `data` as the socket takes without blocking; returns the count (0 if the
  // socket buffer is full). kIoError on error.
  StatusOr<size_t> WriteSome(std::string_view data);

  // Waits until the socket is writable (want_write) and/or readable; reports which. kTempFail
  // after `timeout` with neither.
  struct Ready {
    bool readable = false;
    bool writable = false;
  };
  StatusOr<Ready> Wait(bool want_read, bool want_write, std::chrono::milliseconds timeout);
  // Waits up to `timeout` until the socket is readable or `wake_fd` (e.g. an eventfd another
  // thread writes to; -1 = none) is; does not read either. A timeout is no error: both false.
  struct Input {
    bool readable = false;
    bool woken = false;
  };
  StatusOr<Input> WaitForInput(std::chrono::milliseconds timeout, int wake_fd);

  // Half-closes the write side (the peer sees end of stream; over TLS after a close_notify); the
  // socket stays readable.
  void ShutdownWrite();
  void Close();

 private:
  struct TlsDeleter {
    void operator()(ssl_st* ssl) const;
    void operator()(ssl_ctx_st* ctx) const;
  };
  // Waits for what OpenSSL asked for after `ssl_error` (WANT_READ / WANT_WRITE) up to `timeout`.
  Status WaitForTls(int ssl_error, std::chrono::milliseconds timeout, std::string_view what);

  int fd_ = -1;
  std::unique_ptr<ssl_ctx_st, TlsDeleter> tls_ctx_;
  std::unique_ptr<ssl_st, TlsDeleter> tls_;
};

}  // namespace sluice::client
