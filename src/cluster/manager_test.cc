// The cluster manager against a real etcd: managers run in this process, the nodes are faked by
// registrations under leases the test holds (LeaseKeeper) and a scripted SeqnoProbe.
#include "cluster/manager.h"

#include <gtest/gtest.h>

#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "cluster/map_planner.h"
#include "testing/etcd_test_util.h"
#include "testing/recorder.h"

namespace sluice::cluster {
namespace {

using testing::Recorder;

constexpr size_t kVbuckets = 8;
constexpr const char* kBucket = "default";

// Answers from a table; can hold its callers at a gate (a manager stuck mid-failover).
class ScriptedProbe : public SeqnoProbe {
 public:
  StatusOr<std::map<Vbid, VbucketSeqnos>> Probe(const NodeRegistration& node,
                                                const std::string& bucket,
                                                const std::vector<Vbid>& vbuckets) override
      EXCLUDES(mu_) {
    calls.Add(node.id);
    MutexLock lock(&mu_);
    entered_ = true;
    cv_.SignalAll();
    while (closed_) cv_.Wait(&mu_);
    std::map<Vbid, VbucketSeqnos> out;
    for (Vbid vb : vbuckets) {
      auto it = table_.find(node.id);
      if (it != table_.end() && bucket == kBucket) out[vb] = it->second;
    }
    return out;
  }
  // What a node would answer: the `rev` set by SetRevision (0 until then).
  StatusOr<int64_t> ConfigRevision(const NodeRegistration& node, const std::string& bucket) override
      EXCLUDES(mu_) {
    (void)node;
    (void)bucket;
    MutexLock lock(&mu_);
    return revision_;
  }
  void SetRevision(int64_t rev) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    revision_ = rev;
  }
  // Every vbucket of `node` reports `seqnos`.
  void Set(const std::string& node, VbucketSeqnos seqnos) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    table_[node] = seqnos;
  }
  void Close() EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    closed_ = true;
  }
  void Open() EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    closed_ = false;
    cv_.SignalAll();
  }
  bool AwaitEntered(std::chrono::milliseconds timeout) EXCLUDES(mu_) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    MutexLock lock(&mu_);
    while (!entered_) {
      if (!cv_.WaitUntil(&mu_, deadline)) return entered_;
    }
    return true;
  }

  Recorder<std::string> calls;

 private:
  Mutex mu_;
  CondVar cv_{&mu_};
  bool closed_ GUARDED_BY(mu_) = false;
  bool entered_ GUARDED_BY(mu_) = false;
  std::map<std::string, VbucketSeqnos> table_ GUARDED_BY(mu_);
  int64_t revision_ GUARDED_BY(mu_) = 0;
};

class ManagerTest : public EtcdTest {
 protected:
  ManagerTest() : keys_("c") {}

  // Registers nodes ids[i] at 127.0.0.1:(20000+i) under leases kept alive, and makes them the
  // cluster: members, epoch 1 and a map with `replicas` replicas.
  void FormCluster(const std::vector<std::string>& ids, size_t replicas) {
    std::vector<ClusterNode> nodes;
    for (size_t i = 0; i < ids.size(); ++i) {
      nodes.push_back({ids[i], "127.0.0.1", static_cast<uint16_t>(20000 + i)});
      Register(nodes.back());
      ASSERT_TRUE(client_->Put(keys_.Member(ids[i]), FormatMember(MemberStatus::kActive)).ok());
    }
    ASSERT_TRUE(client_->Put(keys_.Epoch(), "1").ok());
    initial_ = PlanInitialMap(ids, replicas, kVbuckets);
    ASSERT_TRUE(client_->Put(keys_.Map(kBucket), FormatMapValue(nodes, replicas, initial_)).ok());
  }

