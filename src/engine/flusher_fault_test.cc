// Storage faults under the engine: a bucket whose store is wrapped in a FaultInjectingKVStore
// (storage/fault_injecting_kvstore.h) is driven by a ManualExecutor and a FakeClock, so every
// flusher attempt and every back-off is counted exactly. What is checked, for a full disk
// (kTempFail) and an I/O or sync error (kIoError):
//   - nothing is acknowledged while commits fail (persisted seqno, persistence waiters), and
//     nothing accepted is lost: the writes stay readable, are persisted once the fault clears,
//     and survive a crash after that;
//   - writes keep being accepted into memory until the bucket's memory limit, then get TMPFAIL
//     (kv_engine's behaviour), and are accepted again after recovery;
//   - the flusher backs off exponentially and a wake-up by new writes does not make it retry
//     early (attempts are counted);
//   - a shutdown that cannot persist reports it, and the next start is an unclean one.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "engine/bucket.h"
#include "testing/fault_injecting_kvstore.h"
#include "testing/manual_executor.h"
#include "testing/recording_waiter.h"
#include "testing/temp_dir.h"

namespace sluice::engine {
namespace {

using executor::ManualExecutor;
using executor::TaskGroup;
using storage::FaultInjector;

using testing::RecordingWaiter;

class FlusherFaultTest : public ::testing::Test {
 protected:
  static constexpr size_t kShards = 2;

  void SetUp() override {
    config_.max_vbuckets = 8;
    config_.max_num_shards = kShards;
    config_.max_size = 16 << 20;
    config_.ht_locks = 4;
  }
  void TearDown() override {
    bucket_.reset();
    exec_.Shutdown();
  }

  void Open() {
    BucketOptions o;
    o.name = "default";
    o.data_dir = dir_.path();
    o.config = config_;
    o.executor = &exec_;
    o.clock = &clock_;
    std::shared_ptr<FaultInjector> faults = faults_;
    o.wrap_store = [faults](std::unique_ptr<storage::KVStore> inner) {
      return std::make_unique<storage::FaultInjectingKVStore>(std::move(inner), faults);
    };
    auto b = Bucket::Open(o);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    bucket_ = *b;
    base_ = faults_->counters();  // warmup's own writes are not the test's business
  }
  // A crash: the bucket goes away without Shutdown (unpersisted writes are dropped).
  void Crash() {
    bucket_.reset();
    exec_.RunReady();  // tasks notice the bucket is gone
  }

  StatusOr<MutationResult> Set(Vbid vb, const std::string& key, const std::string& value) {
    StoreRequest r;
    r.key = key;
    r.value = value;
    return bucket_->Store(vb, r);
  }
  std::string GetValue(Vbid vb, const std::string& key) {
    auto waiter = std::make_shared<RecordingWaiter>();
    auto r = bucket_->Get(vb, key, waiter);
    if (r.status().code() == Errc::kWouldBlock) {
      exec_.RunReady(TaskGroup::kReader);
      EXPECT_EQ(waiter->notified, 1);
      r = bucket_->Get(vb, key, waiter);
    }
    if (!r.ok()) return "<" + std::string(ErrcName(r.status().code())) + ">";
    return std::string(r->value.view());
  }
  // Write calls since Open().
  uint64_t Attempts() const { return faults_->counters().write_attempts - base_.write_attempts; }
  uint64_t Passed() const { return faults_->counters().writes_passed - base_.writes_passed; }
  uint64_t PersistedSeqno(Vbid vb) { return bucket_->GetVBucket(vb)->persisted_seqno(); }
  // Runs the writer tasks that are due now (the clock does not move).
  void RunWriters() { exec_.RunReady(TaskGroup::kWriter); }
  // Moves the clock in `step`s, running every due task, until nothing is left to persist (or
  // `limit` of virtual time passed).
  void FlushWithTime(Duration step = std::chrono::milliseconds(50),
                     Duration limit = std::chrono::seconds(30)) {
    for (Duration t{}; t < limit && bucket_->QueueSize() != 0; t += step) {
      exec_.RunReady();
      clock_.Advance(step);
    }
    exec_.RunReady();
    ASSERT_EQ(bucket_->QueueSize(), 0u);
  }
  std::map<std::string, std::string> Stats() {
    std::map<std::string, std::string> out;
    EXPECT_TRUE(
        bucket_
            ->GetStats("", [&](std::string_view k,
                               std::string_view v) { out[std::string(k)] = std::string(v); })
            .ok());
    return out;
  }

