// The DCP consumer connection between real sluiced processes (docs/replication.md, "The consumer
// connection"): the test plays ns_server's dcp proxy. It opens a producer connection to node A and
// a consumer connection to node B (whose vbucket 0 is a replica), sends ADD_STREAM to B, and a
// relay thread carries what B sends (its controls, stream request, buffer acknowledgements,
// answers) to A and what A sends (answers, snapshot markers, mutations, deletions, noops) back to
// B. Keys written on A must then be readable on B through GET_REPLICA with A's CAS, and B's
// vbucket must have A's high seqno and failover log. Then CLOSE_STREAM, and a message a consumer
// does not take, which closes the connection with a log line.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "protocol/byte_order.h"
#include "protocol/dcp_codec.h"
#include "protocol/encode.h"
#include "testing/dcp_wire_util.h"

namespace sluice::testing {
namespace {

using protocol::McbpStatus;
using protocol::Opcode;

constexpr uint32_t kConsumerVbuckets = 4;
constexpr Vbid kVb = 0;
// Opaques of the requests the proxy itself sends: their answers are the proxy's, not relayed.
constexpr uint32_t kProxyOpaque = 0xf0000000;

std::unique_ptr<client::Connection> ConnectTo(const ServerProcess& server) {
  client::ConnectOptions options;
  options.num_vbuckets = kConsumerVbuckets;
  auto conn = client::Connection::Connect(server.host(), server.port(), options);
  if (!conn.ok()) return nullptr;
  if (!(*conn)->Hello("consumer-it", DefaultFeatures()).ok()) return nullptr;
  if (!(*conn)->Authenticate(ServerProcess::kUser, ServerProcess::kPassword, "PLAIN").ok()) {
    return nullptr;
  }
  if (!(*conn)->SelectBucket("default").ok()) return nullptr;
  return std::move(*conn);
}

std::unique_ptr<RawDcpClient> OpenDcp(const ServerProcess& server, uint32_t flags,
                                      std::string_view json_value = {}) {
  auto raw = RawDcpClient::Connect(server.host(), server.port());
  if (!raw.ok()) return nullptr;
  if (!(*raw)->Authenticate(ServerProcess::kUser, ServerProcess::kPassword).ok()) return nullptr;
  if (Status s = (*raw)->DcpOpen("replication:a->b:default", flags, json_value); !s.ok()) {
    ADD_FAILURE() << "DCP_OPEN: " << s.ToString();
    return nullptr;
  }
  return std::move(*raw);
}

// ns_server's proxy: relays between a producer connection (to A) and a consumer connection (to
// B) on a thread of its own. Answers to the proxy's own requests (opaques from kProxyOpaque) and
// B's ADD_STREAM answers are kept for the test instead of relayed.
class Relay {
 public:
  Relay(std::unique_ptr<RawDcpClient> producer, std::unique_ptr<RawDcpClient> consumer)
      : producer_(std::move(producer)), consumer_(std::move(consumer)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Relay() {
    stop_.store(true);
    thread_.join();
  }

  // Queues a request of the proxy's own for B or A.
  void ToConsumer(std::string wire) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    to_consumer_.push_back(std::move(wire));
  }
  void ToProducer(std::string wire) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    to_producer_.push_back(std::move(wire));
  }
  // Waits for a kept answer with this opcode and opaque.
  std::optional<OwnedFrame> Await(Opcode op, uint32_t opaque) EXCLUDES(mu_) {
    std::optional<OwnedFrame> found;
    PollUntil([&] {
      MutexLock lock(&mu_);
      for (auto it = kept_.begin(); it != kept_.end(); ++it) {
        if (it->frame().client_opcode() == op && it->frame().opaque == opaque) {
          found = std::move(*it);
          kept_.erase(it);
          return true;
        }
      }
      return false;
    });
    return found;
  }
  // Why a side stopped (empty while both run).
  std::string ended() EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return ended_;
  }
  uint64_t relayed() const { return relayed_.load(); }

