// Clients people already use, unmodified, against the real sluiced: each test starts sluiced (the
// build's binary: under `make test-asan` the ASan+UBSan one) and runs one Node.js script of
// tests/compat/ against it, which checks every answer and exits 0 only if all checks passed:
//   sdk_ops.js         the official Couchbase Node.js SDK (npm couchbase 4.x): thousands of KV
//                      operations, mutation tokens, subdoc lookup, durable writes;
//   sdk_concurrent.js  32 concurrent SDK clients;
//   memjs_ops.js       npm memjs (memcached binary protocol, SASL PLAIN, vbucket 0).
// The npm packages live in tests/compat/node_modules (scripts/install-node-deps.sh, run by
// `make deps`); without them these tests fail and say so.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <string>

#include "testing/wire_util.h"

namespace sluice::testing {
namespace {

const std::string kCompatDir = std::string(SLUICE_SOURCE_DIR) + "/tests/compat";

class NodeCompatTest : public SluicedTest {
 protected:
  ServerOptions Options() const override {
    ServerOptions options = SluicedTest::Options();
    // The SDK's default bucket and a vbucket map of a realistic size.
    options.extra_args = {"--vbuckets", "64"};
    return options;
  }

  // Runs `node tests/compat/<script>` against the server; returns its exit status and output.
  int RunNode(const std::string& script, std::string* output) {
    const std::string cmd =
        "cd '" + kCompatDir +
        "' && SLUICE_HOST=127.0.0.1 SLUICE_PORT=" + std::to_string(server().port()) +
        " SLUICE_USER=" + ServerProcess::kUser + " SLUICE_PASSWORD=" + ServerProcess::kPassword +
        " SLUICE_BUCKET=default node " + script + " 2>&1";
    FILE* pipe = popen(cmd.c_str(), "r");
    if (pipe == nullptr) return -1;
    std::array<char, 4096> buf{};
    size_t n = 0;
    while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) output->append(buf.data(), n);
    const int status = pclose(pipe);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  void RunScript(const std::string& script) {
    ASSERT_TRUE(std::filesystem::exists(kCompatDir + "/node_modules/couchbase") &&
                std::filesystem::exists(kCompatDir + "/node_modules/memjs"))
        << "tests/compat/node_modules is missing: run scripts/install-node-deps.sh (make deps)";
    std::string output;
    const int status = RunNode(script, &output);
    // The script's last line is its tally ("N passed, M failed").
    const size_t last = output.find_last_of('\n', output.size() >= 2 ? output.size() - 2 : 0);
    std::cout << "[ " << script << " ] "
              << (last == std::string::npos ? output : output.substr(last + 1));
    EXPECT_EQ(status, 0) << script << " output:\n" << output;
    EXPECT_TRUE(server().Alive()) << "sluiced died during " << script;
  }
};

TEST_F(NodeCompatTest, CouchbaseSdkOperations) { RunScript("sdk_ops.js"); }

TEST_F(NodeCompatTest, CouchbaseSdkConcurrentClients) { RunScript("sdk_concurrent.js"); }

TEST_F(NodeCompatTest, Memjs) { RunScript("memjs_ops.js"); }

}  // namespace
}  // namespace sluice::testing
