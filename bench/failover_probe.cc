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
#include <fmt/format.h>
#include <signal.h>
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

#include "cluster_store.h"

namespace {

using Clock = std::chrono::steady_clock;
using sluice_bench::Die;
using sluice_bench::MakeStore;
using sluice_bench::Split;
using sluice_bench::Store;

struct Options : sluice_bench::StoreOptions {
  std::map<std::string, pid_t> pids;
  int victim_rank = 0;
  std::string prefix = "t0-";
  double warmup = 1;
  double tail = 0.3;
  double durable_grace = 3;
  double max_wait = 30;
  size_t value_size = 100;
};

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
