// DCP over TCP: the backfill -> in-memory handover while a writer keeps changing the data. Streams
// of every vbucket start at 0 after a restart (so they backfill from disk, in small slices) while
// another connection overwrites, creates and deletes keys; the consumer's final view must equal
// the last write of every key, with no seqno sent twice and every item inside its marker (the
// DcpConsumer checks both, and that markers leave no gap).
#include <gtest/gtest.h>

#include <atomic>
#include <random>
#include <string>
#include <thread>

#include "protocol/dcp_codec.h"
#include "testing/dcp_wire_util.h"

namespace sluice::testing {
namespace {

using ::testing::IsEmpty;

constexpr int kPreloadKeys = 6000;

class DcpHandoverTest : public DcpTest {
 protected:
  ServerOptions Options() const override {
    ServerOptions o = DcpTest::Options();
    // Small slices, so the backfills are still running while the writer writes.
    o.extra_args.insert(o.extra_args.end(), {"--set", "dcp_scan_item_limit=32"});
    return o;
  }

  static std::string Value(int round, int i) {
    return "r" + std::to_string(round) + "-" + std::to_string(i) + std::string(100, 'x');
  }
};

// Merges `later` into `into` (later writes win).
void Merge(std::map<std::string, ExpectedDoc>* into,
           const std::map<std::string, ExpectedDoc>& later, std::map<Vbid, uint64_t>* high,
           const std::map<Vbid, uint64_t>& later_high) {
  for (const auto& [key, doc] : later) (*into)[key] = doc;
  for (const auto& [vb, seqno] : later_high) (*high)[vb] = std::max((*high)[vb], seqno);
}

TEST_F(DcpHandoverTest, FinalViewEqualsLastWritesUnderConcurrentWriters) {
  std::map<std::string, ExpectedDoc> expected;
  std::map<Vbid, uint64_t> high;
  {
    auto kv = Connect();
    ASSERT_TRUE(kv);
    TrackedWriter preload(*kv);
    for (int i = 0; i < kPreloadKeys; ++i) {
      ASSERT_TRUE(preload.Set("k" + std::to_string(i), Value(0, i)));
    }
    Merge(&expected, preload.docs(), &high, preload.high_seqnos());
  }
  RestartClean();

  size_t handovers = 0;
  for (int round = 1; round <= 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    auto writer_conn = Connect();
    ASSERT_TRUE(writer_conn);
    auto writer = std::make_unique<TrackedWriter>(*writer_conn);
    // The writer starts first and keeps going while the streams are requested and backfill.
    std::atomic<bool> writer_done{false};
    std::thread writer_thread([&, round] {
      std::mt19937 rng(round);
      for (int op = 0; op < 3000; ++op) {
        const int pick = static_cast<int>(rng() % (kPreloadKeys + 500));
        const std::string key = pick < kPreloadKeys ? "k" + std::to_string(pick)
                                                    : "n" + std::to_string(pick - kPreloadKeys);
        const bool ok =
            op % 10 == 9 && writer->docs().count(key) != 0 && !writer->docs().at(key).deleted
                ? writer->Delete(key)
                : writer->Set(key, Value(round, op));
        if (!ok) break;
      }
      // Flag first, then one more write: a consumer blocked in a read when the flag flips is
      // woken by this write's message (it might have received every earlier one already).
      writer_done.store(true);
      writer->Set("sentinel" + std::to_string(round), "done");
    });
    // The consumer reads while the writer writes (the sentinel write wakes the last read).
    auto consumer = OpenConsumer({.name = "handover-" + std::to_string(round)});
    if (consumer != nullptr) {
      Status s = consumer->StreamAll(vbuckets(), StreamRequest(0));
      if (s.ok()) s = consumer->ReadUntil([&] { return writer_done.load(); });
      EXPECT_TRUE(s.ok()) << s.ToString() << "\n"
                          << DescribeDcpConnection(*Connect(), consumer->name());
    }
    writer_thread.join();
    ASSERT_TRUE(consumer);
    ASSERT_FALSE(HasFailure());
    Merge(&expected, writer->docs(), &high, writer->high_seqnos());

    Status s = consumer->ReadUntilSeqnos(high);
    ASSERT_TRUE(s.ok()) << s.ToString() << "\n"
                        << DescribeDcpConnection(*Connect(), consumer->name());
    EXPECT_THAT(consumer->violations(), IsEmpty());
    EXPECT_THAT(CompareFinalView(consumer->LatestByKey(), expected), IsEmpty());

    for (const auto& [vb, log] : consumer->streams()) {
      ASSERT_FALSE(log.markers.empty()) << "vb:" << vb;
      // From 0 after a restart: the first snapshot comes from disk.
      EXPECT_EQ(log.markers.front().flags,
                protocol::kDcpSnapshotDisk | protocol::kDcpSnapshotCheckpoint)
          << "vb:" << vb;
      // Memory snapshots after it; the first of them opens a new checkpoint for the consumer.
      bool first_memory = true;
      for (size_t i = 1; i < log.markers.size(); ++i) {
        const uint32_t flags = log.markers[i].flags;
        if (flags & protocol::kDcpSnapshotDisk) continue;  // a later re-backfill (none expected)
        EXPECT_TRUE(flags & protocol::kDcpSnapshotMemory) << "vb:" << vb;
        if (first_memory) {
          EXPECT_TRUE(flags & protocol::kDcpSnapshotCheckpoint) << "vb:" << vb;
          ++handovers;
        }
        first_memory = false;
      }
    }
  }
  // The writes after each stream's disk snapshot came from memory: handovers happened.
  EXPECT_GT(handovers, 0u);
}

}  // namespace
}  // namespace sluice::testing
