// File: tools/cli_e2e_test.cc
//
// End-to-end tests of the `sluice` binary: every subcommand run as a subprocess against a real
// sluiced (testing/server_process.h), checking stdout, stderr and the exit code; `load`
// also against plain memcached when it is installed.
#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "common/types.h"
#include "testing/server_process.h"
#include "tools/cli_runner.h"

namespace sluice::tools {
namespace {

using testing::RunResult;
using testing::RunSluice;

constexpr uint32_t kCliVBuckets = 64;

using testing::Lines;
using testing::ParseJson;

class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    sluice::testing::ServerOptions options;
    options.extra_args = {"--vbuckets", std::to_string(kCliVBuckets)};
    server_ = new sluice::testing::ServerProcess(options);
    if (!server_->Start()) {
      start_error_ = server_->error();
      delete server_;
      server_ = nullptr;
    }
  }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr) << "sluiced did not start: " << start_error_;
  }

  // sluice ARGS... with this server's address and credentials (and a short timeout).
  static RunResult Sluice(std::vector<std::string> args,
                          const std::vector<std::pair<std::string, std::string>>& env = {}) {
    const std::vector<std::string> connection = {
        "--port",     std::to_string(server_->port()),
        "--user",     sluice::testing::ServerProcess::kUser,
        "--password", sluice::testing::ServerProcess::kPassword,
        "--timeout",  "30"};
    args.insert(args.end(), connection.begin(), connection.end());
    return RunSluice(args, env);
  }
  // Without --password (for the environment variable test).
  static RunResult SluiceNoPassword(std::vector<std::string> args,
                                    const std::vector<std::pair<std::string, std::string>>& env) {
    args.insert(args.end(), {"--port", std::to_string(server_->port()), "--user",
                             sluice::testing::ServerProcess::kUser});
    return RunSluice(args, env);
  }

  static sluice::testing::ServerProcess* server_;
  static std::string start_error_;
};

sluice::testing::ServerProcess* CliTest::server_ = nullptr;
std::string CliTest::start_error_;

// ---- get / set ----

