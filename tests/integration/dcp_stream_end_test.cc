// DCP over TCP: every way a stream ends while its connection stays up releases its backfill at
// once, with the connection's backfill buffer full. The set-up the read-through reproduced: one
// consumer stops acknowledging (flow control), one big vbucket keeps the connection's backfill
// buffer full, several small vbuckets backfill beside it; then the small streams end by
// CLOSE_STREAM, SET_VBUCKET to another state, DEL_VBUCKET, or TooSlow. Before the fix
// ep_dcp_num_running_backfills did not move until the idle limit (720 s), or never with idle
// protection off, and each of those backfills kept its RocksDB snapshot open.
//
// "At once" is checked without timing: the server ends the stream - and so releases its backfill -
// on the thread that answers the request, before it writes the answer. So the "dcp" stats read
// after the answer arrived must already show one unit (and, for a backfill that was reading, one
// snapshot) fewer. TooSlow ends streams on the backfill task when the idle limit passes; that case
// waits for the condition. The time each release took is printed (figures go in the closing note
// and bench/, not in pass/fail).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <string>

#include "protocol/dcp_codec.h"
#include "protocol/encode.h"
#include "testing/dcp_wire_util.h"

namespace sluice::testing {
namespace {

using protocol::McbpStatus;
using protocol::Opcode;

// The big vbucket's slices (8 items of 10 KB) fill the 256 KiB backfill buffer within a few
// turns; a small vbucket's slice (8 items of 10 bytes) adds little, and a small backfill needs 125
// slices, so none can complete first. The consumer acknowledges nothing past its 16 KiB window, so
// the buffer stays full, and ending small streams leaves it full.
constexpr uint32_t kStreamEndVbuckets = 8;
constexpr Vbid kBig = 0;
constexpr int kBigKeys = 300;  // 3 MB
constexpr size_t kBigValue = 10000;
constexpr int kSmallKeys = 1000;
constexpr size_t kSmallValue = 10;
constexpr const char* kName = "stalled";

class DcpStreamEndTest : public DcpTest {
 protected:
  virtual std::vector<std::string> Sets() const {
    return {"dcp_scan_item_limit=8", "dcp_backfill_byte_limit=256K",
            "dcp_backfill_idle_protection_enabled=false"};
  }
  ServerOptions Options() const override {
    ServerOptions o;
    o.extra_args = {"--vbuckets", std::to_string(kStreamEndVbuckets)};
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
      uint32_t next = 0;
      for (Vbid vb = 0; vb < kStreamEndVbuckets; ++vb) {
        const int n = vb == kBig ? kBigKeys : kSmallKeys;
        const size_t size = vb == kBig ? kBigValue : kSmallValue;
        for (int i = 0; i < n; ++i) {
          docs.emplace_back(KeyInVbucket("k", vb, kStreamEndVbuckets, &next),
                            std::string(size, 'v'));
        }
      }
      ASSERT_TRUE(writer.SetMany(docs));
    }
    RestartClean();  // on disk only: every stream from 0 backfills
    admin_ = Connect();
    ASSERT_TRUE(admin_);
  }

  // A consumer that acknowledges nothing (window 16 KiB) streams every vbucket, the big one first,
  // in one write. Returns when the buffer is full and every stream holds a unit. The small
  // backfills have usually read a slice or more from their snapshot by then (they take turns with
  // the big one); on a slow machine some may still wait to be created.
  void StallWithEveryStreamBackfilling() {
    dcp_ = ConnectRawDcp();
    ASSERT_TRUE(dcp_);
    ASSERT_TRUE(dcp_->DcpOpen(kName, protocol::kDcpOpenProducer).ok());
    ASSERT_TRUE(dcp_->DcpControl("connection_buffer_size", "16384").ok());
    std::string wire;
    constexpr uint32_t kOpaqueBase = 0x5000;
    for (Vbid vb = 0; vb < kStreamEndVbuckets; ++vb) {
      auto request = StreamRequest(0, ~uint64_t{0}, protocol::kDcpStreamToLatest);
      request.vbucket = vb;
      request.opaque = kOpaqueBase + vb;
      protocol::AppendDcpStreamReq(&wire, request);
    }
    ASSERT_TRUE(dcp_->Send(wire).ok());
    for (uint32_t answered = 0; answered < kStreamEndVbuckets;) {
      auto f = dcp_->Read(std::chrono::seconds(30));
      ASSERT_TRUE(f.ok()) << f.status().ToString();
      ASSERT_TRUE(f->has_value()) << "no answer to the stream requests";
      const protocol::Frame frame = (*f)->frame();
      if (!frame.is_response() || frame.opaque < kOpaqueBase) continue;
      ASSERT_EQ(frame.status(), McbpStatus::kSuccess) << "vb " << frame.opaque - kOpaqueBase;
      ++answered;
    }
    ASSERT_TRUE(WaitUntilFull(kStreamEndVbuckets));
  }

