// Tests for the SASL exchanges: RFC test vectors, client <-> server round trips for every
// mechanism, and every way an exchange must fail.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "sasl/crypto.h"
#include "sasl/mechanism.h"
#include "sasl/scram_client.h"
#include "sasl/server_session.h"
#include "sasl/users.h"

namespace sluice::sasl {
namespace {

using std::string_literals::operator""s;

// ---- RFC test vectors ----

struct ScramVector {
  Mechanism mechanism;
  std::string client_nonce;
  std::string server_nonce;
  std::string salt_b64;
  std::string client_first;
  std::string server_first;
  std::string client_final;
  std::string server_final;
};

// RFC 5802 section 5 (SCRAM-SHA-1) and RFC 7677 section 3 (SCRAM-SHA-256), user "user",
// password "pencil".
const ScramVector kRfc5802Sha1 = {
    Mechanism::kScramSha1,
    "fyko+d2lbbFgONRv9qkxdawL",
    "3rfcNHYJY1ZVvWVs7j",
    "QSXCR+Q6sek8bf92",
    "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
    "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
    "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
    "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
};
const ScramVector kRfc7677Sha256 = {
    Mechanism::kScramSha256,
    "rOprNGfwEbeRWgbNEkqO",
    "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
    "W22ZaJ0SNY7soEsUEjb6gQ==",
    "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
};

class ScramVectorTest : public ::testing::TestWithParam<ScramVector> {};

TEST_P(ScramVectorTest, ClientProducesTheRfcMessages) {
  const ScramVector& v = GetParam();
  ScramClientOptions options;
  options.nonce = v.client_nonce;
  ScramClient client(v.mechanism, "user", "pencil", options);
  auto first = client.Start();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, v.client_first);
  auto final_message = client.Step(v.server_first);
  ASSERT_TRUE(final_message.ok()) << final_message.status().ToString();
  EXPECT_EQ(*final_message, v.client_final);
  EXPECT_TRUE(client.Verify(v.server_final).ok());
  EXPECT_EQ(client.state(), ScramClient::State::kDone);
}

TEST_P(ScramVectorTest, ServerProducesTheRfcMessages) {
  const ScramVector& v = GetParam();
  UserDatabaseOptions db_options;
  const std::string salt = *Base64Decode(v.salt_b64);
  db_options.salt_source = [salt](std::string_view, HashAlgorithm) { return salt; };
  auto db = UserDatabase::Create({UserSpec{"user", "pencil", std::nullopt}}, db_options);
  ASSERT_TRUE(db.ok()) << db.status().ToString();

  ServerSessionOptions options;
  options.server_nonce = v.server_nonce;
  ServerSession session(std::move(db).value(), options);
  AuthStep first = session.Start(MechanismName(v.mechanism), v.client_first);
  ASSERT_EQ(first.result, AuthResult::kContinue) << first.reason;
  EXPECT_EQ(first.response, v.server_first);
  AuthStep final_step = session.Step(v.client_final);
  ASSERT_EQ(final_step.result, AuthResult::kOk) << final_step.reason;
  EXPECT_EQ(final_step.response, v.server_final);
  EXPECT_EQ(final_step.user, "user");
  EXPECT_EQ(session.state(), ServerSession::State::kAuthenticated);
}

INSTANTIATE_TEST_SUITE_P(Rfc, ScramVectorTest, ::testing::Values(kRfc5802Sha1, kRfc7677Sha256),
                         [](const auto& info) {
                           return info.param.mechanism == Mechanism::kScramSha1 ? "Rfc5802Sha1"
                                                                                : "Rfc7677Sha256";
                         });

// ---- Mechanism names ----

TEST(MechanismTest, ListAndNames) {
  EXPECT_EQ(SupportedMechanisms(), "SCRAM-SHA512 SCRAM-SHA256 SCRAM-SHA1 PLAIN");
  for (Mechanism m : {Mechanism::kScramSha512, Mechanism::kScramSha256, Mechanism::kScramSha1,
                      Mechanism::kPlain}) {
    EXPECT_EQ(ParseMechanism(MechanismName(m)), m);
  }
  EXPECT_FALSE(ParseMechanism("SCRAM-SHA-512").has_value());
  EXPECT_FALSE(ParseMechanism("plain").has_value());
  EXPECT_FALSE(ParseMechanism("").has_value());
  EXPECT_EQ(ScramHash(Mechanism::kScramSha512), HashAlgorithm::kSha512);
  EXPECT_FALSE(ScramHash(Mechanism::kPlain).has_value());
}

// ---- Exchanges against a user database ----

class SaslExchangeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = UserDatabase::Create({
        UserSpec{"alice", "s3cret", std::nullopt},
        UserSpec{"odd,name=x", "p,w=\"", std::vector<std::string>{"default"}},
    });
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    users_ = std::move(db).value();
  }

  // One full SCRAM exchange; returns the server's last step and fills *client_status with
  // the client's verdict on it (only when the server said kOk).
  struct Outcome {
    AuthStep start;
    AuthStep step;
    Status verify = Status(Errc::kInternal, "not reached");
  };
  Outcome RunScram(Mechanism mechanism, const std::string& user, const std::string& password,
                   ScramClientOptions client_options = {}) {
    Outcome out;
    ScramClient client(mechanism, user, password, client_options);
    ServerSession session(users_);
    auto first = client.Start();
    EXPECT_TRUE(first.ok()) << first.status().ToString();
    out.start = session.Start(MechanismName(mechanism), *first);
    if (out.start.result != AuthResult::kContinue) return out;
    auto final_message = client.Step(out.start.response);
    EXPECT_TRUE(final_message.ok()) << final_message.status().ToString();
    out.step = session.Step(*final_message);
    if (out.step.result == AuthResult::kOk) out.verify = client.Verify(out.step.response);
    return out;
  }

  std::shared_ptr<const UserDatabase> users_;
};

