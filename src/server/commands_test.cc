// Command handler tests in-process: a Connection over a MemoryTransport (server/memory_transport.h)
// with a real bucket (RocksDB in a temp dir, its tasks on a ManualExecutor) and a DCP ConnMap.
// Each test writes request frames as a client would and reads the response frames the
// connection wrote; no socket, no thread besides the test's.
#include <gtest/gtest.h>

#include <asio.hpp>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "dcp/conn_map.h"
#include "engine/bucket.h"
#include "protocol/byte_order.h"
#include "protocol/datatype.h"
#include "protocol/dcp_codec.h"
#include "protocol/encode.h"
#include "protocol/feature.h"
#include "protocol/frame_info.h"
#include "sasl/scram_client.h"
#include "sasl/users.h"
#include "server/command_table.h"
#include "server/connection.h"
#include "server/dispatcher.h"
#include "server/memory_transport.h"
#include "server/server_context.h"
#include "testing/manual_executor.h"
#include "testing/temp_dir.h"

namespace sluice::server {
namespace {

using protocol::Feature;
using protocol::McbpStatus;
using protocol::Opcode;
using protocol::RequestBuilder;

// A response frame, copied out of the connection's output.
struct Response {
  Opcode opcode = Opcode::kInvalid;
  McbpStatus status = McbpStatus::kSuccess;
  uint32_t opaque = 0;
  uint64_t cas = 0;
  uint8_t datatype = 0;
  std::string extras;
  std::string key;
  std::string value;
};

class CommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Config config;
    config.max_vbuckets = 4;
    config.max_num_shards = 1;
    config.ht_locks = 4;
    engine::BucketOptions options;
    options.data_dir = dir_.path();
    options.config = config;
    options.executor = &exec_;
    options.clock = &clock_;
    auto bucket = engine::Bucket::Open(options);
    ASSERT_TRUE(bucket.ok()) << bucket.status().ToString();
    bucket_ = *bucket;
    conn_map_ = dcp::ConnMap::Create(bucket_);
    auto users = sasl::UserDatabase::Create({{"alice", "s3cret", std::nullopt}});
    ASSERT_TRUE(users.ok()) << users.status().ToString();
    ctx_ = std::make_unique<ServerContext>(
        config, bucket_, conn_map_, std::shared_ptr<const sasl::UserDatabase>(std::move(*users)));
    transport_ = std::make_shared<MemoryTransport>(io_.get_executor());
    conn_ = std::make_shared<Connection>(transport_, *ctx_, /*id=*/1, &Dispatch);
    conn_->Start();
    io_.poll();
  }

  void TearDown() override {
    if (conn_) conn_->Close("test over");
    io_.poll();
    conn_.reset();
    if (conn_map_) conn_map_->Shutdown();
    if (bucket_) bucket_->Shutdown().IgnoreError();
    exec_.Shutdown();
  }

  // Sends `requests` (complete frames) in one go and returns every response written meanwhile.
  std::vector<Response> Send(const std::string& requests) {
    transport_->Feed(requests);
    return Responses();
  }
  std::vector<Response> Send(const RequestBuilder& request) { return Send(request.Build()); }

  // Runs the connection's I/O until it is idle and returns the responses written meanwhile.
  std::vector<Response> Responses() {
    io_.restart();
    io_.poll();
    const std::string out = transport_->TakeWritten();
    std::vector<Response> responses;
    std::string_view rest = out;
    while (!rest.empty()) {
      const auto d = protocol::DecodeFrame(rest, 1 << 30);
      EXPECT_EQ(d.status, protocol::DecodeStatus::kOk);
      if (d.status != protocol::DecodeStatus::kOk) break;
      const protocol::Frame& f = d.frame;
      EXPECT_TRUE(f.is_response());
      responses.push_back({f.client_opcode(), f.status(), f.opaque, f.cas, f.datatype,
                           std::string(f.extras), std::string(f.key), std::string(f.value)});
      rest.remove_prefix(d.size);
    }
    return responses;
  }

  // The single response to `request`.
  Response Call(const RequestBuilder& request) {
    const auto responses = Send(request);
    EXPECT_EQ(responses.size(), 1u);
    return responses.empty() ? Response{} : responses[0];
  }

  void Authenticate() {
    auto plain = sasl::PlainClientMessage("alice", "s3cret");
    ASSERT_TRUE(plain.ok());
    const Response r = Call(RequestBuilder(Opcode::kSaslAuth).Key("PLAIN").Value(*plain));
    ASSERT_EQ(r.status, McbpStatus::kSuccess);
  }

