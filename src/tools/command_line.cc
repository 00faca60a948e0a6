// File: tools/command_line.cc
//
// CLI11 set-up for every subcommand. CLI11 reports help and usage errors by throwing; both are
// caught here and turned into a ParseResult.
#include "tools/command_line.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <optional>
#include <set>
#include <sstream>

#include "tools/failure.h"
#include "tools/vbucket_list.h"

namespace sluice::tools {
namespace {

constexpr const char* kFooter =
    "Exit codes: 0 ok, 1 key not found, 2 usage error, 3 connection error, 4 authentication\n"
    "failed or no access, 5 not my vbucket, 6 other server error (or load errors).";

// Flags whose final value is decided after parsing (and whose errors are reported then).
struct Deferred {
  std::optional<std::string> password;
  std::optional<std::string> tail_vbuckets;
  std::string tail_from = "latest";
  std::optional<std::string> drain_vbuckets;
  std::string drain_to = "latest";
  std::string vbucket_state = "active";
};

void AddConnectionFlags(CLI::App* sub, ConnectionFlags* flags, Deferred* deferred) {
  sub->add_option("--host", flags->host, "Server address")->capture_default_str();
  sub->add_option("--port", flags->port, "Server port")->capture_default_str();
  sub->add_option("--user", flags->user, "SASL user (development default)")->capture_default_str();
  // Not CLI11's envname(): every subcommand binds the same variable, and the environment would be
  // applied through the subcommands not chosen too, overriding the flag. See FinishPassword().
  sub->add_option("--password", deferred->password,
                  "SASL password (default: $SLUICE_PASSWORD, else \"password\" as in "
                  "etc/dev-users.json)");
  sub->add_option("--bucket", flags->bucket, "Bucket to select")->capture_default_str();
  sub->add_flag("--no-auth", flags->no_auth,
                "Skip HELLO, SASL and bucket selection (plain memcached)");
  sub->add_flag("--json", flags->json, "Machine-readable output (one JSON object)");
  sub->add_option("--timeout", flags->timeout_seconds,
                  "Seconds to wait for the connection and for each reply")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
}

void AddVbucketFlag(CLI::App* sub, CommandLine* cmd) {
  sub->add_option("--vbucket", cmd->vbucket,
                  "vbucket to address (default: computed from the key with the server's "
                  "vbucket count, or 0 if the server has no cluster config)");
}

CLI::App* AddSubcommand(CLI::App& app, const char* name, const char* description, Command command,
                        CommandLine* cmd, Deferred* deferred) {
  CLI::App* sub = app.add_subcommand(name, description);
  // A flag given twice: the last one wins (so wrappers and aliases can override their defaults).
  sub->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  AddConnectionFlags(sub, &cmd->connection, deferred);
  sub->callback([cmd, command] { cmd->command = command; });
  sub->footer(kFooter);
  return sub;
}

void AddLoad(CLI::App& app, CommandLine* cmd, Deferred* deferred) {
  LoadOptions& load = cmd->load;
  CLI::App* sub = AddSubcommand(
      app, "load", "Pipelined GET/SET load generator: prints ops/s and latency percentiles (µs)",
      Command::kLoad, cmd, deferred);
  sub->add_option("--keys", load.keys, "Number of distinct keys")->capture_default_str();
  sub->add_option("--value-size", load.value_size, "Bytes per value")->capture_default_str();
  sub->add_option("--set-ratio", load.set_ratio, "Fraction of requests that are SETs (0..1)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  CLI::Option* ops = sub->add_option("--ops", load.ops, "Stop after this many requests");
  CLI::Option* duration = sub->add_option("--duration", load.duration_seconds,
                                          "Stop after this many seconds (default 10)");
  ops->excludes(duration);
  sub->add_option("--connections", load.connections, "Connections, one thread each")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1024u));
  sub->add_option("--pipeline", load.pipeline, "Requests in flight per connection")
      ->capture_default_str()
      ->check(CLI::Range(1u, 65536u));
  sub->add_option("--key-prefix", load.key_prefix, "Prefix of the generated keys")
      ->capture_default_str();
  sub->add_flag("--populate", load.populate, "Write every key once before measuring");
  sub->add_option_function<std::string>(
         "--vbuckets-mode",
         [&load](const std::string& mode) {
           load.vbucket_mode = mode == "zero" ? VBucketMode::kZero : VBucketMode::kCrc;
         },
         "crc: vbucket from the key (needs the server's vbucket count, as a Couchbase client); "
         "zero: vbucket 0 (memcached)")
      ->check(CLI::IsMember({"crc", "zero"}))
      ->default_str("crc");
  sub->add_option("--seed", load.seed, "Random seed (keys and operation mix)")
      ->capture_default_str();
  sub->add_option("--rate", load.rate,
                  "Requests per second in total (paced batches; default: as fast as possible)");
  sub->add_flag("--timestamp-values", load.timestamp_values,
                "Start every SET value with its send time (steady clock, ns, little-endian), "
                "for sluice tail --latency");
  sub->add_option_function<std::string>(
         "--durability",
         [&load](const std::string& name) {
           load.durability = protocol::DurabilityRequirement{.level = *ParseDurabilityLevel(name),
                                                             .timeout_ms = std::nullopt};
         },
         "Every SET is a durable write at this level (the server's default timeout)")
      ->check(CLI::IsMember({"majority", "majority_and_persist_on_master", "persist_to_majority"}));
}

// --buffer: bytes, with an optional size suffix (k/KB = 1024 bytes, m/MB = 1024 k).
void AddBufferFlag(CLI::App* sub, uint32_t* target, const char* what) {
  sub->add_option("--buffer", *target, what)
      ->capture_default_str()
      ->transform(CLI::AsSizeValue(false))
      ->check(CLI::Range(uint64_t{0}, uint64_t{UINT32_MAX}));
}

void AddTail(CLI::App& app, CommandLine* cmd, Deferred* deferred) {
  TailOptions& tail = cmd->tail;
  CLI::App* sub = AddSubcommand(
      app, "tail",
      "Follow the change stream (DCP): one line per change (vbucket, seqno, kind, key, value "
      "size); runs until Ctrl-C",
      Command::kTail, cmd, deferred);
  sub->add_option("--vbuckets", deferred->tail_vbuckets,
                  "vbuckets to follow, e.g. 0-3,7 (default: every active vbucket)");
  sub->add_option("--from", deferred->tail_from,
                  "latest (changes from now on), 0 (everything) or SEQNO (changes after it)")
      ->capture_default_str();
  sub->add_flag("--show-values", tail.show_values, "Print values instead of their sizes");
  sub->add_flag("-v,--verbose", tail.verbose,
                "Also print snapshot markers and stream ends (and, on stderr, when the streams "
                "are open)");
  sub->add_option("--count", tail.count, "Exit after this many changes");
  sub->add_option("--name", tail.name, "DCP connection name (default: sluice-tail-PID)");
  AddBufferFlag(sub, &tail.buffer_size,
                "Flow-control window in bytes (acknowledged automatically; 0 = none)");
  sub->add_flag("--latency", tail.latency,
                "Print no changes; report write-to-receipt latency of mutations whose values "
                "carry a send timestamp (sluice load --timestamp-values)");
}

void AddDrain(CLI::App& app, CommandLine* cmd, Deferred* deferred) {
  DrainOptions& drain = cmd->drain;
  CLI::App* sub = AddSubcommand(
      app, "drain",
      "Stream every vbucket to its current high seqno (DCP) and report items, bytes, items/s "
      "and MB/s",
      Command::kDrain, cmd, deferred);
  sub->add_option("--vbuckets", deferred->drain_vbuckets,
                  "vbuckets to drain, e.g. 0-3,7 (default: every active vbucket)");
  sub->add_option("--from", drain.from, "Start after this seqno (0 = everything)")
      ->capture_default_str();
  sub->add_option("--to", deferred->drain_to,
                  "latest (each vbucket's high seqno when its stream opens) or SEQNO")
      ->capture_default_str();
  sub->add_flag("--verify", drain.verify,
                "Check seqno order, snapshot markers and that every stream ended Ok");
  AddBufferFlag(sub, &drain.buffer_size, "Flow-control window per connection in bytes (0 = none)");
  sub->add_option("--connections", drain.connections,
                  "DCP connections, one thread each; vbuckets dealt round-robin")
      ->capture_default_str()
      ->check(CLI::Range(1u, 1024u));
  sub->add_option("--name", drain.name,
                  "DCP connection name (default: sluice-drain-PID; -N appended per connection)");
  sub->add_option_function<std::string>(
         "--progress",
         [&drain](const std::string& mode) {
           drain.progress = mode == "always"  ? ProgressMode::kAlways
                            : mode == "never" ? ProgressMode::kNever
                                              : ProgressMode::kAuto;
         },
         "Live progress line on stderr: auto (when stderr is a terminal), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->default_str("auto");
}

// A cluster subcommand: etcd flags instead of the server's, and --bucket, --json, --timeout.
CLI::App* AddClusterSubcommand(CLI::App* cluster, const char* name, const char* description,
                               Command command, CommandLine* cmd) {
  CLI::App* sub = cluster->add_subcommand(name, description);
  sub->option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  sub->add_option("--etcd", cmd->cluster.etcd, "etcd endpoints, e.g. http://127.0.0.1:2379")
      ->required()
      ->delimiter(',');
  sub->add_option("--cluster", cmd->cluster.cluster, "Cluster name (the keys under /sluice/NAME/)")
      ->required();
  sub->add_option("--bucket", cmd->connection.bucket, "Bucket whose map to write or show")
      ->capture_default_str();
  sub->add_flag("--json", cmd->connection.json, "Machine-readable output (one JSON object)");
  sub->add_option("--timeout", cmd->connection.timeout_seconds,
                  "Seconds for each etcd call, and to wait for nodes (init) or the manager "
                  "(failover)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  sub->callback([cmd, command] { cmd->command = command; });
  sub->footer(kFooter);
  return sub;
}

void AddCluster(CLI::App& app, CommandLine* cmd) {
  CLI::App* cluster = app.add_subcommand(
      "cluster",
      "A self-running cluster in etcd: form it, show it, add and remove nodes, rebalance, fail a "
      "node over");
  cluster->require_subcommand(1);
  cluster->footer(kFooter);
  ClusterFlags& flags = cmd->cluster;
  CLI::App* init = AddClusterSubcommand(
      cluster, "init",
      "Make registered nodes a cluster: members, a new epoch and the bucket's first map",
      Command::kClusterInit, cmd);
  init->add_option("--nodes", flags.nodes, "Node ids, e.g. a,b,c (each must be registered)")
      ->required()
      ->delimiter(',');
  init->add_option("--replicas", flags.replicas, "Replicas per vbucket (0..3)")
      ->capture_default_str()
      ->check(CLI::Range(0, 3));
  init->add_option("--vbuckets", flags.vbuckets,
                   "vbuckets of the bucket (as the nodes' --vbuckets)")
      ->capture_default_str()
      ->check(CLI::Range(1, 1024));
  init->add_flag("--force", flags.force,
                 "Re-initialise a cluster that already has members (a higher epoch)");
  AddClusterSubcommand(cluster, "status",
                       "Nodes, member status, alive or not, manager, map rev, vbuckets per node",
                       Command::kClusterStatus, cmd);
  CLI::App* failover = AddClusterSubcommand(
      cluster, "failover", "Hard failover of a node: its replicas are promoted, it leaves the map",
      Command::kClusterFailover, cmd);
  failover->add_option("node", flags.node, "Node id")->required();
  failover->add_flag("--no-wait", flags.no_wait,
                     "Return once requested instead of waiting for the manager to do it");
  failover->add_flag("--graceful", flags.graceful,
                     "The node is alive: move its actives to their replicas first (no write is "
                     "lost), then fail it over");
  AddClusterSubcommand(cluster, "reset-failover-count",
                       "Allow automatic failovers again (auto_failover_max_count)",
                       Command::kClusterResetFailoverCount, cmd);
  CLI::App* add = AddClusterSubcommand(
      cluster, "add", "Make a registered node a member (pending_add) for the next rebalance",
      Command::kClusterAdd, cmd);
  add->add_option("node", flags.node, "Node id")->required();
  CLI::App* remove = AddClusterSubcommand(
      cluster, "remove", "Mark a member pending_remove: the next rebalance moves its vbuckets away",
      Command::kClusterRemove, cmd);
  remove->add_option("node", flags.node, "Node id")->required();
  CLI::App* rebalance = AddClusterSubcommand(
      cluster, "rebalance",
      "Move vbuckets to a balanced map over the members (adds and removes pending ones); shows "
      "progress until done",
      Command::kClusterRebalance, cmd);
  rebalance->add_flag("--no-wait", flags.no_wait,
                      "Return once requested instead of showing progress until done");
}

Status CheckClusterFlags(const CommandLine& cmd) {
  if (cmd.command != Command::kClusterInit) return Status::Ok();
  std::set<std::string> ids;
  for (const auto& id : cmd.cluster.nodes) {
    if (id.empty() || id.find('/') != std::string::npos) {
      return Status(Errc::kInvalid, fmt::format("--nodes: bad node id '{}'", id));
    }
    if (!ids.insert(id).second) {
      return Status(Errc::kInvalid, fmt::format("--nodes: {} is listed twice", id));
    }
  }
  return Status::Ok();
}

// Turns the deferred strings of tail / drain into options; a usage message on error.
Status FinishDcpOptions(const Deferred& deferred, CommandLine* cmd) {
  if (cmd->command == Command::kTail) {
    if (deferred.tail_vbuckets) {
      ASSIGN_OR_RETURN(cmd->tail.vbuckets, ParseVBucketList(*deferred.tail_vbuckets));
    }
    ASSIGN_OR_RETURN(cmd->tail.from, ParseStartPosition(deferred.tail_from));
    if (cmd->tail.count && *cmd->tail.count == 0) {
      return Status(Errc::kInvalid, "--count must be at least 1");
    }
  } else if (cmd->command == Command::kDrain) {
    if (deferred.drain_vbuckets) {
      ASSIGN_OR_RETURN(cmd->drain.vbuckets, ParseVBucketList(*deferred.drain_vbuckets));
    }
    ASSIGN_OR_RETURN(cmd->drain.to, ParseEndPosition(deferred.drain_to));
    if (cmd->drain.to && *cmd->drain.to < cmd->drain.from) {
      return Status(Errc::kInvalid, "--to must not be below --from");
    }
  }
  return Status::Ok();
}

void BuildApp(CLI::App& app, CommandLine* cmd, Deferred* deferred) {
  app.require_subcommand(1);
  app.footer(kFooter);

  CLI::App* get =
      AddSubcommand(app, "get", "Print a document's value", Command::kGet, cmd, deferred);
  get->add_option("key", cmd->key, "Key")->required();
  AddVbucketFlag(get, cmd);

  CLI::App* set = AddSubcommand(app, "set", "Store a document", Command::kSet, cmd, deferred);
  set->add_option("key", cmd->key, "Key")->required();
  set->add_option("value", cmd->value, "Value")->required();
  set->add_option("--flags", cmd->flags, "Flags stored with the document");
  set->add_option("--expiry", cmd->expiry, "Expiry (seconds from now, or a Unix time)");
  AddVbucketFlag(set, cmd);

  CLI::App* rm = AddSubcommand(app, "rm", "Delete a document", Command::kRm, cmd, deferred);
  rm->add_option("key", cmd->key, "Key")->required();
  AddVbucketFlag(rm, cmd);

  CLI::App* touch =
      AddSubcommand(app, "touch", "Change a document's expiry", Command::kTouch, cmd, deferred);
  touch->add_option("key", cmd->key, "Key")->required();
  touch->add_option("--expiry", cmd->expiry, "New expiry (seconds from now, or a Unix time)")
      ->required();
  AddVbucketFlag(touch, cmd);

  CLI::App* stats = AddSubcommand(app, "stats", "Print a stats group (default group if none)",
                                  Command::kStats, cmd, deferred);
  stats->add_option("group", cmd->stats_group, "Stats group, e.g. vbucket-seqno, memory");

  AddSubcommand(app, "vbucket-seqnos", "Print every vbucket's high seqno", Command::kVbucketSeqnos,
                cmd, deferred);

  CLI::App* failover = AddSubcommand(app, "failover-log", "Print a vbucket's failover log",
                                     Command::kFailoverLog, cmd, deferred);
  failover->add_option("vbucket", cmd->failover_vbucket, "vbucket")->required();

  CLI::App* vbucket =
      app.add_subcommand("vbucket", "vbucket administration (kv_engine's SET_VBUCKET)");
  vbucket->require_subcommand(1);
  vbucket->footer(kFooter);
  CLI::App* vbucket_set = AddSubcommand(
      *vbucket, "set",
      "Set a vbucket's state (active, replica, pending, dead) and, for an active one, its "
      "replication topology",
      Command::kVbucketSet, cmd, deferred);
  vbucket_set->add_option("vbucket", cmd->state_vbucket, "vbucket")->required();
  vbucket_set->add_option("state", deferred->vbucket_state, "active, replica, pending or dead")
      ->required()
      ->check(CLI::IsMember({"active", "replica", "pending", "dead"}));
  vbucket_set->add_option("--topology", cmd->topology,
                          "The chains, active first, e.g. '[[\"a\",\"b\"]]' (null for a replica "
                          "slot without a node; a second chain during a move); active only");

  AddLoad(app, cmd, deferred);
  AddTail(app, cmd, deferred);
  AddDrain(app, cmd, deferred);
  AddCluster(app, cmd);
}

}  // namespace

ParseResult ParseCommandLine(const std::vector<std::string>& args) {
  ParseResult result;
  CommandLine cmd;
  Deferred deferred;
  CLI::App app{"sluice: command-line client of sluiced (and of memcached for `load --no-auth`)",
               "sluice"};
  BuildApp(app, &cmd, &deferred);
  std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 parses from the back
  try {
    app.parse(reversed);
  } catch (const CLI::ParseError& e) {
    std::ostringstream out;
    std::ostringstream err;
    const int code = app.exit(e, out, err);
    result.output = out.str();
    result.error = err.str();
    result.exit_code = code == 0 ? 0 : ToInt(ExitCode::kUsage);
    return result;
  }
  // --password, else $SLUICE_PASSWORD, else the development default.
  if (deferred.password) {
    cmd.connection.password = *deferred.password;
  } else if (const char* env = std::getenv("SLUICE_PASSWORD")) {
    cmd.connection.password = env;
  }
  if (cmd.command == Command::kLoad) {
    if (!cmd.load.ops && !cmd.load.duration_seconds) cmd.load.duration_seconds = 10.0;
    Status valid = ValidateLoadOptions(cmd.load);
    if (valid.ok() && cmd.load.durability && cmd.connection.no_auth) {
      valid = Status(Errc::kInvalid,
                     "--durability needs a sluiced session (HELLO SyncReplication): not with "
                     "--no-auth");
    }
    if (!valid.ok()) {
      result.error = std::string(valid.message()) + "\nRun with --help for more information.\n";
      result.exit_code = ToInt(ExitCode::kUsage);
      return result;
    }
  }
  if (cmd.command == Command::kVbucketSet) {
    cmd.state = *ParseVBucketState(deferred.vbucket_state);
    Status valid;
    if (cmd.topology) {
      auto topology = ParseTopologyJson(*cmd.topology);
      valid = topology.status();
      if (valid.ok() && cmd.state != VBucketState::kActive) {
        valid = Status(Errc::kInvalid, "--topology is for an active vbucket only");
      }
    }
    if (!valid.ok()) {
      result.error = "--topology: " + std::string(valid.message()) +
                     "\nRun with --help for more information.\n";
      result.exit_code = ToInt(ExitCode::kUsage);
      return result;
    }
  }
  if (const Status flags = CheckClusterFlags(cmd); !flags.ok()) {
    result.error = std::string(flags.message()) + "\nRun with --help for more information.\n";
    result.exit_code = ToInt(ExitCode::kUsage);
    return result;
  }
  if (const Status dcp = FinishDcpOptions(deferred, &cmd); !dcp.ok()) {
    result.error = std::string(dcp.message()) + "\nRun with --help for more information.\n";
    result.exit_code = ToInt(ExitCode::kUsage);
    return result;
  }
  result.command = std::move(cmd);
  return result;
}

}  // namespace sluice::tools
