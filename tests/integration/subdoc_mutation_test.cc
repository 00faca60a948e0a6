// Subdoc mutations over TCP against the real sluiced (kv_engine docs/SubDocument.md): single-path
// and multi-path commands, doc flags, CAS, expiry and user flags, durability, the multi-mutation
// answer format, and kv_engine's status for each failure.
#include <gtest/gtest.h>

#include "protocol/datatype.h"
#include "protocol/frame_info.h"
#include "protocol/payload.h"
#include "tests/integration/subdoc_test_util.h"

namespace sluice::testing {
namespace {

using protocol::McbpStatus;
using protocol::Opcode;

class SubdocMutationTest : public SubdocTest {
 protected:
  client::Response Single(Opcode op, const std::string& key, const std::string& path,
                          const std::string& value = {}, uint8_t flags = 0, uint8_t doc_flags = 0,
                          uint64_t cas = 0) {
    return Send({op, key, {{op, flags, path, value}}, doc_flags, cas});
  }
  std::string Body(const std::string& key) { return Must(conn_->Get(key)).value; }
};

TEST_F(SubdocMutationTest, SinglePathOperations) {
  ASSERT_TRUE(Must(conn_->Set("d", R"({"a":1,"arr":[1,2]})")).ok());
  auto r = Single(Opcode::kSubdocDictAdd, "d", "b", R"("x")");
  ASSERT_EQ(r.status, McbpStatus::kSuccess);
  EXPECT_EQ(r.extras.size(), protocol::kMutationTokenExtrasSize);
  EXPECT_NE(r.cas, 0u);
  EXPECT_EQ(Single(Opcode::kSubdocDictAdd, "d", "b", "1").status, McbpStatus::kSubdocPathEexists);
  ASSERT_TRUE(Single(Opcode::kSubdocDictUpsert, "d", "c.d", "true", kMkdirP).ok());
  EXPECT_EQ(Single(Opcode::kSubdocDictUpsert, "d", "e.f", "true").status,
            McbpStatus::kSubdocPathEnoent);
  ASSERT_TRUE(Single(Opcode::kSubdocReplace, "d", "a", "10").ok());
  ASSERT_TRUE(Single(Opcode::kSubdocArrayPushLast, "d", "arr", "3").ok());
  ASSERT_TRUE(Single(Opcode::kSubdocArrayPushFirst, "d", "arr", "0").ok());
  ASSERT_TRUE(Single(Opcode::kSubdocArrayInsert, "d", "arr[2]", "1.5").ok());
  ASSERT_TRUE(Single(Opcode::kSubdocArrayAddUnique, "d", "arr", "9").ok());
  EXPECT_EQ(Single(Opcode::kSubdocArrayAddUnique, "d", "arr", "9").status,
            McbpStatus::kSubdocPathEexists);
  ASSERT_TRUE(Single(Opcode::kSubdocDelete, "d", "b").ok());
  auto counter = Single(Opcode::kSubdocCounter, "d", "n", "-3");
  ASSERT_EQ(counter.status, McbpStatus::kSuccess);
  EXPECT_EQ(counter.value, "-3");
  EXPECT_EQ(counter.datatype, protocol::kDatatypeJson);
  EXPECT_EQ(Body("d"), R"({"a":10,"arr":[0,1,1.5,2,3,9],"c":{"d":true},"n":-3})");
  // Errors of the document and of the value.
  EXPECT_EQ(Single(Opcode::kSubdocCounter, "d", "a", "x").status, McbpStatus::kSubdocDeltaEinval);
  EXPECT_EQ(Single(Opcode::kSubdocCounter, "d", "arr", "1").status,
            McbpStatus::kSubdocPathMismatch);
  EXPECT_EQ(Single(Opcode::kSubdocDictUpsert, "d", "a", "not json").status,
            McbpStatus::kSubdocValueCantinsert);
  EXPECT_EQ(Single(Opcode::kSubdocDictUpsert, "missing", "a", "1").status, McbpStatus::kKeyEnoent);
  ASSERT_TRUE(Must(conn_->Set("bin", "binary")).ok());
  EXPECT_EQ(Single(Opcode::kSubdocDictUpsert, "bin", "a", "1").status,
            McbpStatus::kSubdocDocNotJson);
  EXPECT_EQ(Single(Opcode::kSubdocDictUpsert, "d", "a..b", "1").status,
            McbpStatus::kSubdocPathEinval);
  // Validation happens before the document is looked at.
  EXPECT_EQ(Single(Opcode::kSubdocDictUpsert, "d", "", "1").status, McbpStatus::kEinval);
  EXPECT_EQ(Single(Opcode::kSubdocDictUpsert, "d", "a", "1", kMacros).status,
            McbpStatus::kSubdocXattrInvalidFlagCombo);
}

TEST_F(SubdocMutationTest, DocFlagsCasExpiryAndUserFlags) {
  // Mkdoc creates (the root from the path), Add only if absent.
  ASSERT_TRUE(
      Single(Opcode::kSubdocDictUpsert, "new", "a.b", "1", 0, protocol::kSubdocDocFlagMkdoc).ok());
  EXPECT_EQ(Body("new"), R"({"a":{"b":1}})");
  ASSERT_TRUE(
      Single(Opcode::kSubdocArrayPushLast, "list", "", "1", 0, protocol::kSubdocDocFlagMkdoc).ok());
  EXPECT_EQ(Body("list"), "[1]");
  EXPECT_EQ(
      Single(Opcode::kSubdocDictUpsert, "new", "x", "1", 0, protocol::kSubdocDocFlagAdd).status,
      McbpStatus::kKeyEexists);
  EXPECT_EQ(Single(Opcode::kSubdocDictUpsert, "add", "x", "1", 0, protocol::kSubdocDocFlagAdd,
                   /*cas=*/5)
                .status,
            McbpStatus::kEinval);
  // CAS: a stale one is KEY_EEXISTS, the current one succeeds.
  const uint64_t cas = Must(conn_->Get("new")).cas;
  ASSERT_TRUE(Single(Opcode::kSubdocDictUpsert, "new", "y", "2", 0, 0, cas).ok());
  EXPECT_EQ(Single(Opcode::kSubdocDictUpsert, "new", "z", "3", 0, 0, cas).status,
            McbpStatus::kKeyEexists);
  // Expiry and user flags from the extras; without an expiry the document has none.
  auto r = Send({Opcode::kSubdocMultiMutation,
                 "new",
                 {{Opcode::kSubdocDictUpsert, 0, "e", "1"}},
                 0,
                 0,
                 3600,
                 0xbeef});
  ASSERT_EQ(r.status, McbpStatus::kSuccess);
  auto got = Must(conn_->Get("new"));
  EXPECT_EQ(got.flags, 0xbeefu);
  const std::string v2(1, '\x02');
  auto meta =
      Run(*conn_, {.opcode = Opcode::kGetMeta, .vbucket = VbOf("new"), .extras = v2, .key = "new"});
  EXPECT_GT(protocol::LoadBe32(meta.extras.data() + 8), UnixNow());
  ASSERT_TRUE(Single(Opcode::kSubdocDictUpsert, "new", "e", "2").ok());
  meta =
      Run(*conn_, {.opcode = Opcode::kGetMeta, .vbucket = VbOf("new"), .extras = v2, .key = "new"});
  EXPECT_EQ(protocol::LoadBe32(meta.extras.data() + 8), 0u);
  EXPECT_EQ(Must(conn_->Get("new")).flags, 0xbeefu);  // kept when not given
}

TEST_F(SubdocMutationTest, MultiMutationAnswers) {
  ASSERT_TRUE(Must(conn_->Set("m", R"({"n":1,"list":[]})")).ok());
  auto r = Mutate("m", {{Opcode::kSubdocCounter, 0, "n", "1"},
                        {Opcode::kSubdocArrayPushLast, 0, "list", R"("x")"},
                        {Opcode::kSubdocCounter, 0, "k", "7"}});
  ASSERT_EQ(r.status, McbpStatus::kSuccess);
  auto results = MutationResults(r);
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].index, 0);
  EXPECT_EQ(results[0].value, "2");
  EXPECT_EQ(results[1].index, 2);
  EXPECT_EQ(results[1].value, "7");
  // A failure: the first failed spec's index and status; nothing is applied.
  r = Mutate("m", {{Opcode::kSubdocCounter, 0, "n", "1"},
                   {Opcode::kSubdocReplace, 0, "missing", "1"},
                   {Opcode::kSubdocDictAdd, 0, "n", "1"}});
  ASSERT_EQ(r.status, McbpStatus::kSubdocMultiPathFailure);
  ASSERT_EQ(r.value.size(), 3u);
  results = MutationResults(r);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].index, 1);
  EXPECT_EQ(results[0].status, McbpStatus::kSubdocPathEnoent);
  EXPECT_EQ(Body("m"), R"({"n":2,"list":["x"],"k":7})");
  // Whole-document SET and DELETE specs.
  ASSERT_TRUE(Mutate("m", {{Opcode::kSet, 0, "", R"({"replaced":true})"}}).ok());
  EXPECT_EQ(Body("m"), R"({"replaced":true})");
  ASSERT_TRUE(Mutate("m", {{Opcode::kDelete, 0, "", {}}}).ok());
  EXPECT_EQ(Must(conn_->Get("m")).status, McbpStatus::kKeyEnoent);
  // Combinations refused up front.
  EXPECT_EQ(Mutate("m", {}).status, McbpStatus::kSubdocInvalidCombo);
  EXPECT_EQ(Mutate("m", {{Opcode::kSubdocGet, 0, "a", {}}}).status,
            McbpStatus::kSubdocInvalidCombo);
  EXPECT_EQ(Lookup("m", {{Opcode::kSubdocCounter, 0, "a", {}}}).status,
            McbpStatus::kSubdocInvalidCombo);
}