  testing::TempDir dir_{"sluice_flusher_fault_test"};
  Config config_;
  FakeClock clock_;
  ManualExecutor exec_{&clock_};
  std::shared_ptr<FaultInjector> faults_ = std::make_shared<FaultInjector>();
  std::shared_ptr<Bucket> bucket_;
  storage::FaultCounters base_;
};

class FlusherFaultCodeTest : public FlusherFaultTest, public ::testing::WithParamInterface<Errc> {};

TEST_P(FlusherFaultCodeTest, FailedCommitsAcknowledgeNothingLoseNothingAndRecover) {
  Open();
  std::map<std::pair<Vbid, std::string>, std::string> written;
  uint64_t max_seqno_vb0 = 0;
  for (int i = 0; i < 100; ++i) {
    const Vbid vb = static_cast<Vbid>(i % 8);
    const std::string key = "k" + std::to_string(i);
    auto r = Set(vb, key, "v" + std::to_string(i));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    written[{vb, key}] = "v" + std::to_string(i);
    if (vb == 0) max_seqno_vb0 = r->seqno;
  }
  faults_->FailWritesUntilCleared(GetParam());
  auto waiter = std::make_shared<RecordingWaiter>();
  ASSERT_EQ(bucket_->WaitForPersistence(0, max_seqno_vb0, waiter).code(), Errc::kWouldBlock);

  // Ten seconds of failing commits: nothing moves, nothing is lost from memory.
  for (int step = 0; step < 200; ++step) {
    exec_.RunReady();
    clock_.Advance(std::chrono::milliseconds(50));
  }
  EXPECT_GT(faults_->counters().injected_failures, 0u);
  EXPECT_EQ(Passed(), 0u);
  EXPECT_EQ(bucket_->QueueSize(), 100u);
  for (Vbid vb = 0; vb < 8; ++vb) EXPECT_EQ(PersistedSeqno(vb), 0u) << "vb:" << vb;
  EXPECT_EQ(waiter->notified, 0) << "a durable write was acknowledged before it was persisted";
  for (const auto& [where, value] : written) EXPECT_EQ(GetValue(where.first, where.second), value);
  const auto stats = Stats();
  EXPECT_EQ(stats.at("ep_item_commit_failed"),
            std::to_string(faults_->counters().injected_failures));

  // The fault clears: the flusher recovers by itself within its longest back-off.
  faults_->Clear();
  FlushWithTime();
  EXPECT_EQ(waiter->notified, 1);
  EXPECT_TRUE(waiter->last.ok());
  EXPECT_EQ(PersistedSeqno(0), max_seqno_vb0);
  for (Vbid vb = 0; vb < 8; ++vb) {
    EXPECT_EQ(bucket_->flusher_for(vb).consecutive_failures(), 0u);
  }

  // And what was acknowledged as persisted survives a crash.
  Crash();
  Open();
  EXPECT_FALSE(bucket_->warmup_stats().clean_shutdown);
  for (const auto& [where, value] : written) EXPECT_EQ(GetValue(where.first, where.second), value);
}

INSTANTIATE_TEST_SUITE_P(Codes, FlusherFaultCodeTest,
                         ::testing::Values(Errc::kTempFail, Errc::kIoError),
                         [](const auto& info) { return std::string(ErrcName(info.param)); });

TEST_F(FlusherFaultTest, BackOffIsExponentialAndWritesDoNotShortenIt) {
  Open();
  ASSERT_TRUE(Set(0, "first", "v").ok());
  ASSERT_TRUE(Set(1, "first", "v").ok());
  faults_->FailWritesUntilCleared(Errc::kIoError);
  RunWriters();
  const uint64_t first = Attempts();
  EXPECT_EQ(first, kShards);  // one failed commit per shard
  EXPECT_EQ(bucket_->flusher_for(0).consecutive_failures(), 1u);

  // A stream of writes to other vbuckets wakes the flushers, but the clock has not moved: no
  // new attempt.
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(Set(static_cast<Vbid>(i % 8), "w" + std::to_string(i), "v").ok());
    RunWriters();
  }
  EXPECT_EQ(Attempts(), first) << "the flusher retried during its back-off";

