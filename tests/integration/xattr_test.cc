// Extended attributes over TCP against the real sluiced (docs/xattrs.md): stored and read through
// subdoc XATTR paths, hidden from GET, gated by HELLO XATTR, the virtual $document / $vbucket /
// $XTOC, macros, system xattrs kept in a tombstone (in memory, on disk and across a restart),
// CreateAsDeleted and ReviveDocument, and what the other document commands do with xattrs.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/crc32c.h"
#include "protocol/datatype.h"
#include "protocol/payload.h"
#include "tests/integration/subdoc_test_util.h"
#include "xattr/blob.h"

namespace sluice::testing {
namespace {

using protocol::McbpStatus;
using protocol::Opcode;

constexpr uint8_t kJsonXattr = protocol::kDatatypeJson | protocol::kDatatypeXattr;

std::string Hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "0x%016llx", static_cast<unsigned long long>(v));
  return buf;
}

class XattrTest : public SubdocTest {
 protected:
  // A document with a body, a user xattr and a system xattr.
  void MakeDoc(const std::string& key) {
    ASSERT_TRUE(Must(conn_->Set(key, R"({"a":1})")).ok());
    auto r =
        Mutate(key, {{Opcode::kSubdocDictUpsert, kXattrPath | kMkdirP, "meta.tags", R"(["x"])"},
                     {Opcode::kSubdocDictUpsert, kXattrPath, "_sys", R"({"rev":1})"},
                     {Opcode::kSubdocDictUpsert, 0, "b", "2"},
                     {Opcode::kSubdocCounter, 0, "n", "5"}});
    ASSERT_EQ(r.status, McbpStatus::kSuccess) << r.value;
    auto results = MutationResults(r);
    ASSERT_EQ(results.size(), 1u);  // only the counter has a result
    EXPECT_EQ(results[0].index, 3);
    EXPECT_EQ(results[0].value, "5");
    EXPECT_EQ(r.extras.size(), protocol::kMutationTokenExtrasSize);
  }
};

TEST_F(XattrTest, StoredThroughSubdocAndHiddenFromGet) {
  MakeDoc("doc");
  auto r = Lookup("doc", {{Opcode::kSubdocGet, kXattrPath, "meta", {}},
                          {Opcode::kSubdocGet, kXattrPath, "_sys.rev", {}},
                          {Opcode::kSubdocGet, kXattrPath, "$XTOC", {}},
                          {Opcode::kSubdocGet, kXattrPath, "nope", {}},
                          {Opcode::kSubdocGet, 0, "b", {}},
                          {Opcode::kGet, 0, "", {}}});
  ASSERT_EQ(r.status, McbpStatus::kSubdocMultiPathFailure);
  auto res = Results(r);
  ASSERT_EQ(res.size(), 6u);
  EXPECT_EQ(res[0].value, R"({"tags":["x"]})");
  EXPECT_EQ(res[1].value, "1");
  EXPECT_EQ(res[2].value, R"(["_sys","meta"])");
  EXPECT_EQ(res[3].status, McbpStatus::kSubdocPathEnoent);
  EXPECT_EQ(res[4].value, "2");
  EXPECT_EQ(res[5].value, R"({"a":1,"b":2,"n":5})");

  // GET answers the body only, without the XATTR bit, whether or not XATTR was agreed.
  auto plain = Connect();
  ASSERT_NE(plain, nullptr);
  for (client::Connection* c : {conn_.get(), plain.get()}) {
    auto got = Must(c->Get("doc"));
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got.value, R"({"a":1,"b":2,"n":5})");
    EXPECT_EQ(got.datatype, protocol::kDatatypeJson);
    auto gat = Must(c->GetAndTouch("doc", 0));
    EXPECT_EQ(gat.value, R"({"a":1,"b":2,"n":5})");
  }
  // GET_META v2 shows the XATTR bit to a connection that agreed it.
  const std::string v2(1, '\x02');
  auto meta =
      Run(*conn_, {.opcode = Opcode::kGetMeta, .vbucket = VbOf("doc"), .extras = v2, .key = "doc"});
  ASSERT_EQ(meta.extras.size(), 21u);
  EXPECT_EQ(static_cast<uint8_t>(meta.extras[20]), kJsonXattr);
  meta =
      Run(*plain, {.opcode = Opcode::kGetMeta, .vbucket = VbOf("doc"), .extras = v2, .key = "doc"});
  EXPECT_EQ(static_cast<uint8_t>(meta.extras[20]), protocol::kDatatypeJson);
}

