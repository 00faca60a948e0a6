// Integration: malformed input. A frame that can still be delimited gets EINVAL and the
// connection goes on; a stream that cannot (unknown magic, a body over max_packet_size) is
// closed. Truncated frames, byte-by-byte frames and 100 connections of random garbage must leave
// the server serving everyone else, with its connection count back where it was — and the server
// must still exit 0 on SIGTERM (checked by the fixture after every test).
#include <random>
#include <thread>

#include "client/socket.h"
#include "protocol/byte_order.h"
#include "protocol/encode.h"
#include "protocol/payload.h"
#include "sasl/scram_client.h"
#include "testing/wire_util.h"

namespace sluice::testing {
namespace {

using protocol::Feature;
using protocol::McbpStatus;
using protocol::Opcode;

constexpr uint32_t kMaxPacket =
    1 << 20;  // --set max_packet_size=1M (max_item_size may not be more)

// A 24-byte header with arbitrary (possibly inconsistent) fields.
std::string Header(uint8_t magic, uint8_t opcode, uint16_t keylen, uint8_t extlen, uint32_t bodylen,
                   uint32_t opaque, uint8_t datatype = 0, uint16_t vbucket = 0) {
  std::string h(protocol::kHeaderSize, '\0');
  h[0] = static_cast<char>(magic);
  h[1] = static_cast<char>(opcode);
  protocol::StoreBe16(h.data() + 2, keylen);
  h[4] = static_cast<char>(extlen);
  h[5] = static_cast<char>(datatype);
  protocol::StoreBe16(h.data() + 6, vbucket);
  protocol::StoreBe32(h.data() + 8, bodylen);
  protocol::StoreBe32(h.data() + 12, opaque);
  return h;
}

class MalformedTest : public SluicedTest {
 protected:
  ServerOptions Options() const override {
    ServerOptions options = SluicedTest::Options();
    options.extra_args.insert(options.extra_args.end(),
                              {"--set", "max_packet_size=1M", "--set", "max_item_size=1M"});
    return options;
  }

  void SetUp() override {
    SluicedTest::SetUp();
    if (HasFatalFailure()) return;
    monitor_ = Connect();
    ASSERT_NE(monitor_, nullptr);
    baseline_ = CurrConnections();
    ASSERT_GE(baseline_, 1u);
  }

  uint64_t CurrConnections() {
    auto stats = FetchStats(*monitor_);
    EXPECT_TRUE(stats.ok()) << stats.status().ToString();
    return stats.ok() ? StatU64(*stats, "curr_connections").value_or(0) : 0;
  }

  // The server closed `conn`: reading ends in end-of-stream (or a reset), not a timeout.
  void ExpectClosed(client::Connection& conn, const std::string& what) {
    auto f = conn.ReadFrame();
    ASSERT_FALSE(f.ok()) << what << ": the server answered instead of closing";
    EXPECT_EQ(f.status().code(), Errc::kIoError) << what << ": " << f.status().ToString();
  }

  // The server still serves: a fresh authenticated client can write and read, and every
  // connection the test opened (and closed) is gone again.
  void ExpectServerHealthy() {
    auto fresh = Connect();
    ASSERT_NE(fresh, nullptr);
    auto set = Must(fresh->Set("health", "ok"));
    EXPECT_EQ(set.status, McbpStatus::kSuccess);
    EXPECT_EQ(Must(fresh->Get("health")).value, "ok");
    fresh.reset();
    uint64_t now = 0;
    EXPECT_TRUE(PollUntil([&] { return (now = CurrConnections()) == baseline_; }))
        << "curr_connections " << now << ", baseline " << baseline_;
    EXPECT_TRUE(server().Alive());
  }

