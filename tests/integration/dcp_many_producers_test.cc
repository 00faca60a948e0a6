// DCP over TCP: many producers at once, each with streams on all 1024 vbuckets backfilling from
// disk (the default vbucket count), every one of them complete and correct; the bucket-wide
// running-backfill count returns to zero.
#include <gtest/gtest.h>

#include <string>
#include <thread>

#include "protocol/dcp_codec.h"
#include "testing/dcp_wire_util.h"

namespace sluice::testing {
namespace {

using protocol::DcpStreamEndStatus;
using ::testing::IsEmpty;

class DcpManyProducersTest : public DcpTest {
 protected:
  ServerOptions Options() const override { return {}; }  // the default: 1024 vbuckets
};

TEST_F(DcpManyProducersTest, SixProducersStreamEveryVbucketAtOnce) {
  ASSERT_EQ(vbuckets(), 1024u);
  constexpr int kProducers = 6;
  constexpr int kKeys = 6000;
  std::map<std::string, ExpectedDoc> expected;
  {
    auto kv = Connect();
    ASSERT_TRUE(kv);
    TrackedWriter writer(*kv);
    std::vector<std::pair<std::string, std::string>> docs;
    for (int i = 0; i < kKeys; ++i) {
      docs.emplace_back("doc" + std::to_string(i), "value-" + std::to_string(i * 7));
    }
    ASSERT_TRUE(writer.SetMany(docs));
    for (int i = 0; i < kKeys; i += 5) ASSERT_TRUE(writer.Delete("doc" + std::to_string(i)));
    expected = writer.docs();
  }
  RestartClean();

  // Producers differ in backfill order and flow control; all connect before any reads.
  std::vector<std::unique_ptr<DcpConsumer>> consumers;
  for (int p = 0; p < kProducers; ++p) {
    DcpConsumerOptions options{.name = "many:" + std::to_string(p)};
    options.controls.emplace_back("backfill_order", p % 2 == 0 ? "round-robin" : "sequential");
    if (p % 3 == 0) options.flow_control_window = 64 * 1024;
    consumers.push_back(OpenConsumer(std::move(options)));
    ASSERT_TRUE(consumers.back());
  }
  std::vector<Status> results(kProducers);
  std::vector<std::thread> threads;
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      DcpConsumer& c = *consumers[p];
      Status s = c.StreamAll(1024, StreamRequest(0, ~uint64_t{0}, protocol::kDcpStreamToLatest));
      if (s.ok()) s = c.ReadUntilAllEnded();
      results[p] = s;
    });
  }
  // Meanwhile: every producer is listed, with its streams.
  auto stats_conn = Connect();
  ASSERT_TRUE(stats_conn);
  EXPECT_TRUE(WaitForDcpStats(
      *stats_conn,
      [&](const StatMap& s) {
        for (int p = 0; p < kProducers; ++p) {
          if (s.count(DcpConnStatPrefix("many:" + std::to_string(p)) + "type") == 0) return false;
        }
        return StatU64(s, "ep_dcp_count") == static_cast<uint64_t>(kProducers);
      },
      "all producers listed"));
  for (auto& t : threads) t.join();

  for (int p = 0; p < kProducers; ++p) {
    SCOPED_TRACE(consumers[p]->name());
    ASSERT_TRUE(results[p].ok()) << results[p].ToString();
    const DcpConsumer& c = *consumers[p];
    EXPECT_THAT(c.violations(), IsEmpty());
    EXPECT_EQ(c.num_ended(), 1024u);
    EXPECT_EQ(c.items_received(), expected.size());
    EXPECT_THAT(CompareFinalView(c.LatestByKey(), expected), IsEmpty());
    for (const auto& [vb, log] : c.streams()) {
      ASSERT_EQ(log.end, DcpStreamEndStatus::kOk) << "vb:" << vb;
      for (const auto& m : log.markers) {
        EXPECT_EQ(m.flags, protocol::kDcpSnapshotDisk | protocol::kDcpSnapshotCheckpoint);
      }
    }
  }
  // dcpagg groups connections by the name part before the separator.
  auto agg = FetchStats(*stats_conn, "dcpagg :");
  ASSERT_TRUE(agg.ok());
  EXPECT_EQ(StatU64(*agg, "many:count"), static_cast<uint64_t>(kProducers));
  EXPECT_EQ(StatU64(*agg, "many:producer_count"), static_cast<uint64_t>(kProducers));
  EXPECT_EQ(StatU64(*agg, ":total:count"), static_cast<uint64_t>(kProducers));
  EXPECT_GE(StatU64(*agg, "many:items_sent").value_or(0), kProducers * expected.size());
  consumers.clear();
  for (int p = 0; p < kProducers; ++p) {
    EXPECT_TRUE(WaitForDcpConnectionGone(*stats_conn, "many:" + std::to_string(p)));
  }
}

}  // namespace
}  // namespace sluice::testing
