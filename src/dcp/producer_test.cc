// Producer and ActiveStream behaviour: disk backfill after a restart, the backfill -> memory
// handover under concurrent writes, snapshot markers, DCP_OPEN flags and controls, flow control,
// the backfill buffer, cursor dropping, noops and stats. Deterministic: ManualExecutor + FakeClock
// over a real bucket.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "testing/dcp_unit_util.h"

namespace sluice::dcp {
namespace {

using protocol::DcpStreamEndStatus;
using protocol::Opcode;
using testing::DcpTest;
using testing::FakeNotifier;
using testing::Msg;
using testing::OfVb;

// What a consumer ends up with: key -> value (deleted keys absent).
using State = std::map<std::string, std::string>;

struct Model {
  std::map<Vbid, State> state;
  void Set(Vbid vb, const std::string& k, const std::string& v) { state[vb][k] = v; }
  void Del(Vbid vb, const std::string& k) { state[vb].erase(k); }
};

// Applies one vbucket's messages and checks the stream invariants: every item inside the
// current marker, seqnos strictly increasing (nothing sent twice), markers contiguous after the
// first one. Returns the resulting state.
State Apply(const std::vector<Msg>& msgs, State start = {}) {
  State s = std::move(start);
  uint64_t last_seqno = 0;
  std::optional<std::pair<uint64_t, uint64_t>> marker;
  uint64_t last_marker_end = 0;
  bool first_marker = true;
  for (const auto& m : msgs) {
    if (m.is_marker()) {
      EXPECT_LE(m.snap_start, m.snap_end);
      if (!first_marker) EXPECT_EQ(m.snap_start, last_marker_end + 1);
      first_marker = false;
      last_marker_end = m.snap_end;
      marker = {m.snap_start, m.snap_end};
    } else if (m.is_item()) {
      EXPECT_TRUE(marker.has_value()) << "item before any marker";
      EXPECT_GT(m.seqno, last_seqno) << "seqno " << m.seqno << " sent twice or out of order";
      if (marker) {
        EXPECT_GE(m.seqno, marker->first);
        EXPECT_LE(m.seqno, marker->second);
      }
      last_seqno = m.seqno;
      if (m.opcode == Opcode::kDcpMutation) {
        s[m.key] = m.value;
      } else {
        s.erase(m.key);
      }
    }
  }
  return s;
}

size_t CountItems(const std::vector<Msg>& msgs) {
  return std::count_if(msgs.begin(), msgs.end(), [](const Msg& m) { return m.is_item(); });
}

class ProducerTest : public DcpTest {};

TEST_F(ProducerTest, FullBackfillAfterRestartDeliversEveryItemOnceWithDiskMarkers) {
  OpenBucket();
  Model model;
  std::map<Vbid, uint64_t> high;
  for (Vbid vb = 0; vb < 4; ++vb) {
    for (int i = 0; i < 60; ++i) {
      const std::string k = "k" + std::to_string(i % 40);  // overwrites: dedup on disk
      const std::string v = "v" + std::to_string(vb) + "-" + std::to_string(i);
      high[vb] = Set(vb, k, v).seqno;
      model.Set(vb, k, v);
    }
    high[vb] = Del(vb, "k3").seqno;
    model.Del(vb, "k3");
  }
  Restart();  // data only on disk now
  const uint64_t scans_before = ScansStarted();

  auto notifier = std::make_shared<FakeNotifier>();
  auto p = Open("backup", notifier);
  for (Vbid vb = 0; vb < 4; ++vb) {
    StreamRequestResult r = Req(*p, vb, 0, high[vb]);
    ASSERT_TRUE(r.status.ok()) << r.status.ToString();
    EXPECT_EQ(r.failover_log, *bucket_->GetFailoverLog(vb));
  }
  const auto msgs = PumpUntilEnded(*p, {0, 1, 2, 3});
  for (Vbid vb = 0; vb < 4; ++vb) {
    const auto v = OfVb(msgs, vb);
    ASSERT_GE(v.size(), 2u);
    EXPECT_TRUE(v.front().is_marker());
    EXPECT_EQ(v.front().snap_flags, protocol::kDcpSnapshotDisk | protocol::kDcpSnapshotCheckpoint);
    EXPECT_EQ(v.front().snap_start, 0u);  // min(request snap_start 0, backfill start 1)
    EXPECT_EQ(v.front().snap_end, high[vb]);
    EXPECT_EQ(v.front().opaque, 0x1000u + vb);
    EXPECT_TRUE(v.back().is_end());
    EXPECT_EQ(v.back().status, DcpStreamEndStatus::kOk);
    // 40 keys, one of them deleted: 39 mutations + 1 deletion, each key once.
    EXPECT_EQ(CountItems(v), 40u);
    std::set<std::string> keys;
    for (const auto& m : v) {
      if (m.is_item()) EXPECT_TRUE(keys.insert(m.key).second) << m.key << " twice";
      if (m.opcode == Opcode::kDcpMutation) EXPECT_EQ(m.flags, 0xcafef00du);
    }
    EXPECT_EQ(Apply(v), model.state[vb]);
  }
  EXPECT_EQ(ScansStarted() - scans_before, 4u);
  EXPECT_EQ(RunningBackfills(), 0u);
  const auto stats = DcpStats();
  EXPECT_EQ(stats.at("ep_dcp_num_running_backfills"), "0");
  EXPECT_EQ(stats.at("ep_dcp_backfill_open_scans"), "0");
  EXPECT_EQ(stats.at("eq_dcpq:backup:num_streams"), "0");  // ended streams are removed
}

TEST_F(ProducerTest, StartEqualsEndEndsAtOnce) {
  OpenBucket();
  Set(0, "a", "1");
  auto notifier = std::make_shared<FakeNotifier>();
  auto p = Open("c", notifier);
  ASSERT_TRUE(Req(*p, 0, 1, 1, 0, bucket_->GetVBucket(0)->uuid()).status.ok());
  const auto v = OfVb(StepOnce(*p), 0);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_TRUE(v[0].is_end());
  EXPECT_EQ(v[0].status, DcpStreamEndStatus::kOk);
}

TEST_F(ProducerTest, BackfillThenMemoryHandoverMarkers) {
  OpenBucket();
  WriteMany(0, 20);
  Restart();
  auto notifier = std::make_shared<FakeNotifier>();
  auto p = Open("c", notifier);
  ASSERT_TRUE(Req(*p, 0).status.ok());
  auto msgs = Pump(*p);
  auto v = OfVb(msgs, 0);
  ASSERT_EQ(CountItems(v), 20u);
  EXPECT_EQ(v.front().snap_flags, protocol::kDcpSnapshotDisk | protocol::kDcpSnapshotCheckpoint);
  EXPECT_EQ(v.front().snap_end, 20u);

  // Now in memory: the first memory snapshot carries Checkpoint, the next ones do not.
  Set(0, "new1", "x");
  Set(0, "new2", "y");
  auto more = OfVb(Pump(*p), 0);
  ASSERT_EQ(more.size(), 3u);
  EXPECT_EQ(more[0].snap_flags, protocol::kDcpSnapshotMemory | protocol::kDcpSnapshotCheckpoint);
  EXPECT_EQ(more[0].snap_start, 21u);
  EXPECT_EQ(more[0].snap_end, 22u);
  EXPECT_EQ(more[1].seqno, 21u);
  EXPECT_EQ(more[2].seqno, 22u);
  Set(0, "new3", "z");
  auto last = OfVb(Pump(*p), 0);
  ASSERT_EQ(last.size(), 2u);
  EXPECT_EQ(last[0].snap_flags, protocol::kDcpSnapshotMemory);
  EXPECT_EQ(last[0].snap_start, 23u);
  v.insert(v.end(), more.begin(), more.end());
  v.insert(v.end(), last.begin(), last.end());
  EXPECT_EQ(Apply(v).size(), 23u);
}

TEST_F(ProducerTest, ClosedCheckpointLargerThanOneCursorReadKeepsOneMarker) {
  OpenBucket();
  const size_t n = ActiveStream::kMemoryBatchItems + 500;
  WriteMany(0, static_cast<int>(n));
  bucket_->GetVBucket(0)->checkpoints().CreateNewCheckpoint();
  Set(0, "next", "x");
  auto notifier = std::make_shared<FakeNotifier>();
  auto p = Open("c", notifier);
  ASSERT_TRUE(Req(*p, 0).status.ok());
  const auto v = OfVb(Pump(*p), 0);
  ASSERT_EQ(CountItems(v), n + 1);
  // [0, n] read in two cursor reads, announced once; then [n + 1, n + 1].
  std::vector<std::pair<uint64_t, uint64_t>> markers;
  for (const auto& m : v) {
    if (m.is_marker()) markers.emplace_back(m.snap_start, m.snap_end);
  }
  ASSERT_EQ(markers.size(), 2u);
  EXPECT_EQ(markers[0], std::make_pair(uint64_t{0}, uint64_t{n}));
  EXPECT_EQ(markers[1], std::make_pair(uint64_t{n + 1}, uint64_t{n + 1}));
  EXPECT_EQ(Apply(v).size(), n + 1);
}

TEST_F(ProducerTest, ResumeMidSnapshotStartsFirstMarkerAtRequestSnapStart) {
  OpenBucket();
  WriteMany(0, 10);
  const uint64_t uuid = bucket_->GetVBucket(0)->uuid();
  auto notifier = std::make_shared<FakeNotifier>();
  auto p = Open("c", notifier);
  // The consumer had received 1..6 of a snapshot [4, 10].
  ASSERT_TRUE(Req(*p, 0, 6, ~uint64_t{0}, 0, uuid, 4, 10).status.ok());
  const auto v = OfVb(Pump(*p), 0);
  ASSERT_FALSE(v.empty());
  EXPECT_EQ(v[0].snap_start, 4u);
  EXPECT_EQ(v[0].snap_end, 10u);
  EXPECT_EQ(CountItems(v), 4u);
  EXPECT_EQ(v[1].seqno, 7u);
}

TEST_F(ProducerTest, HandoverUnderInterleavedWritesHasNoGapAndNoDuplicate) {
  config_.dcp_scan_item_limit = 3;  // many small slices to interleave with
  OpenBucket();
  Model model;
  for (int i = 0; i < 100; ++i) {
    const std::string k = "k" + std::to_string(i);
    Set(0, k, "disk" + std::to_string(i));
    model.Set(0, k, "disk" + std::to_string(i));
  }
  Restart();
  auto notifier = std::make_shared<FakeNotifier>();
  auto p = Open("c", notifier);
  ASSERT_TRUE(Req(*p, 0).status.ok());
  std::vector<Msg> all;
  for (int round = 0; round < 200; ++round) {
    // Writes keep coming: new keys and rewrites of keys the backfill has or has not read yet.
    const std::string k = "k" + std::to_string((round * 7) % 130);
    const std::string v = "round" + std::to_string(round);
    Set(0, k, v);
    model.Set(0, k, v);
    if (round % 17 == 0) {
      Del(0, "k" + std::to_string(round % 100));
      model.Del(0, "k" + std::to_string(round % 100));
    }
    if (round % 5 == 0) exec_.RunReady(executor::TaskGroup::kWriter);  // flusher progress
    exec_.RunOne(executor::TaskGroup::kAuxIO);
    if (round % 3 == 0) {
      auto got = StepOnce(*p, 200);
      all.insert(all.end(), got.begin(), got.end());
    }
  }
  const uint64_t high = bucket_->GetVBucket(0)->high_seqno();
  auto rest = Pump(*p, [&](const std::vector<Msg>& msgs) {
    for (auto it = msgs.rbegin(); it != msgs.rend(); ++it) {
      if (it->is_item()) return it->seqno == high;
    }
    return false;
  });
  all.insert(all.end(), rest.begin(), rest.end());
  const auto v = OfVb(all, 0);
  EXPECT_EQ(Apply(v), model.state[0]);
  // The last item is the vbucket's high seqno: nothing was lost at the end either.
  uint64_t last = 0;
  for (const auto& m : v) {
    if (m.is_item()) last = m.seqno;
  }
  EXPECT_EQ(last, high);
}

TEST_F(ProducerTest, DcpOpenFlagsNoValueDeleteTimesAndCollections) {
  OpenBucket();
  Set(0, "a", "value-a");
  Del(0, "a");
  Set(0, "b", "value-b");
  Restart();
  auto notifier = std::make_shared<FakeNotifier>();
  collections_ = true;
  auto p = Open(
      "c", notifier,
      protocol::kDcpOpenProducer | protocol::kDcpOpenNoValue | protocol::kDcpOpenIncludeDeleteTimes,
      /*collections=*/true);
  ASSERT_TRUE(Req(*p, 0).status.ok());
  const auto v = OfVb(Pump(*p), 0);
  ASSERT_EQ(CountItems(v), 2u);
  for (const auto& m : v) {
    if (m.opcode == Opcode::kDcpMutation) {
      EXPECT_EQ(m.key, "b");  // decoded with the collection prefix
      EXPECT_TRUE(m.value.empty());
    }
    if (m.opcode == Opcode::kDcpDeletion) {
      EXPECT_EQ(m.key, "a");
      EXPECT_TRUE(m.deletion_v2);
      EXPECT_EQ(m.delete_time, clock_.WallSeconds());
    }
  }
}

TEST_F(ProducerTest, SkipDeletesInInitialBackfillOnlyOnDisk) {
  OpenBucket();
  Set(0, "a", "1");
  Set(0, "b", "2");
  Del(0, "a");
  Restart();
  auto notifier = std::make_shared<FakeNotifier>();
  auto p = Open("c", notifier,
                protocol::kDcpOpenProducer | protocol::kDcpOpenSkipDeletesInInitialBackfill);
  ASSERT_TRUE(Req(*p, 0).status.ok());
  auto v = OfVb(Pump(*p), 0);
  ASSERT_EQ(CountItems(v), 1u);
  Del(0, "b");
  v = OfVb(Pump(*p), 0);
  ASSERT_EQ(CountItems(v), 1u);  // in memory deletions are sent
  EXPECT_EQ(v[1].opcode, Opcode::kDcpDeletion);
  EXPECT_FALSE(v[1].deletion_v2);
}

TEST_F(ProducerTest, ExpiryOpcodeNeedsDeleteTimes) {
  OpenBucket();
  const uint32_t now = clock_.WallSeconds();
  auto expire_one = [&](const std::string& key) { Set(0, key, "v", now + 5); };
  expire_one("x");
  expire_one("y");
  auto n1 = std::make_shared<FakeNotifier>();
  auto n2 = std::make_shared<FakeNotifier>();
  auto with = Open("with", n1, protocol::kDcpOpenProducer | protocol::kDcpOpenIncludeDeleteTimes);
  auto without = Open("without", n2);
  EXPECT_TRUE(with->Control("enable_expiry_opcode", "true").ok());
  EXPECT_TRUE(without->Control("enable_expiry_opcode", "true").ok());  // accepted, no effect
  const uint64_t uuid = bucket_->GetVBucket(0)->uuid();
  ASSERT_TRUE(Req(*with, 0, 2, ~uint64_t{0}, 0, uuid).status.ok());
  ASSERT_TRUE(Req(*without, 0, 2, ~uint64_t{0}, 0, uuid).status.ok());
  clock_.Advance(std::chrono::seconds(10));
  bucket_->RunExpiryPager();
  auto a = OfVb(Pump(*with), 0);
  auto b = OfVb(Pump(*without), 0);
  ASSERT_EQ(CountItems(a), 2u);
  ASSERT_EQ(CountItems(b), 2u);
  for (const auto& m : a) {
    if (m.is_item()) {
      EXPECT_EQ(m.opcode, Opcode::kDcpExpiration);
      EXPECT_EQ(m.delete_time, now + 10);
    }
  }
  for (const auto& m : b) {
    if (m.is_item()) EXPECT_EQ(m.opcode, Opcode::kDcpDeletion);
  }
}

TEST_F(ProducerTest, FlowControlNeverExceedsWindowPlusOneMessage) {
  OpenBucket();
  for (Vbid vb = 0; vb < 4; ++vb) WriteMany(vb, 50);
  Restart();
  auto notifier = std::make_shared<FakeNotifier>();
  auto p = Open("c", notifier);
  constexpr size_t kWindow = 1000;
  ASSERT_TRUE(p->Control("connection_buffer_size", std::to_string(kWindow)).ok());
  for (Vbid vb = 0; vb < 4; ++vb) ASSERT_TRUE(Req(*p, vb).status.ok());
  size_t unacked = 0;
  size_t items = 0;
  int full_stops = 0;
  for (int round = 0; round < 100000 && items < 200; ++round) {
    exec_.RunReady(executor::TaskGroup::kAuxIO);
    std::string out;
    const StepResult r = p->Step(&out, 1 << 20);
    for (const Msg& m : testing::Decode(out)) {
      // Before this message went out, the window was not yet full.
      EXPECT_LT(unacked, kWindow);
      unacked += m.size;
      if (m.is_item()) ++items;
    }
    EXPECT_LE(unacked, kWindow + 200);  // one message of overshoot at most
    if (r == StepResult::kFlowControlFull) {
      ++full_stops;
      const int before = notifier->ready();
      p->BufferAcknowledged(static_cast<uint32_t>(unacked));
      unacked = 0;
      EXPECT_GT(notifier->ready(), before);  // unblocked: the connection is told to step
    }
  }
  EXPECT_EQ(items, 200u);
  EXPECT_GT(full_stops, 3);
  const auto stats = DcpStats();
  EXPECT_EQ(stats.at("eq_dcpq:c:flow_control"), "enabled");
  EXPECT_EQ(stats.at("eq_dcpq:c:max_buffer_bytes"), std::to_string(kWindow));
}

// A backfill hands its documents to the stream in batches; the producer sends a batch in parts
// cut at the output budget (one message of overshoot, as with single messages), the counters move
// message by message, and a stream closed with part of a batch unsent returns exactly the bytes
// still charged to the backfill buffer.
TEST_F(ProducerTest, BackfilledBatchIsSentInPartsAndAClosedStreamReturnsWhatItCharged) {
  OpenBucket();
  WriteMany(0, 100);
  Restart();
  auto notifier = std::make_shared<FakeNotifier>();
  auto p = Open("c", notifier);
  ASSERT_TRUE(Req(*p, 0).status.ok());
  exec_.RunReady(executor::TaskGroup::kAuxIO);  // create + scan: one batch of 100 documents
  auto stats = DcpStats();
  EXPECT_EQ(stats.at("eq_dcpq:c:stream_0_backfill_disk_items"), "100");
  EXPECT_EQ(stats.at("eq_dcpq:c:stream_0_backfill_buffer_items"), "100");
  EXPECT_EQ(stats.at("eq_dcpq:c:stream_0_readyQ_items"), "101");  // the marker and 100 items
  const uint64_t charged = std::stoull(stats.at("eq_dcpq:c:backfill_buffer_bytes_read"));
  EXPECT_EQ(stats.at("eq_dcpq:c:stream_0_backfill_buffer_bytes"), std::to_string(charged));

  // A budget of 500 bytes: the marker, then messages until the one that reaches the budget.
  std::string out;
  ASSERT_EQ(p->Step(&out, 500), StepResult::kBudgetFull);
  const std::vector<Msg> first = testing::Decode(out);
  ASSERT_GE(first.size(), 3u);
  size_t before_last = 0;
  for (size_t i = 0; i + 1 < first.size(); ++i) before_last += first[i].size;
  EXPECT_LT(before_last, 500u);
  EXPECT_GE(out.size(), 500u);
  const size_t sent_items = CountItems(first);
  uint64_t sent_bytes = 0;
  for (const Msg& m : first) {
    if (m.is_item()) sent_bytes += m.size;
  }
  stats = DcpStats();
  EXPECT_EQ(stats.at("eq_dcpq:c:stream_0_backfill_sent"), std::to_string(sent_items));
  EXPECT_EQ(stats.at("eq_dcpq:c:stream_0_last_sent_seqno"), std::to_string(first.back().seqno));
  EXPECT_EQ(stats.at("eq_dcpq:c:stream_0_readyQ_items"), std::to_string(100 - sent_items));
  EXPECT_EQ(stats.at("eq_dcpq:c:stream_0_backfill_buffer_items"), std::to_string(100 - sent_items));
  EXPECT_EQ(stats.at("eq_dcpq:c:backfill_buffer_bytes_read"), std::to_string(charged - sent_bytes));

  // The next Step continues exactly where the first stopped.
  const std::vector<Msg> second = StepOnce(*p, 300);
  ASSERT_FALSE(second.empty());
  EXPECT_EQ(second.front().seqno, first.back().seqno + 1);

  EXPECT_TRUE(p->CloseStream(0).ok());
  stats = DcpStats();
  EXPECT_EQ(stats.at("eq_dcpq:c:backfill_buffer_bytes_read"), "0");
}

TEST_F(ProducerTest, TinyBackfillBufferPausesTheScanAndResumesAsTheProducerSends) {
  config_.dcp_backfill_byte_limit = 10;  // every document fills it
  config_.dcp_backfill_idle_protection_enabled = false;
  OpenBucket();
  WriteMany(0, 30);
  Restart();
  auto notifier = std::make_shared<FakeNotifier>();
  auto p = Open("c", notifier);
  ASSERT_TRUE(Req(*p, 0).status.ok());
  // Create + scan: one document, then the buffer is full and the task parks.
  EXPECT_EQ(exec_.RunReady(executor::TaskGroup::kAuxIO), 2u);
  EXPECT_EQ(exec_.NumReady(executor::TaskGroup::kAuxIO), 0u);
  EXPECT_EQ(exec_.NextWakeTime(executor::TaskGroup::kAuxIO), SteadyTime::max());
  auto stats = DcpStats();
  EXPECT_EQ(stats.at("eq_dcpq:c:backfill_buffer_full"), "true");
  EXPECT_EQ(stats.at("ep_dcp_num_running_backfills"), "1");
  // Sending drains the buffer and wakes the task.
  auto first = StepOnce(*p);
  EXPECT_EQ(CountItems(first), 1u);
  EXPECT_EQ(exec_.NumReady(executor::TaskGroup::kAuxIO), 1u);
  auto rest = Pump(*p);
  first.insert(first.end(), rest.begin(), rest.end());
  EXPECT_EQ(CountItems(first), 30u);
  stats = DcpStats();
  EXPECT_GE(std::stoull(stats.at("eq_dcpq:c:backfill_buffer_pauses")), 30u);
  EXPECT_GE(std::stoull(stats.at("eq_dcpq:c:stream_0_backfill_pauses")), 29u);
  EXPECT_EQ(stats.at("eq_dcpq:c:backfill_buffer_bytes_read"), "0");
  EXPECT_EQ(RunningBackfills(), 0u);
}

TEST_F(ProducerTest, IdleProtectionEndsAStalledStreamTooSlow) {
  config_.dcp_backfill_byte_limit = 10;
  config_.dcp_backfill_idle_limit_seconds = 60;
  OpenBucket();
  WriteMany(0, 10);
  Restart();
  auto notifier = std::make_shared<FakeNotifier>();
  auto p = Open("c", notifier);
  ASSERT_TRUE(Req(*p, 0).status.ok());
  exec_.RunReady(executor::TaskGroup::kAuxIO);  // full, snoozing for the idle limit
  EXPECT_EQ(RunningBackfills(), 1u);
  clock_.Advance(std::chrono::seconds(61));
  exec_.RunReady(executor::TaskGroup::kAuxIO);
  EXPECT_EQ(RunningBackfills(), 0u);
  const auto v = OfVb(StepOnce(*p), 0);
  ASSERT_FALSE(v.empty());
  EXPECT_TRUE(v.back().is_end());
  EXPECT_EQ(v.back().status, DcpStreamEndStatus::kTooSlow);
}

TEST_F(ProducerTest, DroppedCursorReBackfillsWithoutLoss) {
  config_.checkpoint_max_size = 8 << 10;    // checkpoints close often
  config_.checkpoint_memory_ratio = 0.002;  // ~500 KiB of checkpoints: recovery kicks in
  OpenBucket();
  Model model;
  auto notifier = std::make_shared<FakeNotifier>();
  auto p = Open("c", notifier);
  ASSERT_TRUE(p->Control("supports_cursor_dropping", "true").ok());
  ASSERT_TRUE(Req(*p, 0).status.ok());
  Set(0, "first", "1");
  model.Set(0, "first", "1");
  auto all = Pump(*p);  // in memory now
  // A slow consumer: lots of writes, never stepped; the flusher persists them.
  const std::string big(1024, 'x');
  for (int i = 0; i < 800; ++i) {
    const std::string k = "k" + std::to_string(i % 700);
    Set(0, k, big + std::to_string(i));
    model.Set(0, k, big + std::to_string(i));
  }
  Flush();
  const uint64_t dropped_before = bucket_->stats().cursors_dropped.load();
  bucket_->RunCheckpointRemover();
  ASSERT_GT(bucket_->stats().cursors_dropped.load(), dropped_before);
  auto rest = Pump(*p);
  all.insert(all.end(), rest.begin(), rest.end());
  const auto v = OfVb(all, 0);
  EXPECT_EQ(Apply(v), model.state[0]);
  // The re-backfill announced itself with a disk marker.
  bool disk_marker = false;
  for (size_t i = 1; i < v.size(); ++i) {
    disk_marker =
        disk_marker || (v[i].is_marker() && (v[i].snap_flags & protocol::kDcpSnapshotDisk));
  }
  EXPECT_TRUE(disk_marker);
  EXPECT_EQ(DcpStats().at("eq_dcpq:c:stream_0_cursor_drops"), "1");
  EXPECT_EQ(RunningBackfills(), 0u);
}

TEST_F(ProducerTest, CursorOfAConsumerWithoutCursorDroppingIsNotDropped) {
  config_.checkpoint_max_size = 8 << 10;
  config_.checkpoint_memory_ratio = 0.002;
  OpenBucket();
  auto notifier = std::make_shared<FakeNotifier>();
  auto p = Open("c", notifier);
  ASSERT_TRUE(Req(*p, 0).status.ok());
  Pump(*p);
  const std::string big(1024, 'x');
  for (int i = 0; i < 800; ++i) Set(0, "k" + std::to_string(i), big);
  Flush();
  const uint64_t dropped_before = bucket_->stats().cursors_dropped.load();
  bucket_->RunCheckpointRemover();
  EXPECT_EQ(bucket_->stats().cursors_dropped.load(), dropped_before);
  EXPECT_EQ(CountItems(OfVb(Pump(*p), 0)), 800u);
}

TEST_F(ProducerTest, CloseStreamWithAndWithoutStreamEnd) {
  OpenBucket();
  Set(0, "a", "1");
  Set(1, "a", "1");
  auto notifier = std::make_shared<FakeNotifier>();
  auto p = Open("c", notifier);
  ASSERT_TRUE(Req(*p, 0).status.ok());
  Pump(*p);
  EXPECT_TRUE(p->CloseStream(0).ok());
  EXPECT_TRUE(OfVb(Pump(*p), 0).empty());  // gone at once, nothing sent
  EXPECT_EQ(p->CloseStream(0).code(), Errc::kStreamNotFound);

  ASSERT_TRUE(p->Control("send_stream_end_on_client_close_stream", "true").ok());
  ASSERT_TRUE(Req(*p, 1).status.ok());
  Pump(*p);
  EXPECT_TRUE(p->CloseStream(1).ok());
  const auto v = OfVb(Pump(*p), 1);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].status, DcpStreamEndStatus::kClosed);
  // Closed and sent: a new stream may be opened on the vbucket.
  EXPECT_TRUE(Req(*p, 1).status.ok());
}