class ScramExchangeTest : public SaslExchangeTest,
                          public ::testing::WithParamInterface<Mechanism> {};

TEST_P(ScramExchangeTest, SucceedsAndTheClientVerifiesTheServer) {
  Outcome out = RunScram(GetParam(), "alice", "s3cret");
  ASSERT_EQ(out.start.result, AuthResult::kContinue) << out.start.reason;
  ASSERT_EQ(out.step.result, AuthResult::kOk) << out.step.reason;
  EXPECT_EQ(out.step.user, "alice");
  EXPECT_TRUE(out.step.reason.empty());
  EXPECT_TRUE(out.verify.ok()) << out.verify.ToString();
}

TEST_P(ScramExchangeTest, UserNamesWithCommaAndEqualsAreEscaped) {
  Outcome out = RunScram(GetParam(), "odd,name=x", "p,w=\"");
  ASSERT_EQ(out.step.result, AuthResult::kOk) << out.start.reason << out.step.reason;
  EXPECT_EQ(out.step.user, "odd,name=x");
  EXPECT_TRUE(out.verify.ok());
}

TEST_P(ScramExchangeTest, WrongPasswordFailsAtTheProofStep) {
  Outcome out = RunScram(GetParam(), "alice", "wrong");
  ASSERT_EQ(out.start.result, AuthResult::kContinue);
  EXPECT_EQ(out.step.result, AuthResult::kError);
  EXPECT_TRUE(out.step.response.empty());
  EXPECT_TRUE(out.step.user.empty());
  EXPECT_NE(out.step.reason.find("wrong password"), std::string::npos) << out.step.reason;
}

TEST_P(ScramExchangeTest, UnknownUserFailsExactlyLikeAWrongPassword) {
  Outcome wrong = RunScram(GetParam(), "alice", "wrong");
  Outcome unknown = RunScram(GetParam(), "mallory", "s3cret");
  // Same step, same result, same (empty) bytes to the client.
  ASSERT_EQ(unknown.start.result, AuthResult::kContinue);
  EXPECT_EQ(unknown.step.result, wrong.step.result);
  EXPECT_EQ(unknown.step.response, wrong.step.response);
  EXPECT_EQ(unknown.step.user, wrong.step.user);
  // The server-first messages have the same shape: same salt size and iteration count.
  auto shape = [](const std::string& server_first) {
    size_t s = server_first.find(",s=");
    size_t i = server_first.find(",i=");
    return std::make_pair(Base64Decode(server_first.substr(s + 3, i - s - 3))->size(),
                          server_first.substr(i));
  };
  EXPECT_EQ(shape(unknown.start.response), shape(wrong.start.response));
  // Only the log reason tells them apart.
  EXPECT_NE(unknown.step.reason.find("unknown user"), std::string::npos) << unknown.step.reason;
}

