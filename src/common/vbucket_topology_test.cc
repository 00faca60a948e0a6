#include "common/vbucket_topology.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(VBucketTopologyTest, ParsesChainsWithNullReplicas) {
  auto t = ParseTopologyJson(R"([["a","b",null],["a","c"]])");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  ASSERT_EQ(t->chains.size(), 2u);
  EXPECT_EQ(t->chains[0], (TopologyChain{"a", "b", std::nullopt}));
  EXPECT_EQ(t->chains[1], (TopologyChain{"a", "c"}));
  EXPECT_TRUE(ValidateTopology(*t).ok());
  EXPECT_EQ(TopologyToJson(*t), R"([["a","b",null],["a","c"]])");
}

TEST(VBucketTopologyTest, RefusesWhatKvEngineRefuses) {
  for (const char* bad : {
           R"("a")",                      // not an array
           R"([])",                       // no chain
           R"([["a"],["b"],["c"]])",      // three chains
           R"([[]])",                     // empty chain
           R"([["a","b","c","d","e"]])",  // five nodes
           R"([[null,"b"]])",             // null active
           R"([["a",1]])",                // a number
           R"([["a",{"n":"b"}]])",        // an object
           R"(["a"])",                    // a chain that is not an array
           R"([["a","b"])",               // not JSON
       }) {
    auto t = ParseTopologyJson(bad);
    EXPECT_FALSE(t.ok()) << bad;
    if (!t.ok()) EXPECT_EQ(t.status().code(), Errc::kInvalid) << bad;
  }
  EXPECT_TRUE(ParseTopologyJson(R"([["a","b","c","d"]])").ok()) << "four nodes is the limit";
  EXPECT_FALSE(ValidateTopology(VBucketTopology{}).ok()) << "no chain";
  EXPECT_FALSE(ValidateTopology(VBucketTopology{{{std::nullopt}}}).ok()) << "null active";
}

TEST(VBucketTopologyTest, EmptyTopologyIsNull) {
  EXPECT_EQ(TopologyToJson(VBucketTopology{}), "null");
}

TEST(VBucketTopologyTest, SetVBucketMeta) {
  auto none = ParseSetVBucketMeta("");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value()) << "no value: no meta";

  auto with = ParseSetVBucketMeta(R"({"topology":[["n1","n2"]]})");
  ASSERT_TRUE(with.ok()) << with.status().ToString();
  ASSERT_TRUE(with->has_value());
  EXPECT_EQ((*with)->chains, (std::vector<TopologyChain>{{"n1", "n2"}}));

  auto without = ParseSetVBucketMeta("{}");
  ASSERT_TRUE(without.ok());
  ASSERT_TRUE(without->has_value()) << "meta without a topology clears it";
  EXPECT_TRUE((*without)->empty());

  for (const char* bad :
       {"[1]", "not json", R"({"topology":"x"})", R"({"expected_next_state":"replica"})",
        R"({"other":1})", R"({"topology":[[null]]})"}) {
    auto r = ParseSetVBucketMeta(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) EXPECT_EQ(r.status().code(), Errc::kInvalid) << bad;
  }
}

}  // namespace
}  // namespace sluice
