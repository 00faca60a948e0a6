// Integration: the connection handshake of sluiced — HELLO negotiation, SASL (PLAIN and SCRAM),
// the access rules before authentication and without a bucket, SELECT_BUCKET, the error map and
// what XERROR changes.
#include <nlohmann/json.hpp>
#include <set>

#include "protocol/byte_order.h"
#include "protocol/datatype.h"
#include "protocol/payload.h"
#include "sasl/scram_client.h"
#include "testing/wire_util.h"

namespace sluice::testing {
namespace {

using protocol::Feature;
using protocol::McbpStatus;
using protocol::Opcode;
using protocol::RequestFields;

constexpr const char* kRestrictedUser = "restricted";  // may use bucket "other" only
constexpr const char* kRestrictedPassword = "pw-restricted";

class HandshakeTest : public SluicedTest {
 protected:
  ServerOptions Options() const override {
    ServerOptions options = SluicedTest::Options();
    options.users_json = R"({"users":[
        {"name":"admin","password":"password"},
        {"name":"restricted","password":"pw-restricted","buckets":["other"]}]})";
    return options;
  }

  // Runs `request` on `conn` and returns the response.
  client::Response Run(client::Connection& conn, RequestFields request) {
    auto r = conn.Execute(request);
    EXPECT_TRUE(r.ok()) << protocol::OpcodeName(request.opcode) << ": " << r.status().ToString();
    if (!r.ok()) return {};
    return std::move(*r);
  }
};

std::string Mutation8() {
  std::string extras;
  protocol::AppendMutationExtras(&extras, {0, 0});
  return extras;
}

// A well-formed request of each non-handshake command.
std::vector<RequestFields> NonHandshakeRequests(const std::string& set_extras,
                                                const std::string& arith_extras,
                                                const std::string& touch_extras,
                                                const std::string& u64_value,
                                                const std::string& vb_state) {
  std::vector<RequestFields> out;
  auto key = [&](Opcode op) {
    RequestFields f;
    f.opcode = op;
    f.key = "k";
    return f;
  };
  out.push_back(key(Opcode::kGet));
  out.push_back(key(Opcode::kGetq));
  out.push_back(key(Opcode::kGetk));
  out.push_back(key(Opcode::kGetkq));
  for (Opcode op : {Opcode::kSet, Opcode::kAdd, Opcode::kReplace, Opcode::kSetq}) {
    RequestFields f = key(op);
    f.extras = set_extras;
    f.value = "v";
    out.push_back(f);
  }
  out.push_back(key(Opcode::kDelete));
  for (Opcode op : {Opcode::kIncrement, Opcode::kDecrement}) {
    RequestFields f = key(op);
    f.extras = arith_extras;
    out.push_back(f);
  }
  for (Opcode op : {Opcode::kAppend, Opcode::kPrepend}) {
    RequestFields f = key(op);
    f.value = "v";
    out.push_back(f);
  }
  for (Opcode op : {Opcode::kTouch, Opcode::kGat, Opcode::kGatq}) {
    RequestFields f = key(op);
    f.extras = touch_extras;
    out.push_back(f);
  }
  RequestFields stat;
  stat.opcode = Opcode::kStat;
  out.push_back(stat);
  RequestFields select = key(Opcode::kSelectBucket);
  select.key = "default";
  out.push_back(select);
  RequestFields plain;
  for (Opcode op : {Opcode::kGetClusterConfig, Opcode::kGetVbucket, Opcode::kGetAllVbSeqnos,
                    Opcode::kGetFailoverLog, Opcode::kListBuckets, Opcode::kDelVbucket}) {
    plain.opcode = op;
    out.push_back(plain);
  }
  RequestFields setvb;
  setvb.opcode = Opcode::kSetVbucket;
  setvb.extras = vb_state;
  out.push_back(setvb);
  RequestFields observe;
  observe.opcode = Opcode::kObserveSeqno;
  observe.value = u64_value;
  out.push_back(observe);
  return out;
}