TEST_F(ProducerTest, VBucketStateChangeAndDeletionEndStreamsStateChanged) {
  OpenBucket();
  WriteMany(0, 10);
  WriteMany(1, 10);
  Restart();
  auto notifier = std::make_shared<FakeNotifier>();
  auto p = Open("c", notifier);
  ASSERT_TRUE(Req(*p, 0).status.ok());
  ASSERT_TRUE(Req(*p, 1).status.ok());
  EXPECT_EQ(RunningBackfills(), 2u);
  ASSERT_TRUE(bucket_->SetVBucketState(0, VBucketState::kReplica).ok());
  ASSERT_TRUE(bucket_->SetVBucketState(1, VBucketState::kDead).ok());
  ASSERT_TRUE(bucket_->DeleteVBucket(1).ok());
  auto msgs = Pump(*p);
  for (Vbid vb : {0, 1}) {
    const auto v = OfVb(msgs, vb);
    ASSERT_FALSE(v.empty());
    EXPECT_TRUE(v.back().is_end());
    EXPECT_EQ(v.back().status, DcpStreamEndStatus::kStateChanged);
  }
  EXPECT_EQ(RunningBackfills(), 0u);
  EXPECT_EQ(conn_map_->tracker()->open_scans(), 0u);
}

TEST_F(ProducerTest, NoopsAndIdleDisconnect) {
  OpenBucket();
  auto notifier = std::make_shared<FakeNotifier>();
  auto p = Open("c", notifier);
  EXPECT_EQ(p->Control("set_noop_interval", "0.5").code(), Errc::kInvalid);  // < manager interval
  ASSERT_TRUE(p->Control("set_noop_interval", "2").ok());
  ASSERT_TRUE(p->Control("enable_noop", "true").ok());
  EXPECT_TRUE(StepOnce(*p).empty());
  clock_.Advance(std::chrono::seconds(2));
  // The connection manager notices the noop is due and wakes the connection.
  const int before = notifier->ready();
  exec_.RunReady(executor::TaskGroup::kNonIO);
  EXPECT_GT(notifier->ready(), before);
  auto msgs = StepOnce(*p);
  ASSERT_EQ(msgs.size(), 1u);
  EXPECT_EQ(msgs[0].opcode, Opcode::kDcpNoop);
  clock_.Advance(std::chrono::seconds(5));
  EXPECT_TRUE(StepOnce(*p).empty());  // no second noop while one is unanswered
  p->NoopResponse();
  clock_.Advance(std::chrono::seconds(2));
  EXPECT_EQ(StepOnce(*p).size(), 1u);
  // Silence past dcp_idle_timeout: disconnected, and the connection is asked to close.
  clock_.Advance(std::chrono::seconds(400));
  exec_.RunReady(executor::TaskGroup::kNonIO);
  EXPECT_TRUE(p->IsDisconnecting());
  EXPECT_EQ(notifier->disconnects(), 1);
  StepResult r;
  StepOnce(*p, 1 << 20, &r);
  EXPECT_EQ(r, StepResult::kDisconnect);
}

