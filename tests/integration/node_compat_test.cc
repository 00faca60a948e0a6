// Clients people already use, unmodified, against the real sluiced: each test starts sluiced (the
// build's binary: under `make test-asan` the ASan+UBSan one) and runs one Node.js script of
// tests/compat/ against it, which checks every answer and exits 0 only if all checks passed:
//   sdk_ops.js         the official Couchbase Node.js SDK (npm couchbase 4.x): thousands of KV
//                      operations, mutation tokens, subdoc lookup, durable writes;
//   sdk_concurrent.js  32 concurrent SDK clients;
//   memjs_ops.js       npm memjs (memcached binary protocol, SASL PLAIN, vbucket 0);
//   sdk_cluster.js     the SDK against a static cluster of two nodes: routing to both, then
//                      following the config after every vbucket of one moved to the other;
//   sdk_replicas.js    the SDK against three nodes with two replicas: durable writes at every
//                      level, getAllReplicas/getAnyReplica, then a node killed and its vbuckets
//                      promoted on their replicas, the SDK following;
//   console.js         the web console in headless chromium (npm playwright-core): three nodes
//                      up, one killed and shown down, the map change shown.
// The npm packages live in tests/compat/node_modules (scripts/install-node-deps.sh, run by
// `make deps`); without them these tests fail and say so.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "testing/wire_util.h"
#include "tests/integration/cluster_test_util.h"

namespace sluice::testing {
namespace {

const std::string kCompatDir = std::string(SLUICE_SOURCE_DIR) + "/tests/compat";

// Runs `node tests/compat/<script>` with `env` (NAME=VALUE ...) added to the connection's
// variables; returns its exit status and output.
int RunNode(const std::string& script, const std::string& env, std::string* output) {
  const std::string cmd = "cd '" + kCompatDir + "' && SLUICE_HOST=127.0.0.1 " + env +
                          " SLUICE_USER=" + ServerProcess::kUser +
                          " SLUICE_PASSWORD=" + ServerProcess::kPassword +
                          " SLUICE_BUCKET=default node " + script + " 2>&1";
  return RunCommand(cmd, output);
}

// Debian's chromium, or $CHROMIUM.
std::string ChromiumPath() {
  const char* env = std::getenv("CHROMIUM");
  return env != nullptr && *env != '\0' ? env : "/usr/bin/chromium";
}

// Runs a compat script and expects it to exit 0 (every check passed).
void RunCompatScript(const std::string& script, const std::string& env) {
  ASSERT_TRUE(std::filesystem::exists(kCompatDir + "/node_modules/couchbase") &&
              std::filesystem::exists(kCompatDir + "/node_modules/memjs"))
      << "tests/compat/node_modules is missing: run scripts/install-node-deps.sh (make deps)";
  std::string output;
  const int status = RunNode(script, env, &output);
  // The script's last line is its tally ("N passed, M failed").
  const size_t last = output.find_last_of('\n', output.size() >= 2 ? output.size() - 2 : 0);
  std::cout << "[ " << script << " ] "
            << (last == std::string::npos ? output : output.substr(last + 1));
  EXPECT_EQ(status, 0) << script << " output:\n" << output;
}

class NodeCompatTest : public SluicedTest {
 protected:
  ServerOptions Options() const override {
    ServerOptions options = SluicedTest::Options();
    // The SDK's default bucket and a vbucket map of a realistic size.
    options.extra_args = {"--vbuckets", "64"};
    return options;
  }

