// The lifetime regressions of the review this product grew from (kv_engine MB-52490): a consumer
// whose streams backfill from disk goes away (mid-scan, while paused on a full backfill buffer,
// while pending behind the bucket-wide limit, by dropping the last producer reference inside a
// backfill callback, by being replaced by a same-named connection, by bucket shutdown, by vbucket
// state changes). Each time: ep_dcp_num_running_backfills returns to 0 at once or after at most
// the run in flight, the producer is freed, and no scan starts after the disconnect. Each
// scenario runs many times.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "testing/dcp_unit_util.h"

namespace sluice::dcp {
namespace {

using executor::TaskGroup;
using protocol::DcpStreamEndStatus;
using testing::DcpTest;
using testing::FakeNotifier;
using testing::Msg;
using testing::OfVb;

constexpr int kRepeat = 50;

class LifetimeTest : public DcpTest {
 protected:
  void SetUp() override {
    DcpTest::SetUp();
    config_.dcp_scan_item_limit = 2;  // backfills take many runs: there is a "mid-scan"
  }
  // Every vbucket gets `items` documents, only on disk afterwards.
  void Prepare(int items = 20) {
    OpenBucket();
    for (Vbid vb = 0; vb < kNumVbuckets; ++vb) WriteMany(vb, items);
    Restart();
  }
  void StreamAll(Producer& p) {
    for (Vbid vb = 0; vb < kNumVbuckets; ++vb) {
      StreamRequestResult r = Req(p, vb);
      ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    }
  }
  // After a disconnect: nothing left of the connection and no scan may start for it.
  void ExpectGone(const std::weak_ptr<Producer>& weak, uint64_t scans_at_disconnect) {
    EXPECT_TRUE(weak.expired());
    EXPECT_EQ(RunningBackfills(), 0u);
    EXPECT_EQ(conn_map_->tracker()->open_scans(), 0u);
    exec_.RunReady(TaskGroup::kAuxIO);
    EXPECT_EQ(ScansStarted(), scans_at_disconnect);
    EXPECT_EQ(exec_.NumReady(TaskGroup::kAuxIO), 0u);
  }
};

TEST_F(LifetimeTest, DisconnectMidScan) {
  Prepare();
  for (int i = 0; i < kRepeat; ++i) {
    auto notifier = std::make_shared<FakeNotifier>();
    auto p = Open("conn" + std::to_string(i), notifier);
    StreamAll(*p);
    EXPECT_EQ(RunningBackfills(), size_t{kNumVbuckets});
    for (int run = 0; run < 3 + i % 5; ++run) exec_.RunOne(TaskGroup::kAuxIO);
    StepOnce(*p, 300);  // some of it sent
    ASSERT_GT(conn_map_->tracker()->open_scans(), 0u);
    const uint64_t scans = ScansStarted();
    std::weak_ptr<Producer> weak = p;
    p->Disconnect();
    // No run is in progress: the manager died with the disconnect, every unit is back.
    EXPECT_EQ(RunningBackfills(), 0u);
    p.reset();
    ExpectGone(weak, scans);
    EXPECT_EQ(conn_map_->num_producers(), 0u);
  }
}

TEST_F(LifetimeTest, DisconnectFromInsideARunningScan) {
  Prepare();
  for (int i = 0; i < kRepeat; ++i) {
    auto notifier = std::make_shared<FakeNotifier>();
    auto p = Open("conn" + std::to_string(i), notifier);
    StreamAll(*p);
    StepOnce(*p);  // the connection caught up: the next queued item notifies it
    Producer* raw = p.get();
    uint64_t scans = 0;
    // The connection thread disconnects while the auxio thread is inside the scan callback.
    notifier->set_on_ready([&] {
      scans = ScansStarted();
      raw->Disconnect();
    });
    ASSERT_TRUE(exec_.RunOne(TaskGroup::kAuxIO));
    notifier->set_on_ready(nullptr);
    // The scan stopped at the next item, the run ended, and the task released the manager.
    EXPECT_EQ(RunningBackfills(), 0u);
    std::weak_ptr<Producer> weak = p;
    p.reset();
    ExpectGone(weak, scans);
  }
}

TEST_F(LifetimeTest, DisconnectWhilePausedOnAFullBackfillBuffer) {
  config_.dcp_backfill_byte_limit = 10;
  config_.dcp_backfill_idle_protection_enabled = false;
  Prepare();
  for (int i = 0; i < kRepeat; ++i) {
    auto notifier = std::make_shared<FakeNotifier>();
    auto p = Open("conn" + std::to_string(i), notifier);
    StreamAll(*p);
    exec_.RunReady(TaskGroup::kAuxIO);  // one item in, buffer full, task parked
    ASSERT_EQ(DcpStats().at("eq_dcpq:conn" + std::to_string(i) + ":backfill_buffer_full"), "true");
    ASSERT_EQ(exec_.NumReady(TaskGroup::kAuxIO), 0u);
    EXPECT_EQ(RunningBackfills(), size_t{kNumVbuckets});
    const uint64_t scans = ScansStarted();
    std::weak_ptr<Producer> weak = p;
    p->Disconnect();
    EXPECT_EQ(RunningBackfills(), 0u);
    p.reset();
    ExpectGone(weak, scans);
  }
}

// The backfilled items a disconnecting consumer never read are freed by a nonio task, not by
// the connection's thread inside Disconnect(); the backfill slots are back before that.
TEST_F(LifetimeTest, QueuedItemsOfADisconnectedProducerAreFreedOffTheConnectionThread) {
  Prepare();
  auto notifier = std::make_shared<FakeNotifier>();
  auto p = Open("conn", notifier);
  StreamAll(*p);
  exec_.RunReady(TaskGroup::kAuxIO);  // every backfill ran: its items wait in the ready queues
  ASSERT_GT(std::stoull(DcpStats().at("eq_dcpq:conn:backfill_buffer_bytes_read")), 0u);
  ASSERT_FALSE(exec_.HasTask("DcpQueueRelease"));
  std::weak_ptr<Producer> weak = p;
  p->Disconnect();
  EXPECT_EQ(RunningBackfills(), 0u);
  EXPECT_TRUE(exec_.HasTask("DcpQueueRelease"));
  p.reset();
  EXPECT_TRUE(weak.expired());  // the queues do not keep the producer alive
  EXPECT_GE(exec_.RunReady(TaskGroup::kNonIO), 1u);
  EXPECT_FALSE(exec_.HasTask("DcpQueueRelease"));

  // A producer with nothing queued schedules nothing.
  auto empty = Open("empty", notifier);
  empty->Disconnect();
  EXPECT_FALSE(exec_.HasTask("DcpQueueRelease"));
}

TEST_F(LifetimeTest, PendingBehindTheBucketWideLimit) {
  config_.dcp_max_running_backfills = 1;
  Prepare();
  for (int i = 0; i < kRepeat; ++i) {
    auto na = std::make_shared<FakeNotifier>();
    auto nb = std::make_shared<FakeNotifier>();
    auto a = Open("a" + std::to_string(i), na);
    auto b = Open("b" + std::to_string(i), nb);
    ASSERT_TRUE(Req(*a, 0).status.ok());
    ASSERT_TRUE(Req(*b, 1).status.ok());
    EXPECT_EQ(RunningBackfills(), 1u);
    EXPECT_EQ(DcpStats().at("eq_dcpq:b" + std::to_string(i) + ":backfill_num_pending"), "1");
    exec_.RunOne(TaskGroup::kAuxIO);
    exec_.RunOne(TaskGroup::kAuxIO);
    if (i % 2 == 0) {
      // The pending one goes away: the count is a's alone, and b never scanned.
      const uint64_t scans = ScansStarted();
      std::weak_ptr<Producer> weak_b = b;
      b->Disconnect();
      b.reset();
      EXPECT_TRUE(weak_b.expired());
      EXPECT_EQ(RunningBackfills(), 1u);
      EXPECT_EQ(ScansStarted(), scans);
      const auto v = OfVb(Pump(*a), 0);
      EXPECT_EQ(std::count_if(v.begin(), v.end(), [](const Msg& m) { return m.is_item(); }), 20);
      EXPECT_EQ(RunningBackfills(), 0u);
      a->Disconnect();
    } else {
      // The admitted one goes away: its unit wakes b's parked task, which is then admitted.
      std::weak_ptr<Producer> weak_a = a;
      a->Disconnect();
      a.reset();
      EXPECT_TRUE(weak_a.expired());
      EXPECT_GE(exec_.NumReady(TaskGroup::kAuxIO), 1u);
      const auto v = OfVb(Pump(*b), 1);
      EXPECT_EQ(std::count_if(v.begin(), v.end(), [](const Msg& m) { return m.is_item(); }), 20);
      EXPECT_EQ(RunningBackfills(), 0u);
      b->Disconnect();
    }
    EXPECT_EQ(RunningBackfills(), 0u);
  }
}

TEST_F(LifetimeTest, LastProducerReferenceDroppedInsideABackfillCallback) {
  Prepare();
  for (int i = 0; i < kRepeat; ++i) {
    auto notifier = std::make_shared<FakeNotifier>();
    std::shared_ptr<Producer> p = Open("conn" + std::to_string(i), notifier);
    std::weak_ptr<Producer> weak = p;
    StreamAll(*p);
    StepOnce(*p);
    // The connection is the only owner; it lets go when notified, which happens inside the
    // scan callback (the stream promotes its producer to notify it). ~Producer then runs on the
    // "auxio" thread, inside the backfill, when the stream releases that promotion.
    uint64_t scans = 0;
    bool destroyed_in_run = false;
    notifier->set_on_ready([&] {
      scans = ScansStarted();
      p.reset();
    });
    ASSERT_TRUE(exec_.RunOne(TaskGroup::kAuxIO));
    destroyed_in_run = weak.expired();
    notifier->set_on_ready(nullptr);
    EXPECT_TRUE(destroyed_in_run);
    EXPECT_EQ(RunningBackfills(), 0u);
    ExpectGone(weak, scans);
  }
}

TEST_F(LifetimeTest, SameNameReopenedWhileBackfillsRun) {
  Prepare();
  std::shared_ptr<Producer> current;
  std::shared_ptr<FakeNotifier> current_notifier;
  std::vector<std::weak_ptr<Producer>> old;
  for (int i = 0; i < kRepeat; ++i) {
    auto notifier = std::make_shared<FakeNotifier>();
    auto p = Open("same-name", notifier);
    if (current != nullptr) {
      // The older connection was disconnected and asked to close; it lets go of its producer.
      EXPECT_TRUE(current->IsDisconnecting());
      EXPECT_EQ(current_notifier->disconnects(), 1);
      old.push_back(current);
      current.reset();
      EXPECT_TRUE(old.back().expired());
    }
    EXPECT_EQ(RunningBackfills(), 0u);
    current = p;
    current_notifier = notifier;
    StreamAll(*p);
    for (int run = 0; run < 2 + i % 4; ++run) exec_.RunOne(TaskGroup::kAuxIO);
    StepOnce(*p, 500);
    EXPECT_EQ(RunningBackfills(), size_t{kNumVbuckets});
    EXPECT_EQ(conn_map_->num_producers(), 1u);
  }
  const uint64_t scans = ScansStarted();
  std::weak_ptr<Producer> weak = current;
  current->Disconnect();
  current.reset();
  ExpectGone(weak, scans);
  for (const auto& w : old) EXPECT_TRUE(w.expired());
}

TEST_F(LifetimeTest, BucketShutdownDuringBackfills) {
  Prepare();
  for (int i = 0; i < 10; ++i) {
    auto n1 = std::make_shared<FakeNotifier>();
    auto n2 = std::make_shared<FakeNotifier>();
    auto p1 = Open("one", n1);
    auto p2 = Open("two", n2);
    StreamAll(*p1);
    StreamAll(*p2);
    for (int run = 0; run < 5; ++run) exec_.RunOne(TaskGroup::kAuxIO);
    ASSERT_GT(conn_map_->tracker()->open_scans(), 0u);
    std::shared_ptr<BackfillTracker> tracker = conn_map_->tracker();
    std::weak_ptr<Producer> w1 = p1;
    std::weak_ptr<Producer> w2 = p2;
    // ConnMap::Shutdown (no backfill left) then Bucket::Shutdown (closes the store: it would
    // refuse while a scan is open).
    CloseBucket(/*clean=*/true);
    EXPECT_EQ(tracker->num_running(), 0u);
    EXPECT_EQ(tracker->open_scans(), 0u);
    EXPECT_EQ(n1->disconnects(), 1);
    EXPECT_EQ(n2->disconnects(), 1);
    StepResult r;
    StepOnce(*p1, 1 << 20, &r);
    EXPECT_EQ(r, StepResult::kDisconnect);
    p1.reset();
    p2.reset();
    EXPECT_TRUE(w1.expired());
    EXPECT_TRUE(w2.expired());
    EXPECT_EQ(exec_.NumReady(TaskGroup::kAuxIO), 0u);
    OpenBucket();
  }
}

TEST_F(LifetimeTest, VBucketStateChangesDuringBackfills) {
  Prepare();
  for (int i = 0; i < kRepeat; ++i) {
    auto notifier = std::make_shared<FakeNotifier>();
    auto p = Open("conn" + std::to_string(i), notifier);
    StreamAll(*p);
    for (int run = 0; run < 2 + i % 6; ++run) exec_.RunOne(TaskGroup::kAuxIO);
    const Vbid vb = static_cast<Vbid>(i % kNumVbuckets);
    ASSERT_TRUE(bucket_->SetVBucketState(vb, VBucketState::kReplica).ok());
    const auto msgs = Pump(*p);
    const auto v = OfVb(msgs, vb);
    ASSERT_FALSE(v.empty());
    EXPECT_TRUE(v.back().is_end());
    EXPECT_EQ(v.back().status, DcpStreamEndStatus::kStateChanged);
    // The other streams completed their backfills; the changed one's backfill was dropped.
    EXPECT_EQ(RunningBackfills(), 0u);
    ASSERT_TRUE(bucket_->SetVBucketState(vb, VBucketState::kActive).ok());
    p->Disconnect();
  }
}

TEST_F(LifetimeTest, VBucketDeletionDuringBackfill) {
  Prepare();
  auto notifier = std::make_shared<FakeNotifier>();
  auto p = Open("conn", notifier);
  StreamAll(*p);
  for (int run = 0; run < 6; ++run) exec_.RunOne(TaskGroup::kAuxIO);
  ASSERT_GT(conn_map_->tracker()->open_scans(), 0u);
  for (Vbid vb = 0; vb < kNumVbuckets; ++vb) {
    ASSERT_TRUE(bucket_->SetVBucketState(vb, VBucketState::kDead).ok());
    ASSERT_TRUE(bucket_->DeleteVBucket(vb).ok());
  }
  const auto msgs = Pump(*p);
  for (Vbid vb = 0; vb < kNumVbuckets; ++vb) {
    const auto v = OfVb(msgs, vb);
    ASSERT_FALSE(v.empty());
    EXPECT_EQ(v.back().status, DcpStreamEndStatus::kStateChanged);
  }
  EXPECT_EQ(RunningBackfills(), 0u);
  EXPECT_EQ(conn_map_->tracker()->open_scans(), 0u);
}

}  // namespace
}  // namespace sluice::dcp
