// DCP over TCP: cursor dropping. A consumer that stops acknowledging (flow control) pins its
// streams' checkpoint cursors while a writer fills a small checkpoint quota; memory recovery drops
// the cursors of a consumer that declared supports_cursor_dropping, whose streams then go back to
// backfilling from disk - and once the consumer reads again it still ends with every key's last
// value, nothing lost, nothing twice. A consumer without the control keeps its cursors.
#include <gtest/gtest.h>

#include <string>

#include "protocol/dcp_codec.h"
#include "testing/dcp_wire_util.h"

namespace sluice::testing {
namespace {

using ::testing::IsEmpty;

constexpr uint32_t kDropWindow = 4096;

class DcpCursorDropTest : public DcpTest {
 protected:
  ServerOptions Options() const override {
    ServerOptions o = DcpTest::Options();
    // A checkpoint quota of ~640 KiB in checkpoints of 16 KiB; recovery checked every 100 ms;
    // re-backfills check the flusher every 100 ms.
    o.extra_args.insert(o.extra_args.end(),
                        {"--set", "max_size=64M", "--set", "checkpoint_memory_ratio=0.01", "--set",
                         "checkpoint_max_size=16K", "--set", "chk_remover_stime=0.1", "--set",
                         "dcp_backfill_snooze_interval=0.1"});
    return o;
  }

  // A consumer with a flow-control window of `window` that does not acknowledge until told to.
  std::unique_ptr<DcpConsumer> StalledConsumer(const std::string& name, bool cursor_dropping,
                                               uint32_t window) {
    auto consumer = OpenConsumer(
        {.name = name,
         .controls = {{"connection_buffer_size", std::to_string(window)},
                      {"supports_cursor_dropping", cursor_dropping ? "true" : "false"}}});
    if (consumer == nullptr) return nullptr;
    EXPECT_TRUE(consumer->StreamAll(vbuckets(), StreamRequest(0)).ok());
    return consumer;
  }

  // Overwrites 400 keys with ~1 KiB values.
  static void WriteRound(TrackedWriter& writer, int round) {
    for (int i = 0; i < 400; ++i) {
      ASSERT_TRUE(writer.Set("key" + std::to_string(i),
                             "r" + std::to_string(round) + std::string(1000, 'v')));
    }
  }