  // Just before the first back-off ends: still nothing; at its end: one retry per shard.
  clock_.Advance(Flusher::kMinRetryDelay - std::chrono::milliseconds(1));
  RunWriters();
  EXPECT_EQ(Attempts(), first);
  clock_.Advance(std::chrono::milliseconds(1));
  RunWriters();
  EXPECT_EQ(Attempts(), first + kShards);
  // The next one waits twice as long.
  clock_.Advance(Flusher::kMinRetryDelay);
  RunWriters();
  EXPECT_EQ(Attempts(), first + kShards);
  clock_.Advance(Flusher::kMinRetryDelay);
  RunWriters();
  EXPECT_EQ(Attempts(), first + 2 * kShards);

  // Over a minute of failures, advancing 10 ms at a time with a write in every step, the number
  // of attempts is bounded by the back-off (about 60 s / kMaxRetryDelay per shard), not by the
  // number of wake-ups.
  for (int step = 0; step < 6000; ++step) {
    ASSERT_TRUE(Set(static_cast<Vbid>(step % 8), "m" + std::to_string(step % 50), "v").ok());
    RunWriters();
    clock_.Advance(std::chrono::milliseconds(10));
  }
  const uint64_t per_shard = (Attempts() - first) / kShards;
  EXPECT_LE(per_shard, 60 / 2 + 10u) << "attempts: " << Attempts();
  EXPECT_GE(per_shard, 60 / 2 - 2u);  // and it did keep retrying
  EXPECT_EQ(Passed(), 0u);

