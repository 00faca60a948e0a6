// Tests of the RocksDB KVStore through the KVStore interface (scans: rocksdb_seqno_scan_test.cc).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <limits>
#include <thread>

#include "storage/kvstore.h"
#include "testing/storage_util.h"

namespace sluice::storage {
namespace {

using ::testing::ElementsAre;

class RocksDBKVStoreTest : public StoreTest {};

TEST_F(RocksDBKVStoreTest, CommitAndReadBack) {
  DiskDoc doc = MakeDoc(3, "user::1", 1, "{\"name\":\"x\"}");
  doc.rev_seqno = 5;
  doc.flags = 0xcafe;
  doc.expiry = 1900000000;
  doc.datatype = 1;
  CommitOk({doc, MakeDoc(3, "user::2", 2, "v2")}, {{3, MakeState(2)}});

  StatusOr<DiskDoc> got = store_->Get(3, "user::1");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->vbid, 3);
  EXPECT_EQ(got->key, "user::1");
  EXPECT_EQ(got->seqno, 1u);
  EXPECT_EQ(got->rev_seqno, 5u);
  EXPECT_EQ(got->cas, doc.cas);
  EXPECT_EQ(got->flags, 0xcafeu);
  EXPECT_EQ(got->expiry, 1900000000u);
  EXPECT_EQ(got->datatype, 1);
  EXPECT_FALSE(got->deleted);
  EXPECT_EQ(got->value, "{\"name\":\"x\"}");
  EXPECT_EQ(store_->Get(3, "user::2")->value, "v2");
}

TEST_F(RocksDBKVStoreTest, MissingKeyIsNotFound) {
  CommitOk({MakeDoc(0, "a", 1, "v")}, {{0, MakeState(1)}});
  EXPECT_EQ(store_->Get(0, "b").status().code(), Errc::kNotFound);
  EXPECT_EQ(store_->Get(1, "a").status().code(), Errc::kNotFound);
}

TEST_F(RocksDBKVStoreTest, GetAtSeqnoReadsThatVersionOnly) {
  CommitOk({MakeDoc(0, "a", 1, "a1"), MakeDoc(0, "b", 2, "b1")}, {{0, MakeState(2)}});
  StatusOr<DiskDoc> got = store_->GetAtSeqno(0, 2, "b");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->vbid, 0);
  EXPECT_EQ(got->seqno, 2u);
  EXPECT_EQ(got->value, "b1");
  // Another key's version, a seqno with no entry, another vbucket: not found.
  EXPECT_EQ(store_->GetAtSeqno(0, 1, "b").status().code(), Errc::kNotFound);
  EXPECT_EQ(store_->GetAtSeqno(0, 7, "b").status().code(), Errc::kNotFound);
  EXPECT_EQ(store_->GetAtSeqno(1, 2, "b").status().code(), Errc::kNotFound);
  // A version replaced on disk is gone (the caller then reads the latest with Get).
  CommitOk({MakeDoc(0, "b", 3, "b2")}, {{0, MakeState(3)}});
  EXPECT_EQ(store_->GetAtSeqno(0, 2, "b").status().code(), Errc::kNotFound);
  EXPECT_EQ(store_->GetAtSeqno(0, 3, "b")->value, "b2");
}

TEST_F(RocksDBKVStoreTest, EmptyBatchIsANoOp) {
  EXPECT_TRUE(store_->Commit(FlushBatch(), true).ok());
  EXPECT_EQ(store_->GetStats().commits, 0u);
}

TEST_F(RocksDBKVStoreTest, RewriteAcrossBatchesKeepsOneSeqEntry) {
  CommitOk({MakeDoc(0, "a", 1, "a1"), MakeDoc(0, "b", 2, "b1")}, {{0, MakeState(2)}});
  CommitOk({MakeDoc(0, "a", 3, "a2")}, {{0, MakeState(3)}});
  CommitOk({MakeDoc(0, "c", 4, "c1"), MakeDoc(0, "a", 5, "a3")}, {{0, MakeState(5)}});

  const std::vector<DiskDoc> docs = ScanRange(0, 0, 100);
  EXPECT_THAT(Seqnos(docs), ElementsAre(2, 4, 5));
  EXPECT_THAT(Keys(docs), ElementsAre("b", "c", "a"));
  EXPECT_EQ(docs[2].value, "a3");
  EXPECT_EQ(store_->Get(0, "a")->seqno, 5u);

  // Still true after the memtables were flushed to SSTs and replayed.
  Reopen();
  EXPECT_THAT(Seqnos(ScanRange(0, 0, 100)), ElementsAre(2, 4, 5));
}