  Response Set(std::string_view key, std::string_view value, uint64_t cas = 0,
               Opcode op = Opcode::kSet) {
    return Call(
        RequestBuilder(op).Key(key).Value(value).MutationExtras(0xcafe, 0).Cas(cas).Opaque(7));
  }

  testing::TempDir dir_{"sluice_commands_test"};
  FakeClock clock_;
  executor::ManualExecutor exec_{&clock_};
  std::shared_ptr<engine::Bucket> bucket_;
  std::shared_ptr<dcp::ConnMap> conn_map_;
  std::unique_ptr<ServerContext> ctx_;
  asio::io_context io_;
  std::shared_ptr<MemoryTransport> transport_;
  std::shared_ptr<Connection> conn_;
};

std::string Be32(uint32_t v) {
  std::string s;
  protocol::AppendBe32(&s, v);
  return s;
}

TEST(CommandTableTest, QuietTwinsShareTheirRow) {
  const Command& get = CommandOf(Opcode::kGet);
  const Command& getq = CommandOf(Opcode::kGetq);
  EXPECT_EQ(getq.handler, get.handler);
  EXPECT_EQ(getq.needs, Needs::kBucket);
  EXPECT_FALSE(get.facts.quiet);
  EXPECT_TRUE(getq.facts.quiet);
  EXPECT_TRUE(CommandOf(Opcode::kGetkq).facts.returns_key);
  EXPECT_EQ(CommandOf(Opcode::kAddq).facts.mutation, Mutation::kAdd);
  EXPECT_TRUE(CommandOf(Opcode::kGatq).facts.returns_value);
  EXPECT_EQ(CommandOf(Opcode::kQuitq).needs, Needs::kNothing);
  // Not served: no handler (the dispatcher answers UNKNOWN_COMMAND).
  EXPECT_EQ(CommandOf(Opcode::kFlush).handler, nullptr);
  EXPECT_EQ(CommandOf(Opcode::kSetWithMeta).handler, nullptr);
  // Every row is under its own opcode.
  for (int op = 0; op < 256; ++op) {
    EXPECT_EQ(CommandOf(static_cast<Opcode>(op)).opcode, static_cast<Opcode>(op));
  }
}

TEST_F(CommandsTest, OnlyTheHandshakeBeforeAuthentication) {
  EXPECT_EQ(Call(RequestBuilder(Opcode::kGet).Key("k")).status, McbpStatus::kEaccess);
  EXPECT_EQ(Call(RequestBuilder(Opcode::kNoop)).status, McbpStatus::kSuccess);
  // A valid request sluice does not serve is refused like any other before authentication, and
  // is UNKNOWN_COMMAND after it.
  EXPECT_EQ(Call(RequestBuilder(Opcode::kCollectionsGetManifest)).status, McbpStatus::kEaccess);
  Authenticate();
  EXPECT_EQ(Call(RequestBuilder(Opcode::kCollectionsGetManifest)).status,
            McbpStatus::kUnknownCommand);
  // A retired one is refused by the validator.
  EXPECT_EQ(Call(RequestBuilder(Opcode::kFlush)).status, McbpStatus::kNotSupported);
}

TEST_F(CommandsTest, WrongPasswordIsAuthError) {
  auto plain = sasl::PlainClientMessage("alice", "wrong");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(Call(RequestBuilder(Opcode::kSaslAuth).Key("PLAIN").Value(*plain)).status,
            McbpStatus::kAuthError);
}

TEST_F(CommandsTest, SetGetDelete) {
  Authenticate();
  const Response set = Set("k", "v");
  EXPECT_EQ(set.status, McbpStatus::kSuccess);
  EXPECT_EQ(set.opcode, Opcode::kSet);
  EXPECT_EQ(set.opaque, 7u);
  EXPECT_NE(set.cas, 0u);

  const Response get = Call(RequestBuilder(Opcode::kGet).Key("k"));
  EXPECT_EQ(get.status, McbpStatus::kSuccess);
  EXPECT_EQ(get.value, "v");
  EXPECT_EQ(get.extras, Be32(0xcafe));
  EXPECT_EQ(get.cas, set.cas);
  EXPECT_EQ(get.key, "");  // GET does not return the key; GETK does
  EXPECT_EQ(Call(RequestBuilder(Opcode::kGetk).Key("k")).key, "k");

  EXPECT_EQ(Call(RequestBuilder(Opcode::kDelete).Key("k")).status, McbpStatus::kSuccess);
  EXPECT_EQ(Call(RequestBuilder(Opcode::kGet).Key("k")).status, McbpStatus::kKeyEnoent);
  EXPECT_EQ(Call(RequestBuilder(Opcode::kDelete).Key("k")).status, McbpStatus::kKeyEnoent);
}

