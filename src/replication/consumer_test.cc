// Consumer (the consumer end of a driver-relayed DCP connection) against a real bucket: the
// controls it negotiates, ADD_STREAM and its delayed answer, what it applies, how it answers
// messages it cannot take, SET_VBUCKET_STATE, CLOSE_STREAM, flow control and silence.
#include "replication/consumer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "engine/bucket.h"
#include "protocol/byte_order.h"
#include "protocol/dcp_codec.h"
#include "protocol/encode.h"
#include "protocol/validate.h"
#include "testing/manual_executor.h"

namespace sluice::replication {
namespace {

using protocol::McbpStatus;
using protocol::Opcode;

constexpr Vbid kConsumerVb = 1;
constexpr uint64_t kConsumerProducerUuid = 0xabcdef;

// One frame the consumer wrote, owning its bytes.
struct Sent {
  std::string bytes;
  protocol::Frame frame;
};

class ConsumerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sluice_consumer_test_XXXXXX";
    dir_ = mkdtemp(tmpl);
    Config config;
    config.max_vbuckets = 4;
    config.max_num_shards = 1;
    config.max_size = 64ULL << 20;
    config.ht_locks = 4;
    engine::BucketOptions o;
    o.data_dir = dir_;
    o.config = config;
    o.executor = &exec_;
    o.clock = &clock_;
    auto b = engine::Bucket::Open(o);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    bucket_ = *b;
    ASSERT_TRUE(bucket_->SetVBucketState(kConsumerVb, VBucketState::kReplica).ok());
    ASSERT_TRUE(bucket_->SetVBucketState(2, VBucketState::kActive).ok());
  }
  void TearDown() override {
    consumer_.reset();
    bucket_.reset();
    exec_.Shutdown();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void Make(ConsumerOptions options = {}) {
    options.name = "test-consumer";
    options.clock = &clock_;
    if (options.controls.consumer_name.empty()) options.controls.consumer_name = "b";
    consumer_ = std::make_unique<Consumer>(std::move(options), bucket_);
    consumer_->Start(&out_);
  }
  // The frames the consumer wrote since the last call.
  std::vector<Sent> Take() {
    std::vector<Sent> sent;
    std::string_view rest = out_;
    while (!rest.empty()) {
      auto r = protocol::DecodeFrame(rest, 1u << 30);
      EXPECT_EQ(r.status, protocol::DecodeStatus::kOk);
      if (r.status != protocol::DecodeStatus::kOk) break;
      sent.push_back({std::string(rest.substr(0, r.size)), {}});
      rest.remove_prefix(r.size);
    }
    for (Sent& s : sent) s.frame = protocol::DecodeFrame(s.bytes, 1u << 30).frame;
    out_.clear();
    return sent;
  }
  // Feeds `wire` (one frame) to the consumer as a request, or as a response.
  Status Feed(const std::string& wire) {
    held_.push_back(wire);
    const protocol::Frame f = protocol::DecodeFrame(held_.back(), 1u << 30).frame;
    return f.is_response() ? consumer_->OnResponse(f, &out_) : consumer_->OnRequest(f, &out_);
  }
  std::string Response(Opcode op, uint32_t opaque, McbpStatus status, std::string_view value = {}) {
    std::string wire;
    protocol::AppendResponse(&wire,
                             {.opcode = op, .status = status, .opaque = opaque, .value = value});
    return wire;
  }
  // Answers every control with `status` until none is left.
  void AgreeControls(McbpStatus status = McbpStatus::kSuccess) {
    for (int i = 0; i < 20; ++i) {
      auto sent = Take();
      if (sent.empty()) return;
      ASSERT_EQ(sent.size(), 1u);  // one at a time
      ASSERT_EQ(sent[0].frame.client_opcode(), Opcode::kDcpControl);
      controls_.emplace_back(sent[0].frame.key);
      ASSERT_TRUE(Feed(Response(Opcode::kDcpControl, sent[0].frame.opaque, status)).ok());
    }
  }
  std::string AddStream(Vbid vb, uint32_t opaque) {
    std::string wire;
    std::string extras(4, '\0');
    protocol::AppendRequest(
        &wire,
        {.opcode = Opcode::kDcpAddStream, .vbucket = vb, .opaque = opaque, .extras = extras});
    return wire;
  }
  // ADD_STREAM on kConsumerVb, the STREAM_REQ it sends answered Success: the stream's opaque.
  uint32_t Accept() {
    EXPECT_TRUE(Feed(AddStream(kConsumerVb, 77)).ok());
    auto sent = Take();
    EXPECT_EQ(sent.size(), 1u);
    if (sent.size() != 1) return 0;
    EXPECT_EQ(sent[0].frame.client_opcode(), Opcode::kDcpStreamReq);
    const uint32_t opaque = sent[0].frame.opaque;
    std::string log;
    protocol::AppendFailoverLog(&log, {{kConsumerProducerUuid, 0}});
    EXPECT_TRUE(Feed(Response(Opcode::kDcpStreamReq, opaque, McbpStatus::kSuccess, log)).ok());
    sent = Take();
    EXPECT_EQ(sent.size(), 1u);
    if (sent.size() != 1) return 0;
    EXPECT_EQ(sent[0].frame.client_opcode(), Opcode::kDcpAddStream);
    EXPECT_EQ(sent[0].frame.status(), McbpStatus::kSuccess);
    EXPECT_EQ(sent[0].frame.opaque, 77u);
    EXPECT_EQ(protocol::LoadBe32(sent[0].frame.extras.data()), opaque);
    return opaque;
  }
  std::string Marker(uint32_t opaque, uint64_t start, uint64_t end, Vbid vb = kConsumerVb) {
    std::string wire;
    protocol::DcpSnapshotMarker m;
    m.vbucket = vb;
    m.opaque = opaque;
    m.start_seqno = start;
    m.end_seqno = end;
    m.flags = protocol::kDcpSnapshotMemory;
    protocol::AppendDcpSnapshotMarker(&wire, m);
    return wire;
  }
  std::string Mutation(uint32_t opaque, uint64_t seqno, std::string_view key,
                       Vbid vb = kConsumerVb) {
    std::string wire;
    protocol::DcpMutation m;
    m.vbucket = vb;
    m.opaque = opaque;
    m.by_seqno = seqno;
    m.rev_seqno = 3;
    m.cas = 0x1700000000000000 + seqno;
    m.flags = 0xf1a9;
    m.key = key;
    m.value = "value";
    protocol::AppendDcpMutation(&wire, m, /*collections=*/false);
    return wire;
  }

  std::string dir_;
  FakeClock clock_;
  executor::ManualExecutor exec_{&clock_};
  std::shared_ptr<engine::Bucket> bucket_;
  std::unique_ptr<Consumer> consumer_;
  std::string out_;
  std::vector<std::string> held_;  // fed frames' bytes (frames view them)
  std::vector<std::string> controls_;
};

TEST_F(ConsumerTest, NegotiatesTheControlsOneAtATimeBeforeAnyStream) {
  Make();
  ASSERT_TRUE(Feed(AddStream(kConsumerVb, 77)).ok());  // waits for the controls
  auto first = Take();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].frame.key, "consumer_name");
  EXPECT_EQ(first[0].frame.value, "b");
  ASSERT_TRUE(
      Feed(Response(Opcode::kDcpControl, first[0].frame.opaque, McbpStatus::kSuccess)).ok());
  controls_.push_back("consumer_name");
  // The rest; a refused one is skipped (kv_engine).
  for (int i = 0; i < 10; ++i) {
    auto sent = Take();
    ASSERT_EQ(sent.size(), 1u);
    if (sent[0].frame.client_opcode() == Opcode::kDcpStreamReq) break;  // the queued stream
    controls_.emplace_back(sent[0].frame.key);
    const McbpStatus status =
        sent[0].frame.key == "set_priority" ? McbpStatus::kEinval : McbpStatus::kSuccess;
    ASSERT_TRUE(Feed(Response(Opcode::kDcpControl, sent[0].frame.opaque, status)).ok());
  }
  EXPECT_EQ(controls_,
            (std::vector<std::string>{"consumer_name", "enable_noop", "set_noop_interval",
                                      "set_priority", "connection_buffer_size",
                                      "enable_expiry_opcode", "v7_dcp_status_codes"}));
  EXPECT_EQ(consumer_->stats().controls_pending, 0u);
}

