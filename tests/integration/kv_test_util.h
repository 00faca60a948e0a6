// File: tests/integration/kv_test_util.h
//
// What the document-command tests share: request extras builders and KvTest, a SluicedTest
// with one authenticated connection (conn_), a small max_item_size (so E2BIG is cheap), and
// helpers to run one raw request or a pipelined batch ended by a NOOP.
//
// Test-only. Thread safety: the test's thread.
#pragma once

#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "common/types.h"
#include "protocol/byte_order.h"
#include "protocol/payload.h"
#include "testing/wire_util.h"

namespace sluice::testing {

inline constexpr uint32_t kBatchEndOpaque = 0xfffffff0;  // never used by the client's own opaques
inline constexpr uint64_t kMaxItemSize = 1 << 20;        // --set max_item_size, to keep E2BIG cheap

inline std::string MutationExtras(uint32_t flags = 0, uint32_t expiry = 0) {
  std::string extras;
  protocol::AppendMutationExtras(&extras, {flags, expiry});
  return extras;
}

inline std::string ArithExtras(uint64_t delta, uint64_t initial, uint32_t expiry = 0) {
  std::string extras;
  protocol::AppendArithmeticExtras(&extras, {delta, initial, expiry});
  return extras;
}

inline std::string Be32(uint32_t v) {
  std::string s;
  protocol::AppendBe32(&s, v);
  return s;
}

inline uint32_t UnixNow() { return static_cast<uint32_t>(std::time(nullptr)); }

class KvTest : public SluicedTest {
 protected:
  ServerOptions Options() const override {
    ServerOptions options = SluicedTest::Options();
    options.extra_args.insert(options.extra_args.end(),
                              {"--set", "max_item_size=" + std::to_string(kMaxItemSize)});
    return options;
  }

  void SetUp() override {
    SluicedTest::SetUp();
    if (HasFatalFailure()) return;
    conn_ = Connect();
    ASSERT_NE(conn_, nullptr);
  }

  // Sends `requests` plus a trailing NOOP in one write and returns every response before the
  // NOOP's (quiet requests that stay silent contribute nothing).
  std::vector<client::Response> Batch(client::Connection& conn,
                                      const std::vector<protocol::RequestFields>& requests) {
    for (const auto& r : requests) conn.Enqueue(r);
    const uint32_t noop =
        conn.Enqueue({.opcode = protocol::Opcode::kNoop, .opaque = kBatchEndOpaque});
    std::vector<client::Response> out;
    Status s = conn.Flush();
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (!s.ok()) return out;
    s = conn.ReadResponsesUntil(noop, [&](const protocol::Frame& f) {
      if (f.opaque != noop) out.push_back(client::Response::FromFrame(f));
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  client::Response Run(client::Connection& conn, protocol::RequestFields request) {
    auto r = conn.Execute(request);
    EXPECT_TRUE(r.ok()) << protocol::OpcodeName(request.opcode) << ": " << r.status().ToString();
    return r.ok() ? std::move(*r) : client::Response{};
  }

  // The vbucket the client library routes `key` to.
  Vbid VbOf(std::string_view key) const { return VBucketForKey(key, vbuckets()); }

  std::unique_ptr<client::Connection> conn_;
};

}  // namespace sluice::testing
