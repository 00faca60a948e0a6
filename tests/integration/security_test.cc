// Integration: authentication hardening and access rules of sluiced. Failed SASL attempts are
// logged, delayed (a timer: the I/O thread keeps serving others) and, at auth_failure_limit,
// end the connection; a SCRAM client-final with a changed nonce or a bad proof fails exactly like
// a wrong password; users reach only the buckets the users file grants them; listening beyond
// loopback without TLS logs a warning.
// (Authentication before data commands, and identical failures for an unknown user and a wrong
// password, are in handshake_test.cc.)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>

#include "protocol/encode.h"
#include "protocol/payload.h"
#include "sasl/scram_client.h"
#include "testing/wire_util.h"

namespace sluice::testing {
namespace {

using protocol::McbpStatus;
using protocol::Opcode;

size_t CountIn(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos;
       at = haystack.find(needle, at + needle.size())) {
    ++n;
  }
  return n;
}

std::string PlainFrame(const std::string& user, const std::string& password, uint32_t opaque = 0) {
  auto message = sasl::PlainClientMessage(user, password);
  EXPECT_TRUE(message.ok());
  std::string bytes;
  protocol::AppendRequest(&bytes, {.opcode = Opcode::kSaslAuth,
                                   .opaque = opaque,
                                   .key = "PLAIN",
                                   .value = message.ok() ? *message : ""});
  return bytes;
}

class AuthLimitTest : public SluicedTest {
 protected:
  ServerOptions Options() const override {
    ServerOptions options = SluicedTest::Options();
    options.extra_args.insert(options.extra_args.end(), {"--set", "auth_failure_limit=3", "--set",
                                                         "auth_failure_delay_ms=50"});
    return options;
  }
};

TEST_F(AuthLimitTest, FailuresAreLoggedDelayedAndTheLimitClosesTheConnection) {
  auto conn = Connect({.authenticate = false});
  ASSERT_NE(conn, nullptr);
  // Failures 1 and 2 are answered (the second after the delay) and the connection stays usable.
  for (int i = 1; i <= 2; ++i) {
    auto r = conn->Execute({.opcode = Opcode::kSaslAuth,
                            .key = "PLAIN",
                            .value = *sasl::PlainClientMessage("admin", "wrong")});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, McbpStatus::kAuthError);
    EXPECT_TRUE(r->value.empty());
    EXPECT_TRUE(conn->Noop().ok()) << "after failure " << i;
  }
  // The third (an unknown user this time: all failures count alike) is answered, then the
  // server closes.
  ASSERT_TRUE(conn->SendRaw(PlainFrame("nobody", "password", 3)).ok());
  auto third = conn->ReadFrame();
  ASSERT_TRUE(third.ok()) << third.status().ToString();
  EXPECT_EQ(third->status(), McbpStatus::kAuthError);
  auto after = conn->ReadFrame();
  ASSERT_FALSE(after.ok()) << "the connection was not closed";
  EXPECT_EQ(after.status().code(), Errc::kIoError) << after.status().ToString();

  // Per connection: a fresh one authenticates at once and works.
  auto good = Connect();
  ASSERT_NE(good, nullptr);
  EXPECT_EQ(Must(good->Set("k", "v")).status, McbpStatus::kSuccess);
  auto stats = FetchStats(*good);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(StatU64(*stats, "auth_errors"), 3u);
  EXPECT_EQ(StatU64(*stats, "auth_failure_disconnects"), 1u);
  // Every failure is in the log, with its reason; the disconnect too.
  const std::string log = server().Log();
  EXPECT_EQ(CountIn(log, "authentication failed ("), 3u) << log;
  EXPECT_NE(log.find("3 failed authentication attempts; closing the connection"),
            std::string::npos);
}

TEST_F(AuthLimitTest, ScramFailuresCountAndASuccessDoesNotResetTheLimit) {
  auto conn = Connect({.authenticate = false});
  ASSERT_NE(conn, nullptr);
  EXPECT_EQ(conn->Authenticate("admin", "wrong", "SCRAM-SHA256").code(), Errc::kAuthError);
  EXPECT_TRUE(conn->Authenticate("admin", "password", "SCRAM-SHA256").ok());
  EXPECT_EQ(Must(conn->Set("k", "v")).status, McbpStatus::kSuccess);
  EXPECT_EQ(conn->Authenticate("admin", "wrong", "SCRAM-SHA1").code(), Errc::kAuthError);
  // The third failure on this connection ends it, even with a success in between.
  EXPECT_FALSE(conn->Authenticate("admin", "wrong", "PLAIN").ok());
  EXPECT_FALSE(conn->Noop().ok());
}

// A long delay: the paused connection's answer waits on a timer while another connection on the
// same (single) I/O thread is served.
class AuthDelayTest : public SluicedTest {
 protected:
  ServerOptions Options() const override {
    ServerOptions options = SluicedTest::Options();
    options.extra_args.insert(options.extra_args.end(),
                              {"--set", "io_threads=1", "--set", "auth_failure_delay_ms=60000"});
    return options;
  }
};

