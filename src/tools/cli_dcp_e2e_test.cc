// File: tools/cli_dcp_e2e_test.cc
//
// End-to-end tests of the DCP subcommands, `sluice tail` and `sluice drain` (and the `load`
// options made for them, --rate and --timestamp-values): the sluice binary as a subprocess against
// a real sluiced (testing/server_process.h), each test with a fresh server of
// kDcpCliVBuckets vbuckets so that item counts and seqnos are exact.
//
// Checkpoints deduplicate: a key written twice before a stream reads it may be delivered once.
// The tests therefore write distinct keys, or read from a seqno after the first write.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
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

using std::chrono::milliseconds;
using testing::BackgroundProcess;
using testing::RunResult;
using testing::RunSluice;

constexpr uint32_t kDcpCliVBuckets = 16;
constexpr milliseconds kWait(30'000);

// Key length 7 ("key:" + 3 digits) + 100-byte value: a DCP_MUTATION of 24 + 31 + 107 bytes.
constexpr uint64_t kLoadMutationBytes = 24 + 31 + 7 + 100;
constexpr uint64_t kMarkerBytes = 24 + 20;
constexpr uint64_t kStreamEndBytes = 24 + 4;

using testing::Lines;
using testing::ParseJson;

class DcpCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sluice::testing::ServerOptions options;
    options.extra_args = {"--vbuckets", std::to_string(kDcpCliVBuckets)};
    server_ = std::make_unique<sluice::testing::ServerProcess>(options);
    ASSERT_TRUE(server_->Start()) << server_->error();
  }

  std::vector<std::string> Connection() const {
    return {"--port",     std::to_string(server_->port()),
            "--user",     sluice::testing::ServerProcess::kUser,
            "--password", sluice::testing::ServerProcess::kPassword,
            "--timeout",  "30"};
  }
  // sluice ARGS... against this test's server.
  RunResult Sluice(std::vector<std::string> args) const {
    const std::vector<std::string> connection = Connection();
    args.insert(args.end(), connection.begin(), connection.end());
    return RunSluice(args);
  }
  // Starts sluice ARGS... in the background.
  void StartSluice(BackgroundProcess* process, std::vector<std::string> args) const {
    const std::vector<std::string> connection = Connection();
    args.insert(args.end(), connection.begin(), connection.end());
    ASSERT_TRUE(process->Start(testing::SluiceBinary(), args));
  }
  // `sluice set KEY VALUE --vbucket VB --json`; returns the mutation's seqno.
  uint64_t Set(const std::string& key, const std::string& value, Vbid vb) const {
    RunResult r = Sluice({"set", key, value, "--vbucket", std::to_string(vb), "--json"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const nlohmann::json json = ParseJson(r.out);
    return json.is_object() && json.contains("seqno") ? json["seqno"].get<uint64_t>() : 0;
  }
  // Writes `keys` distinct keys (key:000 ...) once each with the load generator.
  void Populate(uint64_t keys) const {
    RunResult r = Sluice({"load", "--keys", std::to_string(keys), "--populate", "--set-ratio", "0",
                          "--ops", "1", "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_EQ(ParseJson(r.out)["populated"], keys) << r.out;
  }
  nlohmann::json DrainJson(std::vector<std::string> args) const {
    args.insert(args.begin(), {"drain", "--json"});
    RunResult r = Sluice(args);
    EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
    const nlohmann::json json = ParseJson(r.out);
    EXPECT_TRUE(json.is_object()) << r.out;
    return json;
  }

  std::unique_ptr<sluice::testing::ServerProcess> server_;
};

// ---- tail ----

TEST_F(DcpCliTest, TailFromZeroPrintsChangesInSeqnoOrder) {
  ASSERT_EQ(Set("alpha", "1", 2), 1u);
  ASSERT_EQ(Set("beta", "22", 2), 2u);
  ASSERT_EQ(Set("gamma", "333", 3), 1u);  // another vbucket: not followed
  RunResult r = Sluice({"tail", "--vbuckets", "2", "--from", "0", "--count", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "vb:2 seqno:1 mutation key:alpha size:1\n"
            "vb:2 seqno:2 mutation key:beta size:2\n");
}

TEST_F(DcpCliTest, TailJsonShowsValuesAndMetadata) {
  ASSERT_EQ(Set("doc", "{\"a\":1}", 5), 1u);
  RunResult r =
      Sluice({"tail", "--vbuckets", "5", "--from", "0", "--count", "1", "--json", "--show-values"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 1u) << r.out;
  const nlohmann::json json = ParseJson(lines[0]);
  ASSERT_TRUE(json.is_object()) << lines[0];
  EXPECT_EQ(json["vbucket"], 5);
  EXPECT_EQ(json["seqno"], 1);
  EXPECT_EQ(json["kind"], "mutation");
  EXPECT_EQ(json["key"], "doc");
  EXPECT_EQ(json["value"], "{\"a\":1}");
  EXPECT_EQ(json["size"], 7);
  EXPECT_NE(json["cas"], 0);
}

TEST_F(DcpCliTest, TailVerboseAddsSnapshotMarkersAndStreamOpenNotice) {
  ASSERT_EQ(Set("k1", "v", 4), 1u);
  RunResult r = Sluice({"tail", "--vbuckets", "4", "--from", "0", "--count", "1", "--verbose"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_EQ(lines[0].rfind("vb:4 snapshot ", 0), 0u) << lines[0];
  EXPECT_EQ(lines[1], "vb:4 seqno:1 mutation key:k1 size:1");
  EXPECT_NE(r.err.find("following 1 vbucket(s) (4) from the beginning"), std::string::npos)
      << r.err;
}

TEST_F(DcpCliTest, TailFromASeqnoShowsOnlyLaterChangesIncludingDeletions) {
  const uint64_t first = Set("victim", "v", 6);
  ASSERT_EQ(first, 1u);
  ASSERT_EQ(Sluice({"rm", "victim", "--vbucket", "6"}).exit_code, 0);
  RunResult r =
      Sluice({"tail", "--vbuckets", "6", "--from", std::to_string(first), "--count", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "vb:6 seqno:2 deletion key:victim\n");
}

TEST_F(DcpCliTest, TailShowsExpirations) {
  const Vbid vb = VBucketForKey("ephemeral", kDcpCliVBuckets);
  ASSERT_EQ(Set("ephemeral", "v", vb), 1u);
  BackgroundProcess tail;
  StartSluice(&tail, {"tail", "--vbuckets", std::to_string(vb), "--from", "1"});
  // An absolute expiry in the past; the read that follows finds the document expired.
  ASSERT_EQ(Sluice({"touch", "ephemeral", "--expiry", "2592001"}).exit_code, 0);
  ASSERT_EQ(Sluice({"get", "ephemeral"}).exit_code, 1);
  EXPECT_TRUE(tail.WaitForOut("expiration key:ephemeral", kWait)) << tail.out() << tail.err();
  tail.Signal(SIGINT);
  EXPECT_EQ(tail.Wait(kWait).exit_code, 0);
}

TEST_F(DcpCliTest, TailFromLatestFollowsNewWritesUntilInterrupted) {
  ASSERT_EQ(Set("old-key", "old", 1), 1u);
  BackgroundProcess tail;
  StartSluice(&tail, {"tail", "--verbose"});
  ASSERT_TRUE(tail.WaitForErr("Ctrl-C to stop", kWait)) << tail.err();
  EXPECT_NE(tail.err().find(fmt::format("following {} vbucket(s) (0-{}) from now on",
                                        kDcpCliVBuckets, kDcpCliVBuckets - 1)),
            std::string::npos)
      << tail.err();
  ASSERT_EQ(Set("new-key", "hello", 1), 2u);
  ASSERT_TRUE(tail.WaitForOut("vb:1 seqno:2 mutation key:new-key size:5", kWait)) << tail.out();
  tail.Signal(SIGINT);
  const RunResult r = tail.Wait(kWait);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("old-key"), std::string::npos) << r.out;
}

TEST_F(DcpCliTest, TailLatencyMeasuresTimestampedWrites) {
  BackgroundProcess tail;
  StartSluice(&tail, {"tail", "--latency", "--json", "--verbose", "--count", "200"});
  ASSERT_TRUE(tail.WaitForErr("Ctrl-C to stop", kWait)) << tail.err();
  // 200 distinct keys written once each, stamped: exactly 200 changes, all timed.
  RunResult load = Sluice({"load", "--keys", "200", "--populate", "--timestamp-values", "--ops",
                           "1", "--set-ratio", "0", "--key-prefix", "lat-", "--json"});
  ASSERT_EQ(load.exit_code, 0) << load.err;
  const RunResult r = tail.Wait(kWait);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json json = ParseJson(r.out);
  ASSERT_TRUE(json.is_object()) << r.out;
  EXPECT_EQ(json["changes"], 200);
  EXPECT_EQ(json["timed"], 200);
  EXPECT_EQ(json["untimed"], 0);
  const double p50 = json["p50_us"], p99 = json["p99_us"], max = json["max_us"];
  EXPECT_GT(p50, 0.0);
  EXPECT_LE(p50, p99);
  EXPECT_LE(p99, max);
}

TEST_F(DcpCliTest, TailLatencyCountsValuesWithoutATimestamp) {
  ASSERT_EQ(Set("plain", "not a timestamp", 0), 1u);
  RunResult r =
      Sluice({"tail", "--vbuckets", "0", "--from", "0", "--count", "1", "--latency", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json json = ParseJson(r.out);
  EXPECT_EQ(json["changes"], 1);
  EXPECT_EQ(json["timed"], 0);
  EXPECT_EQ(json["untimed"], 1);
}

TEST_F(DcpCliTest, TailErrors) {
  RunResult missing = Sluice({"tail", "--vbuckets", "200"});
  EXPECT_EQ(missing.exit_code, 5);
  EXPECT_NE(missing.err.find("vbucket 200: not my vbucket"), std::string::npos) << missing.err;
  RunResult usage = Sluice({"tail", "--vbuckets", "3-1"});
  EXPECT_EQ(usage.exit_code, 2);
  RunResult refused = RunSluice({"tail", "--port", "1"});
  EXPECT_EQ(refused.exit_code, 3);
  RunResult json = Sluice({"tail", "--vbuckets", "200", "--json"});
  EXPECT_EQ(ParseJson(json.out)["code"], "not_my_vbucket") << json.out;
}

// ---- drain ----

TEST_F(DcpCliTest, DrainCountsEveryItemAndVerifies) {
  Populate(500);
  const nlohmann::json json = DrainJson({"--verify"});
  EXPECT_EQ(json["items"], 500);
  EXPECT_EQ(json["mutations"], 500);
  EXPECT_EQ(json["vbuckets"], kDcpCliVBuckets);
  EXPECT_EQ(json["streams_ended_ok"], kDcpCliVBuckets);
  EXPECT_TRUE(json["verify"]["ok"].get<bool>()) << json.dump();
  EXPECT_EQ(json["verify"]["errors"], 0);
  // Bytes are wire sizes: every mutation, marker and stream end.
  const uint64_t markers = json["snapshot_markers"];
  EXPECT_GE(markers, kDcpCliVBuckets);
  EXPECT_EQ(json["bytes"],
            500 * kLoadMutationBytes + markers * kMarkerBytes + kDcpCliVBuckets * kStreamEndBytes);
  EXPECT_GT(json["seconds"].get<double>(), 0.0);
  EXPECT_GT(json["items_per_sec"].get<double>(), 0.0);
  EXPECT_GT(json["mb_per_sec"].get<double>(), 0.0);
}

TEST_F(DcpCliTest, DrainAfterRestartBackfillsFromDisk) {
  Populate(2000);
  ASSERT_EQ(server_->Stop(), 0);
  ASSERT_TRUE(server_->Start()) << server_->error();
  const nlohmann::json json = DrainJson({"--verify", "--buffer", "64k"});
  EXPECT_EQ(json["items"], 2000);
  EXPECT_EQ(json["vbuckets"], kDcpCliVBuckets);
  EXPECT_TRUE(json["verify"]["ok"].get<bool>()) << json.dump();
  // The same with several connections.
  const nlohmann::json three = DrainJson({"--verify", "--connections", "3"});
  EXPECT_EQ(three["items"], 2000);
  EXPECT_EQ(three["connections"], 3);
  EXPECT_TRUE(three["verify"]["ok"].get<bool>()) << three.dump();
}

TEST_F(DcpCliTest, DrainASubsetOfVbucketsOrSeqnos) {
  for (const char* key : {"a", "b", "c", "d"}) Set(key, "v", 7);
  Set("e", "v", 8);
  Set("f", "v", 9);
  EXPECT_EQ(DrainJson({"--vbuckets", "7-8"})["items"], 5);
  EXPECT_EQ(DrainJson({"--vbuckets", "7-8"})["vbuckets"], 2);
  EXPECT_EQ(DrainJson({"--vbuckets", "7", "--to", "2", "--verify"})["items"], 2);
  EXPECT_EQ(DrainJson({"--vbuckets", "7", "--from", "3", "--verify"})["items"], 1);
  EXPECT_EQ(DrainJson({"--vbuckets", "10", "--verify"})["items"], 0);  // an empty vbucket
}

TEST_F(DcpCliTest, DrainTextReportAndProgress) {
  Populate(100);
  RunResult piped = Sluice({"drain"});
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  for (const char* row : {"items ", "bytes ", "seconds ", "items/s ", "MB/s ", "vbuckets "}) {
    EXPECT_NE(piped.out.find(row), std::string::npos) << row << "\n" << piped.out;
  }
  EXPECT_EQ(piped.err, "");  // stderr is a pipe: no progress line

  RunResult forced = Sluice({"drain", "--progress", "always", "--verify"});
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_NE(forced.out.find("verify            ok"), std::string::npos) << forced.out;
  // Drawn at least once (at the start), erased at the end.
  ASSERT_GE(forced.err.size(), 4u);
  EXPECT_EQ(forced.err.front(), '\r');
  EXPECT_NE(forced.err.find("items/s"), std::string::npos) << forced.err;
  EXPECT_EQ(forced.err.substr(forced.err.size() - 4), "\r\x1b[K");
  EXPECT_EQ(forced.err.find('\n'), std::string::npos) << forced.err;
}

TEST_F(DcpCliTest, DrainErrors) {
  RunResult missing = Sluice({"drain", "--vbuckets", "3,200"});
  EXPECT_EQ(missing.exit_code, 5);
  EXPECT_NE(missing.err.find("vbucket 200"), std::string::npos) << missing.err;
  RunResult usage = Sluice({"drain", "--to", "soon"});
  EXPECT_EQ(usage.exit_code, 2);
  RunResult refused = RunSluice({"drain", "--port", "1", "--json"});
  EXPECT_EQ(refused.exit_code, 3);
  EXPECT_EQ(ParseJson(refused.out)["code"], "connection") << refused.out;
}

// ---- load: pacing ----

TEST_F(DcpCliTest, LoadRateHoldsTheRequestsToTheSchedule) {
  // 300 requests in batches of 10 at 1000/s: the 30th batch leaves 29 intervals of 10 ms after
  // the first, so the run cannot take less than 0.29 s (a lower bound: pacing never runs ahead).
  RunResult r = Sluice({"load", "--rate", "1000", "--ops", "300", "--pipeline", "10", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json json = ParseJson(r.out);
  EXPECT_EQ(json["ops"], 300);
  EXPECT_GE(json["seconds"].get<double>(), 0.29);
  EXPECT_EQ(json["rate"], 1000.0);
}

}  // namespace
}  // namespace sluice::tools
