#include "cluster/seqno_probe.h"

#include <fmt/format.h>

#include <charconv>

namespace sluice::cluster {
namespace {

bool ParseU64(const std::string& text, uint64_t* out) {
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return !text.empty() && ec == std::errc() && ptr == text.data() + text.size();
}

}  // namespace

std::map<Vbid, VbucketSeqnos> SeqnosFromVbucketSeqnoStats(
    const std::vector<std::pair<std::string, std::string>>& stats,
    const std::vector<Vbid>& vbuckets) {
  std::map<std::string, const std::string*> by_key;
  for (const auto& [key, value] : stats) by_key[key] = &value;
  std::map<Vbid, VbucketSeqnos> out;
  for (Vbid vb : vbuckets) {
    auto hps = by_key.find(fmt::format("vb_{}:high_prepared_seqno", vb));
    auto hs = by_key.find(fmt::format("vb_{}:high_seqno", vb));
    VbucketSeqnos seqnos;
    if (hps == by_key.end() || hs == by_key.end() ||
        !ParseU64(*hps->second, &seqnos.high_prepared_seqno) ||
        !ParseU64(*hs->second, &seqnos.high_seqno)) {
      continue;
    }
    auto uuid = by_key.find(fmt::format("vb_{}:uuid", vb));
    if (uuid != by_key.end() && !ParseU64(*uuid->second, &seqnos.uuid)) seqnos.uuid = 0;
    out[vb] = seqnos;
  }
  return out;
}

}  // namespace sluice::cluster