TEST_F(AuthDelayTest, ADelayedFailureDoesNotBlockOtherConnections) {
  auto attacker = Connect({.authenticate = false, .io_timeout = 500ms});
  ASSERT_NE(attacker, nullptr);
  auto first = attacker->Execute({.opcode = Opcode::kSaslAuth,
                                  .key = "PLAIN",
                                  .value = *sasl::PlainClientMessage("admin", "wrong")});
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->status, McbpStatus::kAuthError) << "the first failure is answered at once";
  // The second failure and a NOOP behind it: held for a minute.
  std::string bytes = PlainFrame("admin", "wrong-again", 2);
  protocol::AppendRequest(&bytes, {.opcode = Opcode::kNoop, .opaque = 3});
  ASSERT_TRUE(attacker->SendRaw(bytes).ok());
  // Meanwhile others are served (the same I/O thread: io_threads=1).
  for (int i = 0; i < 3; ++i) {
    auto other = Connect();
    ASSERT_NE(other, nullptr);
    EXPECT_EQ(Must(other->Set("key" + std::to_string(i), "v")).status, McbpStatus::kSuccess);
    EXPECT_EQ(Must(other->Get("key" + std::to_string(i))).value, "v");
  }
  auto held = attacker->ReadFrame();
  ASSERT_FALSE(held.ok()) << "the delayed answer arrived early";
  EXPECT_EQ(held.status().code(), Errc::kTempFail) << held.status().ToString();
  // The attacker gives up; its pending timer must not keep anything alive.
  attacker.reset();
  auto monitor = Connect();
  ASSERT_NE(monitor, nullptr);
  EXPECT_TRUE(PollUntil([&] {
    auto stats = FetchStats(*monitor);
    return stats.ok() && StatU64(*stats, "curr_connections") == 1u;
  }));
}

class ScramWireTest : public SluicedTest {};

// Runs SCRAM-SHA256 for admin/password up to the client-final, lets `tamper` change it, and
// returns the server's verdict.
client::Response TamperedScram(client::Connection& conn,
                               const std::function<void(std::string*)>& tamper) {
  sasl::ScramClient scram(sasl::Mechanism::kScramSha256, ServerProcess::kUser,
                          ServerProcess::kPassword);
  auto first = scram.Start();
  EXPECT_TRUE(first.ok());
  auto challenge =
      conn.Execute({.opcode = Opcode::kSaslAuth, .key = "SCRAM-SHA256", .value = *first});
  EXPECT_TRUE(challenge.ok());
  EXPECT_EQ(challenge->status, McbpStatus::kAuthContinue);
  auto final_message = scram.Step(challenge->value);
  EXPECT_TRUE(final_message.ok());
  std::string message = *final_message;
  tamper(&message);
  auto verdict =
      conn.Execute({.opcode = Opcode::kSaslStep, .key = "SCRAM-SHA256", .value = message});
  EXPECT_TRUE(verdict.ok());
  return verdict.ok() ? *verdict : client::Response{};
}

TEST_F(ScramWireTest, AChangedNonceOrABadProofFailsLikeAWrongPassword) {
  std::vector<client::Response> verdicts;
  // The client's own nonce part changed (the server's part kept).
  {
    auto conn = Connect({.authenticate = false});
    ASSERT_NE(conn, nullptr);
    verdicts.push_back(TamperedScram(*conn, [](std::string* m) {
      const size_t r = m->find(",r=") + 3;
      (*m)[r] = (*m)[r] == 'a' ? 'b' : 'a';
    }));
    EXPECT_EQ(Must(conn->Get("k")).status, McbpStatus::kEaccess);
  }
  // Extra characters appended to the combined nonce.
  {
    auto conn = Connect({.authenticate = false});
    ASSERT_NE(conn, nullptr);
    verdicts.push_back(
        TamperedScram(*conn, [](std::string* m) { m->insert(m->find(",p="), "xyz"); }));
  }
  // One character of the proof flipped.
  {
    auto conn = Connect({.authenticate = false});
    ASSERT_NE(conn, nullptr);
    verdicts.push_back(TamperedScram(*conn, [](std::string* m) {
      const size_t p = m->find(",p=") + 3;
      (*m)[p] = (*m)[p] == 'A' ? 'B' : 'A';
    }));
  }
  // A wrong password, for comparison.
  {
    auto conn = Connect({.authenticate = false});
    ASSERT_NE(conn, nullptr);
    sasl::ScramClient scram(sasl::Mechanism::kScramSha256, "admin", "wrong");
    auto challenge = conn->Execute(
        {.opcode = Opcode::kSaslAuth, .key = "SCRAM-SHA256", .value = *scram.Start()});
    ASSERT_TRUE(challenge.ok());
    auto final_message = scram.Step(challenge->value);
    ASSERT_TRUE(final_message.ok());
    auto verdict = conn->Execute(
        {.opcode = Opcode::kSaslStep, .key = "SCRAM-SHA256", .value = *final_message});
    ASSERT_TRUE(verdict.ok());
    verdicts.push_back(*verdict);
  }
  for (const auto& v : verdicts) {
    EXPECT_EQ(v.status, McbpStatus::kAuthError);
    EXPECT_EQ(v.value, "") << "nothing tells the failures apart";
    EXPECT_EQ(v.extras, "");
  }
  // The untampered exchange succeeds and the client verifies the server's signature.
  auto conn = Connect({.authenticate = false});
  ASSERT_NE(conn, nullptr);
  sasl::ScramClient scram(sasl::Mechanism::kScramSha256, ServerProcess::kUser,
                          ServerProcess::kPassword);
  auto challenge =
      conn->Execute({.opcode = Opcode::kSaslAuth, .key = "SCRAM-SHA256", .value = *scram.Start()});
  ASSERT_TRUE(challenge.ok());
  auto final_message = scram.Step(challenge->value);
  ASSERT_TRUE(final_message.ok());
  auto verdict =
      conn->Execute({.opcode = Opcode::kSaslStep, .key = "SCRAM-SHA256", .value = *final_message});
  ASSERT_TRUE(verdict.ok());
  ASSERT_EQ(verdict->status, McbpStatus::kSuccess);
  EXPECT_TRUE(scram.Verify(verdict->value).ok());
}

