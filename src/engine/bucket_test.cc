// Bucket tests: the document API, persistence, warmup and the background tasks, driven
// deterministically by a ManualExecutor and a FakeClock over a real RocksDB store in a temp dir.
#include "engine/bucket.h"

#include <gtest/gtest.h>

#include <map>

#include "testing/manual_executor.h"
#include "testing/recording_waiter.h"
#include "testing/temp_dir.h"

namespace sluice::engine {
namespace {

using executor::ManualExecutor;
using executor::TaskGroup;

using testing::RecordingWaiter;

class BucketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_.max_vbuckets = 8;
    config_.max_num_shards = 2;
    config_.max_size = 64 << 20;
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
    auto b = Bucket::Open(o);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    bucket_ = *b;
  }
  // Runs writer tasks until nothing is left to persist.
  void Flush() {
    for (int i = 0; i < 1000 && bucket_->QueueSize() != 0; ++i) {
      exec_.RunReady(TaskGroup::kWriter);
    }
    exec_.RunReady(TaskGroup::kWriter);
    ASSERT_EQ(bucket_->QueueSize(), 0u);
  }
  StatusOr<MutationResult> Set(Vbid vb, std::string_view key, std::string_view value,
                               uint64_t cas = 0, StoreOp op = StoreOp::kSet, uint32_t expiry = 0) {
    StoreRequest r;
    r.op = op;
    r.key = key;
    r.value = value;
    r.cas = cas;
    r.expiry = expiry;
    r.flags = 0xdeadbeef;
    return bucket_->Store(vb, r);
  }
  std::string GetValue(Vbid vb, std::string_view key) {
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
  std::map<std::string, std::string> Stats(std::string_view group) {
    std::map<std::string, std::string> out;
    EXPECT_TRUE(
        bucket_
            ->GetStats(group, [&](std::string_view k,
                                  std::string_view v) { out[std::string(k)] = std::string(v); })
            .ok());
    return out;
  }

  testing::TempDir dir_{"sluice_bucket_test"};
  Config config_;
  FakeClock clock_;
  ManualExecutor exec_{&clock_};
  std::shared_ptr<Bucket> bucket_;
};

TEST_F(BucketTest, FreshBucketHasActiveVBucketsWithOneFailoverEntry) {
  Open();
  EXPECT_TRUE(bucket_->warmup_stats().fresh);
  for (Vbid vb = 0; vb < 8; ++vb) {
    EXPECT_EQ(*bucket_->GetVBucketState(vb), VBucketState::kActive);
    auto log = bucket_->GetFailoverLog(vb);
    ASSERT_TRUE(log.ok());
    ASSERT_EQ(log->size(), 1u);
    EXPECT_EQ((*log)[0].seqno, 0u);
    EXPECT_NE((*log)[0].uuid, 0u);
  }
  EXPECT_EQ(bucket_->GetVBucketState(8).status().code(), Errc::kNotMyVbucket);
}

TEST_F(BucketTest, StoreSemantics) {
  Open();
  auto a = Set(0, "k", "v1");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->seqno, 1u);
  EXPECT_NE(a->cas, 0u);
  EXPECT_EQ(GetValue(0, "k"), "v1");
  // ADD on an existing key, REPLACE on a missing one.
  EXPECT_EQ(Set(0, "k", "x", 0, StoreOp::kAdd).status().code(), Errc::kExists);
  EXPECT_EQ(Set(0, "missing", "x", 0, StoreOp::kReplace).status().code(), Errc::kNotFound);
  // CAS mismatch and match.
  EXPECT_EQ(Set(0, "k", "v2", a->cas + 1).status().code(), Errc::kExists);
  auto b = Set(0, "k", "v2", a->cas);
  ASSERT_TRUE(b.ok());
  EXPECT_GT(b->cas, a->cas);
  EXPECT_EQ(b->seqno, 2u);
  EXPECT_EQ(Set(0, "missing", "x", 42).status().code(), Errc::kNotFound);
  // Seqnos are per vbucket.
  EXPECT_EQ(Set(1, "k", "other")->seqno, 1u);
  // Delete, then the key is gone and a delete of it misses.
  auto d = bucket_->Delete(0, "k", 0);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->seqno, 3u);
  EXPECT_EQ(GetValue(0, "k"), "<NotFound>");
  EXPECT_EQ(bucket_->Delete(0, "k", 0).status().code(), Errc::kNotFound);
  // A re-created key continues the revision sequence of its tombstone.
  ASSERT_TRUE(Set(0, "k", "v3", 0, StoreOp::kAdd).ok());
  auto meta = bucket_->GetMeta(0, "k");
  ASSERT_TRUE(meta.ok());
  EXPECT_EQ(meta->rev_seqno, 4u);
  EXPECT_EQ(meta->flags, 0xdeadbeefu);
  // Values larger than the item limit.
  std::string big(config_.max_item_size + 1, 'x');
  EXPECT_EQ(Set(0, "big", big).status().code(), Errc::kTooBig);
}