 private:
  void Run() {
    while (!stop_.load()) {
      Flush(*consumer_, /*to_consumer=*/true);
      Flush(*producer_, /*to_consumer=*/false);
      if (!Pass(*consumer_, *producer_, /*from_consumer=*/true)) return;
      if (!Pass(*producer_, *consumer_, /*from_consumer=*/false)) return;
    }
  }
  void Flush(RawDcpClient& to, bool to_consumer) EXCLUDES(mu_) {
    std::vector<std::string> wires;
    {
      MutexLock lock(&mu_);
      wires.swap(to_consumer ? to_consumer_ : to_producer_);
    }
    for (const auto& wire : wires) EXPECT_TRUE(to.Send(wire).ok());
  }
  // Moves what `from` sent within a few ms; false once `from` closed.
  bool Pass(RawDcpClient& from, RawDcpClient& to, bool from_consumer) EXCLUDES(mu_) {
    for (int i = 0; i < 256; ++i) {
      StatusOr<std::optional<OwnedFrame>> f = from.Read(std::chrono::milliseconds(i == 0 ? 5 : 0));
      if (!f.ok()) {
        MutexLock lock(&mu_);
        ended_ = fmt::format("{} closed: {}", from_consumer ? "consumer" : "producer",
                             f.status().ToString());
        return false;
      }
      if (!f->has_value()) return true;
      const protocol::Frame frame = (*f)->frame();
      const bool ours = frame.is_response() && (frame.opaque >= kProxyOpaque ||
                                                frame.client_opcode() == Opcode::kDcpAddStream);
      if (ours) {
        MutexLock lock(&mu_);
        kept_.push_back(std::move(**f));
        continue;
      }
      if (!to.Send((*f)->bytes).ok()) return false;
      relayed_.fetch_add(1);
    }
    return true;
  }

  std::unique_ptr<RawDcpClient> producer_;
  std::unique_ptr<RawDcpClient> consumer_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> relayed_{0};
  Mutex mu_;
  std::vector<std::string> to_consumer_ GUARDED_BY(mu_);
  std::vector<std::string> to_producer_ GUARDED_BY(mu_);
  std::vector<OwnedFrame> kept_ GUARDED_BY(mu_);
  std::string ended_ GUARDED_BY(mu_);
  std::thread thread_;  // last: started once everything above is initialised
};

std::string AddStream(Vbid vb, uint32_t opaque) {
  std::string wire;
  const std::string flags(4, '\0');
  protocol::AppendRequest(
      &wire, {.opcode = Opcode::kDcpAddStream, .vbucket = vb, .opaque = opaque, .extras = flags});
  return wire;
}

class DcpConsumerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (auto* node : {&a_, &b_}) {
      ServerOptions options;
      options.extra_args = {"--vbuckets", std::to_string(kConsumerVbuckets)};
      options.log_level = "info";
      *node = std::make_unique<ServerProcess>(options);
      ASSERT_TRUE((*node)->Start()) << (*node)->error();
    }
    writer_ = ConnectTo(*a_);
    reader_ = ConnectTo(*b_);
    ASSERT_NE(writer_, nullptr);
    ASSERT_NE(reader_, nullptr);
    ASSERT_TRUE(reader_->SetVBucket(kVb, VBucketState::kReplica).ok());
  }
  void TearDown() override {
    relay_.reset();
    for (ServerProcess* s : {a_.get(), b_.get()}) {
      if (s == nullptr || !s->running()) continue;
      EXPECT_TRUE(s->Alive()) << "a node crashed";
      EXPECT_EQ(s->Stop(), 0);
      EXPECT_EQ(s->Log().find("Sanitizer"), std::string::npos) << "sanitizer report";
    }
  }
  // The proxy's two connections, relayed.
  void StartRelay() {
    constexpr uint32_t kFlags =
        protocol::kDcpOpenIncludeXattrs | protocol::kDcpOpenIncludeDeleteTimes;
    auto producer = OpenDcp(*a_, protocol::kDcpOpenProducer | kFlags);
    auto consumer = OpenDcp(*b_, kFlags, R"({"consumer_name":"b"})");
    ASSERT_NE(producer, nullptr);
    ASSERT_NE(consumer, nullptr);
    relay_ = std::make_unique<Relay>(std::move(producer), std::move(consumer));
  }
  // Writes n keys of vbucket 0 on A; returns their CAS by key.
  std::map<std::string, uint64_t> Write(int n, std::string_view prefix) {
    std::map<std::string, uint64_t> cas;
    for (int i = 0; i < n; ++i) {
      const std::string key = KeyInVbucket(prefix, kVb, kConsumerVbuckets, &next_key_);
      auto r = writer_->Set(key, fmt::format("value of {}", key));
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (r.ok()) cas[key] = r->cas;
    }
    return cas;
  }
  StatusOr<client::Response> GetReplica(const std::string& key) {
    return reader_->Execute({.opcode = Opcode::kGetReplica, .vbucket = kVb, .key = key});
  }
  // Whether every key reads on B through GET_REPLICA with A's CAS.
  bool OnReplica(const std::map<std::string, uint64_t>& cas) {
    for (const auto& [key, c] : cas) {
      auto r = GetReplica(key);
      if (!r.ok() || r->status != McbpStatus::kSuccess || r->cas != c ||
          r->value != fmt::format("value of {}", key)) {
        return false;
      }
    }
    return true;
  }
  uint64_t HighSeqno(const ServerProcess& server) {
    auto conn = ConnectTo(server);
    if (conn == nullptr) return ~uint64_t{0};
    auto stats = FetchStats(*conn, "vbucket-seqno");
    if (!stats.ok()) return ~uint64_t{0};
    return StatU64(*stats, fmt::format("vb_{}:high_seqno", kVb)).value_or(~uint64_t{0});
  }
  // ADD_STREAM on B, answered: its status, and the stream's opaque in the extras.
  std::pair<McbpStatus, uint32_t> Add(Vbid vb, uint32_t opaque) {
    relay_->ToConsumer(AddStream(vb, opaque));
    auto answer = relay_->Await(Opcode::kDcpAddStream, opaque);
    if (!answer.has_value()) {
      ADD_FAILURE() << "no ADD_STREAM answer; relay: " << relay_->ended();
      return {McbpStatus::kEinternal, 0};
    }
    const protocol::Frame f = answer->frame();
    return {f.status(), f.extras.size() == 4 ? protocol::LoadBe32(f.extras.data()) : 0};
  }

  std::unique_ptr<ServerProcess> a_;
  std::unique_ptr<ServerProcess> b_;
  std::unique_ptr<client::Connection> writer_;
  std::unique_ptr<client::Connection> reader_;
  std::unique_ptr<Relay> relay_;
  uint32_t next_key_ = 0;
};