  uint64_t StreamStatSum(const StatMap& stats, const std::string& name, std::string_view stat) {
    uint64_t sum = 0;
    for (uint32_t vb = 0; vb < vbuckets(); ++vb) {
      sum += StatU64(stats, DcpConnStatPrefix(name) + "stream_" + std::to_string(vb) + "_" +
                                std::string(stat))
                 .value_or(0);
    }
    return sum;
  }
};

TEST_F(DcpCursorDropTest, DroppedCursorsReBackfillWithoutLoss) {
  auto consumer = StalledConsumer("droppable", true, kDropWindow);
  ASSERT_TRUE(consumer);
  auto kv = Connect();
  ASSERT_TRUE(kv);
  auto stats_conn = Connect();
  ASSERT_TRUE(stats_conn);
  TrackedWriter writer(*kv);
  // Overwrite 400 keys round after round until memory recovery dropped a cursor (bounded).
  uint64_t dropped = 0;
  int round = 0;
  for (; round < 100 && dropped == 0; ++round) {
    ASSERT_NO_FATAL_FAILURE(WriteRound(writer, round));
    auto stats = FetchStats(*stats_conn);
    ASSERT_TRUE(stats.ok());
    dropped = StatU64(*stats, "ep_cursors_dropped").value_or(0);
  }
  ASSERT_GT(dropped, 0u) << "no cursor was dropped after " << round << " rounds of writes";
  // Writes after the drop: the re-backfill must include them.
  for (int i = 0; i < 400; i += 2) {
    ASSERT_TRUE(writer.Set("key" + std::to_string(i), "final" + std::to_string(i)));
  }
  for (int i = 1; i < 400; i += 10) ASSERT_TRUE(writer.Delete("key" + std::to_string(i)));

  // Read again, acknowledging every half window from now on.
  consumer->conn().SetDcpAutoAck(kDropWindow);
  Status s = consumer->ReadUntilSeqnos(writer.high_seqnos());
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_THAT(consumer->violations(), IsEmpty());
  EXPECT_THAT(CompareFinalView(consumer->LatestByKey(), writer.docs()), IsEmpty());

  auto stats = FetchStats(*stats_conn, "dcp");
  ASSERT_TRUE(stats.ok());
  EXPECT_GT(StreamStatSum(*stats, "droppable", "cursor_drops"), 0u);
  // A dropped stream went back to disk: a Disk marker after a Memory one.
  size_t rebackfills = 0;
  for (const auto& [vb, log] : consumer->streams()) {
    bool memory_seen = false;
    for (const auto& m : log.markers) {
      if (m.flags & protocol::kDcpSnapshotMemory) memory_seen = true;
      if ((m.flags & protocol::kDcpSnapshotDisk) && memory_seen) ++rebackfills;
    }
  }
  EXPECT_GT(rebackfills, 0u);
}

TEST_F(DcpCursorDropTest, CursorDroppedWhileBackfillingReBackfillsWithoutLoss) {
  // Data on disk only, so the streams start by backfilling; they stall (no acknowledgement)
  // while their cursors, registered at 0, pin the checkpoints the writer fills.
  std::map<std::string, ExpectedDoc> expected;
  {
    auto kv = Connect();
    ASSERT_TRUE(kv);
    TrackedWriter preload(*kv);
    std::vector<std::pair<std::string, std::string>> docs;
    for (int i = 0; i < 3000; ++i) docs.emplace_back("old" + std::to_string(i), "disk");
    ASSERT_TRUE(preload.SetMany(docs));
    expected = preload.docs();
  }
  RestartClean();
  auto consumer = StalledConsumer("backfilling", true, kDropWindow);
  ASSERT_TRUE(consumer);
  auto kv = Connect();
  ASSERT_TRUE(kv);
  auto stats_conn = Connect();
  ASSERT_TRUE(stats_conn);
  TrackedWriter writer(*kv);
  uint64_t dropped = 0;
  int round = 0;
  for (; round < 100 && dropped == 0; ++round) {
    ASSERT_NO_FATAL_FAILURE(WriteRound(writer, round));
    auto stats = FetchStats(*stats_conn);
    ASSERT_TRUE(stats.ok());
    dropped = StatU64(*stats, "ep_cursors_dropped").value_or(0);
  }
  ASSERT_GT(dropped, 0u) << "no cursor was dropped after " << round << " rounds of writes";
  for (int i = 0; i < 3000; i += 3) ASSERT_TRUE(writer.Delete("old" + std::to_string(i)));
  for (const auto& [key, doc] : writer.docs()) expected[key] = doc;

  consumer->conn().SetDcpAutoAck(kDropWindow);
  Status s = consumer->ReadUntilSeqnos(writer.high_seqnos());
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_THAT(consumer->violations(), IsEmpty());
  EXPECT_THAT(CompareFinalView(consumer->LatestByKey(), expected), IsEmpty());
  auto stats = FetchStats(*stats_conn, "dcp");
  ASSERT_TRUE(stats.ok());
  EXPECT_GT(StreamStatSum(*stats, "backfilling", "cursor_drops"), 0u);
  // A stream whose cursor was dropped backfilled more than once.
  EXPECT_GT(StreamStatSum(*stats, "backfilling", "backfills_scheduled"), vbuckets());
}

TEST_F(DcpCursorDropTest, CursorsOfAConsumerWithoutCursorDroppingAreKept) {
  auto consumer = StalledConsumer("pinned", false, kDropWindow);
  ASSERT_TRUE(consumer);
  auto kv = Connect();
  ASSERT_TRUE(kv);
  TrackedWriter writer(*kv);
  // Far past the checkpoint quota (it is ~640 KiB; this writes ~8 MiB the cursors must keep).
  for (int round = 0; round < 20; ++round) ASSERT_NO_FATAL_FAILURE(WriteRound(writer, round));
  EXPECT_EQ(StatU64(Stats(), "ep_cursors_dropped"), 0u);
  const StatMap memory = Stats("memory");
  EXPECT_GT(StatU64(memory, "ep_checkpoint_memory").value_or(0),
            StatU64(memory, "ep_checkpoint_memory_quota").value_or(~uint64_t{0}));

  consumer->conn().SetDcpAutoAck(kDropWindow);
  Status s = consumer->ReadUntilSeqnos(writer.high_seqnos());
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_THAT(consumer->violations(), IsEmpty());
  EXPECT_THAT(CompareFinalView(consumer->LatestByKey(), writer.docs()), IsEmpty());
  for (const auto& [vb, log] : consumer->streams()) {
    for (const auto& m : log.markers) {
      EXPECT_FALSE(m.flags & protocol::kDcpSnapshotDisk) << "vb:" << vb << " was re-backfilled";
    }
  }
  EXPECT_EQ(StreamStatSum(Stats("dcp"), "pinned", "cursor_drops"), 0u);
}

}  // namespace
}  // namespace sluice::testing
