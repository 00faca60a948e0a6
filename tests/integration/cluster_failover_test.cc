// Integration: a cluster that runs itself (docs/cluster.md). Three sluiced nodes with --etcd
// against a real etcd the test starts; `sluice cluster init` forms the cluster; nobody but the
// elected manager inside the nodes writes the map afterwards.
//   - Automatic failover: node c is SIGKILLed; once its registration's lease expires and
//     auto_failover_timeout (1 s) passes, the manager promotes c's replicas, writes c out of the
//     map and marks it failed_over; every key written before the kill (durable `majority` writes,
//     acknowledged) is on the new actives, which take writes; the time from the kill to the first
//     successful write to an affected vbucket is printed (a figure, never a pass/fail timing:
//     bench/ measures the distribution).
//   - `sluice cluster status --json` reports the failover.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>

#include "cluster/cluster_keys.h"
#include "cluster/cluster_map.h"
#include "protocol/status.h"
#include "testing/etcd_test_util.h"
#include "testing/wire_util.h"
#include "tests/integration/etcd_nodes_test_util.h"

namespace sluice::testing {
namespace {

using cluster::Eventually;
using protocol::McbpStatus;
using Json = nlohmann::json;
using namespace std::chrono_literals;

constexpr uint32_t kVBuckets = 8;
constexpr const char* kCluster = "ft";
#ifdef SLUICE_SANITIZER_BUILD
constexpr int kTtl = 2;
#else
constexpr int kTtl = 1;
#endif

class ClusterFailoverTest : public EtcdNodesTest {
 protected:
  ClusterFailoverTest() : EtcdNodesTest(kCluster, kVBuckets) {}

  // The map in etcd, parsed (nullopt while there is none).
  std::optional<cluster::ClusterMap> Map() {
    auto kv = etcd_client_->Get(cluster::ClusterKeys(kCluster).Map("default"));
    if (!kv.ok()) return std::nullopt;
    auto map = cluster::ClusterMap::Parse(kv->value, kVBuckets);
    EXPECT_TRUE(map.ok()) << map.status().ToString();
    if (!map.ok()) return std::nullopt;
    return *map;
  }