// A rebalance's takeover (docs/cluster.md, "Moving a vbucket"): front-end writes answer TMPFAIL,
// reads go on, the other vbuckets are untouched; lifting it or a state change ends it.
TEST_F(BucketTest, TakeoverRefusesWritesUntilLiftedOrTheStateChanges) {
  Open();
  ASSERT_TRUE(Set(0, "k", "v1").ok());
  ASSERT_TRUE(bucket_->SetVBucketTakeover(0, true).ok());
  EXPECT_TRUE(*bucket_->GetVBucketTakeover(0));
  EXPECT_EQ(Set(0, "k", "v2").status().code(), Errc::kTempFail);
  EXPECT_EQ(bucket_->Delete(0, "k", 0).status().code(), Errc::kTempFail);
  EXPECT_EQ(GetValue(0, "k"), "v1");
  EXPECT_TRUE(Set(1, "k", "other").ok());
  ASSERT_TRUE(bucket_->SetVBucketTakeover(0, false).ok());
  EXPECT_TRUE(Set(0, "k", "v2").ok());
  ASSERT_TRUE(bucket_->SetVBucketTakeover(0, true).ok());
  ASSERT_TRUE(bucket_->SetVBucketState(0, VBucketState::kReplica).ok());
  EXPECT_FALSE(*bucket_->GetVBucketTakeover(0));
  ASSERT_TRUE(bucket_->SetVBucketState(0, VBucketState::kActive).ok());
  EXPECT_TRUE(Set(0, "k", "v3").ok());
  EXPECT_EQ(bucket_->SetVBucketTakeover(99, true).code(), Errc::kNotMyVbucket);
}

// The node agent's fence: the flag, and the lease's local expiry, read at each write (the steady
// clock, not the bucket's clock: a paused process must refuse its first write after resuming).
TEST_F(BucketTest, WritesAreFencedByTheFlagAndPastTheLeaseExpiry) {
  Open();
  using Steady = std::chrono::steady_clock;
  ASSERT_TRUE(Set(0, "k", "v1").ok());
  bucket_->SetWritesFenced(true);
  EXPECT_EQ(Set(0, "k", "v2").status().code(), Errc::kTempFail);
  EXPECT_EQ(bucket_->Delete(0, "k", 0).status().code(), Errc::kTempFail);
  bucket_->SetWritesFenced(false);
  bucket_->SetWritesValidUntil(Steady::now() + std::chrono::hours(1));
  EXPECT_TRUE(Set(0, "k", "v2").ok());
  bucket_->SetWritesValidUntil(Steady::now());  // expired: no thread had to notice
  EXPECT_EQ(Set(0, "k", "v3").status().code(), Errc::kTempFail);
  EXPECT_EQ(GetValue(0, "k"), "v2");  // reads go on
  ASSERT_TRUE(bucket_->SetVBucketState(1, VBucketState::kReplica).ok());
  EXPECT_EQ(Set(1, "k", "x").status().code(), Errc::kNotMyVbucket);     // ownership first
  bucket_->SetWritesValidUntil(Steady::now() + std::chrono::hours(1));  // a renewal
  EXPECT_TRUE(Set(0, "k", "v3").ok());
}

