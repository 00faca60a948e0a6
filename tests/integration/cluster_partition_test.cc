// Integration: a partitioned node's return (issue 14, "Partition"; docs/cluster.md, "A failed-over
// node's return"). Three sluiced nodes with --etcd against a real etcd the test starts, 8
// vbuckets with two replicas (so every chain is one replica short after a failover),
// --node-ttl 1 and auto_failover_timeout 1.
//   - a holds writes only it has: b and c (the replicas of everything a is active for) are
//     stopped cleanly, a takes plain writes ("local" keys), then a is SIGSTOPped and b and c come
//     back. The manager (on b or c) fails a over; a stays stopped at least 10 s.
//   - SIGCONT: from that moment a connection opened before the stop SETs keys in the vbuckets a
//     was active for, as fast as it can, until the end of the test: every answer is TMPFAIL or
//     NOT_MY_VBUCKET (the write fence checks the lease's expiry at each write; then the map), and
//     no such key is anywhere afterwards.
//   - The manager re-adds a (failed over automatically): member active, a replica in every chain,
//     active nowhere. a's vbuckets converge with the new actives (same high seqno and uuid: a's
//     former actives rolled back or reset to the new actives' history), GET_REPLICA on a serves
//     the keys written before the partition and not the local ones, and durable (majority) writes
//     work and reach a.
// Figures printed (never pass/fail): the probe writes refused by status, a's rollbacks.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cluster/cluster_keys.h"
#include "cluster/cluster_map.h"
#include "cluster/seqno_probe.h"
#include "protocol/opcode.h"
#include "protocol/status.h"
#include "testing/etcd_test_util.h"
#include "testing/wire_util.h"
#include "tests/integration/etcd_nodes_test_util.h"

namespace sluice::testing {
namespace {

using protocol::McbpStatus;
using protocol::Opcode;
using namespace std::chrono_literals;

constexpr uint32_t kPartitionVBuckets = 8;
constexpr const char* kPartitionCluster = "pt";
#ifdef SLUICE_SANITIZER_BUILD
constexpr int kPartitionTtl = 2;
#else
constexpr int kPartitionTtl = 1;
#endif
constexpr auto kStoppedAtLeast = 10s;  // the issue's partition
constexpr size_t kA = 0, kB = 1, kC = 2;

// The smallest "<prefix><vb>-<i>" that lands in `vb`.
std::string PartitionKey(const std::string& prefix, Vbid vb) {
  for (int i = 0;; ++i) {
    std::string key = prefix + std::to_string(vb) + "-" + std::to_string(i);
    if (VBucketForKey(key, kPartitionVBuckets) == vb) return key;
  }
}

// Sends SIGCONT to a stopped process when it goes out of scope (a failed assertion must not leave
// a node stopped: the fixture's TearDown stops every node with SIGTERM and waits).
struct ContinueOnExit {
  pid_t pid;
  ~ContinueOnExit() { ::kill(pid, SIGCONT); }
};

// SETs "probe-<i>" in `vbuckets` (round robin) on its connection until stopped, counting the
// answers; an accepted write is a failure of the test (the key is kept for the message).
struct Prober {
  std::atomic<bool> stop{false};
  std::atomic<bool> broken{false};  // the connection failed: the thread ended
  std::atomic<int64_t> attempts{0};
  // The thread's until joined:
  std::unique_ptr<client::Connection> conn;
  std::map<McbpStatus, int64_t> answers;
  std::vector<std::string> accepted;
  std::string transport_error;
  std::thread thread;

  void Start(std::unique_ptr<client::Connection> c, std::vector<Vbid> vbuckets) {
    conn = std::move(c);
    thread = std::thread([this, vbuckets] {
      for (int64_t i = 0; !stop.load(); ++i) {
        const Vbid vb = vbuckets[i % vbuckets.size()];
        const std::string key = "probe-" + std::to_string(i);
        auto r = conn->Set(key, "must-not-be-taken", {.route = {.vbucket = vb}});
        if (!r.ok()) {
          transport_error = r.status().ToString();
          broken = true;
          return;
        }
        ++answers[r->status];
        if (r->status == McbpStatus::kSuccess) accepted.push_back(key);
        attempts.fetch_add(1);
      }
    });
  }
  void Join() {
    stop = true;
    if (thread.joinable()) thread.join();
  }
};

class ClusterPartitionTest : public EtcdNodesTest {
 protected:
  ClusterPartitionTest() : EtcdNodesTest(kPartitionCluster, kPartitionVBuckets) {}
  ~ClusterPartitionTest() override { prober_.Join(); }

