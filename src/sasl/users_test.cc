// Tests for the users file and the UserDatabase.
#include "sasl/users.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

namespace sluice::sasl {
namespace {

std::unique_ptr<const UserDatabase> MustParse(std::string_view json,
                                              const UserDatabaseOptions& options = {}) {
  auto db = UserDatabase::Parse(json, "users.json", options);
  EXPECT_TRUE(db.ok()) << db.status().ToString();
  return db.ok() ? std::move(db).value() : nullptr;
}

// Expects parsing to fail with kInvalid and a message containing the file name and `fragment`.
void ExpectParseError(std::string_view json, std::string_view fragment) {
  auto db = UserDatabase::Parse(json, "/etc/sluice/users.json");
  ASSERT_FALSE(db.ok()) << json;
  EXPECT_EQ(db.status().code(), Errc::kInvalid) << json;
  std::string_view message = db.status().message();
  EXPECT_NE(message.find("/etc/sluice/users.json"), std::string_view::npos) << message;
  EXPECT_NE(message.find(fragment), std::string_view::npos)
      << "message '" << message << "' lacks '" << fragment << "'";
}

TEST(UsersFileTest, ParsesUsersAndBuckets) {
  auto db = MustParse(R"({"users":[
      {"name":"admin","password":"pw1"},
      {"name":"alice","password":"pw2","buckets":["default","travel"]},
      {"name":"nobody","password":"pw3","buckets":[]}]})");
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->size(), 3u);
  EXPECT_EQ(db->iterations(), kDefaultScramIterations);

  const User* admin = db->Find("admin");
  ASSERT_NE(admin, nullptr);
  EXPECT_EQ(admin->name(), "admin");
  EXPECT_FALSE(admin->buckets().has_value());
  EXPECT_TRUE(admin->MayAccessBucket("default"));
  EXPECT_TRUE(admin->MayAccessBucket("anything"));

  const User* alice = db->Find("alice");
  ASSERT_NE(alice, nullptr);
  EXPECT_TRUE(alice->MayAccessBucket("default"));
  EXPECT_TRUE(alice->MayAccessBucket("travel"));
  EXPECT_FALSE(alice->MayAccessBucket("beer"));

  const User* nobody = db->Find("nobody");
  ASSERT_NE(nobody, nullptr);
  EXPECT_FALSE(nobody->MayAccessBucket("default"));

  EXPECT_EQ(db->Find("bob"), nullptr);
  EXPECT_EQ(db->Find(""), nullptr);
}

TEST(UsersFileTest, PrecomputesScramCredentialsPerHash) {
  auto db = MustParse(R"({"users":[{"name":"alice","password":"pw"}]})");
  ASSERT_NE(db, nullptr);
  const User* alice = db->Find("alice");
  ASSERT_NE(alice, nullptr);
  for (HashAlgorithm hash :
       {HashAlgorithm::kSha1, HashAlgorithm::kSha256, HashAlgorithm::kSha512}) {
    const ScramCredential& cred = alice->scram(hash);
    EXPECT_EQ(cred.salt.size(), kScramSaltSize);
    EXPECT_EQ(cred.iterations, kDefaultScramIterations);
    EXPECT_EQ(cred.stored_key.size(), DigestSize(hash));
    EXPECT_EQ(cred.server_key.size(), DigestSize(hash));
    // The keys follow from the salt and the password.
    auto salted = Pbkdf2(hash, "pw", cred.salt, cred.iterations);
    ASSERT_TRUE(salted.ok());
    ScramKeys keys = DeriveScramKeys(hash, *salted);
    EXPECT_EQ(keys.stored_key, cred.stored_key);
    EXPECT_EQ(keys.server_key, cred.server_key);
  }
  EXPECT_NE(alice->scram(HashAlgorithm::kSha1).salt, alice->scram(HashAlgorithm::kSha512).salt);
}

TEST(UsersFileTest, SaltsAreFreshPerLoad) {
  constexpr std::string_view kJson = R"({"users":[{"name":"alice","password":"pw"}]})";
  auto a = MustParse(kJson);
  auto b = MustParse(kJson);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_NE(a->Find("alice")->scram(HashAlgorithm::kSha512).salt,
            b->Find("alice")->scram(HashAlgorithm::kSha512).salt);
}

TEST(UsersFileTest, CheckPassword) {
  auto db = MustParse(R"({"users":[{"name":"alice","password":"s3cret"}]})");
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->CheckPassword("alice", "s3cret"), db->Find("alice"));
  EXPECT_EQ(db->CheckPassword("alice", "s3cre"), nullptr);
  EXPECT_EQ(db->CheckPassword("alice", "s3cret "), nullptr);
  EXPECT_EQ(db->CheckPassword("alice", ""), nullptr);
  EXPECT_EQ(db->CheckPassword("bob", "s3cret"), nullptr);
}

