// LeaseKeeper against a real etcd: keeping a lease, losing it, getting a new one.
#include "cluster/lease_keeper.h"

#include <gtest/gtest.h>

#include "testing/etcd_test_util.h"
#include "testing/recorder.h"

namespace sluice::cluster {
namespace {

using LeaseKeeperTest = EtcdTest;
using testing::Recorder;

TEST_F(LeaseKeeperTest, KeptLeaseOutlivesAnUnkeptOne) {
  LeaseKeeper keeper(client_, {.ttl = kTtl});
  keeper.Start();
  auto kept = keeper.AwaitLease(Deadline());
  ASSERT_TRUE(kept.ok()) << kept.status().ToString();
  auto unkept = client_->LeaseGrant(kTtl);
  ASSERT_TRUE(unkept.ok());
  ASSERT_TRUE(client_->Put("/t/kept", "x", {.lease = *kept}).ok());
  ASSERT_TRUE(client_->Put("/t/unkept", "x", {.lease = unkept->id}).ok());

  // Once the unkept lease (same TTL, granted later) has expired, the kept one is still there.
  ASSERT_TRUE(Eventually([&] { return !KeyExists("/t/unkept"); }));
  EXPECT_TRUE(KeyExists("/t/kept"));
  EXPECT_TRUE(keeper.Valid());
  EXPECT_EQ(keeper.lease(), *kept);

  // Stop() revokes: the key goes at once.
  EXPECT_TRUE(keeper.Stop().ok());
  EXPECT_FALSE(KeyExists("/t/kept"));
  EXPECT_EQ(keeper.state(), LeaseKeeper::State::kStopped);
  EXPECT_EQ(keeper.AwaitLease(Deadline()).status().code(), Errc::kCancelled);
}

TEST_F(LeaseKeeperTest, ReportsLossWhileEtcdIsDownAndRecoversWithANewLease) {
  Recorder<int64_t> granted;
  Recorder<int64_t> lost;
  LeaseKeeper keeper(client_, {.ttl = kTtl, .retry = {.initial = std::chrono::milliseconds(50)}},
                     {.on_granted = [&](int64_t id) { granted.Add(id); },
                      .on_lost = [&](int64_t id, const Status&) { lost.Add(id); }});
  keeper.Start();
  ASSERT_TRUE(granted.WaitForCount(1, kWait));
  const int64_t first = granted.values()[0];

  etcd_.Kill();  // longer than the TTL: the keeper must give the lease up
  ASSERT_TRUE(lost.WaitForCount(1, kWait));
  EXPECT_EQ(lost.values()[0], first);
  EXPECT_FALSE(keeper.Valid());
  EXPECT_EQ(keeper.lease(), 0);

  ASSERT_TRUE(etcd_.Start()) << etcd_.error();
  ASSERT_TRUE(granted.WaitForCount(2, kWait));
  const int64_t second = granted.values()[1];
  EXPECT_NE(second, first);
  EXPECT_EQ(*keeper.AwaitLease(Deadline()), second);
  // The lost lease does not linger in etcd (the keeper revoked it, or it expired).
  EXPECT_TRUE(Eventually(
      [&] { return client_->LeaseTimeToLive(first).status().code() == Errc::kNotFound; }));
  EXPECT_TRUE(client_->LeaseTimeToLive(second).ok());
  EXPECT_TRUE(keeper.Stop().ok());
}

TEST_F(LeaseKeeperTest, UnrenewedLeaseIsReportedLostAndExpires) {
  Recorder<int64_t> granted;
  Recorder<std::string> lost;
  LeaseKeeper keeper(client_, {.ttl = kTtl},
                     {.on_granted = [&](int64_t id) { granted.Add(id); },
                      .on_lost = [&](int64_t, const Status& why) { lost.Add(why.ToString()); }});
  keeper.Start();
  ASSERT_TRUE(granted.WaitForCount(1, kWait));
  ASSERT_TRUE(client_->Put("/t/reg", "x", {.lease = granted.values()[0]}).ok());
  keeper.PauseRenewalsForTesting();
  ASSERT_TRUE(lost.WaitForCount(1, kWait));
  EXPECT_TRUE(Eventually([&] { return !KeyExists("/t/reg"); }));
  ASSERT_TRUE(granted.WaitForCount(2, kWait));  // a new lease, renewed as usual
  EXPECT_TRUE(keeper.Stop().ok());
}

// on_expiry: at the grant (before on_granted) and at each confirmed renewal, a local expiry at
// most one TTL after the call, moving forward; while renewals stop it stays, and passes before
// the loss is reported.
TEST_F(LeaseKeeperTest, ReportsTheLocalExpiryAtEachGrantAndRenewal) {
  using Clock = std::chrono::steady_clock;
  Recorder<Clock::time_point> expiries;
  Recorder<int64_t> granted;
  Recorder<int64_t> lost;
  LeaseKeeper keeper(client_, {.ttl = kTtl},
                     {.on_granted =
                          [&](int64_t id) {
                            EXPECT_EQ(expiries.values().size(), 1u);  // told first
                            granted.Add(id);
                          },
                      .on_lost = [&](int64_t id, const Status&) { lost.Add(id); },
                      .on_expiry = [&](int64_t, Clock::time_point at) { expiries.Add(at); }});
  const auto started = Clock::now();
  keeper.Start();
  ASSERT_TRUE(granted.WaitForCount(1, kWait));
  ASSERT_TRUE(expiries.WaitForCount(3, kWait));  // the grant and two renewals
  const auto seen = expiries.values();
  EXPECT_GT(seen[0], started);
  EXPECT_LE(seen[0], Clock::now() + kTtl);
  EXPECT_GT(seen[2], seen[0]);
  keeper.PauseRenewalsForTesting();
  const size_t before_loss = expiries.values().size();
  ASSERT_TRUE(lost.WaitForCount(1, kWait));
  EXPECT_GE(Clock::now(), expiries.values()[before_loss - 1]);  // the loss comes at or after it
  keeper.Stop().IgnoreError();
}

TEST_F(LeaseKeeperTest, StopWithEtcdDownDoesNotHang) {
  LeaseKeeper keeper(client_, {.ttl = kTtl});
  keeper.Start();
  ASSERT_TRUE(keeper.AwaitLease(Deadline()).ok());
  etcd_.Kill();
  EXPECT_EQ(keeper.Stop().code(), Errc::kTempFail);  // could not revoke: it ends at its TTL
}

}  // namespace
}  // namespace sluice::cluster
