#include "cluster/cluster_map.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

namespace sluice::cluster {
namespace {

constexpr const char* kThreeNodes = R"({
  "nodes": [{"id": "a", "host": "127.0.0.1", "port": 11210},
            {"id": "b", "host": "127.0.0.1", "port": 11211},
            {"id": "c", "host": "127.0.0.1", "port": 11212}],
  "num_replicas": 1})";

TEST(ClusterMapTest, ComputesTheLayoutWithoutAMap) {
  auto map = ClusterMap::Parse(kThreeNodes, 8);
  ASSERT_TRUE(map.ok()) << map.status().ToString();
  EXPECT_FALSE(map->vbucket_map_given());
  ASSERT_EQ(map->nodes().size(), 3u);
  EXPECT_EQ(map->nodes()[1], (ClusterNode{"b", "127.0.0.1", 11211}));
  EXPECT_EQ(map->num_replicas(), 1u);
  EXPECT_EQ(map->num_vbuckets(), 8u);
  for (Vbid vb = 0; vb < 8; ++vb) {
    const auto& chain = map->ChainOf(vb);
    ASSERT_EQ(chain.size(), 2u);
    EXPECT_EQ(map->ActiveOf(vb).id, *chain[0]);
    EXPECT_EQ(map->RoleOf(*chain[0], vb), VBucketState::kActive);
    EXPECT_EQ(map->RoleOf(*chain[1], vb), VBucketState::kReplica);
    EXPECT_EQ(map->TopologyOf(vb), (VBucketTopology{{chain}}));
  }
  EXPECT_EQ(map->ActiveOf(0).id, "a");
  EXPECT_EQ(map->ActiveOf(1).id, "b");
  EXPECT_EQ(map->NodeIndex("c"), 2u);
  EXPECT_EQ(map->FindNode("zz"), nullptr);
  EXPECT_FALSE(map->NodeIndex("zz").has_value());
}

TEST(ClusterMapTest, ListedMapAndTheReplicatorsView) {
  auto map = ClusterMap::Parse(R"({
    "nodes": [{"id": "a", "host": "10.0.0.1", "port": 11210},
              {"id": "b", "host": "10.0.0.2", "port": 11210}],
    "num_replicas": 1,
    "vbucket_map": [["a", "b"], ["b", "a"], ["a", null], ["b", "a"]]})",
                               4);
  ASSERT_TRUE(map.ok()) << map.status().ToString();
  EXPECT_TRUE(map->vbucket_map_given());
  EXPECT_EQ(map->ChainOf(2), (TopologyChain{"a", std::nullopt}));
  EXPECT_EQ(map->RoleOf("b", 2), VBucketState::kDead);
  EXPECT_EQ(map->ActiveOf(3).host, "10.0.0.2");
  // b replicates vbuckets 0 from a; a replicates 1 and 3 from b.
  EXPECT_EQ(map->ReplicaVbucketsBySource("b"),
            (std::map<std::string, std::vector<Vbid>>{{"a", {0}}}));
  EXPECT_EQ(map->ReplicaVbucketsBySource("a"),
            (std::map<std::string, std::vector<Vbid>>{{"b", {1, 3}}}));
  EXPECT_TRUE(map->ReplicaVbucketsBySource("nobody").empty());
}

TEST(ClusterMapTest, FingerprintFollowsWhatTheMapSays) {
  auto computed = ClusterMap::Parse(kThreeNodes, 8);
  ASSERT_TRUE(computed.ok());
  // The same map written out in full has the same fingerprint.
  std::string listed = R"({"nodes": [{"id": "a", "host": "127.0.0.1", "port": 11210},
            {"id": "b", "host": "127.0.0.1", "port": 11211},
            {"id": "c", "host": "127.0.0.1", "port": 11212}], "num_replicas": 1, "vbucket_map": [)";
  for (Vbid vb = 0; vb < 8; ++vb) {
    const auto& chain = computed->ChainOf(vb);
    listed += std::string(vb ? "," : "") + "[\"" + *chain[0] + "\",\"" + *chain[1] + "\"]";
  }
  listed += "]}";
  auto same = ClusterMap::Parse(listed, 8);
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  EXPECT_EQ(same->Fingerprint(), computed->Fingerprint());
  auto other_vbuckets = ClusterMap::Parse(kThreeNodes, 16);
  ASSERT_TRUE(other_vbuckets.ok());
  EXPECT_NE(other_vbuckets->Fingerprint(), computed->Fingerprint());
  auto other_port = ClusterMap::Parse(
      R"({"nodes": [{"id": "a", "host": "127.0.0.1", "port": 11210},
            {"id": "b", "host": "127.0.0.1", "port": 11211},
            {"id": "c", "host": "127.0.0.1", "port": 11299}], "num_replicas": 1})",
      8);
  ASSERT_TRUE(other_port.ok());
  EXPECT_NE(other_port->Fingerprint(), computed->Fingerprint());
}

