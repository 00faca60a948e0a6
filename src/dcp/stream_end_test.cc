// Every way a stream ends releases its backfill at once - its admission unit
// (ep_dcp_num_running_backfills) and its RocksDB snapshot - while the connection stays up and its
// backfill buffer stays full (the failure class of the review this product grew from, for streams
// rather than connections). Also: a throwing backfill ends only its own stream; the backfill task
// does no work for an owner that is going away, even before the manager's cancel flag is set; and
// a scan counts as started only once it really reads.
//
// Everything runs on the test thread (ManualExecutor): "at once" means before the executor runs
// anything, synchronously inside the call that ended the stream.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "dcp/backfill.h"
#include "dcp/backfill_manager.h"
#include "testing/dcp_unit_util.h"

namespace sluice::dcp {
namespace {

using executor::TaskGroup;
using protocol::DcpStreamEndStatus;
using testing::DcpTest;
using testing::FakeNotifier;
using testing::Msg;
using testing::OfVb;

class StreamEndTest : public DcpTest {
 protected:
  static constexpr int kItems = 20;

  void SetUp() override {
    DcpTest::SetUp();
    config_.dcp_scan_item_limit = 2;         // a backfill takes many runs
    config_.dcp_backfill_byte_limit = 3000;  // full after a few of them
    config_.dcp_backfill_idle_protection_enabled = false;
  }

  // Every vbucket has kItems documents on disk only, vb 0 with values ten times larger. One
  // producer streams them all (to their high seqno), vb 0 last; its backfills run until the
  // buffer is full, and the consumer reads nothing, so it stays full, mostly with vb 0's values:
  // ending a small stream leaves it full. The small streams' backfills have read from their open
  // snapshot; vb 0's too.
  void StreamAllUntilTheBufferIsFull() {
    OpenBucket();
    for (Vbid vb = 1; vb < kNumVbuckets; ++vb) WriteMany(vb, kItems);
    for (int i = 0; i < kItems; ++i) Set(0, "big" + std::to_string(i), std::string(1000, 'v'));
    Restart();
    producer_ = Open("conn", notifier_);
    for (Vbid vb : {1, 2, 3, 4, 5, 6, 7, 0}) {
      ASSERT_TRUE(Req(*producer_, vb, 0, ~uint64_t{0}, protocol::kDcpStreamToLatest).status.ok());
    }
    exec_.RunReady(TaskGroup::kAuxIO);
    ASSERT_EQ(Stat("backfill_buffer_full"), "true");
    ASSERT_EQ(exec_.NumReady(TaskGroup::kAuxIO), 0u) << "the task parks while the buffer is full";
    ASSERT_EQ(RunningBackfills(), size_t{kNumVbuckets});
    ASSERT_EQ(OpenScans(), size_t{kNumVbuckets});
  }

  std::string Stat(const std::string& name) { return DcpStats().at("eq_dcpq:conn:" + name); }
  // "" once the stream is gone from the producer.
  std::string StreamStat(Vbid vb, const std::string& name) {
    const auto stats = DcpStats();
    auto it = stats.find("eq_dcpq:conn:stream_" + std::to_string(vb) + "_" + name);
    return it == stats.end() ? "" : it->second;
  }
  size_t OpenScans() const { return conn_map_->tracker()->open_scans(); }

  // A small backfilling stream whose backfill has (scanning) or has not (admitted only) read
  // from an open snapshot.
  std::optional<Vbid> FindStream(bool scanning) {
    for (Vbid vb = 1; vb < kNumVbuckets; ++vb) {
      if (StreamStat(vb, "state") != "backfilling") continue;
      if ((StreamStat(vb, "backfill_disk_items") != "0") == scanning) return vb;
    }
    return std::nullopt;
  }

