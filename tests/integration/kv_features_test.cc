// Integration: what HELLO features change for document commands — JSON datatype detection,
// mutation tokens (vbucket uuid + per-vbucket seqno), the collection prefix of keys and
// flexible-framing requests with frame infos.
#include "protocol/datatype.h"
#include "protocol/frame_info.h"
#include "tests/integration/kv_test_util.h"

namespace sluice::testing {
namespace {

using protocol::Feature;
using protocol::McbpStatus;
using protocol::Opcode;

class KvFeaturesTest : public KvTest {};

TEST_F(KvFeaturesTest, JsonDatatypeOnlyForClientsThatNegotiatedIt) {
  auto json_client = Connect({.features = {Feature::kJson, Feature::kXerror}});
  auto raw_client = Connect({.features = {Feature::kXerror}});
  ASSERT_NE(json_client, nullptr);
  ASSERT_NE(raw_client, nullptr);
  ASSERT_EQ(Must(raw_client->Set("doc", R"({"name":"sluice","n":[1,2,3]})")).status,
            McbpStatus::kSuccess);
  ASSERT_EQ(Must(raw_client->Set("text", "not json {")).status, McbpStatus::kSuccess);
  // A client may set the JSON bit without negotiating it: tolerated, and not trusted.
  ASSERT_EQ(
      Must(raw_client->Set("liar", "plain text", {.datatype = protocol::kDatatypeJson})).status,
      McbpStatus::kSuccess);

  auto get = json_client->Get("doc");
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->datatype, protocol::kDatatypeJson);
  EXPECT_EQ(Must(json_client->Get("text")).datatype, protocol::kDatatypeRaw);
  EXPECT_EQ(Must(json_client->Get("liar")).datatype, protocol::kDatatypeRaw)
      << "detected, not taken";
  EXPECT_EQ(Must(raw_client->Get("doc")).datatype, protocol::kDatatypeRaw)
      << "JSON not negotiated: raw";
  EXPECT_EQ(Must(raw_client->Get("doc")).value, R"({"name":"sluice","n":[1,2,3]})");
  EXPECT_EQ(Must(json_client->GetAndTouch("doc", 0)).datatype, protocol::kDatatypeJson);
  EXPECT_EQ(Must(raw_client->GetAndTouch("doc", 0)).datatype, protocol::kDatatypeRaw);
  // A counter is a JSON number.
  ASSERT_TRUE(json_client->Increment("ctr", 1, {.initial = 1}).ok());
  EXPECT_EQ(Must(json_client->Get("ctr")).datatype, protocol::kDatatypeJson);
  // Appending text to a JSON document makes it raw again.
  ASSERT_EQ(Must(json_client->Append("doc", "xyz")).status, McbpStatus::kSuccess);
  EXPECT_EQ(Must(json_client->Get("doc")).datatype, protocol::kDatatypeRaw);
}

TEST_F(KvFeaturesTest, MutationTokensCarryUuidAndIncreasingSeqnos) {
  // Keys of one vbucket and of another.
  std::vector<std::string> same, other;
  const Vbid target = VbOf("seed");
  for (int i = 0; same.size() < 5 || other.size() < 3; ++i) {
    std::string key = "key-" + std::to_string(i);
    (VbOf(key) == target ? same : other).push_back(key);
  }
  auto log = conn_->GetFailoverLog(target);
  ASSERT_TRUE(log.ok());
  ASSERT_FALSE(log->empty());
  const uint64_t uuid = (*log)[0].vbucket_uuid;

  uint64_t last = 0;
  auto check = [&](const StatusOr<client::KvResult>& r, const char* what) {
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, McbpStatus::kSuccess) << what;
    ASSERT_TRUE(r->token.has_value()) << what;
    EXPECT_EQ(r->token->vbucket_uuid, uuid) << what;
    EXPECT_EQ(r->token->seqno, last + 1) << what << ": one seqno per mutation";
    last = r->token->seqno;
  };
  check(conn_->Set(same[0], "v"), "SET");
  check(conn_->Add(same[1], "v"), "ADD");
  check(conn_->Replace(same[0], "w"), "REPLACE");
  check(conn_->Append(same[0], "x"), "APPEND");
  check(conn_->Prepend(same[0], "y"), "PREPEND");
  check(conn_->Increment(same[2], 1), "INCR");
  check(conn_->Decrement(same[2], 1), "DECR");
  check(conn_->Delete(same[1]), "DELETE");
  // Failures do not consume seqnos.
  EXPECT_EQ(Must(conn_->Add(same[0], "v")).status, McbpStatus::kKeyEexists);
  check(conn_->Set(same[3], "v"), "SET after a failure");

