// Integration: the STAT groups sluiced serves, with kv_engine's names so that existing tools read
// them — the default group, vbucket, vbucket-details, vbucket-seqno, failovers, checkpoint and
// memory, per-vbucket arguments, and the errors for unknown groups and bad arguments.
#include "protocol/encode.h"
#include "testing/wire_util.h"

namespace sluice::testing {
namespace {

using protocol::McbpStatus;
using protocol::Opcode;

constexpr uint64_t kStatsQuota = 64ull << 20;

class StatsTest : public SluicedTest {
 protected:
  ServerOptions Options() const override {
    ServerOptions options = SluicedTest::Options();
    options.extra_args.insert(options.extra_args.end(), {"--memory-quota", "64M"});
    return options;
  }

  void SetUp() override {
    SluicedTest::SetUp();
    if (HasFatalFailure()) return;
    conn_ = Connect();
    ASSERT_NE(conn_, nullptr);
  }

  StatMap Group(std::string_view group) {
    auto stats = FetchStats(*conn_, group);
    EXPECT_TRUE(stats.ok()) << "STAT '" << group << "': " << stats.status().ToString();
    return stats.ok() ? std::move(*stats) : StatMap{};
  }

  // The wire status of STAT `group` (the first response).
  McbpStatus StatStatus(client::Connection& conn, std::string_view group) {
    auto r = conn.Execute({.opcode = Opcode::kStat, .key = group});
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return kNoAnswer;
    if (r->ok()) {
      // Drain the rest of the list so the connection stays usable.
      while (true) {
        auto f = conn.ReadFrame();
        if (!f.ok() || (f->key.empty() && f->value.empty())) break;
      }
    }
    return r->status;
  }

  static std::string Vb(Vbid vb, std::string_view name) {
    return "vb_" + std::to_string(vb) + ":" + std::string(name);
  }