TEST_F(BucketTest, ArithmeticAppendPrependTouch) {
  Open();
  auto waiter = std::make_shared<RecordingWaiter>();
  ArithmeticRequest inc{"n", true, 5, 10, 0, true, 0};
  auto r = bucket_->Arithmetic(0, inc, waiter);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->value, 10u);  // created with the initial value
  r = bucket_->Arithmetic(0, inc, waiter);
  EXPECT_EQ(r->value, 15u);
  ArithmeticRequest dec{"n", false, 100, 0, 0, true, 0};
  EXPECT_EQ(bucket_->Arithmetic(0, dec, waiter)->value, 0u);  // stops at zero
  ArithmeticRequest nocreate{"absent", true, 1, 0, 0, false, 0};
  EXPECT_EQ(bucket_->Arithmetic(0, nocreate, waiter).status().code(), Errc::kNotFound);
  ASSERT_TRUE(Set(0, "text", "abc").ok());
  EXPECT_EQ(bucket_->Arithmetic(0, ArithmeticRequest{"text", true, 1, 0, 0, true, 0}, waiter)
                .status()
                .code(),
            Errc::kDeltaBadval);

  ASSERT_TRUE(bucket_->AppendPrepend(0, "text", "def", true, 0, waiter).ok());
  ASSERT_TRUE(bucket_->AppendPrepend(0, "text", "012", false, 0, waiter).ok());
  EXPECT_EQ(GetValue(0, "text"), "012abcdef");
  EXPECT_EQ(bucket_->AppendPrepend(0, "absent", "x", true, 0, waiter).status().code(),
            Errc::kNotStored);

  const uint32_t now = clock_.WallSeconds();
  auto t = bucket_->Touch(0, "text", now + 10, /*fetch=*/true, waiter);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->value.view(), "012abcdef");
  EXPECT_EQ(bucket_->Touch(0, "absent", now + 10, false, waiter).status().code(), Errc::kNotFound);
}

TEST_F(BucketTest, ExpiryOnAccessAndByPager) {
  Open();
  const uint32_t now = clock_.WallSeconds();
  ASSERT_TRUE(Set(0, "a", "1", 0, StoreOp::kSet, now + 10).ok());
  ASSERT_TRUE(Set(0, "b", "2", 0, StoreOp::kSet, now + 10).ok());
  ASSERT_TRUE(Set(0, "c", "3").ok());
  clock_.Advance(std::chrono::seconds(11));
  // On access: "a" becomes an expiration with its own seqno.
  EXPECT_EQ(GetValue(0, "a"), "<NotFound>");
  EXPECT_EQ(bucket_->GetVBucket(0)->high_seqno(), 4u);
  // The pager expires "b" (its interval is exp_pager_stime).
  clock_.Advance(
      std::chrono::duration_cast<Duration>(std::chrono::duration<double>(config_.exp_pager_stime)));
  exec_.RunReady(TaskGroup::kNonIO);
  EXPECT_EQ(bucket_->GetVBucket(0)->high_seqno(), 5u);
  EXPECT_EQ(GetValue(0, "b"), "<NotFound>");
  EXPECT_EQ(GetValue(0, "c"), "3");
  auto stats = Stats("");
  EXPECT_EQ(stats["ep_expired_access"], "1");
  EXPECT_EQ(stats["ep_expired_pager"], "1");
  EXPECT_EQ(stats["curr_items"], "1");
}

TEST_F(BucketTest, FlushPersistsAndCleanRestartKeepsEverything) {
  Open();
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(Set(i % 8, "key" + std::to_string(i), "v").ok());
  ASSERT_TRUE(bucket_->Delete(3, "key3", 0).ok());
  EXPECT_GT(bucket_->QueueSize(), 0u);
  Flush();
  auto seqnos = Stats("vbucket-seqno");
  EXPECT_EQ(seqnos["vb_3:high_seqno"], "14");
  EXPECT_EQ(seqnos["vb_3:last_persisted_seqno"], "14");
  const uint64_t uuid = bucket_->GetVBucket(3)->uuid();
  ASSERT_TRUE(bucket_->Shutdown().ok());
  bucket_.reset();

  Open();
  EXPECT_TRUE(bucket_->warmup_stats().clean_shutdown);
  EXPECT_EQ(bucket_->GetVBucket(3)->high_seqno(), 14u);
  EXPECT_EQ(bucket_->GetVBucket(3)->uuid(), uuid);
  EXPECT_EQ(bucket_->GetFailoverLog(3)->size(), 1u);
  EXPECT_EQ(GetValue(5, "key5"), "v");
  EXPECT_EQ(GetValue(3, "key3"), "<NotFound>");
  EXPECT_EQ(Stats("")["curr_items"], "99");
  // Seqnos continue after the persisted ones; the re-created key's revision continues too.
  auto r = Set(3, "key3", "again");
  EXPECT_EQ(r->seqno, 15u);
  EXPECT_EQ(bucket_->GetMeta(3, "key3")->rev_seqno, 3u);
}