  size_t IndexOf(const std::string& id) const {
    return static_cast<size_t>(std::find(ids_.begin(), ids_.end(), id) - ids_.begin());
  }
};

TEST_F(ClusterFailoverTest, AKilledNodeIsFailedOverAndNoAcknowledgedDurableWriteIsLost) {
  StartNodes({"a", "b", "c"}, kTtl);
  ASSERT_FALSE(HasFatalFailure());
  InitCluster("a,b,c", 1);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(
      etcd_client_->Put(cluster::ClusterKeys(kCluster).Settings(), R"({"auto_failover_timeout":1})")
          .ok());
  const auto before = Map();
  ASSERT_TRUE(before.has_value());

  // A durable (majority) write per vbucket on its active: acknowledged only once its replica has
  // it. The nodes apply the map asynchronously: retry until the active takes it.
  std::map<Vbid, std::string> keys;
  for (Vbid vb = 0; vb < kVBuckets; ++vb) {
    std::string key;
    for (int i = 0;; ++i) {
      key = "fo-" + std::to_string(i);
      if (VBucketForKey(key, kVBuckets) == vb) break;
    }
    auto conn = Connect(IndexOf(before->ActiveOf(vb).id));
    ASSERT_NE(conn, nullptr);
    McbpStatus last = McbpStatus::kEinval;
    EXPECT_TRUE(Eventually([&] {
      client::MutationOptions durable;
      durable.durability = protocol::DurabilityRequirement{protocol::DurabilityLevel::kMajority};
      auto r = conn->Set(key, "v-" + key, durable);
      last = r.ok() ? r->status : McbpStatus::kEinval;
      return last == McbpStatus::kSuccess;
    })) << "durable write of "
        << key << " on vb " << vb << ": " << protocol::McbpStatusName(last);
    keys[vb] = key;
  }

  // Kill c; the manager (on a or b) fails it over.
  std::set<Vbid> affected;
  for (Vbid vb = 0; vb < kVBuckets; ++vb) {
    if (before->ActiveOf(vb).id == "c") affected.insert(vb);
  }
  ASSERT_FALSE(affected.empty());
  const auto killed_at = std::chrono::steady_clock::now();
  nodes_[2]->Kill();
  std::optional<cluster::ClusterMap> after;
  ASSERT_TRUE(Eventually([&] {
    after = Map();
    if (!after) return false;
    for (Vbid vb = 0; vb < kVBuckets; ++vb) {
      for (const auto& node : after->ChainOf(vb)) {
        if (node && *node == "c") return false;
      }
    }
    return true;
  })) << "c was not written out of the map";

  // Every acknowledged durable write is on the new active, which takes writes.
  std::optional<std::chrono::milliseconds> first_write;
  for (Vbid vb : affected) {
    const std::string& active = after->ActiveOf(vb).id;
    ASSERT_NE(active, "c");
    auto conn = Connect(IndexOf(active));
    ASSERT_NE(conn, nullptr);
    // The acknowledged durable write is there; then the vbucket takes a new write.
    // (GET answers NOT_MY_VBUCKET until the node has applied the new map.)
    std::string value;
    McbpStatus status = McbpStatus::kNotMyVbucket;
    EXPECT_TRUE(Eventually([&] {
      auto got = conn->Get(keys[vb]);
      status = got.ok() ? got->status : McbpStatus::kNotMyVbucket;
      if (got.ok()) value = got->value;
      return status != McbpStatus::kNotMyVbucket;
    }));
    EXPECT_EQ(status, McbpStatus::kSuccess) << keys[vb] << " lost on vb " << vb;
    EXPECT_EQ(value, "v-" + keys[vb]);
    EXPECT_TRUE(Eventually([&] {
      auto r = conn->Set(keys[vb], "after");
      if (r.ok() && r->status == McbpStatus::kSuccess && !first_write) {
        first_write = std::chrono::duration_cast<std::chrono::milliseconds>(
            std::chrono::steady_clock::now() - killed_at);
      }
      return r.ok() && r->status == McbpStatus::kSuccess;
    })) << "vb "
        << vb << " on " << active << " does not take writes";
  }
  if (first_write) {
    std::printf("[ figure ] kill -> first write to an affected vbucket: %lld ms (ttl %d s)\n",
                static_cast<long long>(first_write->count()), kTtl);
  }

  std::string out;
  ASSERT_EQ(RunCli("cluster status --json " + EtcdFlags(), &out), 0) << out;
  const Json status = Json::parse(out, nullptr, false);
  ASSERT_FALSE(status.is_discarded()) << out;
  EXPECT_NE(out.find("failed_over"), std::string::npos) << out;
}

// The number of failover-log entries of `vb` on the node `conn` reaches (STAT failovers).
std::optional<int> FailoverEntries(client::Connection& conn, Vbid vb) {
  auto stats = conn.Stats("failovers " + std::to_string(vb));
  if (!stats.ok()) return std::nullopt;
  for (const auto& [k, v] : *stats) {
    if (k == "vb_" + std::to_string(vb) + ":num_entries") return std::stoi(v);
  }
  return std::nullopt;
}

// The manager's node dies: another node is elected (its election lease ran out with the node's),
// fails the dead node over, and each of its vbuckets is promoted exactly once (one new
// failover-log entry on its new active, one active per chain).
TEST_F(ClusterFailoverTest, AKilledManagerIsReplacedAndNothingIsPromotedTwice) {
  StartNodes({"a", "b", "c"}, kTtl);
  ASSERT_FALSE(HasFatalFailure());
  InitCluster("a,b,c", 1);
  ASSERT_FALSE(HasFatalFailure());
  ASSERT_TRUE(
      etcd_client_->Put(cluster::ClusterKeys(kCluster).Settings(), R"({"auto_failover_timeout":1})")
          .ok());
  const std::string manager_key = cluster::ClusterKeys(kCluster).Manager();
  std::string manager;
  ASSERT_TRUE(Eventually([&] {
    auto kv = etcd_client_->Get(manager_key);
    if (!kv.ok()) return false;
    manager = kv->value;
    return !manager.empty();
  })) << "no manager elected";
  const auto before = Map();
  ASSERT_TRUE(before.has_value());
  // Every replica has caught up with its active (one write per vbucket, then equal seqnos), so
  // the failover has a replica to promote for each of the manager's vbuckets.
  std::set<Vbid> affected;
  std::map<Vbid, int> entries_before;  // on the replica that will be promoted
  for (Vbid vb = 0; vb < kVBuckets; ++vb) {
    if (before->ActiveOf(vb).id != manager) continue;
    affected.insert(vb);
    const auto& chain = before->ChainOf(vb);
    ASSERT_GE(chain.size(), 2u);
    ASSERT_TRUE(chain[1].has_value());
    auto replica = Connect(IndexOf(*chain[1]));
    ASSERT_NE(replica, nullptr);
    std::optional<int> n;
    ASSERT_TRUE(Eventually([&] { return (n = FailoverEntries(*replica, vb)).has_value(); }));
    entries_before[vb] = *n;
  }
  ASSERT_FALSE(affected.empty()) << manager << " holds no active vbucket";

  const auto killed_at = std::chrono::steady_clock::now();
  nodes_[IndexOf(manager)]->Kill();
  std::string successor;
  ASSERT_TRUE(Eventually([&] {
    auto kv = etcd_client_->Get(manager_key);
    if (!kv.ok()) return false;
    successor = kv->value;
    return !successor.empty() && successor != manager;
  })) << "no node took over from the killed manager "
      << manager;
  std::printf("[ figure ] manager %s killed -> %s elected: %lld ms (ttl %d s)\n", manager.c_str(),
              successor.c_str(),
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - killed_at)
                                         .count()),
              kTtl);

