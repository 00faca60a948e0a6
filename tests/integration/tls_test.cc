// Integration: the optional TLS port (--tls-port / --tls-cert / --tls-key). A certificate for
// 127.0.0.1 is generated at test time with `openssl req -x509` (no key is committed). The TLS
// port serves exactly the plain protocol: HELLO, SASL, KV and stats through an OpenSSL client
// that verifies the certificate, and through Debian's own `openssl s_client`; the plain port
// keeps working beside it; bytes that are not TLS end only their own connection; a key that does
// not match the certificate stops the server at start-up.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <variant>

#include "protocol/byte_order.h"
#include "protocol/dcp_codec.h"
#include "protocol/encode.h"
#include "protocol/feature.h"
#include "protocol/frame.h"
#include "protocol/payload.h"
#include "sasl/scram_client.h"
#include "testing/temp_dir.h"
#include "testing/wire_util.h"

namespace sluice::testing {
namespace {

using protocol::McbpStatus;
using protocol::Opcode;

// A self-signed certificate for 127.0.0.1 (and localhost) and its key, in a temp dir removed at
// exit.
struct TestCertificate {
  // Runs openssl (a test failure if it cannot).
  TestCertificate() {
    const std::string req =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
        "-subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout " +
        key + " -out " + cert + " 2>" + dir + "/openssl.log";
    const std::string other =
        "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + other_key +
        " 2>>" + dir + "/openssl.log";
    if (std::system(req.c_str()) != 0 || std::system(other.c_str()) != 0) {
      ADD_FAILURE() << "openssl could not make a test certificate (see " << dir << "/openssl.log)";
    }
  }

  TempDir temp_dir{"sluice_tls"};
  const std::string dir = temp_dir.path();
  const std::string cert = dir + "/cert.pem";
  const std::string key = dir + "/key.pem";
  const std::string other_key = dir + "/other-key.pem";  // a key that does not belong to `cert`
};

const TestCertificate& Certificate() {
  static const TestCertificate cert;  // made on first use, removed at exit
  return cert;
}

// A blocking TLS client over a TCP socket: verifies the server's certificate against `ca_file`
// and its IP address, then sends and receives whole frames.
class TlsClient {
 public:
  ~TlsClient() {
    if (ssl_ != nullptr) SSL_free(ssl_);
    if (ctx_ != nullptr) SSL_CTX_free(ctx_);
    if (fd_ >= 0) close(fd_);
  }

  // Empty on success, else why not.
  std::string Connect(uint16_t port, const std::string& ca_file) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return "connect";
    timeval tv{60, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (SSL_CTX_load_verify_locations(ctx_, ca_file.c_str(), nullptr) != 1) return "CA file";
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    ssl_ = SSL_new(ctx_);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), "127.0.0.1");
    SSL_set_fd(ssl_, fd_);
    if (SSL_connect(ssl_) != 1) return "TLS handshake: " + Errors();
    if (SSL_get_verify_result(ssl_) != X509_V_OK) return "certificate not verified";
    return {};
  }

  std::string version() const { return SSL_get_version(ssl_); }

  bool Send(std::string_view bytes) {
    size_t written = 0;
    return SSL_write_ex(ssl_, bytes.data(), bytes.size(), &written) == 1 && written == bytes.size();
  }

  // The next whole frame, or nullopt if the stream ended or failed.
  std::optional<client::Response> ReadFrame() {
    while (true) {
      auto r = protocol::DecodeFrame(buffer_, 1u << 30);
      if (r.status == protocol::DecodeStatus::kOk) {
        client::Response response;
        response.status = r.frame.status();
        response.opcode = r.frame.client_opcode();
        response.opaque = r.frame.opaque;
        response.key = std::string(r.frame.key);
        response.value = std::string(r.frame.value);
        buffer_.erase(0, r.size);
        return response;
      }
      if (r.status != protocol::DecodeStatus::kNeedMore) return std::nullopt;
      char buf[16384];
      size_t n = 0;
      if (SSL_read_ex(ssl_, buf, sizeof(buf), &n) != 1) return std::nullopt;
      buffer_.append(buf, n);
    }
  }

  std::optional<client::Response> Execute(protocol::RequestFields request) {
    std::string bytes;
    protocol::AppendRequest(&bytes, request);
    if (!Send(bytes)) return std::nullopt;
    return ReadFrame();
  }

