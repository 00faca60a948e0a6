// File: tools/change_format.h
//
// How `sluice tail` prints what a DCP stream delivers: one line per change, and with --verbose
// one per snapshot marker and stream end.
//
// Text (keys and values with control bytes escaped as \n, \t, \\, \xNN):
//   vb:3 seqno:17 mutation key:user-1 size:100           (--show-values: value:<the value>)
//   vb:3 seqno:18 deletion key:user-1
//   vb:3 seqno:19 expiration key:session-9
//   vb:3 snapshot 15-19 disk,checkpoint                   (--verbose)
//   vb:3 stream-end Ok                                    (--verbose)
// JSON (one object per line; strings that are not UTF-8 get U+FFFD replacements):
//   {"vbucket":3,"seqno":17,"kind":"mutation","key":"user-1","size":100,"cas":..,"rev_seqno":..,
//    "flags":..,"expiry":..,"datatype":..[,"value":".."]}
//   {"vbucket":3,"kind":"snapshot","start":15,"end":19,"flags":["disk","checkpoint"]}
//   {"vbucket":3,"kind":"stream_end","status":"Ok"}
// Deletions and expirations carry "delete_time" instead of flags/expiry.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "client/dcp_message.h"
#include "protocol/dcp_codec.h"

namespace sluice::tools {

enum class ChangeKind : uint8_t { kMutation, kDeletion, kExpiration };
std::string_view ChangeKindName(ChangeKind kind);  // "mutation", "deletion", "expiration"

// One change, as views into the message it came from.
struct ChangeView {
  ChangeKind kind = ChangeKind::kMutation;
  Vbid vbucket = 0;
  uint64_t seqno = 0;
  uint64_t rev_seqno = 0;
  uint64_t cas = 0;
  uint8_t datatype = 0;
  uint32_t flags = 0;        // mutations
  uint32_t expiry = 0;       // mutations
  uint32_t delete_time = 0;  // deletions (V2) and expirations
  std::string_view key;
  std::string_view value;
};

ChangeView ViewOf(const client::DcpMutation& m);
ChangeView ViewOf(const client::DcpDeletion& d);
ChangeView ViewOf(const client::DcpExpiration& x);

// `text` with bytes below 0x20, 0x7f and the backslash escaped.
std::string EscapeText(std::string_view text);
// "disk,checkpoint" (the marker flags by name; unknown bits as hex).
std::string SnapshotFlagNames(uint32_t flags);

// Text lines, without the trailing newline.
std::string FormatChangeText(const ChangeView& change, bool show_value);
std::string FormatMarkerText(const protocol::DcpSnapshotMarker& marker);
std::string FormatStreamEndText(const protocol::DcpStreamEnd& end);

nlohmann::json ChangeJson(const ChangeView& change, bool show_value);
nlohmann::json MarkerJson(const protocol::DcpSnapshotMarker& marker);
nlohmann::json StreamEndJson(const protocol::DcpStreamEnd& end);

}  // namespace sluice::tools
