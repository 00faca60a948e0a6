// File: tools/stream_checker.h
//
// StreamChecker: the rules `sluice drain --verify` holds a DCP producer to, fed every message of
// the streams one connection consumes:
//   - every change (mutation, deletion, expiration) belongs to a stream that is open, i.e.
//     requested and not yet ended;
//   - a stream's seqnos are strictly increasing;
//   - every change lies inside the range of the stream's latest snapshot marker (so none may come
//     before the first marker), and a marker's start is not above its end;
//   - no change is beyond the stream's requested end seqno (when one was given);
//   - every stream ends with exactly one DCP_STREAM_END, with status Ok (Finish() reports the
//     streams that never ended).
// It counts every violation and keeps the first few messages for the report.
//
// Ownership: a plain object; `sluice drain` keeps one per connection (the connections' vbuckets
// are disjoint) and adds up their results. Thread safety: thread-compatible.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/types.h"
#include "protocol/dcp_codec.h"

namespace sluice::tools {

class StreamChecker {
 public:
  explicit StreamChecker(size_t errors_kept = 10) : errors_kept_(errors_kept) {}

  // The stream of `vbucket` was opened; nullopt: no end seqno known in advance (ToLatest or none).
  void StreamOpened(Vbid vbucket, std::optional<uint64_t> end_seqno);
  void Marker(const protocol::DcpSnapshotMarker& marker);
  void Change(Vbid vbucket, uint64_t seqno);
  void StreamEnd(Vbid vbucket, protocol::DcpStreamEndStatus status);
  // After the last message: every opened stream must have ended.
  void Finish();

  bool ok() const { return error_count_ == 0; }
  uint64_t error_count() const { return error_count_; }
  // The first `errors_kept` violations, in the order found.
  const std::vector<std::string>& errors() const { return errors_; }

 private:
  struct VbState {
    bool opened = false;
    bool ended = false;
    bool has_marker = false;
    std::optional<uint64_t> end_seqno;
    uint64_t last_seqno = 0;
    uint64_t snap_start = 0;
    uint64_t snap_end = 0;
  };

  VbState& State(Vbid vbucket);
  void Error(std::string message);

  const size_t errors_kept_;
  std::vector<VbState> vbuckets_;  // indexed by vbucket id, grown on demand
  std::vector<Vbid> opened_;       // in opening order, for Finish()
  uint64_t error_count_ = 0;
  std::vector<std::string> errors_;
};

}  // namespace sluice::tools