  // Ends a small stream with `end`; its unit and its snapshot must be back when `end` returns.
  void ExpectReleasedAtOnce(const std::function<void(Vbid)>& end) {
    const std::optional<Vbid> vb = FindStream(/*scanning=*/true);
    ASSERT_TRUE(vb.has_value()) << "no small stream is backfilling";
    const size_t running = RunningBackfills();
    const size_t scans = OpenScans();
    end(*vb);
    EXPECT_EQ(RunningBackfills(), running - 1) << "vb " << *vb;
    EXPECT_EQ(OpenScans(), scans - 1) << "vb " << *vb;
    EXPECT_EQ(Stat("backfill_buffer_full"), "true") << "the test meant a full buffer";
  }

  // The producer drains everything left; every stream but `ended` completes, then no backfill
  // and no snapshot is left.
  void ExpectTheOthersComplete(const std::vector<Vbid>& ended) {
    std::vector<Vbid> live;
    for (Vbid vb = 0; vb < kNumVbuckets; ++vb) {
      if (std::find(ended.begin(), ended.end(), vb) == ended.end()) live.push_back(vb);
    }
    const std::vector<Msg> msgs = PumpUntilEnded(*producer_, live);
    for (Vbid vb : live) {
      const std::vector<Msg> v = OfVb(msgs, vb);
      ASSERT_FALSE(v.empty());
      EXPECT_TRUE(v.back().is_end()) << "vb " << vb;
    }
    EXPECT_EQ(RunningBackfills(), 0u);
    EXPECT_EQ(OpenScans(), 0u);
  }

