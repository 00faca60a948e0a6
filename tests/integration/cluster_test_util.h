// File: tests/integration/cluster_test_util.h
//
// StaticCluster: several real sluiced processes started from one cluster file (--node-id ID
// --cluster-map FILE, docs/replication.md), each on the loopback port the file gives it, for the
// integration tests of a cluster (cluster_map_test.cc, node_compat_test.cc).
//
//   StaticCluster cluster;
//   nlohmann::json file = cluster.File({"a", "b"}, /*num_replicas=*/1);  // fresh free ports
//   ASSERT_TRUE(cluster.Start(file, /*vbuckets=*/8)) << cluster.error();
//   auto conn = cluster.Connect(0);                                     // HELLO + SASL on "a"
//
// Ownership: the test owns the StaticCluster; it owns the node processes and a temporary
// directory (the file), both removed by its destructor. Thread safety: the test's thread.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "cluster/cluster_map.h"
#include "testing/wire_util.h"

namespace sluice::testing {

// A loopback port nothing listens on right now (the kernel's pick for a socket bound to port 0;
// another process may take it before the caller does, which the tests accept).
inline uint16_t FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  uint16_t port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

class StaticCluster {
 public:
  StaticCluster() {
    char dir_template[] = "/tmp/sluice_cluster_XXXXXX";
    if (mkdtemp(dir_template) != nullptr) dir_ = dir_template;
    map_path_ = dir_ + "/cluster.json";
  }
  ~StaticCluster() {
    nodes_.clear();  // kills what is still running
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  StaticCluster(const StaticCluster&) = delete;
  StaticCluster& operator=(const StaticCluster&) = delete;

  // The cluster file for nodes `ids` on fresh loopback ports, with `num_replicas` and, if given,
  // a vbucket map. Start() uses these ids and ports.
  nlohmann::json File(const std::vector<std::string>& ids, size_t num_replicas,
                      const std::optional<nlohmann::json>& vbucket_map = std::nullopt) {
    ids_ = ids;
    ports_.clear();
    nlohmann::json nodes = nlohmann::json::array();
    for (const auto& id : ids) {
      ports_.push_back(FreePort());
      nodes.push_back({{"id", id}, {"host", "127.0.0.1"}, {"port", ports_.back()}});
    }
    nlohmann::json file = {{"nodes", nodes}, {"num_replicas", num_replicas}};
    if (vbucket_map) file["vbucket_map"] = *vbucket_map;
    return file;
  }

  void WriteFile(const std::string& text) const {
    std::ofstream(map_path_, std::ios::trunc) << text;
  }

  // The flags of node i (the harness adds --port 0 first; the last --port counts). The nodes
  // replicate from each other as the harness's user "admin".
  ServerOptions NodeOptions(size_t i) const {
    ServerOptions options;
    options.extra_args = {"--vbuckets",     std::to_string(vbuckets_),
                          "--node-id",      ids_[i],
                          "--cluster-map",  map_path_,
                          "--port",         std::to_string(ports_[i]),
                          "--metrics-port", std::to_string(MetricsPort(i)),
                          "--set",          "replication_user=admin"};
    return options;
  }

  // Serve node i's metrics port (the console) on `port`; by default a node has none. Before
  // Start().
  void SetMetricsPort(size_t i, uint16_t port) { metrics_ports_[i] = port; }
  uint16_t MetricsPort(size_t i) const {
    auto it = metrics_ports_.find(i);
    return it == metrics_ports_.end() ? 0 : it->second;
  }

  // Writes `file` and starts every node of it; false (see error()) if the file does not parse
  // or a node did not start on its port.
  bool Start(const nlohmann::json& file, uint32_t vbuckets) {
    vbuckets_ = vbuckets;
    WriteFile(file.dump());
    auto map = cluster::ClusterMap::Parse(file.dump(), vbuckets);
    if (!map.ok()) {
      error_ = map.status().ToString();
      return false;
    }
    map_ = std::move(*map);
    for (size_t i = 0; i < ids_.size(); ++i) {
      nodes_.push_back(std::make_unique<ServerProcess>(NodeOptions(i)));
      if (!nodes_.back()->Start() || nodes_.back()->port() != ports_[i]) {
        error_ = ids_[i] + " did not start on port " + std::to_string(ports_[i]) + ": " +
                 nodes_.back()->error();
        return false;
      }
    }
    return true;
  }

  // Checks that every running node is alive and exits 0 on SIGTERM; prints every node's log
  // when `print_logs`.
  void StopAll(bool print_logs) {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (nodes_[i]->running()) {
        EXPECT_TRUE(nodes_[i]->Alive()) << ids_[i] << " died during the test";
        EXPECT_EQ(nodes_[i]->Stop(), 0) << ids_[i] << " did not exit cleanly";
      }
      if (print_logs) {
        std::fprintf(stderr, "---- %s stderr ----\n%s---- end ----\n", ids_[i].c_str(),
                     nodes_[i]->Log().c_str());
      }
    }
  }

  // A client of node i: HELLO with `features`, SASL PLAIN; KV helpers route keys over the
  // cluster's vbucket count. Null (with a test failure) if a step failed.
  std::unique_ptr<client::Connection> Connect(
      size_t i, const std::vector<protocol::Feature>& features = DefaultFeatures()) const {
    client::ConnectOptions options;
    options.io_timeout = std::chrono::seconds(60);
    options.num_vbuckets = vbuckets_;
    auto conn = client::Connection::Connect("127.0.0.1", ports_[i], options);
    if (!conn.ok()) {
      ADD_FAILURE() << "connect to " << ids_[i] << ": " << conn.status().ToString();
      return nullptr;
    }
    if (auto agreed = (*conn)->Hello("cluster-it", features); !agreed.ok()) {
      ADD_FAILURE() << "HELLO: " << agreed.status().ToString();
      return nullptr;
    }
    if (Status s = (*conn)->Authenticate(ServerProcess::kUser, ServerProcess::kPassword, "PLAIN");
        !s.ok()) {
      ADD_FAILURE() << "authenticate: " << s.ToString();
      return nullptr;
    }
    return std::move(*conn);
  }

  size_t size() const { return ids_.size(); }
  ServerProcess& node(size_t i) { return *nodes_[i]; }
  const std::string& id(size_t i) const { return ids_[i]; }
  uint16_t port(size_t i) const { return ports_[i]; }
  // The parsed file (after Start).
  const cluster::ClusterMap& map() const { return *map_; }
  const std::string& map_path() const { return map_path_; }
  const std::string& dir() const { return dir_; }
  const std::string& error() const { return error_; }

 private:
  std::string dir_;
  std::string map_path_;
  uint32_t vbuckets_ = 8;
  std::vector<std::string> ids_;
  std::vector<uint16_t> ports_;
  std::map<size_t, uint16_t> metrics_ports_;
  std::optional<cluster::ClusterMap> map_;
  std::vector<std::unique_ptr<ServerProcess>> nodes_;
  std::string error_;
};

}  // namespace sluice::testing