 private:
  static std::string Errors() {
    std::string out;
    while (const unsigned long e = ERR_get_error()) {
      char text[256];
      ERR_error_string_n(e, text, sizeof(text));
      out += text;
      out += "; ";
    }
    return out;
  }

  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  std::string buffer_;
};

class TlsTest : public SluicedTest {
 protected:
  ServerOptions Options() const override {
    ServerOptions options = SluicedTest::Options();
    options.log_level = "info";  // failed TLS handshakes are logged at info
    const TestCertificate& c = Certificate();
    options.extra_args.insert(options.extra_args.end(),
                              {"--tls-port", "0", "--tls-cert", c.cert, "--tls-key", c.key});
    return options;
  }

  std::unique_ptr<TlsClient> ConnectTls() {
    auto tls = std::make_unique<TlsClient>();
    const std::string error = tls->Connect(server().tls_port(), Certificate().cert);
    if (!error.empty()) {
      ADD_FAILURE() << "TLS connect: " << error;
      return nullptr;
    }
    return tls;
  }
};

TEST_F(TlsTest, BothListeningLinesAreReportedAndThePortsDiffer) {
  EXPECT_NE(server().tls_port(), 0);
  EXPECT_NE(server().tls_port(), server().port());
}

TEST_F(TlsTest, TheTlsPortServesTheSameProtocol) {
  auto tls = ConnectTls();
  ASSERT_NE(tls, nullptr);
  EXPECT_NE(tls->version(), "TLSv1");
  EXPECT_NE(tls->version(), "TLSv1.1");
  std::string features;
  protocol::AppendBe16(&features, static_cast<uint16_t>(protocol::Feature::kXerror));
  auto hello = tls->Execute({.opcode = Opcode::kHello, .key = "tls-test", .value = features});
  ASSERT_TRUE(hello.has_value());
  EXPECT_EQ(hello->status, McbpStatus::kSuccess);
  EXPECT_EQ(hello->value, features);
  // Authentication is required on TLS as on plain TCP.
  auto before = tls->Execute({.opcode = Opcode::kGet, .key = "k"});
  ASSERT_TRUE(before.has_value());
  EXPECT_EQ(before->status, McbpStatus::kEaccess);
  // SCRAM-SHA512 end to end, the server's signature verified by the client.
  sasl::ScramClient scram(sasl::Mechanism::kScramSha512, ServerProcess::kUser,
                          ServerProcess::kPassword);
  auto first = scram.Start();
  ASSERT_TRUE(first.ok());
  auto challenge =
      tls->Execute({.opcode = Opcode::kSaslAuth, .key = "SCRAM-SHA512", .value = *first});
  ASSERT_TRUE(challenge.has_value());
  ASSERT_EQ(challenge->status, McbpStatus::kAuthContinue);
  auto final_message = scram.Step(challenge->value);
  ASSERT_TRUE(final_message.ok());
  auto verdict =
      tls->Execute({.opcode = Opcode::kSaslStep, .key = "SCRAM-SHA512", .value = *final_message});
  ASSERT_TRUE(verdict.has_value());
  ASSERT_EQ(verdict->status, McbpStatus::kSuccess);
  EXPECT_TRUE(scram.Verify(verdict->value).ok());

  // A write over TLS is read over plain TCP and the other way round.
  const std::string key = "over-tls";
  const Vbid vb = VBucketForKey(key, vbuckets());
  std::string extras;
  protocol::AppendMutationExtras(&extras, {0, 0});
  const std::string value(100000, 't');  // several TLS records
  auto set = tls->Execute(
      {.opcode = Opcode::kSet, .vbucket = vb, .extras = extras, .key = key, .value = value});
  ASSERT_TRUE(set.has_value());
  EXPECT_EQ(set->status, McbpStatus::kSuccess);
  auto plain = Connect();
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(Must(plain->Get(key)).value, value);
  ASSERT_EQ(Must(plain->Set("over-tcp", "plain")).status, McbpStatus::kSuccess);
  auto get = tls->Execute({.opcode = Opcode::kGet,
                           .vbucket = VBucketForKey("over-tcp", vbuckets()),
                           .key = "over-tcp"});
  ASSERT_TRUE(get.has_value());
  EXPECT_EQ(get->status, McbpStatus::kSuccess);
  EXPECT_EQ(get->value, "plain");

  // Pipelined requests in one TLS write, answered in order.
  std::string batch;
  for (uint32_t i = 0; i < 50; ++i) {
    protocol::AppendRequest(&batch, {.opcode = Opcode::kNoop, .opaque = i});
  }
  ASSERT_TRUE(tls->Send(batch));
  for (uint32_t i = 0; i < 50; ++i) {
    auto noop = tls->ReadFrame();
    ASSERT_TRUE(noop.has_value());
    EXPECT_EQ(noop->opaque, i);
  }
  // STAT is a multi-response command.
  auto stat = tls->Execute({.opcode = Opcode::kStat});
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->status, McbpStatus::kSuccess);
  while (stat.has_value() && !stat->key.empty()) stat = tls->ReadFrame();
  ASSERT_TRUE(stat.has_value()) << "the STAT stream ends with an empty key";
  // QUIT closes the TLS connection after answering.
  auto quit = tls->Execute({.opcode = Opcode::kQuit});
  ASSERT_TRUE(quit.has_value());
  EXPECT_EQ(quit->status, McbpStatus::kSuccess);
  EXPECT_FALSE(tls->ReadFrame().has_value());
}

