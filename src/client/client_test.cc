// Client tests against a scripted peer on a socketpair (no server needed): request/response
// matching, pipelining, handshake, KV decoding, timeouts and broken connections.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <memory>
#include <string>
#include <thread>

#include "client/connection.h"
#include "protocol/byte_order.h"
#include "protocol/dcp_codec.h"
#include "protocol/leb128.h"
#include "protocol/payload.h"
#include "sasl/server_session.h"
#include "sasl/users.h"
#include "testing/fake_peer.h"

namespace sluice::client {
namespace {

using protocol::Feature;
using protocol::Frame;
using protocol::McbpStatus;
using protocol::Opcode;

struct Harness {
  explicit Harness(ConnectOptions options = {}) {
    auto [p, socket] = FakePeer::Create();
    peer = std::make_unique<FakePeer>(std::move(p));
    conn = Connection::FromSocket(std::move(socket), options);
  }
  ~Harness() {
    if (script.joinable()) script.join();
  }
  // Runs `fn(peer)` on the script thread.
  template <class Fn>
  void Run(Fn fn) {
    script = std::thread([this, fn] { fn(*peer); });
  }
  void Join() { script.join(); }

  std::unique_ptr<FakePeer> peer;
  std::unique_ptr<Connection> conn;
  std::thread script;
};

ConnectOptions ShortTimeout() {
  ConnectOptions options;
  options.io_timeout = std::chrono::milliseconds(50);
  return options;
}

TEST(ClientTest, ExecuteMatchesOpaqueAndCopiesTheResponse) {
  Harness h;
  h.Run([](FakePeer& peer) {
    const std::string req = peer.ReadFrameBytes();
    const Frame f = ViewFrame(req);
    EXPECT_EQ(f.client_opcode(), Opcode::kVersion);
    peer.Respond(f, McbpStatus::kSuccess, "7.6.0-sluice", {}, {}, 99);
  });
  protocol::RequestFields request;
  request.opcode = Opcode::kVersion;
  auto response = h.conn->Execute(request);
  ASSERT_TRUE(response.ok()) << response.status().ToString();
  EXPECT_TRUE(response->ok());
  EXPECT_EQ(response->opcode, Opcode::kVersion);
  EXPECT_EQ(response->value, "7.6.0-sluice");
  EXPECT_EQ(response->cas, 99u);
  EXPECT_NE(response->opaque, 0u);
}

TEST(ClientTest, UnexpectedOpaqueBreaksTheConnection) {
  Harness h;
  h.Run([](FakePeer& peer) {
    std::string req = peer.ReadFrameBytes();
    Frame f = ViewFrame(req);
    f.opaque += 1000;
    peer.Respond(f, McbpStatus::kSuccess);
  });
  EXPECT_EQ(h.conn->Noop().code(), Errc::kInternal);
  EXPECT_TRUE(h.conn->broken());
  EXPECT_EQ(h.conn->Noop().code(), Errc::kInternal);  // fails fast, no I/O
}

TEST(ClientTest, ReadTimeoutFailsInsteadOfHanging) {
  Harness h(ShortTimeout());
  h.Run([](FakePeer& peer) {
    peer.ReadFrameBytes(); /* and never answer */
  });
  const Status status = h.conn->Noop();
  EXPECT_EQ(status.code(), Errc::kTempFail) << status.ToString();
  EXPECT_TRUE(h.conn->broken());
  h.Join();
  EXPECT_EQ(h.conn->Version().status().code(), Errc::kTempFail);
}

TEST(ClientTest, MalformedFrameFromServer) {
  Harness h;
  h.Run([](FakePeer& peer) {
    peer.ReadFrameBytes();
    peer.Write(std::string(24, '\x42'));
  });
  EXPECT_EQ(h.conn->Noop().code(), Errc::kIoError);
  EXPECT_TRUE(h.conn->broken());
}

TEST(ClientTest, OversizedFrameFromServer) {
  ConnectOptions options;
  options.max_frame_body = 10;
  Harness h(options);
  h.Run([](FakePeer& peer) {
    const std::string req = peer.ReadFrameBytes();
    peer.Respond(ViewFrame(req), McbpStatus::kSuccess, std::string(11, 'v'));
  });
  EXPECT_EQ(h.conn->Version().status().code(), Errc::kIoError);
}

TEST(ClientTest, PeerClosingIsAnIoError) {
  Harness h;
  h.Run([](FakePeer& peer) {
    peer.ReadFrameBytes();
    peer.Close();
  });
  const Status status = h.conn->Noop();
  EXPECT_EQ(status.code(), Errc::kIoError) << status.ToString();
}

TEST(ClientTest, PipelinedRequestsAreAnsweredInOrder) {
  constexpr int kCount = 2000;
  Harness h;
  h.Run([](FakePeer& peer) {
    for (int i = 0; i < kCount; ++i) {
      const std::string req = peer.ReadFrameBytes();
      const Frame f = ViewFrame(req);
      ASSERT_EQ(f.client_opcode(), Opcode::kGet);
      peer.Respond(f, McbpStatus::kSuccess, f.key, std::string(4, '\0'));
    }
  });
  std::vector<uint32_t> opaques;
  std::vector<std::string> keys;
  for (int i = 0; i < kCount; ++i) {
    keys.push_back("key-" + std::to_string(i));
    protocol::RequestFields r;
    r.opcode = Opcode::kGet;
    r.key = keys.back();
    opaques.push_back(h.conn->Enqueue(r));
  }
  EXPECT_GT(h.conn->queued_bytes(), 0u);
  ASSERT_TRUE(h.conn->Flush().ok());
  EXPECT_EQ(h.conn->queued_bytes(), 0u);
  int seen = 0;
  ASSERT_TRUE(h.conn
                  ->ReadResponses(kCount,
                                  [&](const Frame& f) {
                                    EXPECT_EQ(f.opaque, opaques[seen]);
                                    EXPECT_EQ(f.value, keys[seen]);
                                    ++seen;
                                  })
                  .ok());
  EXPECT_EQ(seen, kCount);
}

// A batch far larger than the socket buffers: the server answers each request as it reads it
// and blocks when its replies are not read. Flush must keep reading while it writes.
TEST(ClientTest, HugePipelineDoesNotDeadlock) {
  constexpr int kCount = 20000;
  const std::string value(1000, 'v');
  Harness h;
  h.Run([&value](FakePeer& peer) {
    for (int i = 0; i < kCount; ++i) {
      const std::string req = peer.ReadFrameBytes();
      ASSERT_FALSE(req.empty()) << i;
      peer.Respond(ViewFrame(req), McbpStatus::kSuccess, value);
    }
  });
  for (int i = 0; i < kCount; ++i) {
    protocol::RequestFields r;
    r.opcode = Opcode::kGet;
    r.key = "0123456789abcdef";
    h.conn->Enqueue(r);
  }
  ASSERT_TRUE(h.conn->Flush().ok());
  size_t bytes = 0;
  ASSERT_TRUE(h.conn->ReadResponses(kCount, [&](const Frame& f) { bytes += f.value.size(); }).ok());
  EXPECT_EQ(bytes, kCount * value.size());
}

TEST(ClientTest, QuietRequestsEndWithANoop) {
  Harness h;
  h.Run([](FakePeer& peer) {
    for (int i = 0; i < 4; ++i) {
      const std::string req = peer.ReadFrameBytes();
      const Frame f = ViewFrame(req);
      if (f.client_opcode() == Opcode::kGetkq && f.key == "hit") {
        peer.Respond(f, McbpStatus::kSuccess, "value", std::string(4, '\0'), "hit");
      } else if (f.client_opcode() == Opcode::kNoop) {
        peer.Respond(f, McbpStatus::kSuccess);
      }  // misses stay silent
    }
  });
  for (std::string_view key : {"miss1", "hit", "miss2"}) {
    protocol::RequestFields r;
    r.opcode = Opcode::kGetkq;
    r.key = key;
    h.conn->Enqueue(r);
  }
  protocol::RequestFields noop;
  noop.opcode = Opcode::kNoop;
  const uint32_t last = h.conn->Enqueue(noop);
  ASSERT_TRUE(h.conn->Flush().ok());
  std::vector<std::string> seen;
  ASSERT_TRUE(h.conn
                  ->ReadResponsesUntil(last,
                                       [&](const Frame& f) {
                                         seen.push_back(
                                             std::string(protocol::OpcodeName(f.client_opcode())) +
                                             ":" + std::string(f.key));
                                       })
                  .ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"GETKQ:hit", "NOOP:"}));
}

