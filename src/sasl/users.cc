#include "sasl/users.h"

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>
#include <utility>

namespace sluice::sasl {
namespace {

constexpr std::array<HashAlgorithm, 3> kScramHashes = {HashAlgorithm::kSha1, HashAlgorithm::kSha256,
                                                       HashAlgorithm::kSha512};
constexpr size_t kSecretSize = 32;

// Domain-separated input to the fake-credential HMACs: "<what>\0<hash>\0<name>".
std::string FakeLabel(std::string_view what, std::string_view hash, std::string_view name) {
  std::string label(what);
  label += '\0';
  label += hash;
  label += '\0';
  label += name;
  return label;
}

Status FieldError(std::string_view origin, size_t index, std::string_view what) {
  std::string message(origin);
  message += ": users[" + std::to_string(index) + "]: ";
  message += what;
  return Status(Errc::kInvalid, message);
}

StatusOr<UserSpec> ParseUserEntry(const nlohmann::json& entry, std::string_view origin,
                                  size_t index) {
  if (!entry.is_object()) return FieldError(origin, index, "must be an object");
  UserSpec spec;
  for (auto it = entry.begin(); it != entry.end(); ++it) {
    const std::string& key = it.key();
    const nlohmann::json& value = it.value();
    if (key == "name") {
      if (!value.is_string()) return FieldError(origin, index, "\"name\" must be a string");
      spec.name = value.get<std::string>();
    } else if (key == "password") {
      if (!value.is_string()) return FieldError(origin, index, "\"password\" must be a string");
      spec.password = value.get<std::string>();
    } else if (key == "buckets") {
      if (!value.is_array()) {
        return FieldError(origin, index, "\"buckets\" must be an array of bucket names");
      }
      std::vector<std::string> buckets;
      for (const nlohmann::json& bucket : value) {
        if (!bucket.is_string() || bucket.get_ref<const std::string&>().empty()) {
          return FieldError(origin, index, "\"buckets\" entries must be non-empty strings");
        }
        buckets.push_back(bucket.get<std::string>());
      }
      spec.buckets = std::move(buckets);
    } else {
      return FieldError(origin, index,
                        "unknown key \"" + key + "\" (expected name, password, buckets)");
    }
  }
  if (!entry.contains("name")) return FieldError(origin, index, "missing \"name\"");
  if (!entry.contains("password")) {
    return FieldError(origin, index, "missing \"password\" (user \"" + spec.name + "\")");
  }
  return spec;
}

}  // namespace

bool User::MayAccessBucket(std::string_view bucket) const {
  if (!buckets_) return true;
  return std::find(buckets_->begin(), buckets_->end(), bucket) != buckets_->end();
}

namespace {

StatusOr<std::string> ReadUsersFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    return Status(Errc::kIoError,
                  "cannot open users file " + path + ": " + std::generic_category().message(err));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status(Errc::kIoError, "cannot read users file " + path);
  return text.str();
}

StatusOr<std::vector<UserSpec>> ParseSpecs(std::string_view json_text, std::string_view origin) {
  const std::string prefix(origin);
  nlohmann::json doc = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Status(Errc::kInvalid, prefix + ": not valid JSON");
  if (!doc.is_object()) return Status(Errc::kInvalid, prefix + ": top level must be an object");
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (it.key() != "users") {
      return Status(Errc::kInvalid,
                    prefix + ": unknown top-level key \"" + it.key() + "\" (expected \"users\")");
    }
  }
  auto users = doc.find("users");
  if (users == doc.end()) return Status(Errc::kInvalid, prefix + ": missing \"users\"");
  if (!users->is_array()) return Status(Errc::kInvalid, prefix + ": \"users\" must be an array");

  std::vector<UserSpec> specs;
  specs.reserve(users->size());
  for (size_t i = 0; i < users->size(); ++i) {
    ASSIGN_OR_RETURN(UserSpec spec, ParseUserEntry((*users)[i], origin, i));
    specs.push_back(std::move(spec));
  }
  return specs;
}

}  // namespace

StatusOr<std::vector<UserSpec>> ReadUserSpecs(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadUsersFile(path));
  return ParseSpecs(text, path);
}

StatusOr<std::unique_ptr<const UserDatabase>> UserDatabase::LoadFile(
    const std::string& path, const UserDatabaseOptions& options) {
  ASSIGN_OR_RETURN(std::string text, ReadUsersFile(path));
  return Parse(text, path, options);
}

StatusOr<std::unique_ptr<const UserDatabase>> UserDatabase::Parse(
    std::string_view json_text, std::string_view origin, const UserDatabaseOptions& options) {
  ASSIGN_OR_RETURN(std::vector<UserSpec> specs, ParseSpecs(json_text, origin));
  auto db = Create(std::move(specs), options);
  if (!db.ok()) {
    return Status(db.status().code(),
                  std::string(origin) + ": " + std::string(db.status().message()));
  }
  return db;
}

