// DCP over TCP: the failure modes of the code review the producer grew from, as regression tests
// against the real sluiced, each repeated. A consumer opens streams that backfill from disk on
// every vbucket and disconnects
//   (a) mid-scan (backfills admitted with open scans, yielding every few items),
//   (b) while its backfill is paused on a full backfill buffer (it stopped acknowledging),
//   (c) while its backfills are pending behind the bucket-wide limit;
// each time ep_dcp_num_running_backfills returns to what other connections hold, the
// connection's eq_dcpq:<name>:* stats disappear (its producer was destroyed: memory released),
// and ep_dcp_backfill_scans_started does not move while no live consumer needs a scan. Also: the
// same connection name reopened while backfills run, SIGTERM during backfills (exit 0, data
// intact), and vbucket state changes / deletion ending streams with StateChanged.
#include <gtest/gtest.h>

#include <string>

#include "protocol/dcp_codec.h"
#include "protocol/encode.h"
#include "testing/dcp_wire_util.h"

namespace sluice::testing {
namespace {

using protocol::DcpStreamEndStatus;
using protocol::McbpStatus;
using ::testing::IsEmpty;

constexpr uint32_t kVbuckets = 64;
constexpr int kKeys = 16000;        // 250 per vbucket
constexpr size_t kValueSize = 512;  // ~9 MB of DCP messages in all: more than sockets absorb

class DcpLifetimeTest : public DcpTest {
 protected:
  // Extra --set flags of the fixture.
  virtual std::vector<std::string> Sets() const {
    // Scans yield every 8 items and may read at most 256 KiB ahead of what was sent.
    return {"dcp_scan_item_limit=8", "dcp_backfill_byte_limit=256K"};
  }

  ServerOptions Options() const override {
    ServerOptions o;
    o.extra_args = {"--vbuckets", std::to_string(kVbuckets)};
    for (const std::string& set : Sets()) o.extra_args.insert(o.extra_args.end(), {"--set", set});
    return o;
  }

  void SetUp() override {
    DcpTest::SetUp();
    if (HasFatalFailure()) return;
    {
      auto kv = Connect();
      ASSERT_TRUE(kv);
      TrackedWriter writer(*kv);
      std::vector<std::pair<std::string, std::string>> docs;
      for (int i = 0; i < kKeys; ++i) {
        docs.emplace_back("key" + std::to_string(i),
                          std::to_string(i) + std::string(kValueSize, 'v'));
      }
      ASSERT_TRUE(writer.SetMany(docs));
      expected_ = writer.docs();
    }
    RestartClean();  // the data is on disk only: every stream from 0 backfills
    stats_ = Connect();
    ASSERT_TRUE(stats_);
  }

  // A consumer streaming every vbucket from 0 to its high seqno.
  std::unique_ptr<DcpConsumer> StreamEverything(DcpConsumerOptions options) {
    auto consumer = OpenConsumer(std::move(options));
    if (consumer == nullptr) return nullptr;
    Status s = consumer->StreamAll(vbuckets(),
                                   StreamRequest(0, ~uint64_t{0}, protocol::kDcpStreamToLatest));
    EXPECT_TRUE(s.ok()) << s.ToString();
    return s.ok() ? std::move(consumer) : nullptr;
  }

  // Reads `consumer` to the end of every stream and checks it got exactly the data set.
  void ExpectCompleteBackfill(DcpConsumer& consumer) {
    Status s = consumer.ReadUntilAllEnded();
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_THAT(consumer.violations(), IsEmpty());
    EXPECT_EQ(consumer.items_received(), static_cast<uint64_t>(kKeys));
    EXPECT_THAT(CompareFinalView(consumer.LatestByKey(), expected_), IsEmpty());
    for (const auto& [vb, log] : consumer.streams()) {
      EXPECT_EQ(log.end, DcpStreamEndStatus::kOk) << "vb:" << vb;
    }
  }