TEST_F(HandshakeTest, HelloAgreesToExactlyTheImplementedFeatures) {
  auto conn = ConnectRaw();
  ASSERT_NE(conn, nullptr);
  // Ask for every feature code there is (twice for one of them).
  std::vector<Feature> all;
  for (uint16_t code = 0x01; code <= 0x26; ++code) all.push_back(static_cast<Feature>(code));
  all.push_back(Feature::kJson);
  auto agreed = conn->Hello("sluice-it", all);
  ASSERT_TRUE(agreed.ok()) << agreed.status().ToString();
  const std::vector<Feature> expected = {
      Feature::kTcpNoDelay, Feature::kMutationSeqno, Feature::kXattr, Feature::kXerror,
      Feature::kSelectBucket, Feature::kJson, Feature::kDuplex, Feature::kAltRequestSupport,
      Feature::kSyncReplication, Feature::kCollections, Feature::kVAttr,
      Feature::kSubdocCreateAsDeleted, Feature::kSubdocDocumentMacroSupport,
      Feature::kSubdocReplaceBodyWithXattr,
      // Both notification forms asked: the brief one only.
      Feature::kClustermapChangeNotificationBrief, Feature::kSubdocAllowsAccessOnMultipleXattrKeys};
  EXPECT_EQ(*agreed, expected);

  // A JSON agent string is fine too; an empty request agrees to nothing.
  RequestFields hello;
  hello.opcode = Opcode::kHello;
  hello.key = R"({"a":"sluice-it/1.0","i":"0000000000000001/0000000000000002"})";
  auto r = Run(*conn, hello);
  EXPECT_EQ(r.status, McbpStatus::kSuccess);
  EXPECT_EQ(r.value, "");
}

TEST_F(HandshakeTest, RepeatedHelloResetsFeatures) {
  auto conn = Connect({.features = {Feature::kMutationSeqno, Feature::kJson}});
  ASSERT_NE(conn, nullptr);
  auto set = conn->Set("doc", R"({"a":1})");
  ASSERT_TRUE(set.ok());
  ASSERT_TRUE(set->ok());
  EXPECT_TRUE(set->token.has_value()) << "MutationSeqno agreed: the token is in the extras";
  auto get = conn->Get("doc");
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->datatype, protocol::kDatatypeJson);

  // A second HELLO replaces the first: only XERROR now.
  auto agreed = conn->Hello("sluice-it", {Feature::kXerror});
  ASSERT_TRUE(agreed.ok());
  EXPECT_EQ(*agreed, std::vector<Feature>{Feature::kXerror});
  set = conn->Set("doc", R"({"a":2})");
  ASSERT_TRUE(set.ok());
  ASSERT_TRUE(set->ok());
  EXPECT_FALSE(set->token.has_value()) << "MutationSeqno was dropped by the second HELLO";
  get = conn->Get("doc");
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->value, R"({"a":2})");
  EXPECT_EQ(get->datatype, protocol::kDatatypeRaw) << "JSON was dropped by the second HELLO";
  // Authentication survives a HELLO.
  EXPECT_TRUE(conn->Noop().ok());
}

