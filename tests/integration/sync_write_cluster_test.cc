// Integration: SyncWrites across real sluiced processes of a static cluster (docs/replication.md,
// "SyncWrites"):
//   - with one replica, `majority` and `persistToMajority` writes are acknowledged only once the
//     replica acknowledged them: with the replica SIGSTOPped a write ends SYNC_WRITE_AMBIGUOUS and
//     no reader ever sees it; one waiting while the replica is stopped is answered once it
//     resumes;
//   - with two replicas, one stopped replica is no obstacle (two of three), two are;
//   - a topology chain without enough nodes answers DURABILITY_IMPOSSIBLE;
//   - after kill -9 of the active, every acknowledged `majority` write is on the replica, which
//     serves it once promoted (SET_VBUCKET active).
#include <signal.h>

#include <fstream>
#include <future>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <variant>
#include <vector>

#include "protocol/byte_order.h"
#include "protocol/dcp_codec.h"
#include "protocol/frame_info.h"
#include "protocol/opcode.h"
#include "protocol/status.h"
#include "testing/wire_util.h"
#include "tests/integration/cluster_test_util.h"

namespace sluice::testing {
namespace {

using client::DurabilityLevel;
using client::DurabilityRequirement;
using protocol::LoadBe64;
using protocol::McbpStatus;
using protocol::Opcode;
using Json = nlohmann::json;

constexpr uint32_t kSyncVBuckets = 4;

// Every vbucket with the same chain.
Json MapOf(const Json& chain) {
  Json map = Json::array();
  for (uint32_t vb = 0; vb < kSyncVBuckets; ++vb) map.push_back(chain);
  return map;
}

client::MutationOptions Durable(DurabilityLevel level, std::optional<uint16_t> timeout_ms = {}) {
  return {.durability = DurabilityRequirement{level, timeout_ms}};
}

class SyncWriteClusterTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (size_t i = 0; i < cluster_.size(); ++i) Resume(i);
    cluster_.StopAll(/*print_logs=*/HasFailure());
  }
  void Start(const std::vector<std::string>& ids, const Json& chain) {
    ASSERT_TRUE(cluster_.Start(cluster_.File(ids, chain.size() - 1, MapOf(chain)), kSyncVBuckets))
        << cluster_.error();
  }
  // SIGSTOP, then waits until the kernel reports the process stopped (delivery is asynchronous:
  // until then the node may still acknowledge).
  void Pause(size_t i) {
    const pid_t pid = cluster_.node(i).pid();
    ASSERT_EQ(kill(pid, SIGSTOP), 0);
    ASSERT_TRUE(PollUntil([&] { return AllThreadsStopped(pid); }));
  }
  static bool AllThreadsStopped(pid_t pid) {
    const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
      if (ThreadState(task.path().string() + "/stat") != 'T') return false;
    }
    return !ec;
  }
  // The state letter of a /proc stat file (after the command name's closing parenthesis).
  static char ThreadState(const std::string& path) {
    std::ifstream in(path);
    const std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t paren = stat.rfind(')');
    return paren != std::string::npos && paren + 2 < stat.size() ? stat[paren + 2] : '?';
  }
  void Resume(size_t i) {
    if (cluster_.node(i).running()) kill(cluster_.node(i).pid(), SIGCONT);
  }
  // Waits until node `replica` serves `key` to GET_REPLICA with `value`.
  void ExpectOnReplica(client::Connection& replica, const std::string& key,
                       const std::string& value) {
    const Vbid vb = VBucketForKey(key, kSyncVBuckets);
    client::Response last;
    EXPECT_TRUE(PollUntil([&] {
      auto r = replica.Execute({.opcode = Opcode::kGetReplica, .vbucket = vb, .key = key});
      if (r.ok()) last = *r;
      return r.ok() && r->status == McbpStatus::kSuccess;
    })) << key
        << ": " << protocol::McbpStatusName(last.status);
    EXPECT_EQ(last.value, value) << key;
  }

  StaticCluster cluster_;
};

