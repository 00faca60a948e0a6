// Extended attributes on DCP against the real sluiced (docs/xattrs.md): what mutations and
// deletions carry with and without DCP_OPEN IncludeXattrs / IncludeDeletedUserXattrs / NoValue,
// from memory and from a disk backfill, and the include_deleted_user_xattrs control.
#include <gtest/gtest.h>

#include "protocol/datatype.h"
#include "testing/dcp_wire_util.h"
#include "tests/integration/subdoc_test_util.h"
#include "xattr/blob.h"

namespace sluice::testing {
namespace {

using protocol::McbpStatus;
using protocol::Opcode;

constexpr uint8_t kJson = protocol::kDatatypeJson;
constexpr uint8_t kXattr = protocol::kDatatypeXattr;

class XattrDcpTest : public SubdocTest {
 protected:
  // "live": a body with a user and a system xattr. "dead": a tombstone with a system and a user
  // xattr (user xattrs on a tombstone come from an AccessDeleted write).
  void MakeDocs() {
    ASSERT_TRUE(Must(conn_->Set("live", R"({"a":1})")).ok());
    ASSERT_TRUE(Mutate("live", {{Opcode::kSubdocDictUpsert, kXattrPath, "u", "1"},
                                {Opcode::kSubdocDictUpsert, kXattrPath, "_s", "2"}})
                    .ok());
    ASSERT_TRUE(Must(conn_->Set("dead", R"({"b":1})")).ok());
    ASSERT_TRUE(Mutate("dead", {{Opcode::kSubdocDictUpsert, kXattrPath, "_s", "3"}}).ok());
    ASSERT_TRUE(Must(conn_->Delete("dead")).ok());
    ASSERT_EQ(Mutate("dead", {{Opcode::kSubdocDictUpsert, kXattrPath, "u", "4"}},
                     protocol::kSubdocDocFlagAccessDeleted)
                  .status,
              McbpStatus::kSubdocSuccessDeleted);
  }

  // The last event of each key on a consumer opened with `flags`, streaming both keys' vbuckets
  // to their high seqno.
  std::map<std::string, DcpEvent> Stream(uint32_t flags, const std::string& name) {
    auto conn = Connect();
    EXPECT_NE(conn, nullptr);
    if (conn == nullptr) return {};
    auto consumer = DcpConsumer::Open(std::move(conn), {.name = name, .open_flags = flags});
    EXPECT_TRUE(consumer.ok()) << consumer.status().ToString();
    if (!consumer.ok()) return {};
    for (Vbid vb : std::set<Vbid>{VbOf("live"), VbOf("dead")}) {
      protocol::DcpStreamReqRequest req;
      req.vbucket = vb;
      req.flags = protocol::kDcpStreamToLatest;
      req.end_seqno = ~uint64_t{0};
      auto r = (*consumer)->Stream(req);
      EXPECT_TRUE(r.ok() && r->status == McbpStatus::kSuccess);
    }
    Status s = (*consumer)->ReadUntilAllEnded();
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_THAT((*consumer)->violations(), ::testing::IsEmpty());
    return (*consumer)->LatestByKey();
  }

  void CheckAll(const char* phase) {
    const std::string live_value =
        xattr::Encode({{"_s", "2"}, {"u", "1"}}) + R"({"a":1})";  // sorted by the rebuild
    auto plain = Stream(protocol::kDcpOpenProducer, std::string("plain-") + phase);
    EXPECT_EQ(plain["live"].value, R"({"a":1})") << phase;
    EXPECT_EQ(plain["live"].datatype, kJson) << phase;
    EXPECT_EQ(plain["dead"].kind, DcpEvent::Kind::kDeletion) << phase;
    EXPECT_EQ(plain["dead"].value, "") << phase;
    EXPECT_EQ(plain["dead"].datatype, 0) << phase;

    auto with = Stream(protocol::kDcpOpenProducer | protocol::kDcpOpenIncludeXattrs,
                       std::string("xattrs-") + phase);
    EXPECT_EQ(with["live"].value, live_value) << phase;
    EXPECT_EQ(with["live"].datatype, kJson | kXattr) << phase;
    EXPECT_EQ(with["dead"].value, xattr::Encode({{"_s", "3"}})) << phase;
    EXPECT_EQ(with["dead"].datatype, kXattr) << phase;

    auto user = Stream(protocol::kDcpOpenProducer | protocol::kDcpOpenIncludeXattrs |
                           protocol::kDcpOpenIncludeDeletedUserXattrs,
                       std::string("user-") + phase);
    EXPECT_EQ(user["dead"].value, xattr::Encode({{"_s", "3"}, {"u", "4"}})) << phase;
    EXPECT_EQ(user["dead"].datatype, kXattr) << phase;

    auto keys = Stream(
        protocol::kDcpOpenProducer | protocol::kDcpOpenIncludeXattrs | protocol::kDcpOpenNoValue,
        std::string("novalue-") + phase);
    EXPECT_EQ(keys["live"].value, xattr::Encode({{"_s", "2"}, {"u", "1"}})) << phase;
    EXPECT_EQ(keys["live"].datatype, kXattr) << phase;
  }
};

TEST_F(XattrDcpTest, ValuesFollowTheOpenFlagsFromMemoryAndDisk) {
  MakeDocs();
  CheckAll("memory");
  ASSERT_TRUE(WaitUntilPersisted());
  RestartClean();  // everything is on disk only now: the streams backfill
  CheckAll("disk");
}

TEST_F(XattrDcpTest, IncludeDeletedUserXattrsControl) {
  auto a = Connect();
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(a->DcpOpen("with", protocol::kDcpOpenProducer | protocol::kDcpOpenIncludeXattrs |
                                     protocol::kDcpOpenIncludeDeletedUserXattrs)
                  .ok());
  EXPECT_TRUE(a->DcpControl("include_deleted_user_xattrs", "true").ok());
  auto b = Connect();
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(
      b->DcpOpen("without", protocol::kDcpOpenProducer | protocol::kDcpOpenIncludeXattrs).ok());
  Status s = b->DcpControl("include_deleted_user_xattrs", "true");
  EXPECT_EQ(s.code(), Errc::kInvalid) << s.ToString();
  // IncludeDeletedUserXattrs without IncludeXattrs is refused at DCP_OPEN.
  auto c = Connect();
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(
      c->DcpOpen("bad", protocol::kDcpOpenProducer | protocol::kDcpOpenIncludeDeletedUserXattrs)
          .code(),
      Errc::kInvalid);
}

}  // namespace
}  // namespace sluice::testing
