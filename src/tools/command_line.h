// File: tools/command_line.h
//
// The `sluice` command line: what every subcommand accepts, parsed by CLI11 into one plain
// CommandLine value that the subcommands then run from (commands.h). Parsing is separate from
// running so that tests can check it without a server, and so that CLI11's exceptions stay inside
// command_line.cc (ParseCommandLine catches them and returns a ParseResult).
//
//   sluice [--help] SUBCOMMAND [connection flags] [subcommand arguments]
//
// Connection flags, accepted by every subcommand:
//   --host H (127.0.0.1)  --port P (11210)  --bucket B (default)
//   --user U (Administrator)  --password P (env SLUICE_PASSWORD, else "password": the development
//   users file etc/dev-users.json)  --no-auth (skip HELLO, SASL and bucket selection: plain
//   memcached)
//   --json (machine-readable output)  --timeout SECONDS (30: connect and each I/O wait)
//
// Subcommands: get, set, rm, touch, stats, vbucket-seqnos, failover-log, vbucket set, load, tail,
// drain, cluster init|status|failover|reset-failover-count|add|remove|rebalance (these take --etcd
// URL --cluster NAME instead of the server flags)
// (see --help of each). Exit codes: tools/failure.h.
//
// Thread safety: ParseCommandLine is a pure function of its arguments and the environment.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/types.h"
#include "common/vbucket_topology.h"
#include "tools/dcp_options.h"
#include "tools/load_generator.h"

namespace sluice::tools {

struct ConnectionFlags {
  std::string host = "127.0.0.1";
  uint16_t port = 11210;
  std::string user = "Administrator";
  std::string password = "password";
  std::string bucket = "default";
  bool no_auth = false;
  bool json = false;
  double timeout_seconds = 30;
};

enum class Command : uint8_t {
  kGet,
  kSet,
  kRm,
  kTouch,
  kStats,
  kVbucketSeqnos,
  kFailoverLog,
  kVbucketSet,
  kLoad,
  kTail,
  kDrain,
  kClusterInit,
  kClusterStatus,
  kClusterFailover,
  kClusterResetFailoverCount,
  kClusterAdd,
  kClusterRemove,
  kClusterRebalance,
};

// `sluice cluster ...`: etcd instead of a server (the connection flags they take are --bucket,
// --json and --timeout; docs/cluster.md).
struct ClusterFlags {
  std::vector<std::string> etcd;  // --etcd URL[,URL...]
  std::string cluster;            // --cluster NAME
  // init
  std::vector<std::string> nodes;  // --nodes A,B,C
  size_t replicas = 1;
  size_t vbuckets = 1024;
  bool force = false;  // re-initialise a cluster that has members (a new epoch)
  // failover / add / remove
  std::string node;
  // failover, rebalance: return once requested, without waiting for the manager
  bool no_wait = false;
  bool graceful = false;  // failover: move the node's actives to their replicas first
};

struct CommandLine {
  Command command = Command::kGet;
  ConnectionFlags connection;

  // get / set / rm / touch
  std::string key;
  std::string value;               // set
  std::optional<Vbid> vbucket;     // default: VBucketForKey with the server's vbucket count
  uint32_t flags = 0;              // set
  std::optional<uint32_t> expiry;  // set (default 0), touch (required)

  // stats
  std::string stats_group;  // "" = the default group

  // failover-log
  Vbid failover_vbucket = 0;

  // vbucket set VB STATE [--topology JSON]
  Vbid state_vbucket = 0;
  VBucketState state = VBucketState::kActive;
  std::optional<std::string> topology;  // the JSON array of chains, checked while parsing

  // load
  LoadOptions load;

  // tail / drain
  TailOptions tail;
  DrainOptions drain;

  // cluster init / status / failover / reset-failover-count / add / remove / rebalance
  ClusterFlags cluster;
};

struct ParseResult {
  // Set when the arguments name a command to run; otherwise exit with exit_code after printing
  // `output` to stdout (--help) and `error` to stderr (usage errors, exit code 2).
  std::optional<CommandLine> command;
  int exit_code = 0;
  std::string output;
  std::string error;
};

// `args` excludes the program name.
ParseResult ParseCommandLine(const std::vector<std::string>& args);

}  // namespace sluice::tools
