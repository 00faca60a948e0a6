// WatchStream's parsing of the watch answer, against a scripted gateway (a test seam: an HTTP
// server that answers POST /v3/watch with chosen bytes in chosen chunks), for what a real etcd
// does not produce on demand: messages split across chunks, progress messages, a cancel with a
// reason, a stream error. The real-etcd cases are in etcd_watch_test.cc.
#include "cluster/watch_stream.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <string>
#include <thread>
#include <vector>

namespace sluice::cluster {
namespace {

// Serves one scripted answer to every POST /v3/watch: `chunks`, each sent as one HTTP chunk.
class ScriptedGateway {
 public:
  explicit ScriptedGateway(std::vector<std::string> chunks) : chunks_(std::move(chunks)) {
    server_.Post("/v3/watch", [this](const httplib::Request&, httplib::Response& res) {
      res.set_chunked_content_provider("application/json", [this](size_t, httplib::DataSink& sink) {
        for (const auto& chunk : chunks_) sink.write(chunk.data(), chunk.size());
        sink.done();
        return true;
      });
    });
    // Listening from here on: a connection waits in the backlog until the thread accepts it.
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
  }
  // Every test makes a request first, so the server is running (stop() ends it) by then.
  ~ScriptedGateway() {
    server_.stop();
    thread_.join();
  }

  EtcdEndpoint endpoint() const { return {.host = "127.0.0.1", .port = uint16_t(port_)}; }

 private:
  const std::vector<std::string> chunks_;
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

struct Outcome {
  WatchEnd end;
  std::vector<WatchBatch> batches;
};

Outcome Watch(const std::vector<std::string>& chunks, int64_t start_revision = 0) {
  ScriptedGateway gateway(chunks);
  EtcdOptions options;
  options.endpoints = {"127.0.0.1:1"};
  WatchStream stream(gateway.endpoint(), options);
  Outcome out;
  out.end = stream.Run({.key = "a", .start_revision = start_revision},
                       [&out](const WatchBatch& batch) { out.batches.push_back(batch); });
  return out;
}

const std::string kCreated = R"({"result":{"header":{"revision":"5"},"created":true}})"
                             "\n";
const std::string kPutAt6 =
    R"({"result":{"header":{"revision":"6"},"events":[{"kv":{"key":"YQ==","value":"MQ==",)"
    R"("create_revision":"6","mod_revision":"6","version":"1"}}]}})"
    "\n";
const std::string kProgress = R"({"result":{"header":{"revision":"9"}}})"
                              "\n";

TEST(WatchStreamTest, MessagesSplitAcrossChunksAndProgressMessages) {
  const std::string cancel = R"({"result":{"header":{"revision":"9"},"canceled":true,)"
                             R"("cancel_reason":"mvcc: watcher cancelled"}})"
                             "\n";
  // The put arrives in three pieces; a progress message carries no events.
  const auto out = Watch({kCreated + kPutAt6.substr(0, 20), kPutAt6.substr(20, 40),
                          kPutAt6.substr(60) + kProgress, cancel});
  ASSERT_EQ(out.batches.size(), 1u);
  EXPECT_EQ(out.batches[0].revision, 6);
  ASSERT_EQ(out.batches[0].events.size(), 1u);
  EXPECT_EQ(out.batches[0].events[0].type, WatchEvent::Type::kPut);  // no "type": a PUT
  EXPECT_EQ(out.batches[0].events[0].kv.key, "a");
  EXPECT_EQ(out.batches[0].events[0].kv.value, "1");
  EXPECT_TRUE(out.end.created);
  EXPECT_EQ(out.end.reason, WatchEnd::Reason::kBroken);
  EXPECT_NE(out.end.status.ToString().find("watcher cancelled"), std::string::npos);
  EXPECT_EQ(out.end.next_revision, 7);  // after the last event, not the progress revision
}

TEST(WatchStreamTest, AWatchFromNowResumesAfterItsCreationRevision) {
  const auto out = Watch({kCreated});  // then the stream ends
  EXPECT_TRUE(out.batches.empty());
  EXPECT_EQ(out.end.reason, WatchEnd::Reason::kBroken);
  EXPECT_EQ(out.end.next_revision, 6);
}

TEST(WatchStreamTest, CompactionEndsTheStreamForAReList) {
  const auto out = Watch({kCreated, R"({"result":{"header":{"revision":"9"},"canceled":true,)"
                                    R"("compact_revision":"8"}})"
                                    "\n"},
                         /*start_revision=*/3);
  EXPECT_EQ(out.end.reason, WatchEnd::Reason::kCompacted);
  EXPECT_EQ(out.end.compact_revision, 8);
  EXPECT_EQ(out.end.next_revision, 3);
}

TEST(WatchStreamTest, StreamErrorsAndMalformedMessagesBreakTheStream) {
  auto out = Watch({R"({"error":{"grpc_code":14,"message":"etcdserver: no leader"}})"
                    "\n"});
  EXPECT_EQ(out.end.reason, WatchEnd::Reason::kBroken);
  EXPECT_EQ(out.end.status.code(), Errc::kTempFail);
  EXPECT_FALSE(out.end.created);
  out = Watch({kCreated, "{not json\n"}, 4);
  EXPECT_EQ(out.end.reason, WatchEnd::Reason::kBroken);
  EXPECT_EQ(out.end.status.code(), Errc::kIoError);
  EXPECT_EQ(out.end.next_revision, 4);
}

}  // namespace
}  // namespace sluice::cluster
