// File: tools/stream_checker.cc
#include "tools/stream_checker.h"

#include <fmt/format.h>

namespace sluice::tools {

StreamChecker::VbState& StreamChecker::State(Vbid vbucket) {
  if (vbucket >= vbuckets_.size()) vbuckets_.resize(size_t{vbucket} + 1);
  return vbuckets_[vbucket];
}

void StreamChecker::Error(std::string message) {
  ++error_count_;
  if (errors_.size() < errors_kept_) errors_.push_back(std::move(message));
}

void StreamChecker::StreamOpened(Vbid vbucket, std::optional<uint64_t> end_seqno) {
  VbState& s = State(vbucket);
  if (s.opened && !s.ended) {
    Error(fmt::format("vb {}: stream opened twice", vbucket));
    return;
  }
  s = VbState{};
  s.opened = true;
  s.end_seqno = end_seqno;
  opened_.push_back(vbucket);
}

void StreamChecker::Marker(const protocol::DcpSnapshotMarker& marker) {
  VbState& s = State(marker.vbucket);
  if (!s.opened || s.ended) {
    Error(fmt::format("vb {}: snapshot marker {}-{} without an open stream", marker.vbucket,
                      marker.start_seqno, marker.end_seqno));
    return;
  }
  if (marker.start_seqno > marker.end_seqno) {
    Error(fmt::format("vb {}: snapshot marker start {} above its end {}", marker.vbucket,
                      marker.start_seqno, marker.end_seqno));
  }
  s.has_marker = true;
  s.snap_start = marker.start_seqno;
  s.snap_end = marker.end_seqno;
}

void StreamChecker::Change(Vbid vbucket, uint64_t seqno) {
  VbState& s = State(vbucket);
  if (!s.opened || s.ended) {
    Error(fmt::format("vb {}: seqno {} without an open stream", vbucket, seqno));
    return;
  }
  if (!s.has_marker) {
    Error(fmt::format("vb {}: seqno {} before any snapshot marker", vbucket, seqno));
  } else if (seqno < s.snap_start || seqno > s.snap_end) {
    Error(fmt::format("vb {}: seqno {} outside its snapshot marker {}-{}", vbucket, seqno,
                      s.snap_start, s.snap_end));
  }
  if (seqno <= s.last_seqno) {
    Error(fmt::format("vb {}: seqno {} not above the previous seqno {}", vbucket, seqno,
                      s.last_seqno));
  }
  if (s.end_seqno && seqno > *s.end_seqno) {
    Error(fmt::format("vb {}: seqno {} beyond the requested end {}", vbucket, seqno, *s.end_seqno));
  }
  s.last_seqno = seqno;
}

void StreamChecker::StreamEnd(Vbid vbucket, protocol::DcpStreamEndStatus status) {
  VbState& s = State(vbucket);
  if (!s.opened || s.ended) {
    Error(fmt::format("vb {}: STREAM_END without an open stream", vbucket));
    return;
  }
  s.ended = true;
  if (status != protocol::DcpStreamEndStatus::kOk) {
    Error(fmt::format("vb {}: stream ended with status {} ({}), not Ok", vbucket,
                      protocol::DcpStreamEndStatusName(status), static_cast<uint32_t>(status)));
  }
}

void StreamChecker::Finish() {
  for (const Vbid vb : opened_) {
    if (!vbuckets_[vb].ended) Error(fmt::format("vb {}: no STREAM_END", vb));
  }
  opened_.clear();
}

}  // namespace sluice::tools
