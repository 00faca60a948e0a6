// File: tools/commands_drain.cc
//
// `sluice drain`: opens the DCP connections, runs a Drainer with a progress line on a terminal
// and reports the totals (a table, or one JSON object).
#include <fmt/format.h>
#include <unistd.h>

#include <iostream>
#include <variant>

#include "tools/commands.h"
#include "tools/dcp_session.h"
#include "tools/drainer.h"
#include "tools/session.h"
#include "tools/vbucket_list.h"

namespace sluice::tools {
namespace {

constexpr auto kProgressInterval = std::chrono::milliseconds(200);

void Report(const DrainOptions& o, const DrainResult& r, size_t connections, Output& out) {
  if (out.json()) {
    nlohmann::json json = {{"items", r.items},
                           {"bytes", r.bytes},
                           {"seconds", r.seconds},
                           {"items_per_sec", r.items_per_sec()},
                           {"mb_per_sec", r.mb_per_sec()},
                           {"vbuckets", r.vbuckets},
                           {"mutations", r.mutations},
                           {"deletions", r.deletions},
                           {"expirations", r.expirations},
                           {"snapshot_markers", r.snapshot_markers},
                           {"streams_ended_ok", r.streams_ended_ok},
                           {"bad_stream_ends", r.bad_stream_ends},
                           {"connections", connections},
                           {"buffer_size", o.buffer_size},
                           {"from", o.from},
                           {"to", o.to ? nlohmann::json(*o.to) : nlohmann::json("latest")}};
    if (r.verified) {
      json["verify"] = {{"ok", r.verify_errors == 0},
                        {"errors", r.verify_errors},
                        {"messages", r.verify_messages}};
    }
    out.Json(json);
    return;
  }
  Rows rows = {
      {"items", fmt::format("{} ({} mutations, {} deletions, {} expirations)", r.items, r.mutations,
                            r.deletions, r.expirations)},
      {"bytes", fmt::format("{} ({:.1f} MB)", r.bytes, static_cast<double>(r.bytes) / 1e6)},
      {"seconds", fmt::format("{:.3f}", r.seconds)},
      {"items/s", fmt::format("{:.0f}", r.items_per_sec())},
      {"MB/s", fmt::format("{:.1f}", r.mb_per_sec())},
      {"vbuckets", fmt::format("{} ({} ended Ok)", r.vbuckets, r.streams_ended_ok)},
      {"snapshot markers", std::to_string(r.snapshot_markers)},
      {"connections", std::to_string(connections)},
  };
  if (r.verified) {
    rows.push_back({"verify", r.verify_errors == 0
                                  ? std::string("ok")
                                  : fmt::format("FAILED ({} errors)", r.verify_errors)});
  }
  out.Text(FormatTable(rows));
  for (const auto& message : r.verify_messages) out.Text("  " + message + "\n");
}

bool ShowProgress(ProgressMode mode) {
  switch (mode) {
    case ProgressMode::kAlways:
      return true;
    case ProgressMode::kNever:
      return false;
    case ProgressMode::kAuto:
      return isatty(STDERR_FILENO) == 1;
  }
  return false;
}

}  // namespace

int RunDrain(const CommandLine& cmd, Output& out) {
  const DrainOptions& options = cmd.drain;
  const ConnectionFlags flags = DcpConnectionFlags(cmd.connection);
  const std::string base_name =
      options.name.empty() ? fmt::format("sluice-drain-{}", getpid()) : options.name;

  SessionOptions session_options;
  session_options.agent = "sluice-drain";
  session_options.mutation_seqno = false;
  auto first = OpenSession(flags, session_options);
  if (auto* failure = std::get_if<Failure>(&first)) return out.Fail(*failure);
  std::vector<std::unique_ptr<client::Connection>> connections;
  connections.push_back(std::move(std::get<std::unique_ptr<client::Connection>>(first)));

  auto resolved = ResolveVBuckets(*connections.front(), options.vbuckets);
  if (auto* failure = std::get_if<Failure>(&resolved)) return out.Fail(*failure);
  std::vector<VBucketTarget> targets = std::move(std::get<std::vector<VBucketTarget>>(resolved));
  if (targets.empty())
    return out.Fail({ExitCode::kServerError, "the server has no active vbucket"});

  const size_t count = std::clamp<size_t>(options.connections, 1, targets.size());
  while (connections.size() < count) {
    auto session = OpenSession(flags, session_options);
    if (auto* failure = std::get_if<Failure>(&session)) return out.Fail(*failure);
    connections.push_back(std::move(std::get<std::unique_ptr<client::Connection>>(session)));
  }
  for (size_t i = 0; i < connections.size(); ++i) {
    DcpSessionOptions dcp;
    dcp.name = count == 1 ? base_name : fmt::format("{}-{}", base_name, i);
    dcp.buffer_size = options.buffer_size;
    if (auto failure = BeginDcp(*connections[i], dcp)) return out.Fail(*failure);
  }

  Drainer drainer(options, std::move(targets), std::move(connections));
  const bool progress = ShowProgress(options.progress);
  ProgressLine line(std::cerr, TerminalWidth(STDERR_FILENO));
  drainer.Start();
  if (progress) line.Update(drainer.Progress());
  while (!drainer.WaitFor(kProgressInterval)) {
    if (progress) line.Update(drainer.Progress());
  }
  if (progress) line.Clear();
  const DrainResult result = drainer.Finish();
  if (result.failure) return out.Fail(*result.failure);

  Report(options, result, count, out);
  if (!result.bad_stream_ends.empty()) {
    out.Warn(fmt::format("{} of {} streams did not end Ok, e.g. {}",
                         result.vbuckets - result.streams_ended_ok, result.vbuckets,
                         result.bad_stream_ends.front()));
    return ToInt(ExitCode::kServerError);
  }
  if (result.verified && result.verify_errors > 0) {
    out.Warn(fmt::format("verify failed: {} errors, the first: {}", result.verify_errors,
                         result.verify_messages.empty() ? "" : result.verify_messages.front()));
    return ToInt(ExitCode::kServerError);
  }
  return ToInt(ExitCode::kOk);
}

}  // namespace sluice::tools
