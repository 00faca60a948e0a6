// File: tools/dcp_options.cc
#include "tools/dcp_options.h"

#include <fmt/format.h>

#include <charconv>

namespace sluice::tools {
namespace {

StatusOr<uint64_t> ParseSeqno(std::string_view text, std::string_view what) {
  uint64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    return Status(Errc::kInvalid,
                  fmt::format("{} must be 'latest' or a seqno, not '{}'", what, text));
  }
  return value;
}

}  // namespace

StatusOr<StartPosition> ParseStartPosition(std::string_view text) {
  if (text == "latest") return StartPosition{.latest = true, .seqno = 0};
  ASSIGN_OR_RETURN(const uint64_t seqno, ParseSeqno(text, "--from"));
  return StartPosition{.latest = false, .seqno = seqno};
}

StatusOr<std::optional<uint64_t>> ParseEndPosition(std::string_view text) {
  if (text == "latest") return std::optional<uint64_t>();
  ASSIGN_OR_RETURN(const uint64_t seqno, ParseSeqno(text, "--to"));
  return std::optional<uint64_t>(seqno);
}

}  // namespace sluice::tools
