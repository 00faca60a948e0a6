// File: sasl/scram_messages.h
//
// The grammar of the four SCRAM messages (RFC 5802 section 7), parsed and built in one place so
// the server session and the client agree on it. Parsers validate syntax only (attribute order,
// mandatory attributes, base64, numbers); the cryptographic checks belong to the callers.
//
// What is accepted, deliberately narrower than the RFC where the RFC leaves room:
//   - gs2 header: "n," or "y," then an empty authzid or "a=<saslname>", then ",". Channel binding
//     ("p=...") is refused: sluice advertises no -PLUS mechanism.
//   - client-first-bare: exactly "n=<saslname>,r=<nonce>". A leading "m=" (mandatory extension)
//     and any other extension are refused (kv_engine refuses them too).
//   - Nonces are opaque: everything after "r=" up to the next comma. The RFC asks for printable
//     characters, but the Couchbase C++ SDK sends a hex dump with spaces.
//   - client-final: exactly "c=<b64>,r=<nonce>,p=<b64>".
//   - server-first: "r=..,s=..,i=.." with trailing extensions ignored; "m=" refused.
//   - server-final: "v=<b64>" or "e=<error>", trailing extensions ignored.
//
// Errors are Status(kInvalid, reason); the reason is for logs and tests, never for the peer.
//
// Thread safety: pure functions and plain structs; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice::sasl {

// Largest SCRAM message either side parses; anything longer is refused before parsing.
inline constexpr size_t kMaxScramMessageSize = 16 * 1024;

// saslname escaping (RFC 5802 section 5.1): ',' <-> "=2C" and '=' <-> "=3D". Decoding refuses
// any other '=' sequence and empty names.
std::string EncodeSaslName(std::string_view name);
StatusOr<std::string> DecodeSaslName(std::string_view saslname);

struct ClientFirstMessage {
  std::string gs2_header;  // "n,," / "y,," / "n,a=..,": the bytes c= must carry back
  std::string authzid;     // decoded; empty when absent
  std::string user;        // decoded n= value
  std::string nonce;       // r= value, opaque
  std::string bare;        // client-first-message-bare, as sent (input to AuthMessage)
};
StatusOr<ClientFirstMessage> ParseClientFirst(std::string_view message);

struct ServerFirstMessage {
  std::string nonce;    // combined client+server nonce
  std::string salt;     // decoded bytes, never empty
  uint64_t iterations;  // as sent (the caller enforces its own bounds), >= 1
};
StatusOr<ServerFirstMessage> ParseServerFirst(std::string_view message);
std::string BuildServerFirst(std::string_view nonce, std::string_view salt, uint32_t iterations);

struct ClientFinalMessage {
  std::string channel_binding;  // decoded c= bytes
  std::string nonce;            // r= value
  std::string proof;            // decoded p= bytes
  std::string without_proof;    // client-final-message-without-proof (input to AuthMessage)
};
StatusOr<ClientFinalMessage> ParseClientFinal(std::string_view message);

// The decoded server signature of "v=<b64>"; kAuthError carrying the server's text for "e=..".
StatusOr<std::string> ParseServerFinal(std::string_view message);

// AuthMessage = client-first-message-bare "," server-first-message ","
//               client-final-message-without-proof
std::string ScramAuthMessage(std::string_view client_first_bare, std::string_view server_first,
                             std::string_view client_final_without_proof);

}  // namespace sluice::sasl
