// EtcdClient against a real etcd: KV, txn, leases, errors.
#include "cluster/etcd_client.h"

#include <gtest/gtest.h>

#include "testing/etcd_test_util.h"

namespace sluice::cluster {
namespace {

using EtcdClientTest = EtcdTest;

TEST_F(EtcdClientTest, PutRangePrefixDelete) {
  auto first = client_->Put("/t/a/1", "one");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_TRUE(client_->Put("/t/a/2", std::string("two\0bytes", 9)).ok());
  ASSERT_TRUE(client_->Put("/t/b", "other").ok());

  auto range = client_->Range("/t/a/", {.prefix = true});
  ASSERT_TRUE(range.ok()) << range.status().ToString();
  ASSERT_EQ(range->kvs.size(), 2u);
  EXPECT_EQ(range->kvs[0].key, "/t/a/1");
  EXPECT_EQ(range->kvs[0].value, "one");
  EXPECT_EQ(range->kvs[0].create_revision, first->revision);
  EXPECT_EQ(range->kvs[0].version, 1);
  EXPECT_EQ(range->kvs[1].value, std::string("two\0bytes", 9));
  EXPECT_EQ(range->count, 2);
  EXPECT_GE(range->revision, range->kvs[1].mod_revision);

  EXPECT_EQ(client_->Get("/t/none").status().code(), Errc::kNotFound);
  auto replaced = client_->Put("/t/a/1", "uno", {.prev_kv = true});
  ASSERT_TRUE(replaced.ok());
  ASSERT_TRUE(replaced->prev_kv.has_value());
  EXPECT_EQ(replaced->prev_kv->value, "one");
  EXPECT_EQ(client_->Get("/t/a/1")->version, 2);

  auto deleted = client_->DeleteRange("/t/a/", {.prefix = true, .prev_kv = true});
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(deleted->deleted, 2);
  ASSERT_EQ(deleted->prev_kvs.size(), 2u);
  EXPECT_EQ(deleted->prev_kvs[0].value, "uno");
  EXPECT_TRUE(client_->Range("/t/a/", {.prefix = true})->kvs.empty());
  EXPECT_TRUE(KeyExists("/t/b"));
}

TEST_F(EtcdClientTest, TxnComparesOnModRevision) {
  auto put = client_->Put("/t/map", "v1");
  ASSERT_TRUE(put.ok());
  const TxnRequest guarded{
      .compare = {Compare::ModRevision("/t/map", CompareOp::kEqual, put->revision)},
      .success = {TxnOp::Put("/t/map", "v2")},
      .failure = {TxnOp::Get("/t/map")},
  };
  auto won = client_->Txn(guarded);
  ASSERT_TRUE(won.ok()) << won.status().ToString();
  EXPECT_TRUE(won->succeeded);
  ASSERT_EQ(won->responses.size(), 1u);
  EXPECT_GT(std::get<PutResult>(won->responses[0]).revision, put->revision);

  // The same compare again: the map moved on, so the failure branch runs and shows why.
  auto lost = client_->Txn(guarded);
  ASSERT_TRUE(lost.ok());
  EXPECT_FALSE(lost->succeeded);
  ASSERT_EQ(lost->responses.size(), 1u);
  const auto& current = std::get<RangeResult>(lost->responses[0]);
  ASSERT_EQ(current.kvs.size(), 1u);
  EXPECT_EQ(current.kvs[0].value, "v2");
  EXPECT_EQ(client_->Get("/t/map")->value, "v2");
}

TEST_F(EtcdClientTest, TxnCompareTargets) {
  ASSERT_TRUE(client_->Put("/t/k", "v").ok());
  auto txn = client_->Txn({.compare = {Compare::Value("/t/k", CompareOp::kEqual, "v"),
                                       Compare::Version("/t/k", CompareOp::kGreater, 0),
                                       Compare::CreateRevision("/t/absent", CompareOp::kEqual, 0),
                                       Compare::Lease("/t/k", CompareOp::kEqual, 0),
                                       Compare::ModRevision("/t/k", CompareOp::kLess, 1'000'000)},
                           .success = {TxnOp::Delete("/t/k"), TxnOp::Put("/t/absent", "x")}});
  ASSERT_TRUE(txn.ok()) << txn.status().ToString();
  EXPECT_TRUE(txn->succeeded);
  EXPECT_EQ(std::get<DeleteResult>(txn->responses[0]).deleted, 1);
  EXPECT_FALSE(KeyExists("/t/k"));
  EXPECT_TRUE(KeyExists("/t/absent"));
}

TEST_F(EtcdClientTest, KeyUnderALeaseVanishesAfterTheTtl) {
  auto lease = client_->LeaseGrant(kTtl);
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  EXPECT_EQ(lease->ttl, kTtl.count());
  ASSERT_TRUE(client_->Put("/t/leased", "x", {.lease = lease->id}).ok());
  auto ttl = client_->LeaseTimeToLive(lease->id, /*keys=*/true);
  ASSERT_TRUE(ttl.ok()) << ttl.status().ToString();
  EXPECT_EQ(ttl->granted_ttl, kTtl.count());
  EXPECT_EQ(ttl->keys, std::vector<std::string>{"/t/leased"});
  EXPECT_EQ(client_->Get("/t/leased")->lease, lease->id);

  // Not kept alive: etcd expires it and the key goes with it.
  EXPECT_TRUE(Eventually([&] { return !KeyExists("/t/leased"); }));
  EXPECT_EQ(client_->LeaseTimeToLive(lease->id).status().code(), Errc::kNotFound);
  EXPECT_EQ(client_->LeaseKeepAliveOnce(lease->id).status().code(), Errc::kNotFound);
  const Status revoked = client_->LeaseRevoke(lease->id);
  EXPECT_EQ(revoked.code(), Errc::kNotFound) << revoked.ToString();
  EXPECT_EQ(client_->Put("/t/leased", "x", {.lease = lease->id}).status().code(), Errc::kNotFound);
}

TEST_F(EtcdClientTest, KeepAliveOnceAndRevoke) {
  auto lease = client_->LeaseGrant(kTtl);
  ASSERT_TRUE(lease.ok());
  auto ttl = client_->LeaseKeepAliveOnce(lease->id);
  ASSERT_TRUE(ttl.ok()) << ttl.status().ToString();
  EXPECT_EQ(*ttl, kTtl.count());
  ASSERT_TRUE(client_->Put("/t/leased", "x", {.lease = lease->id}).ok());
  ASSERT_TRUE(client_->LeaseRevoke(lease->id).ok());
  EXPECT_FALSE(KeyExists("/t/leased"));  // revocation deletes at once
}

TEST_F(EtcdClientTest, CompactedRevisionsAreOutOfRange) {
  auto first = client_->Put("/t/c", "1");
  ASSERT_TRUE(first.ok());
  auto second = client_->Put("/t/c", "2");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(client_->Range("/t/c", {.revision = first->revision})->kvs[0].value, "1");
  ASSERT_TRUE(client_->Compact(second->revision).ok());
  EXPECT_EQ(client_->Range("/t/c", {.revision = first->revision}).status().code(), Errc::kRange);
  EXPECT_EQ(client_->Range("/t/c", {.revision = second->revision + 100}).status().code(),
            Errc::kRange);
  // An error answer (with the gateway's HTTP trailer) leaves the client working.
  EXPECT_EQ(client_->Get("/t/c")->value, "2");
}

TEST_F(EtcdClientTest, UnreachableEtcdIsATemporaryFailure) {
  etcd_.Kill();
  auto range = client_->Range("/t/x");
  EXPECT_EQ(range.status().code(), Errc::kTempFail);
  EXPECT_NE(range.status().message().find("unreachable"), std::string_view::npos)
      << range.status().ToString();
  EXPECT_EQ(client_->LeaseGrant(kTtl).status().code(), Errc::kTempFail);
  // Back again: the same client carries on (its stale idle connection is replaced).
  ASSERT_TRUE(etcd_.Start()) << etcd_.error();
  EXPECT_TRUE(Eventually([&] { return client_->Put("/t/x", "y").ok(); }));
}

TEST_F(EtcdClientTest, FailsOverToTheNextEndpoint) {
  // Port 1 on loopback: nothing listens there, so the connection is refused.
  EtcdOptions options = TestOptions("127.0.0.1:1");
  options.endpoints.push_back(etcd_.endpoint());
  auto client = EtcdClient::Create(options);
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE((*client)->Put("/t/f", "v").ok());
  EXPECT_EQ((*client)->transport().current_endpoint().ToString(), etcd_.endpoint());
}

TEST(EtcdClientOptionsTest, BadEndpointsAreRefused) {
  EXPECT_EQ(EtcdClient::Create({}).status().code(), Errc::kInvalid);
  EXPECT_EQ(EtcdClient::Create({.endpoints = {"https://127.0.0.1:2379"}}).status().code(),
            Errc::kInvalid);
  EXPECT_EQ(EtcdClient::Create({.endpoints = {"127.0.0.1"}}).status().code(), Errc::kInvalid);
  EXPECT_TRUE(EtcdClient::Create({.endpoints = {"http://127.0.0.1:2379/"}}).ok());
}

}  // namespace
}  // namespace sluice::cluster