TEST_F(BucketTest, ShutdownPersistsOutstandingWrites) {
  Open();
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(Set(0, "k" + std::to_string(i), "v").ok());
  ASSERT_TRUE(bucket_->Shutdown().ok());  // no flusher ran: Shutdown must flush
  bucket_.reset();
  Open();
  EXPECT_EQ(bucket_->GetVBucket(0)->high_seqno(), 50u);
  EXPECT_EQ(GetValue(0, "k49"), "v");
}

TEST_F(BucketTest, UncleanRestartAddsFailoverEntryAndLosesOnlyUnpersisted) {
  Open();
  ASSERT_TRUE(Set(0, "a", "1").ok());
  ASSERT_TRUE(Set(0, "b", "2").ok());
  Flush();
  ASSERT_TRUE(Set(0, "c", "3").ok());  // never persisted
  const uint64_t old_uuid = bucket_->GetVBucket(0)->uuid();
  bucket_.reset();  // like a crash: no Shutdown

  Open();
  EXPECT_FALSE(bucket_->warmup_stats().clean_shutdown);
  auto log = *bucket_->GetFailoverLog(0);
  ASSERT_EQ(log.size(), 2u);
  EXPECT_EQ(log[0].seqno, 2u);  // newest first, at the persisted high seqno
  EXPECT_NE(log[0].uuid, old_uuid);
  EXPECT_EQ(log[1].uuid, old_uuid);
  EXPECT_EQ(GetValue(0, "a"), "1");
  EXPECT_EQ(GetValue(0, "c"), "<NotFound>");
  EXPECT_EQ(bucket_->GetVBucket(0)->high_seqno(), 2u);
  // Only one new entry per unclean stop, persisted: a clean restart keeps two.
  ASSERT_TRUE(bucket_->Shutdown().ok());
  bucket_.reset();
  Open();
  EXPECT_EQ(bucket_->GetFailoverLog(0)->size(), 2u);
}

TEST_F(BucketTest, EvictionAndBackgroundFetch) {
  config_.max_size = 16 << 20;
  Open();
  const std::string value(4096, 'v');
  int stored = 0;
  // Fill past the high watermark, flushing as we go so values become evictable.
  for (int i = 0; i < 3500; ++i) {
    auto r = Set(i % 8, "key" + std::to_string(i), value);
    if (!r.ok()) {
      ASSERT_EQ(r.status().code(), Errc::kTempFail);
      Flush();
      exec_.RunReady(TaskGroup::kNonIO);  // item pager, woken by the write path
      continue;
    }
    ++stored;
    if (i % 200 == 0) Flush();
  }
  Flush();
  clock_.Advance(std::chrono::seconds(10));
  exec_.RunReady(TaskGroup::kNonIO);
  auto stats = Stats("");
  EXPECT_GT(std::stoll(stats["ep_num_value_ejects"]), 0);
  EXPECT_LE(bucket_->MemUsed(), static_cast<int64_t>(config_.max_size));
  // Every stored key is still readable (evicted values come back from disk).
  int readable = 0;
  for (int i = 0; i < 3500; ++i) {
    if (GetValue(i % 8, "key" + std::to_string(i)) == value) ++readable;
  }
  EXPECT_GE(readable, stored);
  EXPECT_GT(std::stoll(Stats("")["ep_bg_fetched"]), 0);
}