  std::optional<cluster::ClusterMap> after;
  ASSERT_TRUE(Eventually([&] {
    after = Map();
    if (!after) return false;
    for (Vbid vb = 0; vb < kVBuckets; ++vb) {
      for (const auto& node : after->ChainOf(vb)) {
        if (node && *node == manager) return false;
      }
    }
    return true;
  })) << "the killed manager "
      << manager << " was not written out of the map";
  for (Vbid vb : affected) {
    const std::string active = after->ActiveOf(vb).id;
    EXPECT_EQ(active, *before->ChainOf(vb)[1]) << "vb " << vb << ": not its replica promoted";
    auto conn = Connect(IndexOf(active));
    ASSERT_NE(conn, nullptr);
    // Promoted once: one failover entry more, also after the map settled (no second promotion).
    std::optional<int> n;
    EXPECT_TRUE(Eventually([&] {
      n = FailoverEntries(*conn, vb);
      return n.has_value() && *n > entries_before[vb];
    })) << "vb "
        << vb << " was not promoted on " << active;
    auto settled = Map();
    ASSERT_TRUE(settled.has_value());
    EXPECT_EQ(settled->ActiveOf(vb).id, active);
    EXPECT_EQ(FailoverEntries(*conn, vb), std::optional<int>(entries_before[vb] + 1))
        << "vb " << vb << " promoted more than once on " << active;
  }
}

// The one multi-node test at the full vbucket count (the others use few: the count does not
// matter to them): three nodes of 1024 vbuckets formed by `sluice cluster init`, every node
// serving the same config, and every vbucket's write reaching its replica.
class FullSizeClusterTest : public EtcdNodesTest {
 protected:
  static constexpr uint32_t kFullVBuckets = 1024;
  FullSizeClusterTest() : EtcdNodesTest(kCluster, kFullVBuckets) {}
};

TEST_F(FullSizeClusterTest, ThreeNodesOf1024VBucketsServeOneConfigAndReplicateEveryVBucket) {
  StartNodes({"a", "b", "c"}, kTtl);
  ASSERT_FALSE(HasFatalFailure());
  InitCluster("a,b,c", 1);
  ASSERT_FALSE(HasFatalFailure());
  auto kv = etcd_client_->Get(cluster::ClusterKeys(kCluster).Map("default"));
  ASSERT_TRUE(kv.ok()) << kv.status().ToString();
  auto map = cluster::ClusterMap::Parse(kv->value, kFullVBuckets);
  ASSERT_TRUE(map.ok()) << map.status().ToString();
  const int64_t rev = kv->mod_revision;

  std::array<std::unique_ptr<client::Connection>, 3> conns;
  for (size_t i = 0; i < conns.size(); ++i) {
    conns[i] = Connect(i);
    ASSERT_NE(conns[i], nullptr);
    // Every node serves the map's revision.
    int64_t served = 0;
    EXPECT_TRUE(Eventually([&] {
      auto r = conns[i]->GetClusterConfig();
      if (!r.ok() || r->status != McbpStatus::kSuccess) return false;
      served = Json::parse(r->value, nullptr, false).value("rev", int64_t{0});
      return served == rev;
    })) << ids_[i]
        << " serves rev " << served << ", not " << rev;
  }
  auto index_of = [&](const std::string& id) {
    return static_cast<size_t>(std::find(ids_.begin(), ids_.end(), id) - ids_.begin());
  };
  // A key per vbucket, written on its active (retried while the node applies the map).
  std::vector<std::string> keys(kFullVBuckets);
  size_t found = 0;
  for (int i = 0; found < kFullVBuckets; ++i) {
    const std::string key = "full-" + std::to_string(i);
    std::string& slot = keys[VBucketForKey(key, kFullVBuckets)];
    if (slot.empty()) {
      slot = key;
      ++found;
    }
  }
  for (Vbid vb = 0; vb < kFullVBuckets; ++vb) {
    client::Connection& active = *conns[index_of(map->ActiveOf(vb).id)];
    McbpStatus last = McbpStatus::kEinval;
    ASSERT_TRUE(Eventually([&] {
      auto r = active.Set(keys[vb], "v-" + keys[vb]);
      last = r.ok() ? r->status : McbpStatus::kEinval;
      return last == McbpStatus::kSuccess;
    })) << "vb "
        << vb << ": " << protocol::McbpStatusName(last);
  }
  // Each reached its replica.
  for (Vbid vb = 0; vb < kFullVBuckets; ++vb) {
    const auto& replica_id = map->ChainOf(vb)[1];
    ASSERT_TRUE(replica_id.has_value()) << "vb " << vb;
    client::Connection& replica = *conns[index_of(*replica_id)];
    EXPECT_TRUE(Eventually([&] {
      auto r =
          Exec(replica, {.opcode = protocol::Opcode::kGetReplica, .vbucket = vb, .key = keys[vb]});
      return r.status == McbpStatus::kSuccess && r.value == "v-" + keys[vb];
    })) << "vb "
        << vb << " on " << *replica_id;
  }
}

}  // namespace
}  // namespace sluice::testing
