// File: fuzz/config_fuzzer.cc
//
// libFuzzer target for what sluiced reads from its command line and files: `--config FILE`
// (Config::ApplyJson), `--set NAME=VALUE` (Config::Set), sizes (ParseSize) and the users file
// (sasl::UserDatabase::Parse). Input (fuzz/fuzz_input.h): U8 mode, then
//
//   0  Rest: a config JSON document; ApplyJson, then Validate
//   1  U8 parameter index, Rest value: Set on a real parameter name
//   2  Str name, Rest value: Set on any name
//   3  Rest: ParseSize
//   4  Rest: a users file; UserDatabase::Parse
//
// Invariants: after any Set that succeeds, Get gives text that Set accepts and that reads back
// the same (the text form is a fixed point: `sluiced --help` and the docs print it); every
// parameter's Get works after ApplyJson; a parsed size re-parses from its decimal form; a parsed
// users file authenticates exactly the passwords it lists.
// Seeds: fuzz/corpus/config/ (from make_corpus: every parameter, etc/dev-users.json, bad values).
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "common/config.h"
#include "fuzz/fuzz_check.h"
#include "fuzz/fuzz_input.h"
#include "sasl/users.h"

namespace sluice::fuzz {
namespace {

// Each user costs three PBKDF2 derivations of 4096 rounds: bigger files only slow the fuzzer.
constexpr size_t kMaxUsers = 3;

void CheckTextFixedPoint(Config& config, std::string_view name) {
  auto text = config.Get(name);
  FUZZ_CHECK(text.ok(), "Get works for a known parameter");
  const Status again = config.Set(name, *text);
  FUZZ_CHECK(again.ok(), "Set accepts what Get prints");
  auto text2 = config.Get(name);
  FUZZ_CHECK(text2.ok() && *text2 == *text, "Get(Set(Get(x))) == Get(x)");
}

void ApplyJson(std::string_view json) {
  Config config;
  const Status applied = config.ApplyJson(json);
  config.Validate().IgnoreError();  // any verdict; must not crash
  if (!applied.ok()) return;
  for (const ParamInfo& p : ConfigParams()) CheckTextFixedPoint(config, p.name);
}

void SetKnown(uint8_t index, std::string_view value) {
  const auto& params = ConfigParams();
  if (params.empty()) return;
  const std::string_view name = params[index % params.size()].name;
  Config config;
  if (config.Set(name, value).ok()) CheckTextFixedPoint(config, name);
  config.Validate().IgnoreError();  // any verdict; must not crash
}

void SetAny(std::string_view name, std::string_view value) {
  Config config;
  if (config.Set(name, value).ok()) CheckTextFixedPoint(config, name);
}

void Size(std::string_view text) {
  auto size = ParseSize(text);
  if (!size.ok()) return;
  auto again = ParseSize(std::to_string(*size));
  FUZZ_CHECK(again.ok() && *again == *size, "a parsed size re-parses from its decimal form");
}

void Users(std::string_view text) {
  const nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_object() && doc.contains("users") && doc["users"].is_array() &&
      doc["users"].size() > kMaxUsers) {
    return;
  }
  auto db = sasl::UserDatabase::Parse(text, "fuzz");
  if (!db.ok()) return;
  FUZZ_CHECK(doc.is_object() && doc.contains("users") && doc["users"].is_array(),
             "a users file is {\"users\": [...]}");
  const nlohmann::json& users = doc["users"];
  FUZZ_CHECK((*db)->size() == users.size(), "one user per entry");
  for (const auto& entry : users) {
    const std::string name = entry.at("name").get<std::string>();
    const std::string password = entry.at("password").get<std::string>();
    const sasl::User* user = (*db)->CheckPassword(name, password);
    FUZZ_CHECK(user != nullptr && user->name() == name, "a listed password authenticates");
    FUZZ_CHECK((*db)->CheckPassword(name, password + "x") == nullptr, "another password does not");
  }
}

}  // namespace
}  // namespace sluice::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sluice::fuzz::FuzzInput in(data, size);
  switch (in.U8() % 5) {
    case 0:
      sluice::fuzz::ApplyJson(in.Rest());
      break;
    case 1: {
      const uint8_t index = in.U8();
      sluice::fuzz::SetKnown(index, in.Rest());
      break;
    }
    case 2: {
      const std::string_view name = in.Str();
      sluice::fuzz::SetAny(name, in.Rest());
      break;
    }
    case 3:
      sluice::fuzz::Size(in.Rest());
      break;
    default:
      sluice::fuzz::Users(in.Rest());
      break;
  }
  return 0;
}