TEST_F(BucketTest, VBucketStateChanges) {
  Open();
  ASSERT_TRUE(Set(2, "k", "v").ok());
  ASSERT_TRUE(bucket_->SetVBucketState(2, VBucketState::kReplica).ok());
  EXPECT_EQ(Set(2, "k", "v").status().code(), Errc::kNotMyVbucket);
  EXPECT_EQ(GetValue(2, "k"), "<NotMyVbucket>");
  ASSERT_TRUE(bucket_->SetVBucketState(2, VBucketState::kActive).ok());
  EXPECT_EQ(bucket_->GetFailoverLog(2)->size(), 2u);  // promotion = new branch
  EXPECT_EQ(GetValue(2, "k"), "v");
  // Delete and re-create.
  ASSERT_TRUE(bucket_->SetVBucketState(2, VBucketState::kDead).ok());
  ASSERT_TRUE(bucket_->DeleteVBucket(2).ok());
  EXPECT_EQ(bucket_->GetVBucketState(2).status().code(), Errc::kNotMyVbucket);
  ASSERT_TRUE(bucket_->SetVBucketState(2, VBucketState::kActive).ok());
  EXPECT_EQ(GetValue(2, "k"), "<NotFound>");
  EXPECT_EQ(bucket_->GetVBucket(2)->high_seqno(), 0u);
  Flush();
  ASSERT_TRUE(bucket_->Shutdown().ok());
  bucket_.reset();
  Open();
  EXPECT_EQ(GetValue(2, "k"), "<NotFound>");
  auto all = bucket_->GetAllVbSeqnos(std::nullopt);
  EXPECT_EQ(all.size(), 8u);
}

class CountingMapListener : public VBucketMapListener {
 public:
  void OnVBucketMapChanged() override { ++changes; }
  int changes = 0;
};

TEST_F(BucketTest, TopologiesFollowKvEnginesSetVBucketRules) {
  Open();
  CountingMapListener listener;
  bucket_->SetVBucketMapListener(&listener);
  const VBucketTopology ab{{{"a", "b"}}};
  const VBucketTopology moving{{{"a", "b"}, {"a", std::nullopt}}};
  const uint64_t rev0 = bucket_->config_revision();
  ASSERT_TRUE(bucket_->SetVBucketState(1, VBucketState::kActive, ab).ok());
  EXPECT_EQ(bucket_->GetVBucketTopology(1).value(), ab);
  EXPECT_EQ(bucket_->GetFailoverLog(1)->size(), 1u) << "already active: no new branch";
  EXPECT_EQ(Stats("vbucket-details 1")["vb_1:topology"], R"([["a","b"]])");
  EXPECT_EQ(listener.changes, 1);
  EXPECT_GT(bucket_->config_revision(), rev0);
  // No meta, same state: nothing changes (no revision either). The same meta: nothing changes.
  const uint64_t rev1 = bucket_->config_revision();
  ASSERT_TRUE(bucket_->SetVBucketState(1, VBucketState::kActive).ok());
  ASSERT_TRUE(bucket_->SetVBucketState(1, VBucketState::kActive, ab).ok());
  EXPECT_EQ(bucket_->GetVBucketTopology(1).value(), ab);
  EXPECT_EQ(bucket_->config_revision(), rev1);
  EXPECT_EQ(listener.changes, 1);
  ASSERT_TRUE(bucket_->SetVBucketState(1, VBucketState::kActive, moving).ok());
  EXPECT_EQ(bucket_->GetVBucketTopology(1).value(), moving);
  // A state change without meta clears it; so does meta without a topology.
  ASSERT_TRUE(bucket_->SetVBucketState(1, VBucketState::kReplica).ok());
  EXPECT_TRUE(bucket_->GetVBucketTopology(1)->empty());
  EXPECT_EQ(Stats("vbucket-details 1")["vb_1:topology"], "null");
  ASSERT_TRUE(bucket_->SetVBucketState(1, VBucketState::kActive, ab).ok());
  EXPECT_EQ(bucket_->GetFailoverLog(1)->size(), 2u) << "a promotion is a new branch";
  ASSERT_TRUE(bucket_->SetVBucketState(1, VBucketState::kActive, VBucketTopology{}).ok());
  EXPECT_TRUE(bucket_->GetVBucketTopology(1)->empty());
  // Refused: a topology for another state, a broken one, a vbucket out of range.
  EXPECT_EQ(bucket_->SetVBucketState(2, VBucketState::kReplica, ab).code(), Errc::kInvalid);
  EXPECT_EQ(
      bucket_->SetVBucketState(2, VBucketState::kActive, VBucketTopology{{{std::nullopt}}}).code(),
      Errc::kInvalid);
  EXPECT_EQ(bucket_->SetVBucketState(99, VBucketState::kActive, ab).code(), Errc::kRange);
  EXPECT_EQ(bucket_->GetVBucketState(2).value(), VBucketState::kActive);
  // Deletion and creation (with a topology) are map changes too.
  const int before = listener.changes;
  ASSERT_TRUE(bucket_->DeleteVBucket(3).ok());
  ASSERT_TRUE(bucket_->SetVBucketState(3, VBucketState::kActive, moving).ok());
  EXPECT_EQ(listener.changes, before + 2);
  EXPECT_EQ(bucket_->GetVBucketTopology(3).value(), moving);
  ASSERT_TRUE(bucket_->SetVBucketState(4, VBucketState::kActive, ab).ok());
  bucket_->SetVBucketMapListener(nullptr);

  // Persisted with the state: a clean restart and an unclean one keep them.
  ASSERT_TRUE(bucket_->PersistAll().ok());
  ASSERT_TRUE(bucket_->Shutdown().ok());
  bucket_.reset();
  Open();
  EXPECT_EQ(bucket_->GetVBucketTopology(3).value(), moving);
  EXPECT_EQ(bucket_->GetVBucketTopology(4).value(), ab);
  EXPECT_TRUE(bucket_->GetVBucketTopology(1)->empty());
  ASSERT_TRUE(bucket_->SetVBucketState(4, VBucketState::kActive, moving).ok());
  ASSERT_TRUE(bucket_->PersistAll().ok());
  bucket_.reset();  // a crash: no shutdown
  Open();
  EXPECT_FALSE(bucket_->warmup_stats().clean_shutdown);
  EXPECT_EQ(bucket_->GetVBucketTopology(4).value(), moving);
}