TEST_F(HandshakeTest, HelloListMechsAuthAndGetPipelinedInOneWrite) {
  auto conn = ConnectRaw();
  ASSERT_NE(conn, nullptr);
  std::string features;
  protocol::AppendFeatures(&features, {Feature::kXerror, Feature::kSelectBucket});
  auto plain = sasl::PlainClientMessage(ServerProcess::kUser, ServerProcess::kPassword);
  ASSERT_TRUE(plain.ok());

  std::string bytes;
  protocol::AppendRequest(
      &bytes, {.opcode = Opcode::kHello, .opaque = 1, .key = "pipelined", .value = features});
  protocol::AppendRequest(&bytes, {.opcode = Opcode::kSaslListMechs, .opaque = 2});
  protocol::AppendRequest(
      &bytes, {.opcode = Opcode::kSaslAuth, .opaque = 3, .key = "PLAIN", .value = *plain});
  protocol::AppendRequest(&bytes, {.opcode = Opcode::kGet, .opaque = 4, .key = "missing"});
  protocol::AppendRequest(&bytes, {.opcode = Opcode::kNoop, .opaque = 5});
  ASSERT_TRUE(conn->SendRaw(bytes).ok());

  std::vector<client::Response> responses;
  ASSERT_TRUE(conn->ReadResponses(5,
                                  [&](const protocol::Frame& f) {
                                    responses.push_back(client::Response::FromFrame(f));
                                  })
                  .ok());
  ASSERT_EQ(responses.size(), 5u);
  for (uint32_t i = 0; i < 5; ++i) EXPECT_EQ(responses[i].opaque, i + 1) << "in order";
  EXPECT_EQ(responses[0].status, McbpStatus::kSuccess);
  EXPECT_EQ(protocol::DecodeFeatures(responses[0].value),
            (std::vector<Feature>{Feature::kXerror, Feature::kSelectBucket}));
  EXPECT_EQ(responses[1].status, McbpStatus::kSuccess);
  EXPECT_EQ(responses[1].value, "SCRAM-SHA512 SCRAM-SHA256 SCRAM-SHA1 PLAIN");
  EXPECT_EQ(responses[2].status, McbpStatus::kSuccess);
  EXPECT_EQ(responses[3].status, McbpStatus::kKeyEnoent) << "authenticated, bucket selected";
  EXPECT_EQ(responses[4].status, McbpStatus::kSuccess);
}

TEST_F(HandshakeTest, PlainWithEmptyOrMatchingAuthzid) {
  for (const std::string authzid : {"", ServerProcess::kUser}) {
    auto conn = Connect({.authenticate = false});
    ASSERT_NE(conn, nullptr);
    auto message =
        sasl::PlainClientMessage(ServerProcess::kUser, ServerProcess::kPassword, authzid);
    ASSERT_TRUE(message.ok());
    auto r = Run(*conn, {.opcode = Opcode::kSaslAuth, .key = "PLAIN", .value = *message});
    EXPECT_EQ(r.status, McbpStatus::kSuccess) << "authzid '" << authzid << "'";
    auto set = conn->Set("plain-" + authzid, "v");
    ASSERT_TRUE(set.ok());
    EXPECT_EQ(set->status, McbpStatus::kSuccess);
  }
}

TEST_F(HandshakeTest, PlainWithAnotherAuthzidFails) {
  auto conn = Connect({.authenticate = false});
  ASSERT_NE(conn, nullptr);
  auto message =
      sasl::PlainClientMessage(ServerProcess::kUser, ServerProcess::kPassword, kRestrictedUser);
  ASSERT_TRUE(message.ok());
  auto r = Run(*conn, {.opcode = Opcode::kSaslAuth, .key = "PLAIN", .value = *message});
  EXPECT_EQ(r.status, McbpStatus::kAuthError);
  auto get = conn->Get("k");
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->status, McbpStatus::kEaccess) << "still not authenticated";
}

TEST_F(HandshakeTest, ScramMechanismsAuthenticate) {
  for (const char* mech : {"SCRAM-SHA512", "SCRAM-SHA256", "SCRAM-SHA1", "PLAIN"}) {
    auto conn = Connect({.authenticate = false});
    ASSERT_NE(conn, nullptr);
    auto mechs = conn->ListMechs();
    ASSERT_TRUE(mechs.ok());
    EXPECT_NE(std::find(mechs->begin(), mechs->end(), mech), mechs->end());
    // Authenticate() verifies the server signature for SCRAM.
    Status s = conn->Authenticate(ServerProcess::kUser, ServerProcess::kPassword, mech);
    EXPECT_TRUE(s.ok()) << mech << ": " << s.ToString();
    auto set = conn->Set(std::string("scram-") + mech, "v");
    ASSERT_TRUE(set.ok());
    EXPECT_EQ(set->status, McbpStatus::kSuccess) << mech;
  }
}

