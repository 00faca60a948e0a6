// File: bench/early_termination.cc
//
// sluice_early_termination: how fast sluiced lets go of a DCP consumer's backfills when the
// consumer disconnects in the middle of them (issue 5, benchmark 5; run by
// bench/early_termination.sh). The figure is the time from the consumer's close() until the
// server's `ep_dcp_num_running_backfills` stat is back where it was before the consumer came
// (0 here: nothing else streams).
//
// A consumer: one connection (SASL PLAIN, bucket), DCP_OPEN producer, flow control with a small
// window (--window, never acknowledged, so the producer soon stops sending and the backfills
// stop on the connection's full backfill buffer unless they are still scanning), and --streams
// stream requests from seqno 0 for consecutive vbuckets (consumer i starts at vbucket
// i * streams, wrapping, so consumers backfill different vbuckets). Once the first DCP message
// has arrived the backfills are running; the consumer then closes its socket without reading
// the rest: unread data in the receive buffer makes the kernel send RST, an abrupt disconnect.
//
// Per round:
//   sequential   --consumers consumers one after another: connect, stream, read one message,
//                read the stats (running backfills R > 0 proves the disconnect is mid-backfill;
//                R == 0 means the backfill had already finished: counted as `finished_early`, no
//                sample), close, then poll `stats dcp` on a separate, persistent connection as
//                fast as it answers until the stat is 0. One sample per consumer: the time from
//                just before close() to the reply that showed 0 (an upper bound; the previous
//                reply, still non-zero, bounds it from below: `poll_us` is the mean poll interval).
//   batch        --consumers consumers connected at once, all streaming; closed one after another
//                as fast as close() goes; one sample per round: first close() -> stat at 0.
//                consumers x streams must not exceed ep_dcp_max_running_backfills: a consumer
//                whose backfills all wait for admission sends nothing, and its first read would
//                wait for the others (which never read) to finish.
// After each round the program waits until `ep_dcp_count` is 0 (every producer released) and,
// with --server-pid, reads the server's VmRSS --settle-ms later (the server gives freed memory
// back to the OS once its connection manager has seen a whole interval, 1 s, without a
// disconnect): growth over rounds would be a leak.
//
//   sluice_early_termination --port P [--host H] [--user U] [--password P] [--bucket B]
//       [--consumers 100] [--rounds 3] [--streams 32] [--window 65536] [--server-pid PID]
//       [--limit-ms 10000] [--poll-interval-us 0] [--settle-ms 2500]
//       [--mode both|sequential|batch] [--json]
//
// Output (--json: one object): samples, finished_early, p50_us, p90_us, p99_us, max_us, mean_us,
// poll_us, running_at_disconnect (mean R), batch_us and batch_running (backfills running just
// before the batch's close; one per round), rss_kib (before the first
// round, then after each), mem_used (the engine's own memory accounting, same points). Exit status
// 1 on a connection or protocol failure, or when the stat did not reach 0 within --limit-ms.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "client/connection.h"
#include "common/status.h"
#include "protocol/dcp_codec.h"
#include "protocol/feature.h"

namespace {

using sluice::Status;
using sluice::StatusOr;
using sluice::client::Connection;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  std::string user = "Administrator";
  std::string password = "password";
  std::string bucket = "default";
  uint32_t consumers = 100;
  uint32_t rounds = 3;
  uint32_t streams = 32;
  uint32_t window = 64 * 1024;
  int server_pid = 0;
  double limit_ms = 10'000;
  double poll_interval_us = 0;  // pause between stats polls (0: back to back)
  double settle_ms = 2500;      // producers gone -> RSS read
  bool sequential = true;
  bool batch = true;
  bool json = false;
};

double Micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

StatusOr<std::unique_ptr<Connection>> Open(const Options& o) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Connection::Connect(o.host, o.port));
  RETURN_IF_ERROR(
      conn->Hello("sluice-early-termination",
                  {sluice::protocol::Feature::kTcpNoDelay, sluice::protocol::Feature::kXerror,
                   sluice::protocol::Feature::kSelectBucket})
          .status());
  RETURN_IF_ERROR(conn->Authenticate(o.user, o.password, "PLAIN"));
  RETURN_IF_ERROR(conn->SelectBucket(o.bucket));
  return conn;
}

