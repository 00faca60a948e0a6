// DCP over TCP: full disk backfills after a restart - every vbucket, every item exactly once in
// seqno order under a Disk|Checkpoint marker, STREAM_END Ok per vbucket - and what DCP_OPEN's
// flags change in them: deletions v1/v2 (IncludeDeleteTimes), expirations as deletions or
// DCP_EXPIRATION (enable_expiry_opcode), NoValue, SkipDeletesInInitialBackfill.
#include <gtest/gtest.h>

#include <ctime>
#include <string>

#include "protocol/datatype.h"
#include "protocol/dcp_codec.h"
#include "testing/dcp_wire_util.h"

namespace sluice::testing {
namespace {

using protocol::DcpStreamEndStatus;
using protocol::McbpStatus;
using ::testing::IsEmpty;

constexpr uint32_t kDiskMarker = protocol::kDcpSnapshotDisk | protocol::kDcpSnapshotCheckpoint;
// An absolute expiry (above 30 days) in the past: the document is expired as soon as it is set.
constexpr uint32_t kExpiredLongAgo = 30 * 24 * 3600 + 1;

// Writes `keys` documents, then overwrites every 3rd, deletes every 7th and expires every 11th
// (SET with an expiry in the past, then a GET turns it into a TTL tombstone).
void WriteMix(client::Connection& conn, TrackedWriter& writer, int keys) {
  for (int i = 0; i < keys; ++i) {
    ASSERT_TRUE(writer.Set("key" + std::to_string(i), "value" + std::to_string(i) + "-0"));
  }
  for (int i = 0; i < keys; i += 3) {
    ASSERT_TRUE(writer.Set("key" + std::to_string(i), "value" + std::to_string(i) + "-1"));
  }
  for (int i = 1; i < keys; i += 7) ASSERT_TRUE(writer.Delete("key" + std::to_string(i)));
  for (int i = 2; i < keys; i += 11) {
    const std::string key = "key" + std::to_string(i);
    ASSERT_TRUE(writer.Set(key, "doomed", {.expiry = kExpiredLongAgo}));
    ASSERT_EQ(Must(conn.Get(key)).status, McbpStatus::kKeyEnoent);
    writer.MarkExpired(key, writer.docs().at(key).vbucket);
  }
}

// ---- every vbucket of the default 1024 ----

class DcpFullBackfillTest : public DcpTest {
 protected:
  ServerOptions Options() const override { return {}; /* the default: 1024 vbuckets */ }
};

TEST_F(DcpFullBackfillTest, EveryVbucketAfterRestartDeliversEveryItemOnceInOrder) {
  ASSERT_EQ(vbuckets(), 1024u);
  auto kv = Connect();
  ASSERT_TRUE(kv);
  TrackedWriter writer(*kv);
  ASSERT_NO_FATAL_FAILURE(WriteMix(*kv, writer, 3000));
  kv.reset();
  RestartClean();  // the checkpoints are empty now: everything comes from disk
  const std::map<Vbid, uint64_t> high = HighSeqnos();
  ASSERT_EQ(high.size(), vbuckets());

  auto consumer = OpenConsumer({.name = "full-backfill"});
  ASSERT_TRUE(consumer);
  ASSERT_TRUE(
      consumer->StreamAll(vbuckets(), StreamRequest(0, ~uint64_t{0}, protocol::kDcpStreamToLatest))
          .ok());
  ASSERT_TRUE(consumer->ReadUntilAllEnded().ok());
  EXPECT_THAT(consumer->violations(), IsEmpty());

  size_t vbuckets_with_data = 0;
  for (const auto& [vb, log] : consumer->streams()) {
    SCOPED_TRACE("vb:" + std::to_string(vb));
    EXPECT_EQ(log.end, DcpStreamEndStatus::kOk);
    const uint64_t vb_high = high.at(vb);
    if (vb_high == 0) {
      EXPECT_TRUE(log.markers.empty());
      EXPECT_TRUE(log.items.empty());
      continue;
    }
    ++vbuckets_with_data;
    // One disk snapshot covering [0, high], before the items; the last item is the high seqno.
    ASSERT_EQ(log.markers.size(), 1u);
    EXPECT_EQ(log.markers[0].flags, kDiskMarker);
    EXPECT_EQ(log.markers[0].start_seqno, 0u);
    EXPECT_EQ(log.markers[0].end_seqno, vb_high);
    ASSERT_FALSE(log.items.empty());
    EXPECT_EQ(log.items.back().seqno, vb_high);
    for (const DcpEvent& e : log.items) {
      EXPECT_NE(e.kind, DcpEvent::Kind::kExpiration) << "no expiry opcode was asked for";
      if (e.kind == DcpEvent::Kind::kDeletion) {
        EXPECT_EQ(e.deletion_version, protocol::DcpDeletionVersion::kV1);
        EXPECT_TRUE(e.value.empty());
      }
    }
  }
  EXPECT_GT(vbuckets_with_data, 900u);
  // Exactly once: the disk holds one version per key, and every key arrived once.
  EXPECT_EQ(consumer->items_received(), writer.docs().size());
  EXPECT_THAT(CompareFinalView(consumer->LatestByKey(), writer.docs()), IsEmpty());
  EXPECT_TRUE(WaitForDcpStats(
      *Connect(), [](const StatMap& s) { return StatU64(s, "ep_dcp_num_running_backfills") == 0u; },
      "no running backfill"));
}

// ---- DCP_OPEN flags (16 vbuckets) ----

class DcpBackfillFlagsTest : public DcpTest {
 protected:
  void SetUp() override {
    DcpTest::SetUp();
    if (HasFatalFailure()) return;
    kv_ = Connect();
    ASSERT_TRUE(kv_);
    writer_ = std::make_unique<TrackedWriter>(*kv_);
    ASSERT_NO_FATAL_FAILURE(WriteMix(*kv_, *writer_, 400));
    RestartClean();
    kv_ = Connect();
    ASSERT_TRUE(kv_);
    // Post-restart writes only; what WriteMix left is described by FatesOf / ValueOf.
    writer_ = std::make_unique<TrackedWriter>(*kv_);
  }