TEST_F(ProducerTest, Controls) {
  OpenBucket();
  auto notifier = std::make_shared<FakeNotifier>();
  auto p = Open("c", notifier);
  EXPECT_TRUE(p->Control("connection_buffer_size", "4096").ok());
  EXPECT_EQ(p->Control("connection_buffer_size", "lots").code(), Errc::kInvalid);
  EXPECT_TRUE(p->Control("set_priority", "high").ok());
  EXPECT_EQ(p->Control("set_priority", "urgent").code(), Errc::kInvalid);
  EXPECT_TRUE(p->Control("backfill_order", "sequential").ok());
  EXPECT_EQ(p->Control("backfill_order", "random").code(), Errc::kInvalid);
  EXPECT_TRUE(p->Control("supports_cursor_dropping", "true").ok());
  // OSO and V2.2 markers are for collection-aware consumers (kv_engine's rule).
  EXPECT_EQ(p->Control("enable_out_of_order_snapshots", "true").code(), Errc::kNotSupported);
  EXPECT_EQ(p->Control("max_marker_version", "2.2").code(), Errc::kNotSupported);
  EXPECT_EQ(p->Control("enable_sync_writes", "false").code(), Errc::kInvalid);  // one way
  EXPECT_EQ(p->Control("enable_stream_id", "false").code(), Errc::kInvalid);    // one way
  EXPECT_TRUE(p->Control("enable_stream_id", "true").ok());
  // Not both (kv_engine's MB-32318).
  EXPECT_EQ(p->Control("enable_sync_writes", "true").code(), Errc::kNotSupported);
  // Only with DCP_OPEN IncludeDeletedUserXattrs, as kv_engine.
  EXPECT_EQ(p->Control("include_deleted_user_xattrs", "true").code(), Errc::kInvalid);
  EXPECT_EQ(p->Control("no_such_key", "1").code(), Errc::kInvalid);
  const auto stats = DcpStats();
  EXPECT_EQ(stats.at("eq_dcpq:c:backfill_order"), "sequential");
  EXPECT_EQ(stats.at("eq_dcpq:c:cursor_dropping"), "true");
  EXPECT_EQ(stats.at("eq_dcpq:c:priority"), "high");
}