  std::unique_ptr<client::Connection> conn_;
};

TEST_F(StatsTest, DefaultGroupHasTheContractStats) {
  StatMap stats = Group("");
  for (const char* name : {"curr_items", "curr_connections", "mem_used", "ep_queue_size",
                           "ep_total_persisted", "ep_max_size", "ep_mem_high_wat", "uptime"}) {
    EXPECT_TRUE(StatU64(stats, name).has_value()) << name << " missing or not a number";
  }
  auto version = conn_->Version();
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(stats["version"], *version);
  EXPECT_EQ(StatU64(stats, "ep_max_size"), kStatsQuota);
  const uint64_t high_wat = StatU64(stats, "ep_mem_high_wat").value_or(0);
  EXPECT_GT(high_wat, kStatsQuota / 2);
  EXPECT_LT(high_wat, kStatsQuota);
  EXPECT_EQ(StatU64(stats, "curr_items"), 0u);
  EXPECT_EQ(StatU64(stats, "ep_queue_size"), 0u);
  EXPECT_GE(StatU64(stats, "curr_connections").value_or(0), 1u);
  EXPECT_GT(StatU64(stats, "mem_used").value_or(0), 0u);

  // curr_connections counts connections.
  const uint64_t connections = StatU64(stats, "curr_connections").value_or(0);
  {
    auto second = Connect();
    ASSERT_NE(second, nullptr);
    EXPECT_TRUE(
        PollUntil([&] { return StatU64(Group(""), "curr_connections") == connections + 1; }));
  }
  EXPECT_TRUE(PollUntil([&] { return StatU64(Group(""), "curr_connections") == connections; }));

  // curr_items follows writes and deletes; the writes get persisted.
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(Must(conn_->Set("doc-" + std::to_string(i), "v")).status, McbpStatus::kSuccess);
  }
  ASSERT_EQ(Must(conn_->Delete("doc-0")).status, McbpStatus::kSuccess);
  ASSERT_EQ(Must(conn_->Set("doc-1", "updated")).status, McbpStatus::kSuccess);
  stats = Group("");
  EXPECT_EQ(StatU64(stats, "curr_items"), 19u);
  EXPECT_LE(StatU64(stats, "ep_queue_size").value_or(UINT64_MAX), 22u);
  ASSERT_TRUE(WaitUntilPersisted());
  stats = Group("");
  EXPECT_EQ(StatU64(stats, "ep_queue_size"), 0u);
  // Every mutation reached disk (deduplication may merge some of them).
  const uint64_t persisted = StatU64(stats, "ep_total_persisted").value_or(0);
  EXPECT_GE(persisted, 20u);
  EXPECT_LE(persisted, 22u);
}

TEST_F(StatsTest, VbucketGroupsListEveryVbucket) {
  ASSERT_TRUE(conn_->SetVBucket(5, VBucketState::kReplica).ok());
  const std::string key = [&] {
    for (int i = 0;; ++i) {
      std::string k = "on-vb3-" + std::to_string(i);
      if (VBucketForKey(k, vbuckets()) == 3) return k;
    }
  }();
  ASSERT_EQ(Must(conn_->Set(key, "v")).status, McbpStatus::kSuccess);
  ASSERT_EQ(Must(conn_->Set(key, "w")).status, McbpStatus::kSuccess);

  StatMap vbucket = Group("vbucket");
  EXPECT_EQ(vbucket.size(), vbuckets());
  for (Vbid vb = 0; vb < vbuckets(); ++vb) {
    EXPECT_EQ(vbucket["vb_" + std::to_string(vb)], vb == 5 ? "replica" : "active") << vb;
  }

  StatMap details = Group("vbucket-details");
  for (Vbid vb = 0; vb < vbuckets(); ++vb) {
    EXPECT_TRUE(details.count("vb_" + std::to_string(vb))) << vb;
    EXPECT_TRUE(StatU64(details, Vb(vb, "num_items")).has_value()) << vb;
    EXPECT_TRUE(StatU64(details, Vb(vb, "high_seqno")).has_value()) << vb;
    EXPECT_TRUE(StatU64(details, Vb(vb, "uuid")).has_value()) << vb;
  }
  EXPECT_EQ(StatU64(details, Vb(3, "num_items")), 1u);
  EXPECT_EQ(StatU64(details, Vb(3, "high_seqno")), 2u);
  EXPECT_EQ(StatU64(details, Vb(3, "ops_create")), 1u);
  EXPECT_EQ(StatU64(details, Vb(3, "ops_update")), 1u);

  StatMap seqno = Group("vbucket-seqno");
  for (Vbid vb = 0; vb < vbuckets(); ++vb) {
    for (const char* name :
         {"high_seqno", "abs_high_seqno", "uuid", "purge_seqno", "last_persisted_seqno"}) {
      EXPECT_TRUE(StatU64(seqno, Vb(vb, name)).has_value()) << Vb(vb, name);
    }
    EXPECT_EQ(seqno[Vb(vb, "uuid")], details[Vb(vb, "uuid")]);
  }
  EXPECT_EQ(StatU64(seqno, Vb(3, "high_seqno")), 2u);
  EXPECT_EQ(StatU64(seqno, Vb(3, "abs_high_seqno")), 2u);
  EXPECT_EQ(StatU64(seqno, Vb(4, "high_seqno")), 0u);
  EXPECT_EQ(StatU64(seqno, Vb(3, "purge_seqno")), 0u);
  EXPECT_TRUE(PollUntil(
      [&] { return StatU64(Group("vbucket-seqno 3"), Vb(3, "last_persisted_seqno")) == 2u; }));
}

TEST_F(StatsTest, FailoversGroup) {
  StatMap failovers = Group("failovers");
  StatMap seqno = Group("vbucket-seqno");
  for (Vbid vb = 0; vb < vbuckets(); ++vb) {
    EXPECT_EQ(StatU64(failovers, Vb(vb, "num_entries")), 1u) << vb;
    EXPECT_EQ(failovers[Vb(vb, "0:id")], seqno[Vb(vb, "uuid")]) << "entry 0 is the newest";
    EXPECT_EQ(StatU64(failovers, Vb(vb, "0:seq")), 0u) << vb;
    EXPECT_EQ(failovers.count(Vb(vb, "1:id")), 0u) << vb;
  }
}

TEST_F(StatsTest, CheckpointAndMemoryGroups) {
  ASSERT_EQ(Must(conn_->Set("ckpt", "v")).status, McbpStatus::kSuccess);
  const Vbid vb = VBucketForKey("ckpt", vbuckets());
  StatMap checkpoint = Group("checkpoint");
  for (Vbid v = 0; v < vbuckets(); ++v) {
    for (const char* name : {"open_checkpoint_id", "num_checkpoint_items", "num_checkpoints",
                             "mem_usage", "num_items_for_persistence"}) {
      EXPECT_TRUE(StatU64(checkpoint, Vb(v, name)).has_value()) << Vb(v, name);
    }
  }
  EXPECT_TRUE(StatU64(checkpoint, "ep_checkpoint_memory").has_value());
  EXPECT_GE(StatU64(checkpoint, Vb(vb, "num_checkpoints")).value_or(0), 1u);

  StatMap memory = Group("memory");
  for (const char* name : {"mem_used", "ep_max_size", "ep_mem_high_wat", "ep_mem_low_wat",
                           "ep_kv_size", "ep_checkpoint_memory"}) {
    EXPECT_TRUE(StatU64(memory, name).has_value()) << name;
  }
  EXPECT_EQ(StatU64(memory, "ep_max_size"), kStatsQuota);
  EXPECT_LT(StatU64(memory, "ep_mem_low_wat").value_or(UINT64_MAX),
            StatU64(memory, "ep_mem_high_wat").value_or(0));
  EXPECT_LT(StatU64(memory, "mem_used").value_or(UINT64_MAX), kStatsQuota);
}

TEST_F(StatsTest, PerVbucketArguments) {
  for (const char* group : {"vbucket-seqno", "vbucket-details", "failovers", "checkpoint"}) {
    StatMap one = Group(std::string(group) + " 3");
    ASSERT_FALSE(one.empty()) << group;
    for (const auto& [key, value] : one) {
      if (key.rfind("ep_", 0) == 0) continue;  // bucket-wide totals
      EXPECT_TRUE(key == "vb_3" || key.rfind("vb_3:", 0) == 0) << group << ": " << key;
    }
  }
  EXPECT_EQ(Group("vbucket-seqno 3"), [&] {
    StatMap all = Group("vbucket-seqno");
    StatMap only3;
    for (const auto& [k, v] : all) {
      if (k.rfind("vb_3:", 0) == 0) only3[k] = v;
    }
    return only3;
  }());
  // Extra spaces around the argument are fine.
  EXPECT_FALSE(Group("vbucket-seqno  3 ").empty());
}

TEST_F(StatsTest, UnknownGroupsAndBadArguments) {
  EXPECT_EQ(StatStatus(*conn_, "no-such-group"), McbpStatus::kKeyEnoent);
  EXPECT_EQ(StatStatus(*conn_, "vbucket-seqno abc"), McbpStatus::kEinval);
  EXPECT_EQ(StatStatus(*conn_, "memory 3"), McbpStatus::kEinval);
  EXPECT_EQ(StatStatus(*conn_, "vbucket-seqno " + std::to_string(vbuckets())),
            McbpStatus::kNotMyVbucket);
  EXPECT_EQ(StatStatus(*conn_, "vbucket-seqno 70000"), McbpStatus::kEinval);
  // The connection is still in step.
  EXPECT_TRUE(conn_->Noop().ok());
  EXPECT_FALSE(Group("").empty());
}

TEST_F(StatsTest, WithoutABucketOnlyServerStats) {
  ASSERT_TRUE(conn_->SelectBucket("@no bucket@").ok());
  StatMap stats = Group("");
  EXPECT_TRUE(stats.count("curr_connections"));
  EXPECT_TRUE(stats.count("version"));
  EXPECT_EQ(stats.count("curr_items"), 0u) << "bucket stats need a bucket";
  EXPECT_EQ(StatStatus(*conn_, "vbucket-seqno"), McbpStatus::kNoBucket);
}

}  // namespace
}  // namespace sluice::testing