TEST_F(BucketTest, ReplicaVBucketsServeReplicaReadsAndAreNotExpiredHere) {
  Open();
  const uint32_t now = clock_.WallSeconds();
  ASSERT_TRUE(Set(5, "ttl", "1", 0, StoreOp::kSet, now + 10).ok());
  ASSERT_TRUE(Set(5, "kept", "2").ok());
  ASSERT_TRUE(bucket_->SetVBucketState(5, VBucketState::kReplica).ok());
  auto waiter = std::make_shared<RecordingWaiter>();
  auto read = bucket_->Get(5, "kept", waiter, false, ReadFrom::kReplica);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->value.view(), "2");
  EXPECT_EQ(GetValue(5, "kept"), "<NotMyVbucket>") << "a front-end GET";
  EXPECT_EQ(bucket_->Get(1, "kept", waiter, false, ReadFrom::kReplica).status().code(),
            Errc::kNotMyVbucket)
      << "an active vbucket serves no replica read";
  // Expired: not found, but neither the read nor the pager queues an expiration on a replica.
  clock_.Advance(std::chrono::seconds(11));
  clock_.Advance(
      std::chrono::duration_cast<Duration>(std::chrono::duration<double>(config_.exp_pager_stime)));
  exec_.RunReady(TaskGroup::kNonIO);
  EXPECT_EQ(bucket_->Get(5, "ttl", waiter, false, ReadFrom::kReplica).status().code(),
            Errc::kNotFound);
  EXPECT_EQ(bucket_->GetVBucket(5)->high_seqno(), 2u);
  EXPECT_EQ(Stats("")["ep_expired_pager"], "0");
  // A replica is observed like an active one; a dead one is not.
  EXPECT_TRUE(bucket_->ObserveSeqno(5, bucket_->GetVBucket(5)->uuid()).ok());
  ASSERT_TRUE(bucket_->SetVBucketState(5, VBucketState::kDead).ok());
  EXPECT_EQ(bucket_->ObserveSeqno(5, 0).status().code(), Errc::kNotMyVbucket);
  EXPECT_EQ(bucket_->Get(5, "kept", waiter, false, ReadFrom::kReplica).status().code(),
            Errc::kNotMyVbucket);
}

