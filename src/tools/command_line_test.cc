// File: tools/command_line_test.cc
#include "tools/command_line.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "tools/failure.h"

namespace sluice::tools {
namespace {

ParseResult Parse(std::vector<std::string> args) { return ParseCommandLine(args); }

CommandLine ParseOk(std::vector<std::string> args) {
  ParseResult r = Parse(args);
  EXPECT_TRUE(r.command.has_value()) << r.error;
  EXPECT_EQ(r.exit_code, 0);
  return r.command.value_or(CommandLine{});
}

void ExpectUsageError(std::vector<std::string> args, std::string_view fragment) {
  ParseResult r = Parse(args);
  EXPECT_FALSE(r.command.has_value());
  EXPECT_EQ(r.exit_code, ToInt(ExitCode::kUsage));
  EXPECT_NE(r.error.find(fragment), std::string::npos) << r.error;
}

// Sets or clears an environment variable for one test, restoring it afterwards.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value != nullptr) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      setenv(name_, old_->c_str(), 1);
    } else {
      unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST(CommandLineTest, ConnectionDefaults) {
  ScopedEnv env("SLUICE_PASSWORD", nullptr);
  const CommandLine cmd = ParseOk({"get", "k"});
  EXPECT_EQ(cmd.command, Command::kGet);
  EXPECT_EQ(cmd.key, "k");
  EXPECT_EQ(cmd.connection.host, "127.0.0.1");
  EXPECT_EQ(cmd.connection.port, 11210);
  EXPECT_EQ(cmd.connection.user, "Administrator");
  EXPECT_EQ(cmd.connection.password, "password");
  EXPECT_EQ(cmd.connection.bucket, "default");
  EXPECT_FALSE(cmd.connection.no_auth);
  EXPECT_FALSE(cmd.connection.json);
  EXPECT_DOUBLE_EQ(cmd.connection.timeout_seconds, 30.0);
  EXPECT_FALSE(cmd.vbucket.has_value());
}

TEST(CommandLineTest, ConnectionFlagsOnEverySubcommand) {
  const std::vector<std::string> flags = {"--host", "10.0.0.1",   "--port", "1234",     "--user",
                                          "u",      "--password", "pw",     "--bucket", "b",
                                          "--json", "--timeout",  "2.5"};
  const std::vector<std::vector<std::string>> commands = {
      {"get", "k"}, {"set", "k", "v"},  {"rm", "k"},           {"touch", "k", "--expiry", "5"},
      {"stats"},    {"vbucket-seqnos"}, {"failover-log", "3"}, {"load", "--ops", "10"},
      {"tail"},     {"drain"}};
  for (const auto& command : commands) {
    std::vector<std::string> args = command;
    args.insert(args.end(), flags.begin(), flags.end());
    const CommandLine cmd = ParseOk(args);
    EXPECT_EQ(cmd.connection.host, "10.0.0.1") << command[0];
    EXPECT_EQ(cmd.connection.port, 1234) << command[0];
    EXPECT_EQ(cmd.connection.user, "u") << command[0];
    EXPECT_EQ(cmd.connection.password, "pw") << command[0];
    EXPECT_EQ(cmd.connection.bucket, "b") << command[0];
    EXPECT_TRUE(cmd.connection.json) << command[0];
    EXPECT_DOUBLE_EQ(cmd.connection.timeout_seconds, 2.5) << command[0];
  }
}

TEST(CommandLineTest, PasswordFromEnvironmentUnlessGiven) {
  ScopedEnv env("SLUICE_PASSWORD", "from-env");
  EXPECT_EQ(ParseOk({"stats"}).connection.password, "from-env");
  EXPECT_EQ(ParseOk({"stats", "--password", "flag"}).connection.password, "flag");
}

TEST(CommandLineTest, TheLastOfARepeatedFlagWins) {
  const CommandLine cmd =
      ParseOk({"get", "k", "--port", "1", "--port", "2", "--password", "a", "--password", "b"});
  EXPECT_EQ(cmd.connection.port, 2);
  EXPECT_EQ(cmd.connection.password, "b");
}

TEST(CommandLineTest, KvArguments) {
  CommandLine set =
      ParseOk({"set", "key1", "some value", "--flags", "7", "--expiry", "60", "--vbucket", "12"});
  EXPECT_EQ(set.command, Command::kSet);
  EXPECT_EQ(set.key, "key1");
  EXPECT_EQ(set.value, "some value");
  EXPECT_EQ(set.flags, 7u);
  EXPECT_EQ(set.expiry, 60u);
  EXPECT_EQ(set.vbucket, Vbid{12});

  EXPECT_EQ(ParseOk({"rm", "x"}).command, Command::kRm);
  CommandLine touch = ParseOk({"touch", "x", "--expiry", "9"});
  EXPECT_EQ(touch.command, Command::kTouch);
  EXPECT_EQ(touch.expiry, 9u);
  EXPECT_EQ(ParseOk({"stats", "vbucket-seqno"}).stats_group, "vbucket-seqno");
  EXPECT_EQ(ParseOk({"stats"}).stats_group, "");
  EXPECT_EQ(ParseOk({"vbucket-seqnos"}).command, Command::kVbucketSeqnos);
  CommandLine failover = ParseOk({"failover-log", "1023"});
  EXPECT_EQ(failover.command, Command::kFailoverLog);
  EXPECT_EQ(failover.failover_vbucket, 1023);
}

TEST(CommandLineTest, VbucketSet) {
  CommandLine replica = ParseOk({"vbucket", "set", "7", "replica", "--port", "3"});
  EXPECT_EQ(replica.command, Command::kVbucketSet);
  EXPECT_EQ(replica.state_vbucket, 7);
  EXPECT_EQ(replica.state, VBucketState::kReplica);
  EXPECT_FALSE(replica.topology.has_value());
  EXPECT_EQ(replica.connection.port, 3);
  CommandLine active = ParseOk({"vbucket", "set", "2", "active", "--topology", R"([["a","b"]])"});
  EXPECT_EQ(active.state, VBucketState::kActive);
  EXPECT_EQ(active.topology, R"([["a","b"]])");
  ExpectUsageError({"vbucket", "set", "2", "sleeping"}, "sleeping");
  ExpectUsageError({"vbucket", "set", "2"}, "state");
  ExpectUsageError({"vbucket"}, "");
  ExpectUsageError({"vbucket", "set", "2", "active", "--topology", "[[null]]"}, "cannot be null");
  ExpectUsageError({"vbucket", "set", "2", "active", "--topology", "nope"}, "not valid JSON");
  ExpectUsageError({"vbucket", "set", "2", "replica", "--topology", R"([["a"]])"},
                   "active vbucket only");
}

TEST(CommandLineTest, LoadDefaults) {
  const CommandLine cmd = ParseOk({"load"});
  EXPECT_EQ(cmd.command, Command::kLoad);
  const LoadOptions& o = cmd.load;
  EXPECT_EQ(o.keys, 100'000u);
  EXPECT_EQ(o.value_size, 100u);
  EXPECT_DOUBLE_EQ(o.set_ratio, 0.1);
  EXPECT_FALSE(o.ops.has_value());
  EXPECT_EQ(o.duration_seconds, 10.0);  // the default end of a run
  EXPECT_EQ(o.connections, 1u);
  EXPECT_EQ(o.pipeline, 16u);
  EXPECT_EQ(o.key_prefix, "key:");
  EXPECT_FALSE(o.populate);
  EXPECT_EQ(o.vbucket_mode, VBucketMode::kCrc);
  EXPECT_EQ(o.seed, 1u);
}

TEST(CommandLineTest, LoadFlags) {
  const CommandLine cmd = ParseOk({"load",
                                   "--keys",
                                   "1000000",
                                   "--value-size",
                                   "256",
                                   "--set-ratio",
                                   "1",
                                   "--ops",
                                   "20000",
                                   "--connections",
                                   "4",
                                   "--pipeline",
                                   "32",
                                   "--key-prefix",
                                   "bench-",
                                   "--populate",
                                   "--vbuckets-mode",
                                   "zero",
                                   "--no-auth",
                                   "--seed",
                                   "99"});
  const LoadOptions& o = cmd.load;
  EXPECT_EQ(o.keys, 1'000'000u);
  EXPECT_EQ(o.value_size, 256u);
  EXPECT_DOUBLE_EQ(o.set_ratio, 1.0);
  EXPECT_EQ(o.ops, 20000u);
  EXPECT_FALSE(o.duration_seconds.has_value());
  EXPECT_EQ(o.connections, 4u);
  EXPECT_EQ(o.pipeline, 32u);
  EXPECT_EQ(o.key_prefix, "bench-");
  EXPECT_TRUE(o.populate);
  EXPECT_EQ(o.vbucket_mode, VBucketMode::kZero);
  EXPECT_TRUE(cmd.connection.no_auth);
  EXPECT_EQ(o.seed, 99u);
  EXPECT_EQ(ParseOk({"load", "--duration", "2.5"}).load.duration_seconds, 2.5);
}

TEST(CommandLineTest, LoadRateAndTimestamps) {
  const LoadOptions plain = ParseOk({"load"}).load;
  EXPECT_FALSE(plain.rate.has_value());
  EXPECT_FALSE(plain.timestamp_values);
  const LoadOptions o = ParseOk({"load", "--rate", "20000", "--timestamp-values"}).load;
  EXPECT_EQ(o.rate, 20000.0);
  EXPECT_TRUE(o.timestamp_values);
  ExpectUsageError({"load", "--rate", "0"}, "--rate");
  ExpectUsageError({"load", "--timestamp-values", "--value-size", "4"}, "--value-size");
}

TEST(CommandLineTest, LoadDurability) {
  EXPECT_FALSE(ParseOk({"load"}).load.durability.has_value());
  for (const auto& [name, level] : std::vector<std::pair<std::string, protocol::DurabilityLevel>>{
           {"majority", protocol::DurabilityLevel::kMajority},
           {"majority_and_persist_on_master",
            protocol::DurabilityLevel::kMajorityAndPersistOnMaster},
           {"persist_to_majority", protocol::DurabilityLevel::kPersistToMajority}}) {
    const LoadOptions o = ParseOk({"load", "--durability", name}).load;
    ASSERT_TRUE(o.durability.has_value()) << name;
    EXPECT_EQ(o.durability->level, level) << name;
    EXPECT_FALSE(o.durability->timeout_ms.has_value()) << name;
  }
  ExpectUsageError({"load", "--durability", "none"}, "--durability");
  ExpectUsageError({"load", "--durability", "majority", "--no-auth"}, "--no-auth");
}

TEST(CommandLineTest, TailDefaults) {
  const CommandLine cmd = ParseOk({"tail"});
  EXPECT_EQ(cmd.command, Command::kTail);
  const TailOptions& o = cmd.tail;
  EXPECT_FALSE(o.vbuckets.has_value());
  EXPECT_EQ(o.from, (StartPosition{.latest = true, .seqno = 0}));
  EXPECT_FALSE(o.show_values);
  EXPECT_FALSE(o.verbose);
  EXPECT_FALSE(o.count.has_value());
  EXPECT_EQ(o.name, "");
  EXPECT_EQ(o.buffer_size, 1u << 20);
  EXPECT_FALSE(o.latency);
}

TEST(CommandLineTest, TailFlags) {
  const CommandLine cmd =
      ParseOk({"tail", "--vbuckets", "0-3,7", "--from", "42", "--show-values", "-v", "--count", "5",
               "--name", "watcher", "--buffer", "64k", "--latency"});
  const TailOptions& o = cmd.tail;
  EXPECT_EQ(o.vbuckets, (std::vector<Vbid>{0, 1, 2, 3, 7}));
  EXPECT_EQ(o.from, (StartPosition{.latest = false, .seqno = 42}));
  EXPECT_TRUE(o.show_values);
  EXPECT_TRUE(o.verbose);
  EXPECT_EQ(o.count, 5u);
  EXPECT_EQ(o.name, "watcher");
  EXPECT_EQ(o.buffer_size, 64u * 1024);
  EXPECT_TRUE(o.latency);
  EXPECT_EQ(ParseOk({"tail", "--from", "0"}).tail.from,
            (StartPosition{.latest = false, .seqno = 0}));
  EXPECT_EQ(ParseOk({"tail", "--buffer", "0"}).tail.buffer_size, 0u);
}

TEST(CommandLineTest, DrainDefaults) {
  const CommandLine cmd = ParseOk({"drain"});
  EXPECT_EQ(cmd.command, Command::kDrain);
  const DrainOptions& o = cmd.drain;
  EXPECT_FALSE(o.vbuckets.has_value());
  EXPECT_EQ(o.from, 0u);
  EXPECT_FALSE(o.to.has_value());
  EXPECT_FALSE(o.verify);
  EXPECT_EQ(o.buffer_size, 10u << 20);
  EXPECT_EQ(o.connections, 1u);
  EXPECT_EQ(o.progress, ProgressMode::kAuto);
}

TEST(CommandLineTest, DrainFlags) {
  const CommandLine cmd =
      ParseOk({"drain", "--vbuckets", "5,1-2", "--from", "10", "--to", "99", "--verify", "--buffer",
               "2m", "--connections", "3", "--name", "d", "--progress", "never"});
  const DrainOptions& o = cmd.drain;
  EXPECT_EQ(o.vbuckets, (std::vector<Vbid>{1, 2, 5}));
  EXPECT_EQ(o.from, 10u);
  EXPECT_EQ(o.to, 99u);
  EXPECT_TRUE(o.verify);
  EXPECT_EQ(o.buffer_size, 2u << 20);
  EXPECT_EQ(o.connections, 3u);
  EXPECT_EQ(o.name, "d");
  EXPECT_EQ(o.progress, ProgressMode::kNever);
  EXPECT_FALSE(ParseOk({"drain", "--to", "latest"}).drain.to.has_value());
  EXPECT_EQ(ParseOk({"drain", "--progress", "always"}).drain.progress, ProgressMode::kAlways);
}

TEST(CommandLineTest, TailAndDrainUsageErrors) {
  ExpectUsageError({"tail", "--vbuckets", "3-1"}, "'3-1'");
  ExpectUsageError({"tail", "--vbuckets", ""}, "vbucket");
  ExpectUsageError({"tail", "--from", "yesterday"}, "--from");
  ExpectUsageError({"tail", "--count", "0"}, "--count");
  ExpectUsageError({"tail", "--buffer", "5G"}, "--buffer");
  ExpectUsageError({"drain", "--vbuckets", "x"}, "'x'");
  ExpectUsageError({"drain", "--from", "latest"}, "--from");
  ExpectUsageError({"drain", "--to", "soon"}, "--to");
  ExpectUsageError({"drain", "--from", "10", "--to", "5"}, "--to");
  ExpectUsageError({"drain", "--connections", "0"}, "--connections");
  ExpectUsageError({"drain", "--progress", "sometimes"}, "--progress");
}

TEST(CommandLineTest, UsageErrorsExitWithTwo) {
  ExpectUsageError({}, "subcommand");
  ExpectUsageError({"frobnicate"}, "subcommand");
  ExpectUsageError({"get"}, "key");
  ExpectUsageError({"set", "k"}, "value");
  ExpectUsageError({"touch", "k"}, "--expiry");
  ExpectUsageError({"failover-log"}, "vbucket");
  ExpectUsageError({"failover-log", "70000"}, "vbucket");
  ExpectUsageError({"get", "k", "--port", "notaport"}, "--port");
  ExpectUsageError({"get", "k", "--bogus"}, "--bogus");
  ExpectUsageError({"get", "k", "--timeout", "0"}, "--timeout");
  ExpectUsageError({"load", "--set-ratio", "1.5"}, "--set-ratio");
  ExpectUsageError({"load", "--ops", "5", "--duration", "1"}, "--ops");
  ExpectUsageError({"load", "--vbuckets-mode", "random"}, "--vbuckets-mode");
  ExpectUsageError({"load", "--keys", "0"}, "--keys");
  ExpectUsageError({"load", "--pipeline", "0"}, "--pipeline");
  ExpectUsageError({"load", "--connections", "0"}, "--connections");
  ExpectUsageError({"load", "--ops", "0"}, "--ops");
  ExpectUsageError({"load", "--duration", "-1"}, "--duration");
}

TEST(CommandLineTest, HelpExitsWithZero) {
  ParseResult top = Parse({"--help"});
  EXPECT_FALSE(top.command.has_value());
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_NE(top.output.find("vbucket-seqnos"), std::string::npos);
  EXPECT_NE(top.output.find("tail"), std::string::npos);
  EXPECT_NE(top.output.find("drain"), std::string::npos);
  EXPECT_NE(top.output.find("Exit codes"), std::string::npos);

  ParseResult load = Parse({"load", "--help"});
  EXPECT_EQ(load.exit_code, 0);
  EXPECT_NE(load.output.find("--pipeline"), std::string::npos);
  EXPECT_NE(load.output.find("SLUICE_PASSWORD"), std::string::npos);
}

TEST(CommandLineTest, ClusterSubcommands) {
  const CommandLine init =
      ParseOk({"cluster", "init", "--etcd", "http://127.0.0.1:1,127.0.0.1:2", "--cluster", "c1",
               "--nodes", "a,b,c", "--replicas", "2", "--vbuckets", "64", "--bucket", "b1"});
  EXPECT_EQ(init.command, Command::kClusterInit);
  EXPECT_EQ(init.cluster.etcd, (std::vector<std::string>{"http://127.0.0.1:1", "127.0.0.1:2"}));
  EXPECT_EQ(init.cluster.cluster, "c1");
  EXPECT_EQ(init.cluster.nodes, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(init.cluster.replicas, 2u);
  EXPECT_EQ(init.cluster.vbuckets, 64u);
  EXPECT_EQ(init.connection.bucket, "b1");
  const CommandLine failover =
      ParseOk({"cluster", "failover", "b", "--etcd", "e:1", "--cluster", "c", "--json"});
  EXPECT_EQ(failover.command, Command::kClusterFailover);
  EXPECT_EQ(failover.cluster.node, "b");
  EXPECT_TRUE(failover.connection.json);
  EXPECT_FALSE(failover.cluster.graceful);
  EXPECT_TRUE(ParseOk({"cluster", "failover", "b", "--graceful", "--etcd", "e:1", "--cluster", "c"})
                  .cluster.graceful);
  EXPECT_EQ(ParseOk({"cluster", "status", "--etcd", "e:1", "--cluster", "c"}).command,
            Command::kClusterStatus);
  EXPECT_EQ(ParseOk({"cluster", "reset-failover-count", "--etcd", "e:1", "--cluster", "c"}).command,
            Command::kClusterResetFailoverCount);
  const CommandLine add = ParseOk({"cluster", "add", "d", "--etcd", "e:1", "--cluster", "c"});
  EXPECT_EQ(add.command, Command::kClusterAdd);
  EXPECT_EQ(add.cluster.node, "d");
  EXPECT_EQ(ParseOk({"cluster", "remove", "d", "--etcd", "e:1", "--cluster", "c"}).command,
            Command::kClusterRemove);
  const CommandLine rebalance =
      ParseOk({"cluster", "rebalance", "--no-wait", "--etcd", "e:1", "--cluster", "c"});
  EXPECT_EQ(rebalance.command, Command::kClusterRebalance);
  EXPECT_TRUE(rebalance.cluster.no_wait);

  ExpectUsageError({"cluster", "status", "--cluster", "c"}, "--etcd");
  ExpectUsageError({"cluster", "status", "--etcd", "e:1"}, "--cluster");
  ExpectUsageError({"cluster", "status", "--etcd", "e:1", "--cluster", "c", "--host", "h"},
                   "--host");  // the server flags are not theirs
  ExpectUsageError({"cluster", "init", "--etcd", "e:1", "--cluster", "c", "--nodes", "a,a"},
                   "twice");
  ExpectUsageError(
      {"cluster", "init", "--etcd", "e:1", "--cluster", "c", "--nodes", "a", "--replicas", "4"},
      "--replicas");
  ExpectUsageError({"cluster", "add", "--etcd", "e:1", "--cluster", "c"}, "node");
  ExpectUsageError({"cluster", "rebalance", "x", "--etcd", "e:1", "--cluster", "c"}, "x");
}

}  // namespace
}  // namespace sluice::tools
