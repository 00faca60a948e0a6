#include "server/command_timings.h"

#include <fmt/format.h>

#include <cctype>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>

namespace sluice::server {

using protocol::Opcode;

namespace {

// kv_engine's ep-engine command families (EPStats getCmdHisto, storeCmdHisto, ...).
struct Family {
  std::string_view name;
  std::initializer_list<Opcode> ops;
};
const Family kFamilies[] = {
    {"get_cmd",
     {Opcode::kGet, Opcode::kGetq, Opcode::kGetk, Opcode::kGetkq, Opcode::kGat, Opcode::kGatq,
      Opcode::kGetReplica, Opcode::kGetLocked}},
    {"store_cmd",
     {Opcode::kSet, Opcode::kSetq, Opcode::kAdd, Opcode::kAddq, Opcode::kReplace, Opcode::kReplaceq,
      Opcode::kAppend, Opcode::kAppendq, Opcode::kPrepend, Opcode::kPrependq}},
    {"arith_cmd",
     {Opcode::kIncrement, Opcode::kIncrementq, Opcode::kDecrement, Opcode::kDecrementq}},
    {"get_stats_cmd", {Opcode::kStat}},
    {"get_vb_cmd", {Opcode::kGetVbucket}},
    {"set_vb_cmd", {Opcode::kSetVbucket}},
    {"del_vb_cmd", {Opcode::kDelVbucket}},
};

std::string LowerName(Opcode op) {
  std::string name(protocol::OpcodeName(op));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

void AddOne(std::string_view name, const LatencyHistogram::Snapshot& s, TimingsFormat format,
            const engine::AddStatFn& add) {
  if (s.count + s.overflowed == 0) return;
  if (format == TimingsFormat::kCbstats) {
    AddCbstatsHistogram(name, s, add);
  } else {
    add(name, HdrHistogramJson(s));
  }
}

}  // namespace

LatencyHistogram::Snapshot CommandTimings::Merged(std::initializer_list<Opcode> ops) const {
  std::map<uint64_t, LatencyHistogram::Bucket> by_lower;
  LatencyHistogram::Snapshot out;
  for (Opcode op : ops) {
    const LatencyHistogram::Snapshot s = Of(op).Take();
    for (const auto& b : s.buckets) {
      auto [it, inserted] = by_lower.try_emplace(b.lower, b);
      if (!inserted) it->second.count += b.count;
    }
    out.count += s.count;
    out.sum_us += s.sum_us;
    out.overflowed += s.overflowed;
    out.overflowed_sum_us += s.overflowed_sum_us;
  }
  for (const auto& [lower, b] : by_lower) out.buckets.push_back(b);
  return out;
}

void AddTimingStats(const CommandTimings& timings, TimingsFormat format,
                    const engine::AddStatFn& add) {
  for (const Family& f : kFamilies) AddOne(f.name, timings.Merged(f.ops), format, add);
  for (int i = 0; i < 256; ++i) {
    const auto op = static_cast<Opcode>(i);
    if (timings.Of(op).TotalCount() == 0) continue;
    AddOne("cmd_" + LowerName(op), timings.Of(op).Take(), format, add);
  }
}

void AddCbstatsHistogram(std::string_view name, const LatencyHistogram::Snapshot& s,
                         const engine::AddStatFn& add) {
  // kv_engine rounds the mean to an integer (std::round of HdrHistogram::getMean()).
  add(fmt::format("{}_mean", name), fmt::format("{}", std::llround(s.MeanUs())));
  for (const auto& b : s.buckets) {
    add(fmt::format("{}_{},{}", name, b.lower, b.upper), fmt::format("{}", b.count));
  }
  if (s.overflowed > 0) {
    add(fmt::format("{}_overflowed", name), fmt::format("{}", s.overflowed));
    add(fmt::format("{}_maxTrackable", name), fmt::format("{}", LatencyHistogram::kMaxTrackable));
  }
}

std::string HdrHistogramJson(const LatencyHistogram::Snapshot& s) {
  nlohmann::json root;
  root["total"] = s.count;
  root["bucketsLow"] = s.buckets.empty() ? 0 : s.buckets.front().lower;
  nlohmann::json data = nlohmann::json::array();
  uint64_t seen = 0;
  for (const auto& b : s.buckets) {
    seen += b.count;
    const double percentile =
        s.count == 0 ? 0.0 : 100.0 * static_cast<double>(seen) / static_cast<double>(s.count);
    data.push_back(nlohmann::json::array({b.upper, b.count, percentile}));
  }
  root["data"] = std::move(data);
  root["overflowed"] = s.overflowed;
  root["overflowed_sum"] = s.overflowed_sum_us;
  root["max_trackable"] = LatencyHistogram::kMaxTrackable;
  return root.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace sluice::server
