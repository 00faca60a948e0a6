#include "common/status.h"

#include <gtest/gtest.h>

namespace sluice {
namespace {

StatusOr<int> Half(int v) {
  if (v % 2 != 0) return Status(Errc::kInvalid, "odd");
  return v / 2;
}

StatusOr<int> Quarter(int v) {
  ASSIGN_OR_RETURN(int h, Half(v));
  ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

Status CheckEven(int v) {
  RETURN_IF_ERROR(Half(v).status());
  return Status::Ok();
}

TEST(StatusTest, OkAndCodes) {
  EXPECT_TRUE(Status().ok());
  Status s(Errc::kNotFound, "no such key");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), Errc::kNotFound);
  EXPECT_EQ(s.ToString(), "NotFound: no such key");
  Status copy = s;
  EXPECT_EQ(copy.message(), "no such key");
  EXPECT_EQ(Status(Errc::kTempFail).ToString(), "TempFail");
}

TEST(StatusTest, StatusOrMacros) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().code(), Errc::kInvalid);
  EXPECT_TRUE(CheckEven(4).ok());
  EXPECT_EQ(CheckEven(3).code(), Errc::kInvalid);
}

}  // namespace
}  // namespace sluice
