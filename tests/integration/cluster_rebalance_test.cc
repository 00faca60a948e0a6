// Integration: rebalance in and out under a writer (docs/cluster.md, "Rebalance"). sluiced nodes
// with --etcd against a real etcd the test starts; `sluice cluster init/add/remove/rebalance`;
// the elected manager inside the nodes moves the vbuckets (backfill, takeover, switch).
//   - In: a and b hold data; c is added and the cluster rebalanced while a writer keeps writing
//     (following NOT_MY_VBUCKET and TMPFAIL through the map in etcd). Every acknowledged write is
//     readable at the end, the map is balanced over a, b, c with no move left, every node serves
//     the map's config rev, and c is active for its share.
//   - Out: b is removed and the cluster rebalanced under the writer: b holds every vbucket dead,
//     the map names a and c only, and no acknowledged write is lost.
//   - Graceful failover: `sluice cluster failover c --graceful` under the writer moves c's actives
//     to their replicas (the same moves) and then fails c over: no acknowledged write is lost.
// The rebalance's duration for the items written is printed (a figure; never pass/fail).
#include <sys/wait.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <regex>
#include <string>
#include <thread>

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
using Clock = std::chrono::steady_clock;

constexpr uint32_t kRebalanceVBuckets = 16;
constexpr const char* kRebalanceCluster = "rb";
constexpr int kTtl = 3;
constexpr int kPreload = 20000;

class ClusterRebalanceTest : public EtcdNodesTest {
 protected:
  ClusterRebalanceTest() : EtcdNodesTest(kRebalanceCluster, kRebalanceVBuckets) {}

  // The map in etcd and its mod_revision (nullopt while there is none).
  std::optional<std::pair<cluster::ClusterMap, int64_t>> Map() {
    auto kv = etcd_client_->Get(cluster::ClusterKeys(kRebalanceCluster).Map("default"));
    if (!kv.ok()) return std::nullopt;
    auto map = cluster::ClusterMap::Parse(kv->value, kRebalanceVBuckets);
    EXPECT_TRUE(map.ok()) << map.status().ToString();
    if (!map.ok()) return std::nullopt;
    return std::make_pair(*map, kv->mod_revision);
  }

  size_t IndexOf(const std::string& id) const {
    return static_cast<size_t>(std::find(ids_.begin(), ids_.end(), id) - ids_.begin());
  }

  // A writer's view: connections to each node (reopened after an error) and the map it last read
  // from etcd (re-read after a write was refused), as a smart client's config.
  struct Route {
    std::vector<std::unique_ptr<client::Connection>> conns;
    std::optional<cluster::ClusterMap> map;
  };

