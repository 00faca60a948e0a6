// The key layout and the values stored under it.
#include "cluster/cluster_keys.h"

#include <gtest/gtest.h>

#include "cluster/cluster_state.h"

namespace sluice::cluster {
namespace {

TEST(ClusterKeysTest, Names) {
  ClusterKeys keys("c1");
  EXPECT_EQ(keys.Node("a"), "/sluice/c1/nodes/a");
  EXPECT_EQ(keys.Member("a"), "/sluice/c1/members/a");
  EXPECT_EQ(keys.Manager(), "/sluice/c1/manager");
  EXPECT_EQ(keys.Map("default"), "/sluice/c1/buckets/default/map");
  EXPECT_EQ(keys.Epoch(), "/sluice/c1/epoch");
  EXPECT_EQ(ClusterKeys::Suffix("/sluice/c1/nodes/a", keys.NodesPrefix()), "a");
  EXPECT_EQ(ClusterKeys::Suffix("/sluice/c1/nodes/", keys.NodesPrefix()), std::nullopt);
  EXPECT_EQ(keys.BucketOfMapKey("/sluice/c1/buckets/default/map"), "default");
  EXPECT_EQ(keys.BucketOfMapKey("/sluice/c1/buckets/default/other"), std::nullopt);
  EXPECT_EQ(keys.BucketOfMapKey("/sluice/c1/buckets//map"), std::nullopt);
}

TEST(ClusterKeysTest, Registration) {
  const NodeRegistration node{.id = "a", .host = "127.0.0.1", .port = 11210, .metrics_port = 9};
  auto parsed = ParseNodeRegistration(FormatNodeRegistration(node));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(*parsed, node);
  EXPECT_TRUE(ParseNodeRegistration(R"({"id":"a","host":"h","port":1})").ok());
  EXPECT_FALSE(ParseNodeRegistration(R"({"id":"a","host":"h","port":0})").ok());
  EXPECT_FALSE(ParseNodeRegistration(R"({"id":"a","host":"h","port":1,"x":1})").ok());
  EXPECT_FALSE(ParseNodeRegistration("not json").ok());
}

TEST(ClusterKeysTest, Member) {
  for (auto s : {MemberStatus::kActive, MemberStatus::kFailoverRequested, MemberStatus::kFailedOver,
                 MemberStatus::kPendingAdd, MemberStatus::kPendingRemove}) {
    EXPECT_EQ(*ParseMember(FormatMember(s)), s);
  }
  EXPECT_EQ(FormatMember(MemberStatus::kFailedOver), R"({"status":"failed_over"})");
  EXPECT_FALSE(ParseMember(R"({"status":"gone"})").ok());
  EXPECT_FALSE(ParseMember(R"({})").ok());
}

// An automatic failover is marked "auto"; values written before the mark existed read as not
// automatic; the mark belongs to failed_over only.
TEST(ClusterKeysTest, MemberFailedOverAutomatically) {
  const std::string value = FormatMember(MemberStatus::kFailedOver, /*auto_failover=*/true);
  EXPECT_EQ(value, R"({"status":"failed_over","auto":true})");
  EXPECT_EQ(*ParseMemberValue(value),
            (MemberValue{.status = MemberStatus::kFailedOver, .auto_failover = true}));
  EXPECT_EQ(*ParseMember(value), MemberStatus::kFailedOver);
  EXPECT_EQ(*ParseMemberValue(R"({"status":"failed_over"})"),
            (MemberValue{.status = MemberStatus::kFailedOver, .auto_failover = false}));
  EXPECT_EQ(ParseMemberValue(R"({"status":"failed_over","auto":false})")->auto_failover, false);
  EXPECT_FALSE(ParseMemberValue(R"({"status":"active","auto":true})").ok());
  EXPECT_FALSE(ParseMemberValue(R"({"status":"failed_over","auto":1})").ok());
}

TEST(ClusterKeysTest, Settings) {
  const ClusterSettings defaults;
  auto parsed = ParseSettings(R"({"auto_failover_timeout":2})", defaults);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->auto_failover_timeout, std::chrono::seconds(2));
  EXPECT_EQ(parsed->auto_failover_max_count, 1);
  EXPECT_EQ(*ParseSettings(FormatSettings({std::chrono::seconds(9), 3}), defaults),
            (ClusterSettings{std::chrono::seconds(9), 3}));
  EXPECT_FALSE(ParseSettings(R"({"auto_failover_timeout":0})", defaults).ok());  // min 1 s
  EXPECT_FALSE(ParseSettings(R"({"auto_failover_max_count":-1})", defaults).ok());
  EXPECT_FALSE(ParseSettings(R"({"timeout":5})", defaults).ok());
  EXPECT_EQ(defaults.rebalance_moves_per_node, 4);
  EXPECT_EQ(ParseSettings(R"({"rebalance_moves_per_node":2})", defaults)->rebalance_moves_per_node,
            2);
  EXPECT_FALSE(ParseSettings(R"({"rebalance_moves_per_node":0})", defaults).ok());
}

TEST(ClusterKeysTest, Rebalance) {
  RebalanceStatus running{.state = RebalanceStatus::State::kRunning,
                          .moves_total = 5,
                          .moves_done = 2,
                          .nodes = {"a", "b"},
                          .target = {{"default", {{TopologyNode("a"), std::nullopt}}}}};
  auto parsed = ParseRebalance(FormatRebalance(running));
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->state, RebalanceStatus::State::kRunning);
  EXPECT_EQ(parsed->moves_done, 2);
  EXPECT_EQ(parsed->moves_total, 5);
  EXPECT_EQ(parsed->nodes, running.nodes);
  EXPECT_EQ(parsed->target, running.target);
  EXPECT_EQ(FormatRebalance(RebalanceStatus{}),
            R"({"state":"requested","moves_done":0,"moves_total":0})");
  EXPECT_FALSE(ParseRebalance(R"({"state":"running"})").ok());  // no target
  EXPECT_FALSE(ParseRebalance(R"({"state":"done","moves_done":3,"moves_total":2})").ok());
  EXPECT_FALSE(ParseRebalance(R"({"state":"paused"})").ok());
}

