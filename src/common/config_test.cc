#include "common/config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace sluice {
namespace {

TEST(ConfigTest, ParseSize) {
  EXPECT_EQ(*ParseSize("0"), 0u);
  EXPECT_EQ(*ParseSize("512"), 512u);
  EXPECT_EQ(*ParseSize("4K"), 4096u);
  EXPECT_EQ(*ParseSize("64M"), 64u << 20);
  EXPECT_EQ(*ParseSize("2G"), 2ULL << 30);
  EXPECT_EQ(*ParseSize("2GiB"), 2ULL << 30);
  EXPECT_EQ(*ParseSize("1TB"), 1ULL << 40);
  EXPECT_FALSE(ParseSize("").ok());
  EXPECT_FALSE(ParseSize("G").ok());
  EXPECT_FALSE(ParseSize("-1").ok());
  EXPECT_FALSE(ParseSize("12X").ok());
  EXPECT_FALSE(ParseSize("99999999999999999999").ok());
  EXPECT_FALSE(ParseSize("17179869184G").ok());
}

TEST(ConfigTest, SetAndGet) {
  Config c;
  ASSERT_TRUE(c.Set("max_size", "256M").ok());
  EXPECT_EQ(c.max_size, 256u << 20);
  ASSERT_TRUE(c.Set("flusher_sync", "true").ok());
  EXPECT_TRUE(c.flusher_sync);
  ASSERT_TRUE(c.Set("mem_high_wat_percent", "0.9").ok());
  EXPECT_DOUBLE_EQ(c.mem_high_wat_percent, 0.9);
  EXPECT_EQ(*c.Get("max_vbuckets"), "1024");
  Status bad = c.Set("no_such_param", "1");
  EXPECT_EQ(bad.code(), Errc::kInvalid);
  EXPECT_NE(bad.message().find("no_such_param"), std::string_view::npos);
  EXPECT_FALSE(c.Set("max_vbuckets", "ten").ok());
  EXPECT_FALSE(c.Set("flusher_sync", "maybe").ok());
}

TEST(ConfigTest, ApplyJson) {
  Config c;
  ASSERT_TRUE(c.ApplyJson(R"({"max_vbuckets": 64, "max_size": "128M", "flusher_sync": true,
                              "exp_pager_stime": 0.5})")
                  .ok());
  EXPECT_EQ(c.max_vbuckets, 64u);
  EXPECT_EQ(c.max_size, 128u << 20);
  EXPECT_TRUE(c.flusher_sync);
  EXPECT_DOUBLE_EQ(c.exp_pager_stime, 0.5);
  EXPECT_FALSE(c.ApplyJson("[1,2]").ok());
  EXPECT_FALSE(c.ApplyJson("{not json").ok());
  EXPECT_FALSE(c.ApplyJson(R"({"max_size": [1]})").ok());
  EXPECT_FALSE(c.ApplyJson(R"({"bogus": 1})").ok());
}

TEST(ConfigTest, Validate) {
  Config c;
  EXPECT_TRUE(c.Validate().ok());
  c.mem_low_wat_percent = 0.9;
  EXPECT_FALSE(c.Validate().ok());
  c = Config();
  c.max_vbuckets = 0;
  EXPECT_FALSE(c.Validate().ok());
}

TEST(ConfigTest, EveryParamHasDocsAndRoundTrips) {
  Config c;
  for (const auto& p : ConfigParams()) {
    EXPECT_FALSE(p.description.empty()) << p.name;
    EXPECT_FALSE(p.unit.empty()) << p.name;
    auto v = c.Get(p.name);
    ASSERT_TRUE(v.ok()) << p.name;
    EXPECT_TRUE(c.Set(p.name, *v).ok()) << p.name << "=" << *v;
  }
}

// docs/configuration.md must describe exactly the parameters the server has: its table is the
// generated reference (regenerate with `build/sluiced --config-doc`).
TEST(ConfigTest, DocumentationListsEveryParameter) {
  std::ifstream in(std::string(SLUICE_SOURCE_DIR) + "/docs/configuration.md");
  ASSERT_TRUE(in) << "docs/configuration.md missing";
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  const std::string begin = "<!-- BEGIN PARAMS -->\n";
  const std::string end = "<!-- END PARAMS -->";
  const size_t b = doc.find(begin);
  const size_t e = doc.find(end);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(e, std::string::npos);
  EXPECT_EQ(doc.substr(b + begin.size(), e - b - begin.size()), ConfigReferenceMarkdown())
      << "docs/configuration.md is stale: regenerate its table with `sluiced --config-doc`";
}

}  // namespace
}  // namespace sluice
