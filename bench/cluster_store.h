// bench/cluster_store.h: the smart clients of the cluster benchmarks (bench/failover_probe.cc,
// bench/rebalance_writer.cc), one interface over a sluice cluster and a Redis Cluster. A Store is
// one thread's client: its connections and the partition owners (vbucket / slot -> "host:port")
// it last saw. It follows the cluster as a smart client does: sluice, GET_CLUSTER_CONFIG from
// every node it knows, the highest (revEpoch, rev) winning; Redis, MOVED at once (ASK for one
// request, after ASKING), else CLUSTER SLOTS from the next node it knows. Each refused write is
// counted by its reason (refusals()): the status name (sluice), the error's first word (Redis),
// or "connection" when no answer came.
//
// Ownership: a Store owns its connections and holds the StoreOptions by reference (the caller's,
// which outlive it). Not thread-safe: one Store per thread.
#pragma once

#include <arpa/inet.h>
#include <errno.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "client/connection.h"
#include "common/types.h"
#include "protocol/status.h"

namespace sluice_bench {

using sluice::client::Connection;
using sluice::protocol::McbpStatus;

// What a Store needs of the command line.
struct StoreOptions {
  std::string side;                // "sluice" or "redis"
  std::vector<std::string> hosts;  // seeds, "host:port"
  std::string user = "bench";
  std::string password = "bench";
  int wait_timeout_ms = 1000;        // Redis WAIT of a durable write
  int durability_timeout_ms = 5000;  // sluice durable write's timeout
};

[[noreturn]] inline void Die(const std::string& message) {
  fmt::print(stderr, "{}: {}\n", program_invocation_short_name, message);
  std::exit(1);
}

inline std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  while (!s.empty()) {
    const size_t at = s.find(sep);
    out.emplace_back(s.substr(0, at));
    if (at == std::string_view::npos) break;
    s.remove_prefix(at + 1);
  }
  return out;
}

inline std::pair<std::string, uint16_t> HostPort(const std::string& addr) {
  const size_t colon = addr.rfind(':');
  if (colon == std::string::npos) Die(fmt::format("bad address {}", addr));
  return {addr.substr(0, colon), static_cast<uint16_t>(std::atoi(addr.c_str() + colon + 1))};
}

// ---- The two clusters behind one interface ----

// One thread's client of a cluster: its connections and the partition owners it last saw.
class Store {
 public:
  enum class Read { kFound, kMissing, kRetry };
  virtual ~Store() = default;
  virtual size_t PartitionOf(const std::string& key) const = 0;
  // Re-reads the topology; false if no node answered.
  virtual bool Refresh() = 0;
  // One attempt; true when acknowledged (durable: at the durable level) by `*by`.
  virtual bool Write(const std::string& key, const std::string& value, bool durable,
                     std::string* by) = 0;
  // One attempt to read `key` from its partition's owner.
  virtual Read Get(const std::string& key, std::string* value) = 0;
  const std::vector<std::string>& owners() const { return owners_; }
  // Refused write attempts by reason (see the header).
  const std::map<std::string, int64_t>& refusals() const { return refusals_; }

 protected:
  std::map<std::string, int64_t> refusals_;
  std::vector<std::string> owners_;  // by partition: the owner's "host:port", "" if none
  std::vector<std::string> known_;   // every address seen (seeds first)
  void Know(const std::string& addr) {
    if (std::find(known_.begin(), known_.end(), addr) == known_.end()) known_.push_back(addr);
  }
};

// sluice: memcached binary protocol, vbuckets by CRC32, the terse cluster config.
class SluiceStore : public Store {
 public:
  explicit SluiceStore(const StoreOptions& o) : o_(o) {
    for (const auto& h : o.hosts) Know(h);
  }

  size_t PartitionOf(const std::string& key) const override {
    return sluice::VBucketForKey(key, static_cast<uint32_t>(owners_.size()));
  }

