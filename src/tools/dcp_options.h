// File: tools/dcp_options.h
//
// The options of the two DCP subcommands, `sluice tail` and `sluice drain`, as plain values
// (filled in by command_line.cc, used by commands_tail.cc / commands_drain.cc), and the parsers of
// their --from / --to arguments.
//
// Thread safety: plain values; pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/types.h"

namespace sluice::tools {

// Where a stream starts.
struct StartPosition {
  bool latest = false;  // only changes made after the stream opens (DCP FromLatest)
  uint64_t seqno = 0;   // otherwise every change after this seqno (0 = from the beginning)
  friend bool operator==(const StartPosition&, const StartPosition&) = default;
};

// "latest" or a seqno.
StatusOr<StartPosition> ParseStartPosition(std::string_view text);
// "latest" (nullopt) or a seqno.
StatusOr<std::optional<uint64_t>> ParseEndPosition(std::string_view text);

struct TailOptions {
  std::optional<std::vector<Vbid>> vbuckets;  // nullopt: every active vbucket
  StartPosition from{.latest = true};
  bool show_values = false;
  bool verbose = false;             // also snapshot markers and stream ends; "following" on stderr
  std::optional<uint64_t> count;    // stop after this many changes
  std::string name;                 // DCP connection name; "" = "sluice-tail-<pid>"
  uint32_t buffer_size = 1u << 20;  // flow-control window, bytes (0 = no flow control)
  // Instead of printing changes: each mutation's value starts with the writer's steady-clock
  // nanoseconds (little-endian u64, `sluice load --timestamp-values`); report the latencies.
  bool latency = false;
};

enum class ProgressMode : uint8_t { kAuto, kAlways, kNever };

struct DrainOptions {
  std::optional<std::vector<Vbid>> vbuckets;  // nullopt: every active vbucket
  uint64_t from = 0;                          // changes after this seqno
  std::optional<uint64_t> to;                 // nullopt: each vbucket's high seqno (ToLatest)
  bool verify = false;
  uint32_t buffer_size = 10u << 20;  // flow-control window per connection (0 = none)
  uint32_t connections = 1;          // vbuckets are dealt round-robin across them
  std::string name;                  // DCP connection name (+ "-N" per connection); "" = default
  ProgressMode progress = ProgressMode::kAuto;  // kAuto: when stderr is a terminal
};

}  // namespace sluice::tools