  StatMap DcpStats() {
    auto stats = FetchStats(*stats_, "dcp");
    EXPECT_TRUE(stats.ok()) << stats.status().ToString();
    return stats.ok() ? std::move(*stats) : StatMap{};
  }
  uint64_t ScansStarted() {
    return StatU64(DcpStats(), "ep_dcp_backfill_scans_started").value_or(~uint64_t{0});
  }
  // Backfills of connection `name` not finished: pending, initializing, active or snoozing.
  static uint64_t BackfillsInProgress(const StatMap& stats, std::string_view name) {
    const std::string prefix = DcpConnStatPrefix(name);
    uint64_t n = 0;
    for (const char* q : {"pending", "initializing", "active", "snoozing"}) {
      n += StatU64(stats, prefix + "backfill_num_" + q).value_or(0);
    }
    return n;
  }

  std::map<std::string, ExpectedDoc> expected_;
  std::unique_ptr<client::Connection> stats_;
};

// ---- (a) mid-scan, (b) paused on a full backfill buffer ----

TEST_F(DcpLifetimeTest, DisconnectMidScanReleasesEverything) {
  uint64_t scans_at_rest = ScansStarted();
  int disconnects_with_open_scans = 0;
  int disconnects_with_backfills = 0;
  for (int i = 0; i < 15; ++i) {
    SCOPED_TRACE("iteration " + std::to_string(i));
    EXPECT_EQ(ScansStarted(), scans_at_rest) << "a scan started with no consumer connected";
    const std::string name = "mid-scan-" + std::to_string(i);
    auto consumer = StreamEverything({.name = name});
    ASSERT_TRUE(consumer);
    // Some items arrived: scans ran. The consumer stops reading; the producer can neither send
    // the rest (the socket fills) nor read more than 256 KiB ahead, so the scans cannot finish.
    ASSERT_TRUE(consumer->ReadUntil([&] { return consumer->items_received() >= 50; }).ok());
    const StatMap before = DcpStats();
    ASSERT_EQ(before.at(DcpConnStatPrefix(name) + "type"), "producer");
    // On a loaded machine the client may have buffered the whole data set before it stopped
    // reading, so a given iteration may find its backfills done; across 15 iterations some
    // must not be (checked below).
    disconnects_with_backfills += BackfillsInProgress(before, name) > 0u;
    disconnects_with_open_scans += StatU64(before, "ep_dcp_backfill_open_scans") > 0u;
    consumer.reset();  // closes the socket
    ASSERT_TRUE(WaitForDcpConnectionGone(*stats_, name));
    scans_at_rest = ScansStarted();
  }
  EXPECT_GT(disconnects_with_backfills, 0);
  EXPECT_GT(disconnects_with_open_scans, 0);
  // A new consumer still gets everything, and exactly one scan per vbucket more.
  auto probe = StreamEverything({.name = "probe"});
  ASSERT_TRUE(probe);
  ASSERT_NO_FATAL_FAILURE(ExpectCompleteBackfill(*probe));
  EXPECT_EQ(ScansStarted(), scans_at_rest + kVbuckets);
}

TEST_F(DcpLifetimeTest, DisconnectWhilePausedOnAFullBackfillBuffer) {
  uint64_t scans_at_rest = ScansStarted();
  for (int i = 0; i < 15; ++i) {
    SCOPED_TRACE("iteration " + std::to_string(i));
    EXPECT_EQ(ScansStarted(), scans_at_rest) << "a scan started with no consumer connected";
    const std::string name = "paused-" + std::to_string(i);
    // A 4 KiB flow-control window never acknowledged: the producer stops sending, the backfill
    // buffer fills and the scan parks.
    auto consumer =
        StreamEverything({.name = name, .controls = {{"connection_buffer_size", "4096"}}});
    ASSERT_TRUE(consumer);
    const std::string prefix = DcpConnStatPrefix(name);
    ASSERT_TRUE(WaitForDcpStats(
        *stats_,
        [&](const StatMap& s) {
          auto it = s.find(prefix + "backfill_buffer_full");
          return it != s.end() && it->second == "true";
        },
        "backfill buffer of " + name + " full"));
    const StatMap before = DcpStats();
    EXPECT_EQ(before.at(prefix + "paused"), "true");
    EXPECT_GT(StatU64(before, "ep_dcp_num_running_backfills").value_or(0), 0u);
    consumer.reset();
    ASSERT_TRUE(WaitForDcpConnectionGone(*stats_, name));
    scans_at_rest = ScansStarted();
  }
  auto probe = StreamEverything({.name = "probe"});
  ASSERT_TRUE(probe);
  ASSERT_NO_FATAL_FAILURE(ExpectCompleteBackfill(*probe));
  EXPECT_EQ(ScansStarted(), scans_at_rest + kVbuckets);
}

TEST_F(DcpLifetimeTest, DisconnectWithStreamRequestsInFlight) {
  // The socket closes right after the stream requests were sent: the server meets the close
  // while it creates streams and schedules (or starts) their backfills.
  uint64_t scans_at_rest = ScansStarted();
  for (int i = 0; i < 20; ++i) {
    SCOPED_TRACE("iteration " + std::to_string(i));
    EXPECT_EQ(ScansStarted(), scans_at_rest) << "a scan started with no consumer connected";
    const std::string name = "in-flight-" + std::to_string(i);
    auto raw = ConnectRawDcp();
    ASSERT_TRUE(raw);
    ASSERT_TRUE(raw->DcpOpen(name, protocol::kDcpOpenProducer).ok());
    std::string wire;
    for (Vbid vb = 0; vb < vbuckets(); ++vb) {
      auto request = StreamRequest(0, ~uint64_t{0}, protocol::kDcpStreamToLatest);
      request.vbucket = vb;
      request.opaque = 1000 + vb;
      protocol::AppendDcpStreamReq(&wire, request);
    }
    ASSERT_TRUE(raw->Send(wire).ok());
    if (i % 2 == 1) {
      // Every other time, wait for the first answer (the server is in the middle of them).
      auto first = raw->Read(kWaitTimeout);
      ASSERT_TRUE(first.ok());
    }
    raw.reset();
    ASSERT_TRUE(WaitForDcpConnectionGone(*stats_, name));
    scans_at_rest = ScansStarted();
  }
}

TEST_F(DcpLifetimeTest, SameNameReopenedWhileBackfillsRun) {
  std::unique_ptr<DcpConsumer> previous;
  for (int i = 0; i < 10; ++i) {
    SCOPED_TRACE("iteration " + std::to_string(i));
    auto consumer = StreamEverything({.name = "same"});
    ASSERT_TRUE(consumer);
    if (previous != nullptr) {
      // The server closed the older connection: reading it ends in an error (after whatever it
      // had already sent).
      Status s = previous->ReadUntil([] { return false; });
      EXPECT_FALSE(s.ok());
      EXPECT_THAT(previous->violations(), IsEmpty());
    }
    ASSERT_TRUE(consumer->ReadUntil([&] { return consumer->items_received() >= 20; }).ok());
    previous = std::move(consumer);
  }
  // The newest one works to the end; it is the only DCP connection.
  ASSERT_NO_FATAL_FAILURE(ExpectCompleteBackfill(*previous));
  const StatMap stats = DcpStats();
  EXPECT_EQ(StatU64(stats, "ep_dcp_count"), 1u);
  EXPECT_EQ(stats.at(DcpConnStatPrefix("same") + "type"), "producer");
  EXPECT_EQ(StatU64(stats, "ep_dcp_num_running_backfills"), 0u);
  previous.reset();
  EXPECT_TRUE(WaitForDcpConnectionGone(*stats_, "same"));
}

TEST_F(DcpLifetimeTest, SigtermDuringBackfillsExitsCleanlyAndKeepsTheData) {
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE("iteration " + std::to_string(i));
    // One consumer mid-scan (stopped reading), one paused on a full backfill buffer.
    auto mid_scan = StreamEverything({.name = "mid-scan"});
    ASSERT_TRUE(mid_scan);
    ASSERT_TRUE(mid_scan->ReadUntil([&] { return mid_scan->items_received() >= 50; }).ok());
    auto paused =
        StreamEverything({.name = "paused", .controls = {{"connection_buffer_size", "4096"}}});
    ASSERT_TRUE(paused);
    ASSERT_TRUE(WaitForDcpStats(
        *stats_,
        [&](const StatMap& s) {
          auto it = s.find(DcpConnStatPrefix("paused") + "backfill_buffer_full");
          return it != s.end() && it->second == "true";
        },
        "a full backfill buffer"));
    ASSERT_GT(StatU64(DcpStats(), "ep_dcp_num_running_backfills").value_or(0), 0u);
    stats_.reset();
    ASSERT_EQ(server().Stop(), 0) << "sluiced did not exit cleanly on SIGTERM during backfills";
    ExpectNoSanitizerReport();
    ASSERT_TRUE(server().Start()) << server().error();
    stats_ = Connect();
    ASSERT_TRUE(stats_);
  }
  auto check = StreamEverything({.name = "after-restarts"});
  ASSERT_TRUE(check);
  ASSERT_NO_FATAL_FAILURE(ExpectCompleteBackfill(*check));
}

TEST_F(DcpLifetimeTest, VBucketStateChangeAndDeletionEndStreamsStateChanged) {
  auto kv = Connect();
  ASSERT_TRUE(kv);
  for (int i = 0; i < 5; ++i) {
    SCOPED_TRACE("iteration " + std::to_string(i));
    const Vbid to_replica = 7;
    const Vbid to_delete = static_cast<Vbid>(20 + i);
    const Vbid in_memory = 11;
    const std::string name = "state-" + std::to_string(i);
    // Backfilling streams held by flow control, and one in-memory stream.
    auto consumer = OpenConsumer({.name = name, .controls = {{"connection_buffer_size", "4096"}}});
    ASSERT_TRUE(consumer);
    for (Vbid vb : {to_replica, to_delete}) {
      auto request = StreamRequest(0);
      request.vbucket = vb;
      auto r = consumer->Stream(request);
      ASSERT_TRUE(r.ok());
      ASSERT_EQ(r->status, McbpStatus::kSuccess) << "vb:" << vb;
    }
    auto request = StreamRequest(0, ~uint64_t{0}, protocol::kDcpStreamFromLatest);
    request.vbucket = in_memory;
    auto r = consumer->Stream(request);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, McbpStatus::kSuccess);
    const std::string prefix = DcpConnStatPrefix(name);
    ASSERT_TRUE(WaitForDcpStats(
        *stats_,
        [&](const StatMap& s) {
          auto state = [&](Vbid vb) {
            auto it = s.find(prefix + "stream_" + std::to_string(vb) + "_state");
            return it == s.end() ? std::string() : it->second;
          };
          return state(to_replica) == "backfilling" && state(to_delete) == "backfilling" &&
                 state(in_memory) == "in-memory";
        },
        "streams backfilling and in memory"));

    ASSERT_TRUE(kv->SetVBucket(to_replica, VBucketState::kReplica).ok());
    ASSERT_TRUE(kv->SetVBucket(in_memory, VBucketState::kReplica).ok());
    auto del = kv->Execute({.opcode = protocol::Opcode::kDelVbucket, .vbucket = to_delete});
    ASSERT_TRUE(del.ok());
    ASSERT_EQ(del->status, McbpStatus::kSuccess);

    consumer->conn().SetDcpAutoAck(4096);
    ASSERT_TRUE(consumer->ReadUntilAllEnded().ok());
    EXPECT_THAT(consumer->violations(), IsEmpty());
    for (Vbid vb : {to_replica, to_delete, in_memory}) {
      EXPECT_EQ(consumer->stream(vb).end, DcpStreamEndStatus::kStateChanged) << "vb:" << vb;
    }
    // The deleted vbucket, created again, streams again on the same connection.
    ASSERT_TRUE(kv->SetVBucket(to_delete, VBucketState::kActive).ok());
    uint32_t next = 0;
    ASSERT_EQ(Must(kv->Set(KeyInVbucket("reborn", to_delete, vbuckets(), &next), "again")).status,
              McbpStatus::kSuccess);
    consumer->Forget(to_delete);
    auto again = StreamRequest(0, ~uint64_t{0}, protocol::kDcpStreamToLatest);
    again.vbucket = to_delete;
    auto reborn = consumer->Stream(again);
    ASSERT_TRUE(reborn.ok());
    ASSERT_EQ(reborn->status, McbpStatus::kSuccess);
    ASSERT_TRUE(consumer->ReadUntilAllEnded().ok());
    ASSERT_EQ(consumer->stream(to_delete).items.size(), 1u);
    EXPECT_EQ(consumer->stream(to_delete).items[0].value, "again");
    EXPECT_EQ(consumer->stream(to_delete).end, DcpStreamEndStatus::kOk);
    EXPECT_THAT(consumer->violations(), IsEmpty());
    consumer.reset();
    ASSERT_TRUE(WaitForDcpConnectionGone(*stats_, name));
    ASSERT_TRUE(kv->SetVBucket(to_replica, VBucketState::kActive).ok());
    ASSERT_TRUE(kv->SetVBucket(in_memory, VBucketState::kActive).ok());
  }
}