  void RunScript(const std::string& script) {
    RunCompatScript(script, "SLUICE_PORT=" + std::to_string(server().port()));
    EXPECT_TRUE(server().Alive()) << "sluiced died during " << script;
  }
};

TEST_F(NodeCompatTest, CouchbaseSdkOperations) { RunScript("sdk_ops.js"); }

TEST_F(NodeCompatTest, CouchbaseSdkConcurrentClients) { RunScript("sdk_concurrent.js"); }

TEST_F(NodeCompatTest, Memjs) { RunScript("memjs_ops.js"); }

TEST(NodeClusterCompatTest, CouchbaseSdkFollowsAStaticClusterAndAMove) {
  constexpr uint32_t kVBuckets = 64;
  StaticCluster cluster;
  ASSERT_TRUE(cluster.Start(cluster.File({"a", "b"}, 1), kVBuckets)) << cluster.error();
  std::string move;
  for (Vbid vb = 0; vb < kVBuckets; ++vb) {
    if (cluster.map().RoleOf("a", vb) == VBucketState::kActive) {
      move += (move.empty() ? "" : ",") + std::to_string(vb);
    }
  }
  RunCompatScript("sdk_cluster.js", "SLUICE_PORTS=" + std::to_string(cluster.port(0)) + "," +
                                        std::to_string(cluster.port(1)) + " SLUICE_CLI=" +
                                        SLUICE_BINARY_DIR + "/sluice" + " SLUICE_MOVE=" + move);
  cluster.StopAll(/*print_logs=*/::testing::Test::HasFailure());
}

TEST(NodeClusterCompatTest, CouchbaseSdkReadsReplicasAndFollowsAPromotion) {
  constexpr uint32_t kVBuckets = 64;
  StaticCluster cluster;
  ASSERT_TRUE(cluster.Start(cluster.File({"a", "b", "c"}, 2), kVBuckets)) << cluster.error();
  // c's active vbuckets, each promoted on its first replica with a chain of that node alone.
  std::string promote;
  for (Vbid vb = 0; vb < kVBuckets; ++vb) {
    const auto chain = cluster.map().ChainOf(vb);
    if (*chain[0] != "c") continue;
    const std::string& next = *chain[1];
    promote +=
        fmt::format("{}:{}:[[\"{}\"]];", vb, cluster.port(*cluster.map().NodeIndex(next)), next);
  }
  ASSERT_FALSE(promote.empty());
  RunCompatScript("sdk_replicas.js",
                  fmt::format("SLUICE_PORTS={},{},{} SLUICE_CLI={}/sluice SLUICE_KILL_PID={} "
                              "SLUICE_PROMOTE='{}'",
                              cluster.port(0), cluster.port(1), cluster.port(2), SLUICE_BINARY_DIR,
                              cluster.node(2).pid(), promote));
  cluster.node(2).Kill();  // the script killed c: reap it
  cluster.StopAll(/*print_logs=*/::testing::Test::HasFailure());
}

// The web console in headless chromium: three nodes up, one killed and marked down, its vbuckets
// promoted on a and the map seen to change (tests/compat/console.js).
TEST(ConsoleBrowserTest, ShowsNodesMarksAKilledOneDownAndFollowsTheMap) {
  constexpr uint32_t kVBuckets = 16;
  ASSERT_TRUE(std::filesystem::exists(kCompatDir + "/node_modules/playwright-core"))
      << "tests/compat/node_modules is missing: run scripts/install-node-deps.sh (make deps)";
  ASSERT_TRUE(std::filesystem::exists(ChromiumPath()))
      << ChromiumPath() << " is missing: scripts/install-deps.sh installs Debian's chromium";
  StaticCluster cluster;
  const nlohmann::json file = cluster.File({"a", "b", "c"}, 2);
  const uint16_t console_port = FreePort();
  cluster.SetMetricsPort(0, console_port);
  ASSERT_TRUE(cluster.Start(file, kVBuckets)) << cluster.error();
  // c's active vbuckets, each promoted on a with a chain of a alone.
  std::string promote;
  for (Vbid vb = 0; vb < kVBuckets; ++vb) {
    if (*cluster.map().ChainOf(vb)[0] != "c") continue;
    promote += fmt::format("{}:{}:[[\"a\"]];", vb, cluster.port(0));
  }
  ASSERT_FALSE(promote.empty());
  RunCompatScript(
      "console.js",
      fmt::format("SLUICE_CONSOLE_URL=http://127.0.0.1:{}/console SLUICE_CLI={}/sluice "
                  "SLUICE_KILL_PID={} SLUICE_PROMOTE='{}' CHROMIUM={}",
                  console_port, SLUICE_BINARY_DIR, cluster.node(2).pid(), promote, ChromiumPath()));
  cluster.node(2).Kill();  // the script killed c: reap it
  cluster.StopAll(/*print_logs=*/::testing::Test::HasFailure());
}

}  // namespace
}  // namespace sluice::testing