TEST_F(ProducerTest, SequentialOrderFinishesOneBackfillBeforeTheNext) {
  config_.dcp_scan_item_limit = 2;
  OpenBucket();
  WriteMany(0, 10);
  WriteMany(1, 10);
  Restart();
  auto notifier = std::make_shared<FakeNotifier>();
  auto p = Open("c", notifier);
  ASSERT_TRUE(p->Control("backfill_order", "sequential").ok());
  ASSERT_TRUE(Req(*p, 0).status.ok());
  ASSERT_TRUE(Req(*p, 1).status.ok());
  // Two runs create both backfills (markers only), then vb 0 is scanned until it is done.
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(exec_.RunOne(executor::TaskGroup::kAuxIO));
  auto stats = DcpStats();
  EXPECT_EQ(stats.at("eq_dcpq:c:stream_0_backfill_disk_items"), "4");
  EXPECT_EQ(stats.at("eq_dcpq:c:stream_1_backfill_disk_items"), "0");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(exec_.RunOne(executor::TaskGroup::kAuxIO));
  stats = DcpStats();
  EXPECT_EQ(stats.at("eq_dcpq:c:stream_0_backfill_disk_items"), "10");
  EXPECT_EQ(stats.at("eq_dcpq:c:stream_1_backfill_disk_items"), "0");
  EXPECT_EQ(CountItems(Pump(*p)), 20u);
}