  void Register(const ClusterNode& node) {
    const std::string key = keys_.Node(node.id);
    const std::string value =
        FormatNodeRegistration({.id = node.id, .host = node.host, .port = node.port});
    auto keeper = std::make_unique<LeaseKeeper>(
        client_, LeaseKeeperOptions{.ttl = kTtl},
        LeaseKeeper::Callbacks{.on_granted = [this, key, value](int64_t lease) {
          EXPECT_TRUE(client_->Put(key, value, {.lease = lease}).ok());
        }});
    keeper->Start();
    ASSERT_TRUE(Eventually([&] { return KeyExists(key); }));
    nodes_[node.id] = std::move(keeper);
  }

  // The node dies: its lease is revoked, its registration vanishes.
  void Kill(const std::string& id) { ASSERT_TRUE(nodes_.at(id)->Stop().ok()); }

  std::unique_ptr<Manager> StartManager(const std::string& id,
                                        std::shared_ptr<ScriptedProbe> probe) {
    ManagerOptions options{.cluster = "c",
                           .node_id = id,
                           .election_ttl = kTtl,
                           .defaults = {.auto_failover_timeout = std::chrono::seconds(1),
                                        .auto_failover_max_count = 1},
                           .poll = std::chrono::milliseconds(50),
                           .retry = {.initial = std::chrono::milliseconds(50)}};
    auto manager = std::make_unique<Manager>(client_, options, std::move(probe));
    manager->Start();
    return manager;
  }

  std::optional<MemberStatus> Member(const std::string& id) {
    auto kv = client_->Get(keys_.Member(id));
    if (!kv.ok()) return std::nullopt;
    auto status = ParseMember(kv->value);
    return status.ok() ? std::optional(*status) : std::nullopt;
  }
  bool FailedOver(const std::string& id) { return Member(id) == MemberStatus::kFailedOver; }

  ClusterMap Map() {
    auto kv = client_->Get(keys_.Map(kBucket));
    EXPECT_TRUE(kv.ok());
    auto map = ParseMapValue(kv.ok() ? kv->value : "");
    EXPECT_TRUE(map.ok()) << map.status().ToString();
    return *map;
  }
  int64_t MapRevision() { return client_->Get(keys_.Map(kBucket))->mod_revision; }
  int64_t FailoverCount() {
    auto kv = client_->Get(keys_.FailoverCount());
    return kv.ok() ? *ParseCounter(kv->value) : 0;
  }

  // The map no longer names `id` anywhere.
  void ExpectOutOfMap(const std::string& id) {
    const ClusterMap map = Map();
    EXPECT_EQ(map.FindNode(id), nullptr);
    for (size_t vb = 0; vb < map.num_vbuckets(); ++vb) {
      EXPECT_EQ(map.RoleOf(id, static_cast<Vbid>(vb)), VBucketState::kDead);
    }
  }

  void TearDown() override {
    p1_->Open();  // a manager stuck in a probe could not stop
    p2_->Open();
    for (auto* m : {m1_.get(), m2_.get()}) {
      if (m) m->Stop();
    }
    for (auto& [id, keeper] : nodes_) keeper->Stop().IgnoreError();
  }

  ClusterKeys keys_;
  std::vector<TopologyChain> initial_;
  std::map<std::string, std::unique_ptr<LeaseKeeper>> nodes_;
  std::shared_ptr<ScriptedProbe> p1_ = std::make_shared<ScriptedProbe>();
  std::shared_ptr<ScriptedProbe> p2_ = std::make_shared<ScriptedProbe>();
  std::unique_ptr<Manager> m1_;
  std::unique_ptr<Manager> m2_;
};

TEST_F(ManagerTest, OneManagerLeads) {
  m1_ = StartManager("m1", p1_);
  m2_ = StartManager("m2", p2_);
  ASSERT_TRUE(Eventually([&] {
    return m1_->leadership().has_value() != m2_->leadership().has_value() &&
           Election::Leader(*client_, keys_.Manager()).ok();
  }));
  const std::string leader = m1_->leadership() ? "m1" : "m2";
  EXPECT_EQ(Election::Leader(*client_, keys_.Manager())->value, leader);
}