TEST_F(DcpConsumerTest, TheProxyModelReplicatesKeysWithTheProducersMetadata) {
  const auto before = Write(20, "early");  // backfilled
  StartRelay();
  ASSERT_NE(relay_, nullptr);
  const auto [status, stream_opaque] = Add(kVb, kProxyOpaque + 1);
  ASSERT_EQ(status, McbpStatus::kSuccess);
  EXPECT_NE(stream_opaque, 0u);
  EXPECT_TRUE(PollUntil([&] { return OnReplica(before); })) << relay_->ended();
  const auto after = Write(30, "late");  // in memory
  EXPECT_TRUE(PollUntil([&] { return OnReplica(after); })) << relay_->ended();
  ASSERT_TRUE(writer_->Delete(after.begin()->first).ok());
  EXPECT_TRUE(PollUntil([&] { return HighSeqno(*b_) == HighSeqno(*a_); }));
  EXPECT_EQ(HighSeqno(*a_), 51u);  // 50 writes and a delete: the producer's seqnos
  auto gone = GetReplica(after.begin()->first);
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(gone->status, McbpStatus::kKeyEnoent);
  auto log_a = writer_->GetFailoverLog(kVb);
  auto log_b = reader_->GetFailoverLog(kVb);
  ASSERT_TRUE(log_a.ok() && log_b.ok());
  EXPECT_EQ(*log_a, *log_b);

  // A stream already there; a vbucket that is not a replica.
  EXPECT_EQ(Add(kVb, kProxyOpaque + 2).first, McbpStatus::kKeyEexists);
  EXPECT_EQ(Add(1, kProxyOpaque + 3).first, McbpStatus::kNotMyVbucket);
  EXPECT_GT(relay_->relayed(), 0u);
  auto dcp_stats = FetchStats(*reader_, "dcp");
  ASSERT_TRUE(dcp_stats.ok());
  EXPECT_EQ(StatU64(*dcp_stats, "ep_dcp_consumer_count"), 1u);
  // The consumer connection is listed with kv_engine's consumer and passive-stream names.
  const std::string conn = "eq_dcpq:replication:a->b:default:";
  EXPECT_EQ((*dcp_stats)[conn + "type"], "consumer") << ::testing::PrintToString(*dcp_stats);
  EXPECT_EQ((*dcp_stats)[conn + "num_streams"], "1");
  const std::string s = fmt::format("{}stream_{}_", conn, kVb);
  EXPECT_EQ((*dcp_stats)[s + "state"], "reading");
  EXPECT_EQ(StatU64(*dcp_stats, s + "opaque"), stream_opaque);
  EXPECT_EQ(StatU64(*dcp_stats, s + "last_received_seqno"), 51u);

  // SET_VBUCKET_STATE over DCP (a kv_engine producer's takeover ends with one; the proxy plays
  // it here): B's vbucket becomes active and takes writes; its stream ends.
  std::string takeover;
  protocol::AppendDcpSetVbucketState(
      &takeover, {.vbucket = kVb, .opaque = stream_opaque, .state = VBucketState::kActive});
  relay_->ToConsumer(takeover);
  EXPECT_TRUE(PollUntil([&] {
    auto r = reader_->Execute({.opcode = Opcode::kGetVbucket, .vbucket = kVb});
    return r.ok() && r->value.size() == 4 &&
           protocol::LoadBe32(r->value.data()) == static_cast<uint32_t>(VBucketState::kActive);
  }));
  auto write = reader_->Set(KeyInVbucket("on_b", kVb, kConsumerVbuckets, &next_key_), "v");
  ASSERT_TRUE(write.ok());
  EXPECT_EQ(write->status, McbpStatus::kSuccess);
  EXPECT_TRUE(relay_->ended().empty()) << relay_->ended();
}

TEST_F(DcpConsumerTest, CloseStreamThenAddAgainResumes) {
  const auto first = Write(10, "first");
  StartRelay();
  ASSERT_NE(relay_, nullptr);
  ASSERT_EQ(Add(kVb, kProxyOpaque + 1).first, McbpStatus::kSuccess);
  ASSERT_TRUE(PollUntil([&] { return OnReplica(first); }));
  std::string close;
  protocol::AppendDcpCloseStream(&close, kVb, kProxyOpaque + 10);
  relay_->ToConsumer(close);
  auto answer = relay_->Await(Opcode::kDcpCloseStream, kProxyOpaque + 10);
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->frame().status(), McbpStatus::kSuccess);
  // The producer's side is the proxy's to close, as ns_server does.
  std::string close_a;
  protocol::AppendDcpCloseStream(&close_a, kVb, kProxyOpaque + 11);
  relay_->ToProducer(close_a);
  ASSERT_TRUE(relay_->Await(Opcode::kDcpCloseStream, kProxyOpaque + 11).has_value());
  relay_->ToConsumer(close);  // again: no stream (v7 status codes were agreed)
  answer = relay_->Await(Opcode::kDcpCloseStream, kProxyOpaque + 10);
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->frame().status(), McbpStatus::kDcpStreamNotFound);

  // Added again, the stream resumes from what B holds.
  const auto second = Write(10, "second");
  ASSERT_EQ(Add(kVb, kProxyOpaque + 12).first, McbpStatus::kSuccess);
  EXPECT_TRUE(PollUntil([&] { return OnReplica(second) && OnReplica(first); }));
  EXPECT_TRUE(PollUntil([&] { return HighSeqno(*b_) == 20; }));
}

