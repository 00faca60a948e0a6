// File: bench/loopback_bw.cc
//
// sluice_loopback_bw: the bandwidth of one TCP connection over 127.0.0.1 on this machine, the
// ceiling for any one-connection stream such as `sluice drain`. A sender thread writes `--chunk`
// byte blocks as fast as the socket takes them for `--seconds`, then closes; the receiver (the
// main thread) reads into a 256 KiB buffer, as the client library does, and discards. The figure
// is bytes received over the time from the first byte to end of stream.
//
//   sluice_loopback_bw [--seconds S (3)] [--chunk BYTES (65536)] [--json]
//
// Output: bytes, seconds, mb_per_sec (10^6 bytes per MB), gbit_per_sec. Exit status 1 on a socket
// error.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

int Fail(const std::string& what) {
  fmt::print(stderr, "sluice_loopback_bw: {}: {}\n", what, std::strerror(errno));
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3.0;
  size_t chunk = 64 * 1024;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json") {
      json = true;
    } else if (arg == "--seconds" && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else if (arg == "--chunk" && i + 1 < argc) {
      chunk = static_cast<size_t>(std::atol(argv[++i]));
    } else {
      fmt::print(stderr, "usage: {} [--seconds S] [--chunk BYTES] [--json]\n", argv[0]);
      return 2;
    }
  }
  if (!(seconds > 0) || chunk == 0) {
    fmt::print(stderr, "sluice_loopback_bw: --seconds and --chunk must be positive\n");
    return 2;
  }

  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) return Fail("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return Fail("bind");
  if (listen(listener, 1) != 0) return Fail("listen");
  if (getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return Fail("getsockname");
  }

  std::atomic<bool> send_failed{false};
  std::thread sender([&] {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      send_failed = true;
      if (fd >= 0) close(fd);
      return;
    }
    const std::vector<char> block(chunk, 'x');
    const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(seconds));
    while (Clock::now() < deadline) {
      size_t sent = 0;
      while (sent < block.size()) {
        const ssize_t n = send(fd, block.data() + sent, block.size() - sent, MSG_NOSIGNAL);
        if (n < 0) {
          if (errno == EINTR) continue;
          send_failed = true;
          close(fd);
          return;
        }
        sent += static_cast<size_t>(n);
      }
    }
    close(fd);
  });

  const int conn = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (conn < 0) {
    sender.join();
    return Fail("accept");
  }
  std::vector<char> buffer(256 * 1024);
  uint64_t bytes = 0;
  Clock::time_point first;
  Clock::time_point last;
  while (true) {
    const ssize_t n = recv(conn, buffer.data(), buffer.size(), 0);
    if (n > 0) {
      if (bytes == 0) first = Clock::now();
      bytes += static_cast<uint64_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    last = Clock::now();
    if (n < 0) {
      sender.join();
      return Fail("recv");
    }
    break;
  }
  sender.join();
  close(conn);
  close(listener);
  if (send_failed) {
    fmt::print(stderr, "sluice_loopback_bw: the sender failed\n");
    return 1;
  }
  const double elapsed = std::chrono::duration<double>(last - first).count();
  const double mb_per_sec = elapsed > 0 ? static_cast<double>(bytes) / 1e6 / elapsed : 0;
  if (json) {
    fmt::print(
        "{{\"bytes\":{},\"seconds\":{:.6f},\"mb_per_sec\":{:.1f},\"gbit_per_sec\":{:.2f}}}\n",
        bytes, elapsed, mb_per_sec, mb_per_sec * 8 / 1000);
  } else {
    fmt::print("{} bytes in {:.3f} s: {:.1f} MB/s ({:.2f} Gbit/s)\n", bytes, elapsed, mb_per_sec,
               mb_per_sec * 8 / 1000);
  }
  return 0;
}
