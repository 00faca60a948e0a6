// Durable writes (SyncWrites) over TCP with the C++ client's MutationOptions::durability:
//   - persistToMajority and majorityAndPersistActive are acknowledged only once the write is on
//     disk: at the moment of the ack, OBSERVE_SEQNO's last_persisted_seqno for the vbucket is at
//     least the seqno of the returned mutation token (SET, DELETE, INCR, APPEND; pipelined too);
//   - majority is acknowledged with a mutation token and the value is readable;
//   - HELLO SyncReplication is agreed; durability on a command that cannot carry it is EINVAL,
//     and an invalid level is DurabilityInvalidLevel;
//   - acknowledged persist-level writes survive a SIGKILL.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/frame_info.h"
#include "tests/integration/kv_test_util.h"

namespace sluice::testing {
namespace {

using client::DurabilityLevel;
using client::DurabilityRequirement;
using protocol::Feature;
using protocol::McbpStatus;
using protocol::Opcode;

class DurabilityTest : public SluicedTest {
 protected:
  // The vbucket's persisted seqno, as OBSERVE_SEQNO reports it now.
  uint64_t PersistedSeqno(client::Connection& conn, const protocol::MutationToken& token) {
    auto r = conn.ObserveSeqno(token.vbucket, token.vbucket_uuid);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? r->last_persisted_seqno : 0;
  }

  // Checks that a persist-level ack came after the flusher persisted the write.
  void ExpectPersistedAtAck(client::Connection& observer, const client::KvResult& r,
                            const std::string& what) {
    ASSERT_EQ(r.status, McbpStatus::kSuccess) << what << ": " << r.value;
    ASSERT_TRUE(r.token.has_value()) << what;
    EXPECT_GE(PersistedSeqno(observer, *r.token), r.token->seqno) << what;
  }
};

TEST_F(DurabilityTest, HelloAgreesToSyncReplication) {
  auto conn =
      Connect({.features = {Feature::kMutationSeqno, Feature::kXerror, Feature::kSyncReplication}});
  ASSERT_NE(conn, nullptr);
  EXPECT_TRUE(conn->HasFeature(Feature::kSyncReplication));
}

TEST_F(DurabilityTest, PersistLevelsAreAcknowledgedOnlyOnceOnDisk) {
  auto conn = Connect();
  auto observer = Connect();
  ASSERT_NE(conn, nullptr);
  ASSERT_NE(observer, nullptr);
  for (DurabilityLevel level :
       {DurabilityLevel::kPersistToMajority, DurabilityLevel::kMajorityAndPersistOnMaster}) {
    const std::string name(protocol::DurabilityLevelName(level));
    const client::MutationOptions durable{.durability = DurabilityRequirement{level}};
    for (int i = 0; i < 100; ++i) {
      const std::string key = name + "-" + std::to_string(i);
      // Each acknowledged write is on disk; writes in between (no durability) are not waited for.
      ASSERT_EQ(Must(conn->Set(key + "-plain", "p")).status, McbpStatus::kSuccess);
      ExpectPersistedAtAck(*observer, Must(conn->Set(key, "value " + key, durable)), "SET " + key);
      EXPECT_EQ(Must(conn->Get(key)).value, "value " + key);
    }
    ExpectPersistedAtAck(*observer, Must(conn->Append(name + "-0", "+", durable)), "APPEND");
    ExpectPersistedAtAck(*observer, Must(conn->Delete(name + "-1", durable)), "DELETE");
    ExpectPersistedAtAck(
        *observer,
        Must(conn->Increment(name + "-counter", 1,
                             {.initial = 5, .durability = DurabilityRequirement{level}})),
        "INCR");
    EXPECT_EQ(Must(conn->Get(name + "-counter")).value, "5");
  }
}

TEST_F(DurabilityTest, PipelinedDurableWritesAreAnsweredInOrder) {
  auto conn = Connect();
  auto observer = Connect();
  ASSERT_NE(conn, nullptr);
  ASSERT_NE(observer, nullptr);
  std::string framing;
  protocol::AppendDurabilityFrameInfo(&framing, {DurabilityLevel::kPersistToMajority});
  std::vector<uint32_t> opaques;
  const std::string extras = MutationExtras();
  for (int i = 0; i < 50; ++i) {
    const std::string key = "pipe-" + std::to_string(i);
    const bool durable = i % 2 == 0;
    opaques.push_back(conn->Enqueue({.opcode = Opcode::kSet,
                                     .vbucket = VBucketForKey(key, vbuckets()),
                                     .framing_extras = durable ? framing : "",
                                     .extras = extras,
                                     .key = key,
                                     .value = "v"}));
  }
  ASSERT_TRUE(conn->Flush().ok());
  size_t n = 0;
  ASSERT_TRUE(conn->ReadResponses(opaques.size(),
                                  [&](const protocol::Frame& f) {
                                    EXPECT_EQ(f.opaque, opaques[n]);
                                    EXPECT_EQ(f.status(), McbpStatus::kSuccess);
                                    ++n;
                                  })
                  .ok());
  EXPECT_EQ(n, opaques.size());
}

TEST_F(DurabilityTest, MajorityIsAcknowledgedFromMemory) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  const client::MutationOptions majority{
      .durability = DurabilityRequirement{DurabilityLevel::kMajority, 5000}};
  for (int i = 0; i < 100; ++i) {
    const std::string key = "majority-" + std::to_string(i);
    auto r = Must(conn->Set(key, "m", majority));
    ASSERT_EQ(r.status, McbpStatus::kSuccess);
    ASSERT_TRUE(r.token.has_value());
    EXPECT_GT(r.token->seqno, 0u);
    EXPECT_EQ(Must(conn->Get(key)).value, "m");
  }
}

TEST_F(DurabilityTest, InvalidRequirementsAreRefused) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  std::string bad_level;
  protocol::AppendFrameInfo(&bad_level,
                            static_cast<uint16_t>(protocol::RequestFrameInfoId::kDurability),
                            std::string(1, '\x07'));
  auto r = conn->Execute({.opcode = Opcode::kSet,
                          .vbucket = VBucketForKey("k", vbuckets()),
                          .framing_extras = bad_level,
                          .extras = MutationExtras(),
                          .key = "k",
                          .value = "v"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, McbpStatus::kDurabilityInvalidLevel);
  // GET cannot carry a durability requirement.
  std::string framing;
  protocol::AppendDurabilityFrameInfo(&framing, {DurabilityLevel::kMajority});
  auto get = conn->Execute({.opcode = Opcode::kGet,
                            .vbucket = VBucketForKey("k", vbuckets()),
                            .framing_extras = framing,
                            .key = "k"});
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->status, McbpStatus::kEinval);
}

TEST_F(DurabilityTest, AcknowledgedPersistWritesSurviveKill) {
  std::vector<std::string> keys;
  {
    auto conn = Connect();
    ASSERT_NE(conn, nullptr);
    for (int i = 0; i < 50; ++i) {
      keys.push_back("survivor-" + std::to_string(i));
      auto r = Must(
          conn->Set(keys.back(), "kept",
                    {.durability = DurabilityRequirement{DurabilityLevel::kPersistToMajority}}));
      ASSERT_EQ(r.status, McbpStatus::kSuccess);
    }
  }
  RestartAfterKill();
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  for (const auto& key : keys) EXPECT_EQ(Must(conn->Get(key)).value, "kept") << key;
}

}  // namespace
}  // namespace sluice::testing
