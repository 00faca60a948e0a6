#include "server/subdoc_context.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/crc32c.h"
#include "engine/blob.h"
#include "protocol/datatype.h"
#include "xattr/blob.h"

namespace sluice::server {
namespace {

using protocol::McbpStatus;
using protocol::Opcode;
using protocol::SubdocRequest;
using protocol::SubdocSpec;

constexpr uint8_t kXattr = protocol::kSubdocFlagXattrPath;

SubdocRequest Multi(bool mutator, std::vector<SubdocSpec> specs, uint8_t doc_flags = 0) {
  SubdocRequest r;
  r.multi = true;
  r.mutator = mutator;
  r.doc_flags = doc_flags;
  r.specs = std::move(specs);
  return r;
}

SubdocInput Doc(std::string section, std::string body, uint64_t cas = 0x1234) {
  SubdocInput in;
  in.value = section + body;
  in.datatype = protocol::kDatatypeJson | (section.empty() ? 0 : protocol::kDatatypeXattr);
  in.meta.cas = cas;
  in.meta.seqno = 7;
  in.meta.rev_seqno = 3;
  in.meta.datatype = in.datatype;
  in.meta.flags = 42;
  return in;
}

TEST(SubdocExecutionTest, XattrLookupsAndVirtualAttributes) {
  const std::string section = xattr::Encode({{"_sync", R"({"rev":"1-a"})"}, {"meta", "[1, 2]"}});
  SubdocRequest r = Multi(false, {{Opcode::kSubdocGet, kXattr, "_sync.rev", {}},
                                  {Opcode::kSubdocGet, kXattr, "meta", {}},
                                  {Opcode::kSubdocGet, kXattr, "missing", {}},
                                  {Opcode::kSubdocGet, kXattr, "$document.revid", {}},
                                  {Opcode::kSubdocGet, kXattr, "$XTOC", {}},
                                  {Opcode::kSubdocGet, kXattr, "$nothing", {}},
                                  {Opcode::kSubdocGet, 0, "a", {}},
                                  {Opcode::kGet, 0, "", {}}});
  SubdocExecution exec(r, Doc(section, R"({"a":1})"));
  exec.Run();
  EXPECT_EQ(exec.status(), McbpStatus::kSubdocMultiPathFailure);
  const auto& res = exec.results();
  EXPECT_EQ(res[0].value, R"("1-a")");
  EXPECT_EQ(res[1].value, "[1, 2]");  // the stored bytes
  EXPECT_EQ(res[2].status, McbpStatus::kSubdocPathEnoent);
  EXPECT_EQ(res[3].value, R"("3")");
  EXPECT_EQ(res[4].value, R"(["_sync","meta"])");
  EXPECT_EQ(res[5].status, McbpStatus::kSubdocXattrUnknownVattr);
  EXPECT_EQ(res[6].value, "1");
  EXPECT_EQ(res[7].value, R"({"a":1})");
}

TEST(SubdocExecutionTest, DocumentVattrHasKvEnginesFields) {
  SubdocRequest r = Multi(false, {{Opcode::kSubdocGet, kXattr, "$document", {}}});
  SubdocExecution exec(r, Doc("", R"({"a":1})", 0x1700000000000000));
  exec.Run();
  ASSERT_EQ(exec.status(), McbpStatus::kSuccess);
  const auto d = nlohmann::json::parse(exec.results()[0].value);
  EXPECT_EQ(d["CAS"], "0x1700000000000000");
  EXPECT_EQ(d["seqno"], "0x0000000000000007");
  EXPECT_EQ(d["revid"], "3");
  EXPECT_EQ(d["flags"], 42);
  EXPECT_EQ(d["exptime"], 0);
  EXPECT_EQ(d["value_bytes"], 7);
  EXPECT_EQ(d["datatype"], nlohmann::json::array({"json"}));
  EXPECT_EQ(d["deleted"], false);
  EXPECT_EQ(d["value_crc32c"], Hex32(Crc32c(R"({"a":1})")));
  EXPECT_EQ(d["last_modified"], std::to_string(0x1700000000000000 / 1000000000));
}

TEST(SubdocExecutionTest, XattrMutationRebuildsTheSectionSorted) {
  SubdocRequest r =
      Multi(true, {{Opcode::kSubdocDictUpsert, kXattr | protocol::kSubdocFlagMkdirP, "zz.a", "1"},
                   {Opcode::kSubdocDictUpsert, kXattr, "_sys", R"({ "x" : 2 })"},
                   {Opcode::kSubdocCounter, 0, "n", "5"}});
  SubdocExecution exec(r, Doc("", R"({"n":1})"));
  exec.Run();
  ASSERT_EQ(exec.status(), McbpStatus::kSuccess);
  EXPECT_EQ(exec.datatype(), protocol::kDatatypeJson | protocol::kDatatypeXattr);
  EXPECT_EQ(exec.value(),
            xattr::Encode({{"_sys", R"({"x":2})"}, {"zz", R"({"a":1})"}}) + R"({"n":6})");
  EXPECT_EQ(exec.results()[2].value, "6");
}

TEST(SubdocExecutionTest, RemovingTheLastXattrClearsTheBit) {
  SubdocRequest r = Multi(true, {{Opcode::kSubdocDelete, kXattr, "meta", {}}});
  SubdocExecution exec(r, Doc(xattr::Encode({{"meta", "1"}}), R"({"a":1})"));
  exec.Run();
  ASSERT_EQ(exec.status(), McbpStatus::kSuccess);
  EXPECT_EQ(exec.value(), R"({"a":1})");
  EXPECT_EQ(exec.datatype(), protocol::kDatatypeJson);
}

TEST(SubdocExecutionTest, WholeDocumentDeleteKeepsSystemXattrs) {
  SubdocRequest r = Multi(true, {{Opcode::kDelete, 0, "", {}}});
  SubdocExecution exec(r, Doc(xattr::Encode({{"_s", "1"}, {"u", "2"}}), R"({"a":1})"));
  exec.Run();
  ASSERT_EQ(exec.status(), McbpStatus::kSuccess);
  EXPECT_TRUE(exec.delete_document());
  EXPECT_EQ(exec.value(), xattr::Encode({{"_s", "1"}}));
  EXPECT_EQ(exec.datatype(), protocol::kDatatypeXattr);
  EXPECT_EQ(exec.body_size(), 0u);
}

TEST(SubdocExecutionTest, MultiMutationStopsAtTheFirstFailure) {
  SubdocRequest r = Multi(true, {{Opcode::kSubdocDictUpsert, 0, "a", "2"},
                                 {Opcode::kSubdocReplace, 0, "missing", "1"},
                                 {Opcode::kSubdocDictUpsert, 0, "b", "3"}});
  SubdocExecution exec(r, Doc("", R"({"a":1})"));
  exec.Run();
  EXPECT_EQ(exec.status(), McbpStatus::kSubdocMultiPathFailure);
  EXPECT_EQ(exec.results()[1].status, McbpStatus::kSubdocPathEnoent);
  EXPECT_EQ(exec.results()[2].status, McbpStatus::kEinternal);  // not run
  EXPECT_EQ(exec.value(), R"({"a":1})");
}

TEST(SubdocExecutionTest, BodyPathsNeedJsonAndWholeDocSetDecides) {
  SubdocRequest get = Multi(false, {{Opcode::kSubdocGet, 0, "a", {}}});
  SubdocInput binary = Doc("", "not json");
  binary.datatype = 0;
  SubdocExecution exec(get, binary);
  exec.Run();
  EXPECT_EQ(exec.results()[0].status, McbpStatus::kSubdocDocNotJson);

  SubdocRequest set = Multi(true, {{Opcode::kSet, 0, "", R"({"x":1})"}});
  SubdocExecution exec2(set, binary);
  exec2.Run();
  EXPECT_EQ(exec2.value(), R"({"x":1})");
  EXPECT_EQ(exec2.datatype(), protocol::kDatatypeJson);
}

TEST(SubdocExecutionTest, MutationMacrosAreFilledInAtPreLink) {
  SubdocRequest r =
      Multi(true, {{Opcode::kSubdocDictUpsert, kXattr | protocol::kSubdocFlagExpandMacros | 1,
                    "m.cas", R"("${Mutation.CAS}")"},
                   {Opcode::kSubdocDictUpsert, kXattr | protocol::kSubdocFlagExpandMacros | 1,
                    "m.seq", R"("${Mutation.seqno}")"},
                   {Opcode::kSubdocDictUpsert, kXattr | protocol::kSubdocFlagExpandMacros | 1,
                    "m.crc", R"("${Mutation.value_crc32c}")"},
                   {Opcode::kSubdocDictUpsert, kXattr | protocol::kSubdocFlagExpandMacros | 1,
                    "m.old", R"("${$document.CAS}")"}});
  SubdocExecution exec(r, Doc("", R"({"a":1})", 0xabc));
  exec.Run();
  ASSERT_EQ(exec.status(), McbpStatus::kSuccess);
  engine::PreLinkFn pre_link = exec.PreLink();
  ASSERT_TRUE(pre_link);
  const engine::BlobPtr out = pre_link(engine::Blob::Make(exec.value()), 0x0102030405060708, 99);
  const auto split = xattr::SplitValue(out.view());
  ASSERT_TRUE(split.has_value());
  const auto m = nlohmann::json::parse(*xattr::Get(split->section, "m"));
  EXPECT_EQ(m["cas"], "0x0807060504030201");  // kv_engine writes the CAS byte-swapped
  EXPECT_EQ(m["seq"], "0x0000000000000063");
  EXPECT_EQ(m["crc"], Hex32(Crc32c(R"({"a":1})")));
  EXPECT_EQ(m["old"], "0x0000000000000abc");
  EXPECT_EQ(split->body, R"({"a":1})");
}

TEST(SubdocExecutionTest, ReplaceBodyWithXattr) {
  SubdocRequest r = Multi(true, {{Opcode::kSubdocReplaceBodyWithXattr, kXattr, "staged.doc", {}}});
  SubdocExecution exec(r, Doc(xattr::Encode({{"staged", R"({"doc":{"v":2}})"}}), R"({"v":1})"));
  exec.Run();
  ASSERT_EQ(exec.status(), McbpStatus::kSuccess);
  EXPECT_EQ(xattr::Body(exec.datatype(), exec.value()), R"({"v":2})");
}

}  // namespace
}  // namespace sluice::server