TEST_F(HandshakeTest, WrongPasswordAndUnknownUserFailIdentically) {
  // PLAIN: the same answer, byte for byte.
  std::vector<client::Response> plain;
  for (auto [user, password] : {std::pair{"admin", "wrong"}, std::pair{"nobody", "password"}}) {
    auto conn = Connect({.authenticate = false});
    ASSERT_NE(conn, nullptr);
    auto message = sasl::PlainClientMessage(user, password);
    ASSERT_TRUE(message.ok());
    plain.push_back(Run(*conn, {.opcode = Opcode::kSaslAuth, .key = "PLAIN", .value = *message}));
    EXPECT_TRUE(conn->Noop().ok()) << "the connection stays usable";
  }
  ASSERT_EQ(plain.size(), 2u);
  EXPECT_EQ(plain[0].status, McbpStatus::kAuthError);
  EXPECT_EQ(plain[1].status, McbpStatus::kAuthError);
  EXPECT_EQ(plain[0].value, plain[1].value);
  EXPECT_EQ(plain[0].extras, plain[1].extras);

  // SCRAM: the unknown user gets a (fake) challenge of the same shape, then the same error.
  for (const char* mech : {"SCRAM-SHA512", "SCRAM-SHA256", "SCRAM-SHA1"}) {
    std::vector<std::pair<client::Response, client::Response>> answers;
    for (auto [user, password] : {std::pair{"admin", "wrong"}, std::pair{"nobody", "password"}}) {
      auto conn = Connect({.authenticate = false});
      ASSERT_NE(conn, nullptr);
      sasl::ScramClient scram(*sasl::ParseMechanism(mech), user, password);
      auto first = scram.Start();
      ASSERT_TRUE(first.ok());
      auto challenge = Run(*conn, {.opcode = Opcode::kSaslAuth, .key = mech, .value = *first});
      ASSERT_EQ(challenge.status, McbpStatus::kAuthContinue) << mech << " " << user;
      auto final_message = scram.Step(challenge.value);
      ASSERT_TRUE(final_message.ok()) << final_message.status().ToString();
      auto verdict =
          Run(*conn, {.opcode = Opcode::kSaslStep, .key = mech, .value = *final_message});
      answers.emplace_back(challenge, verdict);
    }
    ASSERT_EQ(answers.size(), 2u);
    for (const auto& [challenge, verdict] : answers) {
      EXPECT_EQ(verdict.status, McbpStatus::kAuthError) << mech;
      EXPECT_NE(challenge.value.find(",s="), std::string::npos);
      EXPECT_NE(challenge.value.find(",i="), std::string::npos);
    }
    // Same salt length and iteration count for the real and the fake credential.
    auto shape = [](const std::string& challenge) {
      const size_t s = challenge.find(",s=");
      return challenge.substr(s);  // ",s=<salt>,i=<iterations>"
    };
    EXPECT_EQ(shape(answers[0].first.value).size(), shape(answers[1].first.value).size());
    EXPECT_EQ(shape(answers[0].first.value).substr(shape(answers[0].first.value).find(",i=")),
              shape(answers[1].first.value).substr(shape(answers[1].first.value).find(",i=")));
    EXPECT_EQ(answers[0].second.value, answers[1].second.value);
  }

  // The client library reports both the same way.
  for (auto [user, password] : {std::pair{"admin", "wrong"}, std::pair{"nobody", "password"}}) {
    auto conn = Connect({.authenticate = false});
    ASSERT_NE(conn, nullptr);
    EXPECT_EQ(conn->Authenticate(user, password, "SCRAM-SHA512").code(), Errc::kAuthError);
  }
}

