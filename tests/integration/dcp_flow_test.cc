// DCP over TCP: flow control (connection_buffer_size / DCP_BUFFER_ACKNOWLEDGEMENT) holds the
// producer within its window, and acknowledging resumes it; noops keep a responsive consumer
// connected past the idle timeout, and a consumer that never answers is disconnected.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>

#include "protocol/dcp_codec.h"
#include "testing/dcp_wire_util.h"

namespace sluice::testing {
namespace {

using protocol::McbpStatus;
using protocol::Opcode;
using ::testing::IsEmpty;

constexpr uint32_t kFlowWindow = 8192;

class DcpFlowControlTest : public DcpTest {
 protected:
  void WriteKeys(int n, size_t value_size) {
    auto kv = Connect();
    ASSERT_TRUE(kv);
    TrackedWriter writer(*kv);
    for (int i = 0; i < n; ++i) {
      ASSERT_TRUE(writer.Set("flow" + std::to_string(i), std::string(value_size, 'f')));
    }
  }
};

TEST_F(DcpFlowControlTest, UnackedBytesStayWithinTheWindowUntilAcknowledged) {
  const int kKeys = 2000;
  ASSERT_NO_FATAL_FAILURE(WriteKeys(kKeys, 200));
  auto stats_conn = Connect();
  ASSERT_TRUE(stats_conn);
  auto raw = ConnectRawDcp();
  ASSERT_TRUE(raw);
  ASSERT_TRUE(raw->DcpOpen("flow", protocol::kDcpOpenProducer).ok());
  ASSERT_TRUE(raw->DcpControl("connection_buffer_size", std::to_string(kFlowWindow)).ok());
  for (Vbid vb = 0; vb < vbuckets(); ++vb) {
    auto request = StreamRequest(0, ~uint64_t{0}, protocol::kDcpStreamToLatest);
    request.vbucket = vb;
    auto status = raw->StreamReq(request);
    ASSERT_TRUE(status.ok()) << status.status().ToString();
    ASSERT_EQ(*status, McbpStatus::kSuccess);
  }

  uint64_t unacked = 0;  // producer messages received and not yet acknowledged
  uint32_t largest = 0;  // the largest producer message seen
  uint64_t mutations = 0;
  size_t ended = 0;
  auto consume = [&](const OwnedFrame& f) {
    const protocol::Frame frame = f.frame();
    ASSERT_TRUE(frame.is_request()) << "unexpected response opcode " << int(frame.opcode);
    ASSERT_NE(frame.client_opcode(), Opcode::kDcpNoop) << "noops were not enabled";
    unacked += frame.size;
    largest = std::max(largest, frame.size);
    EXPECT_LE(unacked, kFlowWindow + largest) << "the producer overran its window";
    if (frame.client_opcode() == Opcode::kDcpMutation) ++mutations;
    if (frame.client_opcode() == Opcode::kDcpStreamEnd) ++ended;
  };

  // Read without acknowledging until the producer says it is blocked on flow control and
  // everything it counted has arrived.
  const std::string prefix = DcpConnStatPrefix("flow");
  bool blocked = false;
  const auto deadline = std::chrono::steady_clock::now() + kWaitTimeout;
  while (!blocked && std::chrono::steady_clock::now() < deadline) {
    auto f = raw->Read(50ms);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    if (f->has_value()) {
      ASSERT_NO_FATAL_FAILURE(consume(**f));
      continue;
    }
    auto stats = FetchStats(*stats_conn, "dcp");
    ASSERT_TRUE(stats.ok());
    blocked = (*stats)[prefix + "paused"] == "true" &&
              (*stats)[prefix + "paused_reason"] == "BufferLogFull" &&
              StatU64(*stats, prefix + "unacked_bytes") == unacked;
  }
  ASSERT_TRUE(blocked) << "the producer never reported BufferLogFull; received " << unacked;
  EXPECT_GE(unacked, kFlowWindow);
  EXPECT_LE(unacked, kFlowWindow + largest);
  EXPECT_LT(mutations, static_cast<uint64_t>(kKeys));
  // The one bounded wait for silence: nothing more may arrive while we do not acknowledge.
  auto silence = raw->Read(1s);
  ASSERT_TRUE(silence.ok()) << silence.status().ToString();
  EXPECT_FALSE(silence->has_value()) << "the producer sent past its full window";

  // Acknowledge as a consumer does (every half window): the streams run to completion.
  while (ended < vbuckets()) {
    if (unacked >= kFlowWindow / 2) {
      ASSERT_TRUE(raw->BufferAck(static_cast<uint32_t>(unacked)).ok());
      unacked = 0;
    }
    auto f = raw->Read(kWaitTimeout);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    ASSERT_TRUE(f->has_value()) << "stalled after acknowledging; " << ended << " streams ended";
    ASSERT_NO_FATAL_FAILURE(consume(**f));
  }
  EXPECT_EQ(mutations, static_cast<uint64_t>(kKeys));
  auto stats = FetchStats(*stats_conn, "dcp");
  ASSERT_TRUE(stats.ok());
  EXPECT_GT(StatU64(*stats, prefix + "total_acked_bytes").value_or(0), 0u);
  EXPECT_EQ((*stats)[prefix + "flow_control"], "enabled");
  EXPECT_EQ(StatU64(*stats, prefix + "max_buffer_bytes"), kFlowWindow);
}

TEST_F(DcpFlowControlTest, AutomaticAcknowledgementCompletesAFullBackfill) {
  ASSERT_NO_FATAL_FAILURE(WriteKeys(1500, 300));
  RestartClean();
  auto consumer = OpenConsumer({.name = "auto-ack", .flow_control_window = 4096});
  ASSERT_TRUE(consumer);
  ASSERT_TRUE(
      consumer->StreamAll(vbuckets(), StreamRequest(0, ~uint64_t{0}, protocol::kDcpStreamToLatest))
          .ok());
  ASSERT_TRUE(consumer->ReadUntilAllEnded().ok());
  EXPECT_THAT(consumer->violations(), IsEmpty());
  EXPECT_EQ(consumer->items_received(), 1500u);
  EXPECT_GT(consumer->conn().dcp_bytes_acked(), 0u);
}

TEST_F(DcpFlowControlTest, GrowingOrDisablingTheWindowResumesAStalledProducer) {
  ASSERT_NO_FATAL_FAILURE(WriteKeys(1000, 200));
  auto stats_conn = Connect();
  ASSERT_TRUE(stats_conn);
  for (const char* resize : {"1048576", "0"}) {
    SCOPED_TRACE(std::string("connection_buffer_size=") + resize);
    const std::string name = std::string("resize-") + resize;
    auto consumer = OpenConsumer({.name = name, .controls = {{"connection_buffer_size", "4096"}}});
    ASSERT_TRUE(consumer);
    ASSERT_TRUE(
        consumer
            ->StreamAll(vbuckets(), StreamRequest(0, ~uint64_t{0}, protocol::kDcpStreamToLatest))
            .ok());
    const std::string prefix = DcpConnStatPrefix(name);
    ASSERT_TRUE(WaitForDcpStats(
        *stats_conn,
        [&](const StatMap& s) {
          auto it = s.find(prefix + "paused_reason");
          return it != s.end() && it->second == "BufferLogFull";
        },
        "the producer blocked on its window"));
    // No acknowledgement ever: the new window alone lets the producer finish.
    ASSERT_TRUE(consumer->conn().DcpControl("connection_buffer_size", resize).ok());
    ASSERT_TRUE(consumer->ReadUntilAllEnded().ok());
    EXPECT_THAT(consumer->violations(), IsEmpty());
    EXPECT_EQ(consumer->items_received(), 1000u);
  }
}

// A consumer that stops draining a backfill: with idle protection on (the default) its stream
// ends TooSlow once the backfill made no progress for dcp_backfill_idle_limit_seconds.
class DcpTooSlowTest : public DcpFlowControlTest {
 protected:
  ServerOptions Options() const override {
    ServerOptions o = DcpFlowControlTest::Options();
    o.extra_args.insert(o.extra_args.end(), {"--set", "dcp_backfill_byte_limit=4K", "--set",
                                             "dcp_backfill_idle_limit_seconds=1"});
    return o;
  }
};

TEST_F(DcpTooSlowTest, AStalledBackfillEndsTooSlow) {
  ASSERT_NO_FATAL_FAILURE(WriteKeys(2000, 200));
  RestartClean();
  const Vbid vb = 0;
  auto consumer =
      OpenConsumer({.name = "too-slow", .controls = {{"connection_buffer_size", "4096"}}});
  ASSERT_TRUE(consumer);
  auto request = StreamRequest(0);
  request.vbucket = vb;
  auto r = consumer->Stream(request);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, McbpStatus::kSuccess);
  auto stats_conn = Connect();
  ASSERT_TRUE(stats_conn);
  const std::string state = DcpConnStatPrefix("too-slow") + "stream_0_state";
  ASSERT_TRUE(WaitForDcpStats(
      *stats_conn,
      [&](const StatMap& s) {
        auto it = s.find(state);
        return it != s.end() && it->second == "dead";
      },
      "the stalled stream ended"));
  // Its backfill was dropped with it: the running count returns to 0 (the consumer is still
  // connected and still not reading).
  EXPECT_TRUE(WaitForDcpStats(
      *stats_conn,
      [](const StatMap& s) {
        return StatU64(s, "ep_dcp_num_running_backfills") == 0u &&
               StatU64(s, "ep_dcp_backfill_open_scans") == 0u;
      },
      "no running backfill"))
      << DescribeDcpConnection(*stats_conn, "too-slow");
  // Once the consumer drains, it finds the reason at the end of what was sent.
  consumer->conn().SetDcpAutoAck(4096);
  ASSERT_TRUE(consumer->ReadUntilAllEnded().ok());
  EXPECT_THAT(consumer->violations(), IsEmpty());
  EXPECT_EQ(consumer->stream(vb).end, protocol::DcpStreamEndStatus::kTooSlow);
  EXPECT_LT(consumer->stream(vb).items.size(), 2000u / vbuckets());
}

// A consumer that never reads anything, not even its stream-request answers, and sets no flow
// control window: only the server's own limits (dcp_backfill_byte_limit, the connection's
// pending-output cap, the socket buffers) bound what the server holds for it. Its streams end
// TooSlow (idle protection, above), the server's resident memory grows by far less than the data
// streamed, others are served meanwhile, and closing the consumer leaves memory near its start.
class DcpNeverReadsTest : public DcpTooSlowTest {
 protected:
  ServerOptions Options() const override {
    ServerOptions o = DcpTooSlowTest::Options();
    o.extra_args.insert(o.extra_args.end(), {"--set", "rocksdb_block_cache_size=8M"});
    return o;
  }
};

TEST_F(DcpNeverReadsTest, ServerMemoryStaysBoundedAndReturns) {
  constexpr int kKeys = 640;
  constexpr size_t kValueSize = 100000;  // 64 MB in all
  ASSERT_NO_FATAL_FAILURE(WriteKeys(kKeys, kValueSize));
  RestartClean();  // the streams backfill from disk
  const uint64_t rss_before = ResidentBytes(server().pid());
  ASSERT_GT(rss_before, 0u);

  auto raw = ConnectRawDcp();
  ASSERT_TRUE(raw);
  ASSERT_TRUE(raw->DcpOpen("never-reads", protocol::kDcpOpenProducer).ok());
  std::string requests;
  for (Vbid vb = 0; vb < vbuckets(); ++vb) {
    auto request = StreamRequest(0);
    request.vbucket = vb;
    request.opaque = 1000 + vb;
    protocol::AppendDcpStreamReq(&requests, request);
  }
  ASSERT_TRUE(raw->Send(requests).ok());  // and nothing is ever read

  auto stats_conn = Connect();
  ASSERT_TRUE(stats_conn);
  const std::string prefix = DcpConnStatPrefix("never-reads");
  ASSERT_TRUE(WaitForDcpStats(
      *stats_conn,
      [&](const StatMap& s) {
        for (Vbid vb = 0; vb < vbuckets(); ++vb) {
          auto it = s.find(prefix + "stream_" + std::to_string(vb) + "_state");
          if (it == s.end() || it->second != "dead") return false;
        }
        return true;
      },
      "every stream of the stalled consumer ended"))
      << DescribeDcpConnection(*stats_conn, "never-reads");
  const uint64_t rss_stalled = ResidentBytes(server().pid());
  EXPECT_LT(rss_stalled, rss_before + (40ull << 20))
      << "the server holds " << (rss_stalled - rss_before) << " bytes for a consumer of "
      << kKeys * kValueSize << " bytes";
  std::printf("consumer that never reads: server RSS %+lld KiB while stalled\n",
              (static_cast<long long>(rss_stalled) - static_cast<long long>(rss_before)) / 1024);
  // Others are served meanwhile.
  EXPECT_EQ(Must(stats_conn->Set("while-stalled", "v")).status, McbpStatus::kSuccess);
  EXPECT_EQ(Must(stats_conn->Get("while-stalled")).value, "v");

  raw.reset();
  EXPECT_TRUE(WaitForDcpStats(
      *stats_conn, [&](const StatMap& s) { return s.find(prefix + "type") == s.end(); },
      "the consumer's connection is gone"));
  const uint64_t rss_after = ResidentBytes(server().pid());
  EXPECT_LT(rss_after, rss_before + (40ull << 20));
}

// ---- noops and idle disconnects ----

class DcpNoopTest : public DcpTest {
 protected:
  ServerOptions Options() const override {
    ServerOptions o = DcpTest::Options();
    o.extra_args.insert(o.extra_args.end(), {"--set", "connection_manager_interval=0.1", "--set",
                                             "dcp_idle_timeout=1"});
    return o;
  }
};

double StatSeconds(const StatMap& stats, const std::string& key) {
  auto it = stats.find(key);
  return it == stats.end() ? -1.0 : std::strtod(it->second.c_str(), nullptr);
}

TEST_F(DcpNoopTest, AnsweredNoopsKeepAnIdleConsumerConnected) {
  auto consumer = OpenConsumer(
      {.name = "noop", .controls = {{"enable_noop", "true"}, {"set_noop_interval", "0.2"}}});
  ASSERT_TRUE(consumer);
  const Vbid vb = VBucketForKey("finish", vbuckets());
  auto request = StreamRequest(0);
  request.vbucket = vb;
  auto r = consumer->Stream(request);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, McbpStatus::kSuccess);

