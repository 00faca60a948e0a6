// File: sasl/scram_client.h
//
// ScramClient: the client's side of one SCRAM-SHA1/256/512 exchange (RFC 5802, no channel
// binding: gs2 header "n,,"), used by sluice's own client and tools. Unlike the Couchbase SDK,
// it verifies the server signature: an exchange only counts as authenticated once Verify()
// returned OK. Also PlainClientMessage() for PLAIN (RFC 4616).
//
//   ScramClient c(Mechanism::kScramSha512, user, password);
//   ASSIGN_OR_RETURN(auto first, c.Start());        // SASL_AUTH value
//   ASSIGN_OR_RETURN(auto final, c.Step(reply1));   // reply1: the AuthContinue value
//   RETURN_IF_ERROR(c.Verify(reply2));              // reply2: the Success value
//
// The server's iteration count is bounded ([min_iterations, max_iterations], default
// [4096, 100000]): below, a man in the middle could make the proof cheap to brute-force; above,
// a hostile server could make the client burn CPU (100000 rounds of PBKDF2-HMAC-SHA512 take
// tens of milliseconds; Couchbase Server's default is 15000).
//
// State machine (one transition check: TransitionTo):
//
//   kInitial --Start--> kAwaitingServerFirst --Step--> kAwaitingServerFinal --Verify--> kDone
//   any non-terminal state --error or out-of-order call--> kFailed
//
// The password is wiped from memory once Step has derived the keys.
//
// Ownership: owned by whoever runs the exchange, one per attempt.
// Thread safety: thread-compatible.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"
#include "sasl/crypto.h"
#include "sasl/mechanism.h"

namespace sluice::sasl {

inline constexpr uint32_t kDefaultClientMaxIterations = 100'000;

struct ScramClientOptions {
  // Injected seam for tests (RFC test vectors): the client nonce. Empty means 24 random bytes,
  // base64-encoded. Must not contain ','.
  std::string nonce;
  uint32_t min_iterations = 4096;
  uint32_t max_iterations = kDefaultClientMaxIterations;
};

class ScramClient {
 public:
  enum class State : uint8_t {
    kInitial,
    kAwaitingServerFirst,
    kAwaitingServerFinal,
    kDone,
    kFailed
  };

  // `mechanism` must be a SCRAM mechanism (Start fails with kInvalid for PLAIN).
  ScramClient(Mechanism mechanism, std::string user, std::string password,
              ScramClientOptions options = {});
  ~ScramClient();

  ScramClient(const ScramClient&) = delete;
  ScramClient& operator=(const ScramClient&) = delete;

  // The client-first message "n,,n=<user>,r=<nonce>".
  [[nodiscard]] StatusOr<std::string> Start();
  // Given the server-first message, the client-final message "c=biws,r=..,p=..". kInvalid for a
  // malformed message, a nonce that does not extend ours, or an iteration count out of bounds.
  [[nodiscard]] StatusOr<std::string> Step(std::string_view server_first);
  // Checks the server-final message: OK only if v= carries the expected server signature;
  // kAuthError for a wrong signature or an "e=" error, kInvalid for a malformed message.
  [[nodiscard]] Status Verify(std::string_view server_final);

  State state() const { return state_; }

 private:
  Status Fail(Status status);
  void TransitionTo(State next);
  void WipePassword();

  // ---- Constant after construction ----
  const Mechanism mechanism_;
  const std::string user_;
  const ScramClientOptions options_;

  // ---- Exchange state ----
  State state_ = State::kInitial;
  std::string password_;  // wiped after Step
  std::string client_nonce_;
  std::string client_first_bare_;
  std::string expected_server_signature_;
};

// The PLAIN message "authzid\0user\0password" (authzid empty unless given). kInvalid for an
// empty user or a NUL byte in any part.
StatusOr<std::string> PlainClientMessage(std::string_view user, std::string_view password,
                                         std::string_view authzid = {});

}  // namespace sluice::sasl