  std::shared_ptr<FakeNotifier> notifier_ = std::make_shared<FakeNotifier>();
  std::shared_ptr<Producer> producer_;
};

TEST_F(StreamEndTest, CloseStreamReleasesItsBackfillAtOnce) {
  StreamAllUntilTheBufferIsFull();
  for (int i = 0; i < 2; ++i) {
    ExpectReleasedAtOnce([&](Vbid vb) { ASSERT_TRUE(producer_->CloseStream(vb).ok()); });
  }
}

TEST_F(StreamEndTest, CloseStreamWithStreamEndReleasesAtOnceToo) {
  StreamAllUntilTheBufferIsFull();
  ASSERT_TRUE(producer_->Control("send_stream_end_on_client_close_stream", "true").ok());
  ExpectReleasedAtOnce([&](Vbid vb) { ASSERT_TRUE(producer_->CloseStream(vb).ok()); });
}

TEST_F(StreamEndTest, AVbucketStateChangeReleasesIt) {
  StreamAllUntilTheBufferIsFull();
  for (VBucketState state : {VBucketState::kReplica, VBucketState::kPending, VBucketState::kDead}) {
    ExpectReleasedAtOnce([&](Vbid vb) { ASSERT_TRUE(bucket_->SetVBucketState(vb, state).ok()); });
  }
}

TEST_F(StreamEndTest, AVbucketDeletionReleasesIt) {
  StreamAllUntilTheBufferIsFull();
  for (int i = 0; i < 2; ++i) {
    ExpectReleasedAtOnce([&](Vbid vb) { ASSERT_TRUE(bucket_->DeleteVBucket(vb).ok()); });
  }
}

TEST_F(StreamEndTest, AnAdmittedBackfillThatNeverRanIsReleasedToo) {
  // The buffer fills before the last streams' backfills are created: they hold a unit only.
  config_.dcp_backfill_byte_limit = 200;
  OpenBucket();
  for (Vbid vb = 0; vb < kNumVbuckets; ++vb) WriteMany(vb, kItems);
  Restart();
  producer_ = Open("conn", notifier_);
  for (Vbid vb = 0; vb < kNumVbuckets; ++vb) ASSERT_TRUE(Req(*producer_, vb).status.ok());
  exec_.RunReady(TaskGroup::kAuxIO);
  ASSERT_EQ(Stat("backfill_buffer_full"), "true");
  const std::optional<Vbid> admitted = FindStream(/*scanning=*/false);
  ASSERT_TRUE(admitted.has_value());
  const size_t running = RunningBackfills();
  const size_t scans = OpenScans();
  ASSERT_TRUE(producer_->CloseStream(*admitted).ok());
  EXPECT_EQ(RunningBackfills(), running - 1);
  EXPECT_EQ(OpenScans(), scans);
}

TEST_F(StreamEndTest, TheOtherStreamsCarryOnAfterSomeEnded) {
  StreamAllUntilTheBufferIsFull();
  const std::optional<Vbid> closed = FindStream(true);
  ASSERT_TRUE(closed.has_value());
  ASSERT_TRUE(producer_->CloseStream(*closed).ok());
  const std::optional<Vbid> replica = FindStream(true);
  ASSERT_TRUE(replica.has_value());
  ASSERT_TRUE(bucket_->SetVBucketState(*replica, VBucketState::kReplica).ok());
  ExpectTheOthersComplete({*closed, *replica});
}

TEST_F(StreamEndTest, TooSlowReleasesInTheSweepThatEndsIt) {
  config_.dcp_backfill_idle_protection_enabled = true;
  config_.dcp_backfill_idle_limit_seconds = 10;
  StreamAllUntilTheBufferIsFull();
  // With idle protection the task looks again after the idle limit; nothing is sent meanwhile.
  const size_t scanning = OpenScans();
  const size_t running = RunningBackfills();
  clock_.Advance(std::chrono::seconds(11));
  ASSERT_TRUE(exec_.RunOne(TaskGroup::kAuxIO));
  // The one run that swept them ended their streams and returned their units and snapshots.
  EXPECT_EQ(RunningBackfills(), running - scanning);
  EXPECT_EQ(OpenScans(), 0u);
  size_t too_slow = 0;
  for (const Msg& m : StepOnce(*producer_)) {
    if (m.is_end() && m.status == DcpStreamEndStatus::kTooSlow) ++too_slow;
  }
  EXPECT_EQ(too_slow, scanning);
}

TEST_F(StreamEndTest, AThrowingBackfillEndsOnlyItsOwnStream) {
  for (const bool bad_alloc : {true, false}) {
    SCOPED_TRACE(bad_alloc ? "bad_alloc" : "decoder error");
    config_.dcp_backfill_byte_limit = 20 << 20;  // nothing pauses
    OpenBucket();
    for (Vbid vb = 0; vb < kNumVbuckets; ++vb) WriteMany(vb, kItems);
    Restart();
    auto seen = std::make_shared<int>(0);
    faults_->SetScanDocHook([bad_alloc, seen](const storage::DiskDocView& doc) {
      if (doc.vbid != 2 || ++*seen != 5) return;  // the fifth document of vb 2
      if (bad_alloc) throw std::bad_alloc();
      throw std::runtime_error("cannot decode document");
    });
    producer_ = Open("conn", notifier_);
    for (Vbid vb = 0; vb < kNumVbuckets; ++vb) {
      ASSERT_TRUE(Req(*producer_, vb, 0, ~uint64_t{0}, protocol::kDcpStreamToLatest).status.ok());
    }
    std::vector<Vbid> all;
    for (Vbid vb = 0; vb < kNumVbuckets; ++vb) all.push_back(vb);
    const std::vector<Msg> msgs = PumpUntilEnded(*producer_, all);
    for (Vbid vb = 0; vb < kNumVbuckets; ++vb) {
      const std::vector<Msg> v = OfVb(msgs, vb);
      ASSERT_FALSE(v.empty());
      ASSERT_TRUE(v.back().is_end()) << "vb " << vb << ": " << v.size() << " messages";
      size_t items = 0;
      for (const Msg& m : v) items += m.is_item() ? 1 : 0;
      if (vb == 2) {
        EXPECT_EQ(v.back().status, DcpStreamEndStatus::kBackfillFailed);
        EXPECT_LT(items, size_t{kItems});
      } else {
        EXPECT_EQ(v.back().status, DcpStreamEndStatus::kOk) << "vb " << vb;
        EXPECT_EQ(items, size_t{kItems}) << "vb " << vb;
      }
    }
    EXPECT_EQ(RunningBackfills(), 0u);
    EXPECT_EQ(OpenScans(), 0u);
    faults_->SetScanDocHook(nullptr);
    producer_->Disconnect();
    producer_.reset();
    CloseBucket(/*clean=*/true);
  }
}

TEST_F(StreamEndTest, AScanCountsAsStartedOnlyOnceItReads) {
  OpenBucket();
  WriteMany(0, kItems);
  Restart();
  producer_ = Open("conn", notifier_);
  // The connection goes away while its backfill opens its snapshot.
  faults_->SetScanOpenHook([&] { producer_->Disconnect(); });
  ASSERT_TRUE(Req(*producer_, 0).status.ok());
  exec_.RunReady(TaskGroup::kAuxIO);
  faults_->SetScanOpenHook(nullptr);
  EXPECT_EQ(conn_map_->tracker()->snapshots_opened(), 1u);
  EXPECT_EQ(ScansStarted(), 0u) << "the snapshot was opened but never read";
  EXPECT_EQ(OpenScans(), 0u);
  EXPECT_EQ(RunningBackfills(), 0u);
}

// ---- The manager and its task, with a fake owner and stream ----

class FakeOwner final : public BackfillOwner {
 public:
  bool IsDisconnecting() const override { return disconnecting.load(); }
  std::atomic<bool> disconnecting{false};
};

class FakeTarget final : public BackfillTarget {
 public:
  bool IsDead() const override { return dead.load(); }
  bool MarkDiskSnapshot(uint64_t, uint64_t, uint64_t) override {
    ++markers;
    return !dead.load();
  }
  Delivery BackfillBatchReceived(std::shared_ptr<const BackfillBatch> batch,
                                 BackfillBuffer& buffer) override {
    if (dead.load()) return Delivery::kStreamNotBackfilling;
    items += static_cast<int>(batch->size());
    return buffer.Read(batch->bytes()) ? Delivery::kQueued : Delivery::kBufferFull;
  }
  void CompleteBackfill(uint64_t) override { completed = true; }
  void BackfillPaused() override {}
  void EndStream(DcpStreamEndStatus) override { dead.store(true); }

