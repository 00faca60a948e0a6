// File: tools/commands_tail.cc
//
// `sluice tail`: follows the change stream of a set of vbuckets and prints one line per change
// (tools/change_format.h), or with --latency measures write-to-receipt latency from timestamps
// that `sluice load --timestamp-values` embeds in the values. Runs until Ctrl-C (exit 0), --count
// changes, or every stream has ended.
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <variant>

#include "tools/change_format.h"
#include "tools/commands.h"
#include "tools/dcp_session.h"
#include "tools/histogram.h"
#include "tools/interrupt.h"
#include "tools/session.h"
#include "tools/vbucket_list.h"

namespace sluice::tools {
namespace {

using Clock = std::chrono::steady_clock;
using protocol::McbpStatus;

constexpr int kMaxRollbacks = 3;

// --latency: write -> receipt times of the mutations whose value starts with a timestamp.
class LatencyRecorder {
 public:
  void Record(std::string_view value, Clock::time_point now) {
    const auto now_ns = static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count());
    uint64_t sent_ns = 0;
    if (value.size() >= sizeof(sent_ns)) {
      // Little-endian, as `sluice load --timestamp-values` writes it (and as this machine is).
      std::memcpy(&sent_ns, value.data(), sizeof(sent_ns));
    }
    if (sent_ns == 0 || sent_ns > now_ns) {
      ++untimed_;
      return;
    }
    histogram_.Record(now_ns - sent_ns);
  }
  const LatencyHistogram& histogram() const { return histogram_; }
  uint64_t untimed() const { return untimed_; }

 private:
  LatencyHistogram histogram_;
  uint64_t untimed_ = 0;
};

void ReportLatency(const LatencyRecorder& recorder, uint64_t changes, double seconds, Output& out) {
  const LatencyHistogram& h = recorder.histogram();
  const double rate = seconds > 0 ? static_cast<double>(changes) / seconds : 0;
  if (out.json()) {
    out.Json({{"changes", changes},
              {"timed", h.Count()},
              {"untimed", recorder.untimed()},
              {"seconds", seconds},
              {"changes_per_sec", rate},
              {"min_us", Micros(h.Min())},
              {"p50_us", Micros(h.ValueAtPercentile(50))},
              {"p90_us", Micros(h.ValueAtPercentile(90))},
              {"p99_us", Micros(h.ValueAtPercentile(99))},
              {"p999_us", Micros(h.ValueAtPercentile(99.9))},
              {"max_us", Micros(h.Max())},
              {"mean_us", h.Mean() / 1000.0}});
    return;
  }
  Rows rows = {
      {"changes", std::to_string(changes)},
      {"timed", fmt::format("{} ({} without a timestamp)", h.Count(), recorder.untimed())},
      {"changes/s", fmt::format("{:.0f}", rate)},
      {"p50 µs", fmt::format("{:.1f}", Micros(h.ValueAtPercentile(50)))},
      {"p90 µs", fmt::format("{:.1f}", Micros(h.ValueAtPercentile(90)))},
      {"p99 µs", fmt::format("{:.1f}", Micros(h.ValueAtPercentile(99)))},
      {"p99.9 µs", fmt::format("{:.1f}", Micros(h.ValueAtPercentile(99.9)))},
      {"max µs", fmt::format("{:.1f}", Micros(h.Max()))},
  };
  out.Text(FormatTable(rows));
}

// Requests every stream; a rollback answer restarts that vbucket from the seqno the server
// names. Returns a failure, or nothing when all are open.
std::optional<Failure> OpenStreams(client::Connection& conn,
                                   const std::vector<VBucketTarget>& targets,
                                   const TailOptions& options, Output& out) {
  for (const VBucketTarget& t : targets) {
    StreamRange range;
    range.from = options.from;
    for (int attempt = 0;; ++attempt) {
      StatusOr<client::StreamReqResult> r = RequestStream(conn, t.vbucket, range);
      if (!r.ok()) return FailureFromStatus(r.status(), &conn);
      if (r->status == McbpStatus::kSuccess) break;
      if (r->status != McbpStatus::kRollback || attempt == kMaxRollbacks) {
        return StreamRequestFailure(t.vbucket, *r);
      }
      out.Warn(
          fmt::format("vbucket {}: seqno {} is not on the server's history; following from "
                      "seqno {} (the server's rollback point)",
                      t.vbucket, range.from.seqno, r->rollback_seqno));
      range.from = StartPosition{.latest = false, .seqno = r->rollback_seqno};
    }
  }
  return std::nullopt;
}

std::string DescribeStart(const StartPosition& from) {
  if (from.latest) return "from now on";
  if (from.seqno == 0) return "from the beginning";
  return fmt::format("after seqno {}", from.seqno);
}

}  // namespace

