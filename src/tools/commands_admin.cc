// File: tools/commands_admin.cc
//
// stats / vbucket-seqnos / failover-log / vbucket set, and the dispatch from a parsed command
// line to its subcommand.
#include <fmt/format.h>

#include <charconv>
#include <variant>

#include "tools/commands.h"
#include "tools/session.h"

namespace sluice::tools {
namespace {

// Runs fn(conn) on a fresh session; fn returns the exit code.
template <class Fn>
int WithSession(const CommandLine& cmd, Output& out, Fn&& fn) {
  auto session = OpenSession(cmd.connection);
  if (auto* failure = std::get_if<Failure>(&session)) return out.Fail(*failure);
  return fn(*std::get<std::unique_ptr<client::Connection>>(session));
}

// A stat value as JSON: integers as numbers, everything else as the string the server sent.
nlohmann::json StatValue(const std::string& value) {
  const char* begin = value.data();
  const char* end = begin + value.size();
  if (!value.empty() && value[0] == '-') {
    int64_t n = 0;
    const auto [ptr, ec] = std::from_chars(begin, end, n);
    if (ec == std::errc() && ptr == end) return n;
  } else {
    uint64_t n = 0;
    const auto [ptr, ec] = std::from_chars(begin, end, n);
    if (ec == std::errc() && ptr == end && !value.empty()) return n;
  }
  return value;
}

}  // namespace

int RunStats(const CommandLine& cmd, Output& out) {
  return WithSession(cmd, out, [&](client::Connection& conn) {
    auto stats = conn.Stats(cmd.stats_group);
    if (!stats.ok()) {
      Failure failure = FailureFromStatus(stats.status(), &conn);
      if (failure.code == ExitCode::kNotFound) {
        // KEY_ENOENT answers an unknown group: a usage error rather than a missing key.
        failure = {ExitCode::kUsage, fmt::format("unknown stats group '{}'", cmd.stats_group)};
      }
      return out.Fail(failure);
    }
    if (out.json()) {
      nlohmann::json json = nlohmann::json::object();
      for (const auto& [key, value] : *stats) json[key] = StatValue(value);
      out.Json(json);
    } else {
      Rows rows;
      rows.reserve(stats->size());
      for (const auto& [key, value] : *stats) rows.push_back({key, value});
      out.Text(FormatTable(rows));
    }
    return ToInt(ExitCode::kOk);
  });
}

int RunVbucketSeqnos(const CommandLine& cmd, Output& out) {
  return WithSession(cmd, out, [&](client::Connection& conn) {
    auto seqnos = conn.GetAllVbSeqnos();
    if (!seqnos.ok()) return out.Fail(FailureFromStatus(seqnos.status(), &conn));
    if (out.json()) {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& [vb, seqno] : *seqnos) {
        list.push_back({{"vbucket", vb}, {"high_seqno", seqno}});
      }
      out.Json({{"vbuckets", std::move(list)}});
    } else {
      Rows rows = {{"vbucket", "high_seqno"}};
      rows.reserve(seqnos->size() + 1);
      for (const auto& [vb, seqno] : *seqnos) {
        rows.push_back({std::to_string(vb), std::to_string(seqno)});
      }
      out.Text(FormatTable(rows));
    }
    return ToInt(ExitCode::kOk);
  });
}

int RunFailoverLog(const CommandLine& cmd, Output& out) {
  return WithSession(cmd, out, [&](client::Connection& conn) {
    auto log = conn.GetFailoverLog(cmd.failover_vbucket);
    if (!log.ok()) {
      Failure failure = FailureFromStatus(log.status(), &conn);
      if (failure.code == ExitCode::kNotMyVbucket) {
        failure.message = fmt::format(
            "failover-log {}: not my vbucket: vbucket {} is not active "
            "on this server",
            cmd.failover_vbucket, cmd.failover_vbucket);
      }
      return out.Fail(failure);
    }
    if (out.json()) {
      nlohmann::json entries = nlohmann::json::array();
      for (const auto& e : *log) entries.push_back({{"uuid", e.vbucket_uuid}, {"seqno", e.seqno}});
      out.Json({{"vbucket", cmd.failover_vbucket}, {"entries", std::move(entries)}});
    } else {
      Rows rows = {{"entry", "vbucket_uuid", "seqno"}};
      for (size_t i = 0; i < log->size(); ++i) {
        rows.push_back({std::to_string(i), std::to_string((*log)[i].vbucket_uuid),
                        std::to_string((*log)[i].seqno)});
      }
      out.Text(FormatTable(rows));
    }
    return ToInt(ExitCode::kOk);
  });
}

int RunVbucketSet(const CommandLine& cmd, Output& out) {
  return WithSession(cmd, out, [&](client::Connection& conn) {
    // The topology was checked while parsing; it goes as kv_engine's vbucket meta.
    const nlohmann::json topology =
        cmd.topology ? nlohmann::json::parse(*cmd.topology) : nlohmann::json();
    const std::string meta = cmd.topology ? nlohmann::json{{"topology", topology}}.dump() : "";
    Status s = conn.SetVBucket(cmd.state_vbucket, cmd.state, meta);
    if (!s.ok()) return out.Fail(FailureFromStatus(s, &conn));
    if (out.json()) {
      out.Json({{"vbucket", cmd.state_vbucket},
                {"state", VBucketStateName(cmd.state)},
                {"topology", topology}});
    } else {
      out.Text(fmt::format("vbucket {}: {}{}\n", cmd.state_vbucket, VBucketStateName(cmd.state),
                           cmd.topology ? ", topology " + topology.dump() : ""));
    }
    return ToInt(ExitCode::kOk);
  });
}

int RunCommand(const CommandLine& cmd, std::ostream& out_stream, std::ostream& err_stream) {
  Output out(out_stream, err_stream, cmd.connection.json);
  switch (cmd.command) {
    case Command::kGet:
      return RunGet(cmd, out);
    case Command::kSet:
      return RunSet(cmd, out);
    case Command::kRm:
      return RunRm(cmd, out);
    case Command::kTouch:
      return RunTouch(cmd, out);
    case Command::kStats:
      return RunStats(cmd, out);
    case Command::kVbucketSeqnos:
      return RunVbucketSeqnos(cmd, out);
    case Command::kFailoverLog:
      return RunFailoverLog(cmd, out);
    case Command::kVbucketSet:
      return RunVbucketSet(cmd, out);
    case Command::kLoad:
      return RunLoad(cmd, out);
    case Command::kTail:
      return RunTail(cmd, out);
    case Command::kDrain:
      return RunDrain(cmd, out);
    case Command::kClusterInit:
      return RunClusterInit(cmd, out);
    case Command::kClusterStatus:
      return RunClusterStatus(cmd, out);
    case Command::kClusterFailover:
      return RunClusterFailover(cmd, out);
    case Command::kClusterResetFailoverCount:
      return RunClusterResetFailoverCount(cmd, out);
    case Command::kClusterAdd:
      return RunClusterAdd(cmd, out);
    case Command::kClusterRemove:
      return RunClusterRemove(cmd, out);
    case Command::kClusterRebalance:
      return RunClusterRebalance(cmd, out);
  }
  return out.Fail({ExitCode::kUsage, "unknown command"});
}

}  // namespace sluice::tools