  bool Refresh() override {
    int64_t best_epoch = -1, best_rev = -1;
    std::vector<std::string> best;
    for (size_t i = 0; i < known_.size(); ++i) {
      const std::string addr = known_[i];
      Connection* conn = Conn(addr);
      if (conn == nullptr) continue;
      auto r = conn->GetClusterConfig();
      if (!r.ok()) {
        conns_.erase(addr);
        continue;
      }
      if (r->status != McbpStatus::kSuccess) continue;
      const auto j = nlohmann::json::parse(r->value, nullptr, false);
      if (!j.is_object() || !j.contains("vBucketServerMap")) continue;
      const int64_t epoch = j.value("revEpoch", int64_t{0}), rev = j.value("rev", int64_t{0});
      if (std::tie(epoch, rev) <= std::tie(best_epoch, best_rev)) continue;
      const auto& map = j["vBucketServerMap"];
      std::vector<std::string> servers = map["serverList"].get<std::vector<std::string>>();
      std::vector<std::string> owners;
      for (const auto& chain : map["vBucketMap"]) {
        const int idx = chain.empty() ? -1 : chain[0].get<int>();
        owners.push_back(idx >= 0 && idx < static_cast<int>(servers.size())
                             ? servers[static_cast<size_t>(idx)]
                             : "");
      }
      for (const auto& s : servers) Know(s);
      best_epoch = epoch;
      best_rev = rev;
      best = std::move(owners);
    }
    if (best.empty()) return false;
    owners_ = std::move(best);
    return true;
  }

  bool Write(const std::string& key, const std::string& value, bool durable,
             std::string* by) override {
    const size_t vb = PartitionOf(key);
    *by = owners_[vb];
    Connection* conn = Conn(*by);
    if (conn == nullptr) {
      ++refusals_[by->empty() ? "no owner in the map" : "connect failed"];
      return false;
    }
    sluice::client::MutationOptions m;
    m.route.vbucket = static_cast<sluice::Vbid>(vb);
    if (durable) {
      m.durability =
          sluice::client::DurabilityRequirement{sluice::client::DurabilityLevel::kMajority,
                                                static_cast<uint16_t>(o_.durability_timeout_ms)};
    }
    auto r = conn->Set(key, value, m);
    if (!r.ok()) {
      conns_.erase(*by);
      ++refusals_["connection: " + r.status().ToString()];
      return false;
    }
    if (r->status == McbpStatus::kSuccess) return true;
    ++refusals_[std::string(sluice::protocol::McbpStatusName(r->status))];
    return false;
  }

  Read Get(const std::string& key, std::string* value) override {
    const size_t vb = PartitionOf(key);
    Connection* conn = Conn(owners_[vb]);
    if (conn == nullptr) return Read::kRetry;
    sluice::client::KeyOptions k;
    k.vbucket = static_cast<sluice::Vbid>(vb);
    auto r = conn->Get(key, k);
    if (!r.ok()) {
      conns_.erase(owners_[vb]);
      return Read::kRetry;
    }
    if (r->status == McbpStatus::kKeyEnoent) return Read::kMissing;
    if (r->status != McbpStatus::kSuccess) return Read::kRetry;
    *value = r->value;
    return Read::kFound;
  }

 private:
  // The connection to `addr` (HELLO, SASL PLAIN, bucket "default"), opened if needed; null if
  // it cannot be.
  Connection* Conn(const std::string& addr) {
    if (addr.empty()) return nullptr;
    auto it = conns_.find(addr);
    if (it != conns_.end()) return it->second.get();
    const auto [host, port] = HostPort(addr);
    sluice::client::ConnectOptions co;
    co.connect_timeout = std::chrono::seconds(2);
    co.io_timeout = std::chrono::seconds(30);
    auto conn = Connection::Connect(host, port, co);
    if (!conn.ok()) return nullptr;
    using F = sluice::protocol::Feature;
    if (!(*conn)
             ->Hello("failover-probe", {F::kTcpNoDelay, F::kXerror, F::kSelectBucket, F::kJson,
                                        F::kAltRequestSupport, F::kSyncReplication})
             .ok() ||
        !(*conn)->Authenticate(o_.user, o_.password, "PLAIN").ok() ||
        !(*conn)->SelectBucket("default").ok()) {
      return nullptr;
    }
    return (conns_[addr] = std::move(*conn)).get();
  }

  const StoreOptions& o_;
  std::map<std::string, std::unique_ptr<Connection>> conns_;
};

// ---- Redis: RESP over a blocking socket ----