TEST_F(HandshakeTest, ReauthenticationAndStrayScramSteps) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  ASSERT_EQ(Must(conn->Set("k", "v")).status, McbpStatus::kSuccess);
  // A failed new attempt drops the earlier identity.
  auto bad = sasl::PlainClientMessage(ServerProcess::kUser, "wrong");
  ASSERT_TRUE(bad.ok());
  EXPECT_EQ(Run(*conn, {.opcode = Opcode::kSaslAuth, .key = "PLAIN", .value = *bad}).status,
            McbpStatus::kAuthError);
  EXPECT_EQ(Must(conn->Get("k")).status, McbpStatus::kEaccess);
  // A successful one restores access (and the bucket).
  EXPECT_TRUE(
      conn->Authenticate(ServerProcess::kUser, ServerProcess::kPassword, "SCRAM-SHA256").ok());
  EXPECT_EQ(Must(conn->Get("k")).value, "v");
  // SASL_STEP without a SASL_AUTH in progress is invalid; an unknown mechanism fails.
  auto fresh = Connect({.authenticate = false});
  ASSERT_NE(fresh, nullptr);
  EXPECT_EQ(
      Run(*fresh, {.opcode = Opcode::kSaslStep, .key = "SCRAM-SHA512", .value = "c=biws"}).status,
      McbpStatus::kEinval);
  auto unknown = Run(*fresh, {.opcode = Opcode::kSaslAuth, .key = "CRAM-MD5", .value = "x"});
  EXPECT_NE(unknown.status, McbpStatus::kSuccess);
  EXPECT_NE(unknown.status, McbpStatus::kAuthContinue);
  // A garbage SCRAM client-first message fails cleanly.
  EXPECT_EQ(
      Run(*fresh, {.opcode = Opcode::kSaslAuth, .key = "SCRAM-SHA512", .value = "garbage"}).status,
      McbpStatus::kAuthError);
  EXPECT_TRUE(fresh->Noop().ok());
  EXPECT_EQ(Must(fresh->Get("k")).status, McbpStatus::kEaccess);
}

TEST_F(HandshakeTest, EveryNonHandshakeCommandBeforeAuthIsEaccess) {
  std::string arith;
  protocol::AppendArithmeticExtras(&arith, {1, 0, 0});
  std::string touch;
  protocol::AppendBe32(&touch, 0);
  std::string u64;
  protocol::AppendBe64(&u64, 0);
  const std::string state(1, static_cast<char>(VBucketState::kActive));
  const std::string set_extras = Mutation8();
  for (bool with_hello : {false, true}) {
    auto conn = Connect({.hello = with_hello, .authenticate = false});
    ASSERT_NE(conn, nullptr);
    for (const RequestFields& request :
         NonHandshakeRequests(set_extras, arith, touch, u64, state)) {
      auto r = Run(*conn, request);
      EXPECT_EQ(r.status, McbpStatus::kEaccess) << protocol::OpcodeName(request.opcode);
      EXPECT_EQ(r.value, "") << protocol::OpcodeName(request.opcode);
    }
    // The handshake commands are served.
    EXPECT_TRUE(conn->Noop().ok());
    auto version = conn->Version();
    ASSERT_TRUE(version.ok());
    EXPECT_FALSE(version->empty());
    auto map = conn->GetErrorMap(2);
    ASSERT_TRUE(map.ok());
    EXPECT_EQ(map->status, McbpStatus::kSuccess);
    EXPECT_TRUE(conn->ListMechs().ok());
  }
  // Nothing was written.
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  auto get = conn->Get("k");
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->status, McbpStatus::kKeyEnoent);
}

TEST_F(HandshakeTest, AfterAuthenticationTheBucketIsSelected) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  auto set = conn->Set("k", "v");
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->status, McbpStatus::kSuccess);
  auto get = conn->Get("k");
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->status, McbpStatus::kSuccess);
  EXPECT_EQ(get->value, "v");
  // Selecting it explicitly works too (SDKs do).
  EXPECT_TRUE(conn->SelectBucket("default").ok());
  auto buckets = Run(*conn, {.opcode = Opcode::kListBuckets});
  EXPECT_EQ(buckets.status, McbpStatus::kSuccess);
  EXPECT_EQ(buckets.value, "default");
}

