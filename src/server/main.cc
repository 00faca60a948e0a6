// sluiced: the sluice server. See README.md and docs/configuration.md.
//
// Start-up order: flags and configuration -> users -> executor -> bucket (warmup) -> DCP ConnMap ->
// cluster view (the static map's states applied) -> listen -> replication (from the cluster file,
// --replica-of or the map from etcd) -> print "sluiced listening on HOST:PORT" (and start /metrics)
// -> with --etcd, the node agent (registration, maps, fencing; it needs the ports), then the
// manager candidate (cluster/manager.h; elected through etcd, it fails members over).
// SIGTERM/SIGINT: stop the manager (it resigns) -> stop the node agent (lease revoked) -> stop
// replication -> stop accepting and close connections -> end DCP (wait for backfills) -> bucket
// shutdown (persist everything, clean-shutdown marker, close RocksDB) -> stop background threads
// -> exit 0.
//
// Standard output carries exactly one line, "sluiced listening on HOST:PORT" (scripts and the
// test harness read the port from it), plus, only with --tls-port, a second line
// "sluiced listening (tls) on HOST:PORT". Everything else goes to the log on stderr.
//
// TLS: --tls-port PORT (0 picks a free port; absent, no TLS) with --tls-cert FILE (PEM
// certificate chain) and --tls-key FILE (PEM private key) serves the same protocol over TLS on a
// second port. --host defaults to the loopback address; listening anywhere else without TLS logs
// a warning. --max-connections N sets max_connections (plain and TLS connections together).
//
// Cluster: --node-id ID --cluster-map FILE make the node one of a static cluster (the file's format
// is in cluster/cluster_map.h and docs/replication.md): it listens on its port from the file
// (unless --port says the same), sets its vbuckets' states from the map at start
// (server/cluster_view.h), describes every node in its cluster config and, in a cluster of more
// than one node, replicates each replica vbucket from the node the file names active for it
// (server/replication_setup.h). A malformed file, an ID the file does not list or --replica-of
// beside it is a usage error (exit code 2).
//
// etcd: --etcd URL --cluster NAME --node-id ID [--node-ttl SECONDS] make the node a member of a
// cluster kept in etcd (docs/cluster.md; cluster/node_agent.h): it registers under a lease, applies
// the map of its bucket from etcd whenever it changes (server/map_applier.h) and fences writes
// while its membership is not confirmed. --etcd beside --cluster-map or --replica-of, or without
// --cluster and --node-id, is a usage error.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cluster/etcd_client.h"
#include "cluster/manager.h"
#include "cluster/node_agent.h"
#include "common/config.h"
#include "common/logging.h"
#include "dcp/conn_map.h"
#include "engine/bucket.h"
#include "executor/executor.h"
#include "sasl/users.h"
#include "server/cluster_view.h"
#include "server/map_applier.h"
#include "server/memcached_seqno_probe.h"
#include "server/metrics_server.h"
#include "server/replication_setup.h"
#include "server/server.h"
#include "server/server_context.h"