TEST_P(ScramExchangeTest, UnknownUserGetsAStableSalt) {
  Outcome a = RunScram(GetParam(), "mallory", "x");
  Outcome b = RunScram(GetParam(), "mallory", "y");
  auto salt = [](const std::string& server_first) {
    size_t s = server_first.find(",s=");
    return server_first.substr(s, server_first.find(",i=") - s);
  };
  EXPECT_EQ(salt(a.start.response), salt(b.start.response));
  // A real user's salt is stable too.
  Outcome c = RunScram(GetParam(), "alice", "x");
  Outcome d = RunScram(GetParam(), "alice", "y");
  EXPECT_EQ(salt(c.start.response), salt(d.start.response));
}

TEST_P(ScramExchangeTest, CouchbaseCxxClientNonceWithSpaces) {
  ScramClientOptions options;
  options.nonce = "0xffffff93 0x02 0xfffffffe 0x7f 0x1c 0xffffffb0";
  Outcome out = RunScram(GetParam(), "alice", "s3cret", options);
  ASSERT_EQ(out.start.result, AuthResult::kContinue) << out.start.reason;
  EXPECT_EQ(out.start.response.rfind("r=" + options.nonce, 0), 0u) << out.start.response;
  ASSERT_EQ(out.step.result, AuthResult::kOk) << out.step.reason;
  EXPECT_TRUE(out.verify.ok());
}

INSTANTIATE_TEST_SUITE_P(AllHashes, ScramExchangeTest,
                         ::testing::Values(Mechanism::kScramSha512, Mechanism::kScramSha256,
                                           Mechanism::kScramSha1),
                         [](const auto& info) {
                           std::string name(MechanismName(info.param));
                           name.erase(std::remove(name.begin(), name.end(), '-'), name.end());
                           return name;
                         });

TEST_F(SaslExchangeTest, ServerNoncesDifferPerSession) {
  ServerSession a(users_);
  ServerSession b(users_);
  AuthStep sa = a.Start("SCRAM-SHA512", "n,,n=alice,r=abc");
  AuthStep sb = b.Start("SCRAM-SHA512", "n,,n=alice,r=abc");
  ASSERT_EQ(sa.result, AuthResult::kContinue);
  EXPECT_NE(sa.response.substr(0, sa.response.find(',')),
            sb.response.substr(0, sb.response.find(',')));
}