// The stat's value from one `stats dcp` call.
StatusOr<uint64_t> DcpStat(Connection& stats, std::string_view name) {
  // Only the bucket-wide figures: kv_engine's filter option with a port no connection uses
  // (the server's ports are never 0) lists no connection. Unfiltered, 100 producers of 32 streams
  // each are ~130k lines, and the poll's own cost would be what is measured.
  ASSIGN_OR_RETURN(auto pairs, stats.Stats(R"(dcp {"stream_format":"skip","filter":{"port":0}})"));
  for (const auto& [key, value] : pairs) {
    if (key == name) return std::strtoull(value.c_str(), nullptr, 10);
  }
  return Status(sluice::Errc::kNotFound, fmt::format("no {} in stats dcp", name));
}

// A consumer whose backfills are running: streams requested, first message received.
StatusOr<std::unique_ptr<Connection>> StartConsumer(const Options& o, uint32_t index,
                                                    uint32_t num_vbuckets, uint64_t round) {
  ASSIGN_OR_RETURN(std::unique_ptr<Connection> conn, Open(o));
  RETURN_IF_ERROR(conn->DcpOpen(fmt::format("early-termination-{}-{}", round, index),
                                sluice::protocol::kDcpOpenProducer));
  RETURN_IF_ERROR(conn->EnableDcpFlowControl(o.window));
  const uint32_t first = (index * o.streams) % num_vbuckets;
  for (uint32_t s = 0; s < o.streams && s < num_vbuckets; ++s) {
    sluice::protocol::DcpStreamReqRequest request;
    request.vbucket = static_cast<sluice::Vbid>((first + s) % num_vbuckets);
    ASSIGN_OR_RETURN(sluice::client::StreamReqResult result, conn->DcpStreamReq(request));
    if (result.status != sluice::protocol::McbpStatus::kSuccess) {
      return Status(sluice::Errc::kInternal,
                    fmt::format("stream request for vb {} answered {}", request.vbucket,
                                sluice::protocol::McbpStatusName(result.status)));
    }
  }
  RETURN_IF_ERROR(conn->ReadDcpMessage().status());
  return conn;
}

// Polls until the stat is 0; the time from `start` to the reply that showed it, and the polls.
StatusOr<std::pair<Clock::duration, uint64_t>> WaitNoRunningBackfills(Connection& stats,
                                                                      Clock::time_point start,
                                                                      const Options& o) {
  const double limit_ms = o.limit_ms;
  uint64_t polls = 0;
  while (true) {
    if (polls > 0 && o.poll_interval_us > 0) {
      std::this_thread::sleep_for(std::chrono::duration<double, std::micro>(o.poll_interval_us));
    }
    ASSIGN_OR_RETURN(uint64_t running, DcpStat(stats, "ep_dcp_num_running_backfills"));
    const Clock::time_point now = Clock::now();
    ++polls;
    if (running == 0) return std::make_pair(now - start, polls);
    if (Micros(now - start) > limit_ms * 1000) {
      return Status(
          sluice::Errc::kTempFail,
          fmt::format("{} backfills still running {} ms after the disconnect", running, limit_ms));
    }
  }
}

// The engine's own accounting of its memory (the default stats group's mem_used), in bytes.
StatusOr<uint64_t> MemUsed(Connection& stats) {
  ASSIGN_OR_RETURN(auto pairs, stats.Stats());
  for (const auto& [key, value] : pairs) {
    if (key == "mem_used") return std::strtoull(value.c_str(), nullptr, 10);
  }
  return Status(sluice::Errc::kNotFound, "no mem_used in the default stats");
}

Status WaitNoProducers(Connection& stats, double limit_ms) {
  const Clock::time_point start = Clock::now();
  while (true) {
    ASSIGN_OR_RETURN(uint64_t producers, DcpStat(stats, "ep_dcp_count"));
    if (producers == 0) return Status::Ok();
    if (Micros(Clock::now() - start) > limit_ms * 1000) {
      return Status(sluice::Errc::kTempFail,
                    fmt::format("{} DCP producers still registered", producers));
    }
  }
}

uint64_t RssKib(int pid) {
  if (pid <= 0) return 0;
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtoull(line.c_str() + 6, nullptr, 10);
  }
  return 0;
}

