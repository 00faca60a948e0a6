// DCP over TCP: the "dcp" and "dcpagg" stat groups carry kv_engine's names - bucket-wide
// (ep_dcp_*), per connection (eq_dcpq:<name>:*) and per stream (eq_dcpq:<name>:stream_<vb>_*) -
// with values that follow what the connection does; and DCP_CONTROL answers as documented.
#include <gtest/gtest.h>

#include <string>

#include "protocol/dcp_codec.h"
#include "testing/dcp_wire_util.h"

namespace sluice::testing {
namespace {

using protocol::McbpStatus;
using ::testing::IsEmpty;

class DcpStatsTest : public DcpTest {
 protected:
  void Load(int keys) {
    auto kv = Connect();
    ASSERT_TRUE(kv);
    TrackedWriter writer(*kv);
    std::vector<std::pair<std::string, std::string>> docs;
    for (int i = 0; i < keys; ++i)
      docs.emplace_back("k" + std::to_string(i), std::string(300, 's'));
    ASSERT_TRUE(writer.SetMany(docs));
  }
};

TEST_F(DcpStatsTest, ConnectionAndStreamStatsOfAStalledProducer) {
  ASSERT_NO_FATAL_FAILURE(Load(2000));
  RestartClean();
  // Backfilling streams held by a never-acknowledged window: everything stays observable.
  const uint32_t flags = protocol::kDcpStreamActiveVbOnly;
  auto consumer = OpenConsumer(
      {.name = "observed",
       .controls = {
           {"connection_buffer_size", "4096"}, {"enable_noop", "true"}, {"set_priority", "high"}}});
  ASSERT_TRUE(consumer);
  ASSERT_TRUE(consumer->StreamAll(vbuckets(), StreamRequest(0, ~uint64_t{0}, flags)).ok());
  auto stats_conn = Connect();
  ASSERT_TRUE(stats_conn);
  const std::string c = DcpConnStatPrefix("observed");
  ASSERT_TRUE(WaitForDcpStats(
      *stats_conn,
      [&](const StatMap& s) {
        // Paused on flow control, and every backfill read to its end (the 20 MiB backfill
        // buffer holds it all): the numbers below no longer move.
        auto paused = s.find(c + "paused_reason");
        return paused != s.end() && paused->second == "BufferLogFull" &&
               StatU64(s, "ep_dcp_num_running_backfills") == 0u;
      },
      "the producer paused on flow control, its backfills done"));
  const StatMap s = Stats("dcp");

  // Bucket-wide (quota 1 GiB by default: 1% / 10 KiB = 1048 running backfills).
  for (const char* key :
       {"ep_dcp_count", "ep_dcp_producer_count", "ep_dcp_items_sent", "ep_dcp_items_remaining",
        "ep_dcp_total_bytes", "ep_dcp_num_running_backfills", "ep_dcp_max_running_backfills",
        "ep_dcp_backfill_disk"}) {
    EXPECT_TRUE(StatU64(s, key).has_value()) << key;
  }
  EXPECT_EQ(StatU64(s, "ep_dcp_max_running_backfills"), 1048u);
  EXPECT_EQ(StatU64(s, "ep_dcp_count"), 1u);
  // The connection.
  EXPECT_EQ(s.at(c + "type"), "producer");
  EXPECT_EQ(s.at(c + "paused"), "true");
  EXPECT_EQ(s.at(c + "flow_control"), "enabled");
  EXPECT_EQ(StatU64(s, c + "max_buffer_bytes"), 4096u);
  EXPECT_GE(StatU64(s, c + "unacked_bytes").value_or(0), 4096u);
  EXPECT_EQ(s.at(c + "noop_enabled"), "true");
  EXPECT_EQ(s.at(c + "priority"), "high");
  EXPECT_EQ(StatU64(s, c + "num_streams"), vbuckets());
  EXPECT_GT(StatU64(s, c + "items_sent").value_or(0), 0u);
  EXPECT_GT(StatU64(s, c + "total_bytes_sent").value_or(0), 0u);
  for (const char* key : {"backfill_buffer_bytes_read", "backfill_buffer_max_bytes",
                          "backfill_num_pending", "backfill_num_initializing",
                          "backfill_num_active", "backfill_num_snoozing", "items_remaining"}) {
    EXPECT_TRUE(StatU64(s, c + key).has_value()) << key;
  }
  EXPECT_TRUE(s.count(c + "backfill_buffer_full")) << "backfill_buffer_full";
  EXPECT_EQ(s.at(c + "backfill_order"), "round-robin");
  // Every stream.
  uint64_t disk_items = 0;
  for (uint32_t vb = 0; vb < vbuckets(); ++vb) {
    const std::string p = c + "stream_" + std::to_string(vb) + "_";
    SCOPED_TRACE(p);
    ASSERT_TRUE(s.count(p + "state"));
    EXPECT_TRUE(s.at(p + "state") == "backfilling" || s.at(p + "state") == "in-memory")
        << s.at(p + "state");
    EXPECT_EQ(StatU64(s, p + "flags"), flags);
    EXPECT_EQ(StatU64(s, p + "start_seqno"), 0u);
    EXPECT_EQ(StatU64(s, p + "end_seqno"), ~uint64_t{0});
    for (const char* key : {"last_sent_seqno", "backfill_disk_items", "backfill_sent",
                            "ready_queue_memory", "readyQ_items", "last_read_seqno", "opaque"}) {
      EXPECT_TRUE(StatU64(s, p + key).has_value()) << key;
    }
    disk_items += StatU64(s, p + "backfill_disk_items").value_or(0);
  }
  EXPECT_GT(disk_items, 0u);
  EXPECT_EQ(StatU64(s, "ep_dcp_backfill_disk"), disk_items);

  // dcpagg: one group for this name (no separator in it) and the total.
  const StatMap agg = Stats("dcpagg :");
  EXPECT_EQ(StatU64(agg, "_unknown:count"), 1u);
  EXPECT_EQ(StatU64(agg, ":total:count"), 1u);
  EXPECT_EQ(StatU64(agg, ":total:activestream_count"), vbuckets());
  EXPECT_EQ(StatU64(agg, ":total:items_backfilled_disk"), disk_items);

  // Acknowledged to the end, the counters follow.
  consumer->conn().SetDcpAutoAck(4096);
  ASSERT_TRUE(consumer->ReadUntil([&] { return consumer->items_received() == 2000; }).ok());
  EXPECT_THAT(consumer->violations(), IsEmpty());
  ASSERT_TRUE(WaitForDcpStats(
      *stats_conn,
      [&](const StatMap& st) {
        uint64_t sent = 0;
        for (uint32_t vb = 0; vb < vbuckets(); ++vb) {
          sent += StatU64(st, c + "stream_" + std::to_string(vb) + "_backfill_sent").value_or(0);
        }
        return sent == 2000 && StatU64(st, "ep_dcp_num_running_backfills") == 0u &&
               StatU64(st, c + "items_sent") >= 2000u;
      },
      "every backfilled item counted as sent"));
}

TEST_F(DcpStatsTest, DcpaggGroupsByConnectionType) {
  std::vector<std::unique_ptr<DcpConsumer>> consumers;
  for (const char* name : {"views:a", "views:b", "xdcr:c", "plain"}) {
    consumers.push_back(OpenConsumer({.name = name}));
    ASSERT_TRUE(consumers.back());
  }
  const StatMap agg = Stats("dcpagg :");
  EXPECT_EQ(StatU64(agg, "views:count"), 2u);
  EXPECT_EQ(StatU64(agg, "xdcr:count"), 1u);
  EXPECT_EQ(StatU64(agg, "_unknown:count"), 1u);
  EXPECT_EQ(StatU64(agg, ":total:count"), 4u);
  EXPECT_EQ(StatU64(agg, ":total:producer_count"), 4u);
  // Another separator.
  const StatMap by_x = Stats("dcpagg x");
  EXPECT_EQ(StatU64(by_x, "_unknown:count"), 3u);  // "views:a", "views:b", "plain"
  EXPECT_EQ(StatU64(by_x, "xtotal:count"), 4u);
  EXPECT_EQ(StatU64(by_x, ":count"), 1u);  // "xdcr:c": nothing before the first 'x'
}

TEST_F(DcpStatsTest, OpenAndControlAnswers) {
  // DCP commands before DCP_OPEN, and DCP_OPEN variants that are refused.
  auto plain = Connect();
  ASSERT_TRUE(plain);
  EXPECT_EQ(plain->DcpControl("enable_noop", "true").code(), Errc::kInvalid);
  auto early = plain->DcpStreamReq(StreamRequest(0));
  ASSERT_TRUE(early.ok());
  EXPECT_EQ(early->status, McbpStatus::kEinval);
  EXPECT_EQ(plain->DcpOpen("bad-flags", protocol::kDcpOpenProducer | 0x1000).code(),
            Errc::kInvalid);
  ASSERT_TRUE(plain->DcpOpen("twice", protocol::kDcpOpenProducer).ok());
  EXPECT_EQ(plain->DcpOpen("twice-again", protocol::kDcpOpenProducer).code(), Errc::kInvalid);

  auto consumer = OpenConsumer({.name = "controls"});
  ASSERT_TRUE(consumer);
  client::Connection& conn = consumer->conn();
  for (auto [key, value] : std::vector<std::pair<const char*, const char*>>{
           {"connection_buffer_size", "1048576"},
           {"enable_noop", "true"},
           {"set_noop_interval", "20"},
           {"set_priority", "low"},
           {"supports_cursor_dropping", "true"},
           {"send_stream_end_on_client_close_stream", "true"},
           {"enable_expiry_opcode", "true"},
           {"backfill_order", "sequential"}}) {
    EXPECT_TRUE(conn.DcpControl(key, value).ok()) << key;
  }
  EXPECT_EQ(conn.DcpControl("no_such_control", "true").code(), Errc::kInvalid);
  EXPECT_EQ(conn.DcpControl("backfill_order", "sideways").code(), Errc::kInvalid);
  EXPECT_EQ(conn.DcpControl("set_noop_interval", "0.01").code(), Errc::kInvalid)
      << "below connection_manager_interval";
  EXPECT_TRUE(conn.DcpControl("enable_sync_writes", "true").ok());
  EXPECT_EQ(conn.DcpControl("enable_sync_writes", "false").code(), Errc::kInvalid);
  // DCP_NOOP from the consumer is answered too.
  auto noop = conn.Execute({.opcode = protocol::Opcode::kDcpNoop});
  ASSERT_TRUE(noop.ok());
  EXPECT_EQ(noop->status, McbpStatus::kSuccess);
  const StatMap s = Stats("dcp");
  const std::string c = DcpConnStatPrefix("controls");
  EXPECT_EQ(s.at(c + "backfill_order"), "sequential");
  EXPECT_EQ(s.at(c + "priority"), "low");
  EXPECT_EQ(s.at(c + "cursor_dropping"), "true");

  // send_stream_end_on_client_close_stream: CLOSE_STREAM is followed by STREAM_END(Closed).
  auto request = StreamRequest(0);
  request.vbucket = 2;
  auto r = consumer->Stream(request);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, McbpStatus::kSuccess);
  auto closed = conn.DcpCloseStream(2);
  ASSERT_TRUE(closed.ok());
  EXPECT_EQ(*closed, McbpStatus::kSuccess);
  ASSERT_TRUE(consumer->ReadUntilAllEnded().ok());
  EXPECT_EQ(consumer->stream(2).end, protocol::DcpStreamEndStatus::kClosed);
  auto again = conn.DcpCloseStream(2);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, McbpStatus::kKeyEnoent) << "no stream left to close";
  EXPECT_THAT(consumer->violations(), IsEmpty());
}

}  // namespace
}  // namespace sluice::testing