StatusOr<std::unique_ptr<const UserDatabase>> UserDatabase::Create(
    std::vector<UserSpec> users, const UserDatabaseOptions& options) {
  if (options.iterations < kMinScramIterations || options.iterations > kMaxScramIterations) {
    return Status(Errc::kInvalid, "SCRAM iteration count " + std::to_string(options.iterations) +
                                      " outside [" + std::to_string(kMinScramIterations) + ", " +
                                      std::to_string(kMaxScramIterations) + "]");
  }
  std::unique_ptr<UserDatabase> db(new UserDatabase());
  db->iterations_ = options.iterations;
  ASSIGN_OR_RETURN(db->fake_secret_, RandomBytes(kSecretSize));

  for (size_t i = 0; i < users.size(); ++i) {
    UserSpec& spec = users[i];
    const std::string where = "users[" + std::to_string(i) + "]: ";
    if (spec.name.empty()) return Status(Errc::kInvalid, where + "empty user name");
    if (spec.name.find('\0') != std::string::npos) {
      return Status(Errc::kInvalid, where + "user name contains a NUL byte");
    }
    const std::string who = where + "user \"" + spec.name + "\": ";
    if (spec.password.empty()) return Status(Errc::kInvalid, who + "empty password");
    if (spec.password.find('\0') != std::string::npos) {
      return Status(Errc::kInvalid, who + "password contains a NUL byte");
    }
    if (db->users_.count(spec.name) != 0) return Status(Errc::kInvalid, who + "duplicate user");

    User user;
    user.name_ = spec.name;
    user.buckets_ = std::move(spec.buckets);
    for (HashAlgorithm hash : kScramHashes) {
      ScramCredential& cred = user.scram_[static_cast<size_t>(hash)];
      if (options.salt_source) {
        cred.salt = options.salt_source(spec.name, hash);
      } else {
        ASSIGN_OR_RETURN(cred.salt, RandomBytes(kScramSaltSize));
      }
      cred.iterations = options.iterations;
      auto salted = Pbkdf2(hash, spec.password, cred.salt, cred.iterations);
      if (!salted.ok()) {
        return Status(salted.status().code(), who + std::string(salted.status().message()));
      }
      ScramKeys keys = DeriveScramKeys(hash, *salted);
      cred.stored_key = std::move(keys.stored_key);
      cred.server_key = std::move(keys.server_key);
    }
    ASSIGN_OR_RETURN(user.plain_salt_, RandomBytes(kScramSaltSize));
    user.plain_hash_ = Hmac(HashAlgorithm::kSha256, user.plain_salt_, spec.password);
    db->users_.emplace(spec.name, std::move(user));
  }
  return std::unique_ptr<const UserDatabase>(std::move(db));
}

const User* UserDatabase::Find(std::string_view name) const {
  auto it = users_.find(name);
  return it == users_.end() ? nullptr : &it->second;
}

ScramCredential UserDatabase::ScramCredentialFor(std::string_view name, HashAlgorithm hash,
                                                 bool* known) const {
  if (const User* user = Find(name)) {
    *known = true;
    return user->scram(hash);
  }
  *known = false;
  std::string_view hash_name = HashName(hash);
  ScramCredential fake;
  fake.salt = Hmac(HashAlgorithm::kSha256, fake_secret_, FakeLabel("salt", hash_name, name))
                  .substr(0, kScramSaltSize);
  fake.iterations = iterations_;
  // Random-looking keys of the right size: the proof check then costs what it costs for a real
  // user. They match no password anyone knows, and the caller fails the exchange regardless.
  fake.stored_key = Hmac(hash, fake_secret_, FakeLabel("stored", hash_name, name));
  fake.server_key = Hmac(hash, fake_secret_, FakeLabel("server", hash_name, name));
  return fake;
}

const User* UserDatabase::CheckPassword(std::string_view name, std::string_view password) const {
  const User* user = Find(name);
  std::string salt;
  std::string expected;
  if (user != nullptr) {
    salt = user->plain_salt_;
    expected = user->plain_hash_;
  } else {
    salt = Hmac(HashAlgorithm::kSha256, fake_secret_, FakeLabel("plain-salt", "", name))
               .substr(0, kScramSaltSize);
    expected = Hmac(HashAlgorithm::kSha256, fake_secret_, FakeLabel("plain-hash", "", name));
  }
  const bool match = ConstantTimeEqual(Hmac(HashAlgorithm::kSha256, salt, password), expected);
  return (match && user != nullptr) ? user : nullptr;
}

}  // namespace sluice::sasl
