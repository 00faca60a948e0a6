// Integration: sluiced nodes that join a cluster kept in etcd (sluiced --etcd URL --cluster NAME
// --node-id ID; docs/cluster.md, cluster/node_agent.h), against a real etcd each test starts
// (testing/etcd_process.h). The test plays the manager: it writes the map itself.
//   - Formation: every node registers (nodes/<id> with its addresses), fences writes until the map
//     arrives, applies it (states, replication) and serves the same config rev (the map key's
//     mod_revision) and revEpoch (the epoch key) as every other node.
//   - A map change promoting a replica: the new active takes writes, the old one answers
//     NOT_MY_VBUCKET, replication re-points, the rev moves on every node.
//   - Fencing: etcd stopped (SIGSTOP) past the lease TTL: writes answer TMPFAIL, reads go on;
//     after SIGCONT writes succeed again, by themselves.
//   - etcd stopped and started again: the last map stands, writes fence and come back by
//   themselves.
//   - A node the map does not name holds every vbucket dead.
//   - A clean SIGTERM revokes the lease: nodes/<id> is gone at once.
//   - Bad flag combinations exit with code 2.
#include <signal.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>

#include "cluster/cluster_keys.h"
#include "cluster/node_agent.h"
#include "cluster/vbucket_layout.h"
#include "protocol/opcode.h"
#include "protocol/status.h"
#include "testing/etcd_test_util.h"
#include "testing/wire_util.h"
#include "tests/integration/etcd_nodes_test_util.h"

namespace sluice::testing {
namespace {

using cluster::Eventually;
using cluster::NodeAgent;
using protocol::McbpStatus;
using protocol::Opcode;
using Json = nlohmann::json;
using namespace std::chrono_literals;

constexpr uint32_t kEtcdVBuckets = 8;
constexpr const char* kCluster = "it";
#ifdef SLUICE_SANITIZER_BUILD
constexpr int kFenceTtl = 2;
#else
constexpr int kFenceTtl = 1;
#endif

Json ParseJson(std::string_view text) { return Json::parse(text, nullptr, false); }

// A key that VBucketForKey puts in `vb`.
std::string KeyIn(Vbid vb, std::string_view prefix = "key-") {
  for (int i = 0;; ++i) {
    std::string key = std::string(prefix) + std::to_string(i);
    if (VBucketForKey(key, kEtcdVBuckets) == vb) return key;
  }
}

class EtcdClusterTest : public EtcdNodesTest {
 protected:
  EtcdClusterTest() : EtcdNodesTest(kCluster, kEtcdVBuckets) {}

  void StartNodes(const std::vector<std::string>& ids, int ttl = 2) {
    EtcdNodesTest::StartNodes(ids, ttl);
  }

  // The map's JSON (the cluster file's format) for every started node with `chains`.
  std::string MapJson(const std::vector<TopologyChain>& chains, size_t num_replicas) const {
    Json nodes = Json::array();
    for (size_t i = 0; i < ids_.size(); ++i) {
      nodes.push_back({{"id", ids_[i]}, {"host", "127.0.0.1"}, {"port", nodes_[i]->port()}});
    }
    Json vbucket_map = Json::array();
    for (const auto& chain : chains) {
      Json row = Json::array();
      for (const auto& node : chain) row.push_back(node ? Json(*node) : Json(nullptr));
      vbucket_map.push_back(row);
    }
    return Json{{"nodes", nodes}, {"num_replicas", num_replicas}, {"vbucket_map", vbucket_map}}
        .dump();
  }

  // Writes the map; returns its mod_revision.
  int64_t PutMap(const std::vector<TopologyChain>& chains, size_t num_replicas = 1) {
    chains_ = chains;
    auto put = etcd_client_->Put(cluster::ClusterKeys(kCluster).Map("default"),
                                 MapJson(chains, num_replicas));
    EXPECT_TRUE(put.ok()) << put.status().ToString();
    return put.ok() ? put->revision : 0;
  }

