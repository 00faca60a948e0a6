#include "protocol/subdoc.h"

#include <gtest/gtest.h>

namespace sluice::protocol {
namespace {

std::vector<SubdocPathComponent> Components(std::string_view path) {
  SubdocPathParse p = ParseSubdocPath(path);
  EXPECT_EQ(p.status, McbpStatus::kSuccess) << path;
  return p.components;
}

TEST(SubdocPathTest, NamesIndexesAndBackticks) {
  using C = SubdocPathComponent;
  EXPECT_EQ(Components("a"), (std::vector<C>{std::string("a")}));
  EXPECT_EQ(Components("a.b[2].c"),
            (std::vector<C>{std::string("a"), std::string("b"), int64_t{2}, std::string("c")}));
  EXPECT_EQ(Components("[-1]"), (std::vector<C>{int64_t{-1}}));
  EXPECT_EQ(Components("`a.b[0]`.c"), (std::vector<C>{std::string("a.b[0]"), std::string("c")}));
  EXPECT_EQ(Components("`x``y`"), (std::vector<C>{std::string("x`y")}));
  EXPECT_TRUE(Components("").empty());
}

TEST(SubdocPathTest, SyntaxErrors) {
  for (std::string_view bad :
       {"a..b", ".a", "a.", "a[", "a[]", "a[x]", "a[-2]", "a[01]", "a[0]b", "`open"}) {
    EXPECT_EQ(ParseSubdocPath(bad).status, McbpStatus::kSubdocPathEinval) << bad;
  }
  EXPECT_EQ(ParseSubdocPath(std::string(kSubdocMaxPathLength + 1, 'a')).status,
            McbpStatus::kSubdocPathE2big);
  std::string deep = "a";
  for (size_t i = 0; i < kSubdocMaxPathDepth; ++i) deep += ".a";
  EXPECT_EQ(ParseSubdocPath(deep).status, McbpStatus::kSubdocPathE2big);
}

TEST(SubdocCodecTest, MultiLookupRoundTrip) {
  std::string value;
  AppendSubdocLookupSpec(&value, {Opcode::kSubdocGet, 0, "a.b"});
  AppendSubdocLookupSpec(&value, {Opcode::kSubdocExists, kSubdocFlagXattrPath, "$document"});
  AppendSubdocLookupSpec(&value, {Opcode::kGet, 0, ""});
  auto specs = DecodeSubdocMultiLookup(value);
  ASSERT_TRUE(specs.ok());
  ASSERT_EQ(specs->size(), 3u);
  EXPECT_EQ((*specs)[0].path, "a.b");
  EXPECT_EQ((*specs)[1].flags, kSubdocFlagXattrPath);
  EXPECT_EQ((*specs)[2].opcode, Opcode::kGet);

  EXPECT_FALSE(DecodeSubdocMultiLookup("").ok());
  EXPECT_FALSE(DecodeSubdocMultiLookup(value.substr(0, value.size() - 1)).ok());
  // Which opcodes and how many specs are allowed is ParseSubdocRequest's business
  // (subdoc_request_test.cc); the decoder only frames them.
  std::string many;
  for (size_t i = 0; i <= kSubdocMaxLookupSpecs; ++i) {
    AppendSubdocLookupSpec(&many, {Opcode::kSubdocGet, 0, "a"});
  }
  auto all = DecodeSubdocMultiLookup(many);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), kSubdocMaxLookupSpecs + 1);
}

TEST(SubdocCodecTest, ResultsAndSinglePath) {
  std::string body;
  AppendSubdocLookupResult(&body, McbpStatus::kSuccess, "42");
  AppendSubdocLookupResult(&body, McbpStatus::kSubdocPathEnoent, "");
  auto results = DecodeSubdocMultiLookupResponse(body);
  ASSERT_TRUE(results.ok());
  ASSERT_EQ(results->size(), 2u);
  EXPECT_EQ((*results)[0].value, "42");
  EXPECT_EQ((*results)[1].status, McbpStatus::kSubdocPathEnoent);

  std::string extras;
  AppendSubdocSingleLookupExtras(&extras, 3, 0);
  auto spec = DecodeSubdocSingleLookup(Opcode::kSubdocGet, extras, "a.b");
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(spec->path, "a.b");
  EXPECT_FALSE(DecodeSubdocSingleLookup(Opcode::kSubdocGet, extras, "a.bc").ok());
  EXPECT_FALSE(DecodeSubdocSingleLookup(Opcode::kSubdocGet, "", "a").ok());
}

}  // namespace
}  // namespace sluice::protocol