TEST_F(RocksDBKVStoreTest, RewriteWithinOneBatchWritesOnlyTheLast) {
  CommitOk({MakeDoc(0, "a", 1, "a1"), MakeDoc(0, "b", 2, "b1"), MakeDoc(0, "a", 3, "a2"),
            MakeDoc(0, "a", 4, "a3"), MakeDoc(0, "b", 5, "b2")},
           {{0, MakeState(5)}});
  const std::vector<DiskDoc> docs = ScanRange(0, 0, 100);
  EXPECT_THAT(Seqnos(docs), ElementsAre(4, 5));
  EXPECT_THAT(Keys(docs), ElementsAre("a", "b"));
  EXPECT_EQ(store_->Get(0, "a")->value, "a3");
  EXPECT_EQ(store_->GetStats().docs_written, 2u);

  // And combined: an on-disk version plus two in-batch versions.
  CommitOk({MakeDoc(0, "a", 6, "a4"), MakeDoc(0, "a", 7, "a5")}, {{0, MakeState(7)}});
  EXPECT_THAT(Seqnos(ScanRange(0, 0, 100)), ElementsAre(5, 7));
}

TEST_F(RocksDBKVStoreTest, KnownPreviousSeqnosNeedNoLookup) {
  auto with_previous = [](DiskDoc doc, uint64_t previous) {
    doc.previous_seqno = previous;
    return doc;
  };
  CommitOk({with_previous(MakeDoc(0, "a", 1, "a1"), DiskDoc::kNoPreviousVersion),
            with_previous(MakeDoc(0, "b", 2, "b1"), DiskDoc::kNoPreviousVersion)},
           {{0, MakeState(2)}});
  // The caller says where the previous versions are; mixed with an unknown one.
  CommitOk({with_previous(MakeDoc(0, "a", 3, "a2"), 1),
            MakeDoc(0, "b", 4, "b2"),  // previous_seqno unknown: looked up
            with_previous(MakeDoc(0, "a", 5, "a3"), 1)},
           {{0, MakeState(5)}});
  const std::vector<DiskDoc> docs = ScanRange(0, 0, 100);
  EXPECT_THAT(Seqnos(docs), ElementsAre(4, 5));
  EXPECT_THAT(Keys(docs), ElementsAre("b", "a"));
  EXPECT_EQ(store_->Get(0, "a")->value, "a3");
}

TEST_F(RocksDBKVStoreTest, SameKeyInTwoVbucketsIsTwoDocuments) {
  CommitOk({MakeDoc(1, "k", 1, "vb1"), MakeDoc(2, "k", 1, "vb2")},
           {{1, MakeState(1)}, {2, MakeState(1)}});
  CommitOk({MakeDoc(1, "k", 2, "vb1-new")}, {{1, MakeState(2)}});
  EXPECT_EQ(store_->Get(1, "k")->value, "vb1-new");
  EXPECT_EQ(store_->Get(2, "k")->value, "vb2");
  EXPECT_THAT(Seqnos(ScanRange(2, 0, 10)), ElementsAre(1));
}

TEST_F(RocksDBKVStoreTest, Tombstones) {
  CommitOk({MakeDoc(0, "a", 1, "live"), MakeDoc(0, "b", 2, "live")}, {{0, MakeState(2)}});
  DiskDoc ttl = MakeTombstone(0, "b", 4);
  ttl.delete_source = DeleteSource::kTtl;
  ttl.value = "xattr-body";
  CommitOk({MakeTombstone(0, "a", 3), ttl}, {{0, MakeState(4)}});

  StatusOr<DiskDoc> a = store_->Get(0, "a");
  ASSERT_TRUE(a.ok());
  EXPECT_TRUE(a->deleted);
  EXPECT_EQ(a->delete_source, DeleteSource::kExplicit);
  EXPECT_EQ(a->seqno, 3u);
  EXPECT_EQ(a->expiry, 1700000000u);
  StatusOr<DiskDoc> b = store_->Get(0, "b");
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(b->deleted);
  EXPECT_EQ(b->delete_source, DeleteSource::kTtl);
  EXPECT_EQ(b->value, "xattr-body");

  // A tombstone replaces the live version in `seq`, and a later write replaces the tombstone.
  EXPECT_THAT(Seqnos(ScanRange(0, 0, 10)), ElementsAre(3, 4));
  CommitOk({MakeDoc(0, "a", 5, "back")}, {{0, MakeState(5)}});
  EXPECT_FALSE(store_->Get(0, "a")->deleted);
  EXPECT_THAT(Seqnos(ScanRange(0, 0, 10)), ElementsAre(4, 5));
}

