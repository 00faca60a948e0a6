// Integration: clients that hold resources instead of sending garbage (garbage, lying lengths,
// 4 GiB bodies, truncated frames and unknown magics are malformed_test.cc's; a DCP consumer that
// never reads is dcp_flow_test.cc's). A flood of connections past --max-connections is accepted
// and closed with a log line while established clients go on; a hundred clients each holding
// half of a frame that announces a large body cost memory only for what they sent, do not delay
// anyone else, and are closed by connection_idle_time; afterwards the server's memory is back
// near where it was.
#include <atomic>
#include <thread>

#include "protocol/byte_order.h"
#include "protocol/encode.h"
#include "protocol/payload.h"
#include "testing/wire_util.h"

namespace sluice::testing {
namespace {

using protocol::McbpStatus;
using protocol::Opcode;

size_t Occurrences(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

// A bare TCP connection without a test failure when it does not work out.
std::unique_ptr<client::Connection> TryConnect(const ServerProcess& server) {
  client::ConnectOptions options;
  options.io_timeout = 60s;
  auto conn = client::Connection::Connect(server.host(), server.port(), options);
  return conn.ok() ? std::move(*conn) : nullptr;
}

constexpr int kMaxConnections = 8;

class MaxConnectionsTest : public SluicedTest {
 protected:
  ServerOptions Options() const override {
    ServerOptions options = SluicedTest::Options();
    options.extra_args.insert(options.extra_args.end(),
                              {"--max-connections", std::to_string(kMaxConnections)});
    return options;
  }
};

TEST_F(MaxConnectionsTest, AFloodPastTheLimitIsRefusedAndEstablishedClientsGoOn) {
  std::vector<std::unique_ptr<client::Connection>> held;
  for (int i = 0; i < kMaxConnections; ++i) {
    held.push_back(Connect());
    ASSERT_NE(held.back(), nullptr) << "connection " << i << " is within the limit";
  }
  // The flood: four threads, 25 connections each, all attempted while the server is full.
  constexpr int kFlood = 100;
  std::atomic<int> served{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kFlood / 4; ++i) {
        auto conn = TryConnect(server());
        // Accepted by the kernel, then closed by the server: no answer.
        if (conn != nullptr && conn->Noop().ok()) served.fetch_add(1);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(served.load(), 0) << "connections past max_connections were served";
  // Every established client is still served.
  for (size_t i = 0; i < held.size(); ++i) {
    const std::string key = "held" + std::to_string(i);
    EXPECT_EQ(Must(held[i]->Set(key, "v")).status, McbpStatus::kSuccess);
    EXPECT_EQ(Must(held[i]->Get(key)).value, "v");
  }
  auto stats = FetchStats(*held[0]);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(StatU64(*stats, "rejected_conns"), uint64_t{kFlood});
  EXPECT_EQ(StatU64(*stats, "max_connections"), uint64_t{kMaxConnections});
  EXPECT_EQ(StatU64(*stats, "curr_connections"), uint64_t{kMaxConnections});
  EXPECT_EQ(Occurrences(server().Log(), "max_connections (8) reached"), size_t{kFlood});
  // Room again once two clients leave.
  held.resize(kMaxConnections - 2);
  EXPECT_TRUE(PollUntil([&] {
    auto conn = TryConnect(server());
    return conn != nullptr && conn->Noop().ok();
  }));
  auto fresh = Connect();
  ASSERT_NE(fresh, nullptr);
  EXPECT_EQ(Must(fresh->Get("held0")).value, "v");
}

TEST(MaxConnectionsFlagTest, ZeroIsAUsageError) {
  ServerOptions options;
  options.extra_args = {"--vbuckets", "4", "--max-connections", "0"};
  ServerProcess server(options);
  EXPECT_FALSE(server.Start());
  EXPECT_NE(server.Log().find("max_connections must be positive"), std::string::npos)
      << server.Log();
}

// ---- clients holding half a frame ----

constexpr double kIdleSeconds = 5;

class HalfFrameTest : public SluicedTest {
 protected:
  ServerOptions Options() const override {
    ServerOptions options = SluicedTest::Options();
    options.log_level = "info";  // idle disconnects are logged at info
    options.extra_args.insert(options.extra_args.end(),
                              {"--set", "connection_idle_time=" + std::to_string(kIdleSeconds)});
    return options;
  }

  uint64_t Stat(std::string_view name) {
    auto conn = Connect();
    if (conn == nullptr) return 0;
    auto stats = FetchStats(*conn);
    EXPECT_TRUE(stats.ok());
    return stats.ok() ? StatU64(*stats, name).value_or(0) : 0;
  }
};

TEST_F(HalfFrameTest, HundredHalfFramesCostWhatWasSentAndAreClosedWhenIdle) {
  const uint64_t rss_before = ResidentBytes(server().pid());
  const uint64_t data_before = ProcStatusBytes(server().pid(), "VmData");
  ASSERT_GT(rss_before, 0u);
  // Each client authenticates, then sends the header of a SET announcing a 25 MB body (within
  // max_packet_size) and only the first kilobyte of it.
  constexpr int kClients = 100;
  constexpr uint32_t kAnnounced = 25u << 20;
  std::vector<std::unique_ptr<client::Connection>> holders;
  for (int i = 0; i < kClients; ++i) {
    auto conn = Connect();
    ASSERT_NE(conn, nullptr);
    std::string frame;
    std::string extras;
    protocol::AppendMutationExtras(&extras, {0, 0});
    const std::string key = "half" + std::to_string(i);
    protocol::AppendRequest(&frame, {.opcode = Opcode::kSet,
                                     .vbucket = VBucketForKey(key, vbuckets()),
                                     .extras = extras,
                                     .key = key,
                                     .value = std::string(kAnnounced, 'h')});
    ASSERT_TRUE(conn->SendRaw(std::string_view(frame).substr(0, 1024)).ok());
    holders.push_back(std::move(conn));
  }
  // Others are served meanwhile (the I/O threads are not waiting for the rest of any frame).
  {
    auto other = Connect();
    ASSERT_NE(other, nullptr);
    EXPECT_EQ(Must(other->Set("other", "v")).status, McbpStatus::kSuccess);
    EXPECT_EQ(Must(other->Get("other")).value, "v");
  }
  // Announced: 100 x 25 MB. Held: what was sent, plus buffers of bounded size.
  const uint64_t rss_holding = ResidentBytes(server().pid());
  EXPECT_LT(rss_holding, rss_before + (64ull << 20))
      << "half frames cost " << (rss_holding - rss_before) << " bytes";
  // Not even reserved (untouched): the announced 2.5 GB would show in the data segment.
  const uint64_t data_holding = ProcStatusBytes(server().pid(), "VmData");
  EXPECT_LT(data_holding, data_before + (1ull << 30))
      << "half frames reserved " << (data_holding - data_before) << " bytes";
  std::printf("100 half frames: server RSS %+lld KiB\n",
              (static_cast<long long>(rss_holding) - static_cast<long long>(rss_before)) / 1024);
  // connection_idle_time ends every holder: the read sees the server close, not a timeout.
  for (auto& conn : holders) {
    auto f = conn->ReadFrame();
    ASSERT_FALSE(f.ok()) << "the server answered a half frame";
    EXPECT_EQ(f.status().code(), Errc::kIoError) << f.status().ToString();
  }
  holders.clear();
  EXPECT_GE(Stat("idle_disconnects"), uint64_t{kClients});
  EXPECT_GE(Occurrences(server().Log(), "(connection_idle_time); closing"), size_t{kClients});
  EXPECT_TRUE(PollUntil([&] { return Stat("curr_connections") == 1u; }));
  EXPECT_EQ(Must(Connect()->Get("half0")).status, McbpStatus::kKeyEnoent) << "nothing stored";
  const uint64_t rss_after = ResidentBytes(server().pid());
  EXPECT_LT(rss_after, rss_before + (64ull << 20));
}

TEST_F(HalfFrameTest, AnActiveClientIsNotIdleAndAnIdleOneIsClosed) {
  auto active = Connect();
  ASSERT_NE(active, nullptr);
  auto idle = Connect();
  ASSERT_NE(idle, nullptr);
  // The idle one is closed once connection_idle_time passed; the active one keeps talking.
  bool idle_closed = false;
  ASSERT_TRUE(PollUntil(
      [&] {
        EXPECT_TRUE(active->Noop().ok()) << "an active client was closed";
        auto stats = FetchStats(*active);
        idle_closed = stats.ok() && StatU64(*stats, "idle_disconnects").value_or(0) >= 1;
        return idle_closed;
      },
      kWaitTimeout, 200ms));
  EXPECT_FALSE(idle->Noop().ok());
  EXPECT_TRUE(active->Noop().ok());
}

}  // namespace
}  // namespace sluice::testing