  std::optional<cluster::ClusterMap> PartitionMap() {
    auto kv = etcd_client_->Get(cluster::ClusterKeys(kPartitionCluster).Map("default"));
    if (!kv.ok()) return std::nullopt;
    auto map = cluster::ClusterMap::Parse(kv->value, kPartitionVBuckets);
    EXPECT_TRUE(map.ok()) << map.status().ToString();
    if (!map.ok()) return std::nullopt;
    return *map;
  }

  std::optional<cluster::MemberValue> MemberOf(const std::string& id) {
    auto kv = etcd_client_->Get(cluster::ClusterKeys(kPartitionCluster).Member(id));
    if (!kv.ok()) return std::nullopt;
    auto value = cluster::ParseMemberValue(kv->value);
    return value.ok() ? std::optional(*value) : std::nullopt;
  }

  size_t IndexOfNode(const std::string& id) const {
    return static_cast<size_t>(std::find(ids_.begin(), ids_.end(), id) - ids_.begin());
  }

  // Writes `key` = `value` on `conn` until it is acknowledged (the node may not have applied the
  // map yet, or be fenced for a moment); the last answer.
  McbpStatus WriteUntilTaken(client::Connection& conn, const std::string& key,
                             const std::string& value, bool durable) {
    McbpStatus last = kNoAnswer;
    PollUntil([&] {
      client::MutationOptions options;
      if (durable) {
        options.durability = protocol::DurabilityRequirement{protocol::DurabilityLevel::kMajority};
      }
      auto r = conn.Set(key, value, options);
      last = r.ok() ? r->status : kNoAnswer;
      return last == McbpStatus::kSuccess;
    });
    return last;
  }

  // The vbucket-seqno stats of node i for every vbucket (empty on error).
  std::map<Vbid, cluster::VbucketSeqnos> Seqnos(size_t i) {
    auto conn = Connect(i);
    if (!conn) return {};
    auto stats = conn->Stats("vbucket-seqno");
    if (!stats.ok()) return {};
    std::vector<Vbid> all;
    for (Vbid vb = 0; vb < kPartitionVBuckets; ++vb) all.push_back(vb);
    return cluster::SeqnosFromVbucketSeqnoStats(*stats, all);
  }

  // GET_REPLICA of `key` (in `vb`) on node i.
  client::Response GetReplica(size_t i, Vbid vb, const std::string& key) {
    auto conn = Connect(i);
    if (!conn) return {};
    return Exec(*conn, {.opcode = Opcode::kGetReplica, .vbucket = vb, .key = key});
  }