TEST_F(RocksDBKVStoreTest, InvalidBatchesWriteNothing) {
  CommitOk({MakeDoc(0, "a", 5, "v")}, {{0, MakeState(5)}});
  auto commit = [this](std::vector<DiskDoc> docs) {
    FlushBatch batch;
    for (DiskDoc& doc : docs) batch.Add(std::move(doc));
    batch.SetState(0, MakeState(100));
    return store_->Commit(batch, true);
  };
  EXPECT_EQ(commit({MakeDoc(0, "b", 7, "v"), MakeDoc(0, "c", 6, "v")}).code(), Errc::kInvalid);
  EXPECT_EQ(commit({MakeDoc(0, "b", 7, "v"), MakeDoc(0, "c", 7, "v")}).code(), Errc::kInvalid);
  EXPECT_EQ(commit({MakeDoc(0, "b", 0, "v")}).code(), Errc::kInvalid);
  EXPECT_EQ(commit({MakeDoc(0, "", 8, "v")}).code(), Errc::kInvalid);
  EXPECT_EQ(store_->Get(0, "b").status().code(), Errc::kNotFound);
  EXPECT_EQ(store_->LoadVBucketStates().value().at(0).high_seqno, 5u);
  EXPECT_EQ(store_->GetStats().commit_failures, 4u);

  // Seqnos only need to increase within a vbucket; vbuckets interleave freely.
  CommitOk({MakeDoc(1, "x", 9, "v"), MakeDoc(0, "y", 6, "v"), MakeDoc(1, "z", 10, "v")});
}

TEST_F(RocksDBKVStoreTest, StateRecordsRoundTrip) {
  VBucketStateRecord active = MakeState(10);
  active.purge_seqno = 4;
  active.max_deleted_rev_seqno = 9;
  active.failover = {{0x3333, 8}, {0x2222, 5}, {0x1111, 0}};
  VBucketStateRecord replica = MakeState(0);
  replica.state = VBucketState::kReplica;
  replica.failover.clear();
  CommitOk({MakeDoc(7, "k", 10, "v")}, {{7, active}});
  ASSERT_TRUE(store_->SaveVBucketState(1023, replica, /*sync=*/false).ok());

  std::map<Vbid, VBucketStateRecord> states = store_->LoadVBucketStates().value();
  ASSERT_EQ(states.size(), 2u);
  EXPECT_EQ(states.at(7), active);
  EXPECT_EQ(states.at(1023), replica);

  // Overwrite, and survive a reopen.
  active.state = VBucketState::kDead;
  ASSERT_TRUE(store_->SaveVBucketState(7, active, true).ok());
  Reopen();
  states = store_->LoadVBucketStates().value();
  EXPECT_EQ(states.at(7), active);
  EXPECT_EQ(states.at(1023), replica);
}

TEST_F(RocksDBKVStoreTest, NoStatesInAFreshStore) {
  EXPECT_TRUE(store_->LoadVBucketStates().value().empty());
}

TEST_F(RocksDBKVStoreTest, DeleteVBucketRemovesOnlyThatVbucket) {
  for (Vbid vbid : {Vbid{1}, Vbid{2}, Vbid{3}}) {
    CommitOk({MakeDoc(vbid, "a", 1, "v"), MakeDoc(vbid, "b", 2, "v")}, {{vbid, MakeState(2)}});
  }
  ASSERT_TRUE(store_->DeleteVBucket(2).ok());

  EXPECT_EQ(store_->Get(2, "a").status().code(), Errc::kNotFound);
  EXPECT_TRUE(ScanRange(2, 0, 100).empty());
  std::map<Vbid, VBucketStateRecord> states = store_->LoadVBucketStates().value();
  EXPECT_EQ(states.count(2), 0u);
  EXPECT_EQ(states.size(), 2u);
  for (Vbid vbid : {Vbid{1}, Vbid{3}}) {
    EXPECT_TRUE(store_->Get(vbid, "a").ok());
    EXPECT_THAT(Seqnos(ScanRange(vbid, 0, 100)), ElementsAre(1, 2));
  }

  // The vbucket can be recreated from seqno 1, with no stale entry resurfacing.
  CommitOk({MakeDoc(2, "a", 1, "new")}, {{2, MakeState(1)}});
  EXPECT_EQ(store_->Get(2, "a")->value, "new");
  EXPECT_EQ(store_->Get(2, "b").status().code(), Errc::kNotFound);
  Reopen();
  EXPECT_THAT(Seqnos(ScanRange(2, 0, 100)), ElementsAre(1));
  EXPECT_EQ(store_->Get(2, "b").status().code(), Errc::kNotFound);
}