TEST_F(BucketTest, ReplicaVBucketsEvictAndWarmUpLikeActives) {
  Open();
  const std::string value(4096, 'r');
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(Set(6, "r" + std::to_string(i), value).ok());
  ASSERT_TRUE(bucket_->SetVBucketState(6, VBucketState::kReplica).ok());
  Flush();
  // Evicted: a replica read fetches the value back from disk.
  EXPECT_GT(bucket_->GetVBucket(6)->EvictValues(1 << 20), 0u);
  auto waiter = std::make_shared<RecordingWaiter>();
  auto read = bucket_->Get(6, "r7", waiter, false, ReadFrom::kReplica);
  ASSERT_EQ(read.status().code(), Errc::kWouldBlock);
  exec_.RunReady(TaskGroup::kReader);
  EXPECT_EQ(waiter->notified, 1);
  read = bucket_->Get(6, "r7", waiter, false, ReadFrom::kReplica);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->value.view(), value);
  // Warmed up as a replica, with its documents.
  ASSERT_TRUE(bucket_->Shutdown().ok());
  bucket_.reset();
  Open();
  EXPECT_EQ(bucket_->GetVBucketState(6).value(), VBucketState::kReplica);
  read = bucket_->Get(6, "r19", waiter, false, ReadFrom::kReplica);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->value.view(), value);
  EXPECT_EQ(bucket_->GetVBucket(6)->high_seqno(), 20u);
}

TEST_F(BucketTest, StatGroups) {
  Open();
  ASSERT_TRUE(Set(1, "k", "v").ok());
  auto d = Stats("");
  for (const char* k : {"curr_items", "mem_used", "ep_queue_size", "ep_total_persisted",
                        "ep_max_size", "ep_mem_high_wat"}) {
    EXPECT_TRUE(d.count(k)) << k;
  }
  EXPECT_EQ(Stats("vbucket")["vb_1"], "active");
  EXPECT_EQ(Stats("vbucket-details 1")["vb_1:num_items"], "1");
  EXPECT_EQ(Stats("failovers 1")["vb_1:num_entries"], "1");
  EXPECT_TRUE(Stats("failovers 1").count("vb_1:0:id"));
  EXPECT_EQ(Stats("checkpoint 1")["vb_1:state"], "active");
  EXPECT_TRUE(Stats("memory").count("mem_used"));
  std::map<std::string, std::string> ignored;
  EXPECT_EQ(bucket_->GetStats("bogus", [](auto, auto) {}).code(), Errc::kNotFound);
  EXPECT_EQ(bucket_->GetStats("vbucket-seqno 99", [](auto, auto) {}).code(), Errc::kNotMyVbucket);
  EXPECT_EQ(bucket_->GetStats("vbucket-seqno x", [](auto, auto) {}).code(), Errc::kInvalid);
}

