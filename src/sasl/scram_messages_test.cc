// Tests for the SCRAM message grammar and the crypto wrappers' edge cases (base64 strictness).
#include "sasl/scram_messages.h"

#include <gtest/gtest.h>

#include "sasl/crypto.h"

namespace sluice::sasl {
namespace {

TEST(Base64Test, RoundTripsAllLengths) {
  std::string bytes;
  for (int i = 0; i < 10; ++i) {
    std::string encoded = Base64Encode(bytes);
    EXPECT_EQ(encoded.size() % 4, 0u);
    auto decoded = Base64Decode(encoded);
    ASSERT_TRUE(decoded.ok()) << encoded;
    EXPECT_EQ(*decoded, bytes);
    bytes.push_back(static_cast<char>(0xf0 + i));
  }
  EXPECT_EQ(Base64Encode("n,,"), "biws");
  EXPECT_EQ(Base64Encode("y,,"), "eSws");
}

TEST(Base64Test, DecodingIsStrict) {
  for (std::string_view bad : {"biw", "biws=", " biws", "biws ", "bi ws", "b!ws",
                               "QQ=", "QR==", "QQ=A", "====", "bi\nws"}) {
    EXPECT_FALSE(Base64Decode(bad).ok()) << "'" << bad << "'";
  }
  EXPECT_EQ(*Base64Decode("QQ=="), "A");
  EXPECT_EQ(*Base64Decode(""), "");
}

TEST(ConstantTimeEqualTest, ComparesContentAndLength) {
  EXPECT_TRUE(ConstantTimeEqual("abc", "abc"));
  EXPECT_TRUE(ConstantTimeEqual("", ""));
  EXPECT_FALSE(ConstantTimeEqual("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEqual("abc", "ab"));
}

TEST(Pbkdf2Test, RejectsZeroIterations) {
  EXPECT_FALSE(Pbkdf2(HashAlgorithm::kSha256, "pw", "salt", 0).ok());
}

TEST(SaslNameTest, EscapesCommaAndEquals) {
  EXPECT_EQ(EncodeSaslName("a,b=c"), "a=2Cb=3Dc");
  EXPECT_EQ(*DecodeSaslName("a=2Cb=3Dc"), "a,b=c");
  EXPECT_EQ(*DecodeSaslName(EncodeSaslName("==,,")), "==,,");
  for (std::string_view bad : {"", "a=", "a=2", "a=2c", "a=41", "=", "a=3Db=x"}) {
    EXPECT_FALSE(DecodeSaslName(bad).ok()) << bad;
  }
}

TEST(ClientFirstTest, ParsesPlainHeaderAndOpaqueNonce) {
  auto m = ParseClientFirst("n,,n=user,r=0xffffff93 0x02 0xfffffffe =x;");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->gs2_header, "n,,");
  EXPECT_EQ(m->authzid, "");
  EXPECT_EQ(m->user, "user");
  EXPECT_EQ(m->nonce, "0xffffff93 0x02 0xfffffffe =x;");
  EXPECT_EQ(m->bare, "n=user,r=0xffffff93 0x02 0xfffffffe =x;");
}

TEST(ClientFirstTest, ParsesYHeaderAndAuthzid) {
  auto m = ParseClientFirst("y,a=us=2Cer,n=us=2Cer,r=abc");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->gs2_header, "y,a=us=2Cer,");
  EXPECT_EQ(m->authzid, "us,er");
  EXPECT_EQ(m->user, "us,er");
}

TEST(ClientFirstTest, RejectsMalformed) {
  for (std::string_view bad : {
           "",                            // empty
           "p=tls-unique,,n=user,r=abc",  // channel binding
           "x,,n=user,r=abc",             // bad flag
           "n",                           // truncated header
           "n,",                          // header not terminated
           "n,b=x,n=user,r=abc",          // bad authzid
           "n,,",                         // no bare part
           "n,,m=ext,n=user,r=abc",       // mandatory extension
           "n,,r=abc,n=user",             // wrong order
           "n,,n=user",                   // missing nonce
           "n,,n=user,r=",                // empty nonce
           "n,,n=,r=abc",                 // empty user
           "n,,n=us=er,r=abc",            // bad escape
           "n,,n=user,r=abc,x=ext",       // extension
           "n,,n=user,,r=abc",            // empty attribute
           "n,,nn=user,r=abc",            // multi-char key
       }) {
    EXPECT_FALSE(ParseClientFirst(bad).ok()) << "'" << bad << "'";
  }
  EXPECT_FALSE(ParseClientFirst(std::string(kMaxScramMessageSize + 1, 'n')).ok());
}

TEST(ServerFirstTest, ParsesAndIgnoresTrailingExtensions) {
  auto m = ParseServerFirst("r=abcdef,s=QSXCR+Q6sek8bf92,i=4096,x=future");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->nonce, "abcdef");
  EXPECT_EQ(m->salt.size(), 12u);
  EXPECT_EQ(m->iterations, 4096u);
  EXPECT_EQ(BuildServerFirst("abcdef", m->salt, 4096), "r=abcdef,s=QSXCR+Q6sek8bf92,i=4096");
}

TEST(ServerFirstTest, RejectsMalformed) {
  for (std::string_view bad : {
           "", "m=x,r=abc,s=QQ==,i=4096",
           "r=abc,s=QQ==",                         // missing i
           "r=abc,i=4096",                         // missing s
           "s=QQ==,r=abc,i=4096",                  // order
           "r=,s=QQ==,i=4096",                     // empty nonce
           "r=abc,s=,i=4096",                      // empty salt
           "r=abc,s=Q,i=4096",                     // bad base64
           "r=abc,s=QQ==,i=0",                     // zero
           "r=abc,s=QQ==,i=-1",                    // negative
           "r=abc,s=QQ==,i=+5",                    // sign
           "r=abc,s=QQ==,i=4096x",                 // junk
           "r=abc,s=QQ==,i=99999999999999999999",  // overflow
           "r=abc,s=QQ==,i=",                      // empty
       }) {
    EXPECT_FALSE(ParseServerFirst(bad).ok()) << "'" << bad << "'";
  }
}

TEST(ClientFinalTest, ParsesAndSplitsOffTheProof) {
  auto m = ParseClientFinal("c=biws,r=abc def,p=QUJD");
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_EQ(m->channel_binding, "n,,");
  EXPECT_EQ(m->nonce, "abc def");
  EXPECT_EQ(m->proof, "ABC");
  EXPECT_EQ(m->without_proof, "c=biws,r=abc def");
}

TEST(ClientFinalTest, RejectsMalformed) {
  for (std::string_view bad : {
           "",
           "r=abc,c=biws,p=QUJD",      // order
           "c=biws,p=QUJD",            // missing r
           "c=biws,r=abc",             // missing p
           "c=biws,r=abc,x=1,p=QUJD",  // extension
           "c=biws,r=abc,p=QUJD,x=1",  // trailing attribute
           "c=bi!s,r=abc,p=QUJD",      // bad c base64
           "c=biws,r=abc,p=QUJ",       // bad p base64
           "c=biws,r=abc,p=QUJD,",     // empty trailing attribute
       }) {
    EXPECT_FALSE(ParseClientFinal(bad).ok()) << "'" << bad << "'";
  }
}

TEST(ServerFinalTest, ParsesVerifierOrError) {
  auto v = ParseServerFinal("v=QUJD");
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, "ABC");
  EXPECT_EQ(ParseServerFinal("v=QUJD,x=ext").status(), Errc::kOk);
  auto e = ParseServerFinal("e=invalid-proof");
  EXPECT_EQ(e.status(), Errc::kAuthError);
  EXPECT_NE(e.status().message().find("invalid-proof"), std::string_view::npos);
  EXPECT_EQ(ParseServerFinal("").status(), Errc::kInvalid);
  EXPECT_EQ(ParseServerFinal("v=Q").status(), Errc::kInvalid);
  EXPECT_EQ(ParseServerFinal("x=QUJD").status(), Errc::kInvalid);
}

}  // namespace
}  // namespace sluice::sasl
