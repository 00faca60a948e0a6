// Replication over TCP between real sluiced processes on loopback (docs/replication.md): node A
// holds active vbuckets, node B holds them as replicas and streams them from A with its built-in
// replicator (the hidden --replica-of flag until the cluster map feeds it).
//
// Convergence is checked through each node's own DCP stream: every vbucket of A and of B is
// streamed from 0 to its high seqno, and the last event of every key must be the same on both
// (kind, value, seqno, rev seqno, CAS, flags, expiry or delete time, datatype), as must each
// vbucket's high seqno and failover log. A replica streamed from is itself a DCP producer, as in
// kv_engine.
//
// Restarts: B stopped cleanly or killed while A keeps taking writes resumes without a reset (and
// converges); A killed and restarted on the same port makes B resume or roll back; A restarted
// uncleanly from an older copy of its data (what a crash loses) leaves B ahead of it: B rolls
// back from its history (ep_rollback_count, no reset) and converges, or without history
// (history_retention_bytes=0) resets; A restarted with its data gone makes B roll back beyond
// its history: the reset fallback (ep_rollback_resets), then convergence on A's new history.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "protocol/datatype.h"
#include "protocol/dcp_codec.h"
#include "storage/kvstore.h"
#include "testing/dcp_wire_util.h"
#include "xattr/blob.h"

namespace sluice::testing {
namespace {

using protocol::McbpStatus;

constexpr uint32_t kVbuckets = 4;

std::unique_ptr<client::Connection> ConnectTo(const ServerProcess& server) {
  client::ConnectOptions options;
  options.io_timeout = 60s;
  options.num_vbuckets = kVbuckets;
  auto conn = client::Connection::Connect(server.host(), server.port(), options);
  if (!conn.ok()) {
    ADD_FAILURE() << "connect: " << conn.status().ToString();
    return nullptr;
  }
  if (auto agreed = (*conn)->Hello("replication-it", DefaultFeatures()); !agreed.ok()) {
    ADD_FAILURE() << "HELLO: " << agreed.status().ToString();
    return nullptr;
  }
  if (Status s = (*conn)->Authenticate(ServerProcess::kUser, ServerProcess::kPassword, "PLAIN");
      !s.ok()) {
    ADD_FAILURE() << "authenticate: " << s.ToString();
    return nullptr;
  }
  return std::move(*conn);
}

StatMap StatsOf(const ServerProcess& server, std::string_view group = {}) {
  auto conn = ConnectTo(server);
  if (conn == nullptr) return {};
  auto stats = FetchStats(*conn, group);
  if (!stats.ok()) return {};
  return std::move(*stats);
}

// Each vbucket's high seqno, from "vbucket-seqno".
std::map<Vbid, uint64_t> HighSeqnos(const ServerProcess& server) {
  const StatMap stats = StatsOf(server, "vbucket-seqno");
  std::map<Vbid, uint64_t> out;
  for (Vbid vb = 0; vb < kVbuckets; ++vb) {
    out[vb] = StatU64(stats, fmt::format("vb_{}:high_seqno", vb)).value_or(~uint64_t{0});
  }
  return out;
}

std::vector<protocol::FailoverEntry> FailoverLogOf(const ServerProcess& server, Vbid vb) {
  auto conn = ConnectTo(server);
  if (conn == nullptr) return {};
  auto log = conn->GetFailoverLog(vb);
  EXPECT_TRUE(log.ok()) << log.status().ToString();
  return log.ok() ? *log : std::vector<protocol::FailoverEntry>{};
}

// What a node's own DCP stream says about every key: the last event of each, streamed from 0 to
// each vbucket's high seqno.
struct NodeView {
  std::map<std::string, DcpEvent> docs;
  std::map<Vbid, uint64_t> high;
  std::vector<std::string> violations;
};

NodeView ViewOf(const ServerProcess& server, const std::string& name) {
  NodeView view;
  view.high = HighSeqnos(server);
  auto conn = ConnectTo(server);
  if (conn == nullptr) return view;
  EXPECT_TRUE(conn->SelectBucket("default").ok());
  DcpConsumerOptions options;
  options.name = name;
  options.open_flags = protocol::kDcpOpenProducer | protocol::kDcpOpenIncludeXattrs |
                       protocol::kDcpOpenIncludeDeleteTimes;
  options.controls = {{"enable_expiry_opcode", "true"}};
  auto consumer = DcpConsumer::Open(std::move(conn), options);
  if (!consumer.ok()) {
    ADD_FAILURE() << "DCP_OPEN: " << consumer.status().ToString();
    return view;
  }
  for (const auto& [vb, high] : view.high) {
    if (high == 0) continue;
    protocol::DcpStreamReqRequest req;
    req.vbucket = vb;
    req.start_seqno = 0;
    req.end_seqno = high;
    auto r = (*consumer)->Stream(req);
    EXPECT_TRUE(r.ok() && r->status == McbpStatus::kSuccess) << name << " vb " << vb;
  }
  if (Status s = (*consumer)->ReadUntilAllEnded(); !s.ok()) {
    ADD_FAILURE() << name << ": " << s.ToString();
  }
  view.docs = (*consumer)->LatestByKey();
  view.violations = (*consumer)->violations();
  return view;
}

// The differences between two views (empty when they agree), at most 20.
std::vector<std::string> Differences(const NodeView& a, const NodeView& b) {
  std::vector<std::string> out;
  auto add = [&](std::string line) {
    if (out.size() < 20) out.push_back(std::move(line));
  };
  if (a.high != b.high) add("high seqnos differ");
  for (const auto& entry : a.docs) {
    const std::string& key = entry.first;
    const DcpEvent& ea = entry.second;
    auto it = b.docs.find(key);
    if (it == b.docs.end()) {
      add("missing on the replica: " + key);
      continue;
    }
    const DcpEvent& eb = it->second;
    auto field = [&](std::string_view name, auto x, auto y) {
      if (x != y) add(fmt::format("{} {}: {} vs {}", key, name, x, y));
    };
    field("kind", DcpEventKindName(ea.kind), DcpEventKindName(eb.kind));
    field("seqno", ea.seqno, eb.seqno);
    field("rev_seqno", ea.rev_seqno, eb.rev_seqno);
    field("cas", ea.cas, eb.cas);
    field("flags", ea.flags, eb.flags);
    field("expiry", ea.expiry, eb.expiry);
    field("delete_time", ea.delete_time, eb.delete_time);
    field("datatype", ea.datatype, eb.datatype);
    field("value size", ea.value.size(), eb.value.size());
    if (ea.value != eb.value) add(key + ": values differ");
  }
  for (const auto& [key, eb] : b.docs) {
    if (a.docs.count(key) == 0) add("only on the replica: " + key);
  }
  return out;
}

class ReplicationTest : public ::testing::Test {
 protected:
  // More flags for B.
  virtual std::vector<std::string> ExtraReplicaArgs() const { return {}; }