TEST_F(XattrTest, HelloXattrGatesTheDatatypeAndXattrPaths) {
  const std::string section = xattr::Encode({{"_s", R"({"v":1})"}, {"u", "true"}});
  const std::string value = section + R"({"body":true})";
  const std::string extras = MutationExtras();
  // Agreed: a SET with the XATTR datatype stores xattrs and body.
  auto set = Run(*conn_, {.opcode = Opcode::kSet,
                          .datatype = protocol::kDatatypeXattr,
                          .vbucket = VbOf("raw"),
                          .extras = extras,
                          .key = "raw",
                          .value = value});
  ASSERT_EQ(set.status, McbpStatus::kSuccess);
  EXPECT_EQ(Must(conn_->Get("raw")).value, R"({"body":true})");
  EXPECT_EQ(LookupOne("raw", {Opcode::kSubdocGet, kXattrPath, "_s.v", {}}), "1");
  EXPECT_EQ(LookupOne("raw", {Opcode::kSubdocGet, kXattrPath, "u", {}}), "true");
  // A malformed section: XATTR_EINVAL.
  const std::string bad = section.substr(0, section.size() - 1) + "x";
  auto refused = Run(*conn_, {.opcode = Opcode::kSet,
                              .datatype = protocol::kDatatypeXattr,
                              .vbucket = VbOf("bad"),
                              .extras = extras,
                              .key = "bad",
                              .value = bad});
  EXPECT_EQ(refused.status, McbpStatus::kXattrEinval);

  // Not agreed: the datatype is EINVAL and xattr paths are NOT_SUPPORTED.
  auto plain = Connect();
  ASSERT_NE(plain, nullptr);
  ASSERT_FALSE(plain->HasFeature(protocol::Feature::kXattr));
  auto no = Run(*plain, {.opcode = Opcode::kSet,
                         .datatype = protocol::kDatatypeXattr,
                         .vbucket = VbOf("raw2"),
                         .extras = extras,
                         .key = "raw2",
                         .value = value});
  EXPECT_EQ(no.status, McbpStatus::kEinval);
  auto lookup = Send(
      *plain, {Opcode::kSubdocMultiLookup, "raw", {{Opcode::kSubdocGet, kXattrPath, "u", {}}}});
  EXPECT_EQ(lookup.status, McbpStatus::kNotSupported);
  // Bad keys and vattr writes.
  EXPECT_EQ(Mutate("raw", {{Opcode::kSubdocDictUpsert, kXattrPath, "#x", "1"}}).status,
            McbpStatus::kXattrEinval);
  EXPECT_EQ(Mutate("raw", {{Opcode::kSubdocDictUpsert, kXattrPath, "$document.x", "1"}}).status,
            McbpStatus::kSubdocXattrCantModifyVattr);
  EXPECT_EQ(Mutate("raw", {{Opcode::kSubdocCounter, 0, "n", "1"},
                           {Opcode::kSubdocCounter, kXattrPath, "x", "1"}})
                .status,
            McbpStatus::kSubdocInvalidXattrOrder);
}