TEST(ClientTest, HelloRemembersAgreedFeatures) {
  Harness h;
  h.Run([](FakePeer& peer) {
    const std::string req = peer.ReadFrameBytes();
    const Frame f = ViewFrame(req);
    EXPECT_EQ(f.key, "test-agent");
    EXPECT_EQ(protocol::DecodeFeatures(f.value).size(), 3u);
    std::string agreed;
    protocol::AppendFeatures(&agreed, {Feature::kXerror, Feature::kCollections});
    peer.Respond(f, McbpStatus::kSuccess, agreed);
  });
  auto agreed =
      h.conn->Hello("test-agent", {Feature::kXerror, Feature::kCollections, Feature::kDuplex});
  ASSERT_TRUE(agreed.ok());
  EXPECT_EQ(agreed->size(), 2u);
  EXPECT_TRUE(h.conn->HasFeature(Feature::kXerror));
  EXPECT_TRUE(h.conn->HasFeature(Feature::kCollections));
  EXPECT_FALSE(h.conn->HasFeature(Feature::kDuplex));
}

TEST(ClientTest, ListMechsAndSelectBucket) {
  Harness h;
  h.Run([](FakePeer& peer) {
    std::string req = peer.ReadFrameBytes();
    peer.Respond(ViewFrame(req), McbpStatus::kSuccess, "SCRAM-SHA512 SCRAM-SHA256 PLAIN");
    req = peer.ReadFrameBytes();
    EXPECT_EQ(ViewFrame(req).key, "default");
    peer.Respond(ViewFrame(req), McbpStatus::kSuccess);
    req = peer.ReadFrameBytes();
    peer.Respond(ViewFrame(req), McbpStatus::kEaccess);
  });
  auto mechs = h.conn->ListMechs();
  ASSERT_TRUE(mechs.ok());
  EXPECT_EQ(*mechs, (std::vector<std::string>{"SCRAM-SHA512", "SCRAM-SHA256", "PLAIN"}));
  EXPECT_TRUE(h.conn->SelectBucket("default").ok());
  EXPECT_EQ(h.conn->SelectBucket("secret").code(), Errc::kNoAccess);
  EXPECT_FALSE(h.conn->broken());
}

