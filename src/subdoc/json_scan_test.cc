#include "subdoc/json_scan.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::subdoc {
namespace {

TEST(JsonScanTest, RootValidatesStrictJson) {
  Element e;
  for (std::string_view ok :
       {R"({"a":[1,2.5e3,-0,"x\"y\u00e9"],"b":{}})", " [ ] ", "true", "\"s\"", "-12", "null"}) {
    EXPECT_EQ(Scanner(ok).Root(&e), McbpStatus::kSuccess) << ok;
  }
  for (std::string_view bad : {"", "{", "[1,]", "{\"a\"}", "{a:1}", "01", "1.", "tru", "[1] 2",
                               "\"\x01\"", "\"\\x\"", "{\"a\":1,}", "nul"}) {
    EXPECT_EQ(Scanner(bad).Root(&e), McbpStatus::kSubdocDocNotJson) << bad;
  }
}

TEST(JsonScanTest, ElementsAndChildren) {
  const std::string doc = R"( {"a" : [1, {"b":true}], "c":"d"} )";
  Scanner s(doc);
  Element root;
  ASSERT_EQ(s.Root(&root), McbpStatus::kSuccess);
  EXPECT_EQ(root.type, JsonType::kObject);
  EXPECT_EQ(s.Slice(root), R"({"a" : [1, {"b":true}], "c":"d"})");
  std::vector<std::string> seen;
  size_t count = 0;
  ASSERT_EQ(s.ForEachChild(
                root, 1,
                [&](const Child& c) {
                  seen.push_back(std::string(c.key) + "=" + std::string(s.Slice(c.value)));
                  return true;
                },
                &count),
            McbpStatus::kSuccess);
  EXPECT_EQ(count, 2u);
  EXPECT_EQ(seen, (std::vector<std::string>{R"(a=[1, {"b":true}])", R"(c="d")"}));
}

TEST(JsonScanTest, DepthLimit) {
  std::string ok(Scanner::kMaxLevel - 1, '[');
  ok += "1" + std::string(Scanner::kMaxLevel - 1, ']');
  Element e;
  EXPECT_EQ(Scanner(ok).Root(&e), McbpStatus::kSuccess);
  std::string deep = "[" + ok + "]";
  EXPECT_EQ(Scanner(deep).Root(&e), McbpStatus::kSubdocDocE2deep);
}

TEST(JsonScanTest, UnicodeEscapesInKeys) {
  std::string out;
  EXPECT_TRUE(DecodeUnicodeEscapes(R"(caf\u00e9)", &out));
  EXPECT_EQ(out, "caf\xc3\xa9");
  EXPECT_TRUE(DecodeUnicodeEscapes(R"(a\"b)", &out));
  EXPECT_EQ(out, R"(a\"b)");  // other escapes stay as written
  EXPECT_TRUE(DecodeUnicodeEscapes(R"(\ud83d\ude00)", &out));
  EXPECT_EQ(out, "\xf0\x9f\x98\x80");
  EXPECT_FALSE(DecodeUnicodeEscapes(R"(\u0000)", &out));
  EXPECT_FALSE(DecodeUnicodeEscapes(R"(\ud83d)", &out));
}

TEST(JsonScanTest, CheckValue) {
  EXPECT_EQ(CheckValue("1", ValueContext::kDictValue, 10), McbpStatus::kSuccess);
  EXPECT_EQ(CheckValue(" {\"a\":[1]} ", ValueContext::kDictValue, 10), McbpStatus::kSuccess);
  EXPECT_EQ(CheckValue("1,2", ValueContext::kDictValue, 10), McbpStatus::kSubdocValueCantinsert);
  EXPECT_EQ(CheckValue("1,2", ValueContext::kArrayValues, 10), McbpStatus::kSuccess);
  EXPECT_EQ(CheckValue("INVALID", ValueContext::kDictValue, 10),
            McbpStatus::kSubdocValueCantinsert);
  EXPECT_EQ(CheckValue("  ", ValueContext::kArrayValues, 10), McbpStatus::kSubdocValueCantinsert);
  EXPECT_EQ(CheckValue("[]", ValueContext::kUniqueValue, 10), McbpStatus::kSubdocValueCantinsert);
  EXPECT_EQ(CheckValue("1,2", ValueContext::kUniqueValue, 10), McbpStatus::kSubdocValueCantinsert);
  EXPECT_EQ(CheckValue("\"x\"", ValueContext::kUniqueValue, 10), McbpStatus::kSuccess);
  // Depth: a primitive is 1 level, [[1]] is 3.
  EXPECT_EQ(CheckValue("[[1]]", ValueContext::kDictValue, 3), McbpStatus::kSuccess);
  EXPECT_EQ(CheckValue("[[1]]", ValueContext::kDictValue, 2), McbpStatus::kSubdocValueEtoodeep);
}

}  // namespace
}  // namespace sluice::subdoc