TEST_F(CommandsTest, QuietCommandsAnswerOnlyWhatTheyMust) {
  Authenticate();
  std::string batch;
  RequestBuilder(Opcode::kSetq).Key("k").Value("v").MutationExtras(0, 0).Opaque(1).AppendTo(&batch);
  RequestBuilder(Opcode::kGetq).Key("missing").Opaque(2).AppendTo(&batch);
  RequestBuilder(Opcode::kGetkq).Key("k").Opaque(3).AppendTo(&batch);
  RequestBuilder(Opcode::kDeleteq).Key("missing").Opaque(4).AppendTo(&batch);  // an error: sent
  RequestBuilder(Opcode::kNoop).Opaque(5).AppendTo(&batch);
  const auto responses = Send(batch);
  ASSERT_EQ(responses.size(), 3u);
  EXPECT_EQ(responses[0].opaque, 3u);
  EXPECT_EQ(responses[0].opcode, Opcode::kGetkq);
  EXPECT_EQ(responses[0].key, "k");
  EXPECT_EQ(responses[0].value, "v");
  EXPECT_EQ(responses[1].opaque, 4u);
  EXPECT_EQ(responses[1].status, McbpStatus::kKeyEnoent);
  EXPECT_EQ(responses[2].opaque, 5u);
}

TEST_F(CommandsTest, CasAndStoreSemantics) {
  Authenticate();
  const uint64_t cas = Set("k", "v1").cas;
  EXPECT_EQ(Set("k", "v2", cas + 1).status, McbpStatus::kKeyEexists);
  const Response replaced = Set("k", "v2", cas);
  EXPECT_EQ(replaced.status, McbpStatus::kSuccess);
  EXPECT_NE(replaced.cas, cas);
  EXPECT_EQ(Set("k", "v3", cas).status, McbpStatus::kKeyEexists);  // the old CAS is stale now
  EXPECT_EQ(Set("k", "v", 0, Opcode::kAdd).status, McbpStatus::kKeyEexists);
  EXPECT_EQ(Set("other", "v", 0, Opcode::kReplace).status, McbpStatus::kKeyEnoent);
  EXPECT_EQ(Set("other", "v", 0, Opcode::kAdd).status, McbpStatus::kSuccess);
  EXPECT_EQ(Call(RequestBuilder(Opcode::kDelete).Key("k").Cas(cas)).status,
            McbpStatus::kKeyEexists);
}

TEST_F(CommandsTest, ArithmeticAndAppend) {
  Authenticate();
  Response r = Call(RequestBuilder(Opcode::kIncrement).Key("n").ArithmeticExtras(5, 10, 0));
  ASSERT_EQ(r.status, McbpStatus::kSuccess);
  EXPECT_EQ(r.value, std::string("\0\0\0\0\0\0\0\x0a", 8));  // created with the initial value
  r = Call(RequestBuilder(Opcode::kDecrement).Key("n").ArithmeticExtras(3, 0, 0));
  EXPECT_EQ(r.value, std::string("\0\0\0\0\0\0\0\x07", 8));
  EXPECT_EQ(Call(RequestBuilder(Opcode::kAppend).Key("n").Value("1")).status, McbpStatus::kSuccess);
  EXPECT_EQ(Call(RequestBuilder(Opcode::kPrepend).Key("n").Value("2")).status,
            McbpStatus::kSuccess);
  EXPECT_EQ(Call(RequestBuilder(Opcode::kGet).Key("n")).value, "271");
}

TEST_F(CommandsTest, HelloAgreesToSupportedFeaturesOnly) {
  std::string features;
  for (Feature f : {Feature::kJson, Feature::kXerror, Feature::kTcpDelay}) {
    features.push_back(static_cast<char>(static_cast<uint16_t>(f) >> 8));
    features.push_back(static_cast<char>(static_cast<uint16_t>(f) & 0xff));
  }
  const Response r =
      Call(RequestBuilder(Opcode::kHello).Key(R"({"a":"unit test","i":"1"})").Value(features));
  ASSERT_EQ(r.status, McbpStatus::kSuccess);
  EXPECT_EQ(r.value, features.substr(0, 4));  // JSON and XERROR; not TCPDELAY
  EXPECT_TRUE(conn_->HasFeature(Feature::kJson));
  EXPECT_FALSE(conn_->HasFeature(Feature::kTcpDelay));
  EXPECT_EQ(conn_->agent(), "unit test");

  // With JSON agreed, a JSON document comes back with its datatype.
  Authenticate();
  Set("doc", R"({"x":1})");
  EXPECT_EQ(Call(RequestBuilder(Opcode::kGet).Key("doc")).datatype, protocol::kDatatypeJson);
}

