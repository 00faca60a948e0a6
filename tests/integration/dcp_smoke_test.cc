// DCP over TCP, end to end: the real sluiced, the test suite's DCP client (src/client).
#include <gtest/gtest.h>

#include <map>

#include "common/types.h"
#include "protocol/dcp_codec.h"
#include "testing/wire_util.h"

namespace sluice::testing {
namespace {

class DcpSmokeTest : public SluicedTest {};

TEST_F(DcpSmokeTest, BackfillEveryVbucketAfterRestartThenStreamLive) {
  auto kv = Connect();
  ASSERT_TRUE(kv);
  const int kKeys = 400;
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_EQ(Must(kv->Set("key" + std::to_string(i), "value" + std::to_string(i))).status,
              protocol::McbpStatus::kSuccess);
  }
  kv.reset();
  RestartClean();  // everything is on disk only now

  auto dcp = Connect();
  ASSERT_TRUE(dcp);
  ASSERT_TRUE(dcp->DcpOpen("smoke", protocol::kDcpOpenProducer).ok());
  std::map<Vbid, uint32_t> opaques;
  for (Vbid vb = 0; vb < vbuckets(); ++vb) {
    protocol::DcpStreamReqRequest req;
    req.vbucket = vb;
    req.opaque = 1000 + vb;
    req.flags = protocol::kDcpStreamToLatest;
    req.start_seqno = 0;
    req.end_seqno = ~uint64_t{0};
    auto r = dcp->DcpStreamReq(req);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    ASSERT_EQ(r->status, protocol::McbpStatus::kSuccess);
    ASSERT_FALSE(r->failover_log.empty());
    opaques[vb] = req.opaque;
  }
  std::map<Vbid, uint64_t> last_seqno;
  std::map<std::string, std::string> seen;
  size_t ended = 0;
  size_t markers = 0;
  while (ended < vbuckets()) {
    auto m = dcp->ReadDcpMessage();
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    if (auto* mut = std::get_if<client::DcpMutation>(&*m)) {
      EXPECT_GT(mut->by_seqno, last_seqno[mut->vbucket]);
      last_seqno[mut->vbucket] = mut->by_seqno;
      EXPECT_TRUE(seen.emplace(mut->key, mut->value).second) << "duplicate " << mut->key;
    } else if (auto* marker = std::get_if<protocol::DcpSnapshotMarker>(&*m)) {
      ++markers;
      EXPECT_TRUE(marker->flags & protocol::kDcpSnapshotDisk);
    } else if (auto* end = std::get_if<protocol::DcpStreamEnd>(&*m)) {
      EXPECT_EQ(end->status, protocol::DcpStreamEndStatus::kOk);
      ++ended;
    }
  }
  EXPECT_EQ(seen.size(), static_cast<size_t>(kKeys));
  EXPECT_EQ(seen["key7"], "value7");
  EXPECT_GT(markers, 0u);

  // Live: a new stream from the current high seqno receives new writes.
  const Vbid vb = VBucketForKey("live", vbuckets());
  protocol::DcpStreamReqRequest req;
  req.vbucket = vb;
  req.opaque = 77;
  req.flags = protocol::kDcpStreamFromLatest;
  auto r = dcp->DcpStreamReq(req);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, protocol::McbpStatus::kSuccess);
  auto writer = Connect();
  ASSERT_TRUE(writer);
  ASSERT_EQ(Must(writer->Set("live", "now")).status, protocol::McbpStatus::kSuccess);
  while (true) {
    auto m = dcp->ReadDcpMessage();
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    if (auto* mut = std::get_if<client::DcpMutation>(&*m)) {
      EXPECT_EQ(mut->key, "live");
      EXPECT_EQ(mut->value, "now");
      break;
    }
  }
  // The running-backfill count is back at zero, and the connection is listed.
  auto stats = Stats("dcp");
  EXPECT_EQ(stats["ep_dcp_num_running_backfills"], "0");
}

}  // namespace
}  // namespace sluice::testing
