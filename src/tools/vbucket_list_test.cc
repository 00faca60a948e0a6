// File: tools/vbucket_list_test.cc
#include "tools/vbucket_list.h"

#include <gtest/gtest.h>

namespace sluice::tools {
namespace {

std::vector<Vbid> ParseOk(std::string_view text) {
  StatusOr<std::vector<Vbid>> parsed = ParseVBucketList(text);
  EXPECT_TRUE(parsed.ok()) << text << ": " << parsed.status().ToString();
  return parsed.ok() ? *parsed : std::vector<Vbid>{};
}

TEST(VBucketListTest, SingleIdsAndRanges) {
  EXPECT_EQ(ParseOk("7"), (std::vector<Vbid>{7}));
  EXPECT_EQ(ParseOk("0-3,7"), (std::vector<Vbid>{0, 1, 2, 3, 7}));
  EXPECT_EQ(ParseOk("5-5"), (std::vector<Vbid>{5}));
  EXPECT_EQ(ParseOk("1023,0"), (std::vector<Vbid>{0, 1023}));
}

TEST(VBucketListTest, SortedWithoutDuplicates) {
  EXPECT_EQ(ParseOk("3,1-3,2"), (std::vector<Vbid>{1, 2, 3}));
}

TEST(VBucketListTest, FullRange) {
  const std::vector<Vbid> all = ParseOk("0-65535");
  ASSERT_EQ(all.size(), 65536u);
  EXPECT_EQ(all.back(), 65535);
}

TEST(VBucketListTest, BadListsAreInvalid) {
  for (const char* bad : {"", ",", "1,", ",1", "a", "1-", "-1", "5-3", "1--2", "65536", "1 ,2",
                          "0x10", "+1", "1-2-3"}) {
    StatusOr<std::vector<Vbid>> parsed = ParseVBucketList(bad);
    EXPECT_FALSE(parsed.ok()) << "'" << bad << "'";
    if (!parsed.ok()) EXPECT_EQ(parsed.status().code(), Errc::kInvalid) << bad;
  }
}

TEST(VBucketListTest, MessageNamesTheBadElement) {
  StatusOr<std::vector<Vbid>> parsed = ParseVBucketList("0-3,9-4");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("'9-4'"), std::string_view::npos)
      << parsed.status().message();
}

TEST(VBucketListTest, FormatIsTheShortForm) {
  EXPECT_EQ(FormatVBucketList({}), "");
  EXPECT_EQ(FormatVBucketList({4}), "4");
  EXPECT_EQ(FormatVBucketList({0, 1, 2, 3, 7}), "0-3,7");
  EXPECT_EQ(FormatVBucketList({0, 2, 4, 5}), "0,2,4-5");
  EXPECT_EQ(FormatVBucketList(ParseOk("0-1023")), "0-1023");
}

}  // namespace
}  // namespace sluice::tools