  std::unique_ptr<client::Connection> monitor_;
  uint64_t baseline_ = 0;
};

TEST_F(MalformedTest, TruncatedFramesThenClose) {
  {
    auto conn = ConnectRaw();
    ASSERT_NE(conn, nullptr);
    ASSERT_TRUE(conn->SendRaw(Header(0x80, 0x0a, 0, 0, 0, 1).substr(0, 10)).ok());
  }  // closed mid-header
  {
    auto conn = Connect();
    ASSERT_NE(conn, nullptr);
    std::string frame = Header(0x80, 0x01, 3, 8, 8 + 3 + 100, 2) + std::string(8, '\0') + "key";
    ASSERT_TRUE(conn->SendRaw(frame + std::string(40, 'v')).ok());
  }  // closed mid-body
  {
    auto conn = ConnectRaw();
    ASSERT_NE(conn, nullptr);
    ASSERT_TRUE(conn->SendRaw(Header(0x80, 0x0a, 0, 0, 0, 1).substr(0, 23)).ok());
    conn->ShutdownWrite();
    ExpectClosed(*conn, "half-closed mid-header");
  }
  ExpectServerHealthy();
}

TEST_F(MalformedTest, LengthsThatDoNotAddUpAreEinvalAndTheConnectionContinues) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  // extras (8) + key (10) > body (5): the frame is delimited by its body length, so it can be
  // skipped.
  std::string bytes = Header(0x80, 0x01, 10, 8, 5, 0x1111) + "12345";
  // The same with flexible framing: framing extras longer than the body.
  std::string alt = Header(0x08, 0x00, 0, 0, 4, 0x2222);
  alt[2] = 9;  // framing extras length
  alt[3] = 0;  // key length
  bytes += alt + "abcd";
  protocol::AppendRequest(&bytes, {.opcode = Opcode::kNoop, .opaque = 0x3333});
  ASSERT_TRUE(conn->SendRaw(bytes).ok());
  for (uint32_t opaque : {0x1111u, 0x2222u}) {
    auto f = conn->ReadFrame();
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    EXPECT_EQ(f->opaque, opaque);
    EXPECT_EQ(f->status(), McbpStatus::kEinval);
  }
  auto noop = conn->ReadFrame();
  ASSERT_TRUE(noop.ok());
  EXPECT_EQ(noop->opaque, 0x3333u);
  EXPECT_EQ(noop->status(), McbpStatus::kSuccess);
  // Still a normal connection.
  EXPECT_EQ(Must(conn->Set("after-einval", "v")).status, McbpStatus::kSuccess);
  EXPECT_EQ(Must(conn->Get("after-einval")).value, "v");
  conn.reset();
  ExpectServerHealthy();
}

TEST_F(MalformedTest, BadExtrasAndKeysAreEinval) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  struct Case {
    const char* what;
    Opcode opcode;
    std::string extras;
    std::string key;
    std::string value;
  };
  const std::vector<Case> cases = {
      {"SET with 3 bytes of extras", Opcode::kSet, "abc", "k", "v"},
      {"SET without extras", Opcode::kSet, "", "k", "v"},
      {"SET with 12 bytes of extras", Opcode::kSet, std::string(12, '\0'), "k", "v"},
      {"GET with extras", Opcode::kGet, std::string(4, '\0'), "k", ""},
      {"GET without a key", Opcode::kGet, "", "", ""},
      {"GET with a value", Opcode::kGet, "", "k", "v"},
      {"INCR with SET extras", Opcode::kIncrement, std::string(8, '\0'), "k", ""},
      {"TOUCH without extras", Opcode::kTouch, "", "k", ""},
      {"NOOP with a key", Opcode::kNoop, "", "k", ""},
      {"HELLO with an odd value", Opcode::kHello, "", "agent", "abc"},
      {"GET_ERROR_MAP without a version", Opcode::kGetErrorMap, "", "", ""},
      {"SET_VBUCKET without a state", Opcode::kSetVbucket, "", "", ""},
  };
  for (const Case& c : cases) {
    auto r =
        conn->Execute({.opcode = c.opcode, .extras = c.extras, .key = c.key, .value = c.value});
    ASSERT_TRUE(r.ok()) << c.what << ": " << r.status().ToString();
    EXPECT_EQ(r->status, McbpStatus::kEinval) << c.what;
  }
  EXPECT_EQ(Must(conn->Get("k")).status, McbpStatus::kKeyEnoent) << "nothing was stored";
  EXPECT_TRUE(conn->Noop().ok());
  conn.reset();
  ExpectServerHealthy();
}

