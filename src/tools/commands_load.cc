// File: tools/commands_load.cc
//
// `sluice load`: opens the connections, runs a LoadGenerator and reports its figures.
#include <fmt/format.h>

#include <variant>

#include "protocol/feature.h"
#include "protocol/frame_info.h"
#include "tools/commands.h"
#include "tools/histogram.h"
#include "tools/load_generator.h"
#include "tools/session.h"

namespace sluice::tools {
namespace {

void Report(const CommandLine& cmd, const LoadResult& r, uint32_t server_vbuckets, Output& out) {
  const LoadOptions& o = cmd.load;
  const LatencyHistogram& h = r.latency_ns;
  if (out.json()) {
    out.Json({{"ops", r.ops},
              {"seconds", r.seconds},
              {"ops_per_sec", r.ops_per_sec()},
              {"p50_us", Micros(h.ValueAtPercentile(50))},
              {"p90_us", Micros(h.ValueAtPercentile(90))},
              {"p99_us", Micros(h.ValueAtPercentile(99))},
              {"p999_us", Micros(h.ValueAtPercentile(99.9))},
              {"max_us", Micros(h.Max())},
              {"mean_us", h.Mean() / 1000.0},
              {"gets", r.gets},
              {"sets", r.sets},
              {"misses", r.misses},
              {"errors", r.errors},
              {"populated", r.populated},
              {"populate_errors", r.populate_errors},
              {"populate_retries", r.populate_retries},
              {"populate_seconds", r.populate_seconds},
              {"keys", o.keys},
              {"value_size", o.value_size},
              {"set_ratio", o.set_ratio},
              {"connections", o.connections},
              {"pipeline", o.pipeline},
              {"vbuckets_mode", o.vbucket_mode == VBucketMode::kCrc ? "crc" : "zero"},
              {"server_vbuckets", server_vbuckets},
              {"rate", o.rate ? nlohmann::json(*o.rate) : nlohmann::json(nullptr)},
              {"timestamp_values", o.timestamp_values},
              {"durability", o.durability ? nlohmann::json(std::string(
                                                protocol::DurabilityLevelName(o.durability->level)))
                                          : nlohmann::json(nullptr)}});
    return;
  }
  Rows rows;
  if (o.populate) {
    rows.push_back(
        {"populated",
         fmt::format("{} keys in {:.3f} s ({} errors, {} retried after TMPFAIL)", r.populated,
                     r.populate_seconds, r.populate_errors, r.populate_retries)});
  }
  rows.push_back({"ops", std::to_string(r.ops)});
  rows.push_back({"seconds", fmt::format("{:.3f}", r.seconds)});
  rows.push_back({"ops/s", fmt::format("{:.0f}", r.ops_per_sec())});
  rows.push_back({"p50 µs", fmt::format("{:.1f}", Micros(h.ValueAtPercentile(50)))});
  rows.push_back({"p90 µs", fmt::format("{:.1f}", Micros(h.ValueAtPercentile(90)))});
  rows.push_back({"p99 µs", fmt::format("{:.1f}", Micros(h.ValueAtPercentile(99)))});
  rows.push_back({"p99.9 µs", fmt::format("{:.1f}", Micros(h.ValueAtPercentile(99.9)))});
  rows.push_back({"max µs", fmt::format("{:.1f}", Micros(h.Max()))});
  rows.push_back({"gets/sets", fmt::format("{} / {}", r.gets, r.sets)});
  rows.push_back({"misses", std::to_string(r.misses)});
  rows.push_back({"errors", std::to_string(r.errors)});
  out.Text(FormatTable(rows));
}

}  // namespace

int RunLoad(const CommandLine& cmd, Output& out) {
  const LoadOptions& options = cmd.load;
  SessionOptions session_options;
  session_options.agent = "sluice-load";
  // Mutation tokens add 16 bytes to every SET answer; memcached has none. Keep it like-for-like.
  session_options.mutation_seqno = false;
  session_options.durable_writes = options.durability.has_value();

  std::vector<std::unique_ptr<client::Connection>> connections;
  connections.reserve(options.connections);
  for (uint32_t i = 0; i < options.connections; ++i) {
    auto session = OpenSession(cmd.connection, session_options);
    if (auto* failure = std::get_if<Failure>(&session)) return out.Fail(*failure);
    connections.push_back(std::move(std::get<std::unique_ptr<client::Connection>>(session)));
  }
  if (options.durability && !connections.front()->HasFeature(protocol::Feature::kSyncReplication)) {
    // Sent anyway: the server's answer (DurabilityImpossible, if it cannot) is the report.
    out.Warn(
        "the server did not agree to HELLO SyncReplication: it will probably refuse "
        "durable writes");
  }

  uint32_t server_vbuckets = 0;
  if (options.vbucket_mode == VBucketMode::kCrc) {
    auto count = FetchVBucketCount(*connections.front());
    if (auto* failure = std::get_if<Failure>(&count)) return out.Fail(*failure);
    const std::optional<uint32_t> vbuckets = std::get<std::optional<uint32_t>>(count);
    if (!vbuckets) {
      return out.Fail({ExitCode::kUsage,
                       "the server has no cluster config to compute vbuckets from "
                       "(plain memcached?): use --vbuckets-mode zero"});
    }
    server_vbuckets = *vbuckets;
  }

  LoadGenerator generator(options, server_vbuckets, std::move(connections));
  StatusOr<LoadResult> result = generator.Run();
  if (!result.ok()) {
    return out.Fail(
        {ExitCode::kConnection, fmt::format("load failed: {}", result.status().message())});
  }
  Report(cmd, *result, server_vbuckets, out);
  const uint64_t errors = result->errors + result->populate_errors;
  if (errors > 0) {
    const protocol::McbpStatus first =
        result->first_error.value_or(protocol::McbpStatus::kEinternal);
    // The figures above are the answer (one JSON object with --json); the failure goes to stderr.
    out.Warn(fmt::format("{} requests failed; the first failure status was {} ({:#04x})", errors,
                         protocol::McbpStatusName(first), static_cast<uint16_t>(first)));
    if (first == protocol::McbpStatus::kDurabilityImpossible && options.durability) {
      out.Warn(
          fmt::format("the server cannot meet --durability {} (DurabilityImpossible): it "
                      "does not support durable writes at that level",
                      protocol::DurabilityLevelName(options.durability->level)));
    }
    return ToInt(ExitCode::kServerError);
  }
  return ToInt(ExitCode::kOk);
}

}  // namespace sluice::tools
