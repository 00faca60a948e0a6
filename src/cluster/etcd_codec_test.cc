// The gateway's encoding rules, without an etcd.
#include "cluster/etcd_codec.h"

#include <gtest/gtest.h>

#include "cluster/etcd_messages.h"

namespace sluice::cluster::codec {
namespace {

TEST(EtcdCodecTest, Base64KnownVectorsAndEveryByte) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("foob"), "Zm9vYg==");
  std::string all;
  for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
  for (size_t len = 0; len <= all.size(); len += 37) {
    auto decoded = Base64Decode(Base64Encode(all.substr(0, len)));
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(*decoded, all.substr(0, len));
  }
}

TEST(EtcdCodecTest, Base64DecodingIsStrict) {
  for (const char* bad : {"Zg", "Zh==", "Z===", "Zm9v\n", "Zm=v", "Zg==Zg==", "Zm9*"}) {
    EXPECT_EQ(Base64Decode(bad).status().code(), Errc::kInvalid) << bad;
  }
}

TEST(EtcdCodecTest, PrefixEnd) {
  EXPECT_EQ(PrefixEnd("a"), "b");
  EXPECT_EQ(PrefixEnd("/sluice/c/"), "/sluice/c0");
  EXPECT_EQ(PrefixEnd("a\xff"), "b");
  EXPECT_EQ(PrefixEnd("\xff\xff"), std::string(1, '\0'));
  EXPECT_EQ(PrefixEnd(""), std::string(1, '\0'));
}

TEST(EtcdCodecTest, Int64FieldsAreStringsAndOmittedMeansZero) {
  const Json object = {{"a", "42"}, {"b", 7}, {"c", "x"}, {"d", "-1"}};
  EXPECT_EQ(*Int64Field(object, "a"), 42);
  EXPECT_EQ(*Int64Field(object, "b"), 7);
  EXPECT_EQ(*Int64Field(object, "d"), -1);
  EXPECT_EQ(*Int64Field(object, "missing"), 0);
  EXPECT_EQ(Int64Field(object, "c").status().code(), Errc::kIoError);
}

TEST(EtcdCodecTest, ErrorsInBothFormsMapOnce) {
  const Json unary = {{"error", "etcdserver: requested lease not found"}, {"code", 5}};
  EXPECT_EQ(ErrorInBody(unary).code(), Errc::kNotFound);
  EXPECT_NE(ErrorInBody(unary).message().find("lease not found"), std::string_view::npos);
  const Json stream = {{"error", {{"grpc_code", 11}, {"message", "compacted"}}}};
  EXPECT_EQ(ErrorInBody(stream).code(), Errc::kRange);
  EXPECT_TRUE(ErrorInBody(Json{{"header", Json::object()}}).ok());
  EXPECT_EQ(ErrcFromGrpcCode(14), Errc::kTempFail);
  EXPECT_EQ(ErrcFromGrpcCode(99), Errc::kInternal);
  EXPECT_EQ(ParseBody("<html>").status().code(), Errc::kIoError);
}

TEST(EtcdCodecTest, OmittedFieldsDecodeAsZero) {
  // A PUT event has no "type"; a DELETE event's kv has no value.
  auto put =
      DecodeWatchEvent(Json::parse(R"({"kv":{"key":"YQ==","value":"MQ==","mod_revision":"5"}})"));
  ASSERT_TRUE(put.ok());
  EXPECT_EQ(put->type, WatchEvent::Type::kPut);
  EXPECT_EQ(put->kv.key, "a");
  EXPECT_EQ(put->kv.value, "1");
  EXPECT_EQ(put->kv.lease, 0);
  auto del =
      DecodeWatchEvent(Json::parse(R"({"type":"DELETE","kv":{"key":"YQ==","mod_revision":"6"}})"));
  ASSERT_TRUE(del.ok());
  EXPECT_EQ(del->type, WatchEvent::Type::kDelete);
  EXPECT_EQ(del->kv.mod_revision, 6);
  // A failed txn has no "succeeded"; an empty range has no "kvs".
  auto txn = DecodeTxn(
      Json::parse(R"({"header":{"revision":"9"},"responses":[{"response_range":{"header":{}}}]})"));
  ASSERT_TRUE(txn.ok());
  EXPECT_FALSE(txn->succeeded);
  EXPECT_EQ(txn->revision, 9);
  ASSERT_EQ(txn->responses.size(), 1u);
  const auto& range = std::get<RangeResult>(txn->responses[0]);
  EXPECT_TRUE(range.kvs.empty());
  EXPECT_EQ(range.revision, 9);
}

TEST(EtcdCodecTest, TxnEncoding) {
  const Json txn = EncodeTxn({
      .compare = {Compare::ModRevision("k", CompareOp::kEqual, 3),
                  Compare::Value("k", CompareOp::kNotEqual, "v")},
      .success = {TxnOp::Put("k", "w", 7)},
      .failure = {TxnOp::Get("p/", true)},
  });
  EXPECT_EQ(txn["compare"][0]["target"], "MOD");
  EXPECT_EQ(txn["compare"][0]["mod_revision"], "3");
  EXPECT_EQ(txn["compare"][1]["result"], "NOT_EQUAL");
  EXPECT_EQ(txn["compare"][1]["value"], Base64Encode("v"));
  EXPECT_EQ(txn["success"][0]["request_put"]["lease"], "7");
  EXPECT_EQ(txn["failure"][0]["request_range"]["range_end"], Base64Encode("p0"));
}

}  // namespace
}  // namespace sluice::cluster::codec