// The client library's own TLS transport (ConnectOptions::tls_ca_file): HELLO, SCRAM, KV, STAT,
// large values (many TLS records, partial writes) and a DCP stream with flow control.
TEST_F(TlsTest, TheClientLibraryTalksTlsToo) {
  client::ConnectOptions options;
  options.io_timeout = 60s;
  options.num_vbuckets = vbuckets();
  options.tls_ca_file = Certificate().cert;
  auto conn = client::Connection::Connect(server().host(), server().tls_port(), options);
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  ASSERT_TRUE((*conn)->Hello("tls-client", DefaultFeatures()).ok());
  ASSERT_TRUE(
      (*conn)->Authenticate(ServerProcess::kUser, ServerProcess::kPassword, "SCRAM-SHA512").ok());
  const std::string big(4 << 20, 'b');
  EXPECT_EQ(Must((*conn)->Set("big", big)).status, McbpStatus::kSuccess);
  EXPECT_EQ(Must((*conn)->Get("big")).value, big);
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(Must((*conn)->Set("k" + std::to_string(i), "v")).status, McbpStatus::kSuccess);
  }
  auto stats = FetchStats(**conn);
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_GE(StatU64(*stats, "curr_connections").value_or(0), 1u);
  // The plain port sees the same data.
  auto plain = Connect();
  ASSERT_NE(plain, nullptr);
  EXPECT_EQ(Must(plain->Get("big")).value.size(), big.size());

  // DCP over TLS: the vbucket holding "big" streamed to its end, flow control acknowledged.
  {
    auto dcp = client::Connection::Connect(server().host(), server().tls_port(), options);
    ASSERT_TRUE(dcp.ok()) << dcp.status().ToString();
    ASSERT_TRUE((*dcp)->Authenticate(ServerProcess::kUser, ServerProcess::kPassword, "PLAIN").ok());
    ASSERT_TRUE((*dcp)->DcpOpen("tls-dcp", protocol::kDcpOpenProducer).ok());
    ASSERT_TRUE((*dcp)->EnableDcpFlowControl(1 << 20).ok());
    (*dcp)->SetDcpAutoAck(1 << 20);
    protocol::DcpStreamReqRequest request;
    request.vbucket = VBucketForKey("big", vbuckets());
    request.flags = protocol::kDcpStreamToLatest;
    auto stream = (*dcp)->DcpStreamReq(request);
    ASSERT_TRUE(stream.ok()) << stream.status().ToString();
    ASSERT_EQ(stream->status, McbpStatus::kSuccess);
    bool saw_big = false;
    while (true) {
      auto message = (*dcp)->ReadDcpMessage();
      ASSERT_TRUE(message.ok()) << message.status().ToString();
      if (auto* m = std::get_if<client::DcpMutation>(&*message); m != nullptr && m->key == "big") {
        saw_big = m->value == big;
      }
      if (std::holds_alternative<protocol::DcpStreamEnd>(*message)) break;
    }
    EXPECT_TRUE(saw_big) << "the 4 MB document arrived whole over TLS";
  }

  // A certificate that does not verify is refused by the client.
  client::ConnectOptions wrong_ca = options;
  wrong_ca.tls_ca_file = "/etc/ssl/certs/ca-certificates.crt";
  auto refused = client::Connection::Connect(server().host(), server().tls_port(), wrong_ca);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("TLS handshake"), std::string::npos)
      << refused.status().ToString();
}

