// DCP consumer tests against a scripted producer on a socketpair: NOOP auto-replies, buffer
// acknowledgement accounting, stream requests with interleaved traffic, message decoding.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "client/connection.h"
#include "protocol/dcp_codec.h"
#include "testing/fake_peer.h"

namespace sluice::client {
namespace {

using protocol::Frame;
using protocol::McbpStatus;
using protocol::Opcode;

struct DcpHarness {
  DcpHarness() {
    auto [p, socket] = FakePeer::Create();
    peer = std::make_unique<FakePeer>(std::move(p));
    conn = Connection::FromSocket(std::move(socket));
  }
  ~DcpHarness() {
    if (script.joinable()) script.join();
  }
  template <class Fn>
  void Run(Fn fn) {
    script = std::thread([this, fn] { fn(*peer); });
  }

  std::unique_ptr<FakePeer> peer;
  std::unique_ptr<Connection> conn;
  std::thread script;
};

// Peer side of DCP_OPEN: checks the request and accepts it.
void AcceptOpen(FakePeer& peer, uint32_t expected_flags) {
  const std::string req = peer.ReadFrameBytes();
  const Frame f = ViewFrame(req);
  EXPECT_EQ(f.client_opcode(), Opcode::kDcpOpen);
  auto open = protocol::DecodeDcpOpen(f);
  ASSERT_TRUE(open.ok());
  EXPECT_EQ(open->name, "test-consumer");
  EXPECT_EQ(open->flags, expected_flags);
  peer.Respond(f, McbpStatus::kSuccess);
}

std::string Mutation(uint64_t seqno, std::string_view key, std::string_view value,
                     uint32_t opaque = 1, Vbid vbucket = 0) {
  std::string wire;
  protocol::AppendDcpMutation(&wire,
                              {.vbucket = vbucket,
                               .opaque = opaque,
                               .cas = seqno,
                               .by_seqno = seqno,
                               .rev_seqno = 1,
                               .key = key,
                               .value = value},
                              false);
  return wire;
}

TEST(DcpClientTest, NoopsAreAnsweredAutomaticallyAndCounted) {
  DcpHarness h;
  h.Run([](FakePeer& peer) {
    AcceptOpen(peer, protocol::kDcpOpenProducer);
    std::string out;
    protocol::AppendDcpNoop(&out, 0x77);
    out += Mutation(1, "k1", "v1");
    protocol::AppendDcpNoop(&out, 0x78);
    out += Mutation(2, "k2", "v2");
    peer.Write(out);
    for (uint32_t opaque : {0x77u, 0x78u}) {
      const std::string reply = peer.ReadFrameBytes();
      const Frame f = ViewFrame(reply);
      EXPECT_EQ(f.magic, protocol::Magic::kClientResponse);
      EXPECT_EQ(f.client_opcode(), Opcode::kDcpNoop);
      EXPECT_EQ(f.opaque, opaque);
      EXPECT_EQ(f.status(), McbpStatus::kSuccess);
    }
  });
  ASSERT_TRUE(h.conn->DcpOpen("test-consumer", protocol::kDcpOpenProducer).ok());
  EXPECT_TRUE(h.conn->is_dcp());
  for (uint64_t seqno : {1u, 2u}) {
    auto message = h.conn->ReadDcpMessage();
    ASSERT_TRUE(message.ok()) << message.status().ToString();
    const auto* mutation = std::get_if<DcpMutation>(&*message);
    ASSERT_NE(mutation, nullptr) << DescribeDcpMessage(*message);
    EXPECT_EQ(mutation->by_seqno, seqno);
    EXPECT_EQ(mutation->key, "k" + std::to_string(seqno));
  }
  h.script.join();
  EXPECT_EQ(h.conn->dcp_noops_answered(), 2u);
}

TEST(DcpClientTest, BufferAcknowledgementOnceHalfTheWindowIsConsumed) {
  const std::string value(100, 'x');
  const size_t message_size = protocol::kHeaderSize + protocol::kDcpMutationExtrasSize + 1 + 100;
  ASSERT_EQ(message_size, 156u);
  DcpHarness h;
  h.Run([&value](FakePeer& peer) {
    AcceptOpen(peer, protocol::kDcpOpenProducer);
    // DCP_CONTROL connection_buffer_size.
    std::string req = peer.ReadFrameBytes();
    const Frame control = ViewFrame(req);
    EXPECT_EQ(control.client_opcode(), Opcode::kDcpControl);
    EXPECT_EQ(control.key, "connection_buffer_size");
    EXPECT_EQ(control.value, "1000");
    peer.Respond(control, McbpStatus::kSuccess);
    // Eight mutations and a NOOP (not counted): acks after the 4th and the 8th (624 >= 500).
    std::string out;
    for (int i = 1; i <= 8; ++i) {
      out += Mutation(i, "k", value);
      if (i == 2) protocol::AppendDcpNoop(&out, 5);
    }
    peer.Write(out);
    int acks = 0;
    while (acks < 2) {
      const std::string frame = peer.ReadFrameBytes();
      ASSERT_FALSE(frame.empty());
      const Frame f = ViewFrame(frame);
      if (f.client_opcode() == Opcode::kDcpNoop) continue;
      ASSERT_EQ(f.client_opcode(), Opcode::kDcpBufferAcknowledgement);
      EXPECT_TRUE(f.is_request());
      EXPECT_EQ(f.opaque, 0u);
      EXPECT_EQ(*protocol::DecodeDcpBufferAck(f), 624u);
      ++acks;
    }
  });
  ASSERT_TRUE(h.conn->DcpOpen("test-consumer", protocol::kDcpOpenProducer).ok());
  ASSERT_TRUE(h.conn->EnableDcpFlowControl(1000).ok());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(h.conn->ReadDcpMessage().ok());
  EXPECT_EQ(h.conn->dcp_unacked_bytes(), 3 * message_size);
  EXPECT_EQ(h.conn->dcp_bytes_acked(), 0u);
  for (int i = 3; i < 8; ++i) ASSERT_TRUE(h.conn->ReadDcpMessage().ok());
  h.script.join();
  EXPECT_EQ(h.conn->dcp_bytes_acked(), 8 * message_size);
  EXPECT_EQ(h.conn->dcp_unacked_bytes(), 0u);
}

TEST(DcpClientTest, StreamRequestKeepsInterleavedTrafficInOrder) {
  DcpHarness h;
  h.Run([](FakePeer& peer) {
    AcceptOpen(peer, protocol::kDcpOpenProducer | protocol::kDcpOpenIncludeDeleteTimes);
    const std::string req = peer.ReadFrameBytes();
    const Frame f = ViewFrame(req);
    auto stream_req = protocol::DecodeDcpStreamReq(f);
    ASSERT_TRUE(stream_req.ok());
    EXPECT_EQ(stream_req->vbucket, 1);
    EXPECT_EQ(stream_req->start_seqno, 0u);
    EXPECT_EQ(stream_req->end_seqno, ~uint64_t{0});
    // Traffic of another stream (vb 0) arrives before the answer.
    std::string out;
    protocol::AppendDcpSnapshotMarker(
        &out, {.vbucket = 0, .opaque = 5, .start_seqno = 1, .end_seqno = 2, .flags = 1});
    protocol::AppendDcpNoop(&out, 6);
    protocol::AppendDcpDeletion(&out,
                                {.vbucket = 0,
                                 .opaque = 5,
                                 .version = protocol::DcpDeletionVersion::kV2,
                                 .by_seqno = 2,
                                 .delete_time = 42,
                                 .key = "gone"},
                                false);
    peer.Write(out);
    std::string log;
    protocol::AppendFailoverLog(&log, {{0xfeed, 0}});
    peer.Respond(f, McbpStatus::kSuccess, log);
    // Then the new stream's messages and its end.
    out.clear();
    protocol::AppendDcpSnapshotMarker(
        &out, {.vbucket = 1, .opaque = f.opaque, .start_seqno = 0, .end_seqno = 1, .flags = 2});
    out += Mutation(1, "a", "b", f.opaque, 1);
    protocol::AppendDcpExpiration(
        &out, {.vbucket = 1, .opaque = f.opaque, .by_seqno = 3, .delete_time = 7, .key = "ttl"},
        false);
    protocol::AppendDcpStreamEnd(
        &out, {.vbucket = 1, .opaque = f.opaque, .status = protocol::DcpStreamEndStatus::kOk});
    peer.Write(out);
    EXPECT_EQ(ViewFrame(peer.ReadFrameBytes()).client_opcode(), Opcode::kDcpNoop);
  });
  ASSERT_TRUE(h.conn
                  ->DcpOpen("test-consumer",
                            protocol::kDcpOpenProducer | protocol::kDcpOpenIncludeDeleteTimes)
                  .ok());
  auto result = h.conn->DcpStreamReq({.vbucket = 1});
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->status, McbpStatus::kSuccess);
  ASSERT_EQ(result->failover_log.size(), 1u);
  EXPECT_EQ(result->failover_log[0].vbucket_uuid, 0xfeedu);
  EXPECT_EQ(h.conn->stashed_frames(), 2u);

