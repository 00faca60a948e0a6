// File: testing/storage_util.h
//
// Helpers for the storage tests: document and state builders, a scan collector and StoreTest, a
// fixture with a RocksDB store in a fresh temporary directory.
//
// Thread safety: thread-compatible.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "storage/kvstore.h"
#include "testing/temp_dir.h"

namespace sluice::storage {

inline DiskDoc MakeDoc(Vbid vbid, std::string key, uint64_t seqno, std::string value) {
  DiskDoc doc;
  doc.vbid = vbid;
  doc.key = std::move(key);
  doc.seqno = seqno;
  doc.rev_seqno = 1;
  doc.cas = 0x1700000000000000ULL + seqno;
  doc.value = std::move(value);
  return doc;
}

inline DiskDoc MakeTombstone(Vbid vbid, std::string key, uint64_t seqno) {
  DiskDoc doc = MakeDoc(vbid, std::move(key), seqno, "");
  doc.deleted = true;
  doc.expiry = 1700000000;
  return doc;
}

inline VBucketStateRecord MakeState(uint64_t high_seqno) {
  VBucketStateRecord state;
  state.high_seqno = high_seqno;
  state.snap_start = high_seqno;
  state.snap_end = high_seqno;
  state.max_cas = 0x1700000000000000ULL + high_seqno;
  state.failover = {{0xabcdef12345678ULL, 0}};
  return state;
}

// Runs `scan` to the end and returns every document.
inline std::vector<DiskDoc> ScanAll(SeqnoScan& scan) {
  std::vector<DiskDoc> docs;
  bool done = false;
  while (!done) {
    Status s = scan.Scan(
        [&docs](DiskDoc&& doc) {
          docs.push_back(std::move(doc));
          return ScanControl::kContinue;
        },
        &done);
    EXPECT_TRUE(s.ok()) << s.ToString();
    if (!s.ok()) break;
  }
  return docs;
}

inline std::vector<uint64_t> Seqnos(const std::vector<DiskDoc>& docs) {
  std::vector<uint64_t> out;
  for (const DiskDoc& doc : docs) out.push_back(doc.seqno);
  return out;
}

inline std::vector<std::string> Keys(const std::vector<DiskDoc>& docs) {
  std::vector<std::string> out;
  for (const DiskDoc& doc : docs) out.push_back(doc.key);
  return out;
}

// Small buffers keep the tests light.
inline RocksDBOptions TestOptions() {
  RocksDBOptions options;
  options.block_cache_size = 8 << 20;
  options.write_buffer_size = 4 << 20;
  return options;
}

// A store in a fresh temporary directory.
class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(TestOptions()); }
  void TearDown() override {
    if (store_) EXPECT_TRUE(store_->Close().ok());
  }

  std::string db_path() const { return dir_.Sub("db"); }

  void Open(const RocksDBOptions& options) {
    StatusOr<std::unique_ptr<KVStore>> opened = OpenRocksDBKVStore(db_path(), options);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    store_ = std::move(opened).value();
  }
  void Reopen(const RocksDBOptions& options = TestOptions()) {
    if (store_) ASSERT_TRUE(store_->Close().ok());
    store_.reset();
    Open(options);
  }

  // Commits `docs` (and `states`) synchronously, expecting success.
  void CommitOk(std::vector<DiskDoc> docs, std::map<Vbid, VBucketStateRecord> states = {}) {
    FlushBatch batch;
    for (DiskDoc& doc : docs) batch.Add(std::move(doc));
    for (auto& [vbid, state] : states) batch.SetState(vbid, std::move(state));
    Status s = store_->Commit(batch, /*sync=*/true);
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  std::unique_ptr<SeqnoScan> OpenScan(Vbid vbid, uint64_t start, uint64_t end,
                                      ScanOptions options = {}) {
    StatusOr<std::unique_ptr<SeqnoScan>> scan = store_->OpenSeqnoScan(vbid, start, end, options);
    EXPECT_TRUE(scan.ok()) << scan.status().ToString();
    return scan.ok() ? std::move(scan).value() : nullptr;
  }

  std::vector<DiskDoc> ScanRange(Vbid vbid, uint64_t start, uint64_t end,
                                 ScanOptions options = {}) {
    std::unique_ptr<SeqnoScan> scan = OpenScan(vbid, start, end, options);
    return scan ? ScanAll(*scan) : std::vector<DiskDoc>{};
  }

  testing::TempDir dir_{"sluice_storage"};
  std::unique_ptr<KVStore> store_;
};

}  // namespace sluice::storage