TEST_F(RocksDBKVStoreTest, DeleteLastVbucketId) {
  constexpr Vbid kLast = std::numeric_limits<Vbid>::max();
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  CommitOk({MakeDoc(kLast - 1, "a", 1, "v")}, {{kLast - 1, MakeState(1)}});
  CommitOk({MakeDoc(kLast, "a", 1, "v"), MakeDoc(kLast, std::string(300, '\xff'), kMax, "v")},
           {{kLast, MakeState(kMax)}});
  EXPECT_THAT(Seqnos(ScanRange(kLast, 0, kMax)), ElementsAre(1, kMax));
  ASSERT_TRUE(store_->DeleteVBucket(kLast).ok());
  EXPECT_TRUE(ScanRange(kLast, 0, kMax).empty());
  EXPECT_EQ(store_->Get(kLast, "a").status().code(), Errc::kNotFound);
  EXPECT_EQ(store_->Get(kLast, std::string(300, '\xff')).status().code(), Errc::kNotFound);
  EXPECT_TRUE(store_->Get(kLast - 1, "a").ok());
}

TEST_F(RocksDBKVStoreTest, KeysDoNotBleedAcrossVbucketPrefixes) {
  // vb 1 + "\x00\x02..." and vb 0x0100 share leading bytes with other vbuckets' keys.
  CommitOk({MakeDoc(1, std::string("\x00\x02k", 3), 1, "vb1")}, {{1, MakeState(1)}});
  CommitOk({MakeDoc(0x0100, "k", 1, "vb256")}, {{0x0100, MakeState(1)}});
  EXPECT_EQ(store_->Get(2, "k").status().code(), Errc::kNotFound);
  EXPECT_EQ(store_->Get(1, "k").status().code(), Errc::kNotFound);
  EXPECT_EQ(store_->Get(0x0100, "k")->value, "vb256");
  ASSERT_TRUE(store_->DeleteVBucket(1).ok());
  EXPECT_EQ(store_->Get(0x0100, "k")->value, "vb256");
}

TEST_F(RocksDBKVStoreTest, CleanShutdownMarker) {
  EXPECT_FALSE(store_->HasCleanShutdownMarker().value());
  ASSERT_TRUE(store_->SetCleanShutdownMarker(true).ok());
  EXPECT_TRUE(store_->HasCleanShutdownMarker().value());

  // Opening never clears it: the engine decides.
  Reopen();
  EXPECT_TRUE(store_->HasCleanShutdownMarker().value());
  ASSERT_TRUE(store_->SetCleanShutdownMarker(false).ok());
  EXPECT_FALSE(store_->HasCleanShutdownMarker().value());
  Reopen();
  EXPECT_FALSE(store_->HasCleanShutdownMarker().value());
}

TEST_F(RocksDBKVStoreTest, ReopenPreservesEverything) {
  std::vector<DiskDoc> docs;
  for (uint64_t i = 1; i <= 200; ++i) {
    docs.push_back(
        MakeDoc(static_cast<Vbid>(i % 4), "key" + std::to_string(i), 100 + i, std::string(i, 'x')));
  }
  std::map<Vbid, VBucketStateRecord> states;
  for (Vbid vbid = 0; vbid < 4; ++vbid) states[vbid] = MakeState(300);
  CommitOk(docs, states);
  CommitOk({MakeTombstone(1, "key1", 301)}, {{1, MakeState(301)}});
  ASSERT_TRUE(store_->SetCleanShutdownMarker(true).ok());
  Reopen();

  for (uint64_t i = 2; i <= 200; ++i) {
    StatusOr<DiskDoc> got = store_->Get(static_cast<Vbid>(i % 4), "key" + std::to_string(i));
    ASSERT_TRUE(got.ok()) << i;
    EXPECT_EQ(got->seqno, 100 + i);
    EXPECT_EQ(got->value, std::string(i, 'x'));
  }
  EXPECT_TRUE(store_->Get(1, "key1")->deleted);
  EXPECT_EQ(store_->LoadVBucketStates().value().at(1), MakeState(301));
  EXPECT_EQ(ScanRange(2, 0, 1000).size(), 50u);
  EXPECT_TRUE(store_->HasCleanShutdownMarker().value());
}