  std::vector<std::string> seen;
  for (int i = 0; i < 6; ++i) {
    auto message = h.conn->ReadDcpMessage();
    ASSERT_TRUE(message.ok()) << message.status().ToString();
    seen.push_back(DescribeDcpMessage(*message));
    if (const auto* d = std::get_if<DcpDeletion>(&*message)) {
      EXPECT_EQ(d->version, protocol::DcpDeletionVersion::kV2);
      EXPECT_EQ(d->delete_time, 42u);
    }
    if (const auto* x = std::get_if<DcpExpiration>(&*message)) EXPECT_EQ(x->delete_time, 7u);
  }
  EXPECT_EQ(seen, (std::vector<std::string>{
                      "DCP_SNAPSHOT_MARKER vb:0 start:1 end:2 flags:0x1",
                      "DCP_DELETION vb:0 seqno:2 key:gone",
                      "DCP_SNAPSHOT_MARKER vb:1 start:0 end:1 flags:0x2",
                      "DCP_MUTATION vb:1 seqno:1 key:a",
                      "DCP_EXPIRATION vb:1 seqno:3 key:ttl",
                      "DCP_STREAM_END vb:1 status:Ok",
                  }));
  EXPECT_EQ(h.conn->dcp_noops_answered(), 1u);
}

// ReadDcpMessageView: the same messages in the same order, stashed ones included, decoded as
// views that stay valid until the next read; wire sizes are the frames'.
TEST(DcpClientTest, MessageViewsInOrderWithTheirWireSizes) {
  DcpHarness h;
  std::vector<size_t> sizes;  // of the messages the peer sends, in order
  h.Run([&sizes](FakePeer& peer) {
    AcceptOpen(peer, protocol::kDcpOpenProducer | protocol::kDcpOpenIncludeDeleteTimes);
    const std::string req = peer.ReadFrameBytes();
    const Frame f = ViewFrame(req);
    std::string out;  // before the stream request's answer: stashed by the client
    protocol::AppendDcpSnapshotMarker(
        &out, {.vbucket = 0, .opaque = 5, .start_seqno = 1, .end_seqno = 2, .flags = 1});
    sizes.push_back(out.size());
    out += Mutation(1, "stashed", "value", 5, 0);
    sizes.push_back(out.size() - sizes[0]);
    peer.Write(out);
    std::string log;
    protocol::AppendFailoverLog(&log, {{0xfeed, 0}});
    peer.Respond(f, McbpStatus::kSuccess, log);
    out.clear();
    out += Mutation(2, "fresh", std::string(200, 'v'), f.opaque, 1);
    sizes.push_back(out.size());
    protocol::AppendDcpDeletion(&out,
                                {.vbucket = 1,
                                 .opaque = f.opaque,
                                 .version = protocol::DcpDeletionVersion::kV2,
                                 .by_seqno = 3,
                                 .delete_time = 42,
                                 .key = "gone"},
                                false);
    sizes.push_back(out.size() - sizes[2]);
    protocol::AppendDcpStreamEnd(
        &out, {.vbucket = 1, .opaque = f.opaque, .status = protocol::DcpStreamEndStatus::kOk});
    sizes.push_back(out.size() - sizes[2] - sizes[3]);
    peer.Write(out);
  });
  ASSERT_TRUE(h.conn
                  ->DcpOpen("test-consumer",
                            protocol::kDcpOpenProducer | protocol::kDcpOpenIncludeDeleteTimes)
                  .ok());
  ASSERT_TRUE(h.conn->DcpStreamReq({.vbucket = 1}).ok());
  EXPECT_EQ(h.conn->stashed_frames(), 2u);
  std::vector<uint32_t> wire;
  auto next = [&]() {
    auto m = h.conn->ReadDcpMessageView();
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    wire.push_back(m.ok() ? m->wire_size : 0);
    return m;
  };
  auto marker = next();
  ASSERT_TRUE(marker.ok());
  EXPECT_EQ(std::get<protocol::DcpSnapshotMarker>(marker->message).end_seqno, 2u);
  auto stashed = next();
  ASSERT_TRUE(stashed.ok());
  const auto& first = std::get<protocol::DcpMutation>(stashed->message);
  EXPECT_EQ(first.key, "stashed");
  EXPECT_EQ(first.value, "value");
  auto fresh = next();
  ASSERT_TRUE(fresh.ok());
  const auto& second = std::get<protocol::DcpMutation>(fresh->message);
  EXPECT_EQ(second.by_seqno, 2u);
  EXPECT_EQ(second.key, "fresh");
  EXPECT_EQ(second.value, std::string(200, 'v'));
  auto deletion = next();
  ASSERT_TRUE(deletion.ok());
  EXPECT_EQ(std::get<protocol::DcpDeletion>(deletion->message).delete_time, 42u);
  auto end = next();
  ASSERT_TRUE(end.ok());
  EXPECT_EQ(std::get<protocol::DcpStreamEnd>(end->message).vbucket, 1);
  h.script.join();
  EXPECT_EQ(wire, (std::vector<uint32_t>(sizes.begin(), sizes.end())));
}

// PollDcpMessageView: never waits (nullopt while a frame is incomplete), answers NOOPs, and
// hands back views with the frame's wire size, which flow control counts.
TEST(DcpClientTest, PollDcpMessageViewNeverWaits) {
  DcpHarness h;
  std::atomic<bool> half_read{false};
  const std::string mutation = Mutation(7, "key", std::string(100, 'v'));
  h.Run([&](FakePeer& peer) {
    AcceptOpen(peer, protocol::kDcpOpenProducer);
    std::string out;
    protocol::AppendDcpNoop(&out, 0x42);
    out += mutation.substr(0, 30);
    peer.Write(out);
    const std::string reply = peer.ReadFrameBytes();  // the NOOP's answer
    EXPECT_EQ(ViewFrame(reply).opaque, 0x42u);
    while (!half_read.load()) std::this_thread::yield();
    peer.Write(mutation.substr(30));
  });
  ASSERT_TRUE(h.conn->DcpOpen("test-consumer", protocol::kDcpOpenProducer).ok());
  // The NOOP and half a mutation: the NOOP is answered, nothing is returned.
  while (h.conn->dcp_noops_answered() == 0) {
    ASSERT_TRUE(h.conn->WaitForInput(std::chrono::milliseconds(1000), -1).ok());
    auto m = h.conn->PollDcpMessageView();
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    EXPECT_FALSE(m->has_value());
  }
  half_read.store(true);
  std::optional<DcpMessageView> got;
  while (!got.has_value()) {
    ASSERT_TRUE(h.conn->WaitForInput(std::chrono::milliseconds(1000), -1).ok());
    auto m = h.conn->PollDcpMessageView();
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    got = *m;
  }
  const auto& view = std::get<protocol::DcpMutation>(got->message);
  EXPECT_EQ(view.by_seqno, 7u);
  EXPECT_EQ(view.key, "key");
  EXPECT_EQ(view.value, std::string(100, 'v'));
  EXPECT_EQ(got->wire_size, mutation.size());
  EXPECT_EQ(h.conn->last_dcp_message_bytes(), mutation.size());
  auto none = h.conn->PollDcpMessageView();
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->has_value());
}