TEST_F(SaslExchangeTest, ConcurrentSessionsShareOneDatabase) {
  // The database is immutable: sessions on several threads may use it at once (run under TSan).
  constexpr int kThreads = 4;
  std::vector<int> successes(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &successes] {
      for (int i = 0; i < 3; ++i) {
        ScramClient client(Mechanism::kScramSha256, "alice", "s3cret");
        ServerSession session(users_);
        AuthStep first = session.Start("SCRAM-SHA256", *client.Start());
        if (first.result != AuthResult::kContinue) continue;
        AuthStep step = session.Step(*client.Step(first.response));
        if (step.result == AuthResult::kOk && client.Verify(step.response).ok()) ++successes[t];
        ServerSession plain(users_);
        if (plain.Start("PLAIN", *PlainClientMessage("alice", "s3cret")).result ==
            AuthResult::kOk) {
          ++successes[t];
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(successes[t], 6) << "thread " << t;
}

// A client-final message computed by hand, for gs2 headers our client never sends.
std::string HandMadeClientFinal(HashAlgorithm hash, const std::string& password,
                                const std::string& client_first_bare,
                                const std::string& server_first, const std::string& gs2_header,
                                const std::string& nonce) {
  size_t s = server_first.find(",s=");
  size_t i = server_first.find(",i=");
  std::string salt = *Base64Decode(server_first.substr(s + 3, i - s - 3));
  uint32_t iterations = static_cast<uint32_t>(std::stoul(server_first.substr(i + 3)));
  std::string salted = *Pbkdf2(hash, password, salt, iterations);
  ScramKeys keys = DeriveScramKeys(hash, salted);
  std::string without_proof = "c=" + Base64Encode(gs2_header) + ",r=" + nonce;
  std::string auth = client_first_bare + "," + server_first + "," + without_proof;
  std::string proof = XorBytes(ScramClientKey(hash, salted), Hmac(hash, keys.stored_key, auth));
  return without_proof + ",p=" + Base64Encode(proof);
}

TEST_F(SaslExchangeTest, AcceptsYFlagAndMatchingAuthzid) {
  for (std::string gs2 : {"y,,"s, "n,a=alice,"s}) {
    ServerSession session(users_);
    const std::string bare = "n=alice,r=cnonce";
    AuthStep first = session.Start("SCRAM-SHA256", gs2 + bare);
    ASSERT_EQ(first.result, AuthResult::kContinue) << gs2 << ": " << first.reason;
    std::string nonce = first.response.substr(2, first.response.find(',') - 2);
    AuthStep step = session.Step(
        HandMadeClientFinal(HashAlgorithm::kSha256, "s3cret", bare, first.response, gs2, nonce));
    EXPECT_EQ(step.result, AuthResult::kOk) << gs2 << ": " << step.reason;
  }
}

TEST_F(SaslExchangeTest, RejectsChannelBindingThatDoesNotMatchTheHeader) {
  ServerSession session(users_);
  const std::string bare = "n=alice,r=cnonce";
  AuthStep first = session.Start("SCRAM-SHA256", "n,," + bare);
  ASSERT_EQ(first.result, AuthResult::kContinue);
  std::string nonce = first.response.substr(2, first.response.find(',') - 2);
  // A correct proof over c=eSws ("y,,") while the header was "n,,": still refused.
  AuthStep step = session.Step(
      HandMadeClientFinal(HashAlgorithm::kSha256, "s3cret", bare, first.response, "y,,", nonce));
  EXPECT_EQ(step.result, AuthResult::kError);
  EXPECT_TRUE(step.response.empty());
  EXPECT_NE(step.reason.find("channel binding"), std::string::npos) << step.reason;
}

TEST_F(SaslExchangeTest, RejectsATamperedNonce) {
  ServerSession session(users_);
  const std::string bare = "n=alice,r=cnonce";
  AuthStep first = session.Start("SCRAM-SHA256", "n,," + bare);
  ASSERT_EQ(first.result, AuthResult::kContinue);
  std::string nonce = first.response.substr(2, first.response.find(',') - 2);
  // Correct proof, but over a nonce the server did not issue.
  AuthStep step = session.Step(HandMadeClientFinal(HashAlgorithm::kSha256, "s3cret", bare,
                                                   first.response, "n,,", nonce + "x"));
  EXPECT_EQ(step.result, AuthResult::kError);
  EXPECT_NE(step.reason.find("nonce"), std::string::npos) << step.reason;
}

TEST_F(SaslExchangeTest, RejectsATamperedClientFinal) {
  ScramClient client(Mechanism::kScramSha512, "alice", "s3cret");
  ServerSession session(users_);
  AuthStep first = session.Start("SCRAM-SHA512", *client.Start());
  ASSERT_EQ(first.result, AuthResult::kContinue);
  std::string final_message = *client.Step(first.response);
  // Flip one character of the proof (keeping it valid base64).
  size_t p = final_message.find(",p=") + 3;
  final_message[p] = final_message[p] == 'A' ? 'B' : 'A';
  AuthStep step = session.Step(final_message);
  EXPECT_EQ(step.result, AuthResult::kError);
  EXPECT_NE(step.reason.find("wrong password"), std::string::npos) << step.reason;
}

// A recorded successful client-final replayed into a new session (same client-first, so the
// same client nonce): the new session issued another server nonce, so the replay fails.
TEST_F(SaslExchangeTest, RejectsAReplayedClientFinal) {
  ScramClient client(Mechanism::kScramSha256, "alice", "s3cret");
  const std::string client_first = *client.Start();
  ServerSession original(users_);
  AuthStep first = original.Start("SCRAM-SHA256", client_first);
  ASSERT_EQ(first.result, AuthResult::kContinue);
  const std::string recorded = *client.Step(first.response);
  ASSERT_EQ(original.Step(recorded).result, AuthResult::kOk);

  ServerSession replay(users_);
  AuthStep again = replay.Start("SCRAM-SHA256", client_first);
  ASSERT_EQ(again.result, AuthResult::kContinue);
  AuthStep step = replay.Step(recorded);
  EXPECT_EQ(step.result, AuthResult::kError);
  EXPECT_TRUE(step.response.empty());
  EXPECT_NE(step.reason.find("nonce"), std::string::npos) << step.reason;
}

// A proof made for one user presented in another user's exchange fails.
TEST_F(SaslExchangeTest, RejectsAProofForAnotherUsersExchange) {
  ScramClient client(Mechanism::kScramSha512, "alice", "s3cret");
  ServerSession session(users_);
  AuthStep first = session.Start("SCRAM-SHA512", *client.Start());
  ASSERT_EQ(first.result, AuthResult::kContinue);
  std::string final_message = *client.Step(first.response);
  // The same session, then a second one for another user reusing alice's proof.
  ScramClient other(Mechanism::kScramSha512, "odd,name=x", "p,w=\"");
  ServerSession other_session(users_);
  AuthStep other_first = other_session.Start("SCRAM-SHA512", *other.Start());
  ASSERT_EQ(other_first.result, AuthResult::kContinue);
  std::string other_final = *other.Step(other_first.response);
  // other's channel binding and nonce, alice's proof.
  other_final = other_final.substr(0, other_final.find(",p=")) +
                final_message.substr(final_message.find(",p="));
  AuthStep step = other_session.Step(other_final);
  EXPECT_EQ(step.result, AuthResult::kError);
  EXPECT_TRUE(step.response.empty());
}

TEST_F(SaslExchangeTest, RejectsMalformedClientFirst) {
  for (std::string bad : {
           "p=tls-unique,,n=alice,r=abc"s,  // channel binding
           "n,,m=x,n=alice,r=abc"s,         // mandatory extension
           "n,,n=alice"s,                   // missing nonce
           "n,,r=abc"s,                     // missing user
           "n,,n=al=ice,r=abc"s,            // bad escape
           "n,a=bob,n=alice,r=abc"s,        // authzid for someone else
           ""s,
       }) {
    ServerSession session(users_);
    AuthStep step = session.Start("SCRAM-SHA512", bad);
    EXPECT_EQ(step.result, AuthResult::kError) << bad;
    EXPECT_TRUE(step.response.empty()) << bad;
    EXPECT_FALSE(step.reason.empty()) << bad;
    EXPECT_EQ(session.state(), ServerSession::State::kFailed);
  }
}

TEST_F(SaslExchangeTest, RejectsMalformedClientFinal) {
  for (std::string bad : {
           "c=biws,r=NONCE"s,               // missing proof
           "c=biws,p=QUJD"s,                // missing nonce
           "r=NONCE,p=QUJD"s,               // missing channel binding
           "c=biws,r=NONCE,p=not*base64"s,  // bad base64
           "c=biws,r=NONCE,p=QUJD"s,        // proof of the wrong length
           "garbage"s,
           ""s,
       }) {
    ServerSession session(users_);
    AuthStep first = session.Start("SCRAM-SHA512", "n,,n=alice,r=abc");
    ASSERT_EQ(first.result, AuthResult::kContinue);
    std::string nonce = first.response.substr(2, first.response.find(',') - 2);
    std::string message = bad;
    if (size_t at = message.find("NONCE"); at != std::string::npos) message.replace(at, 5, nonce);
    AuthStep step = session.Step(message);
    EXPECT_EQ(step.result, AuthResult::kError) << bad;
    EXPECT_TRUE(step.response.empty()) << bad;
    EXPECT_FALSE(step.reason.empty()) << bad;
  }
}

TEST_F(SaslExchangeTest, OutOfOrderCallsFail) {
  {
    ServerSession session(users_);
    AuthStep step = session.Step("c=biws,r=abc,p=QUJD");
    EXPECT_EQ(step.result, AuthResult::kError);
    EXPECT_EQ(session.state(), ServerSession::State::kFailed);
  }
  {
    ServerSession session(users_);
    ASSERT_EQ(session.Start("SCRAM-SHA1", "n,,n=alice,r=abc").result, AuthResult::kContinue);
    EXPECT_EQ(session.Start("SCRAM-SHA1", "n,,n=alice,r=abc").result, AuthResult::kError);
    EXPECT_EQ(session.state(), ServerSession::State::kFailed);
  }
  {
    ServerSession session(users_);
    auto plain = PlainClientMessage("alice", "s3cret");
    ASSERT_EQ(session.Start("PLAIN", *plain).result, AuthResult::kOk);
    EXPECT_EQ(session.Step("c=biws,r=abc,p=QUJD").result, AuthResult::kError);
    // A late call does not undo the authentication.
    EXPECT_EQ(session.state(), ServerSession::State::kAuthenticated);
  }
}

TEST_F(SaslExchangeTest, UnknownMechanismFails) {
  for (std::string_view mech : {"SCRAM-SHA-512", "CRAM-MD5", "plain", ""}) {
    ServerSession session(users_);
    AuthStep step = session.Start(mech, "n,,n=alice,r=abc");
    EXPECT_EQ(step.result, AuthResult::kError) << mech;
    EXPECT_NE(step.reason.find("unsupported mechanism"), std::string::npos);
  }
}

// ---- PLAIN ----

TEST_F(SaslExchangeTest, PlainSucceedsWithEmptyOrEqualAuthzid) {
  for (std::string_view authzid : {"", "alice"}) {
    auto message = PlainClientMessage("alice", "s3cret", authzid);
    ASSERT_TRUE(message.ok());
    ServerSession session(users_);
    AuthStep step = session.Start("PLAIN", *message);
    EXPECT_EQ(step.result, AuthResult::kOk) << step.reason;
    EXPECT_EQ(step.user, "alice");
    EXPECT_TRUE(step.response.empty());
  }
  // What the Couchbase SDK and Cyrus libsasl2 send on the wire.
  for (std::string wire : {"\0alice\0s3cret"s, "alice\0alice\0s3cret"s}) {
    ServerSession session(users_);
    EXPECT_EQ(session.Start("PLAIN", wire).result, AuthResult::kOk);
  }
}

TEST_F(SaslExchangeTest, PlainFailures) {
  struct Case {
    std::string message;
    std::string reason;
  };
  for (const Case& c : {
           Case{"\0alice\0wrong"s, "wrong password"},
           Case{"\0mallory\0s3cret"s, "unknown user"},
           Case{"bob\0alice\0s3cret"s, "authzid"},
           Case{"\0\0s3cret"s, "empty user"},
           Case{"alice\0s3cret"s, "malformed"},
           Case{"\0alice\0s3cret\0"s, "malformed"},
           Case{""s, "malformed"},
       }) {
    ServerSession session(users_);
    AuthStep step = session.Start("PLAIN", c.message);
    EXPECT_EQ(step.result, AuthResult::kError) << c.reason;
    EXPECT_TRUE(step.response.empty());
    EXPECT_TRUE(step.user.empty());
    EXPECT_NE(step.reason.find(c.reason), std::string::npos) << step.reason;
  }
}

TEST(PlainClientMessageTest, BuildsAndValidates) {
  EXPECT_EQ(*PlainClientMessage("u", "p"), "\0u\0p"s);
  EXPECT_EQ(*PlainClientMessage("u", "p", "u"), "u\0u\0p"s);
  EXPECT_EQ(PlainClientMessage("", "p").status(), Errc::kInvalid);
  EXPECT_EQ(PlainClientMessage("u\0x"s, "p").status(), Errc::kInvalid);
  EXPECT_EQ(PlainClientMessage("u", "p\0"s).status(), Errc::kInvalid);
}

// ---- Client-side checks of what the server sends ----

// A client that has sent its first message with the nonce "cnonce".
std::unique_ptr<ScramClient> StartedClient(ScramClientOptions options = {}) {
  options.nonce = "cnonce";
  auto client = std::make_unique<ScramClient>(Mechanism::kScramSha256, "user", "pencil", options);
  EXPECT_EQ(*client->Start(), "n,,n=user,r=cnonce");
  return client;
}

TEST(ScramClientTest, RejectsBadServerFirst) {
  for (std::string_view bad : {
           "r=cnonce,s=QSXCR+Q6sek8bf92,i=4096",        // no server nonce part
           "r=other+snonce,s=QSXCR+Q6sek8bf92,i=4096",  // does not extend ours
           "r=cnoncesnonce,i=4096",                     // missing salt
           "r=cnoncesnonce,s=QSXCR+Q6sek8bf92",         // missing iterations
           "r=cnoncesnonce,s=***,i=4096",               // bad base64
           "m=x,r=cnoncesnonce,s=QSXCR+Q6sek8bf92,i=4096",
           "r=cnoncesnonce,s=QSXCR+Q6sek8bf92,i=0",
           "r=cnoncesnonce,s=QSXCR+Q6sek8bf92,i=4095",    // below the minimum
           "r=cnoncesnonce,s=QSXCR+Q6sek8bf92,i=100001",  // above the default maximum
           "r=cnoncesnonce,s=QSXCR+Q6sek8bf92,i=4294967296",
           "",
       }) {
    auto client = StartedClient();
    auto step = client->Step(bad);
    EXPECT_EQ(step.status(), Errc::kInvalid) << bad;
    EXPECT_EQ(client->state(), ScramClient::State::kFailed);
  }
}

TEST(ScramClientTest, IterationBoundsAreConfigurable) {
  ScramClientOptions options;
  options.max_iterations = 5000;
  auto client = StartedClient(options);
  auto step = client->Step("r=cnoncesnonce,s=QSXCR+Q6sek8bf92,i=5001");
  EXPECT_EQ(step.status(), Errc::kInvalid);
  EXPECT_NE(step.status().message().find("iteration count 5001"), std::string_view::npos);
  EXPECT_TRUE(StartedClient(options)->Step("r=cnoncesnonce,s=QSXCR+Q6sek8bf92,i=5000").ok());
}

TEST(ScramClientTest, RejectsAWrongServerSignature) {
  // The RFC 5802 exchange, but the server-final is signed with a different key.
  ScramClientOptions options;
  options.nonce = kRfc5802Sha1.client_nonce;
  ScramClient client(Mechanism::kScramSha1, "user", "pencil", options);
  ASSERT_TRUE(client.Start().ok());
  ASSERT_TRUE(client.Step(kRfc5802Sha1.server_first).ok());
  Status status = client.Verify("v=" + Base64Encode(std::string(20, 'x')));
  EXPECT_EQ(status, Errc::kAuthError);
  EXPECT_EQ(client.state(), ScramClient::State::kFailed);
}

TEST(ScramClientTest, RejectsServerErrorsAndMalformedServerFinal) {
  struct Case {
    std::string_view message;
    Errc code;
  };
  for (const Case& c :
       {Case{"e=invalid-proof", Errc::kAuthError}, Case{"v=", Errc::kAuthError},
        Case{"v=***", Errc::kInvalid}, Case{"x=1", Errc::kInvalid}, Case{"", Errc::kInvalid}}) {
    ScramClientOptions options;
    options.nonce = kRfc5802Sha1.client_nonce;
    ScramClient client(Mechanism::kScramSha1, "user", "pencil", options);
    ASSERT_TRUE(client.Start().ok());
    ASSERT_TRUE(client.Step(kRfc5802Sha1.server_first).ok());
    EXPECT_EQ(client.Verify(c.message).code(), c.code) << c.message;
  }
}

TEST(ScramClientTest, MisuseFails) {
  EXPECT_EQ(ScramClient(Mechanism::kPlain, "u", "p").Start().status(), Errc::kInvalid);
  EXPECT_EQ(ScramClient(Mechanism::kScramSha1, "", "p").Start().status(), Errc::kInvalid);
  ScramClientOptions comma;
  comma.nonce = "a,b";
  EXPECT_EQ(ScramClient(Mechanism::kScramSha1, "u", "p", comma).Start().status(), Errc::kInvalid);

  ScramClient client(Mechanism::kScramSha1, "u", "p");
  EXPECT_EQ(client.Step("r=x,s=QQ==,i=4096").status(), Errc::kInvalid);  // before Start
  EXPECT_EQ(client.Start().status(), Errc::kInvalid);                    // after failure
  EXPECT_EQ(client.Verify("v=QQ==").code(), Errc::kInvalid);
}

TEST(ScramClientTest, RandomNoncesDiffer) {
  ScramClient a(Mechanism::kScramSha512, "u", "p");
  ScramClient b(Mechanism::kScramSha512, "u", "p");
  std::string first_a = *a.Start();
  std::string first_b = *b.Start();
  EXPECT_EQ(first_a.rfind("n,,n=u,r=", 0), 0u);
  EXPECT_NE(first_a, first_b);
}

}  // namespace
}  // namespace sluice::sasl
