// Integration: durability of sluiced's data across restarts — a clean stop (SIGTERM), a kill -9
// after the writes were reported persisted, and SIGTERM with writes still queued. Seqnos and
// failover logs are checked along with the documents.
#include <atomic>
#include <thread>

#include "protocol/payload.h"
#include "testing/wire_util.h"

namespace sluice::testing {
namespace {

using protocol::McbpStatus;
using protocol::Opcode;

struct Snapshot {
  std::map<std::string, std::string> docs;  // key -> value
  std::map<Vbid, uint64_t> high_seqnos;
  StatMap failovers;
};

// vb's state as GET_VBUCKET reports it (kPending, after a failure, if it could not).
VBucketState StateOf(client::Connection& conn, Vbid vb) {
  auto state = conn.GetVBucket(vb);
  EXPECT_TRUE(state.ok()) << state.status().ToString();
  return state.ok() ? *state : VBucketState::kPending;
}

class PersistenceTest : public SluicedTest {
 protected:
  // Writes `count` documents (plus some updates, deletes and counters) and returns what must be
  // there afterwards.
  std::map<std::string, std::string> WriteDocs(client::Connection& conn, int count,
                                               std::string_view prefix) {
    std::map<std::string, std::string> docs;
    for (int i = 0; i < count; ++i) {
      const std::string key = std::string(prefix) + std::to_string(i);
      const std::string value = "value of " + key + std::string(i % 50, '.');
      EXPECT_EQ(Must(conn.Set(key, value, {.flags = static_cast<uint32_t>(i)})).status,
                McbpStatus::kSuccess);
      docs[key] = value;
    }
    for (int i = 0; i < count; i += 7) {  // updates
      const std::string key = std::string(prefix) + std::to_string(i);
      EXPECT_EQ(Must(conn.Append(key, "+")).status, McbpStatus::kSuccess);
      docs[key] += "+";
    }
    for (int i = 3; i < count; i += 11) {  // deletes
      const std::string key = std::string(prefix) + std::to_string(i);
      EXPECT_EQ(Must(conn.Delete(key)).status, McbpStatus::kSuccess);
      docs.erase(key);
    }
    const std::string counter = std::string(prefix) + "counter";
    EXPECT_EQ(Must(conn.Increment(counter, 1, {.initial = 100})).status, McbpStatus::kSuccess);
    EXPECT_EQ(Must(conn.Increment(counter, 5)).status, McbpStatus::kSuccess);
    docs[counter] = "105";
    return docs;
  }

  // Everything observable: the given documents' values, every vbucket's high seqno and the
  // failover stats.
  Snapshot Observe(const std::map<std::string, std::string>& expected_docs) {
    Snapshot snap;
    auto conn = Connect();
    if (conn == nullptr) return snap;
    for (const auto& [key, value] : expected_docs) {
      auto r = Must(conn->Get(key));
      if (r.status == McbpStatus::kSuccess) snap.docs[key] = r.value;
    }
    auto seqnos = conn->GetAllVbSeqnos();
    EXPECT_TRUE(seqnos.ok());
    if (seqnos.ok()) {
      for (const auto& [vb, seqno] : *seqnos) snap.high_seqnos[vb] = seqno;
    }
    auto failovers = FetchStats(*conn, "failovers");
    EXPECT_TRUE(failovers.ok());
    if (failovers.ok()) snap.failovers = std::move(*failovers);
    return snap;
  }

