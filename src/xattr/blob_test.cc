#include "xattr/blob.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::xattr {
namespace {

std::string Be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

// A section built by hand, pair by pair, to check Encode against the layout itself.
std::string Section(const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::string pairs_bytes;
  for (const auto& [k, v] : pairs) {
    pairs_bytes += Be32(static_cast<uint32_t>(k.size() + v.size() + 2)) + k + '\0' + v + '\0';
  }
  return Be32(static_cast<uint32_t>(pairs_bytes.size())) + pairs_bytes;
}

TEST(XattrKeyTest, KvEngineRules) {
  size_t len = 0;
  EXPECT_TRUE(IsValidKey("meta", &len));
  EXPECT_EQ(len, 4u);
  EXPECT_TRUE(IsValidKey("meta.a.b[1]", &len));
  EXPECT_EQ(len, 4u);
  EXPECT_TRUE(IsValidKey("arr[0]", &len));
  EXPECT_EQ(len, 3u);
  EXPECT_TRUE(IsValidKey("_sync", &len));
  EXPECT_TRUE(IsValidKey("$document.CAS", &len));
  EXPECT_EQ(len, 9u);
  EXPECT_TRUE(IsValidKey("123456789012345", &len));  // 15 bytes
  EXPECT_FALSE(IsValidKey("1234567890123456", &len));
  EXPECT_FALSE(IsValidKey("", &len));
  EXPECT_FALSE(IsValidKey(".a", &len));
  EXPECT_FALSE(IsValidKey("_", &len));
  EXPECT_FALSE(IsValidKey("$", &len));
  EXPECT_FALSE(IsValidKey("_.x", &len));
  EXPECT_FALSE(IsValidKey("#tag", &len));
  EXPECT_FALSE(IsValidKey("\x01x", &len));
  EXPECT_FALSE(IsValidKey(std::string("a\0b", 3), &len));
  EXPECT_FALSE(IsValidKey("a\xff", &len));  // not UTF-8
  EXPECT_TRUE(IsValidKey("\xc3\xa9t\xc3\xa9", &len));
  EXPECT_EQ(len, 5u);
  EXPECT_TRUE(IsValidKey("a]b", &len));  // ']' has no meaning in a key
}

TEST(XattrBlobTest, EncodeMatchesTheLayoutAndRoundTrips) {
  const std::string section = Encode({{"_sync", R"({"rev":1})"}, {"meta", "true"}});
  EXPECT_EQ(section, Section({{"_sync", R"({"rev":1})"}, {"meta", "true"}}));
  const std::string value = section + R"({"body":1})";
  ASSERT_TRUE(Validate(value));
  auto split = SplitValue(value);
  ASSERT_TRUE(split.has_value());
  EXPECT_EQ(split->section, section);
  EXPECT_EQ(split->body, R"({"body":1})");
  EXPECT_EQ(Body(kDatatypeXattr, value), R"({"body":1})");
  EXPECT_EQ(Body(0, value), value);
  EXPECT_EQ(Get(section, "meta"), "true");
  EXPECT_EQ(Get(section, "_sync"), R"({"rev":1})");
  EXPECT_FALSE(Get(section, "none").has_value());
  EXPECT_EQ(ToJsonObject(section), R"({"_sync":{"rev":1},"meta":true})");
  EXPECT_EQ(ToJsonObject(Encode({})), "{}");
  EXPECT_EQ(Encode({}), "");
}

TEST(XattrBlobTest, PruneAndSystemSize) {
  const std::string section = Encode({{"u1", "1"}, {"_s", "2"}, {"u2", "3"}, {"_t", "[]"}});
  EXPECT_EQ(Prune(section, Keep::kSystem), Encode({{"_s", "2"}, {"_t", "[]"}}));
  EXPECT_EQ(Prune(section, Keep::kUser), Encode({{"u1", "1"}, {"u2", "3"}}));
  EXPECT_EQ(Prune(Encode({{"u", "1"}}), Keep::kSystem), "");
  // kv_engine: each system pair with its length field, plus the section's length field.
  EXPECT_EQ(SystemSize(section), 4u + (4 + 2 + 1 + 2) + (4 + 2 + 2 + 2));
  EXPECT_EQ(SystemSize(Encode({{"u", "1"}})), 0u);
  EXPECT_EQ(SystemSize(""), 0u);
}

TEST(XattrBlobTest, ValidateRejectsWhatKvEngineRejects) {
  EXPECT_TRUE(Validate(Be32(0)));  // an empty section, no body
  EXPECT_TRUE(Validate(Be32(0) + "body"));
  EXPECT_FALSE(Validate(""));
  EXPECT_FALSE(Validate("abc"));
  EXPECT_FALSE(Validate(Be32(5) + "abcd"));  // section past the end
  EXPECT_FALSE(Validate(Section({{"k", "not json"}})));
  EXPECT_FALSE(Validate(Section({{"#k", "1"}})));
  EXPECT_FALSE(Validate(Section({{"k", "1"}, {"k", "2"}})));  // duplicate key
  EXPECT_FALSE(Validate(Section({{"", "1"}})));
  // A pair length that disagrees with the NULs.
  std::string bad = Section({{"key", "1"}});
  bad[7] = static_cast<char>(bad[7] + 1);
  EXPECT_FALSE(Validate(bad));
  // Trailing bytes inside the section that are not a pair.
  std::string trailing = Section({{"k", "1"}}) + "xx";
  trailing.replace(0, 4, Be32(static_cast<uint32_t>(trailing.size() - 4)));
  EXPECT_FALSE(Validate(trailing));
  // A value without its terminating NUL inside the section.
  const std::string pair = Be32(4) + "k" + '\0' + "1";
  EXPECT_FALSE(Validate(Be32(static_cast<uint32_t>(pair.size())) + pair + '\0'));
  // The system quota.
  const std::string big(kMaxSystemXattrBytes, 'x');
  EXPECT_FALSE(Validate(Section({{"_big", "\"" + big + "\""}})));
  EXPECT_TRUE(Validate(Section({{"big", "\"" + big + "\""}})));
}

TEST(XattrBlobTest, ForEachStopsAtGarbage) {
  std::string seen;
  ForEach(Be32(3) + "abc", [&](std::string_view k, std::string_view) { seen.append(k); });
  EXPECT_EQ(seen, "");
  EXPECT_FALSE(SplitValue(Be32(100)).has_value());
}

}  // namespace
}  // namespace sluice::xattr