TEST_F(XattrTest, VirtualAttributes) {
  ASSERT_TRUE(
      Must(conn_->Set("v", R"({"hello":"world"})", {.flags = 0xcafe, .expiry = 3600})).ok());
  auto set = Must(conn_->Set("v", R"({"hello":"world"})", {.flags = 0xcafe, .expiry = 3600}));
  ASSERT_TRUE(set.token.has_value());
  const auto doc =
      nlohmann::json::parse(LookupOne("v", {Opcode::kSubdocGet, kXattrPath, "$document", {}}));
  EXPECT_EQ(doc["CAS"], Hex(set.cas));
  EXPECT_EQ(doc["seqno"], Hex(set.token->seqno));
  EXPECT_EQ(doc["vbucket_uuid"], Hex(set.token->vbucket_uuid));
  EXPECT_EQ(doc["flags"], 0xcafe);
  EXPECT_GT(doc["exptime"].get<uint64_t>(), UnixNow());
  EXPECT_EQ(doc["value_bytes"], std::string(R"({"hello":"world"})").size());
  EXPECT_EQ(doc["datatype"], nlohmann::json::array({"json"}));
  EXPECT_EQ(doc["deleted"], false);
  EXPECT_EQ(doc["revid"], "2");
  EXPECT_EQ(doc["last_modified"], std::to_string(set.cas / 1000000000));
  char crc[16];
  std::snprintf(crc, sizeof(crc), "0x%08x", Crc32c(R"({"hello":"world"})"));
  EXPECT_EQ(doc["value_crc32c"], crc);
  EXPECT_EQ(LookupOne("v", {Opcode::kSubdocGet, kXattrPath, "$document.exptime", {}}),
            doc["exptime"].dump());

  const auto vb =
      nlohmann::json::parse(LookupOne("v", {Opcode::kSubdocGet, kXattrPath, "$vbucket", {}}));
  EXPECT_GE(std::stoull(vb["HLC"]["now"].get<std::string>()), UnixNow() - 5);
  EXPECT_TRUE(vb["HLC"]["mode"] == "real" || vb["HLC"]["mode"] == "logical");
  auto unknown = Lookup("v", {{Opcode::kSubdocGet, kXattrPath, "$nothing", {}}});
  EXPECT_EQ(Results(unknown).at(0).status, McbpStatus::kSubdocXattrUnknownVattr);
  // Single-path lookups answer directly.
  auto single =
      Send({Opcode::kSubdocGet, "v", {{Opcode::kSubdocGet, kXattrPath, "$document.flags", {}}}});
  ASSERT_EQ(single.status, McbpStatus::kSuccess);
  EXPECT_EQ(single.value, std::to_string(0xcafe));
  EXPECT_EQ(single.datatype, protocol::kDatatypeJson);
}

TEST_F(XattrTest, MacrosAreExpandedWithTheNewVersion) {
  auto before = Must(conn_->Set("m", R"({"x":1})"));
  auto r = Mutate("m", {{Opcode::kSubdocDictUpsert, kXattrPath | kMkdirP | kMacros, "t.cas",
                         R"("${Mutation.CAS}")"},
                        {Opcode::kSubdocDictUpsert, kXattrPath | kMkdirP | kMacros, "t.seqno",
                         R"("${Mutation.seqno}")"},
                        {Opcode::kSubdocDictUpsert, kXattrPath | kMkdirP | kMacros, "t.crc",
                         R"("${Mutation.value_crc32c}")"},
                        {Opcode::kSubdocDictUpsert, kXattrPath | kMkdirP | kMacros, "t.old",
                         R"("${$document.CAS}")"},
                        {Opcode::kSubdocDictUpsert, kXattrPath | kMkdirP | kMacros, "t.exp",
                         R"("${$document.exptime}")"}});
  ASSERT_EQ(r.status, McbpStatus::kSuccess);
  auto token = protocol::DecodeMutationTokenExtras(r.extras, VbOf("m"));
  ASSERT_TRUE(token.ok());
  const auto t = nlohmann::json::parse(LookupOne("m", {Opcode::kSubdocGet, kXattrPath, "t", {}}));
  EXPECT_EQ(t["cas"], Hex(__builtin_bswap64(r.cas)));  // kv_engine's byte order
  EXPECT_EQ(t["seqno"], Hex(token->seqno));
  char crc[16];
  std::snprintf(crc, sizeof(crc), "0x%08x", Crc32c(R"({"x":1})"));
  EXPECT_EQ(t["crc"], crc);
  EXPECT_EQ(t["old"], Hex(before.cas));
  EXPECT_EQ(t["exp"], 0);
  EXPECT_EQ(
      Mutate("m", {{Opcode::kSubdocDictUpsert, kXattrPath | kMacros, "t", R"("${Mutation.nope}")"}})
          .status,
      McbpStatus::kSubdocXattrUnknownMacro);
  EXPECT_EQ(Mutate("m", {{Opcode::kSubdocDictUpsert, kXattrPath | kMacros, "t",
                          R"("${$document.nope}")"}})
                .status,
            McbpStatus::kSubdocMultiPathFailure);
}

