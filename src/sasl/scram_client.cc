#include "sasl/scram_client.h"

#include <openssl/crypto.h>

#include <cassert>
#include <utility>

#include "sasl/scram_messages.h"

namespace sluice::sasl {
namespace {

constexpr size_t kClientNonceBytes = 24;  // 32 base64 characters, no padding
constexpr std::string_view kGs2Header = "n,,";

[[maybe_unused]] bool IsValidTransition(ScramClient::State from, ScramClient::State to) {
  using State = ScramClient::State;
  if (to == State::kFailed) return from != State::kDone && from != State::kFailed;
  switch (from) {
    case State::kInitial:
      return to == State::kAwaitingServerFirst;
    case State::kAwaitingServerFirst:
      return to == State::kAwaitingServerFinal;
    case State::kAwaitingServerFinal:
      return to == State::kDone;
    case State::kDone:
    case State::kFailed:
      return false;
  }
  return false;
}

}  // namespace

ScramClient::ScramClient(Mechanism mechanism, std::string user, std::string password,
                         ScramClientOptions options)
    : mechanism_(mechanism),
      user_(std::move(user)),
      options_(std::move(options)),
      password_(std::move(password)) {}

ScramClient::~ScramClient() { WipePassword(); }

void ScramClient::WipePassword() {
  if (!password_.empty()) OPENSSL_cleanse(password_.data(), password_.size());
  password_.clear();
}

void ScramClient::TransitionTo(State next) {
  assert(IsValidTransition(state_, next));
  state_ = next;
}

Status ScramClient::Fail(Status status) {
  if (state_ != State::kDone && state_ != State::kFailed) TransitionTo(State::kFailed);
  WipePassword();
  return status;
}

StatusOr<std::string> ScramClient::Start() {
  if (state_ != State::kInitial) return Fail(Status(Errc::kInvalid, "Start called out of order"));
  if (!ScramHash(mechanism_)) {
    return Fail(Status(Errc::kInvalid, "ScramClient needs a SCRAM mechanism, not " +
                                           std::string(MechanismName(mechanism_))));
  }
  if (user_.empty()) return Fail(Status(Errc::kInvalid, "empty user name"));
  client_nonce_ = options_.nonce;
  if (client_nonce_.empty()) {
    auto random = RandomBytes(kClientNonceBytes);
    if (!random.ok()) return Fail(random.status());
    client_nonce_ = Base64Encode(*random);
  } else if (client_nonce_.find(',') != std::string::npos) {
    return Fail(Status(Errc::kInvalid, "client nonce must not contain ','"));
  }
  client_first_bare_ = "n=" + EncodeSaslName(user_) + ",r=" + client_nonce_;
  TransitionTo(State::kAwaitingServerFirst);
  return std::string(kGs2Header) + client_first_bare_;
}

StatusOr<std::string> ScramClient::Step(std::string_view server_first) {
  if (state_ != State::kAwaitingServerFirst) {
    return Fail(Status(Errc::kInvalid, "Step called out of order"));
  }
  const HashAlgorithm hash = *ScramHash(mechanism_);
  auto parsed = ParseServerFirst(server_first);
  if (!parsed.ok()) {
    return Fail(Status(Errc::kInvalid, "server-first: " + std::string(parsed.status().message())));
  }
  if (parsed->nonce.size() <= client_nonce_.size() ||
      parsed->nonce.compare(0, client_nonce_.size(), client_nonce_) != 0) {
    return Fail(Status(Errc::kInvalid, "server-first: nonce does not extend the client nonce"));
  }
  if (parsed->iterations < options_.min_iterations ||
      parsed->iterations > options_.max_iterations) {
    return Fail(Status(Errc::kInvalid, "server-first: iteration count " +
                                           std::to_string(parsed->iterations) + " outside [" +
                                           std::to_string(options_.min_iterations) + ", " +
                                           std::to_string(options_.max_iterations) + "]"));
  }

  auto salted = Pbkdf2(hash, password_, parsed->salt, static_cast<uint32_t>(parsed->iterations));
  WipePassword();
  if (!salted.ok()) return Fail(salted.status());
  const std::string client_key = ScramClientKey(hash, *salted);
  const ScramKeys keys = DeriveScramKeys(hash, *salted);
  OPENSSL_cleanse(salted->data(), salted->size());

  const std::string without_proof = "c=" + Base64Encode(kGs2Header) + ",r=" + parsed->nonce;
  const std::string auth_message =
      ScramAuthMessage(client_first_bare_, server_first, without_proof);
  const std::string proof = XorBytes(client_key, Hmac(hash, keys.stored_key, auth_message));
  expected_server_signature_ = Hmac(hash, keys.server_key, auth_message);
  TransitionTo(State::kAwaitingServerFinal);
  return without_proof + ",p=" + Base64Encode(proof);
}

Status ScramClient::Verify(std::string_view server_final) {
  if (state_ != State::kAwaitingServerFinal) {
    return Fail(Status(Errc::kInvalid, "Verify called out of order"));
  }
  auto signature = ParseServerFinal(server_final);
  if (!signature.ok()) {
    return Fail(Status(signature.status().code(),
                       "server-final: " + std::string(signature.status().message())));
  }
  if (!ConstantTimeEqual(*signature, expected_server_signature_)) {
    return Fail(Status(Errc::kAuthError,
                       "server signature mismatch: the server does not know "
                       "the password"));
  }
  TransitionTo(State::kDone);
  return Status::Ok();
}

StatusOr<std::string> PlainClientMessage(std::string_view user, std::string_view password,
                                         std::string_view authzid) {
  if (user.empty()) return Status(Errc::kInvalid, "empty user name");
  for (std::string_view part : {user, password, authzid}) {
    if (part.find('\0') != std::string_view::npos) {
      return Status(Errc::kInvalid, "PLAIN user, password and authzid must not contain NUL");
    }
  }
  std::string out;
  out.reserve(authzid.size() + user.size() + password.size() + 2);
  out += authzid;
  out += '\0';
  out += user;
  out += '\0';
  out += password;
  return out;
}

}  // namespace sluice::sasl
