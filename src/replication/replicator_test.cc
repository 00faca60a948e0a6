// Replicator and PeerLink without a producer (the integration tests in
// tests/integration/replication_test.cc run them against real sluiced processes): SetSources
// keeps one link per source node and tells each its vbuckets, a link to a node that refuses
// connections keeps retrying with back-off and reports why, and Stop joins every link's thread.
#include "replication/replicator.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <thread>

#include "common/clock.h"
#include "engine/bucket.h"
#include "testing/manual_executor.h"

namespace sluice::replication {
namespace {

using namespace std::chrono_literals;

// A loopback port nothing listens on (bound, then closed).
uint16_t ClosedPort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  EXPECT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  EXPECT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool WaitFor(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return condition();
}

class ReplicatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice_replicator_test_XXXXXX";
    dir_ = mkdtemp(tmpl);
    engine::BucketOptions o;
    o.data_dir = dir_;
    o.config.max_vbuckets = 4;
    o.config.max_num_shards = 1;
    o.executor = &exec_;
    o.clock = &clock_;
    auto b = engine::Bucket::Open(o);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    bucket_ = *b;
    for (Vbid vb = 0; vb < 4; ++vb) {
      ASSERT_TRUE(bucket_->SetVBucketState(vb, VBucketState::kReplica).ok());
    }
    ReplicatorOptions options;
    options.node_id = "me";
    options.bucket = "default";
    options.user = "u";
    options.password = "p";
    options.min_backoff = 5ms;
    options.max_backoff = 20ms;
    replicator_ = std::make_unique<Replicator>(options, bucket_);
  }
  void TearDown() override {
    replicator_.reset();
    bucket_.reset();
    exec_.Shutdown();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  // Streams the link to `node` has, or -1 without such a link.
  int StreamsOf(const std::string& node) {
    const auto stats = replicator_->Stats();
    auto it = stats.find(node);
    return it == stats.end() ? -1 : static_cast<int>(it->second.streams.size());
  }

  std::string dir_;
  FakeClock clock_;
  executor::ManualExecutor exec_{&clock_};
  std::shared_ptr<engine::Bucket> bucket_;
  std::unique_ptr<Replicator> replicator_;
};

TEST_F(ReplicatorTest, OneLinkPerSourceNodeCarryingItsVbuckets) {
  const uint16_t port = ClosedPort();
  replicator_->SetSources({{0, "x", "127.0.0.1", port}, {1, "x", "127.0.0.1", port}});
  ASSERT_TRUE(WaitFor([&] { return StreamsOf("x") == 2; }));
  EXPECT_EQ(replicator_->ConnName("x"), "replication:x->me:default");
  // Nobody listens: the link retries with back-off and says why.
  ASSERT_TRUE(WaitFor([&] { return replicator_->Stats().at("x").connect_failures >= 3; }));
  const LinkStats s = replicator_->Stats().at("x");
  EXPECT_FALSE(s.connected);
  EXPECT_NE(s.last_error.find("Connection refused"), std::string::npos) << s.last_error;
  for (const auto& [vb, stream] : s.streams) EXPECT_EQ(stream.state, "pending") << vb;

  // The same sources again change nothing; a vbucket dropped leaves the link.
  replicator_->SetSources({{0, "x", "127.0.0.1", port}, {1, "x", "127.0.0.1", port}});
  replicator_->SetSources({{1, "x", "127.0.0.1", port}});
  ASSERT_TRUE(WaitFor([&] { return StreamsOf("x") == 1; }));
  // Another node: a second link; the last entry of a vbucket wins.
  replicator_->SetSources({{1, "x", "127.0.0.1", port},
                           {2, "y", "127.0.0.1", port},
                           {3, "x", "127.0.0.1", port},
                           {3, "y", "127.0.0.1", port}});
  ASSERT_TRUE(WaitFor([&] { return StreamsOf("x") == 1 && StreamsOf("y") == 2; }));
  // A node whose address changed gets a new link; a node no longer named loses its link.
  replicator_->SetSources({{2, "y", "127.0.0.2", port}});
  ASSERT_TRUE(WaitFor([&] { return StreamsOf("x") == -1 && StreamsOf("y") == 1; }));
  replicator_->SetSources({});
  EXPECT_TRUE(replicator_->Stats().empty());
}

TEST_F(ReplicatorTest, StopJoinsEveryLinkAndIgnoresLaterSources) {
  const uint16_t port = ClosedPort();
  std::vector<ReplicaSource> sources;
  for (Vbid vb = 0; vb < 4; ++vb) {
    sources.push_back({vb, "n" + std::to_string(vb % 2), "127.0.0.1", port});
  }
  replicator_->SetSources(sources);
  ASSERT_TRUE(WaitFor([&] { return StreamsOf("n0") == 2 && StreamsOf("n1") == 2; }));
  replicator_->Stop();
  EXPECT_TRUE(replicator_->Stats().empty());
  replicator_->SetSources(sources);  // refused: stopped
  EXPECT_TRUE(replicator_->Stats().empty());
  replicator_->Stop();  // idempotent
}

}  // namespace
}  // namespace sluice::replication
