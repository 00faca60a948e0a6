// Integration: static clusters of 2 and 3 sluiced processes started from one cluster file
// (--node-id ID --cluster-map FILE, docs/replication.md): each node's vbucket states and topologies
// follow the map; GET_CLUSTER_CONFIG and NOT_MY_VBUCKET describe every node with thisNode on the
// one answering; GET_REPLICA serves only replica vbuckets; SET_VBUCKET topologies persist across
// restarts and move the revision, which never goes back; clients that asked HELLO Duplex +
// ClustermapChangeNotification get the new config pushed; each replica vbucket replicates from
// the node the file names active for it; a bad file or node id exits with code 2.
#include "cluster/cluster_map.h"

#include <map>
#include <nlohmann/json.hpp>

#include "protocol/byte_order.h"
#include "protocol/datatype.h"
#include "protocol/opcode.h"
#include "protocol/payload.h"
#include "protocol/status.h"
#include "testing/wire_util.h"
#include "tests/integration/cluster_test_util.h"

namespace sluice::testing {
namespace {

using protocol::Feature;
using protocol::McbpStatus;
using protocol::Opcode;
using Json = nlohmann::json;

constexpr uint32_t kMapVBuckets = 8;

Json ParseConfig(std::string_view text) { return Json::parse(text, nullptr, false); }

class ClusterTest : public ::testing::Test {
 protected:
  void TearDown() override { cluster_.StopAll(/*print_logs=*/HasFailure()); }

  Json ClusterFile(const std::vector<std::string>& ids, size_t num_replicas,
                   const std::optional<Json>& vbucket_map = std::nullopt) {
    return cluster_.File(ids, num_replicas, vbucket_map);
  }
  void StartCluster(const Json& file) {
    ASSERT_TRUE(cluster_.Start(file, kMapVBuckets)) << cluster_.error();
    map_ = &cluster_.map();
  }
  std::unique_ptr<client::Connection> Connect(size_t node,
                                              std::vector<Feature> features = DefaultFeatures()) {
    return cluster_.Connect(node, features);
  }
  ServerProcess& node(size_t i) { return cluster_.node(i); }

  Json Config(client::Connection& conn) {
    auto r = Must(conn.GetClusterConfig());
    EXPECT_EQ(r.status, McbpStatus::kSuccess);
    Json config = ParseConfig(r.value);
    EXPECT_FALSE(config.is_discarded()) << r.value;
    return config;
  }

  // The vBucketMap row the map gives vb: indices of its chain's nodes, -1 for null.
  Json ExpectedRow(Vbid vb) const {
    Json row = Json::array();
    for (const auto& node : map_->ChainOf(vb)) {
      row.push_back(node ? static_cast<int>(*map_->NodeIndex(*node)) : -1);
    }
    return row;
  }

  // Checks a config against the map as node `node` should describe it.
  void ExpectConfigOfTheMap(const Json& config, size_t node) {
    ASSERT_TRUE(config["nodesExt"].is_array());
    ASSERT_EQ(config["nodesExt"].size(), cluster_.size());
    const auto& server_list = config["vBucketServerMap"]["serverList"];
    ASSERT_EQ(server_list.size(), cluster_.size());
    for (size_t i = 0; i < cluster_.size(); ++i) {
      const Json& ext = config["nodesExt"][i];
      EXPECT_EQ(ext["hostname"], "127.0.0.1");
      EXPECT_EQ(ext["services"]["kv"], cluster_.port(i));
      EXPECT_EQ(ext.value("thisNode", false), i == node) << "node " << i << " asked " << node;
      EXPECT_EQ(server_list[i], "127.0.0.1:" + std::to_string(cluster_.port(i)));
      EXPECT_EQ(config["nodes"][i]["ports"]["direct"], cluster_.port(i));
    }
    EXPECT_EQ(config["vBucketServerMap"]["numReplicas"], map_->num_replicas());
    const auto& vbmap = config["vBucketServerMap"]["vBucketMap"];
    ASSERT_EQ(vbmap.size(), kMapVBuckets);
    for (Vbid vb = 0; vb < kMapVBuckets; ++vb) EXPECT_EQ(vbmap[vb], ExpectedRow(vb)) << "vb " << vb;
    EXPECT_TRUE(config["rev"].is_number_integer());
    EXPECT_EQ(config["revEpoch"], 1);
  }

