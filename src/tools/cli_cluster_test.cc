// `sluice cluster` as a subprocess against a real etcd: nodes faked by registrations under the
// test's leases, the failover done by a Manager in this process (a SeqnoProbe that knows nothing:
// replicas are promoted in chain order).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cluster/cluster_keys.h"
#include "cluster/lease_keeper.h"
#include "cluster/manager.h"
#include "testing/etcd_test_util.h"
#include "tools/cli_runner.h"

namespace sluice::tools {
namespace {

using cluster::ClusterKeys;
using cluster::Eventually;
using testing::RunSluice;

class NoSeqnos : public cluster::SeqnoProbe {
 public:
  StatusOr<std::map<Vbid, cluster::VbucketSeqnos>> Probe(const cluster::NodeRegistration&,
                                                         const std::string&,
                                                         const std::vector<Vbid>&) override {
    return Status(Errc::kTempFail, "no nodes in this test");
  }
};

class CliClusterTest : public cluster::EtcdTest {
 protected:
  void SetUp() override {
    EtcdTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    for (const char* id : {"a", "b", "c"}) Register(id);
  }

  void Register(const std::string& id) {
    const std::string key = keys_.Node(id);
    const std::string value = cluster::FormatNodeRegistration(
        {.id = id, .host = "127.0.0.1", .port = static_cast<uint16_t>(21000 + keepers_.size())});
    auto keeper = std::make_unique<cluster::LeaseKeeper>(
        client_, cluster::LeaseKeeperOptions{.ttl = cluster::kTtl},
        cluster::LeaseKeeper::Callbacks{.on_granted = [this, key, value](int64_t lease) {
          EXPECT_TRUE(client_->Put(key, value, {.lease = lease}).ok());
        }});
    keeper->Start();
    ASSERT_TRUE(Eventually([&] { return KeyExists(key); }));
    keepers_.push_back(std::move(keeper));
  }

  testing::RunResult Cluster(std::vector<std::string> args) {
    std::vector<std::string> full = {"cluster"};
    full.push_back(args[0]);
    full.insert(full.end(), {"--etcd", "http://" + etcd_.endpoint(), "--cluster", "c"});
    full.insert(full.end(), args.begin() + 1, args.end());
    return RunSluice(full);
  }

  nlohmann::json Status() {
    auto run = Cluster({"status", "--json"});
    EXPECT_EQ(run.exit_code, 0) << run.err;
    return nlohmann::json::parse(run.out);
  }

  static const nlohmann::json& NodeOf(const nlohmann::json& status, const std::string& id) {
    for (const auto& node : status["nodes"]) {
      if (node["id"] == id) return node;
    }
    static const nlohmann::json kNone;
    ADD_FAILURE() << "no node " << id << " in " << status.dump();
    return kNone;
  }

  void TearDown() override {
    if (manager_) manager_->Stop();
    for (auto& keeper : keepers_) keeper->Stop().IgnoreError();
  }

