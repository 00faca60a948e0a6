#include "sasl/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cassert>
#include <climits>
#include <cstdlib>

#include "common/logging.h"

namespace sluice::sasl {
namespace {

const EVP_MD* Md(HashAlgorithm hash) {
  switch (hash) {
    case HashAlgorithm::kSha1:
      return EVP_sha1();
    case HashAlgorithm::kSha256:
      return EVP_sha256();
    case HashAlgorithm::kSha512:
      return EVP_sha512();
  }
  return EVP_sha512();
}

[[noreturn]] void OpenSslFailure(const char* what) {
  LOG_CRITICAL("sasl: OpenSSL {} failed; cannot continue", what);
  std::abort();
}

const unsigned char* Bytes(std::string_view s) {
  return reinterpret_cast<const unsigned char*>(s.data());
}

unsigned char* MutableBytes(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }

}  // namespace

std::string_view HashName(HashAlgorithm hash) {
  switch (hash) {
    case HashAlgorithm::kSha1:
      return "SHA1";
    case HashAlgorithm::kSha256:
      return "SHA256";
    case HashAlgorithm::kSha512:
      return "SHA512";
  }
  return "?";
}

size_t DigestSize(HashAlgorithm hash) {
  switch (hash) {
    case HashAlgorithm::kSha1:
      return 20;
    case HashAlgorithm::kSha256:
      return 32;
    case HashAlgorithm::kSha512:
      return 64;
  }
  return 0;
}

std::string Digest(HashAlgorithm hash, std::string_view data) {
  std::string out(DigestSize(hash), '\0');
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), MutableBytes(out), &len, Md(hash), nullptr) != 1 ||
      len != out.size()) {
    OpenSslFailure("EVP_Digest");
  }
  return out;
}

std::string Hmac(HashAlgorithm hash, std::string_view key, std::string_view data) {
  if (key.size() > INT_MAX) OpenSslFailure("HMAC (key too long)");
  std::string out(DigestSize(hash), '\0');
  unsigned int len = 0;
  if (HMAC(Md(hash), key.data(), static_cast<int>(key.size()), Bytes(data), data.size(),
           MutableBytes(out), &len) == nullptr ||
      len != out.size()) {
    OpenSslFailure("HMAC");
  }
  return out;
}

StatusOr<std::string> Pbkdf2(HashAlgorithm hash, std::string_view password, std::string_view salt,
                             uint32_t iterations) {
  if (iterations == 0) return Status(Errc::kInvalid, "PBKDF2 iteration count must be >= 1");
  if (password.size() > INT_MAX || salt.size() > INT_MAX || iterations > INT_MAX) {
    return Status(Errc::kInvalid, "PBKDF2 input too large");
  }
  std::string out(DigestSize(hash), '\0');
  if (PKCS5_PBKDF2_HMAC(password.data(), static_cast<int>(password.size()), Bytes(salt),
                        static_cast<int>(salt.size()), static_cast<int>(iterations), Md(hash),
                        static_cast<int>(out.size()), MutableBytes(out)) != 1) {
    return Status(Errc::kInternal, "PKCS5_PBKDF2_HMAC failed");
  }
  return out;
}

StatusOr<std::string> RandomBytes(size_t size) {
  if (size > INT_MAX) return Status(Errc::kInvalid, "too many random bytes requested");
  std::string out(size, '\0');
  if (size > 0 && RAND_bytes(MutableBytes(out), static_cast<int>(size)) != 1) {
    return Status(Errc::kInternal, "RAND_bytes failed");
  }
  return out;
}

std::string Base64Encode(std::string_view bytes) {
  if (bytes.size() > INT_MAX / 2) OpenSslFailure("EVP_EncodeBlock (input too long)");
  // 4 output characters per 3 input bytes, plus the NUL EVP_EncodeBlock writes.
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int len = EVP_EncodeBlock(MutableBytes(out), Bytes(bytes), static_cast<int>(bytes.size()));
  if (len < 0 || static_cast<size_t>(len) >= out.size()) OpenSslFailure("EVP_EncodeBlock");
  out.resize(static_cast<size_t>(len));
  return out;
}

StatusOr<std::string> Base64Decode(std::string_view text) {
  if (text.empty()) return std::string();
  if (text.size() % 4 != 0 || text.size() > INT_MAX / 2) {
    return Status(Errc::kInvalid, "base64 length is not a multiple of 4");
  }
  std::string out(3 * (text.size() / 4) + 1, '\0');
  int len = EVP_DecodeBlock(MutableBytes(out), Bytes(text), static_cast<int>(text.size()));
  if (len < 0) return Status(Errc::kInvalid, "invalid base64");
  // EVP_DecodeBlock decodes the padding as zero bytes; drop one byte per trailing '='.
  size_t padding = 0;
  if (text.back() == '=') ++padding;
  if (text.size() >= 2 && text[text.size() - 2] == '=') ++padding;
  if (static_cast<size_t>(len) < padding) return Status(Errc::kInvalid, "invalid base64");
  out.resize(static_cast<size_t>(len) - padding);
  // EVP_DecodeBlock tolerates surrounding whitespace and non-zero trailing bits; only the
  // canonical encoding round-trips, so this one comparison makes decoding strict.
  if (Base64Encode(out) != text) return Status(Errc::kInvalid, "non-canonical base64");
  return out;
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

ScramKeys DeriveScramKeys(HashAlgorithm hash, std::string_view salted_password) {
  ScramKeys keys;
  keys.stored_key = Digest(hash, ScramClientKey(hash, salted_password));
  keys.server_key = Hmac(hash, salted_password, "Server Key");
  return keys;
}

std::string ScramClientKey(HashAlgorithm hash, std::string_view salted_password) {
  return Hmac(hash, salted_password, "Client Key");
}

std::string XorBytes(std::string_view a, std::string_view b) {
  assert(a.size() == b.size());
  std::string out(a.size(), '\0');
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
    out[i] = static_cast<char>(static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i]));
  }
  return out;
}

}  // namespace sluice::sasl
