// Integration: `sluiced --help` documents every flag and every engine parameter with its default
// and unit; `sluiced --help-params` prints the parameters alone (no users file needed).
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "common/config.h"
#include "testing/server_process.h"

namespace sluice::testing {
namespace {

// Runs sluiced with `args`; returns its stdout and sets *status to the exit status.
std::string RunSluiced(const std::string& args, int* status) {
  const std::string command = ServerProcess::BinaryPath() + " " + args + " 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {};
  std::string out;
  char buf[4096];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  *status = pclose(pipe);
  return out;
}

void ExpectEveryParameter(const std::string& text) {
  const Config defaults;
  for (const ParamInfo& p : ConfigParams()) {
    const std::string entry = std::string("  ") + std::string(p.name) + " = " +
                              defaults.Get(p.name).value() + " (" + std::string(p.unit) + ")\n";
    EXPECT_NE(text.find(entry), std::string::npos) << "missing: " << entry;
  }
}

TEST(HelpTest, HelpListsFlagsAndEveryParameter) {
  int status = -1;
  const std::string help = RunSluiced("--help", &status);
  EXPECT_EQ(status, 0);
  for (const char* flag : {"--port", "--metrics-port", "--users", "--set", "--config",
                           "--help-params", "--config-doc"}) {
    EXPECT_NE(help.find(flag), std::string::npos) << flag;
  }
  EXPECT_NE(help.find("--metrics-port UINT=11280"), std::string::npos) << help;
  ExpectEveryParameter(help);
}

TEST(HelpTest, HelpParamsAloneNeedsNoUsersFile) {
  int status = -1;
  const std::string text = RunSluiced("--help-params", &status);
  EXPECT_EQ(status, 0);
  ExpectEveryParameter(text);
  EXPECT_EQ(text.find("--port"), std::string::npos);
  for (size_t pos = 0, end = 0; pos < text.size(); pos = end + 1) {
    end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    EXPECT_LE(end - pos, 100u) << text.substr(pos, end - pos);
  }
}

}  // namespace
}  // namespace sluice::testing
