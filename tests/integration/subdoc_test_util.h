// File: tests/integration/subdoc_test_util.h
//
// What the subdoc and xattr integration tests share: SubdocTest, a KvTest whose connection also
// agreed HELLO XATTR, with builders for single-path and multi-path subdoc requests (routed to the
// key's vbucket) and decoders for their answers.
//
// Test-only. Thread safety: the test's thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/subdoc.h"
#include "tests/integration/kv_test_util.h"

namespace sluice::testing {

// One spec of a request, owning its strings.
struct Spec {
  protocol::Opcode opcode = protocol::Opcode::kSubdocGet;
  uint8_t flags = 0;
  std::string path;
  std::string value;
};

inline constexpr uint8_t kXattrPath = protocol::kSubdocFlagXattrPath;
inline constexpr uint8_t kMkdirP = protocol::kSubdocFlagMkdirP;
inline constexpr uint8_t kMacros = protocol::kSubdocFlagExpandMacros;

class SubdocTest : public KvTest {
 protected:
  void SetUp() override {
    SluicedTest::SetUp();
    if (HasFatalFailure()) return;
    ClientSetup setup;
    setup.features.push_back(protocol::Feature::kXattr);
    conn_ = Connect(setup);
    ASSERT_NE(conn_, nullptr);
    ASSERT_TRUE(conn_->HasFeature(protocol::Feature::kXattr));
  }

  struct Request {
    protocol::Opcode opcode = protocol::Opcode::kSubdocMultiMutation;
    std::string key;
    std::vector<Spec> specs;
    uint8_t doc_flags = 0;
    uint64_t cas = 0;
    uint32_t expiry = 0;
    std::optional<uint32_t> user_flags;
  };

  // A single-path command (specs[0]) or a multi one, as `r.opcode` says.
  client::Response Send(client::Connection& conn, const Request& r) {
    std::string extras;
    std::string value;
    const bool multi = r.opcode == protocol::Opcode::kSubdocMultiLookup ||
                       r.opcode == protocol::Opcode::kSubdocMultiMutation;
    if (multi) {
      protocol::AppendSubdocMultiExtras(&extras, {r.expiry, r.user_flags, r.doc_flags});
      for (const Spec& s : r.specs) {
        protocol::AppendSubdocSpec(&value, {s.opcode, s.flags, s.path, s.value},
                                   r.opcode == protocol::Opcode::kSubdocMultiMutation);
      }
    } else {
      const Spec& s = r.specs.at(0);
      protocol::AppendSubdocSingleExtras(&extras, {static_cast<uint16_t>(s.path.size()), s.flags,
                                                   r.expiry, r.user_flags, r.doc_flags});
      value = s.path + s.value;
    }
    return Run(conn, {.opcode = r.opcode,
                      .vbucket = VbOf(r.key),
                      .cas = r.cas,
                      .extras = extras,
                      .key = r.key,
                      .value = value});
  }
  client::Response Send(const Request& r) { return Send(*conn_, r); }

  client::Response Mutate(const std::string& key, std::vector<Spec> specs, uint8_t doc_flags = 0) {
    return Send({protocol::Opcode::kSubdocMultiMutation, key, std::move(specs), doc_flags});
  }
  client::Response Lookup(const std::string& key, std::vector<Spec> specs, uint8_t doc_flags = 0) {
    return Send({protocol::Opcode::kSubdocMultiLookup, key, std::move(specs), doc_flags});
  }

  // The per-spec results of a multi lookup's answer.
  static std::vector<protocol::SubdocLookupResult> Results(const client::Response& r) {
    auto decoded = protocol::DecodeSubdocMultiLookupResponse(r.value);
    EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
    return decoded.ok() ? *decoded : std::vector<protocol::SubdocLookupResult>{};
  }
  static std::vector<protocol::SubdocMutationResult> MutationResults(const client::Response& r) {
    auto decoded = protocol::DecodeSubdocMultiMutationResponse(r.value);
    EXPECT_TRUE(decoded.ok()) << decoded.status().ToString();
    return decoded.ok() ? *decoded : std::vector<protocol::SubdocMutationResult>{};
  }
  // The value one lookup spec reads, "" (and a failure) if it did not succeed.
  std::string LookupOne(const std::string& key, Spec spec, uint8_t doc_flags = 0) {
    auto r = Lookup(key, {std::move(spec)}, doc_flags);
    auto results = Results(r);
    if (results.size() != 1 || results[0].status != protocol::McbpStatus::kSuccess) {
      ADD_FAILURE() << key << ": lookup answered " << protocol::McbpStatusName(r.status);
      return {};
    }
    return results[0].value;
  }
};

}  // namespace sluice::testing