namespace sluice {
namespace {

constexpr int kUsageError = 2;

// Every engine parameter with its default and unit, the description wrapped under it (the
// --help footer and --help-params; docs/configuration.md is the same registry as Markdown).
std::string ParamHelp() {
  constexpr size_t kWidth = 100;
  constexpr std::string_view kIndent = "      ";
  std::string out =
      "\nEngine parameters: --set NAME=VALUE, or a JSON object in --config FILE\n"
      "(sluiced --help-params lists only these; docs/configuration.md has them too):\n";
  const Config defaults;
  for (const auto& p : ConfigParams()) {
    out += fmt::format("  {} = {} ({})\n", p.name, defaults.Get(p.name).value(), p.unit);
    std::string line(kIndent);
    std::string_view rest = p.description;
    while (!rest.empty()) {
      const size_t space = rest.find(' ');
      const std::string_view word = rest.substr(0, space);
      rest = space == std::string_view::npos ? std::string_view() : rest.substr(space + 1);
      if (line.size() > kIndent.size() && line.size() + 1 + word.size() > kWidth) {
        out += line + "\n";
        line = kIndent;
      }
      if (line.size() > kIndent.size()) line += ' ';
      line += word;
    }
    if (line.size() > kIndent.size()) out += line + "\n";
  }
  return out;
}

StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status(Errc::kIoError, "cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// What the command line asked for.
struct Options {
  std::string host = "127.0.0.1";
  uint16_t port = 11210;
  std::string data_dir = "./data";
  std::string bucket_name = "default";
  std::string users_file;
  std::string config_file;
  std::string log_level = "info";
  std::optional<uint64_t> vbuckets;
  std::optional<std::string> memory_quota;
  std::vector<std::string> sets;
  std::optional<uint64_t> max_connections;
  std::optional<uint16_t> tls_port;
  std::string tls_cert;
  std::string tls_key;
  uint16_t metrics_port = 11280;
  bool metrics_port_given = false;  // --metrics-port was on the command line
  bool port_given = false;          // --port was on the command line
  std::optional<std::string> replica_of;
  std::string node_id;
  std::string cluster_map_file;
  std::string etcd;  // --etcd URL: a cluster kept in etcd
  std::string cluster_name;
  std::optional<uint32_t> node_ttl;
};

constexpr uint32_t kDefaultNodeTtl = 5;

// Reports a usage error on stderr; returns the exit code for it.
int UsageError(const std::string& what) {
  std::cerr << "sluiced: " << what << "\n";
  return kUsageError;
}

// Parses the command line into *options. Returns the exit code when sluiced stops here: 0 after
// --help, --help-params or --config-doc (which need no users file), kUsageError for a command
// line CLI11 refuses; nullopt to go on.
std::optional<int> ParseFlags(int argc, char** argv, Options* options) {
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--config-doc") {
      std::cout << ConfigReferenceMarkdown();
      return 0;
    }
    if (std::string_view(argv[i]) == "--help-params") {
      std::cout << ParamHelp();
      return 0;
    }
  }
  Options& o = *options;
  CLI::App app{"sluiced: a persistent key-value server with a built-in change stream"};
  app.add_option("--host", o.host, "Address to listen on")->capture_default_str();
  CLI::Option* port_opt =
      app.add_option("--port", o.port,
                     "TCP port (0 picks a free port; given twice, the last wins); with "
                     "--cluster-map, this node's port in the map unless given")
          ->capture_default_str()
          ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--data-dir", o.data_dir, "Data directory")->capture_default_str();
  app.add_option("--vbuckets", o.vbuckets, "Number of vbuckets (default 1024)");
  app.add_option("--memory-quota", o.memory_quota, "Bucket memory quota, e.g. 512M, 2G");
  app.add_option("--bucket", o.bucket_name, "Bucket name")->capture_default_str();
  app.add_option("--users", o.users_file, "Users file (JSON)")->required();
  app.add_option("--config", o.config_file, "Engine parameters as a JSON object");
  app.add_option("--set", o.sets, "Set an engine parameter: NAME=VALUE (repeatable)");
  app.add_option("--max-connections", o.max_connections,
                 "Connections served at once (max_connections); more are accepted and closed");
  app.add_option("--tls-port", o.tls_port, "Also serve TLS on this port (0 picks a free port)");
  app.add_option("--tls-cert", o.tls_cert, "TLS certificate chain (PEM file), with --tls-port");
  app.add_option("--tls-key", o.tls_key, "TLS private key (PEM file), with --tls-port");
  CLI::Option* metrics_opt =
      app.add_option("--metrics-port", o.metrics_port,
                     "Prometheus /metrics HTTP port on --host (0 = off; with --port 0 and no "
                     "--metrics-port, a free port, named on stderr)")
          ->capture_default_str();
  app.add_option("--node-id", o.node_id, "This node's id (in the --cluster-map file, or in etcd)");
  app.add_option("--etcd", o.etcd,
                 "etcd endpoint(s), http://HOST:PORT[,...]: join the cluster kept there (with "
                 "--cluster and --node-id)");
  app.add_option("--cluster", o.cluster_name, "The cluster's name in etcd, with --etcd");
  app.add_option("--node-ttl", o.node_ttl,
                 "Seconds this node's etcd lease lives without renewal, with --etcd (default 5)");
  app.add_option("--cluster-map", o.cluster_map_file,
                 "Static cluster file (JSON: nodes, num_replicas, optional vbucket_map), with "
                 "--node-id");
  // Hidden test/driver flag, for replication without a cluster file (docs/configuration.md).
  app.add_option("--replica-of", o.replica_of,
                 "Every replica vbucket streams from this HOST:PORT (tests and drivers)")
      ->group("");
  app.add_option("--log-level", o.log_level, "trace|debug|info|warn|error|off")
      ->capture_default_str();
  bool handled_above = false;  // listed for --help
  app.add_flag("--config-doc", handled_above,
               "Print the engine parameter reference (Markdown) and exit");
  app.add_flag("--help-params", handled_above,
               "Print every engine parameter with its default and unit, and exit");
  app.footer(ParamHelp());
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << "sluiced: " << e.what() << "\n(see sluiced --help)\n";
    return kUsageError;
  }
  o.metrics_port_given = metrics_opt->count() > 0;
  o.port_given = port_opt->count() > 0;
  return std::nullopt;
}

