// File: sasl/server_session.h
//
// ServerSession: the server's side of one SASL authentication attempt (SASL_AUTH and the
// SASL_STEPs that follow it) for PLAIN (RFC 4616) and SCRAM-SHA1/256/512 (RFC 5802, without
// channel binding). A pure state machine: bytes in, bytes out, no I/O and no logging.
//
// Usage (the connection's command handler):
//   SASL_AUTH(mech, value) -> session = ServerSession(users); step = session.Start(mech, value)
//   SASL_STEP(mech, value) -> step = session.Step(value)
//   step.result: kContinue -> reply AuthContinue (0x21) with step.response
//                kOk       -> reply Success with step.response; the connection is now step.user
//                kError    -> reply AuthError (0x20) with no value; log step.reason
// A new SASL_AUTH starts a new session.
//
// Failures are deliberately uniform: every failure (unknown mechanism, malformed message, unknown
// user, wrong password, tampered nonce or channel binding) is the same kError with an empty
// response; only `reason`, for the server's log, tells them apart and must never be sent to the
// client. For SCRAM an unknown user gets a server-first message with a fake but stable salt and
// the usual iteration count, and fails at Step exactly like a wrong password.
//
// State machine (one transition check: TransitionTo):
//
//   kInitial --Start(PLAIN, right password)--------------------------> kAuthenticated
//   kInitial --Start(SCRAM, well-formed)--> kAwaitingClientFinal --Step(valid proof)--^
//   any non-terminal state --failure or out-of-order call--> kFailed
//   kAuthenticated and kFailed are terminal: further calls return kError.
//
// Ownership: owned by the connection, one per attempt. Holds a shared_ptr to the UserDatabase it
// was built with, so a concurrent reload (which swaps the server's pointer) cannot pull the
// credentials from under an exchange in flight.
// Thread safety: thread-compatible; used by the connection's thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "sasl/crypto.h"
#include "sasl/mechanism.h"
#include "sasl/users.h"

namespace sluice::sasl {

enum class AuthResult : uint8_t { kOk, kContinue, kError };

struct AuthStep {
  AuthResult result = AuthResult::kError;
  // Bytes for the client: server-first on kContinue, "v=<b64>" on a SCRAM kOk, empty for a PLAIN
  // kOk and always empty on kError.
  std::string response;
  // The authenticated user on kOk; empty otherwise.
  std::string user;
  // kError only: why, for the server's log. NEVER send it to the client.
  std::string reason;
};

struct ServerSessionOptions {
  // Injected seam for tests (RFC test vectors): the server's nonce part. Empty means 18 random
  // bytes, base64-encoded (24 characters).
  std::string server_nonce;
};

class ServerSession {
 public:
  enum class State : uint8_t { kInitial, kAwaitingClientFinal, kAuthenticated, kFailed };

  explicit ServerSession(std::shared_ptr<const UserDatabase> users,
                         ServerSessionOptions options = {});

  ServerSession(const ServerSession&) = delete;
  ServerSession& operator=(const ServerSession&) = delete;

  // SASL_AUTH: `mechanism` as the client named it, `client_message` its value.
  AuthStep Start(std::string_view mechanism, std::string_view client_message);
  // SASL_STEP: the SCRAM client-final message.
  AuthStep Step(std::string_view client_message);

  State state() const { return state_; }

 private:
  AuthStep StartPlain(std::string_view message);
  AuthStep StartScram(HashAlgorithm hash, std::string_view message);
  AuthStep Fail(std::string reason);
  void TransitionTo(State next);

  // ---- Constant after construction ----
  const std::shared_ptr<const UserDatabase> users_;
  const ServerSessionOptions options_;

  // ---- Exchange state (owner thread only) ----
  State state_ = State::kInitial;
  Mechanism mechanism_ = Mechanism::kPlain;
  HashAlgorithm hash_ = HashAlgorithm::kSha512;
  std::string user_;         // decoded name the client claimed
  bool user_known_ = false;  // false: credential_ is a fake one and Step must fail
  ScramCredential credential_;
  std::string gs2_header_;  // c= must decode to exactly this
  std::string client_first_bare_;
  std::string server_first_;
  std::string nonce_;  // client nonce + server nonce
};

}  // namespace sluice::sasl
