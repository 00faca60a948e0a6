// File: server/metrics.h
//
// RenderMetrics: the server's counters, gauges and latency histograms as a Prometheus text page
// (server/prometheus_text.h), what GET /metrics answers (server/metrics_server.h).
//
// Names follow kv_engine's Prometheus exporter (statistics/stat_definitions.json: "kv_" + the
// stat's family, + "_bytes" / "_seconds" by unit; seconds and bytes are base units), with the
// label bucket="<name>" on bucket metrics, e.g. kv_curr_items, kv_mem_used_bytes,
// kv_ops{op="get",result="hit"}, kv_dcp_num_running_backfills and the per-opcode histogram
// kv_cmd_duration_seconds{opcode="GET"}. The values are read from the same sources as the STAT
// groups ("" , "dcp", "dcpagg"), so both views agree. Metrics sluice has and kv_engine does not
// are marked "(sluice)" in their HELP text.
//
// Thread safety: any thread (the metrics HTTP thread); everything it reads is thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/latency_histogram.h"
#include "server/server_context.h"

namespace sluice::server {

std::string RenderMetrics(ServerContext& ctx);

// The Prometheus buckets of a latency histogram: upper bounds 2^k microseconds (k = 0..26,
// about 67 s), in seconds, exact because every power of two is a LatencyHistogram boundary.
// Samples above the last bound are only in +Inf.
void AddLatencyHistogram(class PrometheusText* page, std::string_view name, std::string_view help,
                         const LatencyHistogram::Snapshot& snapshot,
                         const std::vector<std::pair<std::string, std::string>>& labels);

}  // namespace sluice::server
