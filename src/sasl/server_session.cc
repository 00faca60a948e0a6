#include "sasl/server_session.h"

#include <cassert>
#include <utility>

#include "sasl/scram_messages.h"

namespace sluice::sasl {
namespace {

constexpr size_t kServerNonceBytes = 18;  // 24 base64 characters, no padding

[[maybe_unused]] bool IsValidTransition(ServerSession::State from, ServerSession::State to) {
  using State = ServerSession::State;
  switch (from) {
    case State::kInitial:
      return to == State::kAwaitingClientFinal || to == State::kAuthenticated ||
             to == State::kFailed;
    case State::kAwaitingClientFinal:
      return to == State::kAuthenticated || to == State::kFailed;
    case State::kAuthenticated:
    case State::kFailed:
      return false;
  }
  return false;
}

std::string_view StateName(ServerSession::State state) {
  using State = ServerSession::State;
  switch (state) {
    case State::kInitial:
      return "initial";
    case State::kAwaitingClientFinal:
      return "awaiting client-final";
    case State::kAuthenticated:
      return "authenticated";
    case State::kFailed:
      return "failed";
  }
  return "?";
}

}  // namespace

ServerSession::ServerSession(std::shared_ptr<const UserDatabase> users,
                             ServerSessionOptions options)
    : users_(std::move(users)), options_(std::move(options)) {}

void ServerSession::TransitionTo(State next) {
  assert(IsValidTransition(state_, next));
  state_ = next;
}

AuthStep ServerSession::Fail(std::string reason) {
  // A failure in a terminal state (a call after the end) leaves that state as it is.
  if (state_ != State::kAuthenticated && state_ != State::kFailed) TransitionTo(State::kFailed);
  AuthStep step;
  step.result = AuthResult::kError;
  step.reason = std::move(reason);
  return step;
}

AuthStep ServerSession::Start(std::string_view mechanism, std::string_view client_message) {
  if (state_ != State::kInitial) {
    return Fail("SASL start in state " + std::string(StateName(state_)));
  }
  if (users_ == nullptr) return Fail("no user database");
  std::optional<Mechanism> parsed = ParseMechanism(mechanism);
  if (!parsed) return Fail("unsupported mechanism \"" + std::string(mechanism) + "\"");
  mechanism_ = *parsed;
  std::optional<HashAlgorithm> hash = ScramHash(mechanism_);
  if (!hash) return StartPlain(client_message);
  return StartScram(*hash, client_message);
}

AuthStep ServerSession::StartPlain(std::string_view message) {
  // authzid NUL authcid NUL passwd (RFC 4616), exactly two NULs.
  size_t first = message.find('\0');
  size_t second = first == std::string_view::npos ? first : message.find('\0', first + 1);
  if (second == std::string_view::npos ||
      message.find('\0', second + 1) != std::string_view::npos) {
    return Fail("PLAIN: malformed message (expected authzid\\0user\\0password)");
  }
  std::string_view authzid = message.substr(0, first);
  std::string_view user = message.substr(first + 1, second - first - 1);
  std::string_view password = message.substr(second + 1);
  if (user.empty()) return Fail("PLAIN: empty user name");
  if (!authzid.empty() && authzid != user) {
    return Fail("PLAIN: authzid \"" + std::string(authzid) + "\" differs from user \"" +
                std::string(user) + "\"");
  }
  user_ = std::string(user);
  // Hash first, then decide: the work is the same for unknown users and wrong passwords.
  const bool known = users_->Find(user) != nullptr;
  const User* authenticated = users_->CheckPassword(user, password);
  if (authenticated == nullptr) {
    return Fail(std::string("PLAIN: ") + (known ? "wrong password" : "unknown user") + " for \"" +
                user_ + "\"");
  }
  TransitionTo(State::kAuthenticated);
  AuthStep step;
  step.result = AuthResult::kOk;
  step.user = user_;
  return step;
}

AuthStep ServerSession::StartScram(HashAlgorithm hash, std::string_view message) {
  const std::string mech(MechanismName(mechanism_));
  hash_ = hash;
  auto first = ParseClientFirst(message);
  if (!first.ok()) return Fail(mech + ": client-first: " + std::string(first.status().message()));
  if (!first->authzid.empty() && first->authzid != first->user) {
    return Fail(mech + ": authzid \"" + first->authzid + "\" differs from user \"" + first->user +
                "\"");
  }
  user_ = std::move(first->user);
  gs2_header_ = std::move(first->gs2_header);
  client_first_bare_ = std::move(first->bare);
  credential_ = users_->ScramCredentialFor(user_, hash_, &user_known_);

  std::string server_nonce = options_.server_nonce;
  if (server_nonce.empty()) {
    auto random = RandomBytes(kServerNonceBytes);
    if (!random.ok()) return Fail(mech + ": " + std::string(random.status().message()));
    server_nonce = Base64Encode(*random);
  }
  nonce_ = first->nonce + server_nonce;
  server_first_ = BuildServerFirst(nonce_, credential_.salt, credential_.iterations);

  TransitionTo(State::kAwaitingClientFinal);
  AuthStep step;
  step.result = AuthResult::kContinue;
  step.response = server_first_;
  return step;
}

AuthStep ServerSession::Step(std::string_view client_message) {
  if (state_ != State::kAwaitingClientFinal) {
    return Fail("SASL step in state " + std::string(StateName(state_)));
  }
  const std::string mech(MechanismName(mechanism_));
  auto final_message = ParseClientFinal(client_message);
  if (!final_message.ok()) {
    return Fail(mech + ": client-final: " + std::string(final_message.status().message()));
  }
  if (final_message->channel_binding != gs2_header_) {
    return Fail(mech + ": channel binding (c=) does not match the gs2 header");
  }
  if (final_message->nonce != nonce_) return Fail(mech + ": nonce (r=) mismatch");
  if (final_message->proof.size() != DigestSize(hash_)) {
    return Fail(mech + ": proof has the wrong length");
  }

  const std::string auth_message =
      ScramAuthMessage(client_first_bare_, server_first_, final_message->without_proof);
  const std::string client_signature = Hmac(hash_, credential_.stored_key, auth_message);
  const std::string client_key = XorBytes(final_message->proof, client_signature);
  const bool proof_ok = ConstantTimeEqual(Digest(hash_, client_key), credential_.stored_key);
  if (!user_known_) return Fail(mech + ": unknown user \"" + user_ + "\"");
  if (!proof_ok) return Fail(mech + ": wrong password for \"" + user_ + "\"");

  TransitionTo(State::kAuthenticated);
  AuthStep step;
  step.result = AuthResult::kOk;
  step.response = "v=" + Base64Encode(Hmac(hash_, credential_.server_key, auth_message));
  step.user = user_;
  return step;
}

}  // namespace sluice::sasl