TEST_F(RocksDBKVStoreTest, UnsyncedCommitsSurviveACleanClose) {
  FlushBatch batch;
  batch.Add(MakeDoc(0, "a", 1, "v"));
  batch.SetState(0, MakeState(1));
  ASSERT_TRUE(store_->Commit(batch, /*sync=*/false).ok());
  Reopen();
  EXPECT_EQ(store_->Get(0, "a")->value, "v");
}

TEST_F(RocksDBKVStoreTest, ReadOnlyOpen) {
  CommitOk({MakeDoc(0, "a", 1, "v"), MakeDoc(0, "b", 2, "w")}, {{0, MakeState(2)}});
  ASSERT_TRUE(store_->SetCleanShutdownMarker(true).ok());
  RocksDBOptions read_only = TestOptions();
  read_only.read_only = true;
  Reopen(read_only);

  EXPECT_EQ(store_->Get(0, "a")->value, "v");
  EXPECT_EQ(store_->LoadVBucketStates().value().at(0).high_seqno, 2u);
  EXPECT_TRUE(store_->HasCleanShutdownMarker().value());
  EXPECT_THAT(Seqnos(ScanRange(0, 0, 100)), ElementsAre(1, 2));

  FlushBatch batch;
  batch.Add(MakeDoc(0, "c", 3, "v"));
  EXPECT_EQ(store_->Commit(batch, true).code(), Errc::kNotSupported);
  EXPECT_EQ(store_->SaveVBucketState(0, MakeState(3), true).code(), Errc::kNotSupported);
  EXPECT_EQ(store_->DeleteVBucket(0).code(), Errc::kNotSupported);
  EXPECT_EQ(store_->SetCleanShutdownMarker(false).code(), Errc::kNotSupported);
  EXPECT_GT(store_->GetStats().disk_size, 0u);
}

TEST_F(RocksDBKVStoreTest, ReadOnlyOpenWithoutADatabaseFails) {
  RocksDBOptions read_only = TestOptions();
  read_only.read_only = true;
  StatusOr<std::unique_ptr<KVStore>> opened =
      OpenRocksDBKVStore(dir_.Sub("does-not-exist"), read_only);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), Errc::kIoError) << opened.status().ToString();
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("does-not-exist")));

  // An existing directory without a database: also an I/O error, and nothing is written there.
  std::filesystem::create_directory(dir_.Sub("empty"));
  opened = OpenRocksDBKVStore(dir_.Sub("empty"), read_only);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), Errc::kIoError) << opened.status().ToString();
  EXPECT_TRUE(std::filesystem::is_empty(dir_.Sub("empty")));
}

TEST_F(RocksDBKVStoreTest, ReadOnlyOpenBesideAWriterWritesNothing) {
  CommitOk({MakeDoc(0, "a", 1, "v")}, {{0, MakeState(1)}});
  std::vector<std::string> before;
  for (const auto& entry : std::filesystem::directory_iterator(db_path())) {
    before.push_back(entry.path().filename());
  }
  RocksDBOptions read_only = TestOptions();
  read_only.read_only = true;
  StatusOr<std::unique_ptr<KVStore>> reader = OpenRocksDBKVStore(db_path(), read_only);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ((*reader)->Get(0, "a")->value, "v");  // replayed from the writer's WAL
  ASSERT_TRUE((*reader)->Close().ok());
  std::vector<std::string> after;
  for (const auto& entry : std::filesystem::directory_iterator(db_path())) {
    after.push_back(entry.path().filename());
  }
  std::sort(before.begin(), before.end());
  std::sort(after.begin(), after.end());
  EXPECT_EQ(before, after);
}

TEST_F(RocksDBKVStoreTest, SecondWriterOnTheSameDirectoryFails) {
  StatusOr<std::unique_ptr<KVStore>> second = OpenRocksDBKVStore(db_path(), TestOptions());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), Errc::kIoError) << second.status().ToString();
}

TEST_F(RocksDBKVStoreTest, OpenCreatesMissingParents) {
  StatusOr<std::unique_ptr<KVStore>> nested = OpenRocksDBKVStore(dir_.Sub("x/y/z"), TestOptions());
  ASSERT_TRUE(nested.ok()) << nested.status().ToString();
  EXPECT_TRUE((*nested)->Close().ok());
}