TEST_F(ManagerTest, AutomaticFailoverPromotesTheMostAdvancedReplica) {
  FormCluster({"a", "b", "c"}, 2);
  // c is ahead of b on every vbucket by its high prepared seqno, although behind on high seqno.
  p1_->Set("b", {.high_prepared_seqno = 5, .high_seqno = 100});
  p1_->Set("c", {.high_prepared_seqno = 6, .high_seqno = 50});
  m1_ = StartManager("m1", p1_);
  ASSERT_TRUE(Eventually([&] { return m1_->leadership().has_value(); }));
  const int64_t before = MapRevision();
  Kill("a");
  ASSERT_TRUE(Eventually([&] { return FailedOver("a"); }));
  EXPECT_GT(MapRevision(), before);
  ExpectOutOfMap("a");
  const ClusterMap map = Map();
  for (size_t vb = 0; vb < kVbuckets; ++vb) {
    if (*initial_[vb][0] == "a") {
      EXPECT_EQ(*map.ChainOf(static_cast<Vbid>(vb))[0], "c") << "vb " << vb;
    } else {
      EXPECT_EQ(map.ChainOf(static_cast<Vbid>(vb))[0], initial_[vb][0]) << "vb " << vb;
    }
  }
  EXPECT_EQ(FailoverCount(), 1);
  EXPECT_TRUE(Eventually([&] { return m1_->stats().failovers == 1; }));  // counted after the txn
  const auto asked = p1_->calls.values();
  EXPECT_NE(std::find(asked.begin(), asked.end(), "b"), asked.end());
  EXPECT_NE(std::find(asked.begin(), asked.end(), "c"), asked.end());
}

TEST_F(ManagerTest, MaxCountHonouredUntilReset) {
  FormCluster({"a", "b", "c", "d", "e"}, 1);
  m1_ = StartManager("m1", p1_);
  Kill("a");
  ASSERT_TRUE(Eventually([&] { return FailedOver("a"); }));
  Kill("b");  // 3 of 4 would stay alive: only the count stops it
  ASSERT_TRUE(Eventually([&] { return m1_->stats().refusals >= 1; }));
  EXPECT_EQ(Member("b"), MemberStatus::kActive);
  EXPECT_EQ(FailoverCount(), 1);
  ASSERT_TRUE(client_->Put(keys_.FailoverCount(), "0").ok());  // reset-failover-count
  ASSERT_TRUE(Eventually([&] { return FailedOver("b"); }));
  EXPECT_EQ(FailoverCount(), 1);
  ExpectOutOfMap("b");
}

TEST_F(ManagerTest, NeverIntoAMinority) {
  FormCluster({"a", "b", "c"}, 2);
  ASSERT_TRUE(
      client_
          ->Put(keys_.Settings(), FormatSettings({.auto_failover_timeout = std::chrono::seconds(1),
                                                  .auto_failover_max_count = 3}))
          .ok());
  Kill("a");
  Kill("b");
  const int64_t before = MapRevision();
  m1_ = StartManager("m1", p1_);
  ASSERT_TRUE(Eventually([&] { return m1_->stats().refusals >= 2; }));  // a and b each
  EXPECT_EQ(Member("a"), MemberStatus::kActive);
  EXPECT_EQ(Member("b"), MemberStatus::kActive);
  EXPECT_EQ(MapRevision(), before);
  EXPECT_EQ(m1_->stats().failovers, 0);
}