  Prober prober_;
};

TEST_F(ClusterPartitionTest, AStoppedNodeIsFailedOverNeverTakesAWriteAndRejoinsAsAReplica) {
  StartNodes({"a", "b", "c"}, kPartitionTtl);
  ASSERT_FALSE(HasFatalFailure());
  InitCluster("a,b,c", 2);
  ASSERT_FALSE(HasFatalFailure());
  const cluster::ClusterKeys keys(kPartitionCluster);
  ASSERT_TRUE(etcd_client_->Put(keys.Settings(), R"({"auto_failover_timeout":1})").ok());
  const auto before = PartitionMap();
  ASSERT_TRUE(before.has_value());

  // A durable (majority) write per vbucket on its active: on all three nodes once acknowledged.
  std::vector<std::unique_ptr<client::Connection>> conns;
  for (size_t i = 0; i < 3; ++i) conns.push_back(Connect(i));
  for (auto& c : conns) ASSERT_NE(c, nullptr);
  for (Vbid vb = 0; vb < kPartitionVBuckets; ++vb) {
    const std::string key = PartitionKey("pre-", vb);
    ASSERT_EQ(WriteUntilTaken(*conns[IndexOfNode(before->ActiveOf(vb).id)], key, "v-" + key, true),
              McbpStatus::kSuccess)
        << key;
  }
  std::vector<Vbid> a_active;
  for (Vbid vb = 0; vb < kPartitionVBuckets; ++vb) {
    if (before->ActiveOf(vb).id == "a") a_active.push_back(vb);
  }
  ASSERT_FALSE(a_active.empty());

  // Every node holds every write before the partition (a majority write needs one replica of
  // two): the same high seqno everywhere.
  ASSERT_TRUE(PollUntil(
      [&] {
        const auto on_a = Seqnos(kA), on_b = Seqnos(kB), on_c = Seqnos(kC);
        for (Vbid vb = 0; vb < kPartitionVBuckets; ++vb) {
          if (!on_a.count(vb) || !on_b.count(vb) || !on_c.count(vb) ||
              on_a.at(vb).high_seqno != on_b.at(vb).high_seqno ||
              on_a.at(vb).high_seqno != on_c.at(vb).high_seqno) {
            return false;
          }
        }
        return true;
      },
      kWaitTimeout, 50ms))
      << "the replicas did not catch up before the partition";

  // Writes only a has: its replicas b and c are stopped (cleanly: everything they had is on
  // disk); a keeps serving (a failover of b or c would leave a minority: refused).
  ASSERT_EQ(nodes_[kB]->Stop(), 0);
  ASSERT_EQ(nodes_[kC]->Stop(), 0);
  for (Vbid vb : a_active) {
    const std::string key = PartitionKey("local-", vb);
    ASSERT_EQ(WriteUntilTaken(*conns[kA], key, "only-on-a", false), McbpStatus::kSuccess) << key;
  }

  // The partition: a stopped; b and c back. The manager (b or c) fails a over.
  auto probe_conn = Connect(kA);  // opened now: a answers nothing while stopped
  ASSERT_NE(probe_conn, nullptr);
  conns.clear();
  const pid_t a_pid = nodes_[kA]->pid();
  ASSERT_EQ(::kill(a_pid, SIGSTOP), 0);
  ContinueOnExit continue_a{a_pid};
  const auto stopped_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(nodes_[kB]->Start()) << nodes_[kB]->error();
  ASSERT_TRUE(nodes_[kC]->Start()) << nodes_[kC]->error();
  ASSERT_TRUE(PollUntil([&] {
    auto member = MemberOf("a");
    auto map = PartitionMap();
    return member && member->status == cluster::MemberStatus::kFailedOver && map &&
           map->FindNode("a") == nullptr;
  })) << "a was not failed over";
  EXPECT_TRUE(MemberOf("a")->auto_failover);
  // The issue's partition lasts 10 s: the failover came first; the rest of the time is waited
  // out, a scenario's length rather than a wait for a condition.
  std::this_thread::sleep_until(stopped_at + kStoppedAtLeast);

  // a continues; from now on every write it answers must be refused.
  ASSERT_EQ(::kill(a_pid, SIGCONT), 0);
  prober_.Start(std::move(probe_conn), a_active);

  // The manager re-adds a: member active, a replica in every chain, active nowhere.
  std::optional<cluster::ClusterMap> after;
  ASSERT_TRUE(PollUntil([&] {
    auto member = MemberOf("a");
    after = PartitionMap();
    if (!member || member->status != cluster::MemberStatus::kActive || !after) return false;
    for (Vbid vb = 0; vb < kPartitionVBuckets; ++vb) {
      if (after->RoleOf("a", vb) != VBucketState::kReplica) return false;
    }
    return true;
  })) << "a was not re-added as a replica";

  // a's vbuckets converge with the actives: same uuid (a adopted the active's history) and high
  // seqno.
  std::map<Vbid, cluster::VbucketSeqnos> on_a, on_active;
  EXPECT_TRUE(PollUntil(
      [&] {
        on_a = Seqnos(kA);
        for (Vbid vb = 0; vb < kPartitionVBuckets; ++vb) {
          auto active = Seqnos(IndexOfNode(after->ActiveOf(vb).id));
          if (!on_a.count(vb) || !active.count(vb)) return false;
          on_active[vb] = active[vb];
          if (on_a[vb].uuid != active[vb].uuid || on_a[vb].high_seqno != active[vb].high_seqno) {
            return false;
          }
        }
        return true;
      },
      kWaitTimeout, 100ms))
      << "a's replicas did not converge with the new actives";

  // What a serves as a replica: the keys written before the partition, not its local ones.
  for (Vbid vb = 0; vb < kPartitionVBuckets; ++vb) {
    const std::string pre = PartitionKey("pre-", vb);
    const client::Response got = GetReplica(kA, vb, pre);
    EXPECT_EQ(got.status, McbpStatus::kSuccess) << pre << " on a's replica of vb " << vb;
    EXPECT_EQ(got.value, "v-" + pre);
  }
  for (Vbid vb : a_active) {
    const std::string local = PartitionKey("local-", vb);
    EXPECT_EQ(GetReplica(kA, vb, local).status, McbpStatus::kKeyEnoent)
        << local << " (written only on a before the partition) is still on a";
    auto active = Connect(IndexOfNode(after->ActiveOf(vb).id));
    ASSERT_NE(active, nullptr);
    EXPECT_EQ(Must(active->Get(local)).status, McbpStatus::kKeyEnoent) << local;
  }

  // Durable (majority) writes work again, on every vbucket, and reach a's replicas.
  for (Vbid vb = 0; vb < kPartitionVBuckets; ++vb) {
    const std::string key = PartitionKey("post-", vb);
    auto active = Connect(IndexOfNode(after->ActiveOf(vb).id));
    ASSERT_NE(active, nullptr);
    EXPECT_EQ(WriteUntilTaken(*active, key, "v-" + key, true), McbpStatus::kSuccess) << key;
    EXPECT_TRUE(PollUntil([&] { return GetReplica(kA, vb, key).status == McbpStatus::kSuccess; }))
        << key << " did not reach a's replica of vb " << vb;
  }

  // The prober ran from the SIGCONT to here: nothing accepted, and none of its keys anywhere.
  const int64_t at_least = prober_.attempts.load() + 100;
  EXPECT_TRUE(
      PollUntil([&] { return prober_.attempts.load() >= at_least || prober_.broken.load(); }));
  prober_.Join();
  EXPECT_EQ(prober_.transport_error, "");
  EXPECT_TRUE(prober_.accepted.empty())
      << prober_.accepted.size() << " writes accepted by a after the partition, the first "
      << prober_.accepted.front();
  for (const auto& [status, n] : prober_.answers) {
    EXPECT_TRUE(status == McbpStatus::kEtmpfail || status == McbpStatus::kNotMyVbucket)
        << n << " probe writes answered " << protocol::McbpStatusName(status);
  }
  for (int64_t i = 0; i < std::min<int64_t>(prober_.attempts.load(), 64); ++i) {
    const std::string key = "probe-" + std::to_string(i);
    const Vbid vb = a_active[i % a_active.size()];
    auto active = Connect(IndexOfNode(after->ActiveOf(vb).id));
    ASSERT_NE(active, nullptr);
    EXPECT_EQ(Must(active->Get(key, {.vbucket = vb})).status, McbpStatus::kKeyEnoent) << key;
    EXPECT_EQ(GetReplica(kA, vb, key).status, McbpStatus::kKeyEnoent) << key;
  }

  auto a_conn = Connect(kA);
  ASSERT_NE(a_conn, nullptr);
  auto a_stats = FetchStats(*a_conn);
  ASSERT_TRUE(a_stats.ok());
  std::printf(
      "[ figure ] partition: %lld probe writes to a after SIGCONT, %lld TMPFAIL, %lld "
      "NOT_MY_VBUCKET; a's ep_rollback_count %llu, ep_rollback_resets %llu\n",
      static_cast<long long>(prober_.attempts.load()),
      static_cast<long long>(prober_.answers[McbpStatus::kEtmpfail]),
      static_cast<long long>(prober_.answers[McbpStatus::kNotMyVbucket]),
      static_cast<unsigned long long>(StatU64(*a_stats, "ep_rollback_count").value_or(0)),
      static_cast<unsigned long long>(StatU64(*a_stats, "ep_rollback_resets").value_or(0)));
  std::fflush(stdout);
}

}  // namespace
}  // namespace sluice::testing