TEST_F(SyncWriteClusterTest, OneReplicaAcknowledgesBeforeTheClientIsAnswered) {
  Start({"a", "b"}, Json::array({"a", "b"}));
  if (HasFatalFailure()) return;
  auto active = cluster_.Connect(0);
  auto replica = cluster_.Connect(1);
  ASSERT_NE(active, nullptr);
  ASSERT_NE(replica, nullptr);
  // With the replica running, both levels succeed and the value is on the replica.
  for (DurabilityLevel level : {DurabilityLevel::kMajority, DurabilityLevel::kPersistToMajority}) {
    const std::string key = std::string("ok-") + std::string(protocol::DurabilityLevelName(level));
    ASSERT_EQ(Must(active->Set(key, "v", Durable(level))).status, McbpStatus::kSuccess);
    EXPECT_EQ(Must(active->Get(key)).value, "v");
    ExpectOnReplica(*replica, key, "v");
  }

  // The replica stopped: nobody acknowledges, the write times out ambiguous and stays invisible.
  Pause(1);
  for (DurabilityLevel level : {DurabilityLevel::kMajority, DurabilityLevel::kPersistToMajority}) {
    const std::string key = "lost-" + std::string(protocol::DurabilityLevelName(level));
    EXPECT_EQ(Must(active->Set(key, "never", Durable(level, 500))).status,
              McbpStatus::kSyncWriteAmbiguous);
    EXPECT_EQ(Must(active->Get(key)).status, McbpStatus::kKeyEnoent);
  }

  // A write waiting while the replica is stopped is answered once it resumes.
  auto writer = cluster_.Connect(0);
  ASSERT_NE(writer, nullptr);
  auto pending = std::async(std::launch::async, [&] {
    return Must(writer->Set("late", "resumed", Durable(DurabilityLevel::kMajority, 20000)));
  });
  EXPECT_EQ(pending.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout);
  EXPECT_EQ(Must(active->Get("late")).status, McbpStatus::kKeyEnoent);  // no dirty read
  Resume(1);
  EXPECT_EQ(pending.get().status, McbpStatus::kSuccess);
  EXPECT_EQ(Must(active->Get("late")).value, "resumed");
  ExpectOnReplica(*replica, "late", "resumed");
  auto lost = replica->Execute({.opcode = Opcode::kGetReplica,
                                .vbucket = VBucketForKey("lost-majority", kSyncVBuckets),
                                .key = "lost-majority"});
  ASSERT_TRUE(lost.ok());
  EXPECT_EQ(lost->status, McbpStatus::kKeyEnoent);
}

TEST_F(SyncWriteClusterTest, TwoReplicasNeedOneOfThem) {
  Start({"a", "b", "c"}, Json::array({"a", "b", "c"}));
  if (HasFatalFailure()) return;
  auto active = cluster_.Connect(0);
  ASSERT_NE(active, nullptr);
  Pause(2);
  EXPECT_EQ(Must(active->Set("k1", "v", Durable(DurabilityLevel::kMajority))).status,
            McbpStatus::kSuccess);
  EXPECT_EQ(Must(active->Set("k2", "v", Durable(DurabilityLevel::kPersistToMajority))).status,
            McbpStatus::kSuccess);
  Pause(1);
  EXPECT_EQ(Must(active->Set("k3", "v", Durable(DurabilityLevel::kMajority, 500))).status,
            McbpStatus::kSyncWriteAmbiguous);
  EXPECT_EQ(Must(active->Get("k3")).status, McbpStatus::kKeyEnoent);
}

TEST_F(SyncWriteClusterTest, ChainWithTooFewNodesIsImpossible) {
  Start({"a", "b"}, Json::array({"a", nullptr}));
  if (HasFatalFailure()) return;
  auto active = cluster_.Connect(0);
  ASSERT_NE(active, nullptr);
  EXPECT_EQ(Must(active->Set("k", "v", Durable(DurabilityLevel::kMajority))).status,
            McbpStatus::kDurabilityImpossible);
  EXPECT_EQ(Must(active->Get("k")).status, McbpStatus::kKeyEnoent);
  EXPECT_EQ(Must(active->Set("k", "plain")).status, McbpStatus::kSuccess);
}