TEST(DcpClientTest, StreamRequestRollbackAndErrors) {
  DcpHarness h;
  h.Run([](FakePeer& peer) {
    AcceptOpen(peer, protocol::kDcpOpenProducer);
    std::string req = peer.ReadFrameBytes();
    std::string rollback;
    protocol::AppendRollbackSeqno(&rollback, 40);
    peer.Respond(ViewFrame(req), McbpStatus::kRollback, rollback);
    req = peer.ReadFrameBytes();
    peer.Respond(ViewFrame(req), McbpStatus::kNotMyVbucket);
    // CLOSE_STREAM on a stream that does not exist.
    req = peer.ReadFrameBytes();
    EXPECT_EQ(ViewFrame(req).client_opcode(), Opcode::kDcpCloseStream);
    EXPECT_EQ(ViewFrame(req).vbucket(), 9);
    peer.Respond(ViewFrame(req), McbpStatus::kKeyEnoent);
    // DCP_GET_FAILOVER_LOG.
    req = peer.ReadFrameBytes();
    std::string log;
    protocol::AppendFailoverLog(&log, {{7, 70}, {6, 0}});
    peer.Respond(ViewFrame(req), McbpStatus::kSuccess, log);
  });
  ASSERT_TRUE(h.conn->DcpOpen("test-consumer", protocol::kDcpOpenProducer).ok());
  auto rollback = h.conn->DcpStreamReq({.vbucket = 2,
                                        .start_seqno = 50,
                                        .vbucket_uuid = 9,
                                        .snap_start_seqno = 50,
                                        .snap_end_seqno = 50});
  ASSERT_TRUE(rollback.ok());
  EXPECT_EQ(rollback->status, McbpStatus::kRollback);
  EXPECT_EQ(rollback->rollback_seqno, 40u);
  auto nmvb = h.conn->DcpStreamReq({.vbucket = 3});
  ASSERT_TRUE(nmvb.ok());
  EXPECT_EQ(nmvb->status, McbpStatus::kNotMyVbucket);
  EXPECT_EQ(*h.conn->DcpCloseStream(9), McbpStatus::kKeyEnoent);
  auto log = h.conn->DcpGetFailoverLog(0);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->size(), 2u);
  EXPECT_EQ(log->front().seqno, 70u);
}

