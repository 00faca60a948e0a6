// sluiced: the sluice server. See README.md and docs/configuration.md.
//
// Start-up order: flags and configuration -> users -> executor -> bucket (warmup) -> DCP ConnMap ->
// listen -> replication (with --replica-of) -> print "sluiced listening on HOST:PORT".
// SIGTERM/SIGINT: stop replication -> stop accepting and close connections -> end DCP (wait for
// backfills) -> bucket shutdown (persist everything,
// clean-shutdown marker, close RocksDB) -> stop background threads -> exit 0.
//
// Standard output carries exactly one line, "sluiced listening on HOST:PORT" (scripts and the
// test harness read the port from it), plus, only with --tls-port, a second line
// "sluiced listening (tls) on HOST:PORT". Everything else goes to the log on stderr.
//
// TLS: --tls-port PORT (0 picks a free port; absent, no TLS) with --tls-cert FILE (PEM
// certificate chain) and --tls-key FILE (PEM private key) serves the same protocol over TLS on a
// second port. --host defaults to the loopback address; listening anywhere else without TLS logs
// a warning. --max-connections N sets max_connections (plain and TLS connections together).
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "common/config.h"
#include "common/logging.h"
#include "dcp/conn_map.h"
#include "engine/bucket.h"
#include "executor/executor.h"
#include "sasl/users.h"
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

