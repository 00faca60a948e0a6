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

TEST_F(LeaseKeeperTest, StopWithEtcdDownDoesNotHang) {
  LeaseKeeper keeper(client_, {.ttl = kTtl});
  keeper.Start();
  ASSERT_TRUE(keeper.AwaitLease(Deadline()).ok());
  etcd_.Kill();
  EXPECT_EQ(keeper.Stop().code(), Errc::kTempFail);  // could not revoke: it ends at its TTL
}

}  // namespace
}  // namespace sluice::cluster