TEST_F(SubdocMutationTest, DurableSubdocWrite) {
  ASSERT_TRUE(Must(conn_->Set("dur", R"({"n":0})")).ok());
  std::string frame_infos;
  protocol::AppendDurabilityFrameInfo(
      &frame_infos, {protocol::DurabilityLevel::kPersistToMajority, std::nullopt});
  std::string extras;
  protocol::AppendSubdocSingleExtras(&extras, {1, 0, 0, std::nullopt, 0});
  auto r = Run(*conn_, {.opcode = Opcode::kSubdocCounter,
                        .vbucket = VbOf("dur"),
                        .framing_extras = frame_infos,
                        .extras = extras,
                        .key = "dur",
                        .value = "n5"});
  ASSERT_EQ(r.status, McbpStatus::kSuccess);
  EXPECT_EQ(r.value, "5");
  auto token = protocol::DecodeMutationTokenExtras(r.extras, VbOf("dur"));
  ASSERT_TRUE(token.ok());
  auto stats = Stats("vbucket-seqno");
  const std::string key = "vb_" + std::to_string(VbOf("dur")) + ":last_persisted_seqno";
  ASSERT_TRUE(StatU64(stats, key).has_value());
  EXPECT_GE(*StatU64(stats, key), token->seqno);
}

}  // namespace
}  // namespace sluice::testing