  // Streams every vbucket from 0 to its current high seqno and reads to the end.
  std::unique_ptr<DcpConsumer> FullBackfill(DcpConsumerOptions options) {
    auto consumer = OpenConsumer(std::move(options));
    if (consumer == nullptr) return nullptr;
    Status s = consumer->StreamAll(vbuckets(),
                                   StreamRequest(0, ~uint64_t{0}, protocol::kDcpStreamToLatest));
    if (s.ok()) s = consumer->ReadUntilAllEnded();
    EXPECT_TRUE(s.ok()) << s.ToString();
    EXPECT_THAT(consumer->violations(), IsEmpty());
    for (const auto& [vb, log] : consumer->streams()) {
      EXPECT_EQ(log.end, DcpStreamEndStatus::kOk) << "vb:" << vb;
      for (const auto& m : log.markers) EXPECT_EQ(m.flags, kDiskMarker) << "vb:" << vb;
    }
    return consumer;
  }

  std::unique_ptr<client::Connection> kv_;
  std::unique_ptr<TrackedWriter> writer_;
};

// The keys WriteMix(400) leaves, by fate.
struct Fates {
  std::vector<std::string> live, deleted, expired;
};
Fates FatesOf(int keys) {
  Fates f;
  std::vector<int> fate(keys, 0);  // 0 live, 1 deleted, 2 expired
  for (int i = 1; i < keys; i += 7) fate[i] = 1;
  for (int i = 2; i < keys; i += 11) fate[i] = 2;
  for (int i = 0; i < keys; ++i) {
    const std::string key = "key" + std::to_string(i);
    (fate[i] == 0 ? f.live : fate[i] == 1 ? f.deleted : f.expired).push_back(key);
  }
  return f;
}
std::string ValueOf(const std::string& key) {
  const int i = std::stoi(key.substr(3));
  return "value" + std::to_string(i) + (i % 3 == 0 ? "-1" : "-0");
}

TEST_F(DcpBackfillFlagsTest, DeletionsV1ByDefaultExpirationsAsDeletions) {
  auto c = FullBackfill({.name = "v1"});
  ASSERT_TRUE(c);
  const Fates fates = FatesOf(400);
  const auto seen = c->LatestByKey();
  EXPECT_EQ(seen.size(), 400u);
  for (const auto& key : fates.live) {
    ASSERT_EQ(seen.count(key), 1u) << key;
    EXPECT_EQ(seen.at(key).kind, DcpEvent::Kind::kMutation) << key;
    EXPECT_EQ(seen.at(key).value, ValueOf(key));
  }
  for (const auto* keys : {&fates.deleted, &fates.expired}) {
    for (const auto& key : *keys) {
      ASSERT_EQ(seen.count(key), 1u) << key;
      EXPECT_EQ(seen.at(key).kind, DcpEvent::Kind::kDeletion) << key;
      EXPECT_EQ(seen.at(key).deletion_version, protocol::DcpDeletionVersion::kV1) << key;
    }
  }
}

TEST_F(DcpBackfillFlagsTest, IncludeDeleteTimesSendsDeletionsV2) {
  auto c = FullBackfill(
      {.name = "v2",
       .open_flags = protocol::kDcpOpenProducer | protocol::kDcpOpenIncludeDeleteTimes});
  ASSERT_TRUE(c);
  const Fates fates = FatesOf(400);
  const auto seen = c->LatestByKey();
  for (const auto* keys : {&fates.deleted, &fates.expired}) {
    for (const auto& key : *keys) {
      ASSERT_EQ(seen.count(key), 1u) << key;
      const DcpEvent& e = seen.at(key);
      EXPECT_EQ(e.kind, DcpEvent::Kind::kDeletion) << key << ": no expiry opcode asked for";
      EXPECT_EQ(e.deletion_version, protocol::DcpDeletionVersion::kV2) << key;
      EXPECT_NE(e.delete_time, 0u) << key;
    }
  }
  EXPECT_EQ(seen.size(), 400u);
}

TEST_F(DcpBackfillFlagsTest, ExpiryOpcodeSendsExpirationsFromDiskAndMemory) {
  auto consumer =
      OpenConsumer({.name = "expiry",
                    .open_flags = protocol::kDcpOpenProducer | protocol::kDcpOpenIncludeDeleteTimes,
                    .controls = {{"enable_expiry_opcode", "true"}}});
  ASSERT_TRUE(consumer);
  const std::map<Vbid, uint64_t> high = HighSeqnos();
  ASSERT_TRUE(consumer->StreamAll(vbuckets(), StreamRequest(0)).ok());  // open-ended
  ASSERT_TRUE(consumer->ReadUntilSeqnos(high).ok());
  const Fates fates = FatesOf(400);
  auto seen = consumer->LatestByKey();
  for (const auto& key : fates.expired) {
    ASSERT_EQ(seen.count(key), 1u) << key;
    EXPECT_EQ(seen.at(key).kind, DcpEvent::Kind::kExpiration) << key;
    EXPECT_NE(seen.at(key).delete_time, 0u) << key;
  }
  for (const auto& key : fates.deleted) {
    ASSERT_EQ(seen.count(key), 1u) << key;
    EXPECT_EQ(seen.at(key).kind, DcpEvent::Kind::kDeletion) << key;
    EXPECT_EQ(seen.at(key).deletion_version, protocol::DcpDeletionVersion::kV2) << key;
  }

  // Live: an expiry and a deletion made now arrive from memory, under a Memory marker.
  ASSERT_TRUE(writer_->Set("live-exp", "x", {.expiry = kExpiredLongAgo}));
  ASSERT_EQ(Must(kv_->Get("live-exp")).status, McbpStatus::kKeyEnoent);
  ASSERT_TRUE(writer_->Set("live-del", "y"));
  ASSERT_TRUE(writer_->Delete("live-del"));
  const Vbid exp_vb = writer_->docs().at("live-exp").vbucket;
  std::map<Vbid, uint64_t> targets = writer_->high_seqnos();
  targets[exp_vb] = std::max(targets[exp_vb], writer_->docs().at("live-exp").seqno + 1);
  ASSERT_TRUE(consumer->ReadUntilSeqnos(targets).ok());
  EXPECT_THAT(consumer->violations(), IsEmpty());
  seen = consumer->LatestByKey();
  ASSERT_EQ(seen.count("live-exp"), 1u);
  EXPECT_EQ(seen.at("live-exp").kind, DcpEvent::Kind::kExpiration);
  EXPECT_EQ(seen.at("live-exp").seqno, writer_->docs().at("live-exp").seqno + 1);
  EXPECT_TRUE(seen.at("live-exp").snapshot_flags & protocol::kDcpSnapshotMemory);
  ASSERT_EQ(seen.count("live-del"), 1u);
  EXPECT_EQ(seen.at("live-del").kind, DcpEvent::Kind::kDeletion);
  EXPECT_EQ(seen.at("live-del").seqno, writer_->docs().at("live-del").seqno);
}

TEST_F(DcpBackfillFlagsTest, ExpiryOpcodeWithoutDeleteTimesStillSendsDeletions) {
  // kv_engine: expirations use the v2 layout, so the control needs IncludeDeleteTimes.
  auto c = FullBackfill({.name = "expiry-v1", .controls = {{"enable_expiry_opcode", "true"}}});
  ASSERT_TRUE(c);
  const auto seen = c->LatestByKey();
  for (const auto& key : FatesOf(400).expired) {
    ASSERT_EQ(seen.count(key), 1u) << key;
    EXPECT_EQ(seen.at(key).kind, DcpEvent::Kind::kDeletion) << key;
  }
}

TEST_F(DcpBackfillFlagsTest, NoValueSendsKeysAndMetadataOnly) {
  auto c = FullBackfill(
      {.name = "novalue", .open_flags = protocol::kDcpOpenProducer | protocol::kDcpOpenNoValue});
  ASSERT_TRUE(c);
  const auto seen = c->LatestByKey();
  EXPECT_EQ(seen.size(), 400u);
  size_t mutations = 0;
  for (const auto& [key, e] : seen) {
    if (e.kind != DcpEvent::Kind::kMutation) continue;
    ++mutations;
    EXPECT_TRUE(e.value.empty()) << key;
    EXPECT_NE(e.cas, 0u) << key;
    EXPECT_GT(e.seqno, 0u) << key;
  }
  EXPECT_EQ(mutations, FatesOf(400).live.size());
}

TEST_F(DcpBackfillFlagsTest, DocumentMetadataArrivesFromDiskAndFromMemory) {
  const uint32_t expiry = static_cast<uint32_t>(std::time(nullptr)) + 7200;  // absolute
  auto set = kv_->Set("meta", R"({"json":true})", {.flags = 0xdeadbeef, .expiry = expiry});
  ASSERT_TRUE(set.ok());
  ASSERT_EQ(set->status, McbpStatus::kSuccess);
  const Vbid vb = set->vbucket;
  RestartClean();
  kv_ = Connect();
  ASSERT_TRUE(kv_);

  auto consumer = OpenConsumer({.name = "meta"});
  ASSERT_TRUE(consumer);
  auto request = StreamRequest(0);
  request.vbucket = vb;
  auto r = consumer->Stream(request);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->status, McbpStatus::kSuccess);
  const uint64_t disk_high = HighSeqnos().at(vb);
  ASSERT_TRUE(consumer->ReadUntilSeqnos({{vb, disk_high}}).ok());
  auto seen = consumer->LatestByKey();
  ASSERT_EQ(seen.count("meta"), 1u);
  const DcpEvent from_disk = seen.at("meta");
  EXPECT_EQ(from_disk.value, R"({"json":true})");
  EXPECT_EQ(from_disk.flags, 0xdeadbeefu);
  EXPECT_EQ(from_disk.expiry, expiry);
  EXPECT_EQ(from_disk.cas, set->cas);
  EXPECT_TRUE(from_disk.datatype & protocol::kDatatypeJson);
  EXPECT_TRUE(from_disk.snapshot_flags & protocol::kDcpSnapshotDisk);

