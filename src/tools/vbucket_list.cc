// File: tools/vbucket_list.cc
#include "tools/vbucket_list.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <limits>

namespace sluice::tools {
namespace {

constexpr uint64_t kMaxVbid = std::numeric_limits<Vbid>::max();

// A whole decimal vbucket id, or nothing.
bool ParseId(std::string_view text, Vbid* out) {
  if (text.empty()) return false;
  uint64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value > kMaxVbid) return false;
  *out = static_cast<Vbid>(value);
  return true;
}

}  // namespace

StatusOr<std::vector<Vbid>> ParseVBucketList(std::string_view text) {
  if (text.empty()) return Status(Errc::kInvalid, "empty vbucket list");
  std::vector<Vbid> out;
  while (true) {
    const size_t comma = text.find(',');
    const std::string_view element = text.substr(0, comma);
    const size_t dash = element.find('-');
    Vbid first = 0;
    Vbid last = 0;
    bool ok = false;
    if (dash == std::string_view::npos) {
      ok = ParseId(element, &first);
      last = first;
    } else {
      ok = ParseId(element.substr(0, dash), &first) && ParseId(element.substr(dash + 1), &last) &&
           first <= last;
    }
    if (!ok) {
      return Status(Errc::kInvalid,
                    fmt::format("bad vbucket list element '{}' (expected N or N-M with N <= M, "
                                "ids 0..{}, e.g. 0-3,7)",
                                element, kMaxVbid));
    }
    for (uint32_t vb = first; vb <= last; ++vb) out.push_back(static_cast<Vbid>(vb));
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::string FormatVBucketList(const std::vector<Vbid>& vbuckets) {
  std::string out;
  for (size_t i = 0; i < vbuckets.size();) {
    size_t j = i;
    while (j + 1 < vbuckets.size() && vbuckets[j + 1] == vbuckets[j] + 1) ++j;
    if (!out.empty()) out += ',';
    if (j == i) {
      out += std::to_string(vbuckets[i]);
    } else {
      out += fmt::format("{}-{}", vbuckets[i], vbuckets[j]);
    }
    i = j + 1;
  }
  return out;
}

}  // namespace sluice::tools