TEST_F(HandshakeTest, SelectUnknownBucketIsEaccess) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  auto r = Run(*conn, {.opcode = Opcode::kSelectBucket, .key = "no-such-bucket"});
  EXPECT_EQ(r.status, McbpStatus::kEaccess);
  // The earlier selection is kept.
  auto get = conn->Get("k");
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->status, McbpStatus::kKeyEnoent);
}

TEST_F(HandshakeTest, NoBucketSelectedGivesNoBucket) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(conn->SelectBucket("@no bucket@").ok());
  auto get = Run(*conn, {.opcode = Opcode::kGet, .key = "k"});
  EXPECT_EQ(get.status, McbpStatus::kNoBucket);
  const std::string extras = Mutation8();
  auto set = Run(*conn, {.opcode = Opcode::kSet, .extras = extras, .key = "k", .value = "v"});
  EXPECT_EQ(set.status, McbpStatus::kNoBucket);
  auto config = Run(*conn, {.opcode = Opcode::kGetClusterConfig});
  EXPECT_EQ(config.status, McbpStatus::kNoBucket);
  // Selecting it again restores access.
  ASSERT_TRUE(conn->SelectBucket("default").ok());
  auto again = conn->Get("k");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->status, McbpStatus::kKeyEnoent);
}

TEST_F(HandshakeTest, UserOfAnotherBucketCannotUseThisOne) {
  auto conn = Connect({.user = kRestrictedUser, .password = kRestrictedPassword});
  ASSERT_NE(conn, nullptr);
  auto get = Run(*conn, {.opcode = Opcode::kGet, .key = "k"});
  EXPECT_EQ(get.status, McbpStatus::kNoBucket) << "authenticated, but no bucket it may use";
  const std::string extras = Mutation8();
  auto set = Run(*conn, {.opcode = Opcode::kSet, .extras = extras, .key = "k", .value = "v"});
  EXPECT_EQ(set.status, McbpStatus::kNoBucket);
  auto select = Run(*conn, {.opcode = Opcode::kSelectBucket, .key = "default"});
  EXPECT_EQ(select.status, McbpStatus::kEaccess);
  auto select_other = Run(*conn, {.opcode = Opcode::kSelectBucket, .key = "other"});
  EXPECT_EQ(select_other.status, McbpStatus::kEaccess) << "no such bucket on this server";
  get = Run(*conn, {.opcode = Opcode::kGet, .key = "k"});
  EXPECT_EQ(get.status, McbpStatus::kNoBucket);
  auto buckets = Run(*conn, {.opcode = Opcode::kListBuckets});
  EXPECT_EQ(buckets.status, McbpStatus::kSuccess);
  EXPECT_EQ(buckets.value, "");
}