TEST_F(DcpConsumerTest, AReplicaAheadOfItsProducerRollsBackBeforeAddStreamIsAnswered) {
  const auto old = Write(20, "old");
  StartRelay();
  ASSERT_NE(relay_, nullptr);
  ASSERT_EQ(Add(kVb, kProxyOpaque + 1).first, McbpStatus::kSuccess);
  ASSERT_TRUE(PollUntil([&] { return OnReplica(old); }));
  relay_.reset();  // the proxy's connections close: so does the consumer

  // A comes back without its data: B holds history A never had.
  ASSERT_EQ(a_->Stop(), 0);
  std::error_code ec;
  std::filesystem::remove_all(a_->data_dir(), ec);
  ASSERT_TRUE(a_->Start()) << a_->error();
  writer_ = ConnectTo(*a_);
  ASSERT_NE(writer_, nullptr);
  const auto fresh = Write(5, "new");
  StartRelay();
  ASSERT_NE(relay_, nullptr);
  // B asks from seqno 20; A answers ROLLBACK(0); B resets the vbucket and asks from 0: only then
  // is ADD_STREAM answered.
  ASSERT_EQ(Add(kVb, kProxyOpaque + 2).first, McbpStatus::kSuccess);
  EXPECT_TRUE(PollUntil([&] { return OnReplica(fresh); })) << relay_->ended();
  EXPECT_TRUE(PollUntil([&] { return HighSeqno(*b_) == 5; }));
  auto gone = GetReplica(old.begin()->first);
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(gone->status, McbpStatus::kKeyEnoent);
  auto stats = FetchStats(*reader_);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(StatU64(*stats, "ep_rollback_resets"), 1u);
}

TEST_F(DcpConsumerTest, AMessageAConsumerDoesNotTakeClosesTheConnection) {
  auto consumer = OpenDcp(*b_, 0);
  ASSERT_NE(consumer, nullptr);
  std::string wire;
  protocol::AppendDcpStreamReq(&wire, {.vbucket = kVb, .opaque = 5});
  ASSERT_TRUE(consumer->Send(wire).ok());
  // Its first control may come first; then the connection closes.
  bool closed = PollUntil([&] { return !consumer->Read(std::chrono::milliseconds(50)).ok(); });
  EXPECT_TRUE(closed);
  EXPECT_TRUE(PollUntil([&] {
    return b_->Log().find("DCP_STREAM_REQ on DCP consumer connection") != std::string::npos;
  }));
  // A consumer's message on a connection that is not one: EINVAL.
  auto plain = ConnectTo(*b_);
  ASSERT_NE(plain, nullptr);
  auto add = plain->Execute(
      {.opcode = Opcode::kDcpAddStream, .vbucket = kVb, .extras = std::string(4, '\0')});
  ASSERT_TRUE(add.ok());
  EXPECT_EQ(add->status, McbpStatus::kEinval);
  // A DCP_OPEN with a producer-only flag is refused; the server lives on.
  auto raw = RawDcpClient::Connect(b_->host(), b_->port());
  ASSERT_TRUE(raw.ok());
  ASSERT_TRUE((*raw)->Authenticate(ServerProcess::kUser, ServerProcess::kPassword).ok());
  EXPECT_EQ((*raw)->DcpOpen("bad", protocol::kDcpOpenNoValue).code(), Errc::kInvalid);
  EXPECT_TRUE(b_->Alive());
}

}  // namespace
}  // namespace sluice::testing