TEST_F(ConsumerTest, AControlAnswerWithTheWrongOpaqueCloses) {
  Make();
  auto sent = Take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_FALSE(
      Feed(Response(Opcode::kDcpControl, sent[0].frame.opaque + 5, McbpStatus::kSuccess)).ok());
}

TEST_F(ConsumerTest, AddStreamRefusals) {
  Make();
  AgreeControls();
  ASSERT_TRUE(Feed(AddStream(2, 5)).ok());  // active
  ASSERT_TRUE(Feed(AddStream(3, 6)).ok());  // missing
  auto sent = Take();
  ASSERT_EQ(sent.size(), 2u);
  EXPECT_EQ(sent[0].frame.status(), McbpStatus::kNotMyVbucket);
  EXPECT_EQ(sent[0].frame.opaque, 5u);
  EXPECT_EQ(sent[1].frame.status(), McbpStatus::kNotMyVbucket);
  Accept();
  ASSERT_TRUE(Feed(AddStream(kConsumerVb, 8)).ok());
  sent = Take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].frame.client_opcode(), Opcode::kDcpAddStream);
  EXPECT_EQ(sent[0].frame.status(), McbpStatus::kKeyEexists);
}

TEST_F(ConsumerTest, AppliesTheProducersItemsAndAcksWhenDrained) {
  Make();
  AgreeControls();
  const uint32_t opaque = Accept();
  ASSERT_TRUE(Feed(Marker(opaque, 1, 2)).ok());
  ASSERT_TRUE(Feed(Mutation(opaque, 1, "a")).ok());
  ASSERT_TRUE(Feed(Mutation(opaque, 2, "b")).ok());
  EXPECT_TRUE(Take().empty());  // no answer to a message taken
  consumer_->Flush(&out_);
  auto sent = Take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].frame.client_opcode(), Opcode::kDcpBufferAcknowledgement);
  const auto stats = consumer_->stats();
  EXPECT_EQ(protocol::LoadBe32(sent[0].frame.extras.data()), stats.bytes_received);
  EXPECT_EQ(stats.bytes_acked, stats.bytes_received);
  EXPECT_EQ(bucket_->GetVBucket(kConsumerVb)->high_seqno(), 2u);
  auto got = bucket_->Get(kConsumerVb, "b", {}, false, engine::ReadFrom::kReplica);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->cas, 0x1700000000000002u);
  EXPECT_EQ(got->flags, 0xf1a9u);
}