  void ExpectDeletedDocsStayDeleted(client::Connection& conn, int count, std::string_view prefix) {
    for (int i = 3; i < count; i += 11) {
      EXPECT_EQ(Must(conn.Get(std::string(prefix) + std::to_string(i))).status,
                McbpStatus::kKeyEnoent);
    }
  }
};

TEST_F(PersistenceTest, DataAndSeqnosSurviveACleanRestart) {
  constexpr int kDocs = 300;
  std::map<std::string, std::string> docs;
  {
    auto conn = Connect();
    ASSERT_NE(conn, nullptr);
    docs = WriteDocs(*conn, kDocs, "clean-");
  }
  const Snapshot before = Observe(docs);
  ASSERT_EQ(before.docs, docs);

  RestartClean();
  if (HasFatalFailure()) return;

  const Snapshot after = Observe(docs);
  EXPECT_EQ(after.docs, docs);
  EXPECT_EQ(after.high_seqnos, before.high_seqnos);
  EXPECT_EQ(after.failovers, before.failovers) << "a clean restart adds no failover entry";

  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  ExpectDeletedDocsStayDeleted(*conn, kDocs, "clean-");
  // Flags came back too, and the next mutation continues the seqno sequence.
  EXPECT_EQ(Must(conn->Get("clean-10")).flags, 10u);
  auto set = Must(conn->Set("clean-10", "new"));
  ASSERT_TRUE(set.token.has_value());
  EXPECT_EQ(set.token->seqno, before.high_seqnos.at(set.vbucket) + 1);
  // And the stats say so.
  const StatMap stats = Stats();
  EXPECT_EQ(StatU64(stats, "curr_items"), docs.size());
}

TEST_F(PersistenceTest, KillAfterPersistenceLosesNothingAndAddsAFailoverEntry) {
  constexpr int kDocs = 300;
  std::map<std::string, std::string> docs;
  {
    auto conn = Connect();
    ASSERT_NE(conn, nullptr);
    docs = WriteDocs(*conn, kDocs, "kill-");
  }
  ASSERT_TRUE(WaitUntilPersisted());
  const Snapshot before = Observe(docs);
  ASSERT_EQ(before.docs, docs);

  RestartAfterKill();
  if (HasFatalFailure()) return;

  const Snapshot after = Observe(docs);
  EXPECT_EQ(after.docs, docs);
  EXPECT_EQ(after.high_seqnos, before.high_seqnos);
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  ExpectDeletedDocsStayDeleted(*conn, kDocs, "kill-");

  // Every vbucket has one more failover entry, newest first, at its persisted high seqno; the
  // old entries moved down by one.
  for (const auto& [vb, high] : before.high_seqnos) {
    const std::string p = "vb_" + std::to_string(vb) + ":";
    const auto n_before = StatU64(before.failovers, p + "num_entries");
    ASSERT_TRUE(n_before.has_value()) << p;
    EXPECT_EQ(StatU64(after.failovers, p + "num_entries"), *n_before + 1) << p;
    EXPECT_EQ(StatU64(after.failovers, p + "0:seq"), high) << p;
    EXPECT_NE(after.failovers.at(p + "0:id"), before.failovers.at(p + "0:id")) << p;
    for (uint64_t k = 0; k < *n_before; ++k) {
      EXPECT_EQ(after.failovers.at(p + std::to_string(k + 1) + ":id"),
                before.failovers.at(p + std::to_string(k) + ":id"))
          << p << k;
      EXPECT_EQ(after.failovers.at(p + std::to_string(k + 1) + ":seq"),
                before.failovers.at(p + std::to_string(k) + ":seq"))
          << p << k;
    }
    // GET_FAILOVER_LOG agrees with the stats.
    auto log = conn->GetFailoverLog(vb);
    ASSERT_TRUE(log.ok());
    ASSERT_EQ(log->size(), *n_before + 1);
    EXPECT_EQ((*log)[0].seqno, high);
    EXPECT_EQ(std::to_string((*log)[0].vbucket_uuid), after.failovers.at(p + "0:id"));
  }
  // New writes carry the new uuid.
  auto set = Must(conn->Set("kill-after", "v"));
  ASSERT_TRUE(set.token.has_value());
  EXPECT_EQ(std::to_string(set.token->vbucket_uuid),
            after.failovers.at("vb_" + std::to_string(set.vbucket) + ":0:id"));
  EXPECT_EQ(set.token->seqno, before.high_seqnos.at(set.vbucket) + 1);

  // A clean restart after that adds nothing more.
  conn.reset();
  const Snapshot settled = Observe(docs);
  RestartClean();
  if (HasFatalFailure()) return;
  const Snapshot again = Observe(docs);
  EXPECT_EQ(again.failovers, settled.failovers);
  EXPECT_EQ(again.high_seqnos, settled.high_seqnos);
}

TEST_F(PersistenceTest, SigtermPersistsOutstandingWrites) {
  constexpr int kDocs = 5000;
  std::map<std::string, std::string> docs;
  {
    auto conn = Connect();
    ASSERT_NE(conn, nullptr);
    // Pipelined, so most are still queued for the flusher when SIGTERM arrives.
    std::string extras;
    protocol::AppendMutationExtras(&extras, {0, 0});
    std::vector<std::string> keys, values;
    for (int i = 0; i < kDocs; ++i) {
      keys.push_back("term-" + std::to_string(i));
      values.push_back(std::string(200, static_cast<char>('a' + i % 26)) + std::to_string(i));
    }
    for (int i = 0; i < kDocs; ++i) {
      conn->Enqueue({.opcode = Opcode::kSetq,
                     .vbucket = VBucketForKey(keys[i], vbuckets()),
                     .extras = extras,
                     .key = keys[i],
                     .value = values[i]});
      docs[keys[i]] = values[i];
    }
    const uint32_t noop = conn->Enqueue({.opcode = Opcode::kNoop});
    ASSERT_TRUE(conn->Flush().ok());
    size_t errors = 0;
    ASSERT_TRUE(conn->ReadResponsesUntil(noop,
                                         [&](const protocol::Frame& f) {
                                           if (f.opaque != noop) ++errors;
                                         })
                    .ok());
    EXPECT_EQ(errors, 0u);
  }
  // Stop at once: no waiting for the flusher.
  RestartClean();
  if (HasFatalFailure()) return;
  const Snapshot after = Observe(docs);
  EXPECT_EQ(after.docs.size(), docs.size());
  EXPECT_TRUE(after.docs == docs) << "every acknowledged write survived SIGTERM";
  std::map<Vbid, uint64_t> expected_high;
  for (const auto& [key, value] : docs) ++expected_high[VBucketForKey(key, vbuckets())];
  for (const auto& [vb, high] : expected_high) {
    EXPECT_EQ(after.high_seqnos.count(vb) ? after.high_seqnos.at(vb) : 0, high) << "vb " << vb;
  }
  // Nothing left to persist, and nothing lost on the way: the stats agree.
  const StatMap stats = Stats();
  EXPECT_EQ(StatU64(stats, "curr_items"), static_cast<uint64_t>(kDocs));
  EXPECT_EQ(StatU64(stats, "ep_queue_size"), 0u);
}

TEST_F(PersistenceTest, VBucketStatesSurviveRestarts) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(conn->SetVBucket(2, VBucketState::kReplica).ok());
  ASSERT_TRUE(conn->SetVBucket(3, VBucketState::kDead).ok());
  // A deleted vbucket stays deleted, its documents with it.
  ASSERT_EQ(Must(conn->Set("on-6", "v", {.route = {.vbucket = 6}})).status, McbpStatus::kSuccess);
  ASSERT_TRUE(conn->Execute({.opcode = Opcode::kDelVbucket, .vbucket = 6}).ok());
  ASSERT_EQ(Must(conn->Set("state-doc", "v")).status, McbpStatus::kSuccess);
  conn.reset();
  RestartClean();
  if (HasFatalFailure()) return;
  conn = Connect();
  ASSERT_NE(conn, nullptr);
  EXPECT_EQ(StateOf(*conn, 2), VBucketState::kReplica);
  EXPECT_EQ(StateOf(*conn, 3), VBucketState::kDead);
  EXPECT_EQ(StateOf(*conn, 4), VBucketState::kActive);
  EXPECT_EQ(Must(conn->Get("on-6", {.vbucket = 6})).status, McbpStatus::kNotMyVbucket);
  ASSERT_TRUE(WaitUntilPersisted());
  conn.reset();
  RestartAfterKill();
  if (HasFatalFailure()) return;
  conn = Connect();
  ASSERT_NE(conn, nullptr);
  EXPECT_EQ(StateOf(*conn, 2), VBucketState::kReplica);
  EXPECT_EQ(Must(conn->Get("state-doc")).value, "v");
  EXPECT_EQ(Must(conn->Get("on-6", {.vbucket = 6})).status, McbpStatus::kNotMyVbucket);
  // Recreated, it is empty.
  ASSERT_TRUE(conn->SetVBucket(6, VBucketState::kActive).ok());
  EXPECT_EQ(Must(conn->Get("on-6", {.vbucket = 6})).status, McbpStatus::kKeyEnoent);
}

TEST_F(PersistenceTest, SigtermUnderLoadKeepsEveryAcknowledgedWrite) {
  // A writer streams SETs (each acknowledged before the next) while the server is told to stop.
  std::atomic<int> acknowledged{0};
  std::atomic<bool> started{false};
  auto writer_conn = Connect();
  ASSERT_NE(writer_conn, nullptr);
  std::thread writer([&] {
    for (int i = 0;; ++i) {
      auto r = writer_conn->Set("load-" + std::to_string(i), "value-" + std::to_string(i));
      if (!r.ok()) return;  // the server went away
      if (r->status != McbpStatus::kSuccess) return;
      acknowledged.store(i + 1);
      if (i == 200) started.store(true);
    }
  });
  ASSERT_TRUE(PollUntil([&] { return started.load(); }));
  const int exit_code = server().Stop();
  writer.join();
  ASSERT_EQ(exit_code, 0) << "SIGTERM under load must still exit cleanly";
  ASSERT_TRUE(server().Start()) << server().error();
  const int n = acknowledged.load();
  ASSERT_GT(n, 200);
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  int missing = 0;
  for (int i = 0; i < n; ++i) {
    auto r = Must(conn->Get("load-" + std::to_string(i)));
    if (r.status != McbpStatus::kSuccess || r.value != "value-" + std::to_string(i)) ++missing;
  }
  EXPECT_EQ(missing, 0) << "of " << n << " acknowledged writes";
}

}  // namespace
}  // namespace sluice::testing