  Json Config(client::Connection& conn) {
    auto r = Must(conn.GetClusterConfig());
    EXPECT_EQ(r.status, McbpStatus::kSuccess);
    return ParseJson(r.value);
  }

  // Waits until every node serves config rev `rev` with revEpoch `epoch`.
  void WaitForRev(int64_t rev, int64_t epoch = 1) {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      auto conn = Connect(i);
      ASSERT_NE(conn, nullptr);
      Json config;
      EXPECT_TRUE(Eventually([&] {
        config = Config(*conn);
        return config.value("rev", int64_t{0}) == rev &&
               config.value("revEpoch", int64_t{0}) == epoch;
      })) << ids_[i]
          << " serves " << config.dump() << ", not rev " << rev;
    }
  }

  // Index of the node `chains_` names at `slot` of vb's chain.
  size_t NodeAt(Vbid vb, size_t slot) const {
    const std::string& id = *chains_[vb][slot];
    return static_cast<size_t>(std::find(ids_.begin(), ids_.end(), id) - ids_.begin());
  }

  // Retries a SET of key on node i until it answers `want` (a state change or unfencing is
  // applied asynchronously); the last answer.
  McbpStatus SetUntil(size_t i, const std::string& key, const std::string& value, McbpStatus want) {
    auto conn = Connect(i);
    if (conn == nullptr) return kNoAnswer;
    McbpStatus last = kNoAnswer;
    Eventually([&] {
      last = Must(conn->Set(key, value)).status;
      return last == want;
    });
    return last;
  }

  // Waits until GET_REPLICA of `key` on node i answers `value`.
  bool ReplicaHas(size_t i, Vbid vb, const std::string& key, const std::string& value) {
    auto conn = Connect(i);
    if (conn == nullptr) return false;
    return Eventually([&] {
      auto r = Exec(*conn, {.opcode = Opcode::kGetReplica, .vbucket = vb, .key = key});
      return r.status == McbpStatus::kSuccess && r.value == value;
    });
  }

  // Three nodes a, b, c with the balanced map of 1 replica; returns the map's revision.
  int64_t Form(int ttl = 2) {
    StartNodes({"a", "b", "c"}, ttl);
    if (HasFatalFailure()) return 0;
    const int64_t rev = PutMap(cluster::ComputeLayout(ids_, 1, kEtcdVBuckets));
    WaitForRev(rev);
    return rev;
  }