TEST_F(HandshakeTest, XerrorChangesErrorBodies) {
  const std::string bad_extras = "abc";  // SET needs 8 bytes of extras
  // Without XERROR: a bare EINVAL.
  auto legacy = Connect({.features = {Feature::kJson}});
  ASSERT_NE(legacy, nullptr);
  auto r = Run(*legacy, {.opcode = Opcode::kSet, .extras = bad_extras, .key = "k", .value = "v"});
  EXPECT_EQ(r.status, McbpStatus::kEinval);
  EXPECT_EQ(r.value, "");
  // With XERROR: EINVAL with a JSON error context.
  auto modern = Connect({.features = {Feature::kXerror, Feature::kJson}});
  ASSERT_NE(modern, nullptr);
  r = Run(*modern, {.opcode = Opcode::kSet, .extras = bad_extras, .key = "k", .value = "v"});
  EXPECT_EQ(r.status, McbpStatus::kEinval);
  auto body = nlohmann::json::parse(r.value, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(body.is_discarded()) << r.value;
  ASSERT_TRUE(body.contains("error")) << r.value;
  EXPECT_TRUE(body["error"].contains("context")) << r.value;
  EXPECT_EQ(r.datatype, protocol::kDatatypeJson);
  // Both connections still work.
  EXPECT_TRUE(legacy->Noop().ok());
  EXPECT_TRUE(modern->Noop().ok());
}

TEST_F(HandshakeTest, ErrorMapV1AndV2DescribeEveryStatus) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  // Every status the server can put on the wire: whatever the one Errc translation produces,
  // plus the codes handlers send directly, plus every status the integration tests observe.
  std::set<uint16_t> required;
  for (int e = 0; e <= static_cast<int>(Errc::kInternal); ++e) {
    for (bool v7 : {false, true}) {
      required.insert(static_cast<uint16_t>(
          protocol::ToMcbpStatus(static_cast<Errc>(e), {.v7_dcp_status_codes = v7})));
    }
  }
  for (McbpStatus s : {McbpStatus::kSuccess, McbpStatus::kKeyEnoent, McbpStatus::kEaccess,
                       McbpStatus::kNoBucket, McbpStatus::kAuthError, McbpStatus::kAuthContinue,
                       McbpStatus::kUnknownCommand, McbpStatus::kEinval, McbpStatus::kNotMyVbucket,
                       McbpStatus::kUnknownCollection, McbpStatus::kKeyEexists, McbpStatus::kE2big,
                       McbpStatus::kNotStored, McbpStatus::kDeltaBadval, McbpStatus::kEtmpfail,
                       McbpStatus::kNotSupported, McbpStatus::kDurabilityImpossible}) {
    required.insert(static_cast<uint16_t>(s));
  }

  for (uint16_t version : {1, 2}) {
    auto r = conn->GetErrorMap(version);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, McbpStatus::kSuccess);
    EXPECT_EQ(r->datatype, protocol::kDatatypeJson) << "JSON was negotiated";
    auto map = nlohmann::json::parse(r->value, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(map.is_discarded()) << "version " << version << " is not JSON";
    EXPECT_EQ(map.value("version", 0), version);
    EXPECT_TRUE(map.contains("revision") && map["revision"].is_number());
    ASSERT_TRUE(map.contains("errors") && map["errors"].is_object());
    const auto& errors = map["errors"];
    for (uint16_t code : required) {
      char hex[8];
      std::snprintf(hex, sizeof(hex), "%x", code);
      ASSERT_TRUE(errors.contains(hex)) << "version " << version << " lacks status 0x" << hex;
      const auto& entry = errors[hex];
      EXPECT_TRUE(entry.contains("name") && entry["name"].is_string()) << hex;
      EXPECT_TRUE(entry.contains("desc") && entry["desc"].is_string()) << hex;
      EXPECT_TRUE(entry.contains("attrs") && entry["attrs"].is_array() && !entry["attrs"].empty())
          << hex;
    }
    for (const auto& [hex, entry] : errors.items()) {
      EXPECT_TRUE(entry.contains("name") && entry.contains("desc") && entry.contains("attrs"))
          << hex;
    }
  }
  // A version above the newest gets the newest; version 0 is refused.
  auto v9 = conn->GetErrorMap(9);
  ASSERT_TRUE(v9.ok());
  EXPECT_EQ(v9->status, McbpStatus::kSuccess);
  auto map = nlohmann::json::parse(v9->value, nullptr, false);
  ASSERT_FALSE(map.is_discarded());
  EXPECT_EQ(map.value("version", 0), 2);
  auto v0 = conn->GetErrorMap(0);
  ASSERT_TRUE(v0.ok());
  EXPECT_NE(v0->status, McbpStatus::kSuccess);
}

}  // namespace
}  // namespace sluice::testing