// The peer authenticates with the real server-side SASL code.
void ServeSasl(FakePeer& peer, std::shared_ptr<const sasl::UserDatabase> users) {
  sasl::ServerSession session(users);
  while (true) {
    const std::string req = peer.ReadFrameBytes();
    if (req.empty()) return;
    const Frame f = ViewFrame(req);
    const sasl::AuthStep step = f.client_opcode() == Opcode::kSaslAuth
                                    ? session.Start(f.key, f.value)
                                    : session.Step(f.value);
    switch (step.result) {
      case sasl::AuthResult::kContinue:
        peer.Respond(f, McbpStatus::kAuthContinue, step.response);
        break;
      case sasl::AuthResult::kOk:
        peer.Respond(f, McbpStatus::kSuccess, step.response);
        return;
      case sasl::AuthResult::kError:
        peer.Respond(f, McbpStatus::kAuthError);
        return;
    }
  }
}

std::shared_ptr<const sasl::UserDatabase> TestUsers() {
  auto users =
      sasl::UserDatabase::Parse(R"({"users":[{"name":"alice","password":"s3cret"}]})", "test");
  EXPECT_TRUE(users.ok()) << users.status().ToString();
  return std::shared_ptr<const sasl::UserDatabase>(std::move(users).value());
}

TEST(ClientTest, AuthenticateWithEveryMechanism) {
  const auto users = TestUsers();
  for (std::string_view mech : {"PLAIN", "SCRAM-SHA1", "SCRAM-SHA256", "SCRAM-SHA512"}) {
    Harness h;
    h.Run([users](FakePeer& peer) { ServeSasl(peer, users); });
    const Status status = h.conn->Authenticate("alice", "s3cret", mech);
    EXPECT_TRUE(status.ok()) << mech << ": " << status.ToString();
  }
}