  std::vector<TopologyChain> chains_;
};

TEST_F(EtcdClusterTest, FormationRegistersAppliesTheMapAndReplicates) {
  StartNodes({"a", "b", "c"});
  // Every node registers with its addresses, under a lease.
  for (size_t i = 0; i < ids_.size(); ++i) {
    const std::string key = cluster::ClusterKeys(kCluster).Node(ids_[i]);
    StatusOr<cluster::EtcdKeyValue> kv = Status(Errc::kNotFound);
    ASSERT_TRUE(Eventually([&] { return (kv = etcd_client_->Get(key)).ok(); })) << key;
    EXPECT_NE(kv->lease, 0);
    const Json value = ParseJson(kv->value);
    ASSERT_TRUE(value.is_object()) << kv->value;
    EXPECT_EQ(value.size(), 4u) << kv->value;
    EXPECT_EQ(value["id"], ids_[i]);
    EXPECT_EQ(value["host"], "127.0.0.1");
    EXPECT_EQ(value["port"], nodes_[i]->port());
    EXPECT_GT(value["metrics_port"].get<int>(), 0) << kv->value;
    EXPECT_EQ(kv->value.rfind("{\"id\":", 0), 0u) << kv->value;
  }
  // No map yet: writes are fenced; the node waits for its map.
  {
    auto a = Connect(0);
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(Must(a->Set(KeyIn(0), "v")).status, McbpStatus::kEtmpfail);
    StatMap stats;
    EXPECT_TRUE(Eventually([&] {
      auto fetched = FetchStats(*a);
      if (fetched.ok()) stats = std::move(*fetched);
      return stats["cluster_node_state"] == "waiting_for_map";
    })) << stats["cluster_node_state"];
    EXPECT_EQ(StatU64(stats, "cluster_map_rev"), 0u);
  }

  const int64_t rev = PutMap(cluster::ComputeLayout(ids_, 1, kEtcdVBuckets));
  ASSERT_GT(rev, 0);
  WaitForRev(rev);

  // Every vbucket: its active takes writes, its replica answers NOT_MY_VBUCKET and, through
  // GET_REPLICA, holds what the active took; the third node has nothing of it.
  for (Vbid vb = 0; vb < kEtcdVBuckets; ++vb) {
    SCOPED_TRACE("vb " + std::to_string(vb));
    const std::string key = KeyIn(vb);
    const size_t active = NodeAt(vb, 0);
    const size_t replica = NodeAt(vb, 1);
    const size_t other = 3 - active - replica;
    ASSERT_EQ(SetUntil(active, key, "v" + key, McbpStatus::kSuccess), McbpStatus::kSuccess);
    auto r = Connect(replica);
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(Must(r->Set(key, "x")).status, McbpStatus::kNotMyVbucket);
    EXPECT_TRUE(ReplicaHas(replica, vb, key, "v" + key));
    auto o = Connect(other);
    ASSERT_NE(o, nullptr);
    EXPECT_EQ(Must(o->Set(key, "x")).status, McbpStatus::kNotMyVbucket);
  }

  // The config: every node, the same map, each naming itself. STAT says the same.
  for (size_t i = 0; i < ids_.size(); ++i) {
    auto conn = Connect(i);
    ASSERT_NE(conn, nullptr);
    auto stats = FetchStats(*conn);
    ASSERT_TRUE(stats.ok()) << stats.status().ToString();
    EXPECT_EQ((*stats)["cluster_node_state"], "serving");
    EXPECT_EQ(StatU64(*stats, "cluster_map_rev"), static_cast<uint64_t>(rev));
    EXPECT_EQ(StatU64(*stats, "cluster_epoch"), 1u);
    const Json config = Config(*conn);
    ASSERT_EQ(config["nodesExt"].size(), 3u);
    EXPECT_EQ(config["nodesExt"][i].value("thisNode", false), true);
    for (Vbid vb = 0; vb < kEtcdVBuckets; ++vb) {
      EXPECT_EQ(config["vBucketServerMap"]["vBucketMap"][vb],
                Json::array({static_cast<int>(NodeAt(vb, 0)), static_cast<int>(NodeAt(vb, 1))}))
          << ids_[i] << " vb " << vb;
    }
  }

  // A new epoch moves revEpoch everywhere (the map's rev stays).
  ASSERT_TRUE(etcd_client_->Put(cluster::ClusterKeys(kCluster).Epoch(), "3").ok());
  WaitForRev(rev, 3);
}

TEST_F(EtcdClusterTest, MapChangePromotesAReplica) {
  const int64_t rev = Form();
  ASSERT_GT(rev, 0);
  const Vbid vb = 0;
  const size_t old_active = NodeAt(vb, 0);
  const size_t old_replica = NodeAt(vb, 1);
  const std::string before = KeyIn(vb, "before-");
  ASSERT_EQ(SetUntil(old_active, before, "1", McbpStatus::kSuccess), McbpStatus::kSuccess);
  ASSERT_TRUE(ReplicaHas(old_replica, vb, before, "1"));

  std::vector<TopologyChain> chains = chains_;
  std::swap(chains[vb][0], chains[vb][1]);
  const int64_t rev2 = PutMap(chains);
  ASSERT_GT(rev2, rev);
  WaitForRev(rev2);

  // The promoted replica takes writes and has what the old active took; the old active refuses.
  const std::string after = KeyIn(vb, "after-");
  EXPECT_EQ(SetUntil(old_replica, after, "2", McbpStatus::kSuccess), McbpStatus::kSuccess);
  {
    auto b = Connect(old_replica);
    ASSERT_NE(b, nullptr);
    auto get = Must(b->Get(before));
    EXPECT_EQ(get.status, McbpStatus::kSuccess);
    EXPECT_EQ(get.value, "1");
    auto a = Connect(old_active);
    ASSERT_NE(a, nullptr);
    EXPECT_EQ(Must(a->Set(after, "x")).status, McbpStatus::kNotMyVbucket);
  }
  // Replication re-pointed: the old active, now replica, streams from the new one.
  EXPECT_TRUE(ReplicaHas(old_active, vb, after, "2"));
  // Other vbuckets still replicate as before.
  const Vbid other_vb = 1;
  const std::string other = KeyIn(other_vb, "other-");
  ASSERT_EQ(SetUntil(NodeAt(other_vb, 0), other, "3", McbpStatus::kSuccess), McbpStatus::kSuccess);
  EXPECT_TRUE(ReplicaHas(NodeAt(other_vb, 1), other_vb, other, "3"));
}

TEST_F(EtcdClusterTest, LostLeaseFencesWritesUntilEtcdReturns) {
  const int64_t rev = Form(kFenceTtl);
  ASSERT_GT(rev, 0);
  const Vbid vb = 0;
  const size_t active = NodeAt(vb, 0);
  const std::string key = KeyIn(vb);
  ASSERT_EQ(SetUntil(active, key, "1", McbpStatus::kSuccess), McbpStatus::kSuccess);

  ASSERT_EQ(::kill(etcd_.pid(), SIGSTOP), 0);
  // After the TTL without a renewal the node fences its actives: TMPFAIL; reads go on. (The
  // probe writes another key: it succeeds until the fence.)
  const std::string probe = KeyIn(vb, "probe-");
  EXPECT_EQ(SetUntil(active, probe, "2", McbpStatus::kEtmpfail), McbpStatus::kEtmpfail);
  {
    auto conn = Connect(active);
    ASSERT_NE(conn, nullptr);
    auto get = Must(conn->Get(key));
    EXPECT_EQ(get.status, McbpStatus::kSuccess);
    EXPECT_EQ(get.value, "1");
  }
  ASSERT_EQ(::kill(etcd_.pid(), SIGCONT), 0);
  // Registered again and the map seen again: writes succeed, by themselves.
  EXPECT_EQ(SetUntil(active, key, "3", McbpStatus::kSuccess), McbpStatus::kSuccess);
  const std::string node_key = cluster::ClusterKeys(kCluster).Node(ids_[active]);
  EXPECT_TRUE(Eventually([&] { return etcd_client_->Get(node_key).ok(); }));
}

TEST_F(EtcdClusterTest, EtcdRestartedTheNodesCarryOn) {
  const int64_t rev = Form(kFenceTtl);
  ASSERT_GT(rev, 0);
  const Vbid vb = 0;
  const size_t active = NodeAt(vb, 0);
  const std::string key = KeyIn(vb);
  ASSERT_EQ(SetUntil(active, key, "1", McbpStatus::kSuccess), McbpStatus::kSuccess);

  etcd_.Stop();
  // etcd away: the last map stands (config and reads), writes are fenced after the TTL.
  const std::string probe = KeyIn(vb, "probe-");
  EXPECT_EQ(SetUntil(active, probe, "2", McbpStatus::kEtmpfail), McbpStatus::kEtmpfail);
  {
    auto conn = Connect(active);
    ASSERT_NE(conn, nullptr);
    EXPECT_EQ(Must(conn->Get(key)).value, "1");
    EXPECT_EQ(Config(*conn).value("rev", int64_t{0}), rev);
  }
  ASSERT_TRUE(etcd_.Start()) << etcd_.error();  // the same ports and data
  EXPECT_EQ(SetUntil(active, key, "3", McbpStatus::kSuccess), McbpStatus::kSuccess);
  WaitForRev(rev);
  // The outage was logged once per node, and so was the return.
  for (size_t i = 0; i < nodes_.size(); ++i) {
    const std::string log = nodes_[i]->Log();
    size_t lost = 0;
    for (size_t at = log.find("lost etcd"); at != std::string::npos;
         at = log.find("lost etcd", at + 1)) {
      ++lost;
    }
    EXPECT_EQ(lost, 1u) << ids_[i];
  }
}

TEST_F(EtcdClusterTest, ANodeTheMapDoesNotNameHoldsNothing) {
  StartNodes({"a", "b", "d"});
  // The map names a and b only (its node list too): d takes no write and names no node as
  // itself.
  std::vector<TopologyChain> chains = cluster::ComputeLayout({"a", "b"}, 1, kEtcdVBuckets);
  chains_ = chains;
  Json map = ParseJson(MapJson(chains, 1));
  map["nodes"].erase(2);
  auto put = etcd_client_->Put(cluster::ClusterKeys(kCluster).Map("default"), map.dump());
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  WaitForRev(put->revision);
  auto d = Connect(2);
  ASSERT_NE(d, nullptr);
  for (Vbid vb = 0; vb < kEtcdVBuckets; ++vb) {
    EXPECT_EQ(Must(d->Set(KeyIn(vb), "x")).status, McbpStatus::kNotMyVbucket) << "vb " << vb;
  }
  const Json config = Config(*d);
  ASSERT_EQ(config["nodesExt"].size(), 2u);
  for (const auto& node : config["nodesExt"]) EXPECT_FALSE(node.value("thisNode", false));
  EXPECT_EQ(SetUntil(NodeAt(0, 0), KeyIn(0), "v", McbpStatus::kSuccess), McbpStatus::kSuccess);
}

TEST_F(EtcdClusterTest, CleanShutdownRevokesTheRegistration) {
  StartNodes({"a"});
  const std::string key = cluster::ClusterKeys(kCluster).Node("a");
  ASSERT_TRUE(Eventually([&] { return etcd_client_->Get(key).ok(); }));
  EXPECT_EQ(nodes_[0]->Stop(), 0);
  // Revoked before the process exited: gone at once, not a TTL later.
  EXPECT_EQ(etcd_client_->Get(key).status().code(), Errc::kNotFound);
}

TEST(EtcdFlagsTest, BadCombinationsAreUsageErrors) {
  struct Case {
    std::vector<std::string> args;
    std::string in_log;
  };
  const std::string etcd = "http://127.0.0.1:1";
  const std::vector<Case> cases = {
      {{"--etcd", etcd, "--cluster", "c", "--node-id", "a", "--cluster-map", "/nonexistent"},
       "--etcd and --cluster-map"},
      {{"--etcd", etcd, "--cluster", "c", "--node-id", "a", "--replica-of", "127.0.0.1:1"},
       "--etcd and --replica-of"},
      {{"--etcd", etcd, "--node-id", "a"}, "--etcd needs --cluster and --node-id"},
      {{"--etcd", etcd, "--cluster", "c"}, "--etcd needs --cluster and --node-id"},
      {{"--cluster", "c"}, "--cluster needs --etcd"},
      {{"--node-ttl", "3"}, "--node-ttl needs --etcd"},
      {{"--etcd", etcd, "--cluster", "c", "--node-id", "a", "--node-ttl", "0"},
       "--node-ttl must be at least 1"},
      {{"--etcd", "https://127.0.0.1:1", "--cluster", "c", "--node-id", "a"}, "--etcd"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.in_log);
    ServerOptions options;
    options.extra_args = {"--vbuckets", std::to_string(kEtcdVBuckets), "--metrics-port", "0"};
    options.extra_args.insert(options.extra_args.end(), c.args.begin(), c.args.end());
    ServerProcess node(options);
    EXPECT_FALSE(node.Start(30s));
    EXPECT_EQ(node.Stop(), 2);
    EXPECT_NE(node.Log().find(c.in_log), std::string::npos) << node.Log();
  }
}

}  // namespace
}  // namespace sluice::testing
