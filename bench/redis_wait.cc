// sluice_redis_wait: the Redis side of bench/durable_latency.sh. Redis's nearest equivalent of a
// `majority` durable write with one replica is `SET` followed by `WAIT 1 0` (the primary answers
// WAIT once one replica has acknowledged the replication offset of the SET, in memory; no
// timeout). Each connection runs that pair in a closed loop (one pair in flight, both commands
// written at once, both replies read) for --duration seconds; every pair's round trip is recorded.
// Prints one JSON object: ops, seconds, ops_per_sec, p50_us, p90_us, p99_us, p999_us, max_us,
// mean_us, errors (a WAIT answering fewer replicas than asked counts as an error).
//
//   sluice_redis_wait --port P [--host 127.0.0.1] [--connections 1] [--duration 10]
//                     [--keys 1000000] [--value-size 100] [--replicas 1]
//
// Plain blocking sockets and a minimal RESP reader: the two replies are "+OK" and ":N".
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace {

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  int connections = 1;
  double duration = 10;
  uint64_t keys = 1000000;
  size_t value_size = 100;
  int replicas = 1;
};

[[noreturn]] void Die(const std::string& message) {
  fmt::print(stderr, "sluice_redis_wait: {}\n", message);
  std::exit(1);
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--host")
      o.host = value;
    else if (flag == "--port")
      o.port = std::atoi(value);
    else if (flag == "--connections")
      o.connections = std::atoi(value);
    else if (flag == "--duration")
      o.duration = std::atof(value);
    else if (flag == "--keys")
      o.keys = std::strtoull(value, nullptr, 10);
    else if (flag == "--value-size")
      o.value_size = std::strtoull(value, nullptr, 10);
    else if (flag == "--replicas")
      o.replicas = std::atoi(value);
    else
      Die(fmt::format("unknown flag {}", flag));
  }
  if (o.port <= 0 || o.connections <= 0 || o.duration <= 0) Die("usage: --port P [...]");
  return o;
}

int Dial(const Options& o) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(o.port));
  if (fd < 0 || inet_pton(AF_INET, o.host.c_str(), &addr.sin_addr) != 1 ||
      connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    Die(fmt::format("cannot connect to {}:{}: {}", o.host, o.port, std::strerror(errno)));
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

// Reads one CRLF-terminated RESP line (the simple and integer replies SET and WAIT give).
class LineReader {
 public:
  explicit LineReader(int fd) : fd_(fd) {}
  std::string Next() {
    for (;;) {
      const size_t end = buffer_.find("\r\n", start_);
      if (end != std::string::npos) {
        std::string line = buffer_.substr(start_, end - start_);
        start_ = end + 2;
        return line;
      }
      buffer_.erase(0, start_);
      start_ = 0;
      char chunk[4096];
      const ssize_t n = read(fd_, chunk, sizeof(chunk));
      if (n <= 0) Die("redis closed the connection");
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

 private:
  int fd_;
  std::string buffer_;
  size_t start_ = 0;
};

std::string Bulk(std::string_view s) { return fmt::format("${}\r\n{}\r\n", s.size(), s); }

struct WorkerResult {
  std::vector<uint64_t> latencies_ns;
  uint64_t errors = 0;
};

void RunWorker(const Options& o, int index, std::chrono::steady_clock::time_point deadline,
               WorkerResult* result) {
  const int fd = Dial(o);
  LineReader reader(fd);
  std::mt19937_64 rng(static_cast<uint64_t>(index) * 7919 + 1);
  const std::string value(o.value_size, 'v');
  const std::string wait =
      fmt::format("*3\r\n$4\r\nWAIT\r\n{}$1\r\n0\r\n", Bulk(std::to_string(o.replicas)));
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string key = fmt::format("key{}", rng() % o.keys);
    const std::string request = "*3\r\n$3\r\nSET\r\n" + Bulk(key) + Bulk(value) + wait;
    const auto start = std::chrono::steady_clock::now();
    if (write(fd, request.data(), request.size()) != static_cast<ssize_t>(request.size())) {
      Die("short write");
    }
    const std::string set_reply = reader.Next();
    const std::string wait_reply = reader.Next();
    const auto end = std::chrono::steady_clock::now();
    result->latencies_ns.push_back(
        static_cast<uint64_t>(std::chrono::nanoseconds(end - start).count()));
    const bool acked = wait_reply.size() > 1 && wait_reply[0] == ':' &&
                       std::atoi(wait_reply.c_str() + 1) >= o.replicas;
    if (set_reply != "+OK" || !acked) ++result->errors;
  }
  close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = Parse(argc, argv);
  std::vector<WorkerResult> results(static_cast<size_t>(o.connections));
  std::vector<std::thread> workers;
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                    std::chrono::duration<double>(o.duration));
  for (int i = 0; i < o.connections; ++i) {
    workers.emplace_back(RunWorker, std::cref(o), i, deadline, &results[static_cast<size_t>(i)]);
  }
  for (auto& w : workers) w.join();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::vector<uint64_t> all;
  uint64_t errors = 0;
  for (auto& r : results) {
    all.insert(all.end(), r.latencies_ns.begin(), r.latencies_ns.end());
    errors += r.errors;
  }
  std::sort(all.begin(), all.end());
  auto at = [&](double p) -> double {
    if (all.empty()) return 0;
    size_t i = static_cast<size_t>(p / 100 * static_cast<double>(all.size()));
    return static_cast<double>(all[std::min(i, all.size() - 1)]) / 1000.0;
  };
  double sum = 0;
  for (uint64_t v : all) sum += static_cast<double>(v);
  fmt::print(
      "{{\"ops\":{},\"seconds\":{:.3f},\"ops_per_sec\":{:.0f},\"p50_us\":{:.1f},\"p90_us\":{:.1f},"
      "\"p99_us\":{:.1f},\"p999_us\":{:.1f},\"max_us\":{:.1f},\"mean_us\":{:.1f},\"errors\":{}}}\n",
      all.size(), seconds, static_cast<double>(all.size()) / seconds, at(50), at(90), at(99),
      at(99.9), at(100), all.empty() ? 0 : sum / static_cast<double>(all.size()) / 1000.0, errors);
  return 0;
}