// --etcd and the flags that go with it (or must not).
Status CheckEtcdFlags(const Options& o) {
  auto invalid = [](std::string what) { return Status(Errc::kInvalid, std::move(what)); };
  if (o.etcd.empty()) {
    if (!o.cluster_name.empty()) return invalid("--cluster needs --etcd");
    if (o.node_ttl) return invalid("--node-ttl needs --etcd");
    return Status::Ok();
  }
  if (!o.cluster_map_file.empty()) {
    return invalid("--etcd and --cluster-map: give one source of the cluster map");
  }
  if (o.replica_of) return invalid("--etcd and --replica-of: give one source of replication");
  if (o.cluster_name.empty() || o.node_id.empty()) {
    return invalid("--etcd needs --cluster and --node-id");
  }
  if (o.cluster_name.find('/') != std::string::npos || o.node_id.find('/') != std::string::npos) {
    return invalid("--cluster and --node-id may not contain '/'");
  }
  if (o.node_ttl && *o.node_ttl < 1) return invalid("--node-ttl must be at least 1 second");
  return Status::Ok();
}

// The engine parameters — defaults, then --config, then --set, then the dedicated flags — with
// the checks of the flags that go together. An error's message is the usage error to print.
StatusOr<Config> Configure(const Options& o) {
  auto invalid = [](std::string what) { return Status(Errc::kInvalid, std::move(what)); };
  Config config;
  if (!o.config_file.empty()) {
    auto text = ReadFile(o.config_file);
    if (!text.ok()) return invalid(text.status().ToString());
    if (Status s = config.ApplyJson(*text); !s.ok()) {
      return invalid(o.config_file + ": " + std::string(s.message()));
    }
  }
  for (const auto& assignment : o.sets) {
    const size_t eq = assignment.find('=');
    if (eq == std::string::npos) return invalid("--set expects NAME=VALUE, got " + assignment);
    RETURN_IF_ERROR(config.Set(assignment.substr(0, eq), assignment.substr(eq + 1)));
  }
  if (o.vbuckets) config.max_vbuckets = *o.vbuckets;
  if (o.max_connections) config.max_connections = *o.max_connections;
  if (o.tls_port && (o.tls_cert.empty() || o.tls_key.empty())) {
    return invalid("--tls-port needs --tls-cert and --tls-key");
  }
  if (!o.tls_port && (!o.tls_cert.empty() || !o.tls_key.empty())) {
    return invalid("--tls-cert and --tls-key need --tls-port");
  }
  if (o.memory_quota) {
    auto size = ParseSize(*o.memory_quota);
    if (!size.ok()) return invalid("--memory-quota: " + std::string(size.status().message()));
    config.max_size = *size;
  }
  RETURN_IF_ERROR(config.Validate());
  if (o.replica_of) {
    if (auto hp = server::ParseHostPort(*o.replica_of); !hp.ok()) {
      return invalid("--replica-of: " + std::string(hp.status().message()));
    }
  }
  if (o.bucket_name.empty() || o.bucket_name.size() > 100) return invalid("invalid --bucket");
  RETURN_IF_ERROR(CheckEtcdFlags(o));
  return config;
}

// --node-id and --cluster-map: the static cluster (nullopt without them), and this node's port
// from it unless --port was given (then they must agree). An error's message is the usage error
// to print.
StatusOr<std::optional<cluster::ClusterMap>> LoadCluster(const Config& config, Options* o) {
  if (!o->etcd.empty()) return std::optional<cluster::ClusterMap>();  // the map comes from etcd
  ASSIGN_OR_RETURN(
      auto map, server::LoadClusterMapFlags(o->node_id, o->cluster_map_file, config.max_vbuckets));
  if (!map) return map;
  if (o->replica_of) {
    return Status(Errc::kInvalid, "--replica-of and --cluster-map: give one source of replication");
  }
  const uint16_t map_port = map->FindNode(o->node_id)->port;
  if (!o->port_given) o->port = map_port;
  if (o->port != map_port) {
    return Status(Errc::kInvalid, fmt::format("--port {}: the cluster map lists node {} on port {}",
                                              o->port, o->node_id, map_port));
  }
  return map;
}