TEST(ClusterKeysTest, Counter) {
  EXPECT_EQ(*ParseCounter("42"), 42);
  EXPECT_FALSE(ParseCounter("").ok());
  EXPECT_FALSE(ParseCounter("-1").ok());
  EXPECT_FALSE(ParseCounter("4x").ok());
}

TEST(ClusterKeysTest, MapValueRoundTripsThroughTheClusterFileParser) {
  const std::vector<ClusterNode> nodes = {{"a", "127.0.0.1", 1}, {"b", "127.0.0.1", 2}};
  const std::vector<TopologyChain> chains = {{"a", "b"}, {"b", std::nullopt}};
  const std::string json = FormatMapValue(nodes, 1, chains);
  auto map = ParseMapValue(json);
  ASSERT_TRUE(map.ok()) << map.status().ToString();
  EXPECT_EQ(map->nodes(), nodes);
  EXPECT_EQ(map->num_vbuckets(), 2u);
  EXPECT_EQ(map->ChainOf(1), chains[1]);
  EXPECT_TRUE(ClusterMap::Parse(json, 2).ok());
  EXPECT_FALSE(ParseMapValue(R"({"nodes":[],"num_replicas":0})").ok());
}

TEST(ClusterStateTest, ReadsEveryKeyAndNamesWhatDoesNotParse) {
  ClusterKeys keys("c");
  RangeResult range;
  range.revision = 40;
  auto add = [&](std::string key, std::string value, int64_t mod) {
    range.kvs.push_back({.key = std::move(key), .value = std::move(value), .mod_revision = mod});
  };
  add(keys.Node("a"), FormatNodeRegistration({.id = "a", .host = "h", .port = 1}), 1);
  add(keys.Node("b"), "garbage", 2);  // alive all the same: its lease says so
  add(keys.Member("a"), FormatMember(MemberStatus::kActive), 3);
  add(keys.Member("b"), FormatMember(MemberStatus::kFailedOver), 4);
  add(keys.Member("c"), R"({"status":"odd"})", 5);
  add(keys.Map("default"), FormatMapValue({{"a", "h", 1}}, 0, {{"a"}, {"a"}}), 6);
  add(keys.Map("broken"), "{}", 7);
  add(keys.Manager(), "a", 8);
  add(keys.Epoch(), "3", 9);
  add(keys.FailoverCount(), "1", 10);
  add(keys.Settings(), R"({"auto_failover_max_count":2})", 11);
  const ClusterState state = ClusterState::Read(keys, range, ClusterSettings{});
  EXPECT_EQ(state.revision, 40);
  EXPECT_TRUE(state.IsAlive("a"));
  EXPECT_TRUE(state.IsAlive("b"));
  EXPECT_EQ(state.registrations.count("b"), 0u);
  EXPECT_EQ(state.members.size(), 2u);
  EXPECT_EQ(state.member_mod_revisions.at("b"), 4);
  EXPECT_EQ(state.InClusterMembers(), std::vector<std::string>{"a"});
  ASSERT_TRUE(state.buckets.at("default").map.has_value());
  EXPECT_EQ(state.buckets.at("default").mod_revision, 6);
  EXPECT_FALSE(state.buckets.at("broken").map.has_value());
  EXPECT_EQ(state.manager, "a");
  EXPECT_EQ(state.epoch, 3);
  EXPECT_EQ(state.failover_count, 1);
  EXPECT_EQ(state.failover_count_mod_revision, 10);
  EXPECT_EQ(state.settings.auto_failover_max_count, 2);
  EXPECT_EQ(state.settings.auto_failover_timeout, std::chrono::seconds(5));
  EXPECT_EQ(state.problems.size(), 3u);  // nodes/b, members/c, buckets/broken/map
}

}  // namespace
}  // namespace sluice::cluster