TEST_F(ManagerTest, ASecondManagerTakesOverAndNothingIsFailedOverTwice) {
  FormCluster({"a", "b", "c"}, 1);
  m1_ = StartManager("m1", p1_);
  ASSERT_TRUE(Eventually([&] { return m1_->leadership().has_value(); }));
  m2_ = StartManager("m2", p2_);
  Kill("a");
  ASSERT_TRUE(Eventually([&] { return FailedOver("a"); }));
  const int64_t rev = MapRevision();
  m1_->Stop();
  ASSERT_TRUE(Eventually([&] { return m2_->leadership().has_value(); }));
  // m2 has looked at the cluster for a full timeout once it refuses b (count reached, and 1 of 2
  // is no majority); a, already failed over, it leaves alone.
  Kill("b");
  ASSERT_TRUE(Eventually([&] { return m2_->stats().refusals >= 1; }));
  EXPECT_EQ(m2_->stats().failovers, 0);
  EXPECT_EQ(MapRevision(), rev);
  EXPECT_EQ(FailoverCount(), 1);
  EXPECT_EQ(m1_->stats().failovers, 1);
}

TEST_F(ManagerTest, ADeposedManagersFailoverIsRefused) {
  FormCluster({"a", "b", "c"}, 1);
  p1_->Close();  // m1 will be stuck probing, mid-failover
  m1_ = StartManager("m1", p1_);
  ASSERT_TRUE(Eventually([&] { return m1_->leadership().has_value(); }));
  const Leadership old_term = *m1_->leadership();
  m2_ = StartManager("m2", p2_);
  Kill("a");
  ASSERT_TRUE(p1_->AwaitEntered(kWait));
  // m1's term ends while it probes (its lease revoked, as when it hangs past its TTL).
  ASSERT_TRUE(client_->LeaseRevoke(old_term.lease).ok());
  ASSERT_TRUE(Eventually([&] {
    auto leader = Election::Leader(*client_, keys_.Manager());
    return leader.ok() && leader->create_revision > old_term.create_revision;
  }));
  p1_->Open();  // m1 resumes and writes with its old term
  // Whoever leads now (m2, or m1 in a new term) fails a over, once (the count is bumped after
  // the txn returns, so it is awaited too).
  ASSERT_TRUE(Eventually([&] {
    return m1_->stats().writes_refused >= 1 && FailedOver("a") &&
           m1_->stats().failovers + m2_->stats().failovers >= 1;
  }));
  EXPECT_EQ(m1_->stats().failovers + m2_->stats().failovers, 1);
  EXPECT_EQ(FailoverCount(), 1);
  ExpectOutOfMap("a");
}

TEST_F(ManagerTest, ARequestedFailoverIsHardAndNotCounted) {
  FormCluster({"a", "b", "c"}, 1);
  m1_ = StartManager("m1", p1_);
  ASSERT_TRUE(client_->Put(keys_.Member("b"), FormatMember(MemberStatus::kFailoverRequested)).ok());
  ASSERT_TRUE(Eventually([&] { return FailedOver("b"); }));
  ExpectOutOfMap("b");
  EXPECT_EQ(FailoverCount(), 0);
  EXPECT_TRUE(KeyExists(keys_.Node("b")));  // it was alive: a hard failover all the same
}