// STAT dcp's entry of the connection (consumer_stats.h): kv_engine's consumer and passive-stream
// names, read from the board another thread would read.
TEST_F(ConsumerTest, StatsBoardListsTheConnectionAndItsStreamsWithKvEnginesNames) {
  Make();
  std::shared_ptr<ConsumerStatsBoard> board = consumer_->stats_board();
  auto read = [&](DcpStreamStatsFormat format = DcpStreamStatsFormat::kLegacy) {
    std::map<std::string, std::string> stats;
    AddConsumerDcpStats(board->Read(), format,
                        [&](std::string_view k, std::string_view v) { stats.emplace(k, v); });
    return stats;
  };
  const std::string conn = "eq_dcpq:test-consumer:";
  auto stats = read();
  EXPECT_EQ(stats[conn + "type"], "consumer");
  EXPECT_EQ(stats[conn + "pending_control"], "consumer_name");  // the first, sent at Start
  EXPECT_EQ(stats[conn + "pending_add_stream"], "false");
  EXPECT_EQ(stats[conn + "max_buffer_bytes"], std::to_string(10u << 20));
  AgreeControls();
  const uint32_t opaque = Accept();
  ASSERT_TRUE(Feed(Marker(opaque, 1, 2)).ok());
  ASSERT_TRUE(Feed(Mutation(opaque, 1, "a")).ok());
  stats = read();
  EXPECT_EQ(stats.count(conn + "pending_control"), 0u);
  EXPECT_EQ(stats[conn + "num_streams"], "1");
  EXPECT_EQ(stats[conn + "unacked_bytes"], stats[conn + "total_bytes_received"]);
  const std::string s = conn + "stream_1_";
  EXPECT_EQ(stats[s + "state"], "reading");
  EXPECT_EQ(stats[s + "opaque"], std::to_string(opaque));
  EXPECT_EQ(stats[s + "flags"], "0");
  EXPECT_EQ(stats[s + "start_seqno"], "0");
  EXPECT_EQ(stats[s + "vb_uuid"], "0");  // from 0: no uuid
  EXPECT_EQ(stats[s + "last_received_seqno"], "1");
  EXPECT_EQ(stats[s + "cur_snapshot_type"], "memory");
  EXPECT_EQ(stats[s + "cur_snapshot_start"], "1");
  EXPECT_EQ(stats[s + "cur_snapshot_end"], "2");
  EXPECT_EQ(stats[s + "cur_snapshot_prepare"], "false");
  consumer_->Flush(&out_);
  stats = read();
  EXPECT_EQ(stats[conn + "unacked_bytes"], "0");
  EXPECT_EQ(stats[conn + "total_acked_bytes"], stats[conn + "total_bytes_received"]);
  // One JSON value per stream, or none.
  stats = read(DcpStreamStatsFormat::kJson);
  EXPECT_NE(stats[conn + "stream_1"].find("\"last_received_seqno\":\"1\""), std::string::npos);
  EXPECT_EQ(read(DcpStreamStatsFormat::kSkip).count(s + "state"), 0u);
  // The board outlives the connection's consumer, with no streams left.
  consumer_.reset();
  EXPECT_EQ(read().count(s + "state"), 0u);
}