TEST_F(CommandsTest, StatGroups) {
  Authenticate();
  const auto responses = Send(RequestBuilder(Opcode::kStat).Key("vbucket"));
  ASSERT_EQ(responses.size(), 5u);  // four vbuckets, then the empty terminator
  for (int vb = 0; vb < 4; ++vb) {
    EXPECT_EQ(responses[vb].key, "vb_" + std::to_string(vb));
    EXPECT_EQ(responses[vb].value, "active");
  }
  EXPECT_EQ(responses[4].key, "");
  EXPECT_EQ(responses[4].status, McbpStatus::kSuccess);
  // An unknown group is one error, no partial list.
  const auto unknown = Send(RequestBuilder(Opcode::kStat).Key("no such group"));
  ASSERT_EQ(unknown.size(), 1u);
  EXPECT_NE(unknown[0].status, McbpStatus::kSuccess);
}

TEST_F(CommandsTest, ErrorPaths) {
  Authenticate();
  // Not an active vbucket of this node.
  EXPECT_EQ(Call(RequestBuilder(Opcode::kGet).Key("k").Vbucket(3000)).status,
            McbpStatus::kNotMyVbucket);
  // The validator: GET takes no extras.
  EXPECT_EQ(Call(RequestBuilder(Opcode::kGet).Key("k").Extras("xx")).status, McbpStatus::kEinval);
  // No bucket selected.
  EXPECT_EQ(Call(RequestBuilder(Opcode::kSelectBucket).Key("@no bucket@")).status,
            McbpStatus::kSuccess);
  EXPECT_EQ(Call(RequestBuilder(Opcode::kGet).Key("k")).status, McbpStatus::kNoBucket);
  EXPECT_EQ(Call(RequestBuilder(Opcode::kSelectBucket).Key("nope")).status, McbpStatus::kEaccess);
  EXPECT_EQ(Call(RequestBuilder(Opcode::kSelectBucket).Key("default")).status,
            McbpStatus::kSuccess);
  // QUIT answers, then the connection closes.
  EXPECT_EQ(Call(RequestBuilder(Opcode::kQuit)).status, McbpStatus::kSuccess);
  EXPECT_TRUE(transport_->closed());
}

TEST_F(CommandsTest, DurableWriteWaitsForPersistence) {
  Authenticate();
  std::string durability;
  protocol::AppendDurabilityFrameInfo(
      &durability, {protocol::DurabilityLevel::kPersistToMajority, std::nullopt});
  const auto before = Send(RequestBuilder(Opcode::kSet)
                               .Key("k")
                               .Value("v")
                               .MutationExtras(0, 0)
                               .FramingExtras(durability));
  EXPECT_TRUE(before.empty());  // the frame waits for the flusher
  exec_.RunReady(executor::TaskGroup::kWriter);
  const auto after = Responses();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].status, McbpStatus::kSuccess);
  EXPECT_GE(bucket_->GetVBucket(0)->synced_seqno(), 1u);
}

TEST_F(CommandsTest, DcpControlNeedsAProducer) {
  Authenticate();
  auto control = [&](std::string_view key, std::string_view value) {
    std::string frame;
    protocol::AppendDcpControl(&frame, {9, key, value});
    const auto r = Send(frame);
    EXPECT_EQ(r.size(), 1u);
    return r.empty() ? McbpStatus::kEinternal : r[0].status;
  };
  EXPECT_EQ(control("connection_buffer_size", "1024"), McbpStatus::kEinval);  // no DCP_OPEN yet
  std::string open;
  protocol::AppendDcpOpen(&open, {1, 0, protocol::kDcpOpenProducer, "unit-test-producer", {}});
  const auto opened = Send(open);
  ASSERT_EQ(opened.size(), 1u);
  EXPECT_EQ(opened[0].status, McbpStatus::kSuccess);
  EXPECT_EQ(control("connection_buffer_size", "1024"), McbpStatus::kSuccess);
  EXPECT_EQ(control("connection_buffer_size", "lots"), McbpStatus::kEinval);
  EXPECT_EQ(control("enable_noop", "true"), McbpStatus::kSuccess);
}

}  // namespace
}  // namespace sluice::server