TEST_F(MalformedTest, UnknownMagicClosesTheConnection) {
  for (uint8_t magic : {0x00, 0x42, 0x7f, 0xff, 0x19}) {
    auto conn = Connect();
    ASSERT_NE(conn, nullptr);
    ASSERT_TRUE(conn->SendRaw(Header(magic, 0x0a, 0, 0, 0, 1)).ok());
    ExpectClosed(*conn, "magic " + std::to_string(magic));
  }
  ExpectServerHealthy();
}

TEST_F(MalformedTest, BodyOverMaxPacketSizeClosesTheConnection) {
  // Exactly the limit is accepted.
  {
    auto conn = Connect();
    ASSERT_NE(conn, nullptr);
    const std::string key = "at-limit";
    std::string extras;
    protocol::AppendMutationExtras(&extras, {0, 0});
    const std::string value(kMaxPacket - extras.size() - key.size(), 'm');
    auto r = conn->Execute({.opcode = Opcode::kSet,
                            .vbucket = VBucketForKey(key, vbuckets()),
                            .extras = extras,
                            .key = key,
                            .value = value});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, McbpStatus::kSuccess);
  }
  // One byte more is refused before the body is read: the header alone closes it.
  for (uint32_t body : {kMaxPacket + 1, 0x7fffffffu, 0xffffffffu}) {
    auto conn = Connect();
    ASSERT_NE(conn, nullptr);
    ASSERT_TRUE(conn->SendRaw(Header(0x80, 0x01, 3, 8, body, 7)).ok());
    ExpectClosed(*conn, "body " + std::to_string(body));
  }
  ExpectServerHealthy();
}

TEST_F(MalformedTest, ResponseMagicsFromAClientAreIgnored) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  std::string bytes = Header(0x81, 0x0a, 0, 0, 0, 1) + Header(0x83, 0x01, 0, 0, 0, 2);
  protocol::AppendRequest(&bytes, {.opcode = Opcode::kNoop, .opaque = 3});
  ASSERT_TRUE(conn->SendRaw(bytes).ok());
  auto f = conn->ReadFrame();
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->opaque, 3u) << "only the NOOP is answered";
  conn.reset();
  ExpectServerHealthy();
}

TEST_F(MalformedTest, FramesArrivingOneByteAtATime) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  std::string bytes;
  std::string extras;
  protocol::AppendMutationExtras(&extras, {5, 0});
  const std::string key = "dribble";
  const Vbid vb = VBucketForKey(key, vbuckets());
  protocol::AppendRequest(&bytes, {.opcode = Opcode::kSet,
                                   .vbucket = vb,
                                   .opaque = 1,
                                   .extras = extras,
                                   .key = key,
                                   .value = "slowly"});
  protocol::AppendRequest(&bytes, {.opcode = Opcode::kGet, .vbucket = vb, .opaque = 2, .key = key});
  for (char c : bytes) ASSERT_TRUE(conn->SendRaw(std::string_view(&c, 1)).ok());
  auto set = conn->ReadFrame();
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->opaque, 1u);
  EXPECT_EQ(set->status(), McbpStatus::kSuccess);
  auto get = conn->ReadFrame();
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->opaque, 2u);
  EXPECT_EQ(get->value, "slowly");
  conn.reset();
  ExpectServerHealthy();
}