// STAT dcp reads the board on another connection's thread while the consumer applies messages
// and adds and removes streams (TSan runs this).
TEST_F(ConsumerTest, StatsBoardIsReadWhileTheConsumerWorks) {
  Make();
  std::shared_ptr<ConsumerStatsBoard> board = consumer_->stats_board();
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> reads{0};
  std::thread reader([&] {
    while (!stop.load()) {
      size_t n = 0;
      AddConsumerDcpStats(board->Read(), DcpStreamStatsFormat::kLegacy,
                          [&](std::string_view, std::string_view) { ++n; });
      EXPECT_GT(n, 0u);
      reads.fetch_add(1);
    }
  });
  AgreeControls();
  for (int round = 0; round < 3; ++round) {
    const uint32_t opaque = Accept();
    const uint64_t base = bucket_->GetVBucket(kConsumerVb)->high_seqno();
    ASSERT_TRUE(Feed(Marker(opaque, base + 1, base + 20)).ok());
    for (uint64_t s = base + 1; s <= base + 20; ++s) {
      ASSERT_TRUE(Feed(Mutation(opaque, s, "k" + std::to_string(s))).ok());
    }
    consumer_->Flush(&out_);
    std::string close;
    protocol::AppendDcpCloseStream(&close, kConsumerVb, 99);
    ASSERT_TRUE(Feed(close).ok());
    Take();
  }
  while (reads.load() < 10) std::this_thread::yield();
  stop.store(true);
  reader.join();
  EXPECT_EQ(consumer_->stats().streams.size(), 0u);
}

TEST_F(ConsumerTest, BadMessagesGetAStatusAndCloseOnlyTheirStream) {
  Make();
  AgreeControls();                              // v7 status codes agreed
  ASSERT_TRUE(Feed(Mutation(9, 1, "x")).ok());  // no stream
  auto sent = Take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].frame.status(), McbpStatus::kDcpStreamNotFound);
  const uint32_t opaque = Accept();
  ASSERT_TRUE(Feed(Marker(opaque + 1, 1, 5)).ok());  // another opaque
  sent = Take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].frame.status(), McbpStatus::kOpaqueNoMatch);
  ASSERT_TRUE(Feed(Marker(opaque, 1, 5)).ok());
  ASSERT_TRUE(Feed(Mutation(opaque, 9, "late")).ok());  // outside [1, 5]
  sent = Take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].frame.status(), McbpStatus::kErange);
  EXPECT_TRUE(consumer_->stats().streams.empty());  // closed; the driver adds it again
  Accept();
}

