// File: testing/etcd_test_util.h
//
// What the etcd tests (src/cluster, etcd_test) share: EtcdTest, a fixture with a fresh etcd
// (testing/etcd_process.h) and a client of it; the TTLs and deadlines (Deadline()) the tests use
// (longer in sanitizer builds, whose threads may miss renewals on two busy cores); Eventually(), a
// condition polled until a deadline.
//
// Ownership: test-only. Thread safety: the test's thread.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <thread>

#include "cluster/etcd_client.h"
#include "testing/etcd_process.h"

namespace sluice::cluster {

#ifdef SLUICE_SANITIZER_BUILD
inline constexpr std::chrono::seconds kTtl{5};
#else
inline constexpr std::chrono::seconds kTtl{2};
#endif
// How long any awaited condition may take before the test fails (never a pass/fail timing).
inline constexpr std::chrono::milliseconds kWait{60'000};

inline EtcdOptions TestOptions(const std::string& endpoint) {
  EtcdOptions options;
  options.endpoints = {endpoint};
  options.connect_timeout = std::chrono::milliseconds(500);
  options.request_timeout = std::chrono::seconds(10);
  return options;
}

// The deadline of an awaited condition started now.
inline std::chrono::steady_clock::time_point Deadline() {
  return std::chrono::steady_clock::now() + kWait;
}

// Polls `pred` (an etcd read, say) until it holds or `timeout` passes.
template <class Pred>
bool Eventually(Pred pred, std::chrono::milliseconds timeout = kWait) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!pred()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    // The condition lives in another process: poll it, bounded by the deadline.
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  return true;
}

class EtcdTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SLUICE_SKIP_WITHOUT_ETCD();
    ASSERT_TRUE(etcd_.Start()) << etcd_.error();
    client_ = NewClient();
  }

  std::shared_ptr<EtcdClient> NewClient() {
    auto client = EtcdClient::Create(TestOptions(etcd_.endpoint()));
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? *client : nullptr;
  }

  // The current store revision.
  int64_t Revision() {
    auto range = client_->Range("", {.prefix = true, .count_only = true});
    EXPECT_TRUE(range.ok()) << range.status().ToString();
    return range.ok() ? range->revision : 0;
  }

  bool KeyExists(const std::string& key) {
    auto kv = client_->Get(key);
    return kv.ok();
  }

  testing::EtcdProcess etcd_;
  std::shared_ptr<EtcdClient> client_;
};

}  // namespace sluice::cluster