// Debian's openssl s_client as the client: NOOP, VERSION and QUIT written to its stdin, the
// server's answers read back from its stdout (-quiet: raw application data only).
TEST_F(TlsTest, OpensslSClientTalksToTheTlsPort) {
  const std::string dir = Certificate().dir;
  const std::string in = dir + "/s_client_in." + std::to_string(server().tls_port());
  const std::string out = in + ".out";
  {
    std::string requests;
    protocol::AppendRequest(&requests, {.opcode = Opcode::kNoop, .opaque = 1});
    protocol::AppendRequest(&requests, {.opcode = Opcode::kVersion, .opaque = 2});
    protocol::AppendRequest(&requests, {.opcode = Opcode::kQuit, .opaque = 3});
    std::ofstream(in, std::ios::binary) << requests;
  }
  const std::string command =
      "timeout 60 openssl s_client -connect 127.0.0.1:" + std::to_string(server().tls_port()) +
      " -CAfile " + Certificate().cert + " -verify_return_error -verify_ip 127.0.0.1 -quiet < " +
      in + " > " + out + " 2>" + out + ".err";
  const int rc = std::system(command.c_str());
  EXPECT_EQ(rc, 0) << "openssl s_client failed";
  std::ifstream answers(out, std::ios::binary);
  std::stringstream ss;
  ss << answers.rdbuf();
  std::string bytes = ss.str();
  std::vector<std::pair<uint32_t, std::string>> frames;
  while (true) {
    auto r = protocol::DecodeFrame(bytes, 1u << 20);
    if (r.status != protocol::DecodeStatus::kOk) break;
    EXPECT_EQ(r.frame.status(), McbpStatus::kSuccess);
    frames.emplace_back(r.frame.opaque, std::string(r.frame.value));
    bytes.erase(0, r.size);
  }
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[0].first, 1u);
  EXPECT_EQ(frames[1].first, 2u);
  EXPECT_FALSE(frames[1].second.empty()) << "VERSION has a body";
  EXPECT_EQ(frames[2].first, 3u);
  std::filesystem::remove(in);
  std::filesystem::remove(out);
  std::filesystem::remove(out + ".err");
}

TEST_F(TlsTest, PlainBytesOnTheTlsPortEndOnlyThatConnection) {
  // A memcached client that dialled the TLS port by mistake: its bytes are no ClientHello.
  {
    client::ConnectOptions options;
    options.io_timeout = 60s;
    auto wrong = client::Connection::Connect(server().host(), server().tls_port(), options);
    ASSERT_TRUE(wrong.ok()) << wrong.status().ToString();
    EXPECT_FALSE((*wrong)->Noop().ok()) << "a plain NOOP on the TLS port is not answered";
  }
  // A TLS client that hangs up mid-handshake.
  {
    client::ConnectOptions options;
    options.io_timeout = 60s;
    auto partial = client::Connection::Connect(server().host(), server().tls_port(), options);
    ASSERT_TRUE(partial.ok());
    ASSERT_TRUE((*partial)->SendRaw(std::string("\x16\x03\x01\x02\x00\x01", 6)).ok());
  }
  auto tls = ConnectTls();
  ASSERT_NE(tls, nullptr);
  auto noop = tls->Execute({.opcode = Opcode::kNoop});
  ASSERT_TRUE(noop.has_value());
  EXPECT_EQ(noop->status, McbpStatus::kSuccess);
  auto plain = Connect();
  ASSERT_NE(plain, nullptr);
  EXPECT_TRUE(plain->Noop().ok());
  EXPECT_TRUE(
      PollUntil([&] { return server().Log().find("TLS handshake failed") != std::string::npos; }));
}

TEST(TlsStartupTest, AKeyThatDoesNotMatchTheCertificateStopsTheServer) {
  const TestCertificate& c = Certificate();
  ServerOptions options;
  options.extra_args = {"--vbuckets", "4",    "--tls-port", "0",
                        "--tls-cert", c.cert, "--tls-key",  c.other_key};
  ServerProcess server(options);
  EXPECT_FALSE(server.Start());
  EXPECT_NE(server.Log().find("--tls-key " + c.other_key), std::string::npos) << server.Log();
}

TEST(TlsStartupTest, TlsPortWithoutCertificateIsAUsageError) {
  ServerOptions options;
  options.extra_args = {"--vbuckets", "4", "--tls-port", "0"};
  ServerProcess server(options);
  EXPECT_FALSE(server.Start());
  EXPECT_NE(server.Log().find("--tls-port needs --tls-cert and --tls-key"), std::string::npos)
      << server.Log();
}

}  // namespace
}  // namespace sluice::testing
