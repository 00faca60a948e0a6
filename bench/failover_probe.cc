// sluice_failover_probe: one failover trial of bench/failover.sh, against a sluice cluster or a
// Redis Cluster. Two writer threads write continuously over keys spread over every partition
// (vbucket / slot): a durable writer (sluice: SET with durability `majority`; Redis: SET + WAIT 1
// on one connection, a write counted acknowledged only when WAIT answers >= 1) and a plain
// writer. Each writer is a closed loop, one write in flight, that retries a key until it is
// acknowledged (so writer w's acknowledged keys are exactly w0 .. w(n-1)), following the cluster
// as a smart client does: on any refusal or broken connection it re-reads the topology (sluice:
// GET_CLUSTER_CONFIG from every node it knows, the highest (revEpoch, rev) wins; Redis: MOVED,
// else CLUSTER SLOTS from the next node it knows) and tries again 2 ms later.
//
// After --warmup seconds the probe picks the victim, the --victim-rank'th (modulo) of the nodes
// that own partitions, sorted by address, SIGKILLs it itself (its pid from --pid ADDR=PID) and
// times from just before kill(2) to the first write acknowledged by another node to a partition
// the victim owned ("affected"), per writer. The trial ends --tail seconds after both writers have
// written to an affected partition, or after the plain writer has and --durable-grace seconds
// passed (Redis has no replica left for the promoted primary's slots until the victim returns),
// or after --max-wait seconds. Then every acknowledged key is read back from its partition's
// owner: an absent key or another value is a lost write.
//
// Prints one JSON object: victim, kill_unix_ms (the kill's wall-clock time, to line up with
// logs), affected, kill_to_first_write_ms (either writer), plain_first_ms,
// durable_first_ms (-1: none within the trial), plain_acked, durable_acked, plain_lost,
// durable_lost, plain_lost_elsewhere and durable_lost_elsewhere (lost writes a node other than the
// killed one acknowledged: never expected), plain_lost_oldest_ms (how long before the kill the
// oldest lost plain write was acknowledged; negative: its answer was read after the kill, the
// killed node having sent it just before), refreshes.
//
//   sluice_failover_probe --side sluice|redis --hosts H:P[,H:P...] --pid H:P=PID [--pid ...]
//       [--victim-rank 0] [--prefix t0-] [--warmup 1] [--tail 0.3] [--durable-grace 3]
//       [--max-wait 30] [--value-size 100] [--user bench --password bench] [--vbuckets 0]
//       [--wait-timeout-ms 1000] (Redis WAIT)  [--durability-timeout-ms 5000] (sluice)
#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "client/connection.h"
#include "common/types.h"