// Blocks SIGINT and SIGTERM, to be taken synchronously by sigwait; call before any thread starts.
sigset_t BlockShutdownSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  return signals;
}

std::unique_ptr<executor::Executor> MakeExecutor(const Config& config) {
  executor::ThreadCounts counts;
  counts.threads = {config.num_reader_threads, config.num_writer_threads, config.num_auxio_threads,
                    config.num_nonio_threads};
  counts.nice[static_cast<size_t>(executor::TaskGroup::kWriter)] =
      static_cast<int>(config.writer_threads_nice);
  return executor::MakeThreadPoolExecutor(counts);
}

// "host" for an IPv4 address or a name, "[host]" for an IPv6 address.
std::string ShownHost(const std::string& host) {
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

// Listens on the flags' ports (plain, and TLS with --tls-port).
Status Listen(const Options& o, server::Server& server) {
  std::optional<server::TlsListenOptions> tls;
  if (o.tls_port) tls = server::TlsListenOptions{*o.tls_port, o.tls_cert, o.tls_key};
  return server.Listen(o.host, o.port, tls);
}

// Says the server listens: "sluiced listening on HOST:PORT" (and the TLS line) on stdout, then
// starts the metrics endpoint and names it on stderr. The metrics port goes to stderr only:
// stdout keeps the listening line(s). With --port 0 (tests, several servers at once) the default
// would collide, so it is a free port unless --metrics-port was given. A metrics endpoint that
// cannot start is logged; the server goes on without it.
void Announce(const Options& o, server::Server& server, server::MetricsServer& metrics) {
  const std::string shown_host = ShownHost(o.host);
  std::printf("sluiced listening on %s:%u\n", shown_host.c_str(), server.port());
  if (o.tls_port) {
    std::printf("sluiced listening (tls) on %s:%u\n", shown_host.c_str(), server.tls_port());
  }
  std::fflush(stdout);
  if (o.metrics_port_given && o.metrics_port == 0) return;
  const uint16_t want = !o.metrics_port_given && o.port == 0 ? 0 : o.metrics_port;
  if (Status s = metrics.Start(o.host, want); !s.ok()) {
    LOG_ERROR("{} (continuing without /metrics)", s.ToString());
    return;
  }
  std::fprintf(stderr, "sluiced metrics on http://%s:%u/metrics\n", shown_host.c_str(),
               metrics.port());
  std::fflush(stderr);
}

// The cluster view: revisions persisted beside the bucket's data; the static map applied.
Status SetUpClusterView(const Options& o, std::optional<cluster::ClusterMap> map,
                        server::ClusterView& view) {
  if (!o.etcd.empty()) return view.Configure({std::nullopt, o.node_id, "", /*dynamic=*/true});
  RETURN_IF_ERROR(view.Configure(
      {std::move(map), o.node_id, o.data_dir + "/" + o.bucket_name + ".node-state.json"}));
  return view.ApplyClusterMap();
}

// The replicator, once the server listens (with --replica-of, this node's id is its HOST:PORT):
// fed from the map from etcd (`sources`, with --etcd), from --replica-of, or from the cluster file
// of a cluster of more than one node (a node alone has nobody to replicate from); an empty runtime
// otherwise.
StatusOr<server::ReplicationRuntime> StartReplication(
    const Options& o, const Config& config, const cluster::ClusterMap* map,
    std::shared_ptr<server::DynamicMapSources> sources, uint16_t port,
    std::shared_ptr<engine::Bucket> bucket, executor::Executor& executor) {
  server::ReplicationSetup setup{o.users_file, o.node_id, &config, std::move(bucket), &executor};
  if (sources) return server::StartFromDynamicMap(std::move(sources), setup);
  if (o.replica_of) {
    setup.node_id = fmt::format("{}:{}", ShownHost(o.host), port);
    return server::StartReplicaOf(*o.replica_of, setup);
  }
  if (map != nullptr && map->nodes().size() > 1) return server::StartFromClusterMap(*map, setup);
  return server::ReplicationRuntime{};
}

// The etcd client of --etcd (comma-separated endpoints). Calls are bounded by the lease TTL, so
// that a hung etcd cannot hold a registration past it.
StatusOr<std::shared_ptr<cluster::EtcdClient>> MakeEtcdClient(const Options& o) {
  cluster::EtcdOptions options;
  std::string_view rest = o.etcd;
  while (!rest.empty()) {
    const size_t comma = rest.find(',');
    options.endpoints.emplace_back(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  const auto ttl = std::chrono::seconds(o.node_ttl.value_or(kDefaultNodeTtl));
  options.connect_timeout = std::chrono::milliseconds(500);
  options.request_timeout =
      std::clamp<std::chrono::milliseconds>(ttl, std::chrono::seconds(1), std::chrono::seconds(5));
  auto client = cluster::EtcdClient::Create(options);
  if (!client.ok()) return Status(Errc::kInvalid, "--etcd: " + client.status().ToString());
  return client;
}

// The address other nodes and clients reach this node on: --host, or the loopback address when
// listening on every address.
std::string AdvertisedHost(const std::string& host) {
  if (host.empty() || host == "0.0.0.0" || host == "::" || host == "[::]") return "127.0.0.1";
  return host;
}

// The node agent of --etcd, started; null without --etcd.
std::unique_ptr<cluster::NodeAgent> StartNodeAgent(const Options& o, const Config& config,
                                                   std::shared_ptr<cluster::EtcdClient> etcd,
                                                   uint16_t port, uint16_t metrics_port,
                                                   server::MapApplier* applier) {
  if (!etcd) return nullptr;
  cluster::NodeAgentOptions options;
  options.cluster = o.cluster_name;
  options.node_id = o.node_id;
  options.bucket = o.bucket_name;
  options.num_vbuckets = config.max_vbuckets;
  options.ttl = std::chrono::seconds(o.node_ttl.value_or(kDefaultNodeTtl));
  options.host = AdvertisedHost(o.host);
  options.port = port;
  options.metrics_port = metrics_port;
  auto agent = std::make_unique<cluster::NodeAgent>(std::move(etcd), options, *applier);
  agent->Start();
  return agent;
}

// The manager candidate of --etcd (every node campaigns; the elected one fails members over),
// started on the agent's etcd client; null without --etcd.
StatusOr<std::unique_ptr<cluster::Manager>> StartManager(const Options& o, const Config& config,
                                                         const cluster::NodeAgent* agent) {
  if (agent == nullptr) return std::unique_ptr<cluster::Manager>();
  ASSIGN_OR_RETURN(server::SeqnoProbeOptions probe,
                   server::SeqnoProbeOptionsFromUsers(o.users_file, config));
  cluster::ManagerOptions options;
  options.cluster = o.cluster_name;
  options.node_id = o.node_id;
  options.election_ttl = std::chrono::seconds(o.node_ttl.value_or(kDefaultNodeTtl));
  auto manager = std::make_unique<cluster::Manager>(
      agent->client(), options, std::make_shared<server::MemcachedSeqnoProbe>(std::move(probe)));
  manager->Start();
  return manager;
}

// Opens the bucket and serves it until SIGINT or SIGTERM, then shuts down in order; returns the
// exit code.
int Serve(const Options& o, const Config& config, std::optional<cluster::ClusterMap> cluster_map,
          std::shared_ptr<const sasl::UserDatabase> users,
          std::shared_ptr<cluster::EtcdClient> etcd) {
  const sigset_t signals = BlockShutdownSignals();
  auto executor = MakeExecutor(config);
  engine::BucketOptions bucket_options;
  bucket_options.name = o.bucket_name;
  bucket_options.data_dir = o.data_dir;
  bucket_options.config = config;
  bucket_options.executor = executor.get();
  auto bucket = engine::Bucket::Open(bucket_options);
  if (!bucket.ok()) {
    LOG_CRITICAL("cannot open bucket {}: {}", o.bucket_name, bucket.status().ToString());
    executor->Shutdown();
    return 1;
  }
  std::shared_ptr<dcp::ConnMap> conn_map = dcp::ConnMap::Create(*bucket);
  server::ServerContext ctx(config, *bucket, conn_map, std::move(users));
  server::Server server(ctx);
  server::MetricsServer metrics(ctx);
  auto fail = [&](int code) {
    server.Stop();
    conn_map->Shutdown();
    (*bucket)->Shutdown().IgnoreError();  // already failing; the log says why
    executor->Shutdown();
    return code;
  };
  if (Status s = SetUpClusterView(o, std::move(cluster_map), ctx.cluster()); !s.ok()) {
    LOG_CRITICAL("cannot set up the cluster view: {}", s.ToString());
    return fail(1);
  }
  if (Status s = Listen(o, server); !s.ok()) {
    LOG_CRITICAL("{}", s.ToString());
    return fail(1);
  }
  auto sources = etcd ? std::make_shared<server::DynamicMapSources>(o.node_id) : nullptr;
  auto replication = StartReplication(o, config, ctx.cluster().map().get(), sources, server.port(),
                                      *bucket, *executor);
  if (!replication.ok()) {
    LOG_CRITICAL("replication: {}", replication.status().ToString());
    return fail(kUsageError);
  }
  ctx.set_replicator(replication->replicator);
  Announce(o, server, metrics);
  server::MapApplier applier(ctx, sources, replication->feed);
  std::unique_ptr<cluster::NodeAgent> agent =
      StartNodeAgent(o, config, std::move(etcd), server.port(), metrics.port(), &applier);
  auto manager = StartManager(o, config, agent.get());
  if (!manager.ok()) {
    LOG_CRITICAL("cluster manager: {}", manager.status().ToString());
    if (agent) agent->Stop().IgnoreError();
    replication->Stop();
    return fail(kUsageError);
  }
  LOG_INFO("sluiced {} listening on {}:{} (bucket {}, {} vbuckets, quota {} bytes)", SLUICE_VERSION,
           ShownHost(o.host), server.port(), o.bucket_name, config.max_vbuckets, config.max_size);

  int sig = 0;
  sigwait(&signals, &sig);
  LOG_INFO("signal {} received: shutting down", sig);
  // Order matters: no connection may start new work, then every DCP backfill (and its RocksDB
  // snapshot) is gone, then the bucket persists everything and closes its store, then the
  // background threads stop. The ConnMap is destroyed last, once nothing can call into it.
  // The agent first (its lease revoked: the cluster sees this node leave at once; no map is
  // applied after it), then replication: it writes into the bucket from threads of its own.
  // The manager before the agent: it resigns at once, so another node's candidate leads.
  if (*manager) (*manager)->Stop();
  if (agent) agent->Stop().IgnoreError();  // logged by the agent
  replication->Stop();
  metrics.Stop();
  server.Stop();
  if (!conn_map->Shutdown()) LOG_WARN("DCP backfills still alive at shutdown");
  Status s = (*bucket)->Shutdown();
  executor->Shutdown();
  if (!s.ok()) {
    LOG_ERROR("shutdown incomplete: {}", s.ToString());
    return 1;
  }
  LOG_INFO("clean shutdown complete");
  return 0;
}

// Parse, configure, serve.
int Run(int argc, char** argv) {
  Options options;
  if (auto exit_code = ParseFlags(argc, argv, &options)) return *exit_code;
  if (!logging::Init(options.log_level)) {
    return UsageError("unknown --log-level '" + options.log_level + "'");
  }
  auto config = Configure(options);
  if (!config.ok()) return UsageError(std::string(config.status().message()));
  auto cluster_map = LoadCluster(*config, &options);
  if (!cluster_map.ok()) return UsageError(std::string(cluster_map.status().message()));
  auto users = sasl::UserDatabase::LoadFile(options.users_file);
  if (!users.ok()) return UsageError(users.status().ToString());
  const std::string& host = options.host;
  if (host != "127.0.0.1" && host != "::1" && host != "localhost" && !options.tls_port) {
    LOG_WARN("listening on {} without TLS: credentials and data cross the network in clear", host);
  }
  std::shared_ptr<cluster::EtcdClient> etcd;
  if (!options.etcd.empty()) {
    auto client = MakeEtcdClient(options);
    if (!client.ok()) return UsageError(std::string(client.status().message()));
    etcd = std::move(*client);
  }
  return Serve(options, *config, std::move(*cluster_map),
               std::shared_ptr<const sasl::UserDatabase>(std::move(*users)), std::move(etcd));
}

}  // namespace
}  // namespace sluice

int main(int argc, char** argv) { return sluice::Run(argc, argv); }