struct Reply {
  char type = 0;  // '+', '-', ':', '$', '*'; 0 = the connection failed
  std::string str;
  int64_t integer = 0;
  bool null = false;
  std::vector<Reply> elements;
};

class RespConn {
 public:
  static std::unique_ptr<RespConn> Dial(const std::string& addr) {
    const auto [host, port] = HostPort(addr);
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    timeval tv{5, 0};  // a hung node fails the call, never the trial
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (fd < 0 || inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1 ||
        connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
      if (fd >= 0) close(fd);
      return nullptr;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return std::unique_ptr<RespConn>(new RespConn(fd));
  }
  ~RespConn() { close(fd_); }

  static std::string Command(const std::vector<std::string>& args) {
    std::string out = fmt::format("*{}\r\n", args.size());
    for (const auto& a : args) out += fmt::format("${}\r\n{}\r\n", a.size(), a);
    return out;
  }
  bool Send(const std::string& bytes) {
    return write(fd_, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
  }
  // The next reply; type 0 when the connection failed.
  Reply Next() {
    Reply r;
    std::string line;
    if (!Line(&line) || line.empty()) return r;
    r.type = line[0];
    const std::string rest = line.substr(1);
    if (r.type == '+' || r.type == '-') {
      r.str = rest;
    } else if (r.type == ':') {
      r.integer = std::atoll(rest.c_str());
    } else if (r.type == '$') {
      const long n = std::atol(rest.c_str());
      r.null = n < 0;
      if (n >= 0 && !Bytes(static_cast<size_t>(n) + 2, &r.str)) return Reply{};
      if (n >= 0) r.str.resize(static_cast<size_t>(n));
    } else if (r.type == '*') {
      const long n = std::atol(rest.c_str());
      for (long i = 0; i < n; ++i) {
        r.elements.push_back(Next());
        if (r.elements.back().type == 0) return Reply{};
      }
    } else {
      return Reply{};
    }
    return r;
  }

 private:
  explicit RespConn(int fd) : fd_(fd) {}
  bool Fill() {
    char chunk[16384];
    const ssize_t n = read(fd_, chunk, sizeof(chunk));
    if (n <= 0) return false;
    buf_.erase(0, pos_);
    pos_ = 0;
    buf_.append(chunk, static_cast<size_t>(n));
    return true;
  }
  bool Line(std::string* line) {
    size_t end;
    while ((end = buf_.find("\r\n", pos_)) == std::string::npos) {
      if (!Fill()) return false;
    }
    *line = buf_.substr(pos_, end - pos_);
    pos_ = end + 2;
    return true;
  }
  bool Bytes(size_t n, std::string* out) {
    while (buf_.size() - pos_ < n) {
      if (!Fill()) return false;
    }
    *out = buf_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  int fd_;
  std::string buf_;
  size_t pos_ = 0;
};

// Redis Cluster's key slot: CRC16 (XMODEM) of the key mod 16384 (the probe's keys have no {tag}).
inline uint16_t RedisSlot(std::string_view key) {
  uint16_t crc = 0;
  for (unsigned char c : key) {
    crc ^= static_cast<uint16_t>(c << 8);
    for (int i = 0; i < 8; ++i) {
      crc = static_cast<uint16_t>((crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1);
    }
  }
  return crc & 16383;
}

class RedisStore : public Store {
 public:
  explicit RedisStore(const StoreOptions& o) : o_(o) {
    for (const auto& h : o.hosts) Know(h);
    owners_.assign(16384, "");
  }

  size_t PartitionOf(const std::string& key) const override { return RedisSlot(key); }

  // CLUSTER SLOTS from the next known node in turn (views differ while a failover spreads).
  bool Refresh() override {
    for (size_t tries = 0; tries < known_.size(); ++tries) {
      const std::string addr = known_[next_++ % known_.size()];
      Reply r = Call(addr, {"CLUSTER", "SLOTS"});
      if (r.type != '*') continue;
      for (const auto& range : r.elements) {
        if (range.elements.size() < 3 || range.elements[2].elements.size() < 2) continue;
        for (size_t i = 3; i < range.elements.size(); ++i) {
          if (range.elements[i].elements.size() >= 2) Know(Addr(range.elements[i]));
        }
        const std::string owner = Addr(range.elements[2]);
        Know(owner);
        for (int64_t s = range.elements[0].integer; s <= range.elements[1].integer && s < 16384;
             ++s) {
          owners_[static_cast<size_t>(s)] = owner;
        }
      }
      return true;
    }
    return false;
  }

  bool Write(const std::string& key, const std::string& value, bool durable,
             std::string* by) override {
    *by = owners_[RedisSlot(key)];
    std::string request = RespConn::Command({"SET", key, value});
    if (durable) request += RespConn::Command({"WAIT", "1", std::to_string(o_.wait_timeout_ms)});
    Reply set, wait;
    if (!Send(*by, request, durable, &set, &wait)) return false;
    if (set.type == '-' && set.str.starts_with("ASK ")) {
      // The slot is migrating and the key is not (or no longer) on its owner: this request only
      // goes to the importing node, after ASKING.
      ++refusals_["ASK"];
      const auto parts = Split(set.str, ' ');
      if (parts.size() < 3) return false;
      *by = parts[2];
      Know(*by);
      if (!Send(*by, RespConn::Command({"ASKING"}) + request, durable, &set, &wait, 1)) {
        return false;
      }
    }
    if (set.type == '+' && wait.type == ':' && wait.integer >= 1) return true;
    if (set.type == '-') {
      ++refusals_[Split(set.str, ' ').front()];
    } else {
      ++refusals_["WAIT 0"];
    }
    Moved(set);
    return false;
  }

  Read Get(const std::string& key, std::string* value) override {
    const std::string addr = owners_[RedisSlot(key)];
    Reply r = Call(addr, {"GET", key});
    if (r.type == '$' && r.null) return Read::kMissing;
    if (r.type == '$') {
      *value = r.str;
      return Read::kFound;
    }
    Moved(r);
    return Read::kRetry;
  }

 private:
  static std::string Addr(const Reply& node) {
    return fmt::format("{}:{}", node.elements[0].str, node.elements[1].integer);
  }
  // "-MOVED <slot> <host:port>": the slot's owner, at once.
  void Moved(const Reply& r) {
    if (r.type != '-' || !r.str.starts_with("MOVED ")) return;
    const auto parts = Split(r.str, ' ');
    if (parts.size() < 3) return;
    owners_[static_cast<size_t>(std::atoi(parts[1].c_str())) % 16384] = parts[2];
    Know(parts[2]);
  }
  // Sends `request` to `addr` and reads its SET's (and durable: WAIT's) replies, after `skip`
  // replies of commands sent before them; false (counted) when the connection failed.
  bool Send(const std::string& addr, const std::string& request, bool durable, Reply* set,
            Reply* wait, int skip = 0) {
    RespConn* conn = Conn(addr);
    if (conn == nullptr || !conn->Send(request)) return Broken(addr);
    for (int i = 0; i < skip; ++i) {
      if (conn->Next().type == 0) return Broken(addr);
    }
    *set = conn->Next();
    *wait = durable ? conn->Next() : Reply{':', "", 1, false, {}};
    if (set->type == 0 || wait->type == 0) return Broken(addr);
    return true;
  }
  bool Broken(const std::string& addr) {
    ++refusals_["connection"];
    conns_.erase(addr);
    return false;
  }
  Reply Call(const std::string& addr, const std::vector<std::string>& args) {
    RespConn* conn = Conn(addr);
    if (conn == nullptr) return Reply{};
    if (!conn->Send(RespConn::Command(args))) {
      conns_.erase(addr);
      return Reply{};
    }
    Reply r = conn->Next();
    if (r.type == 0) conns_.erase(addr);
    return r;
  }
  RespConn* Conn(const std::string& addr) {
    if (addr.empty()) return nullptr;
    auto it = conns_.find(addr);
    if (it != conns_.end()) return it->second.get();
    auto conn = RespConn::Dial(addr);
    if (!conn) return nullptr;
    return (conns_[addr] = std::move(conn)).get();
  }

  const StoreOptions& o_;
  std::map<std::string, std::unique_ptr<RespConn>> conns_;
  size_t next_ = 0;
};

inline std::unique_ptr<Store> MakeStore(const StoreOptions& o) {
  if (o.side == "sluice") return std::make_unique<SluiceStore>(o);
  return std::make_unique<RedisStore>(o);
}

}  // namespace sluice_bench