  std::atomic<bool> dead{false};
  int markers = 0;
  int items = 0;
  bool completed = false;
};

class BackfillManagerTest : public DcpTest {
 protected:
  void SetUp() override {
    DcpTest::SetUp();
    config_.dcp_scan_item_limit = 2;  // a backfill takes several runs
    OpenBucket();
    WriteMany(0, 20);
    Flush();
  }
  std::shared_ptr<BackfillManager> NewManager(std::weak_ptr<BackfillOwner> owner) {
    return BackfillManager::Create("test", bucket_, conn_map_->tracker(),
                                   BackfillConfig::FromConfig(bucket_->config()), std::move(owner));
  }
  std::unique_ptr<Backfill> NewBackfill(const std::shared_ptr<FakeTarget>& target) {
    BackfillSpec spec;
    spec.id = NewBackfillId();
    spec.stream = target;
    spec.vbid = 0;
    spec.start = 1;
    spec.end = 20;
    spec.stream_end = 20;
    return std::make_unique<Backfill>(spec, bucket_, conn_map_->tracker());
  }
  uint64_t SnapshotsOpened() const { return conn_map_->tracker()->snapshots_opened(); }
};

TEST_F(BackfillManagerTest, ALiveOwnersBackfillRuns) {
  // The control case of the next two: the same set-up with a live owner opens a snapshot.
  auto owner = std::make_shared<FakeOwner>();
  auto target = std::make_shared<FakeTarget>();
  auto manager = NewManager(owner);
  ASSERT_EQ(manager->Schedule(NewBackfill(target)), BackfillManager::ScheduleResult::kActive);
  exec_.RunReady(TaskGroup::kAuxIO);
  EXPECT_EQ(SnapshotsOpened(), 1u);
  EXPECT_TRUE(target->completed);
  EXPECT_EQ(target->items, 20);
  EXPECT_EQ(RunningBackfills(), 0u);
}

TEST_F(BackfillManagerTest, NoSnapshotIsOpenedForADisconnectingOwnerBeforeTheCancelFlag) {
  auto owner = std::make_shared<FakeOwner>();
  auto target = std::make_shared<FakeTarget>();
  auto manager = NewManager(owner);
  ASSERT_EQ(manager->Schedule(NewBackfill(target)), BackfillManager::ScheduleResult::kActive);
  // The connection is going away; its producer has not reached the manager's Cancel() yet.
  owner->disconnecting.store(true);
  ASSERT_FALSE(manager->cancelled());
  exec_.RunReady(TaskGroup::kAuxIO);
  EXPECT_EQ(SnapshotsOpened(), 0u);
  EXPECT_EQ(target->markers, 0);
  EXPECT_FALSE(exec_.HasTask("dcp_backfill:test")) << "the task cancels itself";
}

TEST_F(BackfillManagerTest, NoSnapshotIsOpenedForAnOwnerThatIsGone) {
  auto owner = std::make_shared<FakeOwner>();
  auto target = std::make_shared<FakeTarget>();
  auto manager = NewManager(owner);
  ASSERT_EQ(manager->Schedule(NewBackfill(target)), BackfillManager::ScheduleResult::kActive);
  owner.reset();
  exec_.RunReady(TaskGroup::kAuxIO);
  EXPECT_EQ(SnapshotsOpened(), 0u);
  EXPECT_FALSE(exec_.HasTask("dcp_backfill:test"));
}

TEST_F(BackfillManagerTest, ABackfillForAStreamThatEndedIsNotScheduled) {
  // The stream ended between deciding to backfill and handing the backfill over: its Remove()
  // found nothing, so Schedule must refuse it.
  auto owner = std::make_shared<FakeOwner>();
  auto target = std::make_shared<FakeTarget>();
  auto manager = NewManager(owner);
  target->dead.store(true);
  EXPECT_EQ(manager->Schedule(NewBackfill(target)), BackfillManager::ScheduleResult::kDropped);
  EXPECT_EQ(RunningBackfills(), 0u);
  auto gone = std::make_shared<FakeTarget>();
  auto backfill = NewBackfill(gone);
  gone.reset();
  EXPECT_EQ(manager->Schedule(std::move(backfill)), BackfillManager::ScheduleResult::kDropped);
  EXPECT_EQ(RunningBackfills(), 0u);
}

TEST_F(BackfillManagerTest, RemoveDestroysAQueuedBackfillOfAnyState) {
  auto owner = std::make_shared<FakeOwner>();
  auto manager = NewManager(owner);
  // Admitted (initializing), then created and scanning (active), then removed.
  auto a = std::make_shared<FakeTarget>();
  auto first = NewBackfill(a);
  const uint64_t first_id = first->id();
  ASSERT_EQ(manager->Schedule(std::move(first)), BackfillManager::ScheduleResult::kActive);
  EXPECT_EQ(RunningBackfills(), 1u);
  manager->Remove(first_id);
  EXPECT_EQ(RunningBackfills(), 0u);

  auto b = std::make_shared<FakeTarget>();
  auto second = NewBackfill(b);
  const uint64_t second_id = second->id();
  ASSERT_EQ(manager->Schedule(std::move(second)), BackfillManager::ScheduleResult::kActive);
  ASSERT_TRUE(exec_.RunOne(TaskGroup::kAuxIO));  // created, scanned one slice: in active_
  ASSERT_EQ(conn_map_->tracker()->open_scans(), 1u);
  manager->Remove(second_id);
  EXPECT_EQ(RunningBackfills(), 0u);
  EXPECT_EQ(conn_map_->tracker()->open_scans(), 0u);
  manager->Remove(second_id);  // unknown now: nothing happens
}

}  // namespace
}  // namespace sluice::dcp
