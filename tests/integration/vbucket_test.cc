// Integration: vbuckets over TCP — SET/GET/DEL_VBUCKET (with topologies), NOT_MY_VBUCKET with
// the cluster config, GET_REPLICA, GET_ALL_VB_SEQNOS, OBSERVE_SEQNO (also across an unclean
// restart), GET_FAILOVER_LOG, GET_CLUSTER_CONFIG and the CRC key->vbucket mapping. Clusters of
// several nodes: cluster_map_test.cc.
#include <nlohmann/json.hpp>

#include "protocol/byte_order.h"
#include "protocol/datatype.h"
#include "protocol/payload.h"
#include "testing/wire_util.h"

namespace sluice::testing {
namespace {

using protocol::Feature;
using protocol::McbpStatus;
using protocol::Opcode;
using protocol::RequestFields;

nlohmann::json ParseJson(std::string_view text) {
  return nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
}

class VBucketTest : public SluicedTest {
 protected:
  void SetUp() override {
    SluicedTest::SetUp();
    if (HasFatalFailure()) return;
    conn_ = Connect();
    ASSERT_NE(conn_, nullptr);
  }

  // A key the CRC mapping puts on `vb`.
  std::string KeyOn(Vbid vb, std::string_view prefix = "key") const {
    for (int i = 0;; ++i) {
      std::string key = std::string(prefix) + "-" + std::to_string(i);
      if (VBucketForKey(key, vbuckets()) == vb) return key;
    }
  }

  client::Response Run(client::Connection& conn, RequestFields request) {
    auto r = conn.Execute(request);
    EXPECT_TRUE(r.ok()) << protocol::OpcodeName(request.opcode) << ": " << r.status().ToString();
    return r.ok() ? std::move(*r) : client::Response{};
  }

  // Checks a NOT_MY_VBUCKET answer: the body is this server's cluster config.
  void ExpectNotMyVbucketWithConfig(const client::KvResult& r, const std::string& what) {
    EXPECT_EQ(r.status, McbpStatus::kNotMyVbucket) << what;
    auto config = ParseJson(r.value);
    ASSERT_FALSE(config.is_discarded()) << what << ": body is not JSON: " << r.value;
    EXPECT_EQ(config.value("name", ""), "default") << what;
    EXPECT_TRUE(config.contains("vBucketServerMap")) << what;
    EXPECT_TRUE(config.contains("rev")) << what;
  }

  uint64_t HighSeqno(Vbid vb) {
    auto stats = FetchStats(*conn_, "vbucket-seqno " + std::to_string(vb));
    EXPECT_TRUE(stats.ok());
    if (!stats.ok()) return 0;
    return StatU64(*stats, "vb_" + std::to_string(vb) + ":high_seqno").value_or(0);
  }