// The storage invariant "one entry per key" through the engine: after any sequence of writes,
// flushes, deletes, re-creations and restarts, each key has exactly one entry in the by-seqno data
// (the engine tells the store where the previous version is instead of the store reading it).
TEST_F(BucketTest, EachKeyHasOneSeqEntryAcrossFlushesDeletesAndRestarts) {
  auto seq_keys = [&](Vbid vb) {
    std::vector<std::string> keys;
    auto scan = bucket_->store().OpenSeqnoScan(vb, 1, UINT64_MAX, {});
    EXPECT_TRUE(scan.ok());
    bool done = false;
    while (!done) {
      EXPECT_TRUE((*scan)
                      ->Scan(
                          [&](storage::DiskDoc&& d) {
                            keys.push_back(d.key);
                            return storage::ScanControl::kContinue;
                          },
                          &done)
                      .ok());
    }
    std::sort(keys.begin(), keys.end());
    return keys;
  };
  Open();
  ASSERT_TRUE(Set(0, "k", "1").ok());
  ASSERT_TRUE(Set(0, "other", "1").ok());
  Flush();
  ASSERT_TRUE(Set(0, "k", "2").ok());
  ASSERT_TRUE(Set(0, "k", "3").ok());  // two versions in one flush
  Flush();
  EXPECT_EQ(seq_keys(0), (std::vector<std::string>{"k", "other"}));
  ASSERT_TRUE(bucket_->Delete(0, "k", 0).ok());
  Flush();  // the tombstone is persisted and leaves the hash table
  EXPECT_EQ(seq_keys(0), (std::vector<std::string>{"k", "other"}));
  ASSERT_TRUE(Set(0, "k", "4", 0, StoreOp::kAdd).ok());  // re-created: previous version unknown
  Flush();
  EXPECT_EQ(seq_keys(0), (std::vector<std::string>{"k", "other"}));
  ASSERT_TRUE(bucket_->Delete(0, "other", 0).ok());
  Flush();
  ASSERT_TRUE(bucket_->Shutdown().ok());
  bucket_.reset();
  // Warmup learns where every key is on disk, and that a tombstone ("other") is there but not in
  // the hash table: re-creating it must still replace the tombstone's entry.
  Open();
  ASSERT_TRUE(Set(0, "k", "5").ok());
  ASSERT_TRUE(Set(0, "other", "2").ok());
  Flush();
  EXPECT_EQ(seq_keys(0), (std::vector<std::string>{"k", "other"}));
  EXPECT_EQ(GetValue(0, "k"), "5");
}

TEST_F(BucketTest, PersistenceWaiterIsNotifiedAfterFlush) {
  Open();
  auto r = Set(0, "k", "v");
  auto waiter = std::make_shared<RecordingWaiter>();
  EXPECT_EQ(bucket_->WaitForPersistence(0, r->seqno, waiter).code(), Errc::kWouldBlock);
  EXPECT_EQ(waiter->notified, 0);
  Flush();
  EXPECT_EQ(waiter->notified, 1);
  EXPECT_TRUE(bucket_->WaitForPersistence(0, r->seqno, waiter).ok());
}

}  // namespace
}  // namespace sluice::engine

namespace sluice::engine {
namespace {

// Checkpoint memory over the recovery mark that only the flusher can free (no DCP cursor to
// drop): the remover says so, and writers stop waking it until its retry - it used to run again
// after every write, over every vbucket, freeing nothing (11% of the CPU under a SET load).
TEST_F(BucketTest, CheckpointRemoverIsNotWokenByEveryWriteWhileTheFlusherIsBehind) {
  config_.checkpoint_memory_ratio = 0.0005;  // ~32 KiB of checkpoints
  config_.checkpoint_max_size = 4 << 10;
  Open();
  const std::string value(512, 'v');
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(Set(i % 8, "k" + std::to_string(i), value).ok());
  ASSERT_TRUE(exec_.HasTask("checkpoint_remover"));
  EXPECT_GE(exec_.NumReady(TaskGroup::kNonIO), 1u);  // woken by the writes
  exec_.RunReady(TaskGroup::kNonIO);                 // still over: the flusher is behind
  ASSERT_EQ(exec_.NumReady(TaskGroup::kNonIO), 0u);
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(Set(i % 8, "more" + std::to_string(i), value).ok());
  EXPECT_EQ(exec_.NumReady(TaskGroup::kNonIO), 0u);  // the writes did not wake it again
  clock_.Advance(Bucket::kRemoverRetry);
  EXPECT_EQ(exec_.NumReady(TaskGroup::kNonIO), 1u);  // it retries on its own
  EXPECT_TRUE(bucket_->RunCheckpointRemover());

  Flush();
  EXPECT_FALSE(bucket_->RunCheckpointRemover());  // persisted: freed below the mark
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(Set(i % 8, "again" + std::to_string(i), value).ok());
  EXPECT_GE(exec_.NumReady(TaskGroup::kNonIO), 1u);  // over the mark again: wakes resume
}

}  // namespace
}  // namespace sluice::engine
