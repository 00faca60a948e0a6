// Two of kv_engine's DCP tests (ep_testsuite_dcp.cc), ported to the real sluiced over TCP: the two
// its builds failed on when the review this product grew from was first proposed (a core dump, a
// heap-use-after-free under TSan). They run in every build of `make test`, sanitizers included.
//
//   "test dcp early termination": 100 vbuckets; 100 writes to one key of vb 0, persisted; a
//   producer with connection_buffer_size 1024 asks for a DiskOnly stream (0 to 1) on every
//   vbucket; the connection is dropped; ep_dcp_num_running_backfills returns to 0.
//
//   "dcp failover log": 50 items, an unclean restart (so the failover log has an entry at 0 and
//   one at the high seqno), then 16 stream requests - uuid match, zero or bogus; StrictVbUuid;
//   start at the snapshot start or end, inside it, past the high seqno; ToLatest and DiskOnly
//   past the high seqno - each with kv_engine's expected answer, each on a new connection with
//   the same name, dropped at once while its backfill may still run. Nothing may leak.
#include <gtest/gtest.h>

#include <string>

#include "protocol/byte_order.h"
#include "protocol/dcp_codec.h"
#include "testing/dcp_wire_util.h"

namespace sluice::testing {
namespace {

using protocol::McbpStatus;

class DcpEarlyTerminationTest : public DcpTest {
 protected:
  ServerOptions Options() const override {
    ServerOptions o;
    o.extra_args = {"--vbuckets", "100"};
    return o;
  }
};

TEST_F(DcpEarlyTerminationTest, DroppedConnectionLeavesNoRunningBackfill) {
  auto kv = Connect();
  ASSERT_TRUE(kv);
  uint32_t next = 0;
  const std::string key = KeyInVbucket("KEY", 0, vbuckets(), &next);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(kv->Set(key, "somevalue").ok());
  ASSERT_TRUE(WaitUntilPersisted());

  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    auto dcp = ConnectRawDcp();
    ASSERT_TRUE(dcp);
    ASSERT_TRUE(dcp->DcpOpen("unittest", protocol::kDcpOpenProducer).ok());
    ASSERT_TRUE(dcp->DcpControl("connection_buffer_size", "1024").ok());
    for (Vbid vb = 0; vb < vbuckets(); ++vb) {
      auto request = StreamRequest(0, 1, protocol::kDcpStreamDiskOnly);
      request.vbucket = vb;
      request.snap_end_seqno = 1;
      auto status = dcp->StreamReq(request);
      ASSERT_TRUE(status.ok()) << status.status().ToString();
      ASSERT_EQ(*status, McbpStatus::kSuccess) << "vb " << vb;
    }
    dcp.reset();  // destroy the connection
    EXPECT_TRUE(WaitForDcpConnectionGone(*kv, "unittest"));
  }
  EXPECT_TRUE(server().Alive());
}

class DcpFailoverLogTest : public DcpTest {
 protected:
  ServerOptions Options() const override {
    ServerOptions o;
    o.extra_args = {"--vbuckets", "4"};
    return o;
  }
};

struct FailoverCase {
  const char* what;
  uint32_t flags;
  bool bogus_uuid;  // else the older failover entry's uuid (or 0 with zero_uuid)
  bool zero_uuid;
  int64_t start, snap_start, snap_end;  // relative to the high seqno when `from_high`
  bool from_high;
  McbpStatus expected;
  int64_t rollback;  // expected rollback seqno (relative like the seqnos)
  bool rollback_from_high;
};

TEST_F(DcpFailoverLogTest, EveryAnswerAsKvEngineAndNothingLeaks) {
  constexpr int kItems = 50;
  {
    auto kv = Connect();
    ASSERT_TRUE(kv);
    uint32_t next = 0;
    for (int i = 0; i < kItems; ++i) {
      ASSERT_TRUE(kv->Set(KeyInVbucket("key", 0, vbuckets(), &next), "value").ok());
    }
  }
  ASSERT_TRUE(WaitUntilPersisted());
  RestartAfterKill();  // unclean: a new failover entry at the high seqno
  const std::vector<protocol::FailoverEntry> log = FailoverLog(0);
  ASSERT_EQ(log.size(), 2u);
  const uint64_t high = HighSeqnos().at(0);
  ASSERT_EQ(high, static_cast<uint64_t>(kItems));
  ASSERT_EQ(log[0].seqno, high);
  const uint64_t uuid = log[1].vbucket_uuid;  // the older entry, covering [0, high]
  constexpr uint64_t kBogus = 0xBAD;
  constexpr uint64_t kEnd = kItems + 1000;

  using S = McbpStatus;
  const FailoverCase cases[] = {
      {"start 0, uuid match", 0, false, false, 0, 0, 0, false, S::kSuccess, 0, false},
      {"start 0, uuid 0", 0, false, true, 0, 0, 0, false, S::kSuccess, 0, false},
      {"start 0, bogus uuid, StrictVbUuid", protocol::kDcpStreamStrictVbUuid, true, false, 0, 0, 0,
       false, S::kRollback, 0, false},
      {"start 0, bogus uuid", 0, true, false, 0, 0, 0, false, S::kSuccess, 0, false},
      {"start = snap end = high", 0, false, false, 0, -kItems, 0, true, S::kSuccess, 0, false},
      {"start = snap end = high - 1", 0, false, false, -1, -kItems, -1, true, S::kSuccess, 0,
       false},
      {"start = snap start, snap end = high", 0, false, false, -10, -10, 0, true, S::kSuccess, 0,
       false},
      {"start = snap start, snap end = high - 1", 0, false, false, -10, -10, -1, true, S::kSuccess,
       0, false},
      {"inside the snapshot, snap end = high", 0, false, false, 10 - kItems, -kItems, 0, true,
       S::kSuccess, 0, false},
      {"inside the snapshot, snap end = high - 1", 0, false, false, 10 - kItems, -kItems, -1, true,
       S::kSuccess, 0, false},
      {"inside the snapshot, snap end past high", 0, false, false, 20 - kItems, 10 - kItems, 1,
       true, S::kRollback, 10, false},
      {"snapshot past high", 0, false, false, 20, 10, 30, true, S::kRollback, 0, true},
      {"start = snap = high + 10", 0, false, false, 10, 10, 10, true, S::kRollback, 0, true},
      {"bogus uuid, start 10", 0, true, false, 10 - kItems, -kItems, 0, true, S::kRollback, 0,
       false},
      {"ToLatest past high", protocol::kDcpStreamToLatest, false, false, 1, 1, 1, true,
       S::kRollback, 0, true},
      {"DiskOnly past high", protocol::kDcpStreamDiskOnly, false, false, 1, 1, 1, true,
       S::kRollback, 0, true},
  };
  auto seqno = [&](int64_t v, bool from_high) {
    return static_cast<uint64_t>(from_high ? static_cast<int64_t>(high) + v : v);
  };
  auto admin = Connect();
  ASSERT_TRUE(admin);
  for (const FailoverCase& c : cases) {
    SCOPED_TRACE(c.what);
    auto dcp = ConnectRawDcp();
    ASSERT_TRUE(dcp);
    ASSERT_TRUE(dcp->DcpOpen("test_failover_log_dcp", protocol::kDcpOpenProducer).ok());
    protocol::DcpStreamReqRequest request;
    request.vbucket = 0;
    request.flags = c.flags;
    request.start_seqno = seqno(c.start, c.from_high);
    request.end_seqno = kEnd;
    request.vbucket_uuid = c.zero_uuid ? 0 : (c.bogus_uuid ? kBogus : uuid);
    request.snap_start_seqno = seqno(c.snap_start, c.from_high);
    request.snap_end_seqno = seqno(c.snap_end, c.from_high);
    auto answer = dcp->StreamReqFull(request);
    ASSERT_TRUE(answer.ok()) << answer.status().ToString();
    EXPECT_EQ(answer->frame().status(), c.expected);
    if (c.expected == S::kRollback) {
      const std::string_view value = answer->frame().value;
      ASSERT_EQ(value.size(), 8u);
      EXPECT_EQ(protocol::LoadBe64(value.data()), seqno(c.rollback, c.rollback_from_high));
    }
    dcp.reset();  // dropped at once, its backfill possibly running
  }
  EXPECT_TRUE(WaitForDcpConnectionGone(*admin, "test_failover_log_dcp"));
  EXPECT_TRUE(server().Alive());
}

}  // namespace
}  // namespace sluice::testing