TEST(ClientTest, AuthenticateWithWrongPassword) {
  const auto users = TestUsers();
  for (std::string_view mech : {"PLAIN", "SCRAM-SHA256"}) {
    Harness h;
    h.Run([users](FakePeer& peer) { ServeSasl(peer, users); });
    EXPECT_EQ(h.conn->Authenticate("alice", "wrong", mech).code(), Errc::kAuthError) << mech;
    EXPECT_FALSE(h.conn->broken());
  }
  Harness h;
  EXPECT_EQ(h.conn->Authenticate("alice", "x", "CRAM-MD5").code(), Errc::kInvalid);
}

TEST(ClientTest, KvHelpersEncodeAndDecode) {
  ConnectOptions options;
  options.num_vbuckets = 64;
  Harness h(options);
  h.Run([](FakePeer& peer) {
    // HELLO: agree Collections + MutationSeqno.
    std::string req = peer.ReadFrameBytes();
    std::string agreed;
    protocol::AppendFeatures(&agreed, {Feature::kCollections, Feature::kMutationSeqno});
    peer.Respond(ViewFrame(req), McbpStatus::kSuccess, agreed);

    // SET with durability: key prefixed, flags/expiry extras, mutation token back.
    req = peer.ReadFrameBytes();
    Frame f = ViewFrame(req);
    EXPECT_EQ(f.client_opcode(), Opcode::kSet);
    EXPECT_EQ(f.magic, protocol::Magic::kAltClientRequest);
    EXPECT_EQ(f.key, std::string_view("\0hello", 6));
    EXPECT_EQ(f.vbucket(), 16);  // "hello" with 64 vbuckets -> 16 (the CRC32 vbucket mapping)
    EXPECT_EQ(protocol::LoadBe32(f.extras.data()), 0x02000000u);
    EXPECT_EQ(protocol::LoadBe32(f.extras.data() + 4), 30u);
    EXPECT_EQ(f.value, "{}");
    auto infos = protocol::ParseRequestFrameInfos(f.framing_extras);
    EXPECT_TRUE(infos.ok() && infos->durability);
    std::string token;
    protocol::AppendMutationTokenExtras(&token, 0xabcd, 12);
    peer.Respond(f, McbpStatus::kSuccess, {}, token, {}, 555);

    // GET hit: flags in extras.
    req = peer.ReadFrameBytes();
    f = ViewFrame(req);
    EXPECT_EQ(f.client_opcode(), Opcode::kGet);
    EXPECT_EQ(f.key, std::string_view("\x08k", 2));
    EXPECT_EQ(f.vbucket(), 3);
    std::string flags;
    protocol::AppendBe32(&flags, 0x01020304);
    peer.Respond(f, McbpStatus::kSuccess, "value", flags, {}, 777, 1);

    // GET miss.
    req = peer.ReadFrameBytes();
    peer.Respond(ViewFrame(req), McbpStatus::kKeyEnoent, "Not found");

    // INCREMENT: extras, counter value.
    req = peer.ReadFrameBytes();
    f = ViewFrame(req);
    EXPECT_EQ(f.extras.size(), 20u);
    EXPECT_EQ(protocol::LoadBe64(f.extras.data()), 5u);
    EXPECT_EQ(protocol::LoadBe64(f.extras.data() + 8), 10u);
    std::string counter;
    protocol::AppendBe64(&counter, 15);
    peer.Respond(f, McbpStatus::kSuccess, counter, token);

    // TOUCH and DELETE.
    req = peer.ReadFrameBytes();
    f = ViewFrame(req);
    EXPECT_EQ(f.client_opcode(), Opcode::kTouch);
    EXPECT_EQ(protocol::LoadBe32(f.extras.data()), 100u);
    peer.Respond(f, McbpStatus::kSuccess);
    req = peer.ReadFrameBytes();
    f = ViewFrame(req);
    EXPECT_EQ(f.client_opcode(), Opcode::kDelete);
    EXPECT_EQ(f.cas, 555u);
    peer.Respond(f, McbpStatus::kKeyEexists);
  });
  ASSERT_TRUE(h.conn->Hello("kv", {Feature::kCollections, Feature::kMutationSeqno}).ok());

  MutationOptions set_options;
  set_options.flags = 0x02000000;
  set_options.expiry = 30;
  set_options.datatype = 1;
  set_options.durability = protocol::DurabilityRequirement{};
  auto set = h.conn->Set("hello", "{}", set_options);
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_TRUE(set->ok());
  EXPECT_EQ(set->cas, 555u);
  ASSERT_TRUE(set->token);
  EXPECT_EQ(set->token->vbucket, 16);
  EXPECT_EQ(set->token->vbucket_uuid, 0xabcdu);
  EXPECT_EQ(set->token->seqno, 12u);

  auto get = h.conn->Get("k", {.vbucket = 3, .collection_id = 8});
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->value, "value");
  EXPECT_EQ(get->flags, 0x01020304u);
  EXPECT_EQ(get->cas, 777u);
  EXPECT_EQ(get->datatype, 1);

  auto miss = h.conn->Get("nope");
  ASSERT_TRUE(miss.ok());
  EXPECT_EQ(miss->status, McbpStatus::kKeyEnoent);
  EXPECT_EQ(miss->value, "Not found");

  auto incr = h.conn->Increment("counter", 5, {.initial = 10});
  ASSERT_TRUE(incr.ok());
  EXPECT_EQ(incr->counter, 15u);
  EXPECT_TRUE(incr->token);

  auto touch = h.conn->Touch("k", 100);
  ASSERT_TRUE(touch.ok());
  EXPECT_TRUE(touch->ok());
  MutationOptions del;
  del.cas = 555;
  auto deleted = h.conn->Delete("k", del);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->status, McbpStatus::kKeyEexists);
  EXPECT_FALSE(h.conn->broken());
}

