// File: sasl/users.h
//
// UserDatabase: the users sluice authenticates, loaded from the users file
//
//   {"users": [{"name": "alice", "password": "s3cret", "buckets": ["default"]}, ...]}
//
// "buckets" is optional: absent means the user may select every bucket; present (possibly
// empty) lists the only buckets the server lets the user SELECT_BUCKET. Unknown keys are errors
// (a misspelt "bucket" must not silently grant access to every bucket).
//
// What is kept per user. At load time, for each SCRAM hash (SHA1, SHA256, SHA512), a fresh random
// 16-byte salt, the iteration count, and the StoredKey and ServerKey of RFC 5802; the salted
// password itself is discarded. For PLAIN, a separately salted HMAC-SHA256 of the password,
// compared in constant time. The plaintext password is not retained.
//
// Unknown users. SCRAM must not reveal whether a user exists, so the database also derives, for
// any name it does not hold, a deterministic fake credential (salt, StoredKey, ServerKey) as an
// HMAC of the name under a secret drawn at random when the database is built. The same name gets
// the same fake salt for the life of this database, like a real user's; a reload changes real
// and fake salts alike, so a reload is no distinguisher either. A fake credential never verifies.
//
// Ownership: built by LoadFile/Parse/Create and returned as unique_ptr; the server turns it into
// a shared_ptr<const UserDatabase> and hands copies to ServerSessions.
// Thread safety: immutable after construction; every method is const and thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "sasl/crypto.h"

namespace sluice::sasl {

// RFC 5802 section 5.1 asks for at least 4096 iterations; above a million a login costs seconds.
inline constexpr uint32_t kDefaultScramIterations = 4096;
inline constexpr uint32_t kMinScramIterations = 4096;
inline constexpr uint32_t kMaxScramIterations = 1'000'000;
inline constexpr size_t kScramSaltSize = 16;

struct UserDatabaseOptions {
  // PBKDF2 iteration count for every user and hash; in [kMinScramIterations, kMaxScramIterations].
  uint32_t iterations = kDefaultScramIterations;
  // Injected seam for tests (e.g. RFC test vectors): returns the salt for (user, hash). Null
  // means kScramSaltSize random bytes per user and hash, which is what the server uses.
  std::function<std::string(std::string_view user, HashAlgorithm hash)> salt_source;
};

// What one SCRAM exchange needs from the server's side.
struct ScramCredential {
  std::string salt;  // raw bytes
  uint32_t iterations = 0;
  std::string stored_key;  // H(ClientKey)
  std::string server_key;  // HMAC(SaltedPassword, "Server Key")
};

// One entry of the users file, as given (input to UserDatabase::Create).
struct UserSpec {
  std::string name;
  std::string password;
  std::optional<std::vector<std::string>> buckets;  // nullopt = every bucket
};

class User {
 public:
  const std::string& name() const { return name_; }
  // nullopt: the user may select every bucket.
  const std::optional<std::vector<std::string>>& buckets() const { return buckets_; }
  bool MayAccessBucket(std::string_view bucket) const;
  const ScramCredential& scram(HashAlgorithm hash) const {
    return scram_[static_cast<size_t>(hash)];
  }

 private:
  friend class UserDatabase;
  User() = default;

  std::string name_;
  std::optional<std::vector<std::string>> buckets_;
  std::array<ScramCredential, 3> scram_;  // indexed by HashAlgorithm
  std::string plain_salt_;
  std::string plain_hash_;  // HMAC-SHA256(plain_salt_, password)
};

// The entries of a users file, as written (plaintext passwords included): for a server that must
// itself log in elsewhere as one of its users (the replicator). Errors as UserDatabase::LoadFile.
StatusOr<std::vector<UserSpec>> ReadUserSpecs(const std::string& path);

class UserDatabase {
 public:
  // Reads and parses the users file at `path`. kIoError if it cannot be read, kInvalid (message
  // naming the file and the offending entry) if its content is wrong.
  static StatusOr<std::unique_ptr<const UserDatabase>> LoadFile(
      const std::string& path, const UserDatabaseOptions& options = {});
  // Parses users-file JSON; `origin` (e.g. the path) prefixes every error message.
  static StatusOr<std::unique_ptr<const UserDatabase>> Parse(
      std::string_view json_text, std::string_view origin, const UserDatabaseOptions& options = {});
  // Builds from already-parsed entries: names unique and non-empty, passwords non-empty, no NUL
  // bytes in either (PLAIN could not carry them).
  static StatusOr<std::unique_ptr<const UserDatabase>> Create(
      std::vector<UserSpec> users, const UserDatabaseOptions& options = {});

  UserDatabase(const UserDatabase&) = delete;
  UserDatabase& operator=(const UserDatabase&) = delete;

  // The user called `name`, or null. The pointer lives as long as this database.
  const User* Find(std::string_view name) const;
  size_t size() const { return users_.size(); }
  uint32_t iterations() const { return iterations_; }

  // `name`'s credential for `hash` if the user exists, else the deterministic fake one (same
  // salt size and iteration count). *known says which; callers must still run the full proof
  // check for fake credentials and only then fail.
  ScramCredential ScramCredentialFor(std::string_view name, HashAlgorithm hash, bool* known) const;

  // PLAIN: the user if `password` is right, else null. Does the same hashing work whether or not
  // the user exists, and compares in constant time.
  const User* CheckPassword(std::string_view name, std::string_view password) const;

 private:
  UserDatabase() = default;

  // ---- Constant after construction ----
  uint32_t iterations_ = kDefaultScramIterations;
  std::string fake_secret_;  // random key for fake credentials of unknown users
  std::map<std::string, User, std::less<>> users_;  // by name
};

}  // namespace sluice::sasl