  std::unique_ptr<client::Connection> conn_;
};

TEST_F(VBucketTest, SetGetAndDeleteVBucket) {
  for (Vbid vb = 0; vb < vbuckets(); ++vb) {
    auto state = conn_->GetVBucket(vb);
    ASSERT_TRUE(state.ok()) << state.status().ToString();
    EXPECT_EQ(*state, VBucketState::kActive) << "all active on a fresh data directory";
  }
  for (VBucketState s : {VBucketState::kReplica, VBucketState::kPending, VBucketState::kDead,
                         VBucketState::kActive}) {
    ASSERT_TRUE(conn_->SetVBucket(3, s).ok()) << VBucketStateName(s);
    auto state = conn_->GetVBucket(3);
    ASSERT_TRUE(state.ok());
    EXPECT_EQ(*state, s);
  }
  // A state byte out of range is refused.
  const std::string bad_state(1, '\x07');
  EXPECT_EQ(Run(*conn_, {.opcode = Opcode::kSetVbucket, .vbucket = 3, .extras = bad_state}).status,
            McbpStatus::kEinval);
  // Out of range vbuckets do not exist.
  auto out_of_range =
      Run(*conn_, {.opcode = Opcode::kGetVbucket, .vbucket = static_cast<Vbid>(vbuckets())});
  EXPECT_EQ(out_of_range.status, McbpStatus::kNotMyVbucket);
  // ...and cannot be created: ERANGE, as kv_engine answers.
  const char active_state = static_cast<char>(VBucketState::kActive);
  EXPECT_EQ(Run(*conn_, {.opcode = Opcode::kSetVbucket,
                         .vbucket = static_cast<Vbid>(vbuckets()),
                         .extras = std::string_view(&active_state, 1)})
                .status,
            McbpStatus::kErange);

  // Deleting drops the vbucket and its data; SET_VBUCKET creates it again, empty, with a new
  // failover branch.
  const std::string key = KeyOn(5);
  ASSERT_EQ(Must(conn_->Set(key, "v")).status, McbpStatus::kSuccess);
  auto old_log = conn_->GetFailoverLog(5);
  ASSERT_TRUE(old_log.ok());
  ASSERT_TRUE(conn_->SetVBucket(5, VBucketState::kDead).ok());
  auto del = Run(*conn_, {.opcode = Opcode::kDelVbucket, .vbucket = 5});
  EXPECT_EQ(del.status, McbpStatus::kSuccess);
  auto gone = Run(*conn_, {.opcode = Opcode::kGetVbucket, .vbucket = 5});
  EXPECT_EQ(gone.status, McbpStatus::kNotMyVbucket);
  ExpectNotMyVbucketWithConfig(Must(conn_->Get(key)), "GET on a deleted vbucket");
  EXPECT_EQ(Run(*conn_, {.opcode = Opcode::kDelVbucket, .vbucket = 5}).status,
            McbpStatus::kNotMyVbucket)
      << "deleting twice";
  ASSERT_TRUE(conn_->SetVBucket(5, VBucketState::kActive).ok());
  EXPECT_EQ(Must(conn_->Get(key)).status, McbpStatus::kKeyEnoent) << "the data went with it";
  auto new_log = conn_->GetFailoverLog(5);
  ASSERT_TRUE(new_log.ok());
  ASSERT_FALSE(new_log->empty());
  EXPECT_NE((*new_log)[0].vbucket_uuid, (*old_log)[0].vbucket_uuid);
  EXPECT_EQ(HighSeqno(5), 0u);
  ASSERT_EQ(Must(conn_->Set(key, "again")).status, McbpStatus::kSuccess);
  EXPECT_EQ(HighSeqno(5), 1u);

  // Deleting an active vbucket works too (kv_engine marks it dead first).
  EXPECT_EQ(Run(*conn_, {.opcode = Opcode::kDelVbucket, .vbucket = 6}).status,
            McbpStatus::kSuccess);
  EXPECT_EQ(Run(*conn_, {.opcode = Opcode::kGetVbucket, .vbucket = 6}).status,
            McbpStatus::kNotMyVbucket);
}

TEST_F(VBucketTest, NotMyVbucketCarriesTheClusterConfig) {
  ASSERT_TRUE(conn_->SetVBucket(2, VBucketState::kReplica).ok());
  const std::string key = KeyOn(2);
  for (const auto& [what, result] : std::vector<std::pair<std::string, client::KvResult>>{
           {"GET", Must(conn_->Get(key))},
           {"SET", Must(conn_->Set(key, "v"))},
           {"DELETE", Must(conn_->Delete(key))},
           {"INCR", Must(conn_->Increment(key, 1))},
           {"APPEND", Must(conn_->Append(key, "v"))},
           {"TOUCH", Must(conn_->Touch(key, 1))},
           {"out of range", Must(conn_->Get(key, {.vbucket = static_cast<Vbid>(vbuckets())}))},
           {"far out of range", Must(conn_->Get(key, {.vbucket = 0xfff0}))}}) {
    ExpectNotMyVbucketWithConfig(result, what);
  }
  // The map in the body says the replica vbucket is not on this node.
  auto r = Must(conn_->Get(key));
  auto config = ParseJson(r.value);
  ASSERT_FALSE(config.is_discarded());
  EXPECT_EQ(config["vBucketServerMap"]["vBucketMap"][2], nlohmann::json::array({-1}));
  EXPECT_EQ(config["vBucketServerMap"]["vBucketMap"][1], nlohmann::json::array({0}));
  EXPECT_EQ(r.datatype, protocol::kDatatypeJson) << "JSON negotiated";
  // OBSERVE_SEQNO serves a replica (as kv_engine: SDKs observe replicas), not a dead vbucket.
  auto log = conn_->GetFailoverLog(2);
  ASSERT_TRUE(log.ok());
  EXPECT_TRUE(conn_->ObserveSeqno(2, (*log)[0].vbucket_uuid).ok());

  // Pending and dead vbuckets refuse too; active again serves.
  for (VBucketState s : {VBucketState::kPending, VBucketState::kDead}) {
    ASSERT_TRUE(conn_->SetVBucket(2, s).ok());
    EXPECT_EQ(Must(conn_->Get(key)).status, McbpStatus::kNotMyVbucket) << VBucketStateName(s);
  }
  EXPECT_FALSE(conn_->ObserveSeqno(2, (*log)[0].vbucket_uuid).ok()) << "dead";
  ASSERT_TRUE(conn_->SetVBucket(2, VBucketState::kActive).ok());
  EXPECT_EQ(Must(conn_->Get(key)).status, McbpStatus::kKeyEnoent);
  EXPECT_EQ(Must(conn_->Set(key, "v")).status, McbpStatus::kSuccess);
}

TEST_F(VBucketTest, SetVBucketTakesATopologyForActiveVbuckets) {
  auto details = [&](Vbid vb) {
    auto stats = FetchStats(*conn_, "vbucket-details " + std::to_string(vb));
    EXPECT_TRUE(stats.ok());
    return stats.ok() ? *stats : StatMap{};
  };
  EXPECT_EQ(details(4)["vb_4:topology"], "null") << "no topology on a fresh vbucket";
  ASSERT_TRUE(conn_->SetVBucket(4, VBucketState::kActive, R"({"topology":[["me","other"]]})").ok());
  EXPECT_EQ(details(4)["vb_4:topology"], R"([["me","other"]])");
  // The config's map now has a replica column; the other node is unknown here (no cluster file).
  auto config = ParseJson(Must(conn_->GetClusterConfig()).value);
  EXPECT_EQ(config["vBucketServerMap"]["numReplicas"], 1);
  EXPECT_EQ(config["vBucketServerMap"]["vBucketMap"][4], nlohmann::json::array({0, -1}));
  EXPECT_EQ(config["vBucketServerMap"]["vBucketMap"][5], nlohmann::json::array({0, -1}));
  // SET_VBUCKET without a value in the same state keeps it; a value without a topology clears it.
  ASSERT_TRUE(conn_->SetVBucket(4, VBucketState::kActive).ok());
  EXPECT_EQ(details(4)["vb_4:topology"], R"([["me","other"]])");
  ASSERT_TRUE(conn_->SetVBucket(4, VBucketState::kActive, "{}").ok());
  EXPECT_EQ(details(4)["vb_4:topology"], "null");
  // Refused: bad JSON, bad chains, a topology for another state, keys sluice does not know.
  for (const auto& [state, value] : std::vector<std::pair<VBucketState, std::string>>{
           {VBucketState::kActive, "{"},
           {VBucketState::kActive, R"({"topology":[[null]]})"},
           {VBucketState::kActive, R"({"topology":[["a","b","c","d","e"]]})"},
           {VBucketState::kReplica, R"({"topology":[["a"]]})"},
           {VBucketState::kActive, R"({"expected_next_state":"replica"})"}}) {
    const Status s = conn_->SetVBucket(4, state, value);
    EXPECT_EQ(s.code(), Errc::kInvalid) << value << ": " << s.ToString();
  }
  // A vbucket created by SET_VBUCKET takes its topology too.
  ASSERT_TRUE(conn_->SetVBucket(6, VBucketState::kDead).ok());
  ASSERT_TRUE(Run(*conn_, {.opcode = Opcode::kDelVbucket, .vbucket = 6}).status ==
              McbpStatus::kSuccess);
  ASSERT_TRUE(conn_->SetVBucket(6, VBucketState::kActive, R"({"topology":[["me"]]})").ok());
  EXPECT_EQ(details(6)["vb_6:topology"], R"([["me"]])");
}

TEST_F(VBucketTest, GetReplicaServesOnlyReplicaVbuckets) {
  const std::string key = KeyOn(3);
  ASSERT_EQ(Must(conn_->Set(key, "kept", {.flags = 7})).status, McbpStatus::kSuccess);
  auto get_replica = [&](std::string_view k) {
    return Run(*conn_,
               {.opcode = Opcode::kGetReplica, .vbucket = VBucketForKey(k, vbuckets()), .key = k});
  };
  // Active: NOT_MY_VBUCKET (with the config), as kv_engine answers.
  auto on_active = get_replica(key);
  EXPECT_EQ(on_active.status, McbpStatus::kNotMyVbucket);
  EXPECT_FALSE(ParseJson(on_active.value).is_discarded());
  // Demoted, the vbucket keeps its data: GET_REPLICA serves it, plain GET does not.
  ASSERT_TRUE(conn_->SetVBucket(3, VBucketState::kReplica).ok());
  auto hit = get_replica(key);
  EXPECT_EQ(hit.status, McbpStatus::kSuccess);
  EXPECT_EQ(hit.value, "kept");
  EXPECT_NE(hit.cas, 0u);
  ASSERT_EQ(hit.extras.size(), 4u);
  EXPECT_EQ(protocol::LoadBe32(hit.extras.data()), 7u);
  EXPECT_EQ(get_replica(KeyOn(3, "missing")).status, McbpStatus::kKeyEnoent);
  EXPECT_EQ(Must(conn_->Get(key)).status, McbpStatus::kNotMyVbucket);
  // Pending and dead vbuckets serve nobody.
  for (VBucketState s : {VBucketState::kPending, VBucketState::kDead}) {
    ASSERT_TRUE(conn_->SetVBucket(3, s).ok());
    EXPECT_EQ(get_replica(key).status, McbpStatus::kNotMyVbucket) << VBucketStateName(s);
  }
}

TEST_F(VBucketTest, GetAllVbSeqnosWithFilters) {
  // Two writes on vb 1, one on vb 4.
  ASSERT_EQ(Must(conn_->Set(KeyOn(1, "a"), "v")).status, McbpStatus::kSuccess);
  ASSERT_EQ(Must(conn_->Set(KeyOn(1, "b"), "v")).status, McbpStatus::kSuccess);
  ASSERT_EQ(Must(conn_->Set(KeyOn(4), "v")).status, McbpStatus::kSuccess);
  ASSERT_TRUE(conn_->SetVBucket(7, VBucketState::kReplica).ok());
  ASSERT_TRUE(conn_->SetVBucket(8, VBucketState::kDead).ok());

  auto all = conn_->GetAllVbSeqnos();
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  // "Alive": every vbucket but the dead one, ascending.
  ASSERT_EQ(all->size(), vbuckets() - 1);
  Vbid previous = 0;
  for (size_t i = 0; i < all->size(); ++i) {
    const auto [vb, seqno] = (*all)[i];
    if (i > 0) EXPECT_GT(vb, previous);
    previous = vb;
    EXPECT_NE(vb, 8);
    EXPECT_EQ(seqno, vb == 1 ? 2u : vb == 4 ? 1u : 0u) << "vb " << vb;
  }

  auto active = conn_->GetAllVbSeqnos(protocol::AllVbSeqnosFilter{.state = 1});
  ASSERT_TRUE(active.ok());
  EXPECT_EQ(active->size(), vbuckets() - 2);
  auto replica = conn_->GetAllVbSeqnos(protocol::AllVbSeqnosFilter{.state = 2});
  ASSERT_TRUE(replica.ok());
  EXPECT_EQ(*replica, (std::vector<std::pair<Vbid, uint64_t>>{{7, 0}}));
  auto dead = conn_->GetAllVbSeqnos(protocol::AllVbSeqnosFilter{.state = 4});
  ASSERT_TRUE(dead.ok());
  EXPECT_EQ(*dead, (std::vector<std::pair<Vbid, uint64_t>>{{8, 0}}));
  auto pending = conn_->GetAllVbSeqnos(protocol::AllVbSeqnosFilter{.state = 3});
  ASSERT_TRUE(pending.ok());
  EXPECT_TRUE(pending->empty());

  // Collection filters: the default collection is the whole vbucket; others are unknown.
  auto default_collection =
      conn_->GetAllVbSeqnos(protocol::AllVbSeqnosFilter{.state = 1, .collection_id = 0});
  ASSERT_TRUE(default_collection.ok());
  EXPECT_EQ(*default_collection, *active);
  std::string extras;
  protocol::AppendAllVbSeqnosExtras(&extras, {.state = 1, .collection_id = 9});
  auto coll = Connect({.features = {Feature::kCollections, Feature::kXerror}});
  ASSERT_NE(coll, nullptr);
  EXPECT_EQ(Run(*coll, {.opcode = Opcode::kGetAllVbSeqnos, .extras = extras}).status,
            McbpStatus::kUnknownCollection);
  // A state filter out of range is invalid.
  std::string bad;
  protocol::AppendAllVbSeqnosExtras(&bad, {.state = 9});
  EXPECT_EQ(Run(*conn_, {.opcode = Opcode::kGetAllVbSeqnos, .extras = bad}).status,
            McbpStatus::kEinval);
}

TEST_F(VBucketTest, ObserveSeqnoReportsPersistedAndCurrent) {
  const Vbid vb = 9;
  auto log = conn_->GetFailoverLog(vb);
  ASSERT_TRUE(log.ok());
  const uint64_t uuid = (*log)[0].vbucket_uuid;
  uint64_t last = 0;
  for (int i = 0; i < 5; ++i) {
    auto r = Must(conn_->Set(KeyOn(vb, "obs" + std::to_string(i)), "v"));
    ASSERT_EQ(r.status, McbpStatus::kSuccess);
    ASSERT_TRUE(r.token.has_value());
    EXPECT_EQ(r.token->vbucket_uuid, uuid);
    last = r.token->seqno;
  }
  auto observed = conn_->ObserveSeqno(vb, uuid);
  ASSERT_TRUE(observed.ok()) << observed.status().ToString();
  EXPECT_FALSE(observed->failover) << "format 0: the uuid matches";
  EXPECT_EQ(observed->vbucket, vb);
  EXPECT_EQ(observed->vbucket_uuid, uuid);
  EXPECT_EQ(observed->current_seqno, last);
  EXPECT_LE(observed->last_persisted_seqno, observed->current_seqno);
  // The flusher catches up: persisted reaches current.
  EXPECT_TRUE(PollUntil([&] {
    auto o = conn_->ObserveSeqno(vb, uuid);
    return o.ok() && o->last_persisted_seqno == last;
  }));
  // An unknown uuid answers format 1.
  auto other = conn_->ObserveSeqno(vb, uuid ^ 0x5a5a);
  ASSERT_TRUE(other.ok());
  EXPECT_TRUE(other->failover);
  EXPECT_EQ(other->vbucket_uuid, uuid);
  EXPECT_EQ(other->old_vbucket_uuid, uuid ^ 0x5a5a);
}

TEST_F(VBucketTest, ObserveSeqnoAfterAnUncleanRestartAnswersFormatOne) {
  const Vbid vb = 3;
  auto log = conn_->GetFailoverLog(vb);
  ASSERT_TRUE(log.ok());
  const uint64_t old_uuid = (*log)[0].vbucket_uuid;
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(Must(conn_->Set(KeyOn(vb, "u" + std::to_string(i)), "v")).status,
              McbpStatus::kSuccess);
  }
  ASSERT_TRUE(WaitUntilPersisted());
  conn_.reset();
  RestartAfterKill();
  if (HasFatalFailure()) return;
  conn_ = Connect();
  ASSERT_NE(conn_, nullptr);