  // Writes `key` on its vbucket's active as the map in etcd names it, following NOT_MY_VBUCKET
  // and TMPFAIL (re-reading the map) until acknowledged or a minute passed. Counts the retries.
  bool WriteFollowingMap(Route& route, const std::string& key, int64_t* retries,
                         std::string* last) {
    const auto deadline = Clock::now() + std::chrono::seconds(60);
    const Vbid vb = VBucketForKey(key, kRebalanceVBuckets);
    route.conns.resize(ids_.size());
    while (Clock::now() < deadline) {
      if (!route.map) {
        auto map = Map();
        if (!map) continue;
        route.map = std::move(map->first);
      }
      const size_t i = IndexOf(route.map->ActiveOf(vb).id);
      if (i >= ids_.size()) return false;
      auto& conn = route.conns[i];
      if (!conn) conn = Connect(i);
      if (!conn) return false;
      auto r = conn->Set(key, "v-" + key);
      if (r.ok() && r->status == McbpStatus::kSuccess) return true;
      if (!r.ok()) conn.reset();
      *last = r.ok() ? std::string(protocol::McbpStatusName(r->status)) : r.status().ToString();
      ++*retries;
      route.map.reset();
      // The node has not applied the newest map yet, or the vbucket is in its takeover.
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return false;
  }

  // A writer thread writing w-0, w-1, ... until stopped; the acknowledged count.
  struct Writer {
    std::atomic<bool> stop{false};
    std::atomic<int64_t> acked{0};
    int64_t retries = 0;
    std::string failure;
    std::thread thread;
  };
  void StartWriter(Writer* w, const std::string& prefix) {
    w->thread = std::thread([this, w, prefix] {
      Route route;
      std::string last;
      for (int64_t i = 0; !w->stop.load(); ++i) {
        if (!WriteFollowingMap(route, prefix + std::to_string(i), &w->retries, &last)) {
          w->failure = prefix + std::to_string(i) + " never acknowledged: " + last;
          return;
        }
        w->acked.store(i + 1);
      }
    });
  }

  // Every key `prefix`0 .. `prefix`(n-1) reads back from its active per the map.
  void ExpectAllReadable(const std::string& prefix, int64_t n) {
    auto map = Map();
    ASSERT_TRUE(map.has_value());
    std::vector<std::unique_ptr<client::Connection>> conns;
    for (size_t i = 0; i < ids_.size(); ++i) conns.push_back(Connect(i));
    int64_t lost = 0;
    for (int64_t k = 0; k < n; ++k) {
      const std::string key = prefix + std::to_string(k);
      const size_t i = IndexOf(map->first.ActiveOf(VBucketForKey(key, kRebalanceVBuckets)).id);
      std::optional<client::KvResult> got;
      EXPECT_TRUE(Eventually([&] {  // NOT_MY_VBUCKET until the node has applied the map
        auto r = conns[i]->Get(key);
        if (r.ok() && r->status != McbpStatus::kNotMyVbucket) got = *r;
        return got.has_value();
      })) << key;
      if (!got || got->status != McbpStatus::kSuccess || got->value != "v-" + key) ++lost;
    }
    EXPECT_EQ(lost, 0) << "acknowledged writes lost out of " << n;
  }

  // Runs `sluice cluster rebalance` while a writer writes `prefix`N; returns the seconds taken.
  double RebalanceUnderWriter(const std::string& prefix, int64_t* acked) {
    Writer writer;
    StartWriter(&writer, prefix);
    EXPECT_TRUE(Eventually([&] { return writer.acked.load() >= 100 || !writer.failure.empty(); }));
    const auto start = Clock::now();
    std::string out;
    EXPECT_EQ(RunCli("cluster rebalance --timeout 30 " + EtcdFlags(), &out), 0) << out;
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    EXPECT_NE(out.find("rebalance done"), std::string::npos) << out;
    const int64_t at_end = writer.acked.load();  // a few more writes after the switch
    EXPECT_TRUE(
        Eventually([&] { return writer.acked.load() >= at_end + 100 || !writer.failure.empty(); }));
    writer.stop = true;
    writer.thread.join();
    EXPECT_EQ(writer.failure, "");
    *acked = writer.acked.load();
    std::printf(
        "[ figure ] rebalance under a writer (%d items preloaded, %u vbuckets): %.2f s; %lld "
        "writes acknowledged meanwhile, %lld retried (TMPFAIL / NOT_MY_VBUCKET / map not "
        "applied yet)\n",
        kPreload, kRebalanceVBuckets, seconds, static_cast<long long>(*acked),
        static_cast<long long>(writer.retries));
    std::fflush(stdout);
    return seconds;
  }

  // Every node serves the map's rev; the map has no move left and is balanced over `members`.
  void ExpectSettled(const std::vector<std::string>& members) {
    auto map = Map();
    ASSERT_TRUE(map.has_value());
    EXPECT_TRUE(map->first.moves().empty());
    ASSERT_EQ(map->first.nodes().size(), members.size());
    std::map<std::string, size_t> actives, replicas;
    for (Vbid vb = 0; vb < kRebalanceVBuckets; ++vb) {
      const auto& chain = map->first.ChainOf(vb);
      ++actives[*chain[0]];
      ASSERT_TRUE(chain[1].has_value());
      EXPECT_NE(*chain[1], *chain[0]);
      ++replicas[*chain[1]];
    }
    for (const auto& id : members) {
      EXPECT_GE(actives[id], kRebalanceVBuckets / members.size()) << id;
      EXPECT_LE(actives[id], kRebalanceVBuckets / members.size() + 1) << id;
      EXPECT_GE(replicas[id], kRebalanceVBuckets / members.size()) << id;
      EXPECT_LE(replicas[id], kRebalanceVBuckets / members.size() + 1) << id;
    }
    for (size_t i = 0; i < ids_.size(); ++i) {
      auto conn = Connect(i);
      ASSERT_NE(conn, nullptr);
      int64_t rev = 0;
      EXPECT_TRUE(Eventually([&] {
        auto config = conn->GetClusterConfig();
        if (!config.ok() || config->status != McbpStatus::kSuccess) return false;
        const Json doc = Json::parse(config->value, nullptr, false);
        rev = doc.is_object() && doc.contains("rev") ? doc["rev"].get<int64_t>() : 0;
        return rev == map->second;
      })) << ids_[i]
          << " serves rev " << rev << ", the map's is " << map->second;
    }
  }
};

// Node i's console (/console/state.json on its metrics port, named on its stderr) reports the
// rebalance done, every planned move made.
void ExpectRebalanceDoneOnConsole(const ServerProcess& node) {
  static const std::regex kLine(R"(sluiced metrics on (http://[^ ]+):(\d+)/metrics)");
  std::smatch m;
  const std::string log = node.Log();
  ASSERT_TRUE(std::regex_search(log, m, kLine)) << "no metrics port in the log";
  const std::string url = m[1].str() + ":" + m[2].str() + "/console/state.json";
  Json rebalance;
  EXPECT_TRUE(Eventually([&] {
    std::string body;
    if (RunCommand("curl -sf " + url, &body) != 0) return false;
    const Json state = Json::parse(body, nullptr, false);
    if (state.is_discarded() || !state.contains("rebalance")) return false;
    rebalance = state["rebalance"];
    return rebalance.value("state", "") == "done";
  })) << url
      << ": " << rebalance.dump();
  EXPECT_FALSE(rebalance.value("running", true)) << rebalance.dump();
  EXPECT_GT(rebalance.value("moves_total", 0), 0) << rebalance.dump();
  EXPECT_EQ(rebalance.value("moves_done", -1), rebalance.value("moves_total", 0))
      << rebalance.dump();
}

TEST_F(ClusterRebalanceTest, AddANodeThenRemoveOneUnderAWriter) {
  StartNodes({"a", "b", "c"}, kTtl);
  ASSERT_FALSE(HasFatalFailure());
  std::string out;
  InitCluster("a,b", 1);
  ASSERT_FALSE(HasFatalFailure());
  {  // data on a and b before c joins
    Route route;
    int64_t retries = 0;
    std::string last;
    for (int i = 0; i < kPreload; ++i) {
      ASSERT_TRUE(WriteFollowingMap(route, "pre-" + std::to_string(i), &retries, &last)) << last;
    }
  }

  // In: c joins.
  out.clear();
  ASSERT_EQ(RunCli("cluster add c " + EtcdFlags(), &out), 0) << out;
  EXPECT_NE(out.find("pending_add"), std::string::npos) << out;
  int64_t acked_in = 0;
  RebalanceUnderWriter("in-", &acked_in);
  ExpectSettled({"a", "b", "c"});
  ExpectAllReadable("pre-", kPreload);
  ExpectAllReadable("in-", acked_in);
  out.clear();
  ASSERT_EQ(RunCli("cluster status --json " + EtcdFlags(), &out), 0) << out;
  const Json status = Json::parse(out, nullptr, false);
  ASSERT_FALSE(status.is_discarded()) << out;
  EXPECT_EQ(status["rebalance"]["state"], "done") << out;
  for (const auto& node : status["nodes"]) {
    EXPECT_EQ(node["status"], "active") << out;
    EXPECT_GE(node["active_vbuckets"].get<int>(), 5) << out;  // c holds its share
  }
  ExpectRebalanceDoneOnConsole(*nodes_[IndexOf("a")]);

  // Out: b leaves.
  out.clear();
  ASSERT_EQ(RunCli("cluster remove b " + EtcdFlags(), &out), 0) << out;
  EXPECT_NE(out.find("pending_remove"), std::string::npos) << out;
  int64_t acked_out = 0;
  RebalanceUnderWriter("out-", &acked_out);
  ExpectSettled({"a", "c"});
  auto conn_b = Connect(IndexOf("b"));
  ASSERT_NE(conn_b, nullptr);
  for (Vbid vb = 0; vb < kRebalanceVBuckets; ++vb) {
    EXPECT_TRUE(Eventually([&] {
      auto state = conn_b->GetVBucket(vb);
      return state.ok() && *state == VBucketState::kDead;
    })) << "vb "
        << vb << " on b";
  }
  ExpectAllReadable("pre-", kPreload);
  ExpectAllReadable("in-", acked_in);
  ExpectAllReadable("out-", acked_out);
  out.clear();
  ASSERT_EQ(RunCli("cluster status --json " + EtcdFlags(), &out), 0) << out;
  EXPECT_EQ(Json::parse(out, nullptr, false)["nodes"].size(), 3u) << out;  // b: registered only
}

TEST_F(ClusterRebalanceTest, AGracefulFailoverMovesTheActivesFirstUnderAWriter) {
  StartNodes({"a", "b", "c"}, kTtl);
  ASSERT_FALSE(HasFatalFailure());
  std::string out;
  InitCluster("a,b,c", 1);
  ASSERT_FALSE(HasFatalFailure());
  {
    Route route;
    int64_t retries = 0;
    std::string last;
    for (int i = 0; i < 2000; ++i) {
      ASSERT_TRUE(WriteFollowingMap(route, "pre-" + std::to_string(i), &retries, &last)) << last;
    }
  }
  Writer writer;
  StartWriter(&writer, "gf-");
  ASSERT_TRUE(Eventually([&] { return writer.acked.load() >= 100 || !writer.failure.empty(); }));
  out.clear();
  EXPECT_EQ(RunCli("cluster failover c --graceful " + EtcdFlags(), &out), 0) << out;
  EXPECT_NE(out.find("failed_over"), std::string::npos) << out;
  const int64_t at_end = writer.acked.load();
  EXPECT_TRUE(
      Eventually([&] { return writer.acked.load() >= at_end + 100 || !writer.failure.empty(); }));
  writer.stop = true;
  writer.thread.join();
  EXPECT_EQ(writer.failure, "");
  auto map = Map();
  ASSERT_TRUE(map.has_value());
  EXPECT_EQ(map->first.FindNode("c"), nullptr);
  EXPECT_TRUE(map->first.moves().empty());
  // The map just before the failover's (etcd keeps the history): c still in it, active for none.
  auto before = etcd_client_->Range(cluster::ClusterKeys(kRebalanceCluster).Map("default"),
                                    {.revision = map->second - 1});
  ASSERT_TRUE(before.ok() && before->kvs.size() == 1) << before.status().ToString();
  auto drained = cluster::ClusterMap::Parse(before->kvs[0].value, kRebalanceVBuckets);
  ASSERT_TRUE(drained.ok()) << drained.status().ToString();
  EXPECT_NE(drained->FindNode("c"), nullptr);
  EXPECT_TRUE(drained->moves().empty());
  for (Vbid vb = 0; vb < kRebalanceVBuckets; ++vb) EXPECT_NE(drained->ActiveOf(vb).id, "c") << vb;
  ExpectAllReadable("pre-", 2000);
  ExpectAllReadable("gf-", writer.acked.load());
  std::printf(
      "[ figure ] graceful failover under a writer: %lld writes acknowledged, %lld retried\n",
      static_cast<long long>(writer.acked.load()), static_cast<long long>(writer.retries));
  std::fflush(stdout);
}

}  // namespace
}  // namespace sluice::testing