  // Another vbucket counts on its own.
  auto r = conn_->Set(other[0], "v");
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(r->token.has_value());
  EXPECT_EQ(r->token->seqno, 1u) << "a fresh vbucket starts at 1";
  EXPECT_NE(r->token->vbucket_uuid, uuid);

  // Without MutationSeqno there are no extras.
  auto legacy = Connect({.features = {Feature::kXerror}});
  ASSERT_NE(legacy, nullptr);
  auto plain = legacy->Set(same[4], "v");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->token.has_value());
  // The vbucket's high seqno is what the tokens said.
  auto seqnos = FetchStats(*conn_, "vbucket-seqno " + std::to_string(target));
  ASSERT_TRUE(seqnos.ok());
  EXPECT_EQ(StatU64(*seqnos, "vb_" + std::to_string(target) + ":high_seqno"), last + 1);
}

TEST_F(KvFeaturesTest, CollectionsStripTheDefaultPrefix) {
  auto coll = Connect({.features = {Feature::kCollections, Feature::kXerror, Feature::kJson}});
  ASSERT_NE(coll, nullptr);
  ASSERT_TRUE(coll->HasFeature(Feature::kCollections));
  // The client sends LEB128(0) + key; the document's key is the logical key.
  auto set = coll->Set("ckey", "from-collections");
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->status, McbpStatus::kSuccess);
  auto get = conn_->Get("ckey");
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->status, McbpStatus::kSuccess) << "a legacy client sees the logical key";
  EXPECT_EQ(get->value, "from-collections");
  ASSERT_EQ(Must(conn_->Set("lkey", "from-legacy")).status, McbpStatus::kSuccess);
  EXPECT_EQ(Must(coll->Get("lkey")).value, "from-legacy");
  // GETK echoes the key as the client sent it (with its prefix).
  auto getk = coll->GetK("lkey");
  ASSERT_TRUE(getk.ok());
  EXPECT_EQ(getk->key, std::string("\0lkey", 5));

  // Any other collection is unknown, for reads and writes.
  for (uint32_t cid : {8u, 1000u}) {
    auto r = coll->Get("ckey", {.collection_id = cid});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, McbpStatus::kUnknownCollection) << cid;
    r = coll->Set("ckey", "v", {.route = {.collection_id = cid}});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, McbpStatus::kUnknownCollection) << cid;
    r = coll->Delete("ckey", {.route = {.collection_id = cid}});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->status, McbpStatus::kUnknownCollection) << cid;
  }
  EXPECT_EQ(Must(coll->Get("ckey")).value, "from-collections");

  // A prefix that does not decode is invalid; a key that is only a prefix too.
  const std::string bad_prefix("\x80", 1);
  EXPECT_EQ(Run(*coll, {.opcode = Opcode::kGet, .key = bad_prefix}).status, McbpStatus::kEinval);
  const std::string only_prefix("\x00", 1);
  EXPECT_EQ(Run(*coll, {.opcode = Opcode::kGet, .key = only_prefix}).status, McbpStatus::kEinval);

  // Without Collections a leading 0x08 byte is just part of the key.
  const std::string odd_key("\x08odd", 4);
  auto odd = conn_->Set(odd_key, "v");
  ASSERT_TRUE(odd.ok());
  EXPECT_EQ(odd->status, McbpStatus::kSuccess);
  EXPECT_EQ(Must(conn_->Get(odd_key)).value, "v");
}

TEST_F(KvFeaturesTest, AltRequestsWithFrameInfos) {
  auto alt = Connect(
      {.features = {Feature::kAltRequestSupport, Feature::kXerror, Feature::kMutationSeqno}});
  ASSERT_NE(alt, nullptr);
  std::string barrier;
  protocol::AppendBarrierFrameInfo(&barrier);
  const std::string extras = MutationExtras();
  auto set = Run(*alt, {.opcode = Opcode::kSet,
                        .vbucket = VbOf("alt"),
                        .framing_extras = barrier,
                        .extras = extras,
                        .key = "alt",
                        .value = "v"});
  EXPECT_EQ(set.status, McbpStatus::kSuccess);
  auto get = Run(
      *alt,
      {.opcode = Opcode::kGet, .vbucket = VbOf("alt"), .framing_extras = barrier, .key = "alt"});
  EXPECT_EQ(get.status, McbpStatus::kSuccess);
  EXPECT_EQ(get.value, "v");
  // A durable write (majority: in memory on a single node) is a SyncWrite, acknowledged
  // (durability_test.cc covers the levels).
  auto durable = alt->Set("alt", "w", {.durability = protocol::DurabilityRequirement{}});
  ASSERT_TRUE(durable.ok());
  EXPECT_EQ(durable->status, McbpStatus::kSuccess);
  EXPECT_EQ(Must(alt->Get("alt")).value, "w");
}

}  // namespace
}  // namespace sluice::testing