  auto new_log = conn_->GetFailoverLog(vb);
  ASSERT_TRUE(new_log.ok());
  ASSERT_EQ(new_log->size(), log->size() + 1);
  const uint64_t new_uuid = (*new_log)[0].vbucket_uuid;
  EXPECT_NE(new_uuid, old_uuid);
  EXPECT_EQ((*new_log)[0].seqno, 4u) << "the new branch starts at the persisted seqno";

  auto observed = conn_->ObserveSeqno(vb, old_uuid);
  ASSERT_TRUE(observed.ok());
  EXPECT_TRUE(observed->failover) << "the old uuid: format 1";
  EXPECT_EQ(observed->vbucket_uuid, new_uuid);
  EXPECT_EQ(observed->old_vbucket_uuid, old_uuid);
  EXPECT_EQ(observed->last_received_seqno, 4u);
  EXPECT_EQ(observed->current_seqno, 4u);
  EXPECT_EQ(observed->last_persisted_seqno, 4u);
  auto current = conn_->ObserveSeqno(vb, new_uuid);
  ASSERT_TRUE(current.ok());
  EXPECT_FALSE(current->failover);
}

TEST_F(VBucketTest, FailoverLogOfFreshAndMissingVbuckets) {
  for (Vbid vb : {Vbid{0}, static_cast<Vbid>(vbuckets() - 1)}) {
    auto log = conn_->GetFailoverLog(vb);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    ASSERT_EQ(log->size(), 1u);
    EXPECT_NE((*log)[0].vbucket_uuid, 0u);
    EXPECT_EQ((*log)[0].seqno, 0u);
    // The same as the failovers stat group.
    auto stats = FetchStats(*conn_, "failovers " + std::to_string(vb));
    ASSERT_TRUE(stats.ok());
    const std::string p = "vb_" + std::to_string(vb) + ":";
    EXPECT_EQ(StatU64(*stats, p + "num_entries"), 1u);
    EXPECT_EQ(StatU64(*stats, p + "0:id"), (*log)[0].vbucket_uuid);
    EXPECT_EQ(StatU64(*stats, p + "0:seq"), 0u);
  }
  // Different vbuckets have different uuids.
  auto log0 = conn_->GetFailoverLog(0);
  auto log1 = conn_->GetFailoverLog(1);
  ASSERT_TRUE(log0.ok() && log1.ok());
  EXPECT_NE((*log0)[0].vbucket_uuid, (*log1)[0].vbucket_uuid);
  auto missing =
      Run(*conn_, {.opcode = Opcode::kGetFailoverLog, .vbucket = static_cast<Vbid>(vbuckets())});
  EXPECT_EQ(missing.status, McbpStatus::kNotMyVbucket);
}

TEST_F(VBucketTest, ClusterConfigDescribesThisNode) {
  auto r = Must(conn_->GetClusterConfig());
  ASSERT_EQ(r.status, McbpStatus::kSuccess);
  EXPECT_EQ(r.datatype, protocol::kDatatypeJson);
  auto config = ParseJson(r.value);
  ASSERT_FALSE(config.is_discarded()) << r.value;
  ASSERT_TRUE(config.contains("rev") && config["rev"].is_number_integer());
  ASSERT_TRUE(config.contains("revEpoch") && config["revEpoch"].is_number_integer());
  EXPECT_EQ(config.value("name", ""), "default");
  EXPECT_EQ(config.value("nodeLocator", ""), "vbucket");
  ASSERT_TRUE(config["nodesExt"].is_array());
  ASSERT_EQ(config["nodesExt"].size(), 1u);
  EXPECT_EQ(config["nodesExt"][0]["services"]["kv"], server().port());
  EXPECT_EQ(config["nodesExt"][0].value("hostname", ""), "127.0.0.1");
  EXPECT_EQ(config["nodesExt"][0].value("thisNode", false), true);
  const auto& map = config["vBucketServerMap"];
  EXPECT_EQ(map.value("hashAlgorithm", ""), "CRC");
  EXPECT_EQ(map.value("numReplicas", -1), 0);
  ASSERT_TRUE(map["serverList"].is_array());
  EXPECT_EQ(map["serverList"][0], "127.0.0.1:" + std::to_string(server().port()));
  ASSERT_TRUE(map["vBucketMap"].is_array());
  EXPECT_EQ(map["vBucketMap"].size(), vbuckets());
  for (const auto& entry : map["vBucketMap"]) EXPECT_EQ(entry, nlohmann::json::array({0}));

  // With the version the client holds: nothing if it is current...
  const int64_t epoch = config["revEpoch"];
  const int64_t rev = config["rev"];
  auto same = Must(conn_->GetClusterConfig(protocol::ClusterConfigVersion{epoch, rev}));
  EXPECT_EQ(same.status, McbpStatus::kSuccess);
  EXPECT_EQ(same.value, "") << "an up-to-date client gets an empty reply";
  auto newer = Must(conn_->GetClusterConfig(protocol::ClusterConfigVersion{epoch, rev + 5}));
  EXPECT_EQ(newer.value, "");
  // ...the config if it is older, and after a vbucket state change the revision moves.
  auto older = Must(conn_->GetClusterConfig(protocol::ClusterConfigVersion{epoch, rev - 1}));
  EXPECT_FALSE(older.value.empty());
  ASSERT_TRUE(conn_->SetVBucket(1, VBucketState::kReplica).ok());
  auto changed = Must(conn_->GetClusterConfig(protocol::ClusterConfigVersion{epoch, rev}));
  ASSERT_EQ(changed.status, McbpStatus::kSuccess);
  auto changed_config = ParseJson(changed.value);
  ASSERT_FALSE(changed_config.is_discarded()) << changed.value;
  EXPECT_GT(changed_config["rev"].get<int64_t>(), rev);
  EXPECT_EQ(changed_config["vBucketServerMap"]["vBucketMap"][1], nlohmann::json::array({-1}));

  // Without JSON negotiated the body is the same text, datatype raw.
  auto legacy = Connect({.features = {Feature::kXerror}});
  ASSERT_NE(legacy, nullptr);
  auto raw = Must(legacy->GetClusterConfig());
  EXPECT_EQ(raw.datatype, protocol::kDatatypeRaw);
  EXPECT_FALSE(ParseJson(raw.value).is_discarded());
}

TEST_F(VBucketTest, CrcRoutingAndMemcachedStyleRoutingBothWork) {
  // Couchbase style: each key on the vbucket its CRC picks.
  std::vector<uint64_t> expected_high(vbuckets(), 0);
  for (int i = 0; i < 50; ++i) {
    const std::string key = "crc-" + std::to_string(i);
    auto r = Must(conn_->Set(key, "v" + std::to_string(i)));
    ASSERT_EQ(r.status, McbpStatus::kSuccess);
    EXPECT_EQ(r.vbucket, VBucketForKey(key, vbuckets()));
    ++expected_high[r.vbucket];
  }
  for (int i = 0; i < 50; ++i) {
    const std::string key = "crc-" + std::to_string(i);
    EXPECT_EQ(Must(conn_->Get(key)).value, "v" + std::to_string(i));
  }
  // Memcached style: every key on vbucket 0.
  auto memcached = Connect({.memcached_routing = true});
  ASSERT_NE(memcached, nullptr);
  for (int i = 0; i < 50; ++i) {
    const std::string key = "mc-" + std::to_string(i);
    auto r = Must(memcached->Set(key, "m" + std::to_string(i)));
    ASSERT_EQ(r.status, McbpStatus::kSuccess);
    EXPECT_EQ(r.vbucket, 0);
    ++expected_high[0];
  }
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(Must(memcached->Get("mc-" + std::to_string(i))).value, "m" + std::to_string(i));
  }
  // Each write went to the vbucket it was sent to.
  auto seqnos = conn_->GetAllVbSeqnos();
  ASSERT_TRUE(seqnos.ok());
  for (const auto& [vb, seqno] : *seqnos) EXPECT_EQ(seqno, expected_high[vb]) << "vb " << vb;
}