// ---- (c) pending behind the bucket-wide limit ----

class DcpPendingBackfillTest : public DcpLifetimeTest {
 protected:
  std::vector<std::string> Sets() const override {
    // One running backfill in the whole bucket; a 4 KiB backfill buffer pauses it quickly.
    return {"dcp_max_running_backfills=1", "dcp_backfill_byte_limit=4K", "dcp_scan_item_limit=8"};
  }
};

TEST_F(DcpPendingBackfillTest, DisconnectWhilePendingBehindTheBucketLimit) {
  const uint64_t scans_before = ScansStarted();
  // The holder takes the only running backfill and parks it: it does not acknowledge.
  auto holder =
      StreamEverything({.name = "holder", .controls = {{"connection_buffer_size", "4096"}}});
  ASSERT_TRUE(holder);
  ASSERT_TRUE(WaitForDcpStats(
      *stats_,
      [](const StatMap& s) {
        auto it = s.find(DcpConnStatPrefix("holder") + "backfill_buffer_full");
        return StatU64(s, "ep_dcp_num_running_backfills") == 1u && it != s.end() &&
               it->second == "true";
      },
      "the holder's backfill running and paused"));
  const StatMap held = DcpStats();
  EXPECT_EQ(StatU64(held, "ep_dcp_max_running_backfills"), 1u);
  EXPECT_EQ(StatU64(held, "ep_dcp_backfill_scans_started"), scans_before + 1);

  for (int i = 0; i < 15; ++i) {
    SCOPED_TRACE("iteration " + std::to_string(i));
    const std::string name = "victim-" + std::to_string(i);
    auto victim = StreamEverything({.name = name});
    ASSERT_TRUE(victim);
    ASSERT_TRUE(WaitForDcpStats(
        *stats_,
        [&](const StatMap& s) {
          return StatU64(s, DcpConnStatPrefix(name) + "backfill_num_pending") == kVbuckets;
        },
        "every backfill of " + name + " pending"));
    victim.reset();
    ASSERT_TRUE(WaitForDcpConnectionGone(*stats_, name, /*others=*/1));
    EXPECT_EQ(ScansStarted(), scans_before + 1) << "a pending backfill of a dead consumer ran";
  }

  // Released, the holder's backfills run one at a time to the end; the dead victims' tasks,
  // woken by every release, scan nothing: exactly one scan per holder stream in all.
  holder->conn().SetDcpAutoAck(4096);
  ASSERT_NO_FATAL_FAILURE(ExpectCompleteBackfill(*holder));
  EXPECT_EQ(ScansStarted(), scans_before + kVbuckets);
  holder.reset();
  EXPECT_TRUE(WaitForDcpConnectionGone(*stats_, "holder"));
}

TEST_F(DcpPendingBackfillTest, SigtermWithBackfillsPausedAndPending) {
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE("iteration " + std::to_string(i));
    auto holder =
        StreamEverything({.name = "holder", .controls = {{"connection_buffer_size", "4096"}}});
    ASSERT_TRUE(holder);
    auto waiting = StreamEverything({.name = "waiting"});
    ASSERT_TRUE(waiting);
    ASSERT_TRUE(WaitForDcpStats(
        *stats_,
        [](const StatMap& s) {
          return StatU64(s, "ep_dcp_num_running_backfills") == 1u &&
                 StatU64(s, DcpConnStatPrefix("waiting") + "backfill_num_pending") == kVbuckets;
        },
        "one backfill running, the other connection's pending"));
    stats_.reset();
    ASSERT_EQ(server().Stop(), 0) << "sluiced did not exit cleanly on SIGTERM";
    ASSERT_TRUE(server().Start()) << server().error();
    stats_ = Connect();
    ASSERT_TRUE(stats_);
  }
  auto check = StreamEverything({.name = "after-restarts"});
  ASSERT_TRUE(check);
  ASSERT_NO_FATAL_FAILURE(ExpectCompleteBackfill(*check));
}

}  // namespace
}  // namespace sluice::testing
