// File: tools/output.h
//
// Output: where a `sluice` subcommand writes its answer, in one of two forms chosen by --json:
//   - text: human-oriented lines and aligned tables on stdout; errors as "sluice: MESSAGE" on
//     stderr;
//   - JSON: exactly one compact JSON object on stdout, for the answer or for the error
//     ({"error": MESSAGE, "code": "not_found", "exit_code": 1}); the error also goes to stderr.
// Strings that are not valid UTF-8 (binary values) are written with U+FFFD replacements in JSON.
//
// Ownership: borrows the two streams, which must outlive it. Thread safety: thread-compatible.
#pragma once

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tools/failure.h"

namespace sluice::tools {

using Rows = std::vector<std::vector<std::string>>;

// Left-aligned columns separated by two spaces (the last column is not padded); one line per row.
std::string FormatTable(const Rows& rows);

class Output {
 public:
  Output(std::ostream& out, std::ostream& err, bool json) : out_(out), err_(err), json_(json) {}

  bool json() const { return json_; }
  std::ostream& out() { return out_; }
  // Where diagnostics and progress go (stderr).
  std::ostream& err() { return err_; }

  // Text mode: writes `text` as is. JSON mode: ignored (use Json()).
  void Text(std::string_view text);
  void Json(const nlohmann::json& object);
  // "sluice: MESSAGE" on stderr only (for a failure reported after the answer was written).
  void Warn(std::string_view message);
  // Reports `failure` in the current form; returns its exit code.
  int Fail(const Failure& failure);

 private:
  std::ostream& out_;
  std::ostream& err_;
  const bool json_;
};

}  // namespace sluice::tools