TEST(UsersFileTest, FakeCredentialsAreStableAndShapedLikeRealOnes) {
  auto db = MustParse(R"({"users":[{"name":"alice","password":"pw"}]})");
  ASSERT_NE(db, nullptr);
  bool known = true;
  ScramCredential fake1 = db->ScramCredentialFor("mallory", HashAlgorithm::kSha512, &known);
  EXPECT_FALSE(known);
  ScramCredential fake2 = db->ScramCredentialFor("mallory", HashAlgorithm::kSha512, &known);
  EXPECT_EQ(fake1.salt, fake2.salt);
  EXPECT_EQ(fake1.salt.size(), kScramSaltSize);
  EXPECT_EQ(fake1.iterations, db->iterations());
  EXPECT_EQ(fake1.stored_key.size(), DigestSize(HashAlgorithm::kSha512));
  EXPECT_NE(db->ScramCredentialFor("trudy", HashAlgorithm::kSha512, &known).salt, fake1.salt);
  EXPECT_NE(db->ScramCredentialFor("mallory", HashAlgorithm::kSha1, &known).salt, fake1.salt);

  ScramCredential real = db->ScramCredentialFor("alice", HashAlgorithm::kSha256, &known);
  EXPECT_TRUE(known);
  EXPECT_EQ(real.salt, db->Find("alice")->scram(HashAlgorithm::kSha256).salt);
}

TEST(UsersFileTest, IterationsAreConfigurableWithinBounds) {
  UserDatabaseOptions options;
  options.iterations = 5000;
  auto db = MustParse(R"({"users":[{"name":"a","password":"p"}]})", options);
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->Find("a")->scram(HashAlgorithm::kSha1).iterations, 5000u);

  for (uint32_t bad : {0u, 1u, kMinScramIterations - 1, kMaxScramIterations + 1}) {
    options.iterations = bad;
    auto rejected = UserDatabase::Parse(R"({"users":[]})", "users.json", options);
    EXPECT_EQ(rejected.status(), Errc::kInvalid) << bad;
  }
}

TEST(UsersFileTest, EmptyUserListIsValid) {
  auto db = MustParse(R"({"users":[]})");
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(db->size(), 0u);
}

TEST(UsersFileTest, ReportsContentErrors) {
  ExpectParseError("", "not valid JSON");
  ExpectParseError(R"({"users":[)", "not valid JSON");
  ExpectParseError(R"([])", "top level must be an object");
  ExpectParseError(R"({})", "missing \"users\"");
  ExpectParseError(R"({"users":{}})", "\"users\" must be an array");
  ExpectParseError(R"({"users":[],"groups":[]})", "unknown top-level key \"groups\"");
  ExpectParseError(R"({"users":["alice"]})", "users[0]: must be an object");
  ExpectParseError(R"({"users":[{"password":"p"}]})", "users[0]: missing \"name\"");
  ExpectParseError(R"({"users":[{"name":1,"password":"p"}]})", "\"name\" must be a string");
  ExpectParseError(R"({"users":[{"name":"","password":"p"}]})", "users[0]: empty user name");
  ExpectParseError(R"({"users":[{"name":"a","password":"p"},{"name":"b"}]})",
                   "users[1]: missing \"password\" (user \"b\")");
  ExpectParseError(R"({"users":[{"name":"a","password":null}]})", "\"password\" must be a string");
  ExpectParseError(R"({"users":[{"name":"a","password":""}]})", "empty password");
  ExpectParseError(R"({"users":[{"name":"a","password":"p","buckets":"default"}]})",
                   "\"buckets\" must be an array");
  ExpectParseError(R"({"users":[{"name":"a","password":"p","buckets":[1]}]})",
                   "\"buckets\" entries must be non-empty strings");
  ExpectParseError(R"({"users":[{"name":"a","password":"p","buckets":[""]}]})",
                   "\"buckets\" entries must be non-empty strings");
  ExpectParseError(R"({"users":[{"name":"a","password":"p","bucket":["default"]}]})",
                   "unknown key \"bucket\"");
  ExpectParseError(R"({"users":[{"name":"a","password":"p"},{"name":"a","password":"q"}]})",
                   "users[1]: user \"a\": duplicate user");
  ExpectParseError(R"({"users":[{"name":"a\u0000b","password":"p"}]})", "NUL");
  ExpectParseError(R"({"users":[{"name":"a","password":"p\u0000"}]})", "NUL");
}

class UsersFileOnDiskTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = ::testing::TempDir() + "sluice_sasl_users_" + std::to_string(::getpid()) + ".json";
  }
  void TearDown() override { std::remove(path_.c_str()); }
  std::string path_;
};

TEST_F(UsersFileOnDiskTest, LoadsAFile) {
  {
    std::ofstream out(path_);
    out << R"({"users":[{"name":"alice","password":"pw"}]})";
  }
  auto db = UserDatabase::LoadFile(path_);
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  EXPECT_NE((*db)->Find("alice"), nullptr);
}

TEST_F(UsersFileOnDiskTest, ErrorsNameTheFile) {
  {
    std::ofstream out(path_);
    out << R"({"users":[{"name":"alice"}]})";
  }
  auto db = UserDatabase::LoadFile(path_);
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Errc::kInvalid);
  EXPECT_NE(db.status().message().find(path_), std::string_view::npos);
  EXPECT_NE(db.status().message().find("missing \"password\""), std::string_view::npos);
}

TEST_F(UsersFileOnDiskTest, MissingFileIsAnIoError) {
  auto db = UserDatabase::LoadFile(path_ + ".missing");
  ASSERT_FALSE(db.ok());
  EXPECT_EQ(db.status().code(), Errc::kIoError);
  EXPECT_NE(db.status().message().find(path_ + ".missing"), std::string_view::npos);
  EXPECT_NE(db.status().message().find("No such file"), std::string_view::npos)
      << db.status().message();
}

}  // namespace
}  // namespace sluice::sasl
