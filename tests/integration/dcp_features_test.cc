// DCP over TCP: the producer features kv_engine's consumers use, each through the real sluiced and
// the test suite's client (src/client) - stream ids, V2.2 snapshot markers, SeqnoAdvanced,
// out-of-order backfills, the collection filter of a stream request, and set_priority.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

#include "protocol/dcp_codec.h"
#include "testing/dcp_wire_util.h"

namespace sluice::testing {
namespace {

using protocol::McbpStatus;
using ::testing::ElementsAre;

constexpr uint32_t kFeatureVbuckets = 4;

class DcpFeaturesTest : public DcpTest {
 protected:
  ServerOptions Options() const override {
    ServerOptions o;
    o.extra_args = {"--vbuckets", std::to_string(kFeatureVbuckets)};
    return o;
  }

  // Writes `keys` into vbucket `vb` in the given order (each once): seqnos 1..n.
  void WriteKeys(Vbid vb, const std::vector<std::string>& keys) {
    auto kv = Connect();
    ASSERT_TRUE(kv);
    for (const std::string& key : keys) {
      auto r = kv->Execute({.opcode = protocol::Opcode::kSet,
                            .vbucket = vb,
                            .extras = std::string(8, '\0'),
                            .key = key,
                            .value = "v"});
      ASSERT_TRUE(r.ok());
      ASSERT_EQ(r->status, McbpStatus::kSuccess);
    }
  }

  // A DCP connection (collection-aware unless told otherwise), opened and controlled.
  std::unique_ptr<client::Connection> OpenDcp(
      const std::string& name, const std::vector<std::pair<std::string, std::string>>& controls,
      bool collections = true) {
    ClientSetup setup;
    if (collections) setup.features.push_back(protocol::Feature::kCollections);
    auto conn = Connect(setup);
    if (!conn) return nullptr;
    Status s = conn->DcpOpen(name, protocol::kDcpOpenProducer);
    EXPECT_TRUE(s.ok()) << s.ToString();
    for (const auto& [key, value] : controls) {
      s = conn->DcpControl(key, value);
      EXPECT_TRUE(s.ok()) << key << "=" << value << ": " << s.ToString();
    }
    return conn;
  }

