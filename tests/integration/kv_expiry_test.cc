// Integration: TTLs in sluiced — TOUCH/GAT/GATQ, relative and absolute expiry seen lazily on
// access, and the expiry pager turning expired documents into expirations with their own seqnos.
#include "tests/integration/kv_test_util.h"

namespace sluice::testing {
namespace {

using protocol::McbpStatus;
using protocol::Opcode;

class KvExpiryTest : public KvTest {};

TEST_F(KvExpiryTest, TouchAndGetAndTouch) {
  auto r = conn_->Touch("missing", 100);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, McbpStatus::kKeyEnoent);
  r = conn_->GetAndTouch("missing", 100);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, McbpStatus::kKeyEnoent);

  auto set = conn_->Set("k", "v", {.flags = 42});
  ASSERT_TRUE(set.ok());
  r = conn_->Touch("k", 1000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, McbpStatus::kSuccess);
  EXPECT_NE(r->cas, 0u);
  EXPECT_EQ(r->value, "") << "TOUCH returns no value";
  r = conn_->GetAndTouch("k", 2000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, McbpStatus::kSuccess);
  EXPECT_EQ(r->value, "v");
  EXPECT_EQ(r->flags, 42u);

  auto responses = Batch(*conn_, {{.opcode = Opcode::kGatq,
                                   .vbucket = VbOf("missing"),
                                   .opaque = 1,
                                   .extras = Be32(10),
                                   .key = "missing"},
                                  {.opcode = Opcode::kGatq,
                                   .vbucket = VbOf("k"),
                                   .opaque = 2,
                                   .extras = Be32(10),
                                   .key = "k"}});
  ASSERT_EQ(responses.size(), 1u) << "GATQ: a miss is silent";
  EXPECT_EQ(responses[0].opaque, 2u);
  EXPECT_EQ(responses[0].value, "v");

  // A short TTL set by TOUCH (and by GAT) makes the document expire.
  ASSERT_EQ(Must(conn_->Set("t1", "v")).status, McbpStatus::kSuccess);
  ASSERT_EQ(Must(conn_->Set("t2", "v")).status, McbpStatus::kSuccess);
  EXPECT_EQ(Must(conn_->Touch("t1", 1)).status, McbpStatus::kSuccess);
  EXPECT_EQ(Must(conn_->GetAndTouch("t2", 1)).status, McbpStatus::kSuccess);
  EXPECT_TRUE(PollUntil([&] {
    return Must(conn_->Get("t1")).status == McbpStatus::kKeyEnoent &&
           Must(conn_->Get("t2")).status == McbpStatus::kKeyEnoent;
  }));
  // TOUCH with the wrong extras length.
  EXPECT_EQ(Run(*conn_, {.opcode = Opcode::kTouch, .vbucket = VbOf("k"), .key = "k"}).status,
            McbpStatus::kEinval);
}

TEST_F(KvExpiryTest, RelativeAndAbsoluteExpiry) {
  // Relative TTL: gone within a few seconds.
  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(Must(conn_->Set("rel", "v", {.expiry = 2})).status, McbpStatus::kSuccess);
  auto get = conn_->Get("rel");
  ASSERT_TRUE(get.ok());
  if (std::chrono::steady_clock::now() - start < 1s) {
    EXPECT_EQ(get->status, McbpStatus::kSuccess) << "not expired yet";
  }
  EXPECT_TRUE(PollUntil([&] { return Must(conn_->Get("rel")).status == McbpStatus::kKeyEnoent; }));

  // Absolute expiry (above 30 days): in the future it expires at that time...
  ASSERT_EQ(Must(conn_->Set("abs", "v", {.expiry = UnixNow() + 2})).status, McbpStatus::kSuccess);
  EXPECT_TRUE(PollUntil([&] { return Must(conn_->Get("abs")).status == McbpStatus::kKeyEnoent; }));
  // ...and in the past the document is expired at once.
  ASSERT_EQ(Must(conn_->Set("past", "v", {.expiry = 30 * 24 * 3600 + 1})).status,
            McbpStatus::kSuccess);
  EXPECT_EQ(Must(conn_->Get("past")).status, McbpStatus::kKeyEnoent);
  // A far TTL keeps it.
  ASSERT_EQ(Must(conn_->Set("far", "v", {.expiry = UnixNow() + 3600})).status,
            McbpStatus::kSuccess);
  EXPECT_EQ(Must(conn_->Get("far")).status, McbpStatus::kSuccess);

  // An expired document is missing for every command.
  EXPECT_EQ(Must(conn_->Replace("rel", "x")).status, McbpStatus::kKeyEnoent);
  EXPECT_EQ(Must(conn_->Append("rel", "x")).status, McbpStatus::kNotStored);
  EXPECT_EQ(Must(conn_->Touch("rel", 10)).status, McbpStatus::kKeyEnoent);
  EXPECT_EQ(Must(conn_->Add("rel", "again")).status, McbpStatus::kSuccess);
  EXPECT_EQ(Must(conn_->Get("rel")).value, "again");
}

// The expiry pager turns expired documents into expirations with their own seqno, without any
// access to them.
class ExpiryPagerTest : public SluicedTest {
 protected:
  ServerOptions Options() const override {
    ServerOptions options = SluicedTest::Options();
    options.extra_args.insert(options.extra_args.end(), {"--set", "exp_pager_stime=1"});
    return options;
  }
};

TEST_F(ExpiryPagerTest, ExpiredDocumentsBecomeExpirations) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  constexpr uint64_t kDocs = 20;
  uint64_t high_before = 0;
  for (uint64_t i = 0; i < kDocs; ++i) {
    ASSERT_EQ(Must(conn->Set("ttl-" + std::to_string(i), "v", {.expiry = 1})).status,
              McbpStatus::kSuccess);
  }
  ASSERT_EQ(Must(conn->Set("keep", "v")).status, McbpStatus::kSuccess);
  auto before = FetchStats(*conn, "vbucket-seqno");
  ASSERT_TRUE(before.ok());
  for (uint32_t vb = 0; vb < vbuckets(); ++vb) {
    high_before += StatU64(*before, "vb_" + std::to_string(vb) + ":high_seqno").value_or(0);
  }
  // Without touching the documents, the pager expires them: curr_items drops to 1 and each
  // expiration took a seqno.
  std::string last;
  EXPECT_TRUE(PollUntil([&] {
    auto stats = FetchStats(*conn);
    if (!stats.ok()) return false;
    last = (*stats)["curr_items"] + " items, " + (*stats)["ep_expired_pager"] + " expired";
    return StatU64(*stats, "curr_items") == 1u && StatU64(*stats, "ep_expired_pager") == kDocs;
  })) << last;
  auto after = FetchStats(*conn, "vbucket-seqno");
  ASSERT_TRUE(after.ok());
  uint64_t high_after = 0;
  for (uint32_t vb = 0; vb < vbuckets(); ++vb) {
    high_after += StatU64(*after, "vb_" + std::to_string(vb) + ":high_seqno").value_or(0);
  }
  EXPECT_EQ(high_after, high_before + kDocs);
  EXPECT_EQ(Must(conn->Get("ttl-0")).status, McbpStatus::kKeyEnoent);
  EXPECT_EQ(Must(conn->Get("keep")).status, McbpStatus::kSuccess);
}

}  // namespace
}  // namespace sluice::testing
