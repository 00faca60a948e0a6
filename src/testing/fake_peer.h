// File: testing/fake_peer.h
//
// FakePeer: a scripted server for the client tests — the other end of a socketpair, driven by a
// test thread that reads the client's frames and writes whatever bytes the script wants
// (responses, DCP messages, garbage). Part of sluice_testing, never of sluice_client.
//
// Reads wait at most 10 s so a broken test fails instead of hanging.
//
// Ownership: the test owns the FakePeer; the client's end is handed to a Connection.
// Thread safety: thread-compatible; the peer's methods run on the script thread.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <string_view>
#include <utility>

#include "client/socket.h"
#include "protocol/encode.h"
#include "protocol/frame.h"

namespace sluice::client {

class FakePeer {
 public:
  // Returns the peer and the client's end of a fresh socketpair.
  static std::pair<FakePeer, Socket> Create() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) std::abort();
    return {FakePeer(fds[0]), Socket(fds[1])};
  }

  FakePeer(FakePeer&& other) noexcept : fd_(other.fd_), buf_(std::move(other.buf_)) {
    other.fd_ = -1;
  }
  FakePeer(const FakePeer&) = delete;
  FakePeer& operator=(const FakePeer&) = delete;
  ~FakePeer() { Close(); }

  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // The bytes of the next complete frame, or "" on end of stream / timeout.
  std::string ReadFrameBytes() {
    while (true) {
      const protocol::DecodeResult d = protocol::DecodeFrame(buf_, 1u << 30);
      if (d.status == protocol::DecodeStatus::kOk) {
        std::string frame = buf_.substr(0, d.size);
        buf_.erase(0, d.size);
        return frame;
      }
      if (d.status != protocol::DecodeStatus::kNeedMore) return {};
      pollfd pfd{fd_, POLLIN, 0};
      if (::poll(&pfd, 1, 10'000) <= 0) return {};
      char chunk[65536];
      const ssize_t n = ::read(fd_, chunk, sizeof(chunk));
      if (n <= 0) return {};
      buf_.append(chunk, static_cast<size_t>(n));
    }
  }

  void Write(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        return;
      }
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }

  // A response to `request` with the given status and sections.
  void Respond(const protocol::Frame& request, protocol::McbpStatus status,
               std::string_view value = {}, std::string_view extras = {}, std::string_view key = {},
               uint64_t cas = 0, uint8_t datatype = 0) {
    std::string out;
    protocol::ResponseFields r;
    r.opcode = request.client_opcode();
    r.status = status;
    r.opaque = request.opaque;
    r.cas = cas;
    r.datatype = datatype;
    r.extras = extras;
    r.key = key;
    r.value = value;
    protocol::AppendResponse(&out, r);
    Write(out);
  }

 private:
  explicit FakePeer(int fd) : fd_(fd) {}

  int fd_ = -1;
  std::string buf_;
};

// Views the single frame held in `bytes`.
inline protocol::Frame ViewFrame(const std::string& bytes) {
  return protocol::DecodeFrame(bytes, 1u << 30).frame;
}

}  // namespace sluice::client