TEST_F(RocksDBKVStoreTest, CloseIsIdempotentAndLaterCallsFail) {
  CommitOk({MakeDoc(0, "a", 1, "v")}, {{0, MakeState(1)}});
  ASSERT_TRUE(store_->Close().ok());
  EXPECT_TRUE(store_->Close().ok());
  EXPECT_EQ(store_->Get(0, "a").status().code(), Errc::kCancelled);
  EXPECT_EQ(store_->Commit(FlushBatch(), true).code(), Errc::kCancelled);
  EXPECT_EQ(store_->LoadVBucketStates().status().code(), Errc::kCancelled);
  EXPECT_EQ(store_->OpenSeqnoScan(0, 0, 10, {}).status().code(), Errc::kCancelled);
  EXPECT_EQ(store_->HasCleanShutdownMarker().status().code(), Errc::kCancelled);
  EXPECT_EQ(store_->GetStats().disk_size, 0u);
  store_.reset();  // the destructor of a closed store does nothing more
}

TEST_F(RocksDBKVStoreTest, DestructorClosesCleanly) {
  CommitOk({MakeDoc(0, "a", 1, "v")}, {{0, MakeState(1)}});
  store_.reset();
  Open(TestOptions());
  EXPECT_EQ(store_->Get(0, "a")->value, "v");
}

TEST_F(RocksDBKVStoreTest, Stats) {
  CommitOk({MakeDoc(0, "a", 1, "v"), MakeDoc(0, "a", 2, "w")}, {{0, MakeState(2)}});
  EXPECT_TRUE(store_->Get(0, "a").ok());
  EXPECT_EQ(ScanRange(0, 0, 10).size(), 1u);
  const KVStoreStats stats = store_->GetStats();
  EXPECT_EQ(stats.commits, 1u);
  EXPECT_EQ(stats.commit_failures, 0u);
  EXPECT_EQ(stats.docs_written, 1u);
  EXPECT_GT(stats.bytes_written, 0u);
  EXPECT_EQ(stats.gets, 1u);
  EXPECT_EQ(stats.scans_opened, 1u);
  EXPECT_EQ(stats.scan_docs, 1u);
  EXPECT_EQ(stats.open_scans, 0u);
  EXPECT_GT(stats.disk_size, 0u);  // at least the WAL
}

// Two flusher-like writers on disjoint vbuckets while readers Get and scan. Every reader sees
// either a key's previous or its new version, never a missing document.
TEST_F(RocksDBKVStoreTest, ConcurrentWritersAndReaders) {
  constexpr int kRounds = 200;
  constexpr int kKeys = 8;
  for (Vbid vbid : {Vbid{0}, Vbid{1}}) {
    std::vector<DiskDoc> docs;
    for (int k = 0; k < kKeys; ++k) {
      docs.push_back(MakeDoc(vbid, "k" + std::to_string(k), k + 1, "v"));
    }
    CommitOk(docs, {{vbid, MakeState(kKeys)}});
  }
  std::atomic<bool> failed{false};
  auto writer = [&](Vbid vbid) {
    uint64_t seqno = kKeys;
    for (int round = 0; round < kRounds; ++round) {
      FlushBatch batch;
      for (int k = 0; k < 3; ++k) {
        batch.Add(MakeDoc(vbid, "k" + std::to_string((round + k) % kKeys), ++seqno, "v"));
      }
      batch.SetState(vbid, MakeState(seqno));
      if (!store_->Commit(batch, /*sync=*/false).ok()) failed = true;
    }
  };
  std::atomic<int> writers_done{0};
  auto reader = [&](Vbid vbid) {
    while (writers_done.load() < 2) {
      for (int k = 0; k < kKeys; ++k) {
        if (!store_->Get(vbid, "k" + std::to_string(k)).ok()) failed = true;
      }
      StatusOr<std::unique_ptr<SeqnoScan>> scan = store_->OpenSeqnoScan(vbid, 0, ~0ULL, {});
      if (!scan.ok()) {
        failed = true;
        continue;
      }
      // The snapshot holds each key exactly once.
      if (ScanAll(**scan).size() != kKeys) failed = true;
    }
  };
  std::thread r0(reader, 0), r1(reader, 1);
  std::thread w0([&] {
    writer(0);
    ++writers_done;
  });
  std::thread w1([&] {
    writer(1);
    ++writers_done;
  });
  w0.join();
  w1.join();
  r0.join();
  r1.join();
  EXPECT_FALSE(failed.load());
}

}  // namespace
}  // namespace sluice::storage
