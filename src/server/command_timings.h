// File: server/command_timings.h
//
// CommandTimings: how long the server took to execute each client opcode — one LatencyHistogram
// (common/latency_histogram.h) per opcode, recorded by the dispatcher around every request it
// runs — and its renderings for the STAT "timings" group, which (as kv_engine) answers the text
// form to a client whose HELLO agent name contains "cbstat" and JSON to everyone else:
//
//   AddTimingStats(kCbstats)  kv_engine's text form for cbstats (CBStatCollector with an
//                             HdrHistogram): per histogram "<name>_mean", "<name>_<lo>,<hi>" for
//                             each non-empty bucket (microseconds, inclusive), and
//                             "<name>_overflowed" / "<name>_maxTrackable" when samples overflowed.
//   AddTimingStats(kJson)     kv_engine's form for other clients: one stat per histogram whose
//                             value is HdrHistogram::to_json() — {"total", "bucketsLow", "data":
//                             [[upper, count, percentile]...], "overflowed", "overflowed_sum",
//                             "max_trackable"} (kv_engine's HdrHistogram JSON).
//
// Histogram names: the ep-engine command families kv_engine reports in its "timings" group
// (get_cmd, store_cmd, arith_cmd, get_stats_cmd, get_vb_cmd, set_vb_cmd, del_vb_cmd; each the
// merge of its opcodes), then "cmd_<opcode>" (the opcode's kv_engine name in lower case, e.g.
// cmd_get, cmd_set, cmd_dcp_stream_req) for every opcode that ran at least once. Empty
// histograms are left out, as kv_engine does.
//
// Ownership: one per server, owned by the ServerContext. Thread safety: thread-safe (I/O threads
// record; STAT handlers and the metrics HTTP thread read).
#pragma once

#include <array>
#include <chrono>
#include <string>
#include <string_view>

#include "common/latency_histogram.h"
#include "engine/engine_types.h"
#include "protocol/opcode.h"

namespace sluice::server {

class CommandTimings {
 public:
  CommandTimings() = default;
  CommandTimings(const CommandTimings&) = delete;
  CommandTimings& operator=(const CommandTimings&) = delete;

  void Record(protocol::Opcode op, std::chrono::nanoseconds duration) {
    histograms_[static_cast<uint8_t>(op)].Record(duration);
  }
  const LatencyHistogram& Of(protocol::Opcode op) const {
    return histograms_[static_cast<uint8_t>(op)];
  }
  // The merge of several opcodes' histograms.
  LatencyHistogram::Snapshot Merged(std::initializer_list<protocol::Opcode> ops) const;

 private:
  std::array<LatencyHistogram, 256> histograms_;
};

enum class TimingsFormat { kCbstats, kJson };

void AddTimingStats(const CommandTimings& timings, TimingsFormat format,
                    const engine::AddStatFn& add);

// One histogram in kv_engine's text form ("<name>_mean", "<name>_<lo>,<hi>", ...).
void AddCbstatsHistogram(std::string_view name, const LatencyHistogram::Snapshot& snapshot,
                         const engine::AddStatFn& add);
// HdrHistogram::to_json() of a snapshot (see the file comment).
std::string HdrHistogramJson(const LatencyHistogram::Snapshot& snapshot);

}  // namespace sluice::server
