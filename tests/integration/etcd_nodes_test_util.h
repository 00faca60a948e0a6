// File: tests/integration/etcd_nodes_test_util.h
//
// EtcdNodesTest: the fixture the tests of sluiced nodes joined through etcd share
// (etcd_cluster_test, cluster_failover_test). Each test gets a fresh etcd (testing/etcd_process.h)
// and a client of it, starts its nodes with StartNodes, and connects with Connect. TearDown
// resumes a stopped etcd, checks every node still running is alive and exits 0 on SIGTERM
// (printing the logs of a failed test); the EtcdProcess and every ServerProcess end their
// process by pid when destroyed, also after a failed assertion.
//
// Ownership: test-only; the fixture owns etcd and the nodes. Thread safety: the test's thread.
#pragma once

#include <signal.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "cluster/etcd_client.h"
#include "testing/etcd_test_util.h"
#include "testing/wire_util.h"

namespace sluice::testing {

// Runs the sluice CLI of this build with `args`; its exit code (128 + signal if killed) and its
// output, stdout and stderr together.
inline int RunCli(const std::string& args, std::string* output) {
  const std::string cmd = std::string(SLUICE_BINARY_DIR) + "/sluice " + args + " 2>&1";
  return RunCommand(cmd, output);
}

class EtcdNodesTest : public ::testing::Test {
 protected:
  // `cluster`: the --cluster name; `vbuckets`: the nodes' --vbuckets.
  EtcdNodesTest(std::string cluster, uint32_t vbuckets)
      : cluster_(std::move(cluster)), vbuckets_(vbuckets) {}

  void SetUp() override {
    SLUICE_SKIP_WITHOUT_ETCD();
    ASSERT_TRUE(etcd_.Start()) << etcd_.error();
    auto client = cluster::EtcdClient::Create(cluster::TestOptions(etcd_.endpoint()));
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    etcd_client_ = *client;
  }

  void TearDown() override {
    if (etcd_.running()) ::kill(etcd_.pid(), SIGCONT);
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (!nodes_[i]->running()) continue;
      EXPECT_TRUE(nodes_[i]->Alive()) << ids_[i] << " died during the test";
      EXPECT_EQ(nodes_[i]->Stop(), 0) << ids_[i] << " did not exit cleanly";
      if (HasFailure()) {
        std::fprintf(stderr, "---- %s stderr ----\n%s---- end ----\n", ids_[i].c_str(),
                     nodes_[i]->Log().c_str());
      }
    }
    if (HasFailure() && etcd_.running()) {
      std::fprintf(stderr, "---- etcd ----\n%s---- end ----\n", etcd_.LogTail().c_str());
    }
  }

  // The flags of node `id` with lease TTL `ttl` seconds.
  ServerOptions NodeOptions(const std::string& id, int ttl) const {
    ServerOptions options;
    options.log_level = "info";
    options.extra_args = {"--vbuckets", std::to_string(vbuckets_),
                          "--etcd",     "http://" + etcd_.endpoint(),
                          "--cluster",  cluster_,
                          "--node-id",  id,
                          "--node-ttl", std::to_string(ttl),
                          "--set",      "replication_user=admin"};
    return options;
  }

  // Starts nodes `ids` (on free ports) with lease TTL `ttl` seconds.
  void StartNodes(const std::vector<std::string>& ids, int ttl) {
    for (const auto& id : ids) {
      ids_.push_back(id);
      nodes_.push_back(std::make_unique<ServerProcess>(NodeOptions(id, ttl)));
      ASSERT_TRUE(nodes_.back()->Start()) << id << ": " << nodes_.back()->error();
    }
  }

  // A client of node i: HELLO, SASL PLAIN; null (with a test failure) if a step failed.
  std::unique_ptr<client::Connection> Connect(size_t i) {
    client::ConnectOptions options;
    options.io_timeout = std::chrono::seconds(60);
    options.num_vbuckets = vbuckets_;
    auto conn = client::Connection::Connect("127.0.0.1", nodes_[i]->port(), options);
    if (!conn.ok()) {
      ADD_FAILURE() << "connect to " << ids_[i] << ": " << conn.status().ToString();
      return nullptr;
    }
    if (auto agreed = (*conn)->Hello("etcd-it", DefaultFeatures()); !agreed.ok()) {
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

  // The `sluice cluster` flags naming this test's etcd and cluster.
  std::string EtcdFlags() const {
    return "--etcd http://" + etcd_.endpoint() + " --cluster " + cluster_;
  }

  // `sluice cluster init --nodes NODES --replicas REPLICAS` at the fixture's vbucket count; a
  // fatal failure (with the CLI's output) if it does not exit 0.
  void InitCluster(const std::string& nodes, int replicas) {
    std::string out;
    ASSERT_EQ(RunCli("cluster init " + EtcdFlags() + " --nodes " + nodes + " --replicas " +
                         std::to_string(replicas) + " --vbuckets " + std::to_string(vbuckets_),
                     &out),
              0)
        << out;
  }

  const std::string cluster_;
  const uint32_t vbuckets_;
  EtcdProcess etcd_;
  std::shared_ptr<cluster::EtcdClient> etcd_client_;
  std::vector<std::string> ids_;
  std::vector<std::unique_ptr<ServerProcess>> nodes_;
};

}  // namespace sluice::testing