namespace {

using Clock = std::chrono::steady_clock;
using sluice::client::Connection;
using sluice::protocol::McbpStatus;

struct Options {
  std::string side;
  std::vector<std::string> hosts;
  std::map<std::string, pid_t> pids;
  int victim_rank = 0;
  std::string prefix = "t0-";
  double warmup = 1;
  double tail = 0.3;
  double durable_grace = 3;
  double max_wait = 30;
  size_t value_size = 100;
  std::string user = "bench";
  std::string password = "bench";
  int wait_timeout_ms = 1000;
  int durability_timeout_ms = 5000;
};

[[noreturn]] void Die(const std::string& message) {
  fmt::print(stderr, "sluice_failover_probe: {}\n", message);
  std::exit(1);
}

std::vector<std::string> Split(std::string_view s, char sep) {
  std::vector<std::string> out;
  while (!s.empty()) {
    const size_t at = s.find(sep);
    out.emplace_back(s.substr(0, at));
    if (at == std::string_view::npos) break;
    s.remove_prefix(at + 1);
  }
  return out;
}

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--side") {
      o.side = value;
    } else if (flag == "--hosts") {
      o.hosts = Split(value, ',');
    } else if (flag == "--pid") {
      const size_t eq = value.find('=');
      if (eq == std::string::npos) Die("--pid wants ADDR=PID");
      o.pids[value.substr(0, eq)] = static_cast<pid_t>(std::atoi(value.c_str() + eq + 1));
    } else if (flag == "--victim-rank") {
      o.victim_rank = std::atoi(value.c_str());
    } else if (flag == "--prefix") {
      o.prefix = value;
    } else if (flag == "--warmup") {
      o.warmup = std::atof(value.c_str());
    } else if (flag == "--tail") {
      o.tail = std::atof(value.c_str());
    } else if (flag == "--durable-grace") {
      o.durable_grace = std::atof(value.c_str());
    } else if (flag == "--max-wait") {
      o.max_wait = std::atof(value.c_str());
    } else if (flag == "--value-size") {
      o.value_size = std::strtoull(value.c_str(), nullptr, 10);
    } else if (flag == "--user") {
      o.user = value;
    } else if (flag == "--password") {
      o.password = value;
    } else if (flag == "--wait-timeout-ms") {
      o.wait_timeout_ms = std::atoi(value.c_str());
    } else if (flag == "--durability-timeout-ms") {
      o.durability_timeout_ms = std::atoi(value.c_str());
    } else {
      Die(fmt::format("unknown flag {}", flag));
    }
  }
  if ((o.side != "sluice" && o.side != "redis") || o.hosts.empty()) {
    Die("usage: --side sluice|redis --hosts H:P[,H:P...] --pid H:P=PID ... (see the source)");
  }
  return o;
}

std::pair<std::string, uint16_t> HostPort(const std::string& addr) {
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

 protected:
  std::vector<std::string> owners_;  // by partition: the owner's "host:port", "" if none
  std::vector<std::string> known_;   // every address seen (seeds first)
  void Know(const std::string& addr) {
    if (std::find(known_.begin(), known_.end(), addr) == known_.end()) known_.push_back(addr);
  }
};

