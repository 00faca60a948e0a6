#include "cluster/terse_config.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace sluice::cluster {
namespace {

TEST(TerseConfigTest, EveryNodeWithThisNodeAndReplicas) {
  TerseConfig c;
  c.rev = 12;
  c.rev_epoch = 3;
  c.bucket_name = "default";
  c.bucket_uuid = "0123";
  c.nodes = {{"10.0.0.1", 11210}, {"10.0.0.2", 11211}, {"::1", 11212}};
  c.this_node = 1;
  c.num_replicas = 1;
  c.vbucket_map = {{0, 1}, {1, 2}, {2, -1}};
  const auto j = nlohmann::json::parse(TerseBucketConfigJson(c));
  EXPECT_EQ(j["rev"], 12);
  EXPECT_EQ(j["revEpoch"], 3);
  EXPECT_EQ(j["name"], "default");
  EXPECT_EQ(j["uuid"], "0123");
  EXPECT_EQ(j["nodeLocator"], "vbucket");
  ASSERT_EQ(j["nodesExt"].size(), 3u);
  EXPECT_EQ(j["nodesExt"][0]["hostname"], "10.0.0.1");
  EXPECT_EQ(j["nodesExt"][0]["services"]["kv"], 11210);
  EXPECT_FALSE(j["nodesExt"][0].contains("thisNode"));
  EXPECT_EQ(j["nodesExt"][1]["thisNode"], true);
  EXPECT_EQ(j["nodesExt"][2]["hostname"], "::1");
  EXPECT_EQ(j["nodes"][2]["hostname"], "[::1]:8091");
  EXPECT_EQ(j["nodes"][1]["ports"]["direct"], 11211);
  const auto& map = j["vBucketServerMap"];
  EXPECT_EQ(map["hashAlgorithm"], "CRC");
  EXPECT_EQ(map["numReplicas"], 1);
  EXPECT_EQ(map["serverList"],
            nlohmann::json::array({"10.0.0.1:11210", "10.0.0.2:11211", "[::1]:11212"}));
  EXPECT_EQ(map["vBucketMap"], nlohmann::json::parse("[[0,1],[1,2],[2,-1]]"));
  EXPECT_TRUE(j["bucketCapabilities"].is_array());
}

TEST(TerseConfigTest, NoThisNode) {
  TerseConfig c;
  c.nodes = {{"h", 1}};
  c.vbucket_map = {{0}};
  const auto j = nlohmann::json::parse(TerseBucketConfigJson(c));
  EXPECT_FALSE(j["nodesExt"][0].contains("thisNode"));
}

}  // namespace
}  // namespace sluice::cluster
