// A full disk through the RocksDBOptions::env seam: a commit (or a rollback) whose WAL write fails
// with "no space" is a temporary failure that leaves nothing behind, and the store recovers once
// space is back.
#include <gtest/gtest.h>
#include <rocksdb/env.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>

#include "storage/kvstore.h"
#include "testing/storage_util.h"

namespace sluice::storage {
namespace {

// Fails every append to a WAL file (*.log) with NoSpace while `full` is set.
class FullDiskEnv : public rocksdb::EnvWrapper {
 public:
  FullDiskEnv() : rocksdb::EnvWrapper(rocksdb::Env::Default()) {}
  const char* Name() const override { return "FullDiskEnv"; }

  rocksdb::Status NewWritableFile(const std::string& name,
                                  std::unique_ptr<rocksdb::WritableFile>* result,
                                  const rocksdb::EnvOptions& options) override {
    rocksdb::Status s = target()->NewWritableFile(name, result, options);
    if (s.ok() && name.ends_with(".log")) {
      *result = std::make_unique<File>(std::move(*result), &full);
    }
    return s;
  }

  std::atomic<bool> full{false};

 private:
  class File : public rocksdb::WritableFileWrapper {
   public:
    File(std::unique_ptr<rocksdb::WritableFile> file, const std::atomic<bool>* full)
        : rocksdb::WritableFileWrapper(file.get()), file_(std::move(file)), full_(full) {}
    rocksdb::Status Append(const rocksdb::Slice& data) override {
      if (full_->load()) return rocksdb::Status::NoSpace("injected full disk");
      return rocksdb::WritableFileWrapper::Append(data);
    }
    rocksdb::Status Append(const rocksdb::Slice& data,
                           const rocksdb::DataVerificationInfo& info) override {
      if (full_->load()) return rocksdb::Status::NoSpace("injected full disk");
      return rocksdb::WritableFileWrapper::Append(data, info);
    }

   private:
    std::unique_ptr<rocksdb::WritableFile> file_;  // the wrapped file (the base holds a raw ptr)
    const std::atomic<bool>* full_;                // owned by the env, which outlives its files
  };
};

class RocksDBFaultTest : public StoreTest {
 protected:
  void SetUp() override {
    RocksDBOptions options = TestOptions();
    options.env = &env_;
    Open(options);
  }
  void TearDown() override {
    if (store_) EXPECT_TRUE(store_->Close().ok());
    store_.reset();  // before env_ goes away
  }

  Status Commit(Vbid vbid, const std::string& key, uint64_t seqno) {
    FlushBatch batch;
    batch.Add(MakeDoc(vbid, key, seqno, "v"));
    batch.SetState(vbid, MakeState(seqno));
    return store_->Commit(batch, /*sync=*/true);
  }

  FullDiskEnv env_;  // declared before the fixture's store is opened, destroyed after it
};

TEST_F(RocksDBFaultTest, FullDiskIsATemporaryFailureAndRecovers) {
  ASSERT_TRUE(Commit(0, "before", 1).ok());

  env_.full = true;
  Status failed = Commit(0, "during", 2);
  EXPECT_EQ(failed.code(), Errc::kTempFail) << failed.ToString();
  // Still full: still a temporary failure (RocksDB refuses until it resumes).
  EXPECT_EQ(Commit(0, "during", 2).code(), Errc::kTempFail);
  EXPECT_EQ(store_->GetStats().commit_failures, 2u);
  // Reads keep working.
  EXPECT_TRUE(store_->Get(0, "before").ok());
  EXPECT_EQ(store_->Get(0, "during").status().code(), Errc::kNotFound);

  // Space is back: the retried flush succeeds. RocksDB may be resuming on its own thread
  // meanwhile (then a commit sees Busy -> kTempFail), so retry until it lands.
  env_.full = false;
  Status retried;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  do {
    retried = Commit(0, "during", 2);
    if (retried.ok()) break;
    ASSERT_EQ(retried.code(), Errc::kTempFail) << retried.ToString();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  } while (std::chrono::steady_clock::now() < deadline);
  ASSERT_TRUE(retried.ok()) << retried.ToString();
  ASSERT_TRUE(Commit(0, "after", 3).ok());

  // Everything committed is there after a reopen, and only once.
  ASSERT_TRUE(store_->Close().ok());
  RocksDBOptions options = TestOptions();
  options.env = &env_;
  Open(options);
  EXPECT_EQ(store_->Get(0, "during")->seqno, 2u);
  EXPECT_EQ(ScanRange(0, 0, 100).size(), 3u);
  EXPECT_EQ(store_->LoadVBucketStates().value().at(0).high_seqno, 3u);
}

// A rollback is one write batch: failing, it changes nothing (documents, state, history).
TEST_F(RocksDBFaultTest, AFailedRollbackLeavesEverythingAsItWas) {
  ASSERT_TRUE(store_->Close().ok());
  RocksDBOptions options = TestOptions();
  options.env = &env_;
  options.history_retention_bytes = 1 << 20;
  Open(options);
  ASSERT_TRUE(Commit(0, "a", 1).ok());
  ASSERT_TRUE(Commit(0, "a", 2).ok());
  ASSERT_TRUE(Commit(0, "b", 3).ok());

  env_.full = true;
  EXPECT_EQ(store_->Rollback(0, 1).status().code(), Errc::kTempFail);
  env_.full = false;
  EXPECT_EQ(store_->Get(0, "a")->seqno, 2u);
  EXPECT_EQ(store_->Get(0, "b")->seqno, 3u);
  EXPECT_EQ(store_->LoadVBucketStates().value().at(0).high_seqno, 3u);

  // Once RocksDB resumed, the same rollback goes through whole.
  StatusOr<RollbackResult> rolled = Status(Errc::kTempFail, "not tried");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  do {
    rolled = store_->Rollback(0, 1);
    if (rolled.ok()) break;
    ASSERT_EQ(rolled.status().code(), Errc::kTempFail) << rolled.status().ToString();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  } while (std::chrono::steady_clock::now() < deadline);
  ASSERT_TRUE(rolled.ok()) << rolled.status().ToString();
  EXPECT_EQ(rolled->seqno, 1u);
  EXPECT_EQ(store_->Get(0, "a")->seqno, 1u);
  EXPECT_EQ(store_->Get(0, "b").status().code(), Errc::kNotFound);
}

}  // namespace
}  // namespace sluice::storage