  // The consumer's thread only reads (and so answers noops) until "finish" arrives.
  Status read;
  std::thread reader(
      [&] { read = consumer->ReadUntil([&] { return !consumer->stream(vb).items.empty(); }); });
  // The server keeps hearing from it (noop replies) for three idle timeouts.
  auto stats_conn = Connect();
  ASSERT_TRUE(stats_conn);
  const std::string prefix = DcpConnStatPrefix("noop");
  EXPECT_TRUE(WaitForDcpStats(
      *stats_conn,
      [&](const StatMap& s) {
        return s.count(prefix + "created") != 0 &&
               StatSeconds(s, prefix + "last_receive_time") - StatSeconds(s, prefix + "created") >=
                   3.0;
      },
      "a noop reply 3 s after the connection opened"));
  auto kv = Connect();
  ASSERT_TRUE(kv);
  EXPECT_EQ(Must(kv->Set("finish", "now")).status, McbpStatus::kSuccess);
  reader.join();
  ASSERT_TRUE(read.ok()) << read.ToString();
  EXPECT_GE(consumer->conn().dcp_noops_answered(), 3u);
  EXPECT_EQ(consumer->stream(vb).items.front().key, "finish");
  EXPECT_THAT(consumer->violations(), IsEmpty());
}

TEST_F(DcpNoopTest, AConsumerThatNeverAnswersIsDisconnected) {
  auto raw = ConnectRawDcp();
  ASSERT_TRUE(raw);
  ASSERT_TRUE(raw->DcpOpen("silent", protocol::kDcpOpenProducer).ok());
  ASSERT_TRUE(raw->DcpControl("enable_noop", "true").ok());
  ASSERT_TRUE(raw->DcpControl("set_noop_interval", "0.2").ok());
  int noops = 0;
  Status closed;
  while (closed.ok()) {
    auto f = raw->Read(kWaitTimeout);
    if (!f.ok()) {
      closed = f.status();
      break;
    }
    ASSERT_TRUE(f->has_value()) << "not disconnected within " << kWaitTimeout.count() << " ms";
    const protocol::Frame frame = (*f)->frame();
    EXPECT_TRUE(frame.is_request() && frame.client_opcode() == Opcode::kDcpNoop)
        << "unexpected opcode " << int(frame.opcode);
    ++noops;
  }
  EXPECT_EQ(closed.code(), Errc::kIoError) << closed.ToString();
  EXPECT_GE(noops, 1) << "the producer sent no noop before giving up";
  auto stats_conn = Connect();
  ASSERT_TRUE(stats_conn);
  EXPECT_TRUE(WaitForDcpConnectionGone(*stats_conn, "silent"));
}