  // Reads messages until `ends` STREAM_ENDs arrived.
  std::vector<client::DcpMessage> ReadUntilEnds(client::Connection& conn, int ends) {
    std::vector<client::DcpMessage> out;
    while (ends > 0) {
      auto m = conn.ReadDcpMessage();
      EXPECT_TRUE(m.ok()) << m.status().ToString();
      if (!m.ok()) break;
      if (std::holds_alternative<protocol::DcpStreamEnd>(*m)) --ends;
      out.push_back(std::move(*m));
    }
    return out;
  }
  static std::vector<std::string> Describe(const std::vector<client::DcpMessage>& msgs) {
    std::vector<std::string> out;
    for (const auto& m : msgs) out.push_back(client::DescribeDcpMessage(m));
    return out;
  }
};

TEST_F(DcpFeaturesTest, StreamIdsTwoStreamsOnOneVbucket) {
  WriteKeys(1, {"a", "b", "c"});
  auto conn = OpenDcp("ids", {{"enable_stream_id", "true"}});
  ASSERT_TRUE(conn);
  protocol::DcpStreamReqRequest request =
      StreamRequest(0, ~uint64_t{0}, protocol::kDcpStreamToLatest);
  request.vbucket = 1;
  // Without a sid: refused, as kv_engine (0x8d).
  auto refused = conn->DcpStreamReq(request);
  ASSERT_TRUE(refused.ok());
  EXPECT_EQ(refused->status, McbpStatus::kDcpStreamIdInvalid);
  for (const char* json : {R"({"sid": 10})", R"({"sid": 20})"}) {
    request.json_value = json;
    auto r = conn->DcpStreamReq(request);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, McbpStatus::kSuccess) << json;
  }
  std::map<uint16_t, std::vector<uint64_t>> seqnos;
  for (const auto& m : ReadUntilEnds(*conn, 2)) {
    if (const auto* mutation = std::get_if<client::DcpMutation>(&m)) {
      ASSERT_TRUE(mutation->stream_id.has_value());
      seqnos[*mutation->stream_id].push_back(mutation->by_seqno);
    } else if (const auto* end = std::get_if<protocol::DcpStreamEnd>(&m)) {
      EXPECT_TRUE(end->stream_id.has_value());
    }
  }
  EXPECT_THAT(seqnos[10], ElementsAre(1, 2, 3));
  EXPECT_THAT(seqnos[20], ElementsAre(1, 2, 3));
  // CLOSE_STREAM names the stream by its frame info.
  request.json_value = R"({"sid": 30})";
  request.flags = 0;
  ASSERT_EQ(conn->DcpStreamReq(request)->status, McbpStatus::kSuccess);
  EXPECT_EQ(*conn->DcpCloseStream(1), McbpStatus::kDcpStreamIdInvalid);
  EXPECT_EQ(*conn->DcpCloseStream(1, uint16_t{30}), McbpStatus::kSuccess);
}

TEST_F(DcpFeaturesTest, CollectionFilterDefaultStreamsOthersAreUnknown) {
  WriteKeys(2, {"x", "y"});
  auto conn = OpenDcp("filter", {});
  ASSERT_TRUE(conn);
  protocol::DcpStreamReqRequest request =
      StreamRequest(0, ~uint64_t{0}, protocol::kDcpStreamToLatest);
  request.vbucket = 2;
  request.json_value = R"({"collections": ["8"]})";
  EXPECT_EQ(conn->DcpStreamReq(request)->status, McbpStatus::kUnknownCollection);
  request.json_value = R"({"scope": "8"})";
  EXPECT_EQ(conn->DcpStreamReq(request)->status, McbpStatus::kUnknownScope);
  request.json_value = R"({"scope": "0", "collections": ["0"]})";
  EXPECT_EQ(conn->DcpStreamReq(request)->status, McbpStatus::kEinval);
  request.json_value = R"({"collections": ["0"]})";
  ASSERT_EQ(conn->DcpStreamReq(request)->status, McbpStatus::kSuccess);
  int items = 0;
  for (const auto& m : ReadUntilEnds(*conn, 1)) {
    items += std::holds_alternative<client::DcpMutation>(m) ? 1 : 0;
  }
  EXPECT_EQ(items, 2);
}

TEST_F(DcpFeaturesTest, MarkerV22AndControlsThatNeedCollections) {
  WriteKeys(0, {"k1", "k2"});
  auto legacy = OpenDcp("legacy", {}, /*collections=*/false);
  ASSERT_TRUE(legacy);
  EXPECT_EQ(legacy->DcpControl("max_marker_version", "2.2").code(), Errc::kNotSupported);
  EXPECT_EQ(legacy->DcpControl("enable_out_of_order_snapshots", "true").code(),
            Errc::kNotSupported);

  auto conn = OpenDcp("v22", {{"max_marker_version", "2.2"}});
  ASSERT_TRUE(conn);
  ASSERT_EQ(
      conn->DcpStreamReq(StreamRequest(0, ~uint64_t{0}, protocol::kDcpStreamToLatest))->status,
      McbpStatus::kSuccess);
  int markers = 0;
  for (const auto& m : ReadUntilEnds(*conn, 1)) {
    if (const auto* marker = std::get_if<protocol::DcpSnapshotMarker>(&m)) {
      ++markers;
      EXPECT_EQ(marker->version, protocol::DcpSnapshotMarkerVersion::kV2_2);
      EXPECT_EQ(marker->max_visible_seqno, marker->end_seqno);
    }
  }
  EXPECT_EQ(markers, 1);
}

TEST_F(DcpFeaturesTest, OsoBackfillWithSeqnoAdvanced) {
  WriteKeys(3, {"delta", "alpha", "charlie", "bravo"});
  {
    auto kv = Connect();
    ASSERT_TRUE(kv);
    auto del = kv->Execute({.opcode = protocol::Opcode::kDelete, .vbucket = 3, .key = "delta"});
    ASSERT_TRUE(del.ok());
  }
  ASSERT_TRUE(WaitUntilPersisted());
  RestartClean();  // from disk
  auto conn = OpenDcp("oso", {{"enable_out_of_order_snapshots", "true_with_seqno_advanced"}});
  ASSERT_TRUE(conn);
  protocol::DcpStreamReqRequest request =
      StreamRequest(0, ~uint64_t{0}, protocol::kDcpStreamToLatest);
  request.vbucket = 3;
  ASSERT_EQ(conn->DcpStreamReq(request)->status, McbpStatus::kSuccess);
  const std::vector<client::DcpMessage> msgs = ReadUntilEnds(*conn, 1);
  std::vector<std::string> keys;
  bool started = false, ended = false;
  for (const auto& m : msgs) {
    if (const auto* oso = std::get_if<protocol::DcpOsoSnapshot>(&m)) {
      started = started || oso->flags == protocol::kDcpOsoSnapshotStart;
      ended = ended || oso->flags == protocol::kDcpOsoSnapshotEnd;
    } else if (const auto* mutation = std::get_if<client::DcpMutation>(&m)) {
      keys.push_back(mutation->key);
    } else if (const auto* deletion = std::get_if<client::DcpDeletion>(&m)) {
      keys.push_back(deletion->key);
    }
  }
  EXPECT_TRUE(started && ended) << ::testing::PrintToString(Describe(msgs));
  EXPECT_THAT(keys, ElementsAre("alpha", "bravo", "charlie", "delta"));
}

TEST_F(DcpFeaturesTest, SetPriorityIsReportedAndRefusesNonsense) {
  auto conn = OpenDcp("prio", {{"set_priority", "low"}});
  ASSERT_TRUE(conn);
  EXPECT_EQ(conn->DcpControl("set_priority", "urgent").code(), Errc::kInvalid);
  EXPECT_EQ(Stats("dcp").at(DcpConnStatPrefix("prio") + "priority"), "low");
}

}  // namespace
}  // namespace sluice::testing
