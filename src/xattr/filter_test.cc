#include "xattr/filter.h"

#include <gtest/gtest.h>

#include "xattr/blob.h"

namespace sluice::xattr {
namespace {

constexpr uint8_t kJson = 0x01;

TEST(XattrFilterTest, Mutations) {
  const std::string section = Encode({{"_s", "1"}, {"u", "2"}});
  const std::string value = section + R"({"a":1})";
  const uint8_t dt = kJson | kDatatypeXattr;

  StreamValue v = ForStream(value, dt, false, {.include_xattrs = true});
  EXPECT_EQ(v.value(), value);
  EXPECT_EQ(v.datatype, dt);

  v = ForStream(value, dt, false, {});
  EXPECT_EQ(v.value(), R"({"a":1})");
  EXPECT_EQ(v.datatype, kJson);

  v = ForStream(value, dt, false, {.include_body = false, .include_xattrs = true});
  EXPECT_EQ(v.value(), section);
  EXPECT_EQ(v.datatype, kDatatypeXattr);

  v = ForStream(value, dt, false, {.include_body = false});
  EXPECT_EQ(v.value(), "");
  EXPECT_EQ(v.datatype, 0);

  v = ForStream(value, dt, false, {.include_body = false, .underlying_datatype = true});
  EXPECT_EQ(v.value(), "");
  EXPECT_EQ(v.datatype, dt);

  v = ForStream(R"({"a":1})", kJson, false, {});
  EXPECT_EQ(v.value(), R"({"a":1})");
  EXPECT_EQ(v.datatype, kJson);
}

TEST(XattrFilterTest, Deletions) {
  const std::string both = Encode({{"_s", "1"}, {"u", "2"}});
  StreamValue v = ForStream(both, kDatatypeXattr, true, {.include_xattrs = true});
  EXPECT_EQ(v.value(), Encode({{"_s", "1"}}));
  EXPECT_EQ(v.datatype, kDatatypeXattr);

  v = ForStream(both, kDatatypeXattr, true,
                {.include_xattrs = true, .include_deleted_user_xattrs = true});
  EXPECT_EQ(v.value(), both);
  EXPECT_EQ(v.datatype, kDatatypeXattr);

  v = ForStream(both, kDatatypeXattr, true, {});
  EXPECT_EQ(v.value(), "");
  EXPECT_EQ(v.datatype, 0);

  const std::string user_only = Encode({{"u", "2"}});
  v = ForStream(user_only, kDatatypeXattr, true, {.include_xattrs = true});
  EXPECT_EQ(v.value(), "");
  EXPECT_EQ(v.datatype, 0);

  v = ForStream("", 0, true, {.include_xattrs = true});
  EXPECT_EQ(v.value(), "");
  EXPECT_EQ(v.datatype, 0);
}

}  // namespace
}  // namespace sluice::xattr