// The connection manager runs only every 10 s here, so it is the producer's own step - run when
// a new item is ready - that notices the idle consumer.
class DcpIdleStepTest : public DcpTest {
 protected:
  ServerOptions Options() const override {
    ServerOptions o = DcpTest::Options();
    o.extra_args.insert(o.extra_args.end(),
                        {"--set", "connection_manager_interval=10", "--set", "dcp_idle_timeout=1"});
    return o;
  }
};

TEST_F(DcpIdleStepTest, AnIdleConsumerNoticedWhenAnItemIsReadyIsDisconnected) {
  const Vbid vb = 3;
  auto raw = ConnectRawDcp();
  ASSERT_TRUE(raw);
  ASSERT_TRUE(raw->DcpOpen("idle-step", protocol::kDcpOpenProducer).ok());
  ASSERT_TRUE(raw->DcpControl("enable_noop", "true").ok());
  ASSERT_TRUE(raw->DcpControl("set_noop_interval", "10").ok());
  auto request = StreamRequest(0);
  request.vbucket = vb;
  auto status = raw->StreamReq(request);
  ASSERT_TRUE(status.ok());
  ASSERT_EQ(*status, McbpStatus::kSuccess);
  // Silence on both sides for longer than the idle timeout (no noop is due for 10 s)...
  auto nothing = raw->Read(1500ms);
  ASSERT_TRUE(nothing.ok());
  ASSERT_FALSE(nothing->has_value());
  // ...then an item is ready: the producer's step finds the consumer idle and must close the
  // connection (not merely drop the producer behind an open socket).
  auto kv = Connect();
  ASSERT_TRUE(kv);
  uint32_t next = 0;
  ASSERT_EQ(Must(kv->Set(KeyInVbucket("idle", vb, vbuckets(), &next), "v")).status,
            McbpStatus::kSuccess);
  Status closed;
  while (closed.ok()) {
    auto f = raw->Read(5s);  // well before the connection manager's next run
    if (!f.ok()) {
      closed = f.status();
      break;
    }
    ASSERT_TRUE(f->has_value()) << "the connection stayed open after its producer gave up";
  }
  EXPECT_EQ(closed.code(), Errc::kIoError) << closed.ToString();
  auto stats_conn = Connect();
  ASSERT_TRUE(stats_conn);
  EXPECT_TRUE(WaitForDcpConnectionGone(*stats_conn, "idle-step"));
}

}  // namespace
}  // namespace sluice::testing