  ClusterKeys keys_{"c"};
  std::vector<std::unique_ptr<cluster::LeaseKeeper>> keepers_;
  std::unique_ptr<cluster::Manager> manager_;
};

TEST_F(CliClusterTest, InitStatusFailover) {
  auto init = Cluster({"init", "--nodes", "a,b,c", "--replicas", "1", "--vbuckets", "12"});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  EXPECT_NE(init.out.find("epoch 1"), std::string::npos) << init.out;

  nlohmann::json status = Status();
  EXPECT_EQ(status["epoch"], 1);
  EXPECT_EQ(status["num_vbuckets"], 12);
  EXPECT_EQ(status["num_replicas"], 1);
  EXPECT_TRUE(status["manager"].is_null());
  EXPECT_GT(status["map_rev"].get<int64_t>(), 0);
  ASSERT_EQ(status["nodes"].size(), 3u);
  for (const auto& node : status["nodes"]) {
    EXPECT_EQ(node["status"], "active");
    EXPECT_EQ(node["alive"], true);
    EXPECT_EQ(node["active_vbuckets"], 4);
    EXPECT_EQ(node["replica_vbuckets"], 4);
  }
  // A second init is refused: the cluster exists.
  auto again = Cluster({"init", "--nodes", "a,b,c"});
  EXPECT_EQ(again.exit_code, 6);
  EXPECT_NE(again.err.find("already initialised"), std::string::npos) << again.err;

  manager_ = std::make_unique<cluster::Manager>(
      client_,
      cluster::ManagerOptions{.cluster = "c",
                              .node_id = "m",
                              .election_ttl = cluster::kTtl,
                              .poll = std::chrono::milliseconds(50),
                              .retry = {.initial = std::chrono::milliseconds(50)}},
      std::make_shared<NoSeqnos>());
  manager_->Start();
  auto failover = Cluster({"failover", "b", "--json"});
  ASSERT_EQ(failover.exit_code, 0) << failover.err;
  EXPECT_EQ(nlohmann::json::parse(failover.out)["status"], "failed_over");

  status = Status();
  EXPECT_EQ(status["manager"], "m");
  const auto& b = NodeOf(status, "b");
  EXPECT_EQ(b["status"], "failed_over");
  EXPECT_EQ(b["alive"], true);  // a hard failover of a live node
  EXPECT_EQ(b["active_vbuckets"], 0);
  EXPECT_EQ(b["replica_vbuckets"], 0);
  EXPECT_EQ(NodeOf(status, "a")["active_vbuckets"].get<int>() +
                NodeOf(status, "c")["active_vbuckets"].get<int>(),
            12);
  EXPECT_EQ(status["failover_count"], 0);  // a requested failover is not counted

  auto text = Cluster({"status"});
  ASSERT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("failed_over"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("manager: m"), std::string::npos) << text.out;

  ASSERT_TRUE(client_->Put(keys_.FailoverCount(), "1").ok());
  auto reset = Cluster({"reset-failover-count", "--json"});
  ASSERT_EQ(reset.exit_code, 0) << reset.err;
  EXPECT_EQ(nlohmann::json::parse(reset.out)["was"], 1);
  EXPECT_EQ(Status()["failover_count"], 0);
}

TEST_F(CliClusterTest, InitWaitsForRegistrationsThenGivesUp) {
  auto init = Cluster({"init", "--nodes", "a,x", "--timeout", "1"});
  EXPECT_EQ(init.exit_code, 6);
  EXPECT_NE(init.err.find("not registered"), std::string::npos) << init.err;
  EXPECT_NE(init.err.find("x"), std::string::npos) << init.err;
  EXPECT_FALSE(KeyExists(keys_.Member("a")));
}

TEST_F(CliClusterTest, ForcedInitRaisesTheEpoch) {
  ASSERT_EQ(Cluster({"init", "--nodes", "a,b,c", "--vbuckets", "4"}).exit_code, 0);
  auto forced = Cluster({"init", "--nodes", "a,b", "--vbuckets", "4", "--force", "--json"});
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_EQ(nlohmann::json::parse(forced.out)["epoch"], 2);
  EXPECT_FALSE(KeyExists(keys_.Member("c")));
  const auto status = Status();
  EXPECT_TRUE(NodeOf(status, "c")["status"].is_null());  // registered, no longer a member
}

TEST_F(CliClusterTest, FailoverOfANonMemberAndUnreachableEtcd) {
  auto failover = Cluster({"failover", "zz"});
  EXPECT_EQ(failover.exit_code, 6);
  EXPECT_NE(failover.err.find("not a member"), std::string::npos) << failover.err;
  auto unreachable =
      RunSluice({"cluster", "status", "--etcd", "127.0.0.1:1", "--cluster", "c", "--timeout", "1"});
  EXPECT_EQ(unreachable.exit_code, 3) << unreachable.err;
}

}  // namespace
}  // namespace sluice::tools
