// File: fuzz/sasl_fuzzer.cc
//
// libFuzzer target for the SASL exchange, both sides, against a small fixed user database
// (alice/secret, and "bob,=" whose name needs saslname escaping). Input (fuzz/fuzz_input.h):
// U8 mode, then per mode:
//
//   0 server, raw      U8 mechanism (0-3 the real names, else Str taken as the name), Str
//                      SASL_AUTH value, Str SASL_STEP value, Rest a second (out-of-order) STEP
//   1 server, honest   U8 hash, U8 who (alice right / alice wrong password / bob / unknown),
//                      U8 tamper, Str bytes. An honest client's messages (computed once per
//                      combination and cached: PBKDF2 is slow) are tampered with or not;
//                      untampered, exactly the right password authenticates and the server-final
//                      carries the signature the honest client expects
//   2 client           U8 hash, Str server-first, Rest server-final: ScramClient::Step / Verify
//   3 parsers          Str each: the four SCRAM message parsers, saslname and base64 round trips,
//                      PlainClientMessage
//
// Invariants of sasl/server_session.h checked on every input: a failure has an empty response
// and no user; success names a user of the database; a finished session refuses further steps.
// Seeds: fuzz/corpus/sasl/ (from make_corpus).
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>

#include "fuzz/fuzz_check.h"
#include "fuzz/fuzz_input.h"
#include "sasl/crypto.h"
#include "sasl/mechanism.h"
#include "sasl/scram_client.h"
#include "sasl/scram_messages.h"
#include "sasl/server_session.h"
#include "sasl/users.h"

