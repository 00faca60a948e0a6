#include "cluster/node_state.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace sluice::cluster {
namespace {

class NodeStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir_template[] = "/tmp/node_state_test_XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    path_ = dir_ + "/default.cluster-state";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string dir_;
  std::string path_;
};

TEST_F(NodeStateTest, MissingFileIsTheDefault) {
  auto state = ReadNodeState(path_);
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  EXPECT_EQ(*state, NodeState{});
}

TEST_F(NodeStateTest, RoundTrip) {
  for (bool sync : {false, true}) {
    NodeState state{17, 0x8c2f0e6d1b9a3f70ULL};
    ASSERT_TRUE(WriteNodeState(path_, state, sync).ok());
    EXPECT_EQ(ReadNodeState(path_).value(), state);
    state = NodeState{18, std::nullopt};
    ASSERT_TRUE(WriteNodeState(path_, state, sync).ok());
    EXPECT_EQ(ReadNodeState(path_).value(), state);
  }
  EXPECT_FALSE(std::filesystem::exists(path_ + ".tmp"));
}

TEST_F(NodeStateTest, CorruptFilesAreRefused) {
  for (const char* text :
       {"", "[]", "{}", R"({"config_rev": -1})", R"({"config_rev": "1"})",
        R"({"config_rev": 1, "cluster_map": "xyz"})", R"({"config_rev": 1, "cluster_map": "0123"})",
        R"({"config_rev": 1, "cluster_map": 5})"}) {
    std::ofstream(path_, std::ios::trunc) << text;
    auto state = ReadNodeState(path_);
    ASSERT_FALSE(state.ok()) << text;
    EXPECT_EQ(state.status().code(), Errc::kCorruption) << text;
  }
}

TEST_F(NodeStateTest, WriteIntoAMissingDirectoryFails) {
  EXPECT_EQ(WriteNodeState(dir_ + "/no/such/dir/state", NodeState{1, {}}, true).code(),
            Errc::kIoError);
}

}  // namespace
}  // namespace sluice::cluster
