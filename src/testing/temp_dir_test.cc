// TempDir: a fresh directory per object, removed with its contents (nested too) on destruction,
// kept when asked.
#include "testing/temp_dir.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <system_error>

namespace sluice::testing {
namespace {

namespace fs = std::filesystem;

TEST(TempDirTest, FreshDirectoryRemovedWithItsContents) {
  std::string path;
  {
    TempDir dir("sluice_temp_dir_test");
    path = dir.path();
    ASSERT_FALSE(path.empty());
    EXPECT_TRUE(fs::is_directory(path));
    EXPECT_TRUE(fs::is_empty(path));
    EXPECT_NE(fs::path(path).filename().string().find("sluice_temp_dir_test_"), std::string::npos);

    EXPECT_EQ(dir.Sub("a/b"), path + "/a/b");
    EXPECT_FALSE(fs::exists(dir.Sub("a")));  // Sub only names a path
    fs::create_directories(dir.Sub("a/b"));
    std::ofstream(dir.Sub("a/b/file")) << "bytes";

    TempDir other("sluice_temp_dir_test");
    EXPECT_NE(other.path(), path);
  }
  EXPECT_FALSE(fs::exists(path));
}

TEST(TempDirTest, KeepLeavesTheDirectory) {
  std::string path;
  {
    TempDir dir;
    path = dir.path();
    dir.Keep();
  }
  EXPECT_TRUE(fs::is_directory(path));
  std::error_code ec;
  fs::remove_all(path, ec);
  EXPECT_FALSE(ec) << ec.message();
}

TEST(TempDirTest, ADirectoryRemovedEarlyIsNoError) {
  TempDir dir;
  std::error_code ec;
  fs::remove_all(dir.path(), ec);
  EXPECT_FALSE(ec) << ec.message();
  // The destructor finds nothing to remove and neither throws nor fails the test.
}

}  // namespace
}  // namespace sluice::testing