namespace sluice::fuzz {
namespace {

using sasl::AuthResult;
using sasl::AuthStep;
using sasl::HashAlgorithm;
using sasl::Mechanism;

constexpr std::string_view kServerNonce = "c2VydmVyLW5vbmNlLWZ1enpp";
constexpr std::string_view kClientNonce = "Y2xpZW50LW5vbmNlLWZ1enpp";

const std::shared_ptr<const sasl::UserDatabase>& Users() {
  static const std::shared_ptr<const sasl::UserDatabase> users = [] {
    std::vector<sasl::UserSpec> specs;
    specs.push_back({"alice", "secret", std::nullopt});
    specs.push_back({"bob,=", "pa=ss,word", std::vector<std::string>{"default"}});
    sasl::UserDatabaseOptions options;
    // Deterministic salts, so a crash input replays the same exchange.
    options.salt_source = [](std::string_view user, HashAlgorithm hash) {
      return std::string(user) + "-salt-" + std::to_string(static_cast<int>(hash));
    };
    auto db = sasl::UserDatabase::Create(std::move(specs), options);
    FUZZ_CHECK(db.ok(), "the fixed user database builds");
    return std::shared_ptr<const sasl::UserDatabase>(std::move(*db));
  }();
  return users;
}

sasl::ServerSession NewSession() {
  sasl::ServerSessionOptions options;
  options.server_nonce = std::string(kServerNonce);
  return sasl::ServerSession(Users(), options);
}

void CheckStep(const AuthStep& step) {
  switch (step.result) {
    case AuthResult::kError:
      FUZZ_CHECK(step.response.empty(), "a failure sends nothing to the client");
      FUZZ_CHECK(step.user.empty(), "a failure names no user");
      break;
    case AuthResult::kOk:
      FUZZ_CHECK(!step.user.empty() && Users()->Find(step.user) != nullptr,
                 "success names a user of the database");
      break;
    case AuthResult::kContinue:
      FUZZ_CHECK(!step.response.empty(), "a SCRAM continue carries the server-first message");
      FUZZ_CHECK(step.user.empty(), "no user before the exchange completes");
      break;
  }
}

HashAlgorithm PickHash(uint8_t b) {
  switch (b % 3) {
    case 0:
      return HashAlgorithm::kSha1;
    case 1:
      return HashAlgorithm::kSha256;
    default:
      return HashAlgorithm::kSha512;
  }
}

Mechanism ScramMechanism(HashAlgorithm hash) {
  switch (hash) {
    case HashAlgorithm::kSha1:
      return Mechanism::kScramSha1;
    case HashAlgorithm::kSha256:
      return Mechanism::kScramSha256;
    case HashAlgorithm::kSha512:
      break;
  }
  return Mechanism::kScramSha512;
}

void ServerRaw(FuzzInput& in) {
  const uint8_t pick = in.U8();
  std::string mechanism;
  if (pick < 4) {
    mechanism = std::string(sasl::MechanismName(static_cast<Mechanism>(pick)));
  } else {
    mechanism = std::string(in.Str());
  }
  const std::string_view first = in.Str();
  const std::string_view final_message = in.Str();
  const std::string_view extra = in.Rest();

  sasl::ServerSession session = NewSession();
  AuthStep step = session.Start(mechanism, first);
  CheckStep(step);
  if (step.result != AuthResult::kContinue) {
    // PLAIN finished (or anything failed) at Start: no step is expected.
    FUZZ_CHECK(session.Step(final_message).result == AuthResult::kError,
               "a finished session refuses steps");
    FUZZ_CHECK(session.Start(mechanism, first).result == AuthResult::kError,
               "a session starts once");
    return;
  }
  step = session.Step(final_message);
  CheckStep(step);
  FUZZ_CHECK(step.result != AuthResult::kContinue, "SCRAM has one step");
  FUZZ_CHECK(session.Step(extra).result == AuthResult::kError, "a finished session refuses steps");
}

// One honest SCRAM exchange: what the client sends and what the server must answer.
struct Honest {
  std::string client_first;
  std::string client_final;
  std::string server_final;  // empty when the credentials are wrong
};

struct Who {
  std::string user;
  std::string password;
  bool valid;
};

Who PickWho(uint8_t b) {
  switch (b % 4) {
    case 0:
      return {"alice", "secret", true};
    case 1:
      return {"alice", "Secret", false};
    case 2:
      return {"bob,=", "pa=ss,word", true};
    default:
      return {"mallory", "secret", false};
  }
}

const Honest& HonestExchange(HashAlgorithm hash, uint8_t who_pick) {
  static std::map<std::pair<int, int>, Honest> cache;
  const auto key = std::make_pair(static_cast<int>(hash), who_pick % 4);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  const Who who = PickWho(who_pick);
  sasl::ScramClientOptions options;
  options.nonce = std::string(kClientNonce);
  sasl::ScramClient client(ScramMechanism(hash), who.user, who.password, options);
  auto first = client.Start();
  FUZZ_CHECK(first.ok(), "the honest client starts");
  sasl::ServerSession session = NewSession();
  const AuthStep server_first = session.Start(sasl::MechanismName(ScramMechanism(hash)), *first);
  // Unknown users get a server-first too (with a fake salt), so the client cannot tell.
  FUZZ_CHECK(server_first.result == AuthResult::kContinue, "SCRAM start continues");
  auto final_message = client.Step(server_first.response);
  FUZZ_CHECK(final_message.ok(), "the honest client accepts the server-first message");
  const AuthStep server_final = session.Step(*final_message);
  FUZZ_CHECK((server_final.result == AuthResult::kOk) == who.valid,
             "exactly the right password authenticates");
  if (who.valid) {
    FUZZ_CHECK(server_final.user == who.user, "the authenticated user is the client's");
    FUZZ_CHECK(client.Verify(server_final.response).ok(), "the server proves the password too");
  }
  Honest honest{*first, *final_message, server_final.response};
  return cache.emplace(key, std::move(honest)).first->second;
}

void ServerHonest(FuzzInput& in) {
  const HashAlgorithm hash = PickHash(in.U8());
  const uint8_t who = in.U8();
  const uint8_t tamper = in.U8();
  const std::string_view bytes = in.Str();
  const Honest& honest = HonestExchange(hash, who);

  std::string first = honest.client_first;
  std::string final_message = honest.client_final;
  std::string& target = (tamper & 0x80) != 0 ? first : final_message;
  bool tampered = true;
  switch (tamper & 0x7f) {
    case 0:
      tampered = false;
      break;
    case 1:
      target = std::string(bytes);
      break;
    case 2:
      target.append(bytes);
      break;
    case 3:
      if (!target.empty() && !bytes.empty()) {
        target[static_cast<uint8_t>(bytes[0]) % target.size()] ^= bytes.size() > 1 ? bytes[1] : 1;
      }
      break;
    default: {
      const size_t at = target.empty() ? 0 : tamper % (target.size() + 1);
      target.insert(at, bytes);
      break;
    }
  }
  tampered = tampered && (first != honest.client_first || final_message != honest.client_final);

  sasl::ServerSession session = NewSession();
  AuthStep step = session.Start(sasl::MechanismName(ScramMechanism(hash)), first);
  CheckStep(step);
  if (step.result != AuthResult::kContinue) return;
  step = session.Step(final_message);
  CheckStep(step);
  if (!tampered) {
    FUZZ_CHECK((step.result == AuthResult::kOk) == !honest.server_final.empty(),
               "an honest exchange replays the same way");
    if (step.result == AuthResult::kOk) {
      FUZZ_CHECK(step.response == honest.server_final, "the same server signature");
    }
  }
}

void Client(FuzzInput& in) {
  const HashAlgorithm hash = PickHash(in.U8());
  const std::string_view server_first = in.Str();
  const std::string_view server_final = in.Rest();
  sasl::ScramClientOptions options;
  options.nonce = std::string(kClientNonce);
  // Keep PBKDF2 cheap; the bounds check itself is part of what is fuzzed.
  options.min_iterations = 1;
  options.max_iterations = 64;
  sasl::ScramClient client(ScramMechanism(hash), "alice", "secret", options);
  auto first = client.Start();
  FUZZ_CHECK(first.ok(), "the client starts");
  auto final_message = client.Step(server_first);
  if (!final_message.ok()) {
    FUZZ_CHECK(client.state() == sasl::ScramClient::State::kFailed, "a failed step fails");
    FUZZ_CHECK(!client.Verify(server_final).ok(), "a failed client verifies nothing");
    return;
  }
  const Status verified = client.Verify(server_final);
  FUZZ_CHECK(verified.ok() == (client.state() == sasl::ScramClient::State::kDone),
             "done exactly when verified");
  FUZZ_CHECK(!client.Verify(server_final).ok(), "a finished client verifies nothing more");
}

void Parsers(FuzzInput& in) {
  const std::string_view a = in.Str();
  const std::string_view b = in.Str();
  const std::string_view c = in.Rest();
  for (std::string_view m : {a, b, c}) {
    if (auto cf = sasl::ParseClientFirst(m); cf.ok()) {
      FUZZ_CHECK(!cf->user.empty(), "a client-first names a user");
      FUZZ_CHECK(m.size() >= cf->bare.size() && m.substr(m.size() - cf->bare.size()) == cf->bare,
                 "client-first-bare is the message's tail");
    }
    if (auto sf = sasl::ParseServerFirst(m); sf.ok()) {
      FUZZ_CHECK(!sf->salt.empty() && sf->iterations >= 1, "server-first salt and iterations");
    }
    if (auto fin = sasl::ParseClientFinal(m); fin.ok()) {
      FUZZ_CHECK(m.substr(0, fin->without_proof.size()) == fin->without_proof,
                 "client-final-without-proof is the message's head");
    }
    sasl::ParseServerFinal(m).status().IgnoreError();  // must not crash
    if (auto name = sasl::DecodeSaslName(m); name.ok()) {
      auto again = sasl::DecodeSaslName(sasl::EncodeSaslName(*name));
      FUZZ_CHECK(again.ok() && *again == *name, "a decoded saslname re-encodes");
    }
    if (!m.empty()) {
      auto decoded = sasl::DecodeSaslName(sasl::EncodeSaslName(m));
      FUZZ_CHECK(decoded.ok() && *decoded == m, "an encoded saslname decodes");
    }
    if (auto bytes = sasl::Base64Decode(m); bytes.ok()) {
      auto again = sasl::Base64Decode(sasl::Base64Encode(*bytes));
      FUZZ_CHECK(again.ok() && *again == *bytes, "base64 round-trips");
    }
  }
  if (auto plain = sasl::PlainClientMessage(a, b, c); plain.ok()) {
    FUZZ_CHECK(plain->size() == a.size() + b.size() + c.size() + 2, "PLAIN is authzid\\0user\\0pw");
  }
}

}  // namespace
}  // namespace sluice::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sluice::fuzz::FuzzInput in(data, size);
  switch (in.U8() % 4) {
    case 0:
      sluice::fuzz::ServerRaw(in);
      break;
    case 1:
      sluice::fuzz::ServerHonest(in);
      break;
    case 2:
      sluice::fuzz::Client(in);
      break;
    default:
      sluice::fuzz::Parsers(in);
      break;
  }
  return 0;
}