  faults_->Clear();
  FlushWithTime(std::chrono::milliseconds(100));
  EXPECT_EQ(bucket_->flusher_for(0).consecutive_failures(), 0u);
  EXPECT_EQ(GetValue(3, "w3"), "v");
}

TEST_F(FlusherFaultTest, FullDiskFillsMemoryThenWritesGetTempFailAndRecover) {
  Open();
  faults_->FailWritesUntilCleared(Errc::kTempFail);
  const std::string value(64 << 10, 'x');
  std::map<std::pair<Vbid, std::string>, uint64_t> accepted;
  Status refused;
  for (int i = 0; i < 10000 && refused.ok(); ++i) {
    const Vbid vb = static_cast<Vbid>(i % 8);
    const std::string key = "big" + std::to_string(i);
    auto r = Set(vb, key, value);
    if (!r.ok()) {
      refused = r.status();
      break;
    }
    accepted[{vb, key}] = r->seqno;
    exec_.RunReady();  // flushers fail, the pager finds nothing clean to evict
    clock_.Advance(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(refused.code(), Errc::kTempFail) << refused.ToString();
  // Memory, not the fault, decided: a good part of the quota was accepted first.
  EXPECT_GT(accepted.size(), 100u);
  EXPECT_GT(bucket_->MemUsed(), static_cast<int64_t>(config_.MemHighWatBytes()));
  EXPECT_EQ(bucket_->QueueSize(), accepted.size());
  EXPECT_GT(std::stoull(Stats().at("ep_tmp_oom_errors")), 0u);
  EXPECT_EQ(GetValue(5, "big5"), value);

  // Space comes back: everything accepted is persisted, memory is freed and writes pass again.
  faults_->Clear();
  FlushWithTime();
  bool accepted_again = false;
  for (int i = 0; i < 200 && !accepted_again; ++i) {
    accepted_again = Set(0, "after", "v").ok();
    exec_.RunReady();
    clock_.Advance(std::chrono::milliseconds(100));
  }
  EXPECT_TRUE(accepted_again) << "memory used " << bucket_->MemUsed();

  Crash();
  Open();
  size_t present = 0;
  for (const auto& [where, seqno] : accepted) {
    present += GetValue(where.first, where.second) == value ? 1 : 0;
    EXPECT_LE(seqno, bucket_->GetVBucket(where.first)->high_seqno());
  }
  EXPECT_EQ(present, accepted.size());
}

TEST_F(FlusherFaultTest, SyncErrorHoldsBackDurableWritesOnly) {
  Open();
  faults_->FailOnlySynced(true);
  faults_->FailWritesUntilCleared(Errc::kIoError);
  auto plain = Set(0, "plain", "v");
  ASSERT_TRUE(plain.ok());
  FlushWithTime();  // an unsynced commit goes through
  EXPECT_EQ(PersistedSeqno(0), plain->seqno);

  auto durable = Set(0, "durable", "v");
  ASSERT_TRUE(durable.ok());
  auto waiter = std::make_shared<RecordingWaiter>();
  ASSERT_EQ(bucket_->WaitForPersistence(0, durable->seqno, waiter).code(), Errc::kWouldBlock);
  for (int step = 0; step < 40; ++step) {
    exec_.RunReady();
    clock_.Advance(std::chrono::milliseconds(50));
  }
  EXPECT_GT(faults_->counters().injected_failures, 0u);
  EXPECT_EQ(waiter->notified, 0);
  EXPECT_EQ(PersistedSeqno(0), plain->seqno);
  faults_->Clear();
  FlushWithTime();
  EXPECT_EQ(waiter->notified, 1);
  EXPECT_EQ(PersistedSeqno(0), durable->seqno);
}

TEST_F(FlusherFaultTest, ShutdownThatCannotPersistReportsItAndTheRestartIsUnclean) {
  Open();
  ASSERT_TRUE(Set(0, "persisted", "v").ok());
  FlushWithTime();
  const uint64_t persisted = PersistedSeqno(0);
  faults_->FailWritesUntilCleared(Errc::kTempFail);
  ASSERT_TRUE(Set(0, "stuck", "v").ok());
  const uint64_t attempts = Attempts();
  EXPECT_FALSE(bucket_->Shutdown().ok());
  EXPECT_LE(Attempts() - attempts, 10u);
  bucket_.reset();
  faults_->Clear();

  Open();
  EXPECT_FALSE(bucket_->warmup_stats().clean_shutdown);
  auto log = *bucket_->GetFailoverLog(0);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].seqno, persisted);
  EXPECT_EQ(GetValue(0, "persisted"), "v");
  EXPECT_EQ(bucket_->GetVBucket(0)->high_seqno(), persisted);
}

// A durable write whose waiter registers while the commit carrying it is in progress (the batch
// was collected without a waiter, so unsynced): the waiter is released only by a synced commit.
TEST_F(FlusherFaultTest, WaiterRegisteredDuringAnUnsyncedCommitWaitsForASyncedOne) {
  Open();
  auto r = Set(0, "durable", "v");
  ASSERT_TRUE(r.ok());
  auto waiter = std::make_shared<RecordingWaiter>();
  std::vector<bool> commits_synced;
  faults_->SetWriteHook([&](bool sync) {
    commits_synced.push_back(sync);
    if (commits_synced.size() == 1) {
      EXPECT_EQ(bucket_->WaitForPersistence(0, r->seqno, waiter).code(), Errc::kWouldBlock);
    }
  });
  RunWriters();
  faults_->SetWriteHook(nullptr);
  EXPECT_EQ(commits_synced, (std::vector<bool>{false, true}));
  EXPECT_EQ(waiter->notified, 1);
  EXPECT_EQ(bucket_->GetVBucket(0)->synced_seqno(), r->seqno);

  // Persisted by an unsynced commit, then waited for: a synced commit comes first.
  auto r2 = Set(0, "later", "v");
  ASSERT_TRUE(r2.ok());
  RunWriters();
  EXPECT_EQ(PersistedSeqno(0), r2->seqno);
  EXPECT_EQ(bucket_->GetVBucket(0)->synced_seqno(), r->seqno);
  auto waiter2 = std::make_shared<RecordingWaiter>();
  ASSERT_EQ(bucket_->WaitForPersistence(0, r2->seqno, waiter2).code(), Errc::kWouldBlock);
  const uint64_t attempts = Attempts();
  RunWriters();
  EXPECT_EQ(Attempts(), attempts + 1);
  EXPECT_EQ(waiter2->notified, 1);
  EXPECT_EQ(bucket_->GetVBucket(0)->synced_seqno(), r2->seqno);
}

}  // namespace
}  // namespace sluice::engine