TEST_F(XattrTest, DeleteKeepsSystemXattrsInTheTombstone) {
  MakeDoc("gone");
  ASSERT_TRUE(Must(conn_->Delete("gone")).ok());
  EXPECT_EQ(Must(conn_->Get("gone")).status, McbpStatus::kKeyEnoent);
  EXPECT_EQ(Lookup("gone", {{Opcode::kSubdocGet, kXattrPath, "_sys", {}}}).status,
            McbpStatus::kKeyEnoent);
  auto check = [&](const char* when) {
    auto r = Lookup("gone",
                    {{Opcode::kSubdocGet, kXattrPath, "_sys", {}},
                     {Opcode::kSubdocGet, kXattrPath, "meta", {}},
                     {Opcode::kSubdocGet, kXattrPath, "$document.deleted", {}}},
                    protocol::kSubdocDocFlagAccessDeleted);
    EXPECT_EQ(r.status, McbpStatus::kSubdocMultiPathFailureDeleted) << when;
    auto res = Results(r);
    ASSERT_EQ(res.size(), 3u) << when;
    EXPECT_EQ(res[0].value, R"({"rev":1})") << when;
    EXPECT_EQ(res[1].status, McbpStatus::kSubdocPathEnoent) << when;  // user xattrs went
    EXPECT_EQ(res[2].value, "true") << when;
  };
  check("in memory");
  ASSERT_TRUE(WaitUntilPersisted());  // the tombstone leaves memory once persisted
  check("from disk");
  RestartClean();
  conn_.reset();
  ClientSetup setup;
  setup.features.push_back(protocol::Feature::kXattr);
  conn_ = Connect(setup);
  ASSERT_NE(conn_, nullptr);
  check("after a restart");
  // A key that never existed stays KEY_ENOENT with AccessDeleted (also after the disk lookup).
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(Lookup("never", {{Opcode::kSubdocGet, kXattrPath, "_sys", {}}},
                     protocol::kSubdocDocFlagAccessDeleted)
                  .status,
              McbpStatus::kKeyEnoent);
  }
  // A document without system xattrs leaves an empty tombstone.
  ASSERT_TRUE(Must(conn_->Set("plain", "{}")).ok());
  ASSERT_TRUE(Mutate("plain", {{Opcode::kSubdocDictUpsert, kXattrPath, "u", "1"}}).ok());
  ASSERT_TRUE(Must(conn_->Delete("plain")).ok());
  auto r = Lookup("plain", {{Opcode::kSubdocGet, kXattrPath, "$XTOC", {}}},
                  protocol::kSubdocDocFlagAccessDeleted);
  EXPECT_EQ(r.status, McbpStatus::kSubdocSuccessDeleted);
  EXPECT_EQ(Results(r).at(0).value, "[]");
}