double Percentile(std::vector<double> sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t rank =
      static_cast<size_t>(std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  return sorted[std::min(sorted.size(), std::max<size_t>(rank, 1)) - 1];
}

bool ParseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (arg == "--json") {
      o->json = true;
      continue;
    }
    if ((v = next()) == nullptr) return false;
    if (arg == "--host") {
      o->host = v;
    } else if (arg == "--port") {
      o->port = static_cast<uint16_t>(std::atoi(v));
    } else if (arg == "--user") {
      o->user = v;
    } else if (arg == "--password") {
      o->password = v;
    } else if (arg == "--bucket") {
      o->bucket = v;
    } else if (arg == "--consumers") {
      o->consumers = static_cast<uint32_t>(std::atoi(v));
    } else if (arg == "--rounds") {
      o->rounds = static_cast<uint32_t>(std::atoi(v));
    } else if (arg == "--streams") {
      o->streams = static_cast<uint32_t>(std::atoi(v));
    } else if (arg == "--window") {
      o->window = static_cast<uint32_t>(std::atol(v));
    } else if (arg == "--server-pid") {
      o->server_pid = std::atoi(v);
    } else if (arg == "--limit-ms") {
      o->limit_ms = std::atof(v);
    } else if (arg == "--settle-ms") {
      o->settle_ms = std::atof(v);
    } else if (arg == "--poll-interval-us") {
      o->poll_interval_us = std::atof(v);
    } else if (arg == "--mode") {
      const std::string mode = v;
      if (mode != "both" && mode != "sequential" && mode != "batch") return false;
      o->sequential = mode != "batch";
      o->batch = mode != "sequential";
    } else {
      return false;
    }
  }
  return o->port != 0 && o->consumers > 0 && o->rounds > 0 && o->streams > 0 && o->window > 0;
}