  void SetUp() override {
    ServerOptions a;
    a.extra_args = {"--vbuckets", std::to_string(kVbuckets)};
    a.log_level = "info";
    a.reuse_port = true;
    a_ = std::make_unique<ServerProcess>(a);
    ASSERT_TRUE(a_->Start()) << a_->error();
    ServerOptions b;
    b.extra_args = {"--vbuckets",   std::to_string(kVbuckets),
                    "--replica-of", fmt::format("127.0.0.1:{}", a_->port()),
                    "--set",        "replication_user=admin"};
    for (const auto& arg : ExtraReplicaArgs()) b.extra_args.push_back(arg);
    b.log_level = "info";
    b_ = std::make_unique<ServerProcess>(b);
    ASSERT_TRUE(b_->Start()) << b_->error();
    auto conn = ConnectTo(*b_);
    ASSERT_NE(conn, nullptr);
    for (Vbid vb = 0; vb < kVbuckets; ++vb) {
      ASSERT_TRUE(conn->SetVBucket(vb, VBucketState::kReplica).ok());
    }
    writer_conn_ = ConnectTo(*a_);
    ASSERT_NE(writer_conn_, nullptr);
    ASSERT_TRUE(writer_conn_->SelectBucket("default").ok());
  }
  void TearDown() override {
    for (ServerProcess* s : {a_.get(), b_.get()}) {
      if (s == nullptr) continue;
      if (s->running()) {
        EXPECT_TRUE(s->Alive()) << "a node crashed";
        EXPECT_EQ(s->Stop(), 0);
      }
      const std::string log = s->Log();
      for (const char* marker : {"AddressSanitizer", "ThreadSanitizer", "runtime error:"}) {
        EXPECT_EQ(log.find(marker), std::string::npos) << "sanitizer report";
      }
    }
    if (HasFailure()) {
      std::fprintf(stderr, "---- A ----\n%s---- B ----\n%s---- end ----\n", a_->Log().c_str(),
                   b_ ? b_->Log().c_str() : "");
    }
  }