TEST_F(CliTest, SetThenGetPrintsTheValue) {
  RunResult set = Sluice({"set", "greeting", "hello world"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_EQ(set.out.rfind("stored greeting (vbucket ", 0), 0u) << set.out;
  EXPECT_NE(set.out.find("seqno "), std::string::npos) << set.out;

  RunResult get = Sluice({"get", "greeting"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.out, "hello world\n");
  EXPECT_EQ(get.err, "");
}

TEST_F(CliTest, JsonGetReportsMetadataAndTheKeysVbucket) {
  ASSERT_EQ(Sluice({"set", "doc", "{\"a\":1}", "--flags", "42"}).exit_code, 0);
  RunResult get = Sluice({"get", "doc", "--json"});
  ASSERT_EQ(get.exit_code, 0) << get.err;
  const nlohmann::json json = ParseJson(get.out);
  ASSERT_TRUE(json.is_object()) << get.out;
  EXPECT_EQ(json["key"], "doc");
  EXPECT_EQ(json["value"], "{\"a\":1}");
  EXPECT_EQ(json["flags"], 42);
  EXPECT_NE(json["cas"], 0);
  EXPECT_EQ(json["vbucket"], VBucketForKey("doc", kCliVBuckets));
}

TEST_F(CliTest, SetJsonReportsTheMutationToken) {
  RunResult set = Sluice({"set", "tokened", "v", "--json"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  const nlohmann::json json = ParseJson(set.out);
  ASSERT_TRUE(json.is_object()) << set.out;
  EXPECT_EQ(json["vbucket"], VBucketForKey("tokened", kCliVBuckets));
  EXPECT_GE(json["seqno"].get<uint64_t>(), 1u);
  EXPECT_TRUE(json.contains("vbucket_uuid"));
}

TEST_F(CliTest, GetOfAMissingKeyExitsWithOne) {
  RunResult get = Sluice({"get", "no-such-key"});
  EXPECT_EQ(get.exit_code, 1);
  EXPECT_EQ(get.out, "");
  EXPECT_NE(get.err.find("key not found"), std::string::npos) << get.err;

  RunResult json = Sluice({"get", "no-such-key", "--json"});
  EXPECT_EQ(json.exit_code, 1);
  const nlohmann::json error = ParseJson(json.out);
  ASSERT_TRUE(error.is_object()) << json.out;
  EXPECT_EQ(error["code"], "not_found");
  EXPECT_EQ(error["exit_code"], 1);
}

TEST_F(CliTest, ExplicitVbucketIsUsed) {
  const Vbid right = VBucketForKey("placed", kCliVBuckets);
  const Vbid wrong = static_cast<Vbid>((right + 1) % kCliVBuckets);
  ASSERT_EQ(Sluice({"set", "placed", "x", "--vbucket", std::to_string(wrong)}).exit_code, 0);
  // Stored under the vbucket given, so the computed one does not find it.
  EXPECT_EQ(Sluice({"get", "placed"}).exit_code, 1);
  RunResult get = Sluice({"get", "placed", "--vbucket", std::to_string(wrong)});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.out, "x\n");
}

TEST_F(CliTest, NotMyVbucketExitsWithFive) {
  RunResult get = Sluice({"get", "k", "--vbucket", std::to_string(kCliVBuckets + 10)});
  EXPECT_EQ(get.exit_code, 5);
  EXPECT_NE(get.err.find("not my vbucket"), std::string::npos) << get.err;
}

TEST_F(CliTest, VbucketSetChangesTheStateAndTheTopology) {
  RunResult replica = Sluice({"vbucket", "set", "63", "replica"});
  ASSERT_EQ(replica.exit_code, 0) << replica.err;
  EXPECT_EQ(replica.out, "vbucket 63: replica\n");
  EXPECT_EQ(Sluice({"get", "k", "--vbucket", "63"}).exit_code, 5) << "replicas serve no GET";

  RunResult active =
      Sluice({"vbucket", "set", "63", "active", "--topology", R"([["n1",null]])", "--json"});
  ASSERT_EQ(active.exit_code, 0) << active.err;
  const nlohmann::json json = ParseJson(active.out);
  ASSERT_TRUE(json.is_object()) << active.out;
  EXPECT_EQ(json["vbucket"], 63);
  EXPECT_EQ(json["state"], "active");
  EXPECT_EQ(json["topology"], nlohmann::json::parse(R"([["n1",null]])"));
  RunResult stats = Sluice({"stats", "vbucket-details 63", "--json"});
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  EXPECT_EQ(ParseJson(stats.out)["vb_63:topology"], R"([["n1",null]])");
  EXPECT_EQ(Sluice({"get", "k", "--vbucket", "63"}).exit_code, 1) << "active again";

  // A vbucket out of range (ERANGE, as kv_engine), and a topology refused before anything is sent.
  RunResult missing = Sluice({"vbucket", "set", std::to_string(kCliVBuckets + 1), "active"});
  EXPECT_EQ(missing.exit_code, 6) << missing.err;
  RunResult bad = Sluice({"vbucket", "set", "63", "active", "--topology", "[[1]]"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("must be a string"), std::string::npos) << bad.err;
}

// ---- rm / touch ----

TEST_F(CliTest, RmDeletesAndASecondRmMisses) {
  ASSERT_EQ(Sluice({"set", "doomed", "v"}).exit_code, 0);
  RunResult rm = Sluice({"rm", "doomed"});
  ASSERT_EQ(rm.exit_code, 0) << rm.err;
  EXPECT_EQ(rm.out.rfind("deleted doomed (", 0), 0u) << rm.out;
  EXPECT_EQ(Sluice({"get", "doomed"}).exit_code, 1);
  RunResult again = Sluice({"rm", "doomed"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("key not found"), std::string::npos) << again.err;
}

TEST_F(CliTest, TouchChangesTheExpiry) {
  ASSERT_EQ(Sluice({"set", "touched", "v"}).exit_code, 0);
  RunResult touch = Sluice({"touch", "touched", "--expiry", "3600"});
  ASSERT_EQ(touch.exit_code, 0) << touch.err;
  EXPECT_EQ(touch.out.rfind("touched touched (", 0), 0u) << touch.out;
  EXPECT_EQ(Sluice({"get", "touched"}).exit_code, 0);
  // An absolute expiry (> 30 days means a Unix time) in the past expires the document at once.
  ASSERT_EQ(Sluice({"touch", "touched", "--expiry", "2592001"}).exit_code, 0);
  EXPECT_EQ(Sluice({"get", "touched"}).exit_code, 1);
  EXPECT_EQ(Sluice({"touch", "never-written", "--expiry", "10"}).exit_code, 1);
}

// ---- stats ----

TEST_F(CliTest, StatsPrintsAnAlignedTable) {
  RunResult stats = Sluice({"stats"});
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  const std::vector<std::string> lines = Lines(stats.out);
  ASSERT_GT(lines.size(), 5u);
  // Every value starts in the same column: after the longest name and two spaces.
  size_t longest = 0;
  for (const auto& line : lines) longest = std::max(longest, line.find(' '));
  bool saw_curr_items = false;
  for (const auto& line : lines) {
    ASSERT_GT(line.size(), longest + 2) << line;
    EXPECT_EQ(line[longest + 1], ' ') << line;
    EXPECT_NE(line[longest + 2], ' ') << line;
    if (line.rfind("curr_items ", 0) == 0) saw_curr_items = true;
  }
  EXPECT_TRUE(saw_curr_items) << stats.out;
}

TEST_F(CliTest, StatsJsonIsOneObjectWithNumbers) {
  RunResult stats = Sluice({"stats", "--json"});
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  const nlohmann::json json = ParseJson(stats.out);
  ASSERT_TRUE(json.is_object()) << stats.out;
  ASSERT_TRUE(json.contains("curr_items"));
  EXPECT_TRUE(json["curr_items"].is_number());
  EXPECT_TRUE(json["version"].is_string());
}

TEST_F(CliTest, StatsGroupAndUnknownGroup) {
  RunResult group = Sluice({"stats", "vbucket-seqno", "--json"});
  ASSERT_EQ(group.exit_code, 0) << group.err;
  const nlohmann::json json = ParseJson(group.out);
  ASSERT_TRUE(json.is_object()) << group.out;
  EXPECT_TRUE(json.contains("vb_0:high_seqno")) << group.out;

  RunResult bogus = Sluice({"stats", "no-such-group"});
  EXPECT_EQ(bogus.exit_code, 2);
  EXPECT_NE(bogus.err.find("unknown stats group"), std::string::npos) << bogus.err;
}

// ---- vbucket-seqnos / failover-log ----

TEST_F(CliTest, VbucketSeqnosListsEveryVbucket) {
  ASSERT_EQ(Sluice({"set", "seqno-key", "v"}).exit_code, 0);
  const Vbid vb = VBucketForKey("seqno-key", kCliVBuckets);

  RunResult text = Sluice({"vbucket-seqnos"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  const std::vector<std::string> lines = Lines(text.out);
  ASSERT_EQ(lines.size(), kCliVBuckets + 1);
  EXPECT_EQ(lines[0], "vbucket  high_seqno");

  RunResult json = Sluice({"vbucket-seqnos", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const nlohmann::json parsed = ParseJson(json.out);
  ASSERT_TRUE(parsed.is_object()) << json.out;
  ASSERT_EQ(parsed["vbuckets"].size(), kCliVBuckets);
  bool found = false;
  for (const auto& entry : parsed["vbuckets"]) {
    if (entry["vbucket"] == vb) {
      found = true;
      EXPECT_GE(entry["high_seqno"].get<uint64_t>(), 1u);
    }
  }
  EXPECT_TRUE(found);
}

TEST_F(CliTest, FailoverLogOfAVbucket) {
  RunResult text = Sluice({"failover-log", "0"});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  const std::vector<std::string> lines = Lines(text.out);
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(lines[0].rfind("entry  vbucket_uuid", 0), 0u) << text.out;

  RunResult json = Sluice({"failover-log", "0", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  const nlohmann::json parsed = ParseJson(json.out);
  ASSERT_TRUE(parsed.is_object()) << json.out;
  EXPECT_EQ(parsed["vbucket"], 0);
  ASSERT_GE(parsed["entries"].size(), 1u);
  EXPECT_TRUE(parsed["entries"][0].contains("uuid"));
  EXPECT_TRUE(parsed["entries"][0].contains("seqno"));

  RunResult missing = Sluice({"failover-log", std::to_string(kCliVBuckets + 1)});
  EXPECT_EQ(missing.exit_code, 5);
  EXPECT_NE(missing.err.find("not my vbucket"), std::string::npos) << missing.err;
}

// ---- connection and authentication errors ----

TEST_F(CliTest, WrongPasswordExitsWithFour) {
  RunResult r = SluiceNoPassword({"get", "k", "--password", "wrong"}, {});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_NE(r.err.find("authentication failed"), std::string::npos) << r.err;
}

TEST_F(CliTest, PasswordFromTheEnvironment) {
  EXPECT_EQ(SluiceNoPassword({"stats"}, {{"SLUICE_PASSWORD", "password"}}).exit_code, 0);
  EXPECT_EQ(SluiceNoPassword({"stats"}, {{"SLUICE_PASSWORD", "nope"}}).exit_code, 4);
}

TEST_F(CliTest, NoAuthAgainstSluicedIsRefused) {
  RunResult r = RunSluice({"get", "k", "--port", std::to_string(server_->port()), "--no-auth"});
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_NE(r.err.find("no access"), std::string::npos) << r.err;
}

TEST_F(CliTest, ConnectionRefusedExitsWithThree) {
  // Port 1 (tcpmux) is privileged and unused on a test machine.
  RunResult r = RunSluice({"stats", "--port", "1"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("cannot connect to 127.0.0.1:1"), std::string::npos) << r.err;
}

TEST_F(CliTest, UsageErrorExitsWithTwo) {
  RunResult r = RunSluice({"get"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("key"), std::string::npos) << r.err;
  RunResult help = RunSluice({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("load"), std::string::npos);
}

// ---- load ----

TEST_F(CliTest, LoadWithAnOpCountReportsExactlyThatMany) {
  RunResult r = Sluice({"load", "--ops", "20000", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json json = ParseJson(r.out);
  ASSERT_TRUE(json.is_object()) << r.out;
  EXPECT_EQ(json["ops"], 20000);
  EXPECT_EQ(json["gets"].get<uint64_t>() + json["sets"].get<uint64_t>(), 20000u);
  EXPECT_EQ(json["errors"], 0);
  EXPECT_GT(json["seconds"].get<double>(), 0.0);
  EXPECT_GT(json["ops_per_sec"].get<double>(), 0.0);
  EXPECT_EQ(json["server_vbuckets"], kCliVBuckets);
  const double p50 = json["p50_us"], p90 = json["p90_us"], p99 = json["p99_us"],
               p999 = json["p999_us"];
  EXPECT_GT(p50, 0.0);
  EXPECT_LE(p50, p90);
  EXPECT_LE(p90, p99);
  EXPECT_LE(p99, p999);
}

TEST_F(CliTest, LoadPopulatedReadsNeverMiss) {
  RunResult r = Sluice({"load", "--keys", "2000", "--populate", "--set-ratio", "0", "--ops", "5000",
                        "--connections", "2", "--pipeline", "8", "--key-prefix", "pop-", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json json = ParseJson(r.out);
  ASSERT_TRUE(json.is_object()) << r.out;
  EXPECT_EQ(json["populated"], 2000);
  EXPECT_EQ(json["populate_errors"], 0);
  EXPECT_EQ(json["ops"], 5000);
  EXPECT_EQ(json["gets"], 5000);
  EXPECT_EQ(json["misses"], 0);
  EXPECT_EQ(json["errors"], 0);
  // The populated keys are where a Couchbase client would look for them.
  RunResult get = Sluice({"get", "pop-0042"});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.out.size(), 101u);  // 100-byte value + newline
}

TEST_F(CliTest, LoadForADurationPrintsATable) {
  RunResult r = Sluice({"load", "--duration", "0.3", "--set-ratio", "0.5", "--keys", "100"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* row : {"ops ", "seconds ", "ops/s ", "p50 µs ", "p99.9 µs ", "errors "}) {
    EXPECT_NE(r.out.find(row), std::string::npos) << row << "\n" << r.out;
  }
}

TEST_F(CliTest, LoadInZeroModeUsesVbucketZero) {
  RunResult r = Sluice({"load", "--ops", "1000", "--set-ratio", "1", "--vbuckets-mode", "zero",
                        "--keys", "10", "--key-prefix", "zero-", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ParseJson(r.out)["errors"], 0);
  EXPECT_EQ(Sluice({"get", "zero-3", "--vbucket", "0"}).exit_code, 0);
}

TEST_F(CliTest, LoadDurableWritesCarryTheRequirement) {
  RunResult r = Sluice({"load", "--populate", "--keys", "50", "--ops", "100", "--set-ratio", "1",
                        "--key-prefix", "dur-", "--durability", "majority", "--json"});
  const nlohmann::json json = ParseJson(r.out);
  ASSERT_TRUE(json.is_object()) << r.out << r.err;
  EXPECT_EQ(json["durability"], "majority");
  EXPECT_EQ(json["sets"], 100);
  // The requirement reaches the server: it either honours it (every SET succeeds) or refuses
  // every one with DurabilityImpossible (a server without synchronous writes), which the load
  // reports as failed requests (exit 6) and names.
  if (r.exit_code == 0) {
    EXPECT_EQ(json["errors"], 0);
    EXPECT_EQ(json["populate_errors"], 0);
    EXPECT_EQ(Sluice({"get", "dur-07"}).exit_code, 0);  // populated: every key was written
  } else {
    EXPECT_EQ(r.exit_code, 6) << r.err;
    EXPECT_EQ(json["errors"], 100);
    EXPECT_EQ(json["populate_errors"], 50);
    EXPECT_NE(r.err.find("DurabilityImpossible"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("--durability majority"), std::string::npos) << r.err;
    EXPECT_EQ(Sluice({"get", "dur-07"}).exit_code, 1);  // refused writes store nothing
  }
}

TEST_F(CliTest, LoadDurabilityUsageErrors) {
  RunResult bad = Sluice({"load", "--ops", "1", "--durability", "eventually"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--durability"), std::string::npos) << bad.err;
  RunResult no_auth = Sluice({"load", "--ops", "1", "--durability", "majority", "--no-auth"});
  EXPECT_EQ(no_auth.exit_code, 2);
  EXPECT_NE(no_auth.err.find("--no-auth"), std::string::npos) << no_auth.err;
}

TEST(CliMemcachedTest, LoadAgainstPlainMemcached) {
  testing::MemcachedProcess memcached;
  if (!memcached.Start()) {
    GTEST_SKIP() << "memcached (" << testing::MemcachedProcess::BinaryPath()
                 << ") is not installed or did not start";
  }
  const std::string port = std::to_string(memcached.port());
  RunResult r = RunSluice({"load", "--port", port, "--no-auth", "--vbuckets-mode", "zero", "--ops",
                           "5000", "--populate", "--keys", "500", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json json = ParseJson(r.out);
  EXPECT_EQ(json["ops"], 5000);
  EXPECT_EQ(json["errors"], 0);
  EXPECT_EQ(json["misses"], 0);

  // crc mode needs a cluster config, which memcached does not have: a clear usage error.
  RunResult crc = RunSluice({"load", "--port", port, "--no-auth", "--ops", "10"});
  EXPECT_EQ(crc.exit_code, 2);
  EXPECT_NE(crc.err.find("--vbuckets-mode zero"), std::string::npos) << crc.err;

  ASSERT_EQ(RunSluice({"set", "mc", "value", "--port", port, "--no-auth"}).exit_code, 0);
  RunResult get = RunSluice({"get", "mc", "--port", port, "--no-auth"});
  EXPECT_EQ(get.exit_code, 0) << get.err;
  EXPECT_EQ(get.out, "value\n");
}

// A populate larger than the server's memory: the server sheds load with TMPFAIL until its
// flusher and item pager catch up, and `sluice load` writes those keys again rather than
// counting them as failures (as Couchbase SDKs retry TMPFAIL).
TEST(LoadAgainstASmallServerTest, PopulateRetriesTmpfailUntilEveryKeyIsWritten) {
  sluice::testing::ServerOptions options;
  options.extra_args = {"--vbuckets", "16",    "--memory-quota",
                        "16M",        "--set", "pager_sleep_time_ms=100"};
  sluice::testing::ServerProcess server(options);
  ASSERT_TRUE(server.Start()) << server.error();
  RunResult r = RunSluice({"load",
                           "--port",
                           std::to_string(server.port()),
                           "--user",
                           sluice::testing::ServerProcess::kUser,
                           "--password",
                           sluice::testing::ServerProcess::kPassword,
                           "--timeout",
                           "30",
                           "--populate",
                           "--keys",
                           "20000",
                           "--value-size",
                           "2000",
                           "--set-ratio",
                           "1",
                           "--ops",
                           "1",
                           "--connections",
                           "2",
                           "--json"},
                          {});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json json = ParseJson(r.out);
  ASSERT_TRUE(json.is_object()) << r.out;
  EXPECT_EQ(json["populated"], 20000);
  EXPECT_EQ(json["populate_errors"], 0);
  EXPECT_GT(json["populate_retries"].get<uint64_t>(), 0u);  // 40 MB did not fit in 16 MB at once
}

}  // namespace
}  // namespace sluice::tools