TEST_F(MalformedTest, AClientThatNeverReadsIsNotBufferedWithoutBound) {
  const std::string key = "one-megabyte";
  const Vbid vb = VBucketForKey(key, vbuckets());
  {
    auto writer = Connect();
    ASSERT_NE(writer, nullptr);
    ASSERT_EQ(Must(writer->Set(key, std::string(1000000, 'z'))).status, McbpStatus::kSuccess);
  }
  const uint64_t rss_before = ResidentBytes(server().pid());
  ASSERT_GT(rss_before, 0u);

  // Authenticate on a raw socket, then ask for the document a million times (a terabyte of
  // answers) without ever reading.
  auto socket = client::Socket::Connect(server().host(), server().port(), 10s);
  ASSERT_TRUE(socket.ok()) << socket.status().ToString();
  auto plain = sasl::PlainClientMessage(ServerProcess::kUser, ServerProcess::kPassword);
  ASSERT_TRUE(plain.ok());
  std::string auth;
  protocol::AppendRequest(&auth, {.opcode = Opcode::kSaslAuth, .key = "PLAIN", .value = *plain});
  ASSERT_TRUE(socket->WriteSome(auth).ok());
  std::string reply;
  while (reply.size() < protocol::kHeaderSize) {
    char buf[256];
    auto n = socket->ReadSome(buf, sizeof(buf), 10s);
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    reply.append(buf, *n);
  }
  ASSERT_EQ(protocol::LoadBe16(reply.data() + 6), 0) << "authenticated";

  std::string gets;
  for (int i = 0; i < 1000000; ++i) {
    protocol::AppendRequest(&gets, {.opcode = Opcode::kGet, .vbucket = vb, .key = key});
  }
  std::string_view rest = gets;
  bool stalled = false;
  while (!rest.empty()) {
    auto n = socket->WriteSome(rest);
    ASSERT_TRUE(n.ok()) << n.status().ToString();
    rest.remove_prefix(*n);
    if (*n == 0 && !socket->Wait(false, true, 3s).ok()) {
      stalled = true;  // the server stopped reading: back-pressure
      break;
    }
  }
  EXPECT_TRUE(stalled) << "the server read every request while its answers piled up";
  const uint64_t rss_stalled = ResidentBytes(server().pid());
  EXPECT_LT(rss_stalled, rss_before + (200ull << 20))
      << "the server buffered " << (rss_stalled - rss_before) << " bytes for a stalled client";
  std::printf("stalled client: %zu of %zu request bytes accepted, server RSS +%lld KiB\n",
              gets.size() - rest.size(), gets.size(),
              (static_cast<long long>(rss_stalled) - static_cast<long long>(rss_before)) / 1024);
  EXPECT_TRUE(monitor_->Noop().ok()) << "others are served meanwhile";
  socket->Close();
  ExpectServerHealthy();
}

