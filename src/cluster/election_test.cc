// Election against a real etcd: one leader, takeover, fencing of the deposed leader.
#include "cluster/election.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "testing/etcd_test_util.h"
#include "testing/recorder.h"

namespace sluice::cluster {
namespace {

using testing::Recorder;

constexpr const char* kKey = "/sluice/c/manager";

class ElectionTest : public EtcdTest {
 protected:
  // A candidate whose elections and depositions are recorded.
  struct Candidate {
    Recorder<Leadership> elected;
    Recorder<std::string> deposed;
    std::unique_ptr<Election> election;
  };

  std::unique_ptr<Candidate> NewCandidate(const std::string& id) {
    auto c = std::make_unique<Candidate>();
    c->election = std::make_unique<Election>(
        client_,
        ElectionOptions{.key = kKey,
                        .candidate = id,
                        .ttl = kTtl,
                        .retry = {.initial = std::chrono::milliseconds(50)}},
        Election::Callbacks{
            .on_elected = [p = c.get()](const Leadership& l) { p->elected.Add(l); },
            .on_deposed = [p = c.get()](const Leadership&,
                                        const Status& why) { p->deposed.Add(why.ToString()); }});
    c->election->Start();
    return c;
  }

  // Starts "a", waits until it leads, then starts "b".
  void ElectA() {
    a_ = NewCandidate("a");
    ASSERT_TRUE(a_->elected.WaitForCount(1, kWait));
    b_ = NewCandidate("b");
    ASSERT_TRUE(Eventually([&] { return b_->election->role() == Election::Role::kFollowing; }));
    term_a_ = a_->elected.values()[0];
  }

  // A map write fenced by `term` and by the map's own mod_revision.
  StatusOr<TxnResult> WriteMap(const Leadership& term, const std::string& value) {
    auto map = client_->Get("/sluice/c/buckets/b/map");
    const int64_t mod = map.ok() ? map->mod_revision : 0;
    return client_->Txn({.compare = {term.Guard(), Compare::ModRevision("/sluice/c/buckets/b/map",
                                                                        CompareOp::kEqual, mod)},
                         .success = {TxnOp::Put("/sluice/c/buckets/b/map", value)}});
  }

  // The term of whichever candidate leads after term_a_ (a deposed leader may win again with its
  // new lease if it campaigns before the other sees the key go), once one does.
  std::optional<Leadership> NextTerm() {
    EXPECT_TRUE(Eventually([&] { return LaterTerm().has_value(); }));
    return LaterTerm();
  }
  std::optional<Leadership> LaterTerm() {
    for (Candidate* c : {a_.get(), b_.get()}) {
      auto term = c->election->leadership();
      if (term && term->create_revision > term_a_.create_revision) return term;
    }
    return std::nullopt;
  }

  // A's old term is fenced off and `next`, the one leading, writes.
  void ExpectFenced(const Leadership& next) {
    EXPECT_EQ(Election::Leader(*client_, kKey)->create_revision, next.create_revision);
    auto stale = WriteMap(term_a_, "from-a");
    ASSERT_TRUE(stale.ok());
    EXPECT_FALSE(stale->succeeded);
    auto fresh = WriteMap(next, "from-" + next.candidate);
    ASSERT_TRUE(fresh.ok());
    EXPECT_TRUE(fresh->succeeded);
    EXPECT_EQ(client_->Get("/sluice/c/buckets/b/map")->value, "from-" + next.candidate);
  }

  void TearDown() override {
    if (b_) b_->election->Stop();
    if (a_) a_->election->Stop();
  }

  std::unique_ptr<Candidate> a_;
  std::unique_ptr<Candidate> b_;
  Leadership term_a_;
};

TEST_F(ElectionTest, OneCandidateLeads) {
  a_ = NewCandidate("a");
  b_ = NewCandidate("b");
  ASSERT_TRUE(Eventually([&] {
    return (a_->elected.size() + b_->elected.size()) == 1 &&
           (a_->election->role() == Election::Role::kFollowing ||
            b_->election->role() == Election::Role::kFollowing);
  }));
  Candidate& leader = a_->elected.size() == 1 ? *a_ : *b_;
  const Leadership term = leader.elected.values()[0];
  auto holder = Election::Leader(*client_, kKey);
  ASSERT_TRUE(holder.ok());
  EXPECT_EQ(holder->value, term.candidate);
  EXPECT_EQ(holder->create_revision, term.create_revision);
  EXPECT_EQ(holder->lease, term.lease);
  EXPECT_EQ(leader.election->leadership()->create_revision, term.create_revision);
  auto write = WriteMap(term, "map-1");
  ASSERT_TRUE(write.ok());
  EXPECT_TRUE(write->succeeded);
}

TEST_F(ElectionTest, TakeoverWhenTheLeadersLeaseIsRevoked) {
  ElectA();
  ASSERT_TRUE(client_->LeaseRevoke(term_a_.lease).ok());
  ASSERT_TRUE(a_->deposed.WaitForCount(1, kWait));
  const auto next = NextTerm();
  ASSERT_TRUE(next.has_value());
  // The deposed leader's fenced write fails; the new leader's succeeds.
  ExpectFenced(*next);
}

TEST_F(ElectionTest, TakeoverWhenTheLeaderStopsRenewing) {
  ElectA();
  a_->election->lease_keeper_for_testing().PauseRenewalsForTesting();  // a hangs
  ASSERT_TRUE(a_->deposed.WaitForCount(1, kWait));  // a steps down by itself after the TTL
  // The old lease is gone (a revoked it, or etcd expired it); b, or a with a new lease, leads.
  const auto next = NextTerm();
  ASSERT_TRUE(next.has_value());
  ExpectFenced(*next);
  // Exactly one leads; the other follows.
  ASSERT_TRUE(Eventually([&] {
    return (a_->election->role() == Election::Role::kFollowing) !=
           (b_->election->role() == Election::Role::kFollowing);
  }));
}

TEST_F(ElectionTest, StopResignsAndTheOtherTakesOver) {
  ElectA();
  a_->election->Stop();
  EXPECT_EQ(a_->election->role(), Election::Role::kStopped);
  EXPECT_EQ(a_->deposed.size(), 0u);  // a resignation is not a deposition
  ASSERT_TRUE(b_->elected.WaitForCount(1, kWait));
  EXPECT_EQ(Election::Leader(*client_, kKey)->value, "b");
}

TEST_F(ElectionTest, DeletingTheKeyDeposesTheLeader) {
  ElectA();
  ASSERT_TRUE(client_->DeleteRange(kKey).ok());
  ASSERT_TRUE(a_->deposed.WaitForCount(1, kWait));
  // Someone leads again (either may win the new campaign), under a new term.
  ASSERT_TRUE(Eventually([&] {
    auto holder = Election::Leader(*client_, kKey);
    return holder.ok() && holder->create_revision > term_a_.create_revision;
  }));
}

}  // namespace
}  // namespace sluice::cluster
