// File: server/prometheus_text.h
//
// PrometheusText: builds a page in the Prometheus text exposition format (version 0.0.4), the
// body /metrics answers with (server/metrics_server.h):
//
//   # HELP kv_curr_items Count of alive (non-deleted) items in active vbuckets
//   # TYPE kv_curr_items gauge
//   kv_curr_items{bucket="default"} 42
//
// Each metric family gets one HELP and one TYPE line, and all its samples are written together
// even if the caller interleaves families (they are buffered per family, in first-use order).
// Histograms take non-cumulative buckets with inclusive upper bounds and write the cumulative
// _bucket{le=...} series, the +Inf bucket (= _count), _sum and _count. Label values and HELP
// texts are escaped as the format requires; names are the caller's (they must match
// [a-zA-Z_:][a-zA-Z0-9_:]*, which a debug assertion checks).
//
// Ownership: a value built and consumed by one caller. Thread safety: thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::server {

class PrometheusText {
 public:
  using Labels = std::vector<std::pair<std::string, std::string>>;
  struct HistogramBucket {
    double upper_bound = 0;  // inclusive ("le")
    uint64_t count = 0;      // samples in this bucket only (not cumulative)
  };

  void Gauge(std::string_view name, std::string_view help, double value, const Labels& labels = {});
  void Counter(std::string_view name, std::string_view help, double value,
               const Labels& labels = {});
  // `buckets` ascending by upper_bound; `count` >= the sum of the buckets (the rest fall in
  // +Inf only); `sum` in the same unit as the bounds.
  void Histogram(std::string_view name, std::string_view help,
                 const std::vector<HistogramBucket>& buckets, uint64_t count, double sum,
                 const Labels& labels = {});

  // The page; the builder is empty afterwards.
  std::string Take();

  static bool ValidName(std::string_view name);
  static std::string EscapeLabelValue(std::string_view value);
  static std::string EscapeHelp(std::string_view help);
  // Shortest text that reads back as `value`; "+Inf", "-Inf", "NaN" for the specials.
  static std::string FormatValue(double value);

 private:
  struct Family {
    std::string header;   // HELP and TYPE lines
    std::string samples;  // sample lines
  };
  Family& FamilyFor(std::string_view name, std::string_view help, std::string_view type);
  static void AppendSample(std::string* out, std::string_view name, const Labels& labels,
                           std::string_view extra_label, std::string_view extra_value,
                           double value);

  std::vector<std::string> order_;
  std::map<std::string, Family, std::less<>> families_;
};

}  // namespace sluice::server