TEST_F(ConsumerTest, StreamEndRemovesTheStreamAndCloseStreamAnswers) {
  Make();
  AgreeControls();
  uint32_t opaque = Accept();
  std::string end;
  protocol::AppendDcpStreamEnd(&end, {.vbucket = kConsumerVb, .opaque = opaque});
  ASSERT_TRUE(Feed(end).ok());
  EXPECT_TRUE(Take().empty());
  EXPECT_TRUE(consumer_->stats().streams.empty());
  opaque = Accept();
  std::string close;
  protocol::AppendDcpCloseStream(&close, kConsumerVb, 99);
  ASSERT_TRUE(Feed(close).ok());
  auto sent = Take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].frame.status(), McbpStatus::kSuccess);
  EXPECT_EQ(sent[0].frame.opaque, 99u);
  ASSERT_TRUE(Feed(close).ok());
  sent = Take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].frame.status(), McbpStatus::kDcpStreamNotFound);
}

TEST_F(ConsumerTest, SetVBucketStateIsAppliedAndAnswered) {
  Make();
  AgreeControls();
  const uint32_t opaque = Accept();
  std::string wire;
  protocol::AppendDcpSetVbucketState(
      &wire, {.vbucket = kConsumerVb, .opaque = opaque, .state = VBucketState::kActive});
  ASSERT_TRUE(Feed(wire).ok());
  auto sent = Take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].frame.client_opcode(), Opcode::kDcpSetVbucketState);
  EXPECT_EQ(sent[0].frame.status(), McbpStatus::kSuccess);
  EXPECT_EQ(bucket_->GetVBucket(kConsumerVb)->state(), VBucketState::kActive);
  EXPECT_TRUE(consumer_->stats().streams.empty());  // no longer a replica
}

TEST_F(ConsumerTest, RollbackBelowTheHighSeqnoResetsAndAsksAgain) {
  Make();
  AgreeControls();
  uint32_t opaque = Accept();
  ASSERT_TRUE(Feed(Marker(opaque, 1, 2)).ok());
  ASSERT_TRUE(Feed(Mutation(opaque, 1, "a")).ok());
  ASSERT_TRUE(Feed(Mutation(opaque, 2, "b")).ok());
  std::string close;
  protocol::AppendDcpCloseStream(&close, kConsumerVb, 1);
  ASSERT_TRUE(Feed(close).ok());
  Take();
  ASSERT_TRUE(Feed(AddStream(kConsumerVb, 40)).ok());
  auto sent = Take();
  ASSERT_EQ(sent.size(), 1u);
  std::string rollback;
  protocol::AppendRollbackSeqno(&rollback, 0);
  ASSERT_TRUE(
      Feed(Response(Opcode::kDcpStreamReq, sent[0].frame.opaque, McbpStatus::kRollback, rollback))
          .ok());
  sent = Take();  // asked again from 0, the ADD_STREAM still unanswered
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].frame.client_opcode(), Opcode::kDcpStreamReq);
  auto req = protocol::DecodeDcpStreamReq(sent[0].frame);
  ASSERT_TRUE(req.ok());
  EXPECT_EQ(req->start_seqno, 0u);
  ASSERT_TRUE(
      Feed(Response(Opcode::kDcpStreamReq, sent[0].frame.opaque, McbpStatus::kEaccess)).ok());
  sent = Take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].frame.client_opcode(), Opcode::kDcpAddStream);
  EXPECT_EQ(sent[0].frame.status(), McbpStatus::kEaccess);
  EXPECT_EQ(sent[0].frame.opaque, 40u);
}

TEST_F(ConsumerTest, NoopsAreAnsweredAndSilenceCloses) {
  Make();
  std::string noop;
  protocol::AppendDcpNoop(&noop, 12);
  Take();
  ASSERT_TRUE(Feed(noop).ok());
  auto sent = Take();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].frame.client_opcode(), Opcode::kDcpNoop);
  EXPECT_TRUE(sent[0].frame.is_response());
  EXPECT_TRUE(consumer_->Tick(&out_).ok());
  clock_.Advance(SilenceLimit(1) + std::chrono::milliseconds(1));
  EXPECT_FALSE(consumer_->Tick(&out_).ok());
}

