#include "protocol/subdoc_request.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::protocol {
namespace {

// A parsed request and the bytes it was parsed from: the request's paths and values are views
// into `extras` and `body`, so both live as long as the request is read.
struct Request {
  std::string extras;
  std::string body;
  SubdocRequest parsed;
};

Frame MakeFrame(Opcode op, const std::string& extras, const std::string& value, uint64_t cas) {
  Frame f;
  f.magic = Magic::kClientRequest;
  f.opcode = static_cast<uint8_t>(op);
  f.key = "key";
  f.extras = extras;
  f.value = value;
  f.cas = cas;
  return f;
}

McbpStatus Single(Opcode op, uint8_t flags, std::string_view path, std::string_view value,
                  uint8_t doc_flags = 0, bool xattr = true, uint64_t cas = 0,
                  Request* out = nullptr) {
  Request local;
  Request& r = out ? *out : local;
  AppendSubdocSingleExtras(&r.extras,
                           {static_cast<uint16_t>(path.size()), flags, 0, std::nullopt, doc_flags});
  r.body = std::string(path) + std::string(value);
  return ParseSubdocRequest(MakeFrame(op, r.extras, r.body, cas), xattr, &r.parsed).status;
}

McbpStatus Multi(bool mutation, const std::vector<SubdocSpec>& specs, uint8_t doc_flags = 0,
                 Request* out = nullptr) {
  Request local;
  Request& r = out ? *out : local;
  AppendSubdocMultiExtras(&r.extras, {0, std::nullopt, doc_flags});
  for (const auto& s : specs) AppendSubdocSpec(&r.body, s, mutation);
  return ParseSubdocRequest(
             MakeFrame(mutation ? Opcode::kSubdocMultiMutation : Opcode::kSubdocMultiLookup,
                       r.extras, r.body, 0),
             true, &r.parsed)
      .status;
}

TEST(SubdocRequestTest, SinglePathRules) {
  Request req;
  const SubdocRequest& r = req.parsed;
  EXPECT_EQ(Single(Opcode::kSubdocDictUpsert, 0, "a.b", "1", 0, true, 0, &req),
            McbpStatus::kSuccess);
  ASSERT_EQ(r.specs.size(), 1u);
  EXPECT_EQ(r.specs[0].path, "a.b");
  EXPECT_EQ(r.specs[0].value, "1");
  EXPECT_TRUE(r.mutator);
  EXPECT_EQ(Single(Opcode::kSubdocDictUpsert, 0, "a", ""), McbpStatus::kEinval);  // no value
  EXPECT_EQ(Single(Opcode::kSubdocDelete, 0, "a", "1"), McbpStatus::kEinval);     // a value
  EXPECT_EQ(Single(Opcode::kSubdocDictUpsert, 0, "", "1"), McbpStatus::kEinval);  // no path
  EXPECT_EQ(Single(Opcode::kSubdocArrayPushLast, 0, "", "1"), McbpStatus::kSuccess);
  EXPECT_EQ(Single(Opcode::kSubdocArrayInsert, kSubdocFlagMkdirP, "[0]", "1"), McbpStatus::kEinval);
  EXPECT_EQ(Single(Opcode::kSubdocDictUpsert, 0, "a", "1", kSubdocDocFlagAdd, true, 5),
            McbpStatus::kEinval);  // Add with a CAS
  EXPECT_EQ(Single(Opcode::kSubdocDictUpsert, 0, "a", "1", kSubdocDocFlagAdd | kSubdocDocFlagMkdoc),
            McbpStatus::kEinval);
  EXPECT_EQ(Single(Opcode::kSubdocDictUpsert, 0, "a", "1",
                   kSubdocDocFlagMkdoc | kSubdocDocFlagCreateAsDeleted),
            McbpStatus::kEinval);  // CreateAsDeleted on a body path
  EXPECT_EQ(Single(Opcode::kSubdocDictUpsert, kSubdocFlagXattrPath, "x", "1",
                   kSubdocDocFlagCreateAsDeleted),
            McbpStatus::kEinval);  // CreateAsDeleted without Mkdoc/Add
  EXPECT_EQ(
      Single(Opcode::kSubdocDictUpsert, kSubdocFlagBinaryValue | kSubdocFlagXattrPath, "x", "1"),
      McbpStatus::kEinval);  // not supported
  EXPECT_EQ(Single(Opcode::kSubdocGet, 0, "a", "", kSubdocDocFlagReplicaRead),
            McbpStatus::kEinval);  // not supported
}

TEST(SubdocRequestTest, XattrRules) {
  EXPECT_EQ(Single(Opcode::kSubdocGet, kSubdocFlagXattrPath, "meta.a", ""), McbpStatus::kSuccess);
  EXPECT_EQ(Single(Opcode::kSubdocGet, kSubdocFlagXattrPath, "meta", "", 0, /*xattr=*/false),
            McbpStatus::kNotSupported);
  EXPECT_EQ(Single(Opcode::kSubdocGet, kSubdocFlagXattrPath, "#bad", ""), McbpStatus::kXattrEinval);
  EXPECT_EQ(Single(Opcode::kSubdocGet, kSubdocFlagXattrPath, "waytoolongforakey", ""),
            McbpStatus::kXattrEinval);
  EXPECT_EQ(Single(Opcode::kSubdocDictUpsert, kSubdocFlagXattrPath, "$document.x", "1"),
            McbpStatus::kSubdocXattrCantModifyVattr);
  EXPECT_EQ(Single(Opcode::kSubdocDictUpsert, kSubdocFlagExpandMacros, "a", R"("${Mutation.CAS}")"),
            McbpStatus::kSubdocXattrInvalidFlagCombo);
  EXPECT_EQ(Single(Opcode::kSubdocDictUpsert, kSubdocFlagXattrPath | kSubdocFlagExpandMacros, "m",
                   R"("${Mutation.CAS}")"),
            McbpStatus::kSuccess);
  EXPECT_EQ(Single(Opcode::kSubdocDictUpsert, kSubdocFlagXattrPath | kSubdocFlagExpandMacros, "m",
                   R"("${$document.exptime}")"),
            McbpStatus::kSuccess);
  EXPECT_EQ(Single(Opcode::kSubdocDictUpsert, kSubdocFlagXattrPath | kSubdocFlagExpandMacros, "m",
                   R"("${Mutation.foo}")"),
            McbpStatus::kSubdocXattrUnknownMacro);
}

TEST(SubdocRequestTest, MultiRules) {
  Request req;
  const SubdocRequest& r = req.parsed;
  EXPECT_EQ(Multi(true,
                  {{Opcode::kSubdocDictUpsert, kSubdocFlagXattrPath, "x", "1"},
                   {Opcode::kSubdocCounter, 0, "n", "1"},
                   {Opcode::kSet, 0, "", "{}"}},
                  kSubdocDocFlagMkdoc, &req),
            McbpStatus::kSuccess);
  EXPECT_EQ(r.specs.size(), 3u);
  EXPECT_EQ(r.doc_flags, kSubdocDocFlagMkdoc);
  EXPECT_EQ(Multi(true, {}), McbpStatus::kSubdocInvalidCombo);
  EXPECT_EQ(Multi(true, {{Opcode::kSubdocGet, 0, "a", ""}}), McbpStatus::kSubdocInvalidCombo);
  EXPECT_EQ(Multi(false, {{Opcode::kSubdocCounter, 0, "a", ""}}), McbpStatus::kSubdocInvalidCombo);
  EXPECT_EQ(Multi(true, {{Opcode::kSubdocCounter, 0, "a", "1"},
                         {Opcode::kSubdocCounter, kSubdocFlagXattrPath, "x", "1"}}),
            McbpStatus::kSubdocInvalidXattrOrder);
  EXPECT_EQ(Multi(true, {{Opcode::kDelete, 0, "", ""}, {Opcode::kSubdocCounter, 0, "a", "1"}}),
            McbpStatus::kSubdocInvalidCombo);
  EXPECT_EQ(Multi(true, {{Opcode::kSet, 0, "a", "{}"}}), McbpStatus::kEinval);  // path on wholedoc
  std::vector<SubdocSpec> many(kSubdocMaxSpecs + 1, {Opcode::kSubdocGet, 0, "a", ""});
  EXPECT_EQ(Multi(false, many), McbpStatus::kSubdocInvalidCombo);
  many.pop_back();
  EXPECT_EQ(Multi(false, many), McbpStatus::kSuccess);
  EXPECT_EQ(Multi(false, {{Opcode::kGet, 0, "", ""}}, kSubdocDocFlagAccessDeleted),
            McbpStatus::kSuccess);
  EXPECT_EQ(Multi(true, {{Opcode::kSubdocCounter, 0, "a", "1"}}, kSubdocDocFlagReviveDocument),
            McbpStatus::kEinval);
}

TEST(SubdocCodecTest, MutationResultsRoundTrip) {
  std::string body;
  AppendSubdocMutationResult(&body, 1, McbpStatus::kSuccess, "42");
  AppendSubdocMutationResult(&body, 3, McbpStatus::kSubdocPathEnoent, "ignored");
  auto results = DecodeSubdocMultiMutationResponse(body);
  ASSERT_TRUE(results.ok());
  ASSERT_EQ(results->size(), 2u);
  EXPECT_EQ((*results)[0].index, 1);
  EXPECT_EQ((*results)[0].value, "42");
  EXPECT_EQ((*results)[1].index, 3);
  EXPECT_EQ((*results)[1].status, McbpStatus::kSubdocPathEnoent);
  EXPECT_EQ(body.size(), 1 + 2 + 4 + 2 + 1 + 2u);

  std::string extras;
  AppendSubdocSingleExtras(&extras, {3, 1, 100, 7u, 4});
  EXPECT_EQ(extras.size(), 12u);
  auto e = DecodeSubdocSingleExtras(extras);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->expiry, 100u);
  EXPECT_EQ(e->user_flags, 7u);
  EXPECT_EQ(e->doc_flags, 4);
  EXPECT_FALSE(DecodeSubdocSingleExtras("12345").ok());
  EXPECT_FALSE(DecodeSubdocMultiExtras("12").ok());
}

}  // namespace
}  // namespace sluice::protocol