TEST(ClientTest, AdminHelpers) {
  Harness h;
  h.Run([](FakePeer& peer) {
    // STAT: three packets plus the terminator.
    std::string req = peer.ReadFrameBytes();
    Frame f = ViewFrame(req);
    EXPECT_EQ(f.key, "vbucket-seqno");
    peer.Respond(f, McbpStatus::kSuccess, "1", {}, "vb_0:high_seqno");
    peer.Respond(f, McbpStatus::kSuccess, "2", {}, "vb_1:high_seqno");
    peer.Respond(f, McbpStatus::kSuccess);
    // GET_VBUCKET
    req = peer.ReadFrameBytes();
    f = ViewFrame(req);
    EXPECT_EQ(f.vbucket(), 7);
    std::string state;
    protocol::AppendBe32(&state, 2);
    peer.Respond(f, McbpStatus::kSuccess, state);
    // SET_VBUCKET
    req = peer.ReadFrameBytes();
    f = ViewFrame(req);
    EXPECT_EQ(f.extras, std::string_view("\x01", 1));
    peer.Respond(f, McbpStatus::kSuccess);
    // GET_ALL_VB_SEQNOS
    req = peer.ReadFrameBytes();
    f = ViewFrame(req);
    EXPECT_EQ(f.extras.size(), 4u);
    std::string seqnos;
    protocol::AppendVbSeqnoEntry(&seqnos, 0, 5);
    protocol::AppendVbSeqnoEntry(&seqnos, 1, 6);
    peer.Respond(f, McbpStatus::kSuccess, seqnos);
    // GET_FAILOVER_LOG
    req = peer.ReadFrameBytes();
    std::string log;
    protocol::AppendFailoverLog(&log, {{1, 10}, {2, 0}});
    peer.Respond(ViewFrame(req), McbpStatus::kSuccess, log);
    // OBSERVE_SEQNO
    req = peer.ReadFrameBytes();
    f = ViewFrame(req);
    EXPECT_EQ(protocol::LoadBe64(f.value.data()), 0x1234u);
    std::string observe;
    protocol::AppendObserveSeqnoReply(&observe, {false, 4, 0x1234, 8, 9, 0, 0});
    peer.Respond(f, McbpStatus::kSuccess, observe);
    // GET_ERROR_MAP
    req = peer.ReadFrameBytes();
    f = ViewFrame(req);
    EXPECT_EQ(protocol::LoadBe16(f.value.data()), 2);
    peer.Respond(f, McbpStatus::kSuccess, "{\"version\":2}", {}, {}, 0, 1);
    // GET_CLUSTER_CONFIG with a known version, answered NoBucket.
    req = peer.ReadFrameBytes();
    f = ViewFrame(req);
    EXPECT_EQ(f.extras.size(), 16u);
    peer.Respond(f, McbpStatus::kNoBucket);
  });
  auto stats = h.conn->Stats("vbucket-seqno");
  ASSERT_TRUE(stats.ok());
  ASSERT_EQ(stats->size(), 2u);
  EXPECT_EQ((*stats)[1], (std::pair<std::string, std::string>("vb_1:high_seqno", "2")));
  EXPECT_EQ(*h.conn->GetVBucket(7), VBucketState::kReplica);
  EXPECT_TRUE(h.conn->SetVBucket(3, VBucketState::kActive).ok());
  auto seqnos = h.conn->GetAllVbSeqnos(protocol::AllVbSeqnosFilter{1, std::nullopt});
  ASSERT_TRUE(seqnos.ok());
  EXPECT_EQ(seqnos->size(), 2u);
  auto log = h.conn->GetFailoverLog(0);
  ASSERT_TRUE(log.ok());
  EXPECT_EQ(log->front().vbucket_uuid, 1u);
  auto observe = h.conn->ObserveSeqno(4, 0x1234);
  ASSERT_TRUE(observe.ok());
  EXPECT_EQ(observe->current_seqno, 9u);
  auto map = h.conn->GetErrorMap(2);
  ASSERT_TRUE(map.ok());
  EXPECT_EQ(map->value, "{\"version\":2}");
  auto config = h.conn->GetClusterConfig(protocol::ClusterConfigVersion{1, 2});
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->status, McbpStatus::kNoBucket);
}