  // Waits until B's replica vbuckets reached A's high seqnos, then compares both nodes' views
  // and failover logs.
  void ExpectConverged() {
    std::map<Vbid, uint64_t> a_high;
    std::map<Vbid, uint64_t> b_high;
    const bool reached = PollUntil([&] {
      a_high = HighSeqnos(*a_);
      b_high = HighSeqnos(*b_);
      return a_high == b_high;
    });
    ASSERT_TRUE(reached) << "the replica did not catch up:\n"
                         << ::testing::PrintToString(a_high) << "\n"
                         << ::testing::PrintToString(b_high) << "\n"
                         << ::testing::PrintToString(StatsOf(*b_, "replication"));
    const NodeView a = ViewOf(*a_, "view-a-" + std::to_string(++views_));
    const NodeView b = ViewOf(*b_, "view-b-" + std::to_string(views_));
    EXPECT_TRUE(a.violations.empty()) << ::testing::PrintToString(a.violations);
    EXPECT_TRUE(b.violations.empty()) << ::testing::PrintToString(b.violations);
    EXPECT_FALSE(a.docs.empty());
    const auto diff = Differences(a, b);
    EXPECT_TRUE(diff.empty()) << ::testing::PrintToString(diff);
    for (Vbid vb = 0; vb < kVbuckets; ++vb) {
      EXPECT_EQ(FailoverLogOf(*a_, vb), FailoverLogOf(*b_, vb)) << "vb " << vb;
    }
  }

  // Writes `n` documents "<prefix><i>" through A.
  void WriteMany(const std::string& prefix, int n) {
    for (int i = 0; i < n; ++i) {
      const auto r = Must(
          writer_conn_->Set(prefix + std::to_string(i), "value-" + prefix + std::to_string(i)));
      ASSERT_EQ(r.status, McbpStatus::kSuccess);
    }
  }

  // Leaves B ahead of A: A is restarted uncleanly from a copy of its data taken before 2 * n
  // more changes (n overwrites, n / 2 deletions, n / 2 new keys) that B received, as if A had
  // crashed before persisting them. Then A takes new writes. The default n = 40 is a quarter of
  // B's items, under the midpoint rule's half; n = 200 is all of them.
  void MakeReplicaAheadOfItsActive(int n = 40) {
    WriteMany("old", 300);
    ExpectConverged();
    ASSERT_TRUE(PollUntil([&] { return StatOf(*b_, "", "ep_queue_size") == 0; }));
    ASSERT_EQ(a_->Stop(), 0);
    namespace fs = std::filesystem;
    const std::string copy = a_->data_dir() + ".copy";
    fs::remove_all(copy);
    fs::copy(a_->data_dir(), copy, fs::copy_options::recursive);
    StartA();
    for (int i = 0; i < n; ++i) {
      const std::string key = "old" + std::to_string(i);
      ASSERT_EQ(Must(writer_conn_->Set(key, "changed-" + key)).status, McbpStatus::kSuccess);
    }
    for (int i = n; i < n + n / 2; ++i) {
      ASSERT_EQ(Must(writer_conn_->Delete("old" + std::to_string(i))).status, McbpStatus::kSuccess);
    }
    WriteMany("lost", n / 2);
    ExpectConverged();
    // On B's disk, so that its rollback is a rollback of its disk.
    ASSERT_TRUE(PollUntil([&] { return StatOf(*b_, "", "ep_queue_size") == 0; }));
    a_->Kill();
    fs::remove_all(a_->data_dir());
    fs::rename(copy, a_->data_dir());
    {
      // The copy was taken after a clean stop; a crash leaves no clean-shutdown marker.
      storage::RocksDBOptions options;
      options.history_retention_bytes = 256ULL << 20;
      auto store = storage::OpenRocksDBKVStore(a_->data_dir() + "/default", options);
      ASSERT_TRUE(store.ok()) << store.status().ToString();
      ASSERT_TRUE((*store)->SetCleanShutdownMarker(false).ok());
      ASSERT_TRUE((*store)->Close().ok());
    }
    StartA();
    WriteMany("new", 100);
  }
  void StartA() {
    ASSERT_TRUE(a_->Start()) << a_->error();  // same port (reuse_port)
    writer_conn_ = ConnectTo(*a_);
    ASSERT_NE(writer_conn_, nullptr);
    ASSERT_TRUE(writer_conn_->SelectBucket("default").ok());
  }