TEST_F(SyncWriteClusterTest, AcknowledgedWritesSurviveKillOfTheActive) {
  Start({"a", "b"}, Json::array({"a", "b"}));
  if (HasFatalFailure()) return;
  auto active = cluster_.Connect(0);
  ASSERT_NE(active, nullptr);
  std::vector<std::string> keys;
  for (int i = 0; i < 50; ++i) {
    keys.push_back("durable-" + std::to_string(i));
    ASSERT_EQ(
        Must(active->Set(keys.back(), "kept-" + keys.back(), Durable(DurabilityLevel::kMajority)))
            .status,
        McbpStatus::kSuccess);
  }
  cluster_.node(0).Kill();
  auto promoted = cluster_.Connect(1);
  ASSERT_NE(promoted, nullptr);
  for (Vbid vb = 0; vb < kSyncVBuckets; ++vb) {
    ASSERT_TRUE(promoted->SetVBucket(vb, VBucketState::kActive).ok());
  }
  for (const auto& key : keys) {
    auto r = Must(promoted->Get(key));
    EXPECT_EQ(r.status, McbpStatus::kSuccess) << key;
    EXPECT_EQ(r.value, "kept-" + key);
  }
}

// What a DCP consumer of the active sees of one majority write (the replica acknowledges it):
// with enable_sync_writes a DCP_PREPARE then a DCP_COMMIT naming it; without, only the
// committed value, as a DCP_MUTATION at the commit's seqno.
TEST_F(SyncWriteClusterTest, DcpStreamsCarryPreparesOnlyWithSyncWrites) {
  Start({"a", "b"}, Json::array({"a", "b"}));
  if (HasFatalFailure()) return;
  const std::string key = "streamed";
  const Vbid vb = VBucketForKey(key, kSyncVBuckets);
  auto open = [&](bool sync_writes) {
    auto conn = cluster_.Connect(0);
    EXPECT_NE(conn, nullptr);
    if (conn == nullptr) return conn;
    EXPECT_TRUE(conn->DcpOpen(sync_writes ? "sync" : "plain", protocol::kDcpOpenProducer).ok());
    if (sync_writes) EXPECT_TRUE(conn->DcpControl("enable_sync_writes", "true").ok());
    protocol::DcpStreamReqRequest req;
    req.vbucket = vb;
    req.opaque = 1;
    req.end_seqno = ~uint64_t{0};
    auto r = conn->DcpStreamReq(req);
    EXPECT_TRUE(r.ok() && r->status == McbpStatus::kSuccess);
    return conn;
  };
  auto plain = open(false);
  auto sync = open(true);
  ASSERT_NE(plain, nullptr);
  ASSERT_NE(sync, nullptr);
  auto writer = cluster_.Connect(0);
  ASSERT_NE(writer, nullptr);
  ASSERT_EQ(Must(writer->Set(key, "value", Durable(DurabilityLevel::kMajority))).status,
            McbpStatus::kSuccess);

  // The sync-writes stream: the prepare, then its commit.
  uint64_t prepare_seqno = 0;
  bool committed = false;
  for (int i = 0; i < 20 && !committed; ++i) {
    auto m = sync->ReadDcpMessage();
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    const auto* other = std::get_if<client::DcpOtherRequest>(&*m);
    ASSERT_EQ(std::get_if<client::DcpMutation>(&*m), nullptr) << "a mutation before the commit";
    if (other == nullptr) continue;
    if (other->opcode == static_cast<uint8_t>(Opcode::kDcpPrepare)) {
      EXPECT_EQ(other->key, key);
      EXPECT_EQ(other->value, "value");
      ASSERT_EQ(other->extras.size(), 31u);
      prepare_seqno = LoadBe64(other->extras.data());
    } else if (other->opcode == static_cast<uint8_t>(Opcode::kDcpCommit)) {
      ASSERT_NE(prepare_seqno, 0u) << "a commit before its prepare";
      ASSERT_EQ(other->extras.size(), 16u);
      EXPECT_EQ(LoadBe64(other->extras.data()), prepare_seqno);
      EXPECT_GT(LoadBe64(other->extras.data() + 8), prepare_seqno);
      committed = true;
    }
  }
  EXPECT_TRUE(committed);

  // The plain stream: just the committed mutation, at a seqno above the prepare's.
  bool mutated = false;
  for (int i = 0; i < 20 && !mutated; ++i) {
    auto m = plain->ReadDcpMessage();
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    ASSERT_EQ(std::get_if<client::DcpOtherRequest>(&*m), nullptr) << "a prepare or commit";
    if (const auto* mutation = std::get_if<client::DcpMutation>(&*m)) {
      EXPECT_EQ(mutation->key, key);
      EXPECT_EQ(mutation->value, "value");
      EXPECT_GT(mutation->by_seqno, prepare_seqno);
      mutated = true;
    }
  }
  EXPECT_TRUE(mutated);
}

}  // namespace
}  // namespace sluice::testing