TEST(ClientTest, ConnectsOverLoopbackTcp) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const uint16_t port = ntohs(addr.sin_port);

  std::thread server([listener] {
    const int fd = ::accept(listener, nullptr, nullptr);
    ASSERT_GE(fd, 0);
    Socket sock(fd);
    char buf[64];
    size_t got = 0;
    while (got < protocol::kHeaderSize) {
      auto n = sock.ReadSome(buf + got, sizeof(buf) - got, std::chrono::seconds(10));
      ASSERT_TRUE(n.ok());
      got += *n;
    }
    const Frame f = protocol::DecodeFrame(buf, got, 1024).frame;
    std::string out;
    protocol::ResponseFields r;
    r.opcode = Opcode::kVersion;
    r.opaque = f.opaque;
    r.value = "tcp-ok";
    protocol::AppendResponse(&out, r);
    auto w = sock.WriteSome(out);
    ASSERT_TRUE(w.ok());
    EXPECT_EQ(*w, out.size());
    // Wait for the client to close so the response is not cut off.
    sock.ReadSome(buf, sizeof(buf), std::chrono::seconds(10)).status().IgnoreError();
  });
  auto conn = Connection::Connect("127.0.0.1", port);
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  auto version = (*conn)->Version();
  ASSERT_TRUE(version.ok()) << version.status().ToString();
  EXPECT_EQ(*version, "tcp-ok");
  conn->reset();
  server.join();
  ::close(listener);
}

TEST(ClientTest, ConnectRefused) {
  // Bind a port, then close it: nothing listens there any more.
  const int probe = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(probe, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::getsockname(probe, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(probe);
  auto conn = Connection::Connect("127.0.0.1", ntohs(addr.sin_port));
  EXPECT_EQ(conn.status().code(), Errc::kIoError) << conn.status().ToString();
}

}  // namespace
}  // namespace sluice::client
