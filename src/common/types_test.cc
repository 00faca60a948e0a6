#include "common/types.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

TEST(TypesTest, VBucketForKeyMatchesCouchbaseClients) {
  // Observed with the Couchbase Node.js SDK: "hello" with 64 vbuckets goes to vb 16.
  EXPECT_EQ(VBucketForKey("hello", 64), 16);
  EXPECT_LT(VBucketForKey("anything", 1024), 1024);
  EXPECT_EQ(VBucketForKey("x", 1), 0);
}

TEST(TypesTest, StateNames) {
  EXPECT_EQ(VBucketStateName(VBucketState::kReplica), "replica");
  EXPECT_EQ(ParseVBucketState("dead"), VBucketState::kDead);
  EXPECT_FALSE(ParseVBucketState("bogus").has_value());
  EXPECT_FALSE(IsValidVBucketState(0));
  EXPECT_TRUE(IsValidVBucketState(4));
}

}  // namespace
}  // namespace sluice
