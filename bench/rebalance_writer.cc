// sluice_rebalance_writer: the light writer of bench/rebalance.sh, against a sluice cluster or a
// Redis Cluster while it rebalances. One closed-loop writer, one write in flight, paced at --rate
// writes/s, writes new keys PREFIX0, PREFIX1, ... (--value-size bytes each), retrying a key until
// it is acknowledged and following the cluster as a smart client does (bench/cluster_store.h): a
// refused write re-reads the topology and is sent again 2 ms later. So the acknowledged keys are
// exactly PREFIX0 .. PREFIX(n-1).
//
// It writes until SIGTERM or SIGINT (or --max-seconds), then reads every acknowledged key back from
// its partition's owner (an absent key or another value is lost) and prints one JSON object:
// acked, lost, seconds (writing), refusals (refused attempts by reason: sluice status names such as
// TMPFAIL / NOT_MY_VBUCKET, Redis's MOVED / ASK / TRYAGAIN, "connection"), longest_retry_ms (the
// longest time from a key's first attempt to its acknowledgement).
//
//   sluice_rebalance_writer --side sluice|redis --hosts H:P[,H:P...] [--prefix w-] [--rate 1000]
//       [--value-size 100] [--max-seconds 3600] [--user bench --password bench]
#include <fmt/format.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <thread>

#include "cluster_store.h"

namespace {

using Clock = std::chrono::steady_clock;
using sluice_bench::Die;
using sluice_bench::MakeStore;
using sluice_bench::Split;
using sluice_bench::Store;

struct Options : sluice_bench::StoreOptions {
  std::string prefix = "w-";
  double rate = 1000;
  size_t value_size = 100;
  double max_seconds = 3600;
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
    } else if (flag == "--prefix") {
      o.prefix = value;
    } else if (flag == "--rate") {
      o.rate = std::atof(value.c_str());
    } else if (flag == "--value-size") {
      o.value_size = std::strtoull(value.c_str(), nullptr, 10);
    } else if (flag == "--max-seconds") {
      o.max_seconds = std::atof(value.c_str());
    } else if (flag == "--user") {
      o.user = value;
    } else if (flag == "--password") {
      o.password = value;
    } else {
      Die(fmt::format("unknown flag {}", flag));
    }
  }
  if ((o.side != "sluice" && o.side != "redis") || o.hosts.empty() || !(o.rate > 0)) {
    Die("usage: --side sluice|redis --hosts H:P[,H:P...] [--rate N] (see the source)");
  }
  return o;
}

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop.store(true); }

std::string Value(const std::string& key, size_t size) {
  std::string v = key + ":";
  v.resize(std::max(size, v.size()), 'v');
  return v;
}

struct Written {
  int64_t acked = 0;
  double seconds = 0;
  double longest_retry_ms = 0;
};

// Writes until stopped; `store`'s refusals count the refused attempts.
Written Write(const Options& o, Store* store) {
  Written w;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(o.max_seconds));
  const auto interval =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / o.rate));
  auto next = start;
  std::string by;
  while (!g_stop.load() && Clock::now() < end) {
    std::this_thread::sleep_until(next);
    next += interval;
    const std::string key = fmt::format("{}{}", o.prefix, w.acked);
    const std::string value = Value(key, o.value_size);
    const auto first = Clock::now();
    bool acked = false;
    while (!(acked = store->Write(key, value, false, &by)) && !g_stop.load()) {
      store->Refresh();
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (!acked) break;
    ++w.acked;
    w.longest_retry_ms =
        std::max(w.longest_retry_ms,
                 std::chrono::duration<double, std::milli>(Clock::now() - first).count());
  }
  w.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return w;
}

// Reads keys 0 .. acked-1 back; the number absent or with another value.
int64_t Lost(const Options& o, Store* store, int64_t acked) {
  int64_t lost = 0;
  for (int64_t i = 0; i < acked; ++i) {
    const std::string key = fmt::format("{}{}", o.prefix, i);
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
    if (r != Store::Read::kFound || value != Value(key, o.value_size)) ++lost;
  }
  return lost;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = Parse(argc, argv);
  signal(SIGTERM, OnSignal);
  signal(SIGINT, OnSignal);
  auto store = MakeStore(o);
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (!store->Refresh()) {
    if (Clock::now() > deadline) Die("no node answered with a topology");
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  const Written w = Write(o, store.get());
  auto reader = MakeStore(o);
  while (!reader->Refresh()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const int64_t lost = Lost(o, reader.get(), w.acked);
  nlohmann::json refusals = nlohmann::json::object();
  for (const auto& [reason, n] : store->refusals()) refusals[reason] = n;
  fmt::print("{}\n", nlohmann::json{{"acked", w.acked},
                                    {"lost", lost},
                                    {"seconds", w.seconds},
                                    {"longest_retry_ms", w.longest_retry_ms},
                                    {"refusals", refusals}}
                         .dump());
  return 0;
}
