// sluiced: the sluice server. See README.md and docs/configuration.md.
//
// Start-up order: flags and configuration -> users -> executor -> bucket (warmup) -> DCP ConnMap ->
// listen -> print "sluiced listening on HOST:PORT". SIGTERM/SIGINT: stop accepting and close
// connections -> end DCP (wait for backfills) -> bucket shutdown (persist everything,
// clean-shutdown marker, close RocksDB) -> stop background threads -> exit 0.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

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
#include "server/server.h"
#include "server/server_context.h"

namespace sluice {
namespace {

constexpr int kUsageError = 2;

std::string ParamHelp() {
  std::string out = "\nEngine parameters (--set NAME=VALUE, or a JSON object in --config FILE):\n";
  const Config defaults;
  for (const auto& p : ConfigParams()) {
    out += fmt::format("  {:<40} {} [{}], default {}\n", p.name, p.description, p.unit,
                       defaults.Get(p.name).value());
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
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error|off")
      ->capture_default_str();
  app.add_flag("--config-doc", config_doc,
               "Print the engine parameter reference (Markdown) and exit");
  app.footer(ParamHelp());
  // --config-doc needs no users file.
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == "--config-doc") {
      std::cout << ConfigReferenceMarkdown();
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
  if (memory_quota) {
    auto size = ParseSize(*memory_quota);
    if (!size.ok()) return usage_error("--memory-quota: " + std::string(size.status().message()));
    config.max_size = *size;
  }
  if (Status s = config.Validate(); !s.ok()) return usage_error(std::string(s.message()));
  if (bucket_name.empty() || bucket_name.size() > 100) return usage_error("invalid --bucket");

  auto users = sasl::UserDatabase::LoadFile(users_file);
  if (!users.ok()) return usage_error(users.status().ToString());
  if (host != "127.0.0.1" && host != "::1" && host != "localhost") {
    LOG_WARN("listening on {} without TLS: credentials and data cross the network in clear",
             host);
  }

  // Signals are taken synchronously by this thread; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  executor::ThreadCounts counts;
  counts.threads = {config.num_reader_threads, config.num_writer_threads,
                    config.num_auxio_threads, config.num_nonio_threads};
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
  if (Status s = server.Listen(host, port); !s.ok()) {
    LOG_CRITICAL("{}", s.ToString());
    conn_map->Shutdown();
    (*bucket)->Shutdown().IgnoreError();  // already failing; the log says why
    executor->Shutdown();
    return 1;
  }
  const std::string shown_host = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  std::printf("sluiced listening on %s:%u\n", shown_host.c_str(), server.port());
  std::fflush(stdout);
  LOG_INFO("sluiced {} listening on {}:{} (bucket {}, {} vbuckets, quota {} bytes)",
           SLUICE_VERSION, shown_host, server.port(), bucket_name, config.max_vbuckets,
           config.max_size);

  int sig = 0;
  sigwait(&signals, &sig);
  LOG_INFO("signal {} received: shutting down", sig);
  // Order matters: no connection may start new work, then every DCP backfill (and its RocksDB
  // snapshot) is gone, then the bucket persists everything and closes its store, then the
  // background threads stop. The ConnMap is destroyed last, once nothing can call into it.
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
