// File: tools/output.cc
#include "tools/output.h"

#include <algorithm>

namespace sluice::tools {
namespace {

// Display width of UTF-8 text: code points (continuation bytes 10xxxxxx do not count).
size_t DisplayWidth(std::string_view text) {
  size_t width = 0;
  for (const char c : text) width += (static_cast<unsigned char>(c) & 0xc0) != 0x80;
  return width;
}

}  // namespace

std::string FormatTable(const Rows& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], DisplayWidth(row[i]));
  }
  std::string out;
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      out += row[i];
      if (i + 1 < row.size()) out.append(widths[i] - DisplayWidth(row[i]) + 2, ' ');
    }
    out += '\n';
  }
  return out;
}

void Output::Text(std::string_view text) {
  if (!json_) out_ << text;
}

void Output::Json(const nlohmann::json& object) {
  out_ << object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

void Output::Warn(std::string_view message) { err_ << "sluice: " << message << '\n'; }

int Output::Fail(const Failure& failure) {
  Warn(failure.message);
  if (json_) {
    Json({{"error", failure.message},
          {"code", ExitCodeName(failure.code)},
          {"exit_code", ToInt(failure.code)}});
  }
  return ToInt(failure.code);
}

}  // namespace sluice::tools