  // Waits until the buffer is full and `streams` backfills hold a unit (the task is then parked).
  ::testing::AssertionResult WaitUntilFull(uint64_t streams) {
    ::testing::AssertionResult r = WaitForDcpStats(
        *admin_,
        [streams](const StatMap& s) {
          return Get(s, "backfill_buffer_full") == "true" &&
                 StatU64(s, "ep_dcp_num_running_backfills") == streams;
        },
        "the backfill buffer full with every stream backfilling");
    if (!r) r << DescribeDcpConnection(*admin_, kName);
    return r;
  }

  static std::string Get(const StatMap& stats, const std::string& name) {
    auto it = stats.find(DcpConnStatPrefix(kName) + name);
    return it == stats.end() ? "" : it->second;
  }
  StatMap DcpStats() {
    auto stats = FetchStats(*admin_, "dcp");
    EXPECT_TRUE(stats.ok()) << stats.status().ToString();
    return stats.ok() ? std::move(*stats) : StatMap{};
  }
  // A small vbucket whose stream is still backfilling; `reading`: its backfill has read items.
  std::optional<Vbid> Backfilling(const StatMap& stats, bool reading) {
    for (Vbid vb = 1; vb < kStreamEndVbuckets; ++vb) {
      const std::string p = "stream_" + std::to_string(vb) + "_";
      if (Get(stats, p + "state") != "backfilling") continue;
      if ((Get(stats, p + "backfill_disk_items") != "0") == reading) return vb;
    }
    return std::nullopt;
  }

  // With the buffer full, ends a small stream with `end` (which returns once the server
  // answered); the unit and, if it was reading, the snapshot must be gone in the very next stats.
  void ExpectReleasedByTheAnswer(const std::string& how, const std::function<void(Vbid)>& end) {
    ASSERT_TRUE(WaitUntilFull(kStreamEndVbuckets - ended_));
    const StatMap before = DcpStats();
    std::optional<Vbid> vb = Backfilling(before, /*reading=*/true);
    const bool reading = vb.has_value();
    if (!vb) vb = Backfilling(before, /*reading=*/false);
    ASSERT_TRUE(vb.has_value()) << "no small stream left backfilling";
    const uint64_t running = StatU64(before, "ep_dcp_num_running_backfills").value_or(0);
    const uint64_t scans = StatU64(before, "ep_dcp_backfill_open_scans").value_or(0);
    const auto start = std::chrono::steady_clock::now();
    end(*vb);
    const StatMap after = DcpStats();
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(StatU64(after, "ep_dcp_num_running_backfills"), running - 1) << how;
    EXPECT_EQ(StatU64(after, "ep_dcp_backfill_open_scans"), scans - (reading ? 1 : 0)) << how;
    EXPECT_EQ(Get(after, "backfill_buffer_full"), "true") << "the buffer stayed full";
    ++ended_;
    std::printf("[ released  ] %s (vb %u, %s): answer + stats in %.2f ms\n", how.c_str(), *vb,
                reading ? "reading" : "admitted",
                std::chrono::duration<double, std::milli>(took).count());
  }