  // A key the CRC mapping puts on a vbucket where node `id` has `role`.
  std::string KeyWhere(std::string_view id, VBucketState role, Vbid* vb_out = nullptr) const {
    for (int i = 0;; ++i) {
      std::string key = "key-" + std::to_string(i);
      const Vbid vb = VBucketForKey(key, kMapVBuckets);
      if (map_->RoleOf(id, vb) == role) {
        if (vb_out != nullptr) *vb_out = vb;
        return key;
      }
    }
  }

  StaticCluster cluster_;
  const cluster::ClusterMap* map_ = nullptr;
};

StatMap VBucketDetails(client::Connection& conn) {
  auto stats = FetchStats(conn, "vbucket-details");
  EXPECT_TRUE(stats.ok()) << stats.status().ToString();
  return stats.ok() ? *stats : StatMap{};
}

TEST_F(ClusterTest, ThreeNodesTakeTheirStatesFromTheComputedLayout) {
  StartCluster(ClusterFile({"a", "b", "c"}, 1));
  if (HasFatalFailure()) return;
  std::string uuid;
  for (size_t n = 0; n < 3; ++n) {
    auto conn = Connect(n);
    ASSERT_NE(conn, nullptr);
    const StatMap details = VBucketDetails(*conn);
    for (Vbid vb = 0; vb < kMapVBuckets; ++vb) {
      const VBucketState role = map_->RoleOf(cluster_.id(n), vb);
      auto state = conn->GetVBucket(vb);
      ASSERT_TRUE(state.ok()) << state.status().ToString();
      EXPECT_EQ(*state, role) << cluster_.id(n) << " vb " << vb;
      const std::string prefix = "vb_" + std::to_string(vb);
      EXPECT_EQ(details.at(prefix), VBucketStateName(role));
      EXPECT_EQ(details.at(prefix + ":topology"),
                role == VBucketState::kActive ? TopologyToJson(map_->TopologyOf(vb)) : "null");
    }
    const Json config = Config(*conn);
    ExpectConfigOfTheMap(config, n);
    // Every node shows the same bucket uuid.
    if (n == 0) uuid = config.value("uuid", "");
    EXPECT_EQ(config.value("uuid", ""), uuid);
    EXPECT_EQ(uuid.size(), 32u);
  }
}

TEST_F(ClusterTest, NotMyVbucketAndGetReplicaFollowTheStates) {
  StartCluster(ClusterFile({"a", "b", "c"}, 1));
  if (HasFatalFailure()) return;
  auto a = Connect(0);
  ASSERT_NE(a, nullptr);
  // A write for a vbucket a does not hold: NOT_MY_VBUCKET with the config naming every node.
  const std::string elsewhere = KeyWhere("a", VBucketState::kDead);
  auto set = Must(a->Set(elsewhere, "v"));
  EXPECT_EQ(set.status, McbpStatus::kNotMyVbucket);
  const Json body = ParseConfig(set.value);
  ASSERT_FALSE(body.is_discarded()) << set.value;
  ExpectConfigOfTheMap(body, 0);

  // A replica vbucket: writes and plain reads are refused; GET_REPLICA serves it (the key was
  // never written).
  Vbid replica_vb = 0;
  const std::string on_replica = KeyWhere("a", VBucketState::kReplica, &replica_vb);
  EXPECT_EQ(Must(a->Set(on_replica, "v")).status, McbpStatus::kNotMyVbucket);
  EXPECT_EQ(Must(a->Get(on_replica)).status, McbpStatus::kNotMyVbucket);
  EXPECT_EQ(
      Exec(*a, {.opcode = Opcode::kGetReplica, .vbucket = replica_vb, .key = on_replica}).status,
      McbpStatus::kKeyEnoent);

  // GET_REPLICA on an active or a dead vbucket: NOT_MY_VBUCKET, with the config.
  Vbid active_vb = 0;
  const std::string on_active = KeyWhere("a", VBucketState::kActive, &active_vb);
  ASSERT_EQ(Must(a->Set(on_active, "v")).status, McbpStatus::kSuccess);
  auto replica_read =
      Exec(*a, {.opcode = Opcode::kGetReplica, .vbucket = active_vb, .key = on_active});
  EXPECT_EQ(replica_read.status, McbpStatus::kNotMyVbucket);
  EXPECT_FALSE(ParseConfig(replica_read.value).is_discarded());
  Vbid dead_vb = 0;
  KeyWhere("a", VBucketState::kDead, &dead_vb);
  EXPECT_EQ(Exec(*a, {.opcode = Opcode::kGetReplica, .vbucket = dead_vb, .key = "k"}).status,
            McbpStatus::kNotMyVbucket);
}

TEST_F(ClusterTest, SetVBucketTopologyPersistsAcrossRestartsAndMovesTheRevision) {
  // Two nodes and a listed map: a is active for 0-3, b for 4-7.
  Json vbmap = Json::array();
  for (Vbid vb = 0; vb < kMapVBuckets; ++vb) {
    vbmap.push_back(vb < 4 ? Json::array({"a", "b"}) : Json::array({"b", "a"}));
  }
  StartCluster(ClusterFile({"a", "b"}, 1, vbmap));
  if (HasFatalFailure()) return;
  auto a = Connect(0);
  ASSERT_NE(a, nullptr);
  const int64_t rev0 = Config(*a)["rev"];

  // Bad metas are refused and change nothing.
  auto set_vbucket = [&](Vbid vb, VBucketState state, std::string_view value) {
    const char extras = static_cast<char>(state);
    return Exec(*a, {.opcode = Opcode::kSetVbucket,
                     .datatype = value.empty() ? protocol::kDatatypeRaw : protocol::kDatatypeJson,
                     .vbucket = vb,
                     .extras = std::string_view(&extras, 1),
                     .value = value});
  };
  for (const char* bad : {R"({"topology":[]})", R"({"topology":[[null,"a"]]})", R"({"x":1})",
                          R"({"topology":[["a"],["a"],["a"]]})", "[1]"}) {
    EXPECT_EQ(set_vbucket(0, VBucketState::kActive, bad).status, McbpStatus::kEinval) << bad;
  }
  EXPECT_EQ(set_vbucket(4, VBucketState::kReplica, R"({"topology":[["a","b"]]})").status,
            McbpStatus::kEinval)
      << "a topology is for an active vbucket only";
  EXPECT_EQ(Config(*a)["rev"], rev0) << "a refused SET_VBUCKET changes nothing";

  // vb 0 loses its replica; vb 1 is moving to a chain of a and nobody.
  ASSERT_TRUE(a->SetVBucket(0, VBucketState::kActive, R"({"topology":[["a",null]]})").ok());
  ASSERT_TRUE(
      a->SetVBucket(1, VBucketState::kActive, R"({"topology":[["a","b"],["a",null]]})").ok());
  Json config = Config(*a);
  const int64_t rev1 = config["rev"];
  EXPECT_GT(rev1, rev0);
  EXPECT_EQ(config["vBucketServerMap"]["vBucketMap"][0], Json::array({0, -1}));
  EXPECT_EQ(config["vBucketServerMap"]["vBucketMap"][1], Json::array({0, 1}));
  StatMap details = VBucketDetails(*a);
  EXPECT_EQ(details["vb_0:topology"], R"([["a",null]])");
  EXPECT_EQ(details["vb_1:topology"], R"([["a","b"],["a",null]])");
  // The same state and topology again changes nothing.
  ASSERT_TRUE(a->SetVBucket(0, VBucketState::kActive, R"({"topology":[["a",null]]})").ok());
  EXPECT_EQ(Config(*a)["rev"], rev1);

  // A clean restart with the same file: the topologies set since stand.
  a.reset();
  ASSERT_EQ(node(0).Stop(), 0);
  ASSERT_TRUE(node(0).Start()) << node(0).error();
  a = Connect(0);
  ASSERT_NE(a, nullptr);
  details = VBucketDetails(*a);
  EXPECT_EQ(details["vb_0"], "active");
  EXPECT_EQ(details["vb_0:topology"], R"([["a",null]])");
  EXPECT_EQ(details["vb_1:topology"], R"([["a","b"],["a",null]])");
  EXPECT_EQ(details["vb_2:topology"], R"([["a","b"]])");
  config = Config(*a);
  const int64_t rev2 = config["rev"];
  EXPECT_GT(rev2, rev1) << "revisions only increase across restarts";
  EXPECT_EQ(config["vBucketServerMap"]["vBucketMap"][0], Json::array({0, -1}));

  // And after a kill: still there, the revision still higher.
  a.reset();
  node(0).Kill();
  ASSERT_TRUE(node(0).Start()) << node(0).error();
  a = Connect(0);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(VBucketDetails(*a)["vb_0:topology"], R"([["a",null]])");
  EXPECT_GT(Config(*a)["rev"].get<int64_t>(), rev2);

  // Demoting clears the topology (kv_engine), and the map names a no more.
  ASSERT_TRUE(a->SetVBucket(0, VBucketState::kReplica).ok());
  details = VBucketDetails(*a);
  EXPECT_EQ(details["vb_0"], "replica");
  EXPECT_EQ(details["vb_0:topology"], "null");
  EXPECT_EQ(Config(*a)["vBucketServerMap"]["vBucketMap"][0], Json::array({-1, 1}));
}

TEST_F(ClusterTest, PromotionAddsAFailoverEntryAndTheConfigFollows) {
  StartCluster(ClusterFile({"a", "b"}, 1));
  if (HasFatalFailure()) return;
  auto b = Connect(1);
  ASSERT_NE(b, nullptr);
  Vbid vb = 0;
  KeyWhere("b", VBucketState::kReplica, &vb);  // active on a
  auto before = b->GetFailoverLog(vb);
  ASSERT_TRUE(before.ok());
  ASSERT_TRUE(b->SetVBucket(vb, VBucketState::kActive, R"({"topology":[["b","a"]]})").ok());
  auto after = b->GetFailoverLog(vb);
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->size(), before->size() + 1) << "a promotion starts a new branch";
  EXPECT_EQ(Config(*b)["vBucketServerMap"]["vBucketMap"][vb], Json::array({1, 0}));
  EXPECT_EQ(Must(b->Set(KeyWhere("b", VBucketState::kReplica), "now-mine")).status,
            McbpStatus::kSuccess);
}

TEST_F(ClusterTest, ConfigChangesArePushedToDuplexClients) {
  StartCluster(ClusterFile({"a", "b"}, 1));
  if (HasFatalFailure()) return;
  std::vector<Feature> features = DefaultFeatures();
  features.push_back(Feature::kDuplex);
  features.push_back(Feature::kClustermapChangeNotification);
  auto full = Connect(0, features);
  ASSERT_NE(full, nullptr);
  EXPECT_TRUE(full->HasFeature(Feature::kDuplex));
  EXPECT_TRUE(full->HasFeature(Feature::kClustermapChangeNotification));
  std::vector<Feature> brief_features = DefaultFeatures();
  brief_features.push_back(Feature::kDuplex);
  brief_features.push_back(Feature::kClustermapChangeNotification);
  brief_features.push_back(Feature::kClustermapChangeNotificationBrief);
  auto brief = Connect(0, brief_features);
  ASSERT_NE(brief, nullptr);
  EXPECT_TRUE(brief->HasFeature(Feature::kClustermapChangeNotificationBrief));
  EXPECT_FALSE(brief->HasFeature(Feature::kClustermapChangeNotification))
      << "asked both: only the brief form";
  auto plain = Connect(0);
  ASSERT_NE(plain, nullptr);

  auto admin = Connect(0);
  ASSERT_NE(admin, nullptr);
  Vbid vb = 0;
  KeyWhere("a", VBucketState::kActive, &vb);
  ASSERT_TRUE(admin->SetVBucket(vb, VBucketState::kActive, R"({"topology":[["a",null]]})").ok());
  const Json config = Config(*admin);
  const int64_t rev = config["rev"];

  auto push = full->ReadFrame();
  ASSERT_TRUE(push.ok()) << push.status().ToString();
  EXPECT_EQ(push->magic, protocol::Magic::kServerRequest);
  EXPECT_EQ(push->server_opcode(), protocol::ServerOpcode::kClustermapChangeNotification);
  auto version = protocol::DecodeClusterConfigVersion(push->extras);
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(version->epoch, 1);
  EXPECT_EQ(version->revision, rev);
  EXPECT_EQ(push->key, "default");
  EXPECT_EQ(push->datatype, protocol::kDatatypeJson);
  const Json pushed = ParseConfig(push->value);
  ASSERT_FALSE(pushed.is_discarded()) << push->value;
  EXPECT_EQ(pushed["rev"], rev);
  EXPECT_EQ(pushed["vBucketServerMap"]["vBucketMap"][vb], Json::array({0, -1}));
  EXPECT_EQ(pushed["nodesExt"][0].value("thisNode", false), true);

  auto brief_push = brief->ReadFrame();
  ASSERT_TRUE(brief_push.ok()) << brief_push.status().ToString();
  EXPECT_EQ(brief_push->server_opcode(), protocol::ServerOpcode::kClustermapChangeNotification);
  EXPECT_EQ(brief_push->key, "default");
  EXPECT_TRUE(brief_push->value.empty()) << "the brief form has no config";
  auto brief_version = protocol::DecodeClusterConfigVersion(brief_push->extras);
  ASSERT_TRUE(brief_version.ok());
  EXPECT_EQ(brief_version->revision, rev);

  // A client that did not ask gets nothing: its next frame answers its own NOOP. And the
  // subscribed one keeps working (its reply to the push is not needed).
  EXPECT_TRUE(plain->Noop().ok());
  EXPECT_EQ(plain->stashed_frames(), 0u);
  EXPECT_TRUE(full->Noop().ok());
  EXPECT_EQ(Must(full->Set(KeyWhere("a", VBucketState::kActive), "v")).status,
            McbpStatus::kSuccess);
}

TEST_F(ClusterTest, ReplicaVbucketsReplicateFromTheirActivesInTheMap) {
  StartCluster(ClusterFile({"a", "b", "c"}, 1));
  if (HasFatalFailure()) return;
  std::vector<std::unique_ptr<client::Connection>> conns;
  for (size_t n = 0; n < 3; ++n) {
    conns.push_back(Connect(n));
    ASSERT_NE(conns.back(), nullptr);
  }
  // One key per vbucket, written on its active.
  std::map<Vbid, std::string> keys;
  for (int i = 0; keys.size() < kMapVBuckets; ++i) {
    std::string key = "replicated-" + std::to_string(i);
    keys.emplace(VBucketForKey(key, kMapVBuckets), std::move(key));
  }
  for (const auto& [vb, key] : keys) {
    const size_t active = *map_->NodeIndex(map_->ActiveOf(vb).id);
    ASSERT_EQ(Must(conns[active]->Set(key, "value-of-" + key)).status, McbpStatus::kSuccess);
  }
  // Each reaches the replica the map names, which serves it to GET_REPLICA.
  for (const auto& entry : keys) {
    const Vbid vb = entry.first;
    const std::string& key = entry.second;
    const size_t replica = *map_->NodeIndex(*map_->ChainOf(vb)[1]);
    client::Response last;
    EXPECT_TRUE(PollUntil([&] {
      last = Exec(*conns[replica], {.opcode = Opcode::kGetReplica, .vbucket = vb, .key = key});
      return last.status == McbpStatus::kSuccess;
    })) << "vb "
        << vb << " on " << cluster_.id(replica) << ": " << protocol::McbpStatusName(last.status);
    EXPECT_EQ(last.value, "value-of-" + key);
  }
  // Every node has one replication connection per node it replicates from, named after both.
  for (size_t n = 0; n < 3; ++n) {
    auto stats = FetchStats(*conns[n], "replication");
    ASSERT_TRUE(stats.ok()) << stats.status().ToString();
    for (const auto& [source, vbs] : map_->ReplicaVbucketsBySource(cluster_.id(n))) {
      const std::string conn = "replication:" + source + "->" + cluster_.id(n) + ":default";
      auto connected = stats->find("eq_dcpq:" + conn + ":connected");
      ASSERT_NE(connected, stats->end()) << conn;
      EXPECT_EQ(connected->second, "true") << conn;
    }
  }
}

TEST_F(ClusterTest, ClustermapNotificationNeedsDuplex) {
  StartCluster(ClusterFile({"a"}, 0));
  if (HasFatalFailure()) return;
  client::ConnectOptions options;
  auto conn = client::Connection::Connect("127.0.0.1", cluster_.port(0), options);
  ASSERT_TRUE(conn.ok());
  auto agreed = (*conn)->Hello("it", {Feature::kXerror, Feature::kClustermapChangeNotification});
  ASSERT_FALSE(agreed.ok());
  EXPECT_EQ(agreed.status().code(), Errc::kInvalid) << agreed.status().ToString();
}

// A node alone: one chain of one node, no replicas.
TEST_F(ClusterTest, OneNodeClusterIsAllActive) {
  StartCluster(ClusterFile({"solo"}, 0));
  if (HasFatalFailure()) return;
  auto conn = Connect(0);
  ASSERT_NE(conn, nullptr);
  const Json config = Config(*conn);
  ExpectConfigOfTheMap(config, 0);
  for (const auto& row : config["vBucketServerMap"]["vBucketMap"]) {
    EXPECT_EQ(row, Json::array({0}));
  }
}

TEST_F(ClusterTest, BadClusterFilesAndNodeIdsExitWithCodeTwo) {
  const Json good = ClusterFile({"a", "b"}, 1);
  struct Case {
    std::string what;
    std::string file;
    std::vector<std::string> args;  // replaces --node-id/--cluster-map/--port when non-empty
    std::string in_log;
  };
  Json bad_map = good;
  bad_map["vbucket_map"] = Json::array({Json::array({"a", "b"})});
  Json unknown_node = good;
  unknown_node["vbucket_map"] = Json::array();
  for (Vbid vb = 0; vb < kMapVBuckets; ++vb) unknown_node["vbucket_map"].push_back({"a", "zz"});
  const std::vector<Case> cases = {
      {"unknown node id",
       good.dump(),
       {"--node-id", "nobody", "--cluster-map", cluster_.map_path(), "--port",
        std::to_string(cluster_.port(0))},
       "--node-id nobody: the cluster map"},
      {"malformed JSON", "{\"nodes\": [", {}, "not valid JSON"},
      {"map of the wrong size", bad_map.dump(), {}, "one chain per vbucket (8)"},
      {"a chain naming no node of the file", unknown_node.dump(), {}, "\"zz\" is not in"},
      {"missing file",
       "",
       {"--node-id", "a", "--cluster-map", cluster_.dir() + "/none.json"},
       "cannot read the cluster map"},
      {"--node-id alone", good.dump(), {"--node-id", "a"}, "go together"},
      {"--replica-of beside --cluster-map",
       good.dump(),
       {"--node-id", "a", "--cluster-map", cluster_.map_path(), "--replica-of",
        "127.0.0.1:" + std::to_string(cluster_.port(1))},
       "give one source of replication"},
      {"--port other than the map's",
       good.dump(),
       {"--node-id", "a", "--cluster-map", cluster_.map_path(), "--port",
        std::to_string(cluster_.port(1))},
       "the cluster map lists node a on port"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    cluster_.WriteFile(c.file);
    ServerOptions options;
    options.extra_args = {"--vbuckets", std::to_string(kMapVBuckets), "--metrics-port", "0"};
    const std::vector<std::string> args =
        c.args.empty() ? std::vector<std::string>{"--node-id",     "a",
                                                  "--cluster-map", cluster_.map_path(),
                                                  "--port",        std::to_string(cluster_.port(0))}
                       : c.args;
    options.extra_args.insert(options.extra_args.end(), args.begin(), args.end());
    ServerProcess node(options);
    EXPECT_FALSE(node.Start(30s));
    EXPECT_EQ(node.Stop(), 2);
    EXPECT_NE(node.Log().find(c.in_log), std::string::npos) << node.Log();
  }
}

}  // namespace
}  // namespace sluice::testing