TEST_F(ConsumerTest, WhatAConsumerDoesNotTakeCloses) {
  Make();
  std::string wire;
  protocol::AppendDcpStreamReq(&wire, {.vbucket = kConsumerVb, .opaque = 3});
  EXPECT_FALSE(Consumer::Takes(Opcode::kDcpStreamReq));
  EXPECT_FALSE(Feed(wire).ok());
  EXPECT_FALSE(Feed(Response(Opcode::kGet, 1, McbpStatus::kSuccess)).ok());
}

TEST_F(ConsumerTest, RandomValidatedMessagesNeverCrash) {
  // What the server hands a consumer: frames of its opcodes that passed the validator, in any
  // order, with random fields; and random responses. The consumer answers or asks to close.
  Make();
  AgreeControls();
  const uint32_t opaque = Accept();
  std::mt19937 rng(1234);
  const Opcode ops[] = {Opcode::kDcpAddStream,  Opcode::kDcpCloseStream,
                        Opcode::kDcpStreamEnd,  Opcode::kDcpSnapshotMarker,
                        Opcode::kDcpMutation,   Opcode::kDcpDeletion,
                        Opcode::kDcpExpiration, Opcode::kDcpSetVbucketState,
                        Opcode::kDcpNoop,       Opcode::kDcpSeqnoAdvanced};
  int taken = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string extras(rng() % 32, '\0');
    for (char& c : extras) c = static_cast<char>(rng() % 4 == 0 ? rng() : 0);
    std::string wire;
    const Opcode op = ops[rng() % std::size(ops)];
    const bool response = rng() % 8 == 0;
    if (response) {
      protocol::AppendResponse(&wire, {.opcode = rng() % 2 ? Opcode::kDcpStreamReq : op,
                                       .status = static_cast<McbpStatus>(rng() % 3),
                                       .opaque = rng() % 2 ? opaque : static_cast<uint32_t>(rng()),
                                       .value = std::string(rng() % 3 * 8, '\1')});
    } else {
      protocol::AppendRequest(&wire, {.opcode = op,
                                      .vbucket = static_cast<Vbid>(rng() % 3),
                                      .opaque = rng() % 2 ? opaque : static_cast<uint32_t>(rng()),
                                      .extras = extras,
                                      .key = rng() % 2 ? "k" : "",
                                      .value = rng() % 2 ? "v" : ""});
      const protocol::Frame f = protocol::DecodeFrame(wire, 1u << 30).frame;
      if (!protocol::ValidateRequest(f, {.dcp_delete_v2 = true}).ok()) continue;
    }
    ++taken;
    const Status s = Feed(wire);
    if (!s.ok()) Make();  // the connection would close: a new one
    out_.clear();
  }
  EXPECT_GT(taken, 100);
}

TEST(BufferAckerTest, AcksAQuarterOrWhenIdleAndNothingAboveTheThreshold) {
  BufferAcker acker(/*buffer_size=*/100, /*throttle_mem_bytes=*/1000);
  EXPECT_EQ(acker.Take(0, /*idle=*/true), 0u);  // nothing applied
  acker.Add(10);
  EXPECT_EQ(acker.Take(0, /*idle=*/false), 0u);  // below a quarter of the buffer
  bool throttled = false;
  EXPECT_EQ(acker.Take(1001, /*idle=*/true, &throttled), 0u);  // over the memory threshold
  EXPECT_TRUE(throttled);
  acker.Add(15);
  EXPECT_EQ(acker.Take(0, /*idle=*/false), 25u);  // a quarter reached
  acker.Add(3);
  EXPECT_EQ(acker.Take(-5, /*idle=*/true), 3u);  // idle: everything
  EXPECT_EQ(acker.pending(), 0u);
}

TEST(ConsumerControlsTest, ConsumerNameOnlyWhenGiven) {
  const auto unnamed = ConsumerControls({.noop_interval_seconds = 7, .buffer_size = 4096});
  ASSERT_EQ(unnamed.size(), 6u);
  EXPECT_EQ(unnamed[0], (std::pair<std::string, std::string>{"enable_noop", "true"}));
  EXPECT_EQ(unnamed[1].second, "7");
  EXPECT_EQ(unnamed[3].second, "4096");
  EXPECT_EQ(ConsumerControls({.consumer_name = "n"}).front().second, "n");
  EXPECT_EQ(SilenceLimit(2), std::chrono::milliseconds(8000));
}

}  // namespace
}  // namespace sluice::replication