int Run(int argc, char** argv) {
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
  bool config_doc = false;
  std::optional<uint64_t> max_connections;
  std::optional<uint16_t> tls_port;
  std::string tls_cert;
  std::string tls_key;
  uint16_t metrics_port = 11280;
  std::optional<std::string> replica_of;

  CLI::App app{"sluiced: a persistent key-value server with a built-in change stream"};
  app.add_option("--host", host, "Address to listen on")->capture_default_str();
  app.add_option("--port", port, "TCP port (0 picks a free port)")->capture_default_str();
  app.add_option("--data-dir", data_dir, "Data directory")->capture_default_str();
  app.add_option("--vbuckets", vbuckets, "Number of vbuckets (default 1024)");
  app.add_option("--memory-quota", memory_quota, "Bucket memory quota, e.g. 512M, 2G");
  app.add_option("--bucket", bucket_name, "Bucket name")->capture_default_str();
  app.add_option("--users", users_file, "Users file (JSON)")->required();
  app.add_option("--config", config_file, "Engine parameters as a JSON object");
  app.add_option("--set", sets, "Set an engine parameter: NAME=VALUE (repeatable)");
  app.add_option("--max-connections", max_connections,
                 "Connections served at once (max_connections); more are accepted and closed");
  app.add_option("--tls-port", tls_port, "Also serve TLS on this port (0 picks a free port)");
  app.add_option("--tls-cert", tls_cert, "TLS certificate chain (PEM file), with --tls-port");
  app.add_option("--tls-key", tls_key, "TLS private key (PEM file), with --tls-port");
  CLI::Option* metrics_opt =
      app.add_option("--metrics-port", metrics_port,
                     "Prometheus /metrics HTTP port on --host (0 = off; with --port 0 and no "
                     "--metrics-port, a free port, named on stderr)")
          ->capture_default_str();
  // Hidden test/driver flag until the cluster map feeds the replicator (docs/configuration.md).
  app.add_option("--replica-of", replica_of,
                 "Every replica vbucket streams from this HOST:PORT (tests and drivers)")
      ->group("");
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|off")
      ->capture_default_str();
  app.add_flag("--config-doc", config_doc,
               "Print the engine parameter reference (Markdown) and exit");
  bool help_params = false;
  app.add_flag("--help-params", help_params,
               "Print every engine parameter with its default and unit, and exit");
  app.footer(ParamHelp());
  // --config-doc and --help-params need no users file.
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
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << "sluiced: " << e.what() << "\n(see sluiced --help)\n";
    return kUsageError;
  }

  auto usage_error = [](const std::string& what) {
    std::cerr << "sluiced: " << what << "\n";
    return kUsageError;
  };
  if (!logging::Init(log_level)) return usage_error("unknown --log-level '" + log_level + "'");

  // Configuration: defaults, then --config, then --set, then the dedicated flags.
  Config config;
  if (!config_file.empty()) {
    auto text = ReadFile(config_file);
    if (!text.ok()) return usage_error(text.status().ToString());
    if (Status s = config.ApplyJson(*text); !s.ok()) {
      return usage_error(config_file + ": " + std::string(s.message()));
    }
  }
  for (const auto& assignment : sets) {
    const size_t eq = assignment.find('=');
    if (eq == std::string::npos) return usage_error("--set expects NAME=VALUE, got " + assignment);
    if (Status s = config.Set(assignment.substr(0, eq), assignment.substr(eq + 1)); !s.ok()) {
      return usage_error(std::string(s.message()));
    }
  }
  if (vbuckets) config.max_vbuckets = *vbuckets;
  if (max_connections) config.max_connections = *max_connections;
  if (tls_port && (tls_cert.empty() || tls_key.empty())) {
    return usage_error("--tls-port needs --tls-cert and --tls-key");
  }
  if (!tls_port && (!tls_cert.empty() || !tls_key.empty())) {
    return usage_error("--tls-cert and --tls-key need --tls-port");
  }
  if (memory_quota) {
    auto size = ParseSize(*memory_quota);
    if (!size.ok()) return usage_error("--memory-quota: " + std::string(size.status().message()));
    config.max_size = *size;
  }
  if (Status s = config.Validate(); !s.ok()) return usage_error(std::string(s.message()));
  if (replica_of) {
    if (auto hp = server::ParseHostPort(*replica_of); !hp.ok()) {
      return usage_error("--replica-of: " + std::string(hp.status().message()));
    }
  }
  if (bucket_name.empty() || bucket_name.size() > 100) return usage_error("invalid --bucket");

  auto users = sasl::UserDatabase::LoadFile(users_file);
  if (!users.ok()) return usage_error(users.status().ToString());
  if (host != "127.0.0.1" && host != "::1" && host != "localhost" && !tls_port) {
    LOG_WARN("listening on {} without TLS: credentials and data cross the network in clear", host);
  }

  // Signals are taken synchronously by this thread; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  executor::ThreadCounts counts;
  counts.threads = {config.num_reader_threads, config.num_writer_threads, config.num_auxio_threads,
                    config.num_nonio_threads};
  counts.nice[static_cast<size_t>(executor::TaskGroup::kWriter)] =
      static_cast<int>(config.writer_threads_nice);
  auto executor = executor::MakeThreadPoolExecutor(counts);

  engine::BucketOptions bopts;
  bopts.name = bucket_name;
  bopts.data_dir = data_dir;
  bopts.config = config;
  bopts.executor = executor.get();
  auto bucket = engine::Bucket::Open(bopts);
  if (!bucket.ok()) {
    LOG_CRITICAL("cannot open bucket {}: {}", bucket_name, bucket.status().ToString());
    executor->Shutdown();
    return 1;
  }

  std::shared_ptr<dcp::ConnMap> conn_map = dcp::ConnMap::Create(*bucket);
  server::ServerContext ctx(config, *bucket, conn_map,
                            std::shared_ptr<const sasl::UserDatabase>(std::move(*users)));
  server::Server server(ctx);
  std::optional<server::TlsListenOptions> tls;
  if (tls_port) tls = server::TlsListenOptions{*tls_port, tls_cert, tls_key};
  if (Status s = server.Listen(host, port, tls); !s.ok()) {
    LOG_CRITICAL("{}", s.ToString());
    conn_map->Shutdown();
    (*bucket)->Shutdown().IgnoreError();  // already failing; the log says why
    executor->Shutdown();
    return 1;
  }
  const std::string shown_host = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  server::ReplicationRuntime replication;
  if (replica_of) {
    auto started = server::StartReplicaOf(*replica_of, users_file,
                                          fmt::format("{}:{}", shown_host, server.port()), config,
                                          *bucket, *executor);
    if (!started.ok()) {
      LOG_CRITICAL("replication: {}", started.status().ToString());
      server.Stop();
      conn_map->Shutdown();
      (*bucket)->Shutdown().IgnoreError();  // already failing; the log says why
      executor->Shutdown();
      return kUsageError;
    }
    replication = std::move(*started);
    ctx.set_replicator(replication.replicator);
  }
  std::printf("sluiced listening on %s:%u\n", shown_host.c_str(), server.port());
  if (tls) std::printf("sluiced listening (tls) on %s:%u\n", shown_host.c_str(), server.tls_port());
  std::fflush(stdout);
  // The metrics endpoint. Its port goes to stderr only: stdout keeps the listening line(s).
  // With --port 0 (tests, several servers at once) the default would collide, so it is a free
  // port unless --metrics-port was given.
  server::MetricsServer metrics(ctx);
  const bool metrics_explicit = metrics_opt->count() > 0;
  if (!metrics_explicit || metrics_port != 0) {
    const uint16_t want = !metrics_explicit && port == 0 ? 0 : metrics_port;
    if (Status ms = metrics.Start(host, want); !ms.ok()) {
      LOG_ERROR("{} (continuing without /metrics)", ms.ToString());
    } else {
      std::fprintf(stderr, "sluiced metrics on http://%s:%u/metrics\n", shown_host.c_str(),
                   metrics.port());
      std::fflush(stderr);
    }
  }
  LOG_INFO("sluiced {} listening on {}:{} (bucket {}, {} vbuckets, quota {} bytes)", SLUICE_VERSION,
           shown_host, server.port(), bucket_name, config.max_vbuckets, config.max_size);

  int sig = 0;
  sigwait(&signals, &sig);
  LOG_INFO("signal {} received: shutting down", sig);
  // Order matters: no connection may start new work, then every DCP backfill (and its RocksDB
  // snapshot) is gone, then the bucket persists everything and closes its store, then the
  // background threads stop. The ConnMap is destroyed last, once nothing can call into it.
  // Replication first: it writes into the bucket from threads of its own.
  replication.Stop();
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

}  // namespace
}  // namespace sluice

int main(int argc, char** argv) { return sluice::Run(argc, argv); }