  // Overwritten now: the new version arrives from memory with a new cas and rev seqno.
  auto update = kv_->Set("meta", "plain", {.flags = 7});
  ASSERT_TRUE(update.ok());
  ASSERT_EQ(update->status, McbpStatus::kSuccess);
  ASSERT_TRUE(consumer->ReadUntilSeqnos({{vb, update->token->seqno}}).ok());
  EXPECT_THAT(consumer->violations(), IsEmpty());
  const DcpEvent from_memory = consumer->LatestByKey().at("meta");
  EXPECT_EQ(from_memory.value, "plain");
  EXPECT_EQ(from_memory.flags, 7u);
  EXPECT_EQ(from_memory.expiry, 0u);
  EXPECT_EQ(from_memory.cas, update->cas);
  EXPECT_EQ(from_memory.rev_seqno, from_disk.rev_seqno + 1);
  EXPECT_FALSE(from_memory.datatype & protocol::kDatatypeJson);
  EXPECT_TRUE(from_memory.snapshot_flags & protocol::kDcpSnapshotMemory);
}

TEST_F(DcpBackfillFlagsTest, CollectionAwareConnectionGetsTheSameKeys) {
  // HELLO Collections: keys travel with their collection id (the default collection, 0).
  ClientSetup setup;
  setup.features.push_back(protocol::Feature::kCollections);
  auto consumer = OpenConsumer({.name = "collections"}, setup);
  ASSERT_TRUE(consumer);
  ASSERT_TRUE(
      consumer->StreamAll(vbuckets(), StreamRequest(0, ~uint64_t{0}, protocol::kDcpStreamToLatest))
          .ok());
  ASSERT_TRUE(consumer->ReadUntilAllEnded().ok());
  EXPECT_THAT(consumer->violations(), IsEmpty());
  const auto seen = consumer->LatestByKey();
  EXPECT_EQ(seen.size(), 400u);
  for (const auto& key : FatesOf(400).live) {
    ASSERT_EQ(seen.count(key), 1u) << key;
    EXPECT_EQ(seen.at(key).value, ValueOf(key));
  }
}

TEST_F(DcpBackfillFlagsTest, SkipDeletesInInitialBackfillOnlySkipsThem) {
  auto consumer = OpenConsumer(
      {.name = "skip-deletes",
       .open_flags = protocol::kDcpOpenProducer | protocol::kDcpOpenSkipDeletesInInitialBackfill});
  ASSERT_TRUE(consumer);
  const std::map<Vbid, uint64_t> high = HighSeqnos();
  ASSERT_TRUE(consumer->StreamAll(vbuckets(), StreamRequest(0)).ok());
  // The initial backfill: mutations only. Wait until each vbucket's last live key arrived.
  const Fates fates = FatesOf(400);
  ASSERT_TRUE(
      consumer->ReadUntil([&] { return consumer->items_received() >= fates.live.size(); }).ok());
  // Then a delete made now arrives (it is not part of the initial backfill).
  const std::string victim = fates.live.front();
  ASSERT_TRUE(writer_->Delete(victim));
  ASSERT_TRUE(consumer->ReadUntilSeqnos(writer_->high_seqnos()).ok());
  EXPECT_THAT(consumer->violations(), IsEmpty());
  size_t deletions = 0;
  for (const auto& [vb, log] : consumer->streams()) {
    for (const DcpEvent& e : log.items) {
      if (e.kind == DcpEvent::Kind::kMutation) continue;
      ++deletions;
      EXPECT_EQ(e.key, victim) << "a tombstone from the initial backfill was sent";
      EXPECT_FALSE(e.snapshot_flags & protocol::kDcpSnapshotDisk);
    }
  }
  EXPECT_EQ(deletions, 1u);
  EXPECT_EQ(consumer->items_received(), fates.live.size() + 1);

  // A stream that does not start at 0 is not an initial backfill: tombstones come.
  auto resume = OpenConsumer(
      {.name = "skip-deletes-resume",
       .open_flags = protocol::kDcpOpenProducer | protocol::kDcpOpenSkipDeletesInInitialBackfill});
  ASSERT_TRUE(resume);
  size_t streamed = 0;
  for (const auto& [vb, h] : high) {
    if (h < 2) continue;
    auto request = StreamRequest(1, h, 0, FailoverLog(vb).front().vbucket_uuid);
    request.vbucket = vb;
    auto r = resume->Stream(request);
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r->status, McbpStatus::kSuccess) << "vb:" << vb;
    ++streamed;
  }
  ASSERT_GT(streamed, 0u);
  ASSERT_TRUE(resume->ReadUntilAllEnded().ok());
  EXPECT_THAT(resume->violations(), IsEmpty());
  size_t resumed_deletions = 0;
  for (const auto& [vb, log] : resume->streams()) {
    for (const DcpEvent& e : log.items) resumed_deletions += e.kind != DcpEvent::Kind::kMutation;
  }
  EXPECT_GT(resumed_deletions, 0u);
}

}  // namespace
}  // namespace sluice::testing