TEST_F(ProducerTest, RoundRobinOrderInterleavesBackfills) {
  config_.dcp_scan_item_limit = 2;
  OpenBucket();
  WriteMany(0, 10);
  WriteMany(1, 10);
  Restart();
  auto notifier = std::make_shared<FakeNotifier>();
  auto p = Open("c", notifier);
  ASSERT_TRUE(Req(*p, 0).status.ok());
  ASSERT_TRUE(Req(*p, 1).status.ok());
  // Create-and-scan: every run reads one slice, alternating between the two backfills.
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(exec_.RunOne(executor::TaskGroup::kAuxIO));
  const auto stats = DcpStats();
  EXPECT_EQ(stats.at("eq_dcpq:c:stream_0_backfill_disk_items"), "4");
  EXPECT_EQ(stats.at("eq_dcpq:c:stream_1_backfill_disk_items"), "4");
  EXPECT_EQ(CountItems(Pump(*p)), 20u);
  EXPECT_EQ(DcpStats().at("eq_dcpq:c:stream_0_backfill_sent"), "10");
}

// kv_engine's {"filter": {"user", "port"}}: only the matching connections are listed and
// aggregated; ep_dcp_count and the bucket-wide backfill figures stay whole.
TEST_F(ProducerTest, DcpStatsFilterByUserAndPort) {
  OpenBucket();
  auto notifier = std::make_shared<FakeNotifier>();
  auto open = [&](const std::string& name, const std::string& user, uint16_t port) {
    ProducerOptions o;
    o.name = name;
    o.user = user;
    o.port = port;
    o.notifier = notifier;
    return Open(std::move(o));
  };
  auto a = open("a", "alice", 11210);
  auto b = open("b", "bob", 11210);
  auto c = open("c", "alice", 11207);
  auto listed = [&](std::string_view options) {
    std::set<std::string> names;
    std::map<std::string, std::string> all;
    EXPECT_TRUE(conn_map_
                    ->GetStats("dcp", options,
                               [&](std::string_view k, std::string_view v) {
                                 all[std::string(k)] = std::string(v);
                                 if (k.size() > 13 && k.substr(k.size() - 5) == ":type") {
                                   names.insert(std::string(k.substr(8, k.size() - 13)));
                                 }
                               })
                    .ok());
    EXPECT_EQ(all.at("ep_dcp_count"), "3");
    return names;
  };
  using Names = std::set<std::string>;
  EXPECT_EQ(listed(""), (Names{"a", "b", "c"}));
  EXPECT_EQ(listed(R"({"filter":{"user":"alice"}})"), (Names{"a", "c"}));
  EXPECT_EQ(listed(R"({"filter":{"port":11210}})"), (Names{"a", "b"}));
  EXPECT_EQ(listed(R"({"filter":{"user":"alice","port":11207}})"), (Names{"c"}));
  EXPECT_EQ(listed(R"({"filter":{"port":1}, "stream_format":"skip"})"), Names{});
  // Malformed filters are ignored, as kv_engine does.
  EXPECT_EQ(listed(R"({"filter":{"port":"x","user":7}})"), (Names{"a", "b", "c"}));
  EXPECT_EQ(listed(R"({"filter":{"port":70000}})"), (Names{"a", "b", "c"}));
}