TEST(DcpClientTest, CollectionAwareKeysAreSplit) {
  DcpHarness h;
  h.Run([](FakePeer& peer) {
    std::string req = peer.ReadFrameBytes();
    std::string agreed;
    protocol::AppendFeatures(&agreed, {protocol::Feature::kCollections});
    peer.Respond(ViewFrame(req), McbpStatus::kSuccess, agreed);
    AcceptOpen(peer, protocol::kDcpOpenProducer);
    std::string out;
    protocol::AppendDcpMutation(
        &out, {.by_seqno = 1, .collection_id = 8, .key = "doc", .value = "v"}, true);
    peer.Write(out);
  });
  ASSERT_TRUE(h.conn->Hello("dcp", {protocol::Feature::kCollections}).ok());
  ASSERT_TRUE(h.conn->DcpOpen("test-consumer", protocol::kDcpOpenProducer).ok());
  auto message = h.conn->ReadDcpMessage();
  ASSERT_TRUE(message.ok());
  const auto& m = std::get<DcpMutation>(*message);
  EXPECT_EQ(m.collection_id, 8u);
  EXPECT_EQ(m.key, "doc");
}

TEST(DcpClientTest, DcpOpenRefused) {
  DcpHarness h;
  h.Run([](FakePeer& peer) {
    const std::string req = peer.ReadFrameBytes();
    peer.Respond(ViewFrame(req), McbpStatus::kEaccess);
  });
  EXPECT_EQ(h.conn->DcpOpen("test-consumer", protocol::kDcpOpenProducer).code(), Errc::kNoAccess);
  EXPECT_FALSE(h.conn->is_dcp());
}

}  // namespace
}  // namespace sluice::client