// A rebalance that adds c: the first manager plans it and starts moves, which cannot finish while
// c has not caught up; it stops (resigns) mid-rebalance, and the second manager continues the
// stored plan to the end: a balanced map over a, b, c, c active, every move counted once.
TEST_F(ManagerTest, ARebalanceIsResumedByTheNextManager) {
  FormCluster({"a", "b"}, 1);
  Register({"c", "127.0.0.1", 20002});
  ASSERT_TRUE(client_->Put(keys_.Member("c"), FormatMember(MemberStatus::kPendingAdd)).ok());
  for (auto* p : {p1_.get(), p2_.get()}) {
    p->Set("a", {.high_seqno = 100, .uuid = 7});
    p->Set("b", {.high_seqno = 100, .uuid = 7});
    p->Set("c", {.high_seqno = 0, .uuid = 0});            // not streaming yet: no move can advance
    p->SetRevision(std::numeric_limits<int64_t>::max());  // every node has applied every map
  }
  m1_ = StartManager("m1", p1_);
  ASSERT_TRUE(Eventually([&] { return m1_->leadership().has_value(); }));
  ASSERT_TRUE(client_->Put(keys_.Rebalance(), FormatRebalance(RebalanceStatus{})).ok());
  ASSERT_TRUE(Eventually([&] { return !Map().moves().empty(); }));
  const ClusterMap moving = Map();
  for (const auto& [vb, move] : moving.moves()) {
    EXPECT_EQ(move.phase, VbucketMove::Phase::kBackfill) << vb;
  }
  EXPECT_LE(moving.moves().size(), 4u);  // rebalance_moves_per_node: c is in every move
  m1_->Stop();
  m2_ = StartManager("m2", p2_);
  p2_->Set("c", {.high_seqno = 100, .uuid = 7});  // c caught up
  ASSERT_TRUE(Eventually([&] {
    auto kv = client_->Get(keys_.Rebalance());
    auto r = kv.ok() ? ParseRebalance(kv->value) : StatusOr<RebalanceStatus>(kv.status());
    return r.ok() && r->state == RebalanceStatus::State::kDone;
  }));
  auto done = ParseRebalance(client_->Get(keys_.Rebalance())->value);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->moves_done, done->moves_total);
  EXPECT_GT(done->moves_total, 0);
  EXPECT_EQ(Member("c"), MemberStatus::kActive);
  const ClusterMap map = Map();
  EXPECT_TRUE(map.moves().empty());
  EXPECT_EQ(map.nodes().size(), 3u);
  std::map<std::string, size_t> actives;
  for (size_t vb = 0; vb < map.num_vbuckets(); ++vb) {
    ++actives[*map.ChainOf(static_cast<Vbid>(vb))[0]];
    EXPECT_NE(map.ChainOf(static_cast<Vbid>(vb))[0], map.ChainOf(static_cast<Vbid>(vb))[1]);
  }
  EXPECT_GE(actives["c"], 2u);  // 8 vbuckets over 3 nodes: 3, 3, 2
  EXPECT_LE(actives["a"], 3u);
  EXPECT_LE(actives["b"], 3u);
  EXPECT_GT(m2_->stats().rebalance_writes, 0);
}

// a comes back while the manager is mid-failover (it read the cluster with a absent and is
// probing the replicas): a may already serve the map it saw at its registration, so the
// failover's txn (which requires nodes/a still absent) is refused and a stays active.
TEST_F(ManagerTest, ANodeThatRegistersAgainMidFailoverIsNotFailedOver) {
  FormCluster({"a", "b", "c"}, 2);
  p1_->Close();
  m1_ = StartManager("m1", p1_);
  const int64_t rev = MapRevision();
  Kill("a");
  ASSERT_TRUE(p1_->AwaitEntered(kWait));  // after the read, before the txn
  Register({"a", "127.0.0.1", 20000});
  p1_->Open();
  ASSERT_TRUE(Eventually([&] { return m1_->stats().writes_refused >= 1; }));
  EXPECT_EQ(Member("a"), MemberStatus::kActive);
  EXPECT_EQ(MapRevision(), rev);
  EXPECT_EQ(FailoverCount(), 0);
  EXPECT_EQ(m1_->stats().failovers, 0);
}

// ---- a failed-over node's return (manager_rejoin.cc) ----