TEST_F(ProducerTest, StatsNames) {
  OpenBucket();
  WriteMany(0, 5);
  Restart();
  auto notifier = std::make_shared<FakeNotifier>();
  auto p = Open("replication:ns_0->ns_1:default", notifier);
  auto q = Open("views:x", notifier);
  ASSERT_TRUE(Req(*p, 0).status.ok());
  auto stats = DcpStats();
  const std::string pre = "eq_dcpq:replication:ns_0->ns_1:default:";
  for (const char* name : {"type",
                           "paused",
                           "items_sent",
                           "total_bytes_sent",
                           "num_streams",
                           "noop_enabled",
                           "flow_control",
                           "backfill_buffer_bytes_read",
                           "backfill_buffer_max_bytes",
                           "backfill_buffer_full",
                           "backfill_num_pending",
                           "backfill_num_initializing",
                           "backfill_num_active",
                           "backfill_num_snoozing",
                           "stream_0_state",
                           "stream_0_flags",
                           "stream_0_opaque",
                           "stream_0_start_seqno",
                           "stream_0_end_seqno",
                           "stream_0_last_sent_seqno",
                           "stream_0_last_read_seqno",
                           "stream_0_backfill_disk_items",
                           "stream_0_backfill_sent",
                           "stream_0_memory_phase",
                           "stream_0_ready_queue_memory",
                           "stream_0_items_ready"}) {
    EXPECT_EQ(stats.count(pre + name), 1u) << name;
  }
  EXPECT_EQ(stats.at(pre + "type"), "producer");
  EXPECT_EQ(stats.at(pre + "stream_0_state"), "backfilling");
  EXPECT_EQ(stats.at("ep_dcp_count"), "2");
  EXPECT_EQ(stats.at("ep_dcp_num_running_backfills"), "1");
  Pump(*p);
  auto agg = DcpStats("dcpagg :");
  EXPECT_EQ(agg.at("replication:count"), "1");
  EXPECT_EQ(agg.at("views:count"), "1");
  EXPECT_EQ(agg.at(":total:count"), "2");
  EXPECT_EQ(agg.at("replication:items_sent"), "5");
  EXPECT_EQ(conn_map_->GetStats("dcpx", [](std::string_view, std::string_view) {}).code(),
            Errc::kNotFound);
}

}  // namespace
}  // namespace sluice::dcp