int RunTail(const CommandLine& cmd, Output& out) {
  const TailOptions& options = cmd.tail;
  // Declared before the watcher, so the watcher (whose callback touches the connection) goes
  // first.
  std::unique_ptr<client::Connection> conn;
  std::atomic<client::Connection*> live{nullptr};
  InterruptWatcher watcher([&live] {
    if (client::Connection* c = live.load()) c->ShutdownWrite();
  });

  SessionOptions session_options;
  session_options.agent = "sluice-tail";
  session_options.mutation_seqno = false;
  auto session = OpenSession(DcpConnectionFlags(cmd.connection), session_options);
  if (watcher.interrupted()) return ToInt(ExitCode::kOk);
  if (auto* failure = std::get_if<Failure>(&session)) return out.Fail(*failure);
  conn = std::move(std::get<std::unique_ptr<client::Connection>>(session));
  live.store(conn.get());
  if (watcher.interrupted()) return ToInt(ExitCode::kOk);  // the signal came before `live` was set

  auto resolved = ResolveVBuckets(*conn, options.vbuckets);
  if (auto* failure = std::get_if<Failure>(&resolved)) {
    return watcher.interrupted() ? ToInt(ExitCode::kOk) : out.Fail(*failure);
  }
  const auto& targets = std::get<std::vector<VBucketTarget>>(resolved);
  if (targets.empty())
    return out.Fail({ExitCode::kServerError, "the server has no active vbucket"});

  DcpSessionOptions dcp;
  dcp.name = options.name.empty() ? fmt::format("sluice-tail-{}", getpid()) : options.name;
  dcp.buffer_size = options.buffer_size;
  std::optional<Failure> failure = BeginDcp(*conn, dcp);
  if (!failure) failure = OpenStreams(*conn, targets, options, out);
  if (failure) return watcher.interrupted() ? ToInt(ExitCode::kOk) : out.Fail(*failure);
  if (options.verbose) {
    std::vector<Vbid> ids;
    ids.reserve(targets.size());
    for (const auto& t : targets) ids.push_back(t.vbucket);
    out.err() << fmt::format("sluice tail: following {} vbucket(s) ({}) {}; Ctrl-C to stop\n",
                             targets.size(), FormatVBucketList(ids), DescribeStart(options.from))
              << std::flush;
  }

  std::ostream& stream = out.out();
  LatencyRecorder latency;
  uint64_t changes = 0;
  size_t open = targets.size();
  size_t bad_ends = 0;
  Clock::time_point first_change;
  Clock::time_point last_change;
  auto on_change = [&](const ChangeView& change) {
    const Clock::time_point now = Clock::now();
    if (changes == 0) first_change = now;
    last_change = now;
    ++changes;
    if (options.latency) {
      if (change.kind == ChangeKind::kMutation) latency.Record(change.value, now);
      return;
    }
    if (out.json()) {
      out.Json(ChangeJson(change, options.show_values));
    } else {
      stream << FormatChangeText(change, options.show_values) << '\n';
    }
    stream.flush();
  };
  // Markers and stream ends: printed with --verbose (not in --latency mode).
  auto print_meta = [&](const nlohmann::json& json, const std::string& text) {
    if (!options.verbose || options.latency) return;
    if (out.json()) {
      out.Json(json);
    } else {
      stream << text << '\n';
    }
    stream.flush();
  };

  std::optional<Failure> broken;
  while (open > 0 && !(options.count && changes >= *options.count)) {
    StatusOr<client::DcpMessage> read = conn->ReadDcpMessage();
    if (!read.ok()) {
      if (!watcher.interrupted()) {
        broken = FailureFromStatus(read.status(), conn.get());
        broken->message = fmt::format("reading the DCP stream: {}", broken->message);
      }
      break;
    }
    const client::DcpMessage& message = *read;
    if (const auto* m = std::get_if<client::DcpMutation>(&message)) {
      on_change(ViewOf(*m));
    } else if (const auto* d = std::get_if<client::DcpDeletion>(&message)) {
      on_change(ViewOf(*d));
    } else if (const auto* x = std::get_if<client::DcpExpiration>(&message)) {
      on_change(ViewOf(*x));
    } else if (const auto* marker = std::get_if<protocol::DcpSnapshotMarker>(&message)) {
      print_meta(MarkerJson(*marker), FormatMarkerText(*marker));
    } else if (const auto* end = std::get_if<protocol::DcpStreamEnd>(&message)) {
      --open;
      print_meta(StreamEndJson(*end), FormatStreamEndText(*end));
      if (end->status != protocol::DcpStreamEndStatus::kOk) {
        ++bad_ends;
        out.Warn(fmt::format("vbucket {}: stream ended: {}", end->vbucket,
                             protocol::DcpStreamEndStatusName(end->status)));
      }
    }
  }
  if (broken) return out.Fail(*broken);
  if (options.latency) {
    ReportLatency(latency, changes,
                  std::chrono::duration<double>(last_change - first_change).count(), out);
  }
  return bad_ends > 0 ? ToInt(ExitCode::kServerError) : ToInt(ExitCode::kOk);
}

}  // namespace sluice::tools