// Replica vbuckets are not expired here: their expirations come from the active over DCP.
class ReplicaExpiryTest : public VBucketTest {
 protected:
  ServerOptions Options() const override {
    ServerOptions options = SluicedTest::Options();
    options.extra_args.insert(options.extra_args.end(), {"--set", "exp_pager_stime=1"});
    return options;
  }
};

TEST_F(ReplicaExpiryTest, ThePagerAndReadsLeaveReplicaVbucketsAlone) {
  const std::string on_replica = KeyOn(3, "ttl");
  const std::string on_active = KeyOn(4, "ttl");
  ASSERT_EQ(Must(conn_->Set(on_replica, "v", {.expiry = 2})).status, McbpStatus::kSuccess);
  ASSERT_EQ(Must(conn_->Set(on_active, "v", {.expiry = 2})).status, McbpStatus::kSuccess);
  ASSERT_TRUE(conn_->SetVBucket(3, VBucketState::kReplica).ok());
  const uint64_t replica_high = HighSeqno(3);
  // The pager expires the active vbucket's document...
  ASSERT_TRUE(PollUntil([&] {
    auto stats = FetchStats(*conn_);
    return stats.ok() && StatU64(*stats, "ep_expired_pager").value_or(0) >= 1;
  }));
  EXPECT_EQ(HighSeqno(4), 2u) << "the expiration is a new seqno on the active";
  // ...and not the replica's: a replica read finds nothing, but nothing is queued.
  auto read = Run(*conn_, {.opcode = Opcode::kGetReplica, .vbucket = 3, .key = on_replica});
  EXPECT_EQ(read.status, McbpStatus::kKeyEnoent);
  EXPECT_EQ(HighSeqno(3), replica_high);
  // Promoted, the vbucket expires it itself.
  ASSERT_TRUE(conn_->SetVBucket(3, VBucketState::kActive).ok());
  EXPECT_EQ(Must(conn_->Get(on_replica)).status, McbpStatus::kKeyEnoent);
  EXPECT_GT(HighSeqno(3), replica_high);
}

// The default vbucket count matters for real SDKs: 1024 vbuckets, each active, in the map.
class DefaultVBucketsTest : public SluicedTest {
 protected:
  ServerOptions Options() const override { return ServerOptions{}; }
};

TEST_F(DefaultVBucketsTest, ThousandTwentyFourVbucketsByDefault) {
  EXPECT_EQ(vbuckets(), 1024u);
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  auto config = ParseJson(Must(conn->GetClusterConfig()).value);
  ASSERT_FALSE(config.is_discarded());
  EXPECT_EQ(config["vBucketServerMap"]["vBucketMap"].size(), 1024u);
  auto seqnos = conn->GetAllVbSeqnos();
  ASSERT_TRUE(seqnos.ok());
  EXPECT_EQ(seqnos->size(), 1024u);
  const std::string key = "routed";
  auto set = Must(conn->Set(key, "v"));
  ASSERT_EQ(set.status, McbpStatus::kSuccess);
  EXPECT_EQ(set.vbucket, VBucketForKey(key, 1024));
  EXPECT_EQ(Must(conn->Get(key)).value, "v");
}

}  // namespace
}  // namespace sluice::testing