// One garbage-sending client. Kinds: 0 random bytes; 1 random frames with a request magic before
// authentication; 2 the same after authenticating; 3 flexible-framing frames after HELLO and
// authentication. Afterwards it half-closes and reads until the server closes.
void SendGarbage(const std::string& host, uint16_t port, int index, std::atomic<int>* failures) {
  std::mt19937 rng(static_cast<uint32_t>(index) * 7919u + 17u);
  auto byte = [&] { return static_cast<char>(rng() & 0xff); };
  client::ConnectOptions options;
  options.io_timeout = 60s;
  auto conn_or = client::Connection::Connect(host, port, options);
  if (!conn_or.ok()) {
    failures->fetch_add(1);
    return;
  }
  auto& conn = *conn_or;
  const int kind = index % 4;
  if (kind >= 2) {
    if (kind == 3) {
      if (!conn->Hello("garbage",
                       {Feature::kAltRequestSupport, Feature::kXerror, Feature::kCollections})
               .ok()) {
        failures->fetch_add(1);
        return;
      }
    }
    if (!conn->Authenticate(ServerProcess::kUser, ServerProcess::kPassword, "PLAIN").ok()) {
      failures->fetch_add(1);
      return;
    }
  }
  std::string bytes;
  if (kind == 0) {
    const size_t n = 1 + rng() % 65536;
    for (size_t i = 0; i < n; ++i) bytes.push_back(byte());
  } else {
    const int frames = 1 + static_cast<int>(rng() % 200);
    for (int i = 0; i < frames; ++i) {
      // Opcodes that would end the experiment early or change the server for everyone else are
      // avoided (QUIT, SET_VBUCKET, DEL_VBUCKET); everything else is fair game.
      uint8_t opcode = static_cast<uint8_t>(rng() & 0xff);
      if (opcode == 0x07 || opcode == 0x17 || opcode == 0x3d || opcode == 0x3f) opcode = 0x0a;
      const uint8_t extlen = static_cast<uint8_t>(rng() % 3 == 0 ? rng() % 64 : rng() % 24);
      const uint16_t keylen = static_cast<uint16_t>(rng() % 4 == 0 ? rng() % 300 : rng() % 20);
      const uint32_t value_len = rng() % 8 == 0 ? rng() % 4096 : rng() % 64;
      uint32_t body = extlen + keylen + value_len;
      if (rng() % 5 == 0) body = rng() % 512;  // lengths that may not add up
      std::string h = Header(kind == 3 ? 0x08 : 0x80, opcode, keylen, extlen, body,
                             static_cast<uint32_t>(rng()), static_cast<uint8_t>(rng() % 8),
                             static_cast<uint16_t>(rng() % 20));
      if (kind == 3) {
        h[2] = static_cast<char>(rng() % 8);  // framing extras length
        h[3] = static_cast<char>(keylen & 0xff);
      }
      bytes += h;
      for (uint32_t b = 0; b < body; ++b) bytes.push_back(byte());
    }
  }
  // The server may close the connection before it has read everything: that is fine.
  conn->SendRaw(bytes).IgnoreError();
  conn->ShutdownWrite();
  // Drain until the server closes its side (end of stream or reset, never a timeout).
  while (true) {
    auto f = conn->ReadFrame();
    if (f.ok()) continue;
    if (f.status().code() == Errc::kTempFail) failures->fetch_add(1);  // timed out
    break;
  }
}

TEST_F(MalformedTest, HundredConnectionsOfRandomGarbage) {
  constexpr int kClients = 100;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back(SendGarbage, server().host(), server().port(), i, &failures);
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0) << "a garbage client could not connect or was never closed";
  EXPECT_TRUE(monitor_->Noop().ok()) << "an existing connection was not disturbed";
  ExpectServerHealthy();
  auto stats = FetchStats(*monitor_);
  ASSERT_TRUE(stats.ok());
  EXPECT_GT(StatU64(*stats, "malformed_frames").value_or(0), 0u) << "the garbage was looked at";
  // Every vbucket still exists and is active.
  auto seqnos = monitor_->GetAllVbSeqnos(protocol::AllVbSeqnosFilter{.state = 1});
  ASSERT_TRUE(seqnos.ok());
  EXPECT_EQ(seqnos->size(), vbuckets());
}

// Found by the live-server fuzzer: an error context echoing client bytes that are not UTF-8 (a
// DCP control key) made the JSON error body throw and abort the server. Now the bytes are
// replaced in the body, the answer is EINVAL and everyone goes on.
TEST_F(MalformedTest, ErrorContextsWithInvalidUtf8AreAnsweredNotFatal) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(conn->DcpOpen("bad-utf8-\xfe\xff", protocol::kDcpOpenProducer).ok());
  Status s = conn->DcpControl("enab,e_n\xfeop", "true");
  EXPECT_FALSE(s.ok());
  s = conn->DcpControl("\xc3\x28\xa0\xa1", "\xf0\x28\x8c\x28");
  EXPECT_FALSE(s.ok());
  // The connection still works, and so do the stats that list it (its name is not UTF-8).
  EXPECT_TRUE(conn->DcpControl("enable_noop", "true").ok());
  auto stats = FetchStats(*monitor_, "dcp");
  EXPECT_TRUE(stats.ok()) << stats.status().ToString();
  conn.reset();
  ExpectServerHealthy();
}

}  // namespace
}  // namespace sluice::testing