  uint64_t StatOf(const ServerProcess& s, std::string_view group, std::string_view key) {
    return StatU64(StatsOf(s, group), key).value_or(~uint64_t{0});
  }

  std::unique_ptr<ServerProcess> a_;
  std::unique_ptr<ServerProcess> b_;
  std::unique_ptr<client::Connection> writer_conn_;
  int views_ = 0;
};

TEST_F(ReplicationTest, ReplicaConvergesOnEveryKindOfChange) {
  client::Connection& kv = *writer_conn_;
  WriteMany("doc", 200);
  // CAS updates: a matching CAS wins, a stale one is refused.
  const auto first = Must(kv.Set("cas-key", "one"));
  ASSERT_EQ(first.status, McbpStatus::kSuccess);
  ASSERT_EQ(Must(kv.Replace("cas-key", "two", {.cas = first.cas})).status, McbpStatus::kSuccess);
  EXPECT_EQ(Must(kv.Replace("cas-key", "three", {.cas = first.cas})).status,
            McbpStatus::kKeyEexists);
  ASSERT_EQ(Must(kv.Append("cas-key", "+tail")).status, McbpStatus::kSuccess);
  ASSERT_EQ(Must(kv.Increment("counter", 5, {.initial = 10})).status, McbpStatus::kSuccess);
  ASSERT_EQ(Must(kv.Increment("counter", 5)).status, McbpStatus::kSuccess);
  // JSON, flags, a long TTL (replicated as is), a touch.
  ASSERT_EQ(Must(kv.Set("json", R"({"a":[1,2,3]})", {.flags = 0xbeef, .datatype = 0x01})).status,
            McbpStatus::kSuccess);
  ASSERT_EQ(Must(kv.Set("long-ttl", "x", {.expiry = 3600})).status, McbpStatus::kSuccess);
  ASSERT_EQ(Must(kv.Touch("doc7", 7200)).status, McbpStatus::kSuccess);
  // Deletes.
  for (int i = 0; i < 200; i += 10) {
    ASSERT_EQ(Must(kv.Delete("doc" + std::to_string(i))).status, McbpStatus::kSuccess);
  }
  // Expirations: short TTLs that A expires on access (DCP_EXPIRATION, never a replica's own).
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(Must(kv.Set("ttl" + std::to_string(i), "soon", {.expiry = 1})).status,
              McbpStatus::kSuccess);
  }
  for (int i = 0; i < 4; ++i) {
    const std::string key = "ttl" + std::to_string(i);
    ASSERT_TRUE(
        PollUntil([&] { return Must(kv.Get(key)).status == McbpStatus::kKeyEnoent; }, 10s, 100ms));
  }
  // Xattrs: a document with a system and a user xattr, and a deleted one whose tombstone keeps
  // its system xattr.
  {
    client::ConnectOptions options;
    options.num_vbuckets = kVbuckets;
    auto x = client::Connection::Connect(a_->host(), a_->port(), options);
    ASSERT_TRUE(x.ok());
    auto features = DefaultFeatures();
    features.push_back(protocol::Feature::kXattr);
    ASSERT_TRUE((*x)->Hello("replication-it", features).ok());
    ASSERT_TRUE((*x)->Authenticate(ServerProcess::kUser, ServerProcess::kPassword, "PLAIN").ok());
    ASSERT_TRUE((*x)->SelectBucket("default").ok());
    const uint8_t datatype = protocol::kDatatypeXattr | protocol::kDatatypeJson;
    for (const char* key : {"xattrs", "xattrs-deleted"}) {
      const std::string value = xattr::Encode({{"_sys", R"("s")"}, {"user", R"("u")"}}) + "{}";
      ASSERT_EQ(Must((*x)->Set(key, value, {.datatype = datatype})).status, McbpStatus::kSuccess);
    }
    ASSERT_EQ(Must((*x)->Delete("xattrs-deleted")).status, McbpStatus::kSuccess);
  }
  // A 20 MB value, the largest a document may hold.
  const std::string big(20u << 20, 'z');
  ASSERT_EQ(Must(kv.Set("big", big)).status, McbpStatus::kSuccess);
  ExpectConverged();

