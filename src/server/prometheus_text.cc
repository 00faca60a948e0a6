#include "server/prometheus_text.h"

#include <fmt/format.h>

#include <cassert>
#include <cmath>

namespace sluice::server {

bool PrometheusText::ValidName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

std::string PrometheusText::EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string PrometheusText::EscapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string PrometheusText::FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Integers (counters, byte counts) print without exponent up to 2^53.
  if (value == std::floor(value) && std::fabs(value) < 9007199254740992.0) {
    return fmt::format("{}", static_cast<int64_t>(value));
  }
  return fmt::format("{}", value);
}

PrometheusText::Family& PrometheusText::FamilyFor(std::string_view name, std::string_view help,
                                                  std::string_view type) {
  assert(ValidName(name));
  auto it = families_.find(name);
  if (it != families_.end()) return it->second;
  order_.emplace_back(name);
  Family& f = families_[std::string(name)];
  f.header = fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, EscapeHelp(help), name, type);
  return f;
}

void PrometheusText::AppendSample(std::string* out, std::string_view name, const Labels& labels,
                                  std::string_view extra_label, std::string_view extra_value,
                                  double value) {
  out->append(name);
  if (!labels.empty() || !extra_label.empty()) {
    out->push_back('{');
    bool first = true;
    for (const auto& [k, v] : labels) {
      assert(ValidName(k));
      if (!first) out->push_back(',');
      first = false;
      fmt::format_to(std::back_inserter(*out), "{}=\"{}\"", k, EscapeLabelValue(v));
    }
    if (!extra_label.empty()) {
      if (!first) out->push_back(',');
      fmt::format_to(std::back_inserter(*out), "{}=\"{}\"", extra_label,
                     EscapeLabelValue(extra_value));
    }
    out->push_back('}');
  }
  out->push_back(' ');
  out->append(FormatValue(value));
  out->push_back('\n');
}

void PrometheusText::Gauge(std::string_view name, std::string_view help, double value,
                           const Labels& labels) {
  AppendSample(&FamilyFor(name, help, "gauge").samples, name, labels, {}, {}, value);
}

void PrometheusText::Counter(std::string_view name, std::string_view help, double value,
                             const Labels& labels) {
  AppendSample(&FamilyFor(name, help, "counter").samples, name, labels, {}, {}, value);
}

void PrometheusText::Histogram(std::string_view name, std::string_view help,
                               const std::vector<HistogramBucket>& buckets, uint64_t count,
                               double sum, const Labels& labels) {
  std::string* out = &FamilyFor(name, help, "histogram").samples;
  const std::string bucket_name = fmt::format("{}_bucket", name);
  uint64_t cumulative = 0;
  for (const HistogramBucket& b : buckets) {
    cumulative += b.count;
    AppendSample(out, bucket_name, labels, "le", FormatValue(b.upper_bound),
                 static_cast<double>(cumulative));
  }
  assert(cumulative <= count);
  AppendSample(out, bucket_name, labels, "le", "+Inf", static_cast<double>(count));
  AppendSample(out, fmt::format("{}_sum", name), labels, {}, {}, sum);
  AppendSample(out, fmt::format("{}_count", name), labels, {}, {}, static_cast<double>(count));
}

std::string PrometheusText::Take() {
  std::string page;
  for (const std::string& name : order_) {
    const Family& f = families_.at(name);
    page += f.header;
    page += f.samples;
  }
  order_.clear();
  families_.clear();
  return page;
}

}  // namespace sluice::server