// a is failed over automatically (marked "auto"); with two replicas over three nodes every chain
// is then one replica short. When a registers again the manager re-adds it: member active, listed
// in the map, a replica in every chain, active nowhere; the actives the failover chose stay.
TEST_F(ManagerTest, AnAutomaticallyFailedOverNodeThatRegistersAgainIsReAddedAsAReplica) {
  FormCluster({"a", "b", "c"}, 2);
  m1_ = StartManager("m1", p1_);
  Kill("a");
  ASSERT_TRUE(Eventually([&] { return FailedOver("a"); }));
  auto value = ParseMemberValue(client_->Get(keys_.Member("a"))->value);
  ASSERT_TRUE(value.ok());
  EXPECT_TRUE(value->auto_failover);
  const ClusterMap failed = Map();
  for (size_t vb = 0; vb < kVbuckets; ++vb) {
    EXPECT_EQ(failed.ChainOf(Vbid(vb))[2], std::nullopt) << "vb " << vb << ": no room for it";
  }
  Register({"a", "127.0.0.1", 20000});
  ASSERT_TRUE(Eventually([&] { return Member("a") == MemberStatus::kActive; }));
  const ClusterMap map = Map();
  ASSERT_NE(map.FindNode("a"), nullptr);
  EXPECT_EQ(map.FindNode("a")->port, 20000);
  for (size_t vb = 0; vb < kVbuckets; ++vb) {
    const TopologyChain& chain = map.ChainOf(Vbid(vb));
    EXPECT_EQ(chain[0], failed.ChainOf(Vbid(vb))[0]) << "vb " << vb;
    EXPECT_EQ(chain[1], failed.ChainOf(Vbid(vb))[1]) << "vb " << vb;
    EXPECT_EQ(chain[2], TopologyNode("a")) << "vb " << vb;
    EXPECT_EQ(map.RoleOf("a", Vbid(vb)), VBucketState::kReplica) << "vb " << vb;
  }
  EXPECT_TRUE(Eventually([&] { return m1_->stats().rejoins == 1; }));
  EXPECT_EQ(FailoverCount(), 1);  // the count stays until the operator resets it
}

// A failover the operator asked for is not undone: b, failed over on request while alive, stays
// failed_over and out of the map, while a, failed over automatically in the same run, is re-added.
TEST_F(ManagerTest, ARequestedFailoverIsNotUndoneWhenTheNodeIsRegistered) {
  FormCluster({"a", "b", "c", "d"}, 2);
  m1_ = StartManager("m1", p1_);
  ASSERT_TRUE(client_->Put(keys_.Member("b"), FormatMember(MemberStatus::kFailoverRequested)).ok());
  ASSERT_TRUE(Eventually([&] { return FailedOver("b"); }));
  EXPECT_FALSE(ParseMemberValue(client_->Get(keys_.Member("b"))->value)->auto_failover);
  Kill("a");
  ASSERT_TRUE(Eventually([&] { return FailedOver("a"); }));
  Register({"a", "127.0.0.1", 20000});
  ASSERT_TRUE(Eventually([&] { return m1_->stats().rejoins == 1; }));
  EXPECT_EQ(Member("a"), MemberStatus::kActive);
  EXPECT_TRUE(KeyExists(keys_.Node("b")));  // registered all along
  EXPECT_EQ(Member("b"), MemberStatus::kFailedOver);
  ExpectOutOfMap("b");
}

// No room: with one replica over four nodes the failover rebuilt every replica on the other
// three. The node comes back as an active member listed in the map and holding nothing (every
// vbucket dead there) until a rebalance gives it its share.
TEST_F(ManagerTest, ARejoiningNodeWithNoShortChainIsAMemberWithNoVbuckets) {
  FormCluster({"a", "b", "c", "d"}, 1);
  m1_ = StartManager("m1", p1_);
  Kill("a");
  ASSERT_TRUE(Eventually([&] { return FailedOver("a"); }));
  const ClusterMap failed = Map();
  Register({"a", "127.0.0.1", 20000});
  ASSERT_TRUE(Eventually([&] { return Member("a") == MemberStatus::kActive; }));
  const ClusterMap map = Map();
  EXPECT_NE(map.FindNode("a"), nullptr);
  for (size_t vb = 0; vb < kVbuckets; ++vb) {
    EXPECT_EQ(map.ChainOf(Vbid(vb)), failed.ChainOf(Vbid(vb))) << "vb " << vb;
    EXPECT_EQ(map.RoleOf("a", Vbid(vb)), VBucketState::kDead) << "vb " << vb;
  }
}

}  // namespace
}  // namespace sluice::cluster