// ---- bucket grants ----

class BucketGrantTest : public SluicedTest {
 protected:
  ServerOptions Options() const override {
    ServerOptions options = SluicedTest::Options();
    options.users_json = R"({"users":[
        {"name":"admin","password":"password"},
        {"name":"granted","password":"pw-granted","buckets":["archive","default"]},
        {"name":"nothing","password":"pw-nothing","buckets":[]}]})";
    return options;
  }
};

TEST_F(BucketGrantTest, UsersReachOnlyTheBucketsTheyAreGranted) {
  // Listed among others: auto-selected after authentication, and SELECT_BUCKET works.
  auto granted = Connect({.user = "granted", .password = "pw-granted"});
  ASSERT_NE(granted, nullptr);
  EXPECT_EQ(Must(granted->Set("g", "v")).status, McbpStatus::kSuccess);
  EXPECT_TRUE(granted->SelectBucket("default").ok());
  auto archive = granted->Execute({.opcode = Opcode::kSelectBucket, .key = "archive"});
  ASSERT_TRUE(archive.ok());
  EXPECT_EQ(archive->status, McbpStatus::kEaccess) << "granted but not on this server";
  EXPECT_EQ(Must(granted->Get("g")).value, "v") << "the selection is kept";

  // An empty list grants nothing, with every mechanism.
  for (const char* mech : {"PLAIN", "SCRAM-SHA512"}) {
    auto nothing = Connect({.user = "nothing", .password = "pw-nothing", .mechanism = mech});
    ASSERT_NE(nothing, nullptr);
    EXPECT_EQ(Must(nothing->Get("g")).status, McbpStatus::kNoBucket) << mech;
    auto select = nothing->Execute({.opcode = Opcode::kSelectBucket, .key = "default"});
    ASSERT_TRUE(select.ok());
    EXPECT_EQ(select->status, McbpStatus::kEaccess) << mech;
    EXPECT_EQ(Must(nothing->Get("g")).status, McbpStatus::kNoBucket) << mech;
  }
  // Re-authenticating as another user re-applies that user's grants.
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  EXPECT_EQ(Must(conn->Get("g")).value, "v");
  ASSERT_TRUE(conn->Authenticate("nothing", "pw-nothing", "PLAIN").ok());
  EXPECT_EQ(Must(conn->Get("g")).status, McbpStatus::kNoBucket);
}

// ---- listening address ----

TEST(ListenAddressTest, AllInterfacesWithoutTlsLogAWarning) {
  ServerOptions options;
  options.extra_args = {"--vbuckets", "4"};
  options.listen_host = "0.0.0.0";
  ServerProcess server(options);
  ASSERT_TRUE(server.Start()) << server.error();
  EXPECT_NE(server.Log().find("listening on 0.0.0.0 without TLS"), std::string::npos)
      << server.Log();
  auto conn = client::Connection::Connect(server.host(), server.port(), {});
  ASSERT_TRUE(conn.ok()) << conn.status().ToString();
  EXPECT_TRUE((*conn)->Noop().ok());
  EXPECT_EQ(server.Stop(), 0);
}

TEST(ListenAddressTest, LoopbackIsTheDefault) {
  const std::string command = ServerProcess::BinaryPath() + " --help";
  FILE* help = popen(command.c_str(), "r");
  ASSERT_NE(help, nullptr);
  std::string text;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), help)) text.append(buf, n);
  EXPECT_EQ(pclose(help), 0);
  const size_t host = text.find("--host");
  ASSERT_NE(host, std::string::npos) << text;
  const std::string line = text.substr(host, text.find('\n', host) - host);
  EXPECT_NE(line.find("=127.0.0.1 "), std::string::npos) << line;
}

}  // namespace
}  // namespace sluice::testing