TEST_F(XattrTest, CreateAsDeletedAndRevive) {
  const uint8_t create = protocol::kSubdocDocFlagMkdoc | protocol::kSubdocDocFlagAccessDeleted |
                         protocol::kSubdocDocFlagCreateAsDeleted;
  auto r = Send({Opcode::kSubdocDictUpsert,
                 "txn",
                 {{Opcode::kSubdocDictUpsert, kXattrPath, "_txn.id", "7"}},
                 create});
  ASSERT_EQ(r.status, McbpStatus::kSubdocSuccessDeleted);
  EXPECT_EQ(Must(conn_->Get("txn")).status, McbpStatus::kKeyEnoent);
  EXPECT_EQ(LookupOne("txn", {Opcode::kSubdocGet, kXattrPath, "_txn.id", {}},
                      protocol::kSubdocDocFlagAccessDeleted),
            "7");
  // Stage a body in a system xattr; a deleted document cannot take it without reviving.
  r = Mutate("txn", {{Opcode::kSubdocDictUpsert, kXattrPath, "_txn.doc", R"({"live":true})"}},
             protocol::kSubdocDocFlagAccessDeleted);
  ASSERT_EQ(r.status, McbpStatus::kSubdocSuccessDeleted);
  EXPECT_EQ(Mutate("txn", {{Opcode::kSubdocReplaceBodyWithXattr, kXattrPath, "_txn.doc", {}}},
                   protocol::kSubdocDocFlagAccessDeleted)
                .status,
            McbpStatus::kSubdocDeletedDocumentCantHaveValue);
  // Add with CreateAsDeleted refuses an existing tombstone.
  EXPECT_EQ(Send({Opcode::kSubdocDictUpsert,
                  "txn",
                  {{Opcode::kSubdocDictUpsert, kXattrPath, "_txn.id", "8"}},
                  protocol::kSubdocDocFlagAdd | protocol::kSubdocDocFlagCreateAsDeleted})
                .status,
            McbpStatus::kKeyEexists);
  // Revive: the tombstone becomes a live document with the staged body.
  const uint8_t revive =
      protocol::kSubdocDocFlagAccessDeleted | protocol::kSubdocDocFlagReviveDocument;
  r = Mutate("txn",
             {{Opcode::kSubdocDictUpsert, kXattrPath, "_txn.state", R"("done")"},
              {Opcode::kSubdocReplaceBodyWithXattr, kXattrPath, "_txn.doc", {}}},
             revive);
  ASSERT_EQ(r.status, McbpStatus::kSuccess);
  auto live = Must(conn_->Get("txn"));
  EXPECT_EQ(live.value, R"({"live":true})");
  EXPECT_EQ(live.datatype, protocol::kDatatypeJson);
  EXPECT_EQ(LookupOne("txn", {Opcode::kSubdocGet, kXattrPath, "_txn.state", {}}), R"("done")");
  EXPECT_EQ(Mutate("txn", {{Opcode::kSubdocDictUpsert, kXattrPath, "_txn.x", "1"}}, revive).status,
            McbpStatus::kSubdocCanOnlyReviveDeletedDocuments);
  // A whole-document delete through subdoc keeps the system xattrs too.
  r = Mutate("txn", {{Opcode::kDelete, 0, "", {}}});
  ASSERT_EQ(r.status, McbpStatus::kSuccess);
  EXPECT_EQ(Must(conn_->Get("txn")).status, McbpStatus::kKeyEnoent);
  EXPECT_EQ(LookupOne("txn", {Opcode::kSubdocGet, kXattrPath, "_txn.state", {}},
                      protocol::kSubdocDocFlagAccessDeleted),
            R"("done")");
}

TEST_F(XattrTest, OtherCommandsAndXattrs) {
  MakeDoc("k");
  // APPEND / PREPEND change the body and keep the xattrs.
  ASSERT_TRUE(Must(conn_->Set("s", "mid")).ok());
  ASSERT_TRUE(Mutate("s", {{Opcode::kSubdocDictUpsert, kXattrPath, "u", "1"}}).ok());
  ASSERT_TRUE(Must(conn_->Append("s", "-end")).ok());
  ASSERT_TRUE(Must(conn_->Prepend("s", "start-")).ok());
  EXPECT_EQ(Must(conn_->Get("s")).value, "start-mid-end");
  EXPECT_EQ(LookupOne("s", {Opcode::kSubdocGet, kXattrPath, "u", {}}), "1");
  // INCR keeps them.
  ASSERT_TRUE(Must(conn_->Set("c", "10")).ok());
  ASSERT_TRUE(Mutate("c", {{Opcode::kSubdocDictUpsert, kXattrPath, "u", "2"}}).ok());
  EXPECT_EQ(Must(conn_->Increment("c", 5)).counter, 15u);
  EXPECT_EQ(Must(conn_->Get("c")).value, "15");
  EXPECT_EQ(LookupOne("c", {Opcode::kSubdocGet, kXattrPath, "u", {}}), "2");
  // A plain SET replaces the whole value: the xattrs go (kv_engine).
  ASSERT_TRUE(Must(conn_->Set("k", R"({"new":1})")).ok());
  EXPECT_EQ(LookupOne("k", {Opcode::kSubdocGet, kXattrPath, "$XTOC", {}}), "[]");
  // Removing the last xattr leaves a plain document.
  ASSERT_TRUE(Mutate("c", {{Opcode::kSubdocDelete, kXattrPath, "u", {}}}).ok());
  EXPECT_EQ(LookupOne("c", {Opcode::kSubdocGet, kXattrPath, "$document.datatype", {}}),
            R"(["json"])");
}

}  // namespace
}  // namespace sluice::testing