// sluice: memcached binary protocol, vbuckets by CRC32, the terse cluster config.
class SluiceStore : public Store {
 public:
  explicit SluiceStore(const Options& o) : o_(o) {
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
    if (conn == nullptr) return false;
    sluice::client::MutationOptions m;
    m.route.vbucket = static_cast<sluice::Vbid>(vb);
    if (durable) {
      m.durability =
          sluice::client::DurabilityRequirement{sluice::client::DurabilityLevel::kMajority,
                                                static_cast<uint16_t>(o_.durability_timeout_ms)};
    }
    auto r = conn->Set(key, value, m);
    if (!r.ok()) conns_.erase(*by);
    return r.ok() && r->status == McbpStatus::kSuccess;
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

  const Options& o_;
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
uint16_t RedisSlot(std::string_view key) {
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
  explicit RedisStore(const Options& o) : o_(o) {
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
    RespConn* conn = Conn(*by);
    if (conn == nullptr) return false;
    std::string request = RespConn::Command({"SET", key, value});
    if (durable) request += RespConn::Command({"WAIT", "1", std::to_string(o_.wait_timeout_ms)});
    if (!conn->Send(request)) return Broken(*by);
    const Reply set = conn->Next();
    const Reply wait = durable ? conn->Next() : Reply{':', "", 1};
    if (set.type == 0 || wait.type == 0) return Broken(*by);
    Moved(set);
    return set.type == '+' && wait.type == ':' && wait.integer >= 1;
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
  bool Broken(const std::string& addr) {
    conns_.erase(addr);
    return false;
  }
  Reply Call(const std::string& addr, const std::vector<std::string>& args) {
    RespConn* conn = Conn(addr);
    if (conn == nullptr) return Reply{};
    if (!conn->Send(RespConn::Command(args))) {
      Broken(addr);
      return Reply{};
    }
    Reply r = conn->Next();
    if (r.type == 0) Broken(addr);
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

  const Options& o_;
  std::map<std::string, std::unique_ptr<RespConn>> conns_;
  size_t next_ = 0;
};

std::unique_ptr<Store> MakeStore(const Options& o) {
  if (o.side == "sluice") return std::make_unique<SluiceStore>(o);
  return std::make_unique<RedisStore>(o);
}

// ---- The trial ----

// What the kill changed, published to the writers before `kill_ns` is set.
struct Trial {
  std::string victim;
  std::vector<bool> affected;       // by partition
  std::atomic<int64_t> kill_ns{0};  // steady clock; 0 before the kill
  std::atomic<bool> stop{false};
};

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
      .count();
}

struct Writer {
  bool durable = false;
  std::string prefix;
  std::vector<bool> by_victim;    // key i was acknowledged by the node the trial kills
  std::vector<int64_t> acked_ns;  // acknowledgement time of key i (acked keys: 0..n-1)
  std::atomic<int64_t> acked{0};
  std::atomic<int64_t> first_ns{0};  // first ack after the kill to an affected partition
  int64_t refreshes = 0;
  std::thread thread;
};

std::string Key(const Writer& w, int64_t i) { return fmt::format("{}{}", w.prefix, i); }
std::string Value(const std::string& key, size_t size) {
  std::string v = key + ":";
  v.resize(std::max(size, v.size()), 'v');
  return v;
}

void RunWriter(const Options& o, Trial* t, Writer* w) {
  auto store = MakeStore(o);
  while (!store->Refresh() && !t->stop.load())
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  std::string by;
  for (int64_t i = 0; !t->stop.load(); ++i) {
    const std::string key = Key(*w, i);
    const std::string value = Value(key, o.value_size);
    while (!t->stop.load()) {
      const int64_t sent = NowNs();
      if (store->Write(key, value, w->durable, &by)) {
        const int64_t kill = t->kill_ns.load();
        if (kill != 0 && sent >= kill && by != t->victim && w->first_ns.load() == 0 &&
            t->affected[store->PartitionOf(key)]) {
          w->first_ns.store(NowNs());
        }
        w->acked_ns.push_back(NowNs());
        w->by_victim.push_back(by == t->victim);
        w->acked.store(i + 1);
        break;
      }
      ++w->refreshes;
      store->Refresh();
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
}

// Chooses the victim from `store`'s topology.
void PickVictim(const Options& o, const Store& store, Trial* t) {
  std::set<std::string> owners(store.owners().begin(), store.owners().end());
  owners.erase("");
  if (owners.empty()) Die("no partition has an owner");
  auto it = owners.begin();
  std::advance(it, static_cast<long>(static_cast<size_t>(o.victim_rank) % owners.size()));
  t->victim = *it;
  if (!o.pids.contains(t->victim)) Die(fmt::format("no --pid for the victim {}", t->victim));
  for (const auto& owner : store.owners()) t->affected.push_back(owner == t->victim);
}

void Sleep(double seconds) { std::this_thread::sleep_for(std::chrono::duration<double>(seconds)); }

// Waits after the kill until the trial may end (see the header).
void AwaitRecovery(const Options& o, const Writer& plain, const Writer& durable, int64_t kill) {
  const int64_t max_ns = kill + static_cast<int64_t>(o.max_wait * 1e9);
  int64_t plain_at = 0;
  while (NowNs() < max_ns) {
    if (plain_at == 0 && plain.first_ns.load() != 0) plain_at = NowNs();
    if (durable.first_ns.load() != 0 && plain_at != 0) break;
    if (plain_at != 0 && NowNs() - plain_at > static_cast<int64_t>(o.durable_grace * 1e9)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  Sleep(o.tail);
}

struct Loss {
  int64_t lost = 0;
  int64_t lost_elsewhere = 0;  // acknowledged by a node that was not killed: never expected
  double oldest_ms = -1e9;     // the oldest lost write's acknowledgement, ms before the kill
};

// Reads every acknowledged key of `w` back.
Loss Verify(const Options& o, Store* store, const Writer& w, int64_t kill) {
  Loss loss;
  for (int64_t i = 0; i < static_cast<int64_t>(w.acked_ns.size()); ++i) {
    const std::string key = Key(w, i);
    std::string value;
    Store::Read r = Store::Read::kRetry;
    for (int tries = 0; tries < 2000 && r == Store::Read::kRetry; ++tries) {
      r = store->Get(key, &value);
      if (r == Store::Read::kRetry) {
        store->Refresh();
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    if (r == Store::Read::kRetry) Die(fmt::format("cannot read {} back", key));
    if (r == Store::Read::kFound && value == Value(key, o.value_size)) continue;
    ++loss.lost;
    const int64_t at = w.acked_ns[static_cast<size_t>(i)];
    if (!w.by_victim[static_cast<size_t>(i)]) ++loss.lost_elsewhere;
    loss.oldest_ms = std::max(loss.oldest_ms, static_cast<double>(kill - at) / 1e6);
  }
  return loss;
}

double MsSince(int64_t from, int64_t to) {
  return to == 0 ? -1 : static_cast<double>(to - from) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = Parse(argc, argv);
  auto store = MakeStore(o);
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (!store->Refresh()) {
    if (Clock::now() > deadline) Die("no node answered with a topology");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Trial t;
  PickVictim(o, *store, &t);
  Writer plain, durable;
  plain.prefix = o.prefix + "p";
  durable.prefix = o.prefix + "d";
  durable.durable = true;
  for (Writer* w : {&plain, &durable}) w->thread = std::thread(RunWriter, std::cref(o), &t, w);
  Sleep(o.warmup);
  for (int i = 0; i < 1000 && (plain.acked.load() == 0 || durable.acked.load() == 0); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (plain.acked.load() == 0 || durable.acked.load() == 0)
    Die("no write acknowledged before the kill");

  const auto kill_wall = std::chrono::system_clock::now();
  const int64_t kill = NowNs();
  t.kill_ns.store(kill);
  if (::kill(o.pids.at(t.victim), SIGKILL) != 0) Die(fmt::format("kill: {}", std::strerror(errno)));
  AwaitRecovery(o, plain, durable, kill);
  t.stop.store(true);
  for (Writer* w : {&plain, &durable}) w->thread.join();

  auto reader = MakeStore(o);
  while (!reader->Refresh()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const Loss plain_loss = Verify(o, reader.get(), plain, kill);
  const Loss durable_loss = Verify(o, reader.get(), durable, kill);

  const double plain_ms = MsSince(kill, plain.first_ns.load());
  const double durable_ms = MsSince(kill, durable.first_ns.load());
  double first = plain_ms;
  if (durable_ms >= 0 && (first < 0 || durable_ms < first)) first = durable_ms;
  fmt::print(
      "{{\"victim\":\"{}\",\"kill_unix_ms\":{},\"affected\":{},\"kill_to_first_write_ms\":{:.1f},"
      "\"plain_first_ms\":{:.1f},\"durable_first_ms\":{:.1f},\"plain_acked\":{},"
      "\"durable_acked\":{},\"plain_lost\":{},\"durable_lost\":{},\"plain_lost_elsewhere\":{},"
      "\"durable_lost_elsewhere\":{},\"plain_lost_oldest_ms\":{:.1f},\"refreshes\":{}}}\n",
      t.victim,
      std::chrono::duration_cast<std::chrono::milliseconds>(kill_wall.time_since_epoch()).count(),
      std::count(t.affected.begin(), t.affected.end(), true), first, plain_ms, durable_ms,
      plain.acked_ns.size(), durable.acked_ns.size(), plain_loss.lost, durable_loss.lost,
      plain_loss.lost_elsewhere, durable_loss.lost_elsewhere,
      plain_loss.lost > 0 ? plain_loss.oldest_ms : 0.0, plain.refreshes + durable.refreshes);
  return 0;
}