  std::unique_ptr<client::Connection> admin_;
  std::unique_ptr<RawDcpClient> dcp_;
  uint64_t ended_ = 0;  // streams ended by the test so far
};

TEST_F(DcpStreamEndTest, CloseStreamReleasesTheBackfillAtOnce) {
  StallWithEveryStreamBackfilling();
  for (int i = 0; i < 3; ++i) {
    ExpectReleasedByTheAnswer("CLOSE_STREAM", [&](Vbid vb) {
      auto r = dcp_->Call({.opcode = Opcode::kDcpCloseStream, .vbucket = vb});
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      EXPECT_EQ(r->frame().status(), McbpStatus::kSuccess);
    });
  }
}

TEST_F(DcpStreamEndTest, SetVbucketToAnotherStateReleasesTheBackfillAtOnce) {
  StallWithEveryStreamBackfilling();
  for (VBucketState state : {VBucketState::kReplica, VBucketState::kPending, VBucketState::kDead}) {
    ExpectReleasedByTheAnswer("SET_VBUCKET",
                              [&](Vbid vb) { ASSERT_TRUE(admin_->SetVBucket(vb, state).ok()); });
  }
}

TEST_F(DcpStreamEndTest, DelVbucketReleasesTheBackfillAtOnce) {
  StallWithEveryStreamBackfilling();
  for (int i = 0; i < 2; ++i) {
    ExpectReleasedByTheAnswer("DEL_VBUCKET", [&](Vbid vb) {
      auto r = admin_->Execute({.opcode = Opcode::kDelVbucket, .vbucket = vb});
      ASSERT_TRUE(r.ok()) << r.status().ToString();
    });
  }
}

TEST_F(DcpStreamEndTest, ClosingEveryStreamButTheBigOneLeavesOneUnit) {
  StallWithEveryStreamBackfilling();
  for (Vbid vb = 1; vb < kStreamEndVbuckets; ++vb) {
    auto r = dcp_->Call({.opcode = Opcode::kDcpCloseStream, .vbucket = vb});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  const StatMap s = DcpStats();
  EXPECT_EQ(StatU64(s, "ep_dcp_num_running_backfills"), 1u);
  EXPECT_LE(StatU64(s, "ep_dcp_backfill_open_scans").value_or(99), 1u);
  uint64_t queued = 0;
  for (const char* q : {"active", "initializing", "snoozing", "pending"}) {
    queued += StatU64(s, DcpConnStatPrefix(kName) + "backfill_num_" + q).value_or(0);
  }
  EXPECT_EQ(queued, 1u) << "only the big vbucket's backfill is left";
  // The consumer goes away: nothing is left.
  dcp_.reset();
  EXPECT_TRUE(WaitForDcpConnectionGone(*admin_, kName));
}

// Idle protection on, with a short idle limit: the stalled streams end TooSlow when it passes.
class DcpStreamEndTooSlowTest : public DcpStreamEndTest {
 protected:
  std::vector<std::string> Sets() const override {
    return {"dcp_scan_item_limit=8", "dcp_backfill_byte_limit=256K",
            "dcp_backfill_idle_protection_enabled=true", "dcp_backfill_idle_limit_seconds=1"};
  }
};

TEST_F(DcpStreamEndTooSlowTest, TooSlowReleasesEveryStalledBackfill) {
  StallWithEveryStreamBackfilling();
  const auto start = std::chrono::steady_clock::now();
  // Streams whose backfill read and then made no progress for the limit end TooSlow; their
  // units and snapshots return in the same sweep. The ones still waiting to be created are then
  // admitted and run as the ended streams' bytes drain, so the count falls to what remains.
  ASSERT_TRUE(WaitForDcpStats(
      *admin_,
      [](const StatMap& s) {
        return StatU64(s, "ep_dcp_num_running_backfills").value_or(99) <
                   static_cast<uint64_t>(kStreamEndVbuckets) &&
               StatU64(s, "ep_dcp_backfill_open_scans") <=
                   StatU64(s, "ep_dcp_num_running_backfills");
      },
      "stalled backfills ended TooSlow"))
      << DescribeDcpConnection(*admin_, kName);
  std::printf(
      "[ released  ] TooSlow: first units back %.0f ms after the buffer filled (limit 1 s)\n",
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  // The consumer, acknowledging from now on, sees STREAM_END TooSlow for some stream.
  bool too_slow = false;
  for (int i = 0; i < 100000 && !too_slow; ++i) {
    auto f = dcp_->Read(std::chrono::milliseconds(2000));
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    if (!f->has_value()) break;
    const protocol::Frame frame = (*f)->frame();
    ASSERT_TRUE(dcp_->BufferAck(frame.size).ok());
    if (frame.client_opcode() == Opcode::kDcpStreamEnd) {
      auto end = protocol::DecodeDcpStreamEnd(frame);
      too_slow = end.ok() && end->status == protocol::DcpStreamEndStatus::kTooSlow;
    }
  }
  EXPECT_TRUE(too_slow);
}

}  // namespace
}  // namespace sluice::testing