  // The replica answers front-end reads and writes NOT_MY_VBUCKET (its data arrives over DCP).
  auto b = ConnectTo(*b_);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(b->SelectBucket("default").ok());
  EXPECT_EQ(Must(b->Get("doc1")).status, McbpStatus::kNotMyVbucket);
  EXPECT_EQ(Must(b->Set("doc1", "no")).status, McbpStatus::kNotMyVbucket);
  // The expirations came from A: B's expired keys are TTL tombstones with A's delete times,
  // compared above; the replication stats name the connection and its streams.
  const StatMap repl = StatsOf(*b_, "replication");
  const std::string conn =
      fmt::format("eq_dcpq:replication:127.0.0.1:{}->127.0.0.1:{}:default", a_->port(), b_->port());
  EXPECT_EQ(repl.count(conn + ":connected"), 1u) << ::testing::PrintToString(repl);
  EXPECT_EQ(StatU64(repl, conn + ":num_streams"), kVbuckets);
  EXPECT_EQ(StatOf(*b_, "", "ep_rollback_resets"), 0u);
  // STAT dcp on B lists the same connection as the consumer it is, with kv_engine's consumer
  // and passive-stream stat names.
  {
    const std::map<Vbid, uint64_t> before = HighSeqnos(*b_);
    const StatMap bdcp = StatsOf(*b_, "dcp");
    const std::map<Vbid, uint64_t> after = HighSeqnos(*b_);
    auto at = [&](const std::string& key) {
      auto it = bdcp.find(key);
      return it == bdcp.end() ? std::string("<missing " + key + ">") : it->second;
    };
    EXPECT_EQ(at(conn + ":type"), "consumer") << ::testing::PrintToString(bdcp);
    EXPECT_EQ(at(conn + ":user"), ServerProcess::kUser);
    EXPECT_EQ(at(conn + ":synchronous_replication"), "true");
    EXPECT_EQ(at(conn + ":paused"), "false");
    EXPECT_GT(StatU64(bdcp, conn + ":total_acked_bytes").value_or(0), 0u);
    EXPECT_GT(StatU64(bdcp, conn + ":max_buffer_bytes").value_or(0), 0u);
    EXPECT_TRUE(StatU64(bdcp, conn + ":unacked_bytes").has_value());
    for (Vbid vb = 0; vb < kVbuckets; ++vb) {
      const std::string s = fmt::format("{}:stream_{}_", conn, vb);
      EXPECT_EQ(at(s + "state"), "reading") << vb;
      const auto last = StatU64(bdcp, s + "last_received_seqno");
      ASSERT_TRUE(last.has_value()) << vb;
      EXPECT_GE(*last, before.at(vb)) << vb;
      EXPECT_LE(*last, after.at(vb)) << vb;
      for (const char* name :
           {"opaque", "flags", "start_seqno", "vb_uuid", "snap_start_seqno", "snap_end_seqno"}) {
        EXPECT_TRUE(StatU64(bdcp, s + name).has_value()) << s << name;
      }
      // A snapshot's range once a marker arrived since the stream request.
      const std::string type = at(s + "cur_snapshot_type");
      EXPECT_TRUE(type == "none" || type == "memory" || type == "disk") << type;
      EXPECT_EQ(StatU64(bdcp, s + "cur_snapshot_end").has_value(), type != "none") << vb;
    }
  }
  // A names the consumer.
  const StatMap dcp = StatsOf(*a_, "dcp");
  bool named = false;
  for (const auto& [k, v] : dcp) {
    if (k.find(":consumer_name") != std::string::npos &&
        v == fmt::format("127.0.0.1:{}", b_->port())) {
      named = true;
    }
  }
  EXPECT_TRUE(named) << ::testing::PrintToString(dcp);
}

TEST_F(ReplicationTest, ReplicaRestartsResumeWithoutAGap) {
  WriteMany("first", 300);
  ExpectConverged();
  for (const bool clean : {true, false}) {
    SCOPED_TRACE(clean ? "clean restart" : "kill -9");
    const std::map<Vbid, uint64_t> held = HighSeqnos(*b_);
    if (clean) {
      ASSERT_EQ(b_->Stop(), 0);
    } else {
      b_->Kill();
    }
    WriteMany(clean ? "while-stopped" : "while-killed", 300);
    ASSERT_TRUE(b_->Start()) << b_->error();
    WriteMany(clean ? "after-start" : "after-kill", 100);
    ExpectConverged();
    // Resumed from what it held: never emptied and copied again, and A's streams to it started
    // where B's disk was (a killed B persisted less than it held, but never nothing).
    EXPECT_EQ(StatOf(*b_, "", "ep_rollback_resets"), 0u);
    const StatMap dcp = StatsOf(*a_, "dcp");
    const std::string conn = fmt::format("eq_dcpq:replication:127.0.0.1:{}->127.0.0.1:{}:default",
                                         a_->port(), b_->port());
    for (const auto& [vb, high] : held) {
      const auto start = StatU64(dcp, fmt::format("{}:stream_{}_start_seqno", conn, vb));
      ASSERT_TRUE(start.has_value()) << ::testing::PrintToString(dcp);
      EXPECT_GT(*start, 0u) << "vb " << vb;
      EXPECT_LE(*start, high) << "vb " << vb;
      if (clean) EXPECT_EQ(*start, high) << "vb " << vb;  // a clean stop persisted everything
    }
  }
}

TEST_F(ReplicationTest, ActiveKilledAndRestartedReplicaResumesOrRollsBack) {
  WriteMany("before", 300);
  ExpectConverged();
  a_->Kill();
  ASSERT_TRUE(a_->Start()) << a_->error();  // same port (reuse_port)
  writer_conn_ = ConnectTo(*a_);
  ASSERT_NE(writer_conn_, nullptr);
  ASSERT_TRUE(writer_conn_->SelectBucket("default").ok());
  WriteMany("after", 300);
  // A's unclean restart started a new branch in every vbucket's failover log; B adopts it.
  ExpectConverged();
  EXPECT_GE(FailoverLogOf(*b_, 0).size(), 2u);
}

TEST_F(ReplicationTest, ReplicaAheadOfAnUncleanlyRestartedActiveRollsBackFromItsHistory) {
  MakeReplicaAheadOfItsActive();
  // B rewound its overwrites, deletions and new keys from its history (no reset) and converged
  // on A: same keys, values, CAS, seqnos and failover logs.
  ExpectConverged();
  EXPECT_EQ(StatOf(*b_, "", "ep_rollback_resets"), 0u);
  EXPECT_GE(StatOf(*b_, "", "ep_rollback_count"), 1u);
  EXPECT_GT(StatOf(*b_, "", "rollback_item_count"), 0u);
  EXPECT_NE(b_->Log().find("from its history"), std::string::npos);
  EXPECT_EQ(b_->Log().find("resetting the vbucket"), std::string::npos);
  // What was rolled back stays rolled back after a restart of B.
  ASSERT_EQ(b_->Stop(), 0);
  ASSERT_TRUE(b_->Start()) << b_->error();
  ExpectConverged();
}

TEST_F(ReplicationTest, ReplicaAheadByHalfItsItemsOrMoreResetsByTheMidpointRule) {
  MakeReplicaAheadOfItsActive(/*n=*/200);  // every key of every vbucket changed
  // Within its history, but kv_engine's midpoint rule resets instead (logged with the reason),
  // and B converges on A by copying again.
  ExpectConverged();
  EXPECT_GE(StatOf(*b_, "", "ep_rollback_resets"), 1u);
  EXPECT_NE(
      b_->Log().find("at least half (midpoint_rollback_optimisation)): resetting the vbucket"),
      std::string::npos);
  EXPECT_EQ(b_->Log().find("from its history:"), std::string::npos);
}

class NoHistoryReplicationTest : public ReplicationTest {
 protected:
  std::vector<std::string> ExtraReplicaArgs() const override {
    return {"--set", "history_retention_bytes=0"};
  }
};

TEST_F(NoHistoryReplicationTest, ReplicaAheadOfItsActiveWithoutHistoryResets) {
  MakeReplicaAheadOfItsActive();
  ExpectConverged();
  EXPECT_GE(StatOf(*b_, "", "ep_rollback_resets"), 1u);
  EXPECT_EQ(StatOf(*b_, "", "ep_rollback_count"), StatOf(*b_, "", "ep_rollback_resets"));
  EXPECT_NE(b_->Log().find("from the replica's history (NotFound: rollback to"), std::string::npos);
}

TEST_F(ReplicationTest, ReplicaAheadOfItsActiveResetsAndConverges) {
  WriteMany("old", 300);
  ExpectConverged();
  // A comes back without its data: B holds history A never had (unknown uuids, higher seqnos).
  ASSERT_EQ(a_->Stop(), 0);
  std::error_code ec;
  std::filesystem::remove_all(a_->data_dir(), ec);
  ASSERT_TRUE(a_->Start()) << a_->error();
  writer_conn_ = ConnectTo(*a_);
  ASSERT_NE(writer_conn_, nullptr);
  ASSERT_TRUE(writer_conn_->SelectBucket("default").ok());
  WriteMany("new", 50);
  ExpectConverged();
  // Rolled back beyond its history: each vbucket that held data was emptied once and copied
  // again, with a log line and the counters.
  EXPECT_EQ(StatOf(*b_, "", "ep_rollback_resets"), kVbuckets);
  const StatMap details = StatsOf(*b_, "vbucket-details");
  for (Vbid vb = 0; vb < kVbuckets; ++vb) {
    EXPECT_EQ(StatU64(details, fmt::format("vb_{}:rollback_resets", vb)), 1u) << vb;
  }
  EXPECT_NE(b_->Log().find("from the replica's history (NotFound: rollback to"), std::string::npos);
  // Nothing of the old history survives a restart of B either.
  ASSERT_EQ(b_->Stop(), 0);
  ASSERT_TRUE(b_->Start()) << b_->error();
  ExpectConverged();
}

// B's quota is small and its throttle threshold tiny: once over it, B applies what it received but
// stops acknowledging, so A's producer stops at the end of the buffer (BufferLogFull); nothing it
// received is dropped.
class ThrottledReplicationTest : public ReplicationTest {
 protected:
  std::vector<std::string> ExtraReplicaArgs() const override {
    return {"--memory-quota", "16M",
            "--set",          "replication_throttle_threshold=0.005",
            "--set",          "replication_buffer_size=64K"};
  }
};

TEST_F(ThrottledReplicationTest, AReplicaOverItsThresholdStopsAckingAndDropsNothing) {
  const std::string value(1024, 'v');
  for (int i = 0; i < 2000; ++i) {
    ASSERT_EQ(Must(writer_conn_->Set("doc" + std::to_string(i), value)).status,
              McbpStatus::kSuccess);
  }
  const std::string conn =
      fmt::format("eq_dcpq:replication:127.0.0.1:{}->127.0.0.1:{}:default", a_->port(), b_->port());
  // A's producer waits for B's acknowledgement ...
  ASSERT_TRUE(PollUntil([&] {
    const StatMap dcp = StatsOf(*a_, "dcp");
    auto it = dcp.find(conn + ":paused_reason");
    return it != dcp.end() && it->second == "BufferLogFull";
  })) << ::testing::PrintToString(StatsOf(*a_, "dcp"));
  // ... which B withholds, for memory (counted once B has applied what reached it: the producer
  // may pause while B still reads the end of the window).
  StatMap repl;
  EXPECT_TRUE(PollUntil([&] {
    repl = StatsOf(*b_, "replication");
    return StatU64(repl, conn + ":throttled").value_or(0) > 0;
  })) << ::testing::PrintToString(repl);
  EXPECT_GT(StatU64(repl, conn + ":unacked_bytes").value_or(0), 0u);
  // B is behind, and holds every change it received: once it applied what reached it, each
  // stream's last received seqno is its vbucket's high seqno (both read in one look).
  auto b_high = HighSeqnos(*b_);
  const bool whole = PollUntil([&] {
    repl = StatsOf(*b_, "replication");
    b_high = HighSeqnos(*b_);
    for (Vbid vb = 0; vb < kVbuckets; ++vb) {
      if (StatU64(repl, fmt::format("{}:stream_{}_last_received_seqno", conn, vb)) !=
          b_high.at(vb)) {
        return false;
      }
    }
    return true;
  });
  EXPECT_TRUE(whole) << ::testing::PrintToString(repl);
  const auto a_high = HighSeqnos(*a_);
  uint64_t behind = 0;
  for (Vbid vb = 0; vb < kVbuckets; ++vb) behind += a_high.at(vb) - b_high.at(vb);
  EXPECT_GT(behind, 0u);
}

}  // namespace
}  // namespace sluice::testing