TEST(ClusterMapTest, MalformedFilesAreRefusedWithAReason) {
  const std::string node_a = R"({"id": "a", "host": "h", "port": 1})";
  const std::string node_b = R"({"id": "b", "host": "h", "port": 2})";
  struct Case {
    std::string json;
    std::string expect_in_message;
  };
  const std::vector<Case> cases = {
      {"not json", "not valid JSON"},
      {"[]", "must be a JSON object"},
      {R"({"num_replicas": 0})", "\"nodes\""},
      {R"({"nodes": [], "num_replicas": 0})", "\"nodes\""},
      {R"({"nodes": [)" + node_a + R"(], "num_replicas": 0, "extra": 1})", "unknown key \"extra\""},
      {R"({"nodes": [)" + node_a + R"(]})", "num_replicas"},
      {R"({"nodes": [)" + node_a + R"(], "num_replicas": 4})", "num_replicas"},
      {R"({"nodes": [)" + node_a + R"(], "num_replicas": -1})", "num_replicas"},
      {R"({"nodes": [)" + node_a + R"(], "num_replicas": "1"})", "num_replicas"},
      {R"({"nodes": [1], "num_replicas": 0})", "nodes[0] must be an object"},
      {R"({"nodes": [{"host": "h", "port": 1}], "num_replicas": 0})", "\"id\""},
      {R"({"nodes": [{"id": "", "host": "h", "port": 1}], "num_replicas": 0})", "\"id\""},
      {R"({"nodes": [{"id": "a", "port": 1}], "num_replicas": 0})", "\"host\""},
      {R"({"nodes": [{"id": "a", "host": "h", "port": 0}], "num_replicas": 0})", "\"port\""},
      {R"({"nodes": [{"id": "a", "host": "h", "port": 70000}], "num_replicas": 0})", "\"port\""},
      {R"({"nodes": [{"id": "a", "host": "h", "port": 1, "tls": 2}], "num_replicas": 0})",
       "unknown key \"tls\""},
      {R"({"nodes": [)" + node_a + "," + node_a + R"(], "num_replicas": 0})", "listed twice"},
      {R"({"nodes": [)" + node_a + R"(, {"id": "b", "host": "h", "port": 1}], "num_replicas": 0})",
       "h:1 is listed twice"},
      {R"({"nodes": [)" + node_a + "," + node_b +
           R"(], "num_replicas": 1, "vbucket_map": [["a","b"]]})",
       "one chain per vbucket (2)"},
      {R"({"nodes": [)" + node_a + "," + node_b +
           R"(], "num_replicas": 1, "vbucket_map": [["a","b"],["a"]]})",
       "vbucket_map[1] must be an array of 2"},
      {R"({"nodes": [)" + node_a + "," + node_b +
           R"(], "num_replicas": 1, "vbucket_map": [["a","b"],[null,"a"]]})",
       "vbucket_map[1][0] must be a node id (the active)"},
      {R"({"nodes": [)" + node_a + "," + node_b +
           R"(], "num_replicas": 1, "vbucket_map": [["a","b"],["a","x"]]})",
       "\"x\" is not in \"nodes\""},
      {R"({"nodes": [)" + node_a + "," + node_b +
           R"(], "num_replicas": 1, "vbucket_map": [["a","b"],["a","a"]]})",
       "appears twice"},
      {R"({"nodes": [)" + node_a + "," + node_b +
           R"(], "num_replicas": 1, "vbucket_map": {"0": ["a","b"]}})",
       "one chain per vbucket"},
  };
  for (const auto& c : cases) {
    auto map = ClusterMap::Parse(c.json, 2);
    ASSERT_FALSE(map.ok()) << c.json;
    EXPECT_EQ(map.status().code(), Errc::kInvalid) << c.json;
    EXPECT_NE(map.status().message().find(c.expect_in_message), std::string::npos)
        << c.json << " -> " << map.status().ToString();
  }
}

