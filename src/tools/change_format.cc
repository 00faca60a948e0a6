// File: tools/change_format.cc
#include "tools/change_format.h"

#include <fmt/format.h>

namespace sluice::tools {
namespace {

constexpr std::pair<uint32_t, const char*> kMarkerFlags[] = {
    {protocol::kDcpSnapshotMemory, "memory"},
    {protocol::kDcpSnapshotDisk, "disk"},
    {protocol::kDcpSnapshotCheckpoint, "checkpoint"},
    {protocol::kDcpSnapshotAck, "ack"},
    {protocol::kDcpSnapshotHistory, "history"},
    {protocol::kDcpSnapshotMayContainDuplicates, "may_contain_duplicates"},
};

std::vector<std::string> MarkerFlagList(uint32_t flags) {
  std::vector<std::string> names;
  for (const auto& [bit, name] : kMarkerFlags) {
    if ((flags & bit) != 0) {
      names.emplace_back(name);
      flags &= ~bit;
    }
  }
  if (flags != 0) names.push_back(fmt::format("{:#x}", flags));
  return names;
}

}  // namespace

std::string_view ChangeKindName(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::kMutation:
      return "mutation";
    case ChangeKind::kDeletion:
      return "deletion";
    case ChangeKind::kExpiration:
      return "expiration";
  }
  return "unknown";
}

ChangeView ViewOf(const client::DcpMutation& m) {
  return {.kind = ChangeKind::kMutation,
          .vbucket = m.vbucket,
          .seqno = m.by_seqno,
          .rev_seqno = m.rev_seqno,
          .cas = m.cas,
          .datatype = m.datatype,
          .flags = m.flags,
          .expiry = m.expiration,
          .key = m.key,
          .value = m.value};
}

ChangeView ViewOf(const client::DcpDeletion& d) {
  return {.kind = ChangeKind::kDeletion,
          .vbucket = d.vbucket,
          .seqno = d.by_seqno,
          .rev_seqno = d.rev_seqno,
          .cas = d.cas,
          .datatype = d.datatype,
          .delete_time = d.delete_time,
          .key = d.key,
          .value = d.value};
}

ChangeView ViewOf(const client::DcpExpiration& x) {
  return {.kind = ChangeKind::kExpiration,
          .vbucket = x.vbucket,
          .seqno = x.by_seqno,
          .rev_seqno = x.rev_seqno,
          .cas = x.cas,
          .delete_time = x.delete_time,
          .key = x.key};
}

std::string EscapeText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\\':
        out += "\\\\";
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          out += fmt::format("\\x{:02x}", u);
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::string SnapshotFlagNames(uint32_t flags) {
  const std::vector<std::string> names = MarkerFlagList(flags);
  if (names.empty()) return "none";
  std::string out;
  for (const auto& name : names) {
    if (!out.empty()) out += ',';
    out += name;
  }
  return out;
}

std::string FormatChangeText(const ChangeView& change, bool show_value) {
  std::string line = fmt::format("vb:{} seqno:{} {} key:{}", change.vbucket, change.seqno,
                                 ChangeKindName(change.kind), EscapeText(change.key));
  if (change.kind == ChangeKind::kMutation) {
    if (show_value) {
      line += " value:";
      line += EscapeText(change.value);
    } else {
      line += fmt::format(" size:{}", change.value.size());
    }
  }
  return line;
}

std::string FormatMarkerText(const protocol::DcpSnapshotMarker& marker) {
  return fmt::format("vb:{} snapshot {}-{} {}", marker.vbucket, marker.start_seqno,
                     marker.end_seqno, SnapshotFlagNames(marker.flags));
}

std::string FormatStreamEndText(const protocol::DcpStreamEnd& end) {
  return fmt::format("vb:{} stream-end {}", end.vbucket,
                     protocol::DcpStreamEndStatusName(end.status));
}

nlohmann::json ChangeJson(const ChangeView& change, bool show_value) {
  nlohmann::json json = {{"vbucket", change.vbucket},           {"seqno", change.seqno},
                         {"kind", ChangeKindName(change.kind)}, {"key", change.key},
                         {"size", change.value.size()},         {"cas", change.cas},
                         {"rev_seqno", change.rev_seqno},       {"datatype", change.datatype}};
  if (change.kind == ChangeKind::kMutation) {
    json["flags"] = change.flags;
    json["expiry"] = change.expiry;
  } else {
    json["delete_time"] = change.delete_time;
  }
  if (show_value) json["value"] = change.value;
  return json;
}

nlohmann::json MarkerJson(const protocol::DcpSnapshotMarker& marker) {
  return {{"vbucket", marker.vbucket},
          {"kind", "snapshot"},
          {"start", marker.start_seqno},
          {"end", marker.end_seqno},
          {"flags", MarkerFlagList(marker.flags)}};
}

nlohmann::json StreamEndJson(const protocol::DcpStreamEnd& end) {
  return {{"vbucket", end.vbucket},
          {"kind", "stream_end"},
          {"status", protocol::DcpStreamEndStatusName(end.status)}};
}

}  // namespace sluice::tools
