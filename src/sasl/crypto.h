// File: sasl/crypto.h
//
// The cryptographic primitives the SASL mechanisms are built from, as thin wrappers over
// OpenSSL 3 (EVP digests, HMAC(), PKCS5_PBKDF2_HMAC, RAND_bytes, EVP_EncodeBlock/DecodeBlock,
// CRYPTO_memcmp). Nothing here is hand-written cryptography; this file only adapts OpenSSL's C
// API to byte strings and Status values, and spells out the RFC 5802 key derivations once.
//
// Byte strings are std::string (any byte value, including NUL).
//
// Digest and HMAC cannot fail for valid inputs short of memory exhaustion; if OpenSSL reports a
// failure anyway the process aborts (an invariant violation, not an expected error).
//
// Thread safety: free functions without shared state; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice::sasl {

// The hash functions SCRAM is defined over here.
enum class HashAlgorithm : uint8_t { kSha1, kSha256, kSha512 };

// "SHA1", "SHA256", "SHA512".
std::string_view HashName(HashAlgorithm hash);
// Digest (and therefore key/proof/signature) length in bytes: 20, 32, 64.
size_t DigestSize(HashAlgorithm hash);

// H(data).
std::string Digest(HashAlgorithm hash, std::string_view data);
// HMAC(key, data).
std::string Hmac(HashAlgorithm hash, std::string_view key, std::string_view data);
// Hi(password, salt, iterations) of RFC 5802 = PBKDF2-HMAC with a digest-sized output.
// kInvalid for iterations == 0; kInternal if OpenSSL refuses (e.g. a FIPS provider's limits).
StatusOr<std::string> Pbkdf2(HashAlgorithm hash, std::string_view password, std::string_view salt,
                             uint32_t iterations);
// `size` bytes from OpenSSL's CSPRNG; kInternal if the generator fails.
StatusOr<std::string> RandomBytes(size_t size);

// Standard base64 (RFC 4648 alphabet, with '=' padding, no line breaks).
std::string Base64Encode(std::string_view bytes);
// Strict decoding: only the canonical encoding of some byte string is accepted (no whitespace, no
// missing padding, no stray bits). kInvalid otherwise.
StatusOr<std::string> Base64Decode(std::string_view text);

// Constant-time (in the content, not the length) equality of two byte strings.
bool ConstantTimeEqual(std::string_view a, std::string_view b);

// The two keys a SCRAM server keeps per user (RFC 5802 section 3), derived from the salted
// password: StoredKey = H(HMAC(SaltedPassword, "Client Key")),
// ServerKey = HMAC(SaltedPassword, "Server Key").
struct ScramKeys {
  std::string stored_key;
  std::string server_key;
};
ScramKeys DeriveScramKeys(HashAlgorithm hash, std::string_view salted_password);
// ClientKey = HMAC(SaltedPassword, "Client Key").
std::string ScramClientKey(HashAlgorithm hash, std::string_view salted_password);

// a XOR b. REQUIRES: a.size() == b.size().
std::string XorBytes(std::string_view a, std::string_view b);

}  // namespace sluice::sasl