TEST(ClusterMapTest, LoadNamesTheFile) {
  char dir_template[] = "/tmp/cluster_map_test_XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string dir = dir_template;
  const std::string path = dir + "/cluster.json";
  auto missing = ClusterMap::Load(path, 4);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), Errc::kIoError);
  EXPECT_NE(missing.status().message().find(path), std::string::npos);
  std::ofstream(path) << R"({"nodes": [{"id": "a", "host": "h", "port": 1}]})";
  auto bad = ClusterMap::Load(path, 4);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("cluster map " + path + ": "), std::string::npos)
      << bad.status().ToString();
  std::ofstream(path) << R"({"nodes": [{"id": "a", "host": "h", "port": 1}], "num_replicas": 0})";
  auto good = ClusterMap::Load(path, 4);
  ASSERT_TRUE(good.ok()) << good.status().ToString();
  EXPECT_EQ(good->ChainOf(3), (TopologyChain{"a"}));
  std::remove(path.c_str());
  rmdir(dir.c_str());
}

TEST(ClusterMapTest, MovesGiveTheirNodesReplicasAndATakeoverTopology) {
  const std::string nodes = R"("nodes": [{"id": "a", "host": "h", "port": 1},
            {"id": "b", "host": "h", "port": 2}, {"id": "c", "host": "h", "port": 3}],
            "num_replicas": 1, "vbucket_map": [["a", "b"], ["b", "a"]])";
  auto map =
      ClusterMap::Parse("{" + nodes +
                            R"(, "moves": [{"vbucket": 0, "to": ["c", "a"], "phase": "backfill"},
                         {"vbucket": 1, "to": ["c", "b"], "phase": "takeover"}]})",
                        2);
  ASSERT_TRUE(map.ok()) << map.status().ToString();
  ASSERT_EQ(map->moves().size(), 2u);
  EXPECT_EQ(map->RoleOf("c", 0), VBucketState::kReplica);  // streams from a
  EXPECT_EQ(map->RoleOf("a", 0), VBucketState::kActive);
  EXPECT_EQ(map->TopologyOf(0), (VBucketTopology{{map->ChainOf(0)}}));
  EXPECT_FALSE(map->InTakeover("a", 0));
  EXPECT_TRUE(map->InTakeover("b", 1));
  EXPECT_FALSE(map->InTakeover("c", 1));
  EXPECT_EQ(
      map->TopologyOf(1),
      (VBucketTopology{{map->ChainOf(1), TopologyChain{TopologyNode("c"), TopologyNode("b")}}}));
  const auto sources = map->ReplicaVbucketsBySource("c");
  EXPECT_EQ(sources.at("a"), std::vector<Vbid>{0});
  EXPECT_EQ(sources.at("b"), std::vector<Vbid>{1});
  auto plain = ClusterMap::Parse("{" + nodes + "}", 2);
  ASSERT_TRUE(plain.ok());
  EXPECT_NE(plain->Fingerprint(), map->Fingerprint());

  for (const char* bad : {R"([{"vbucket": 2, "to": ["c", "a"], "phase": "backfill"}])",
                          R"([{"vbucket": 0, "to": ["z", "a"], "phase": "backfill"}])",
                          R"([{"vbucket": 0, "to": ["c"], "phase": "backfill"}])",
                          R"([{"vbucket": 0, "to": ["c", "a"], "phase": "later"}])",
                          R"([{"vbucket": 0, "to": ["c", "a"], "phase": "backfill"},
                              {"vbucket": 0, "to": ["c", "b"], "phase": "backfill"}])"}) {
    EXPECT_FALSE(ClusterMap::Parse("{" + nodes + R"(, "moves": )" + bad + "}", 2).ok()) << bad;
  }
}

}  // namespace
}  // namespace sluice::cluster