int Fail(const Status& status, std::string_view what) {
  fmt::print(stderr, "sluice_early_termination: {}: {}\n", what, status.ToString());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseArgs(argc, argv, &o)) {
    fmt::print(stderr,
               "usage: {} --port P [--host H] [--user U] [--password P] [--bucket B] "
               "[--consumers N] [--rounds R] [--streams S] [--window BYTES] [--server-pid PID] "
               "[--limit-ms MS] [--poll-interval-us US] [--settle-ms MS] [--mode "
               "both|sequential|batch] [--json]\n",
               argv[0]);
    return 2;
  }
  auto stats_conn = Open(o);
  if (!stats_conn.ok()) return Fail(stats_conn.status(), "stats connection");
  Connection& stats = **stats_conn;
  auto vbuckets = stats.GetAllVbSeqnos();
  if (!vbuckets.ok()) return Fail(vbuckets.status(), "GET_ALL_VB_SEQNOS");
  const uint32_t num_vbuckets = static_cast<uint32_t>(vbuckets->size());
  if (num_vbuckets == 0) return Fail(Status(sluice::Errc::kInternal, "no vbuckets"), "setup");

  std::vector<double> samples;
  std::vector<double> batch_us;
  std::vector<uint64_t> batch_running_at_close;
  std::vector<uint64_t> rss_kib{RssKib(o.server_pid)};
  auto mem_before = MemUsed(stats);
  if (!mem_before.ok()) return Fail(mem_before.status(), "stats memory");
  std::vector<uint64_t> mem_used{*mem_before};
  uint64_t finished_early = 0;
  uint64_t polls = 0;
  double poll_time_us = 0;
  uint64_t running_total = 0;

  for (uint32_t round = 0; round < o.rounds; ++round) {
    // ---- sequential: one consumer at a time ----
    for (uint32_t i = 0; o.sequential && i < o.consumers; ++i) {
      auto consumer = StartConsumer(o, i, num_vbuckets, round * 2);
      if (!consumer.ok()) return Fail(consumer.status(), fmt::format("consumer {}", i));
      auto running = DcpStat(stats, "ep_dcp_num_running_backfills");
      if (!running.ok()) return Fail(running.status(), "stats dcp");
      if (*running == 0) ++finished_early;
      running_total += *running;
      const Clock::time_point start = Clock::now();
      consumer->reset();  // close(): RST, the receive buffer holds unread data
      auto waited = WaitNoRunningBackfills(stats, start, o);
      if (!waited.ok()) return Fail(waited.status(), "waiting for the backfills to stop");
      if (*running > 0) {
        samples.push_back(Micros(waited->first));
        polls += waited->second;
        poll_time_us += Micros(waited->first);
      }
    }
    // ---- batch: every consumer at once ----
    std::vector<std::unique_ptr<Connection>> all;
    all.reserve(o.consumers);
    for (uint32_t i = 0; o.batch && i < o.consumers; ++i) {
      auto consumer = StartConsumer(o, i, num_vbuckets, round * 2 + 1);
      if (!consumer.ok()) return Fail(consumer.status(), fmt::format("batch consumer {}", i));
      all.push_back(std::move(*consumer));
    }
    if (o.batch) {
      auto batch_running = DcpStat(stats, "ep_dcp_num_running_backfills");
      if (!batch_running.ok()) return Fail(batch_running.status(), "stats dcp");
      batch_running_at_close.push_back(*batch_running);
      const Clock::time_point start = Clock::now();
      all.clear();
      auto waited = WaitNoRunningBackfills(stats, start, o);
      if (!waited.ok()) return Fail(waited.status(), "waiting for the batch's backfills to stop");
      batch_us.push_back(Micros(waited->first));
    }

    Status gone = WaitNoProducers(stats, o.limit_ms);
    if (!gone.ok()) return Fail(gone, "waiting for the producers to go");
    if (o.server_pid > 0) {
      std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(o.settle_ms));
    }
    rss_kib.push_back(RssKib(o.server_pid));
    auto mem = MemUsed(stats);
    if (!mem.ok()) return Fail(mem.status(), "stats memory");
    mem_used.push_back(*mem);
    fmt::print(stderr, "round {}: {} samples so far, batch {:.0f} µs, RSS {} KiB, mem_used {}\n",
               round + 1, samples.size(), batch_us.empty() ? 0.0 : batch_us.back(), rss_kib.back(),
               mem_used.back());
  }

  std::sort(samples.begin(), samples.end());
  const double mean =
      samples.empty() ? 0 : std::accumulate(samples.begin(), samples.end(), 0.0) / samples.size();
  const double poll_us = polls > 0 ? poll_time_us / static_cast<double>(polls) : 0;
  const double running_mean =
      static_cast<double>(running_total) / static_cast<double>(o.consumers * o.rounds);
  const double max = samples.empty() ? 0 : samples.back();
  if (o.json) {
    fmt::print(
        "{{\"samples\":{},\"finished_early\":{},\"p50_us\":{:.1f},\"p90_us\":{:.1f},"
        "\"p99_us\":{:.1f},\"max_us\":{:.1f},\"mean_us\":{:.1f},\"poll_us\":{:.1f},"
        "\"running_at_disconnect\":{:.1f},\"batch_us\":[{:.0f}],\"batch_running\":[{}],"
        "\"rss_kib\":[{}],\"mem_used\":[{}],"
        "\"consumers\":{},\"rounds\":{},\"streams\":{},\"window\":{},\"vbuckets\":{}}}\n",
        samples.size(), finished_early, Percentile(samples, 50), Percentile(samples, 90),
        Percentile(samples, 99), max, mean, poll_us, running_mean, fmt::join(batch_us, ","),
        fmt::join(batch_running_at_close, ","), fmt::join(rss_kib, ","), fmt::join(mem_used, ","),
        o.consumers, o.rounds, o.streams, o.window, num_vbuckets);
  } else {
    fmt::print("disconnect -> no running backfills: {} samples ({} finished before the close)\n",
               samples.size(), finished_early);
    fmt::print("  p50 {:.1f} µs  p90 {:.1f} µs  p99 {:.1f} µs  max {:.1f} µs  (poll {:.1f} µs)\n",
               Percentile(samples, 50), Percentile(samples, 90), Percentile(samples, 99), max,
               poll_us);
    fmt::print("  running backfills at the disconnect: {:.1f} on average\n", running_mean);
    fmt::print("  batch of {}: {:.0f} µs per round ({} backfills running at the close)\n",
               o.consumers, fmt::join(batch_us, " / "), fmt::join(batch_running_at_close, " / "));
    fmt::print("  server RSS KiB: {}\n", fmt::join(rss_kib, " -> "));
    fmt::print("  server mem_used bytes: {}\n", fmt::join(mem_used, " -> "));
  }
  return 0;
}
