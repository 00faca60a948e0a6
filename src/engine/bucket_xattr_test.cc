// Bucket tests of values with extended attributes (docs/xattrs.md): what DELETE, APPEND/PREPEND
// and INCR do with them, the size limit, the subdoc store options (tombstone writes, CAS on a
// tombstone, pre-link), and AccessDeleted reads of tombstones that only the disk still holds.
// Driven by a ManualExecutor over a real RocksDB store in a temp dir, as bucket_test.cc.
#include <gtest/gtest.h>

#include "engine/bucket.h"
#include "testing/manual_executor.h"
#include "testing/recording_waiter.h"
#include "testing/temp_dir.h"
#include "xattr/blob.h"

namespace sluice::engine {
namespace {

using executor::ManualExecutor;
using executor::TaskGroup;

constexpr uint8_t kJson = 0x01;
constexpr uint8_t kXattr = xattr::kDatatypeXattr;

using testing::RecordingWaiter;

class BucketXattrTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Config config;
    config.max_vbuckets = 4;
    config.max_num_shards = 1;
    config.max_size = 64 << 20;
    config.ht_locks = 2;
    config.max_item_size = 4096;
    BucketOptions o;
    o.data_dir = dir_.path();
    o.config = config;
    o.executor = &exec_;
    o.clock = &clock_;
    auto b = Bucket::Open(o);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    bucket_ = *b;
  }
  void TearDown() override {
    bucket_.reset();
    exec_.Shutdown();
  }
  void Flush() {
    for (int i = 0; i < 1000 && bucket_->QueueSize() != 0; ++i) {
      exec_.RunReady(TaskGroup::kWriter);
    }
    exec_.RunReady(TaskGroup::kWriter);
    ASSERT_EQ(bucket_->QueueSize(), 0u);
  }
  StatusOr<MutationResult> Store(std::string_view key, std::string_view value, uint8_t datatype,
                                 StoreOp op = StoreOp::kSet) {
    StoreRequest r;
    r.op = op;
    r.key = key;
    r.value = value;
    r.datatype = datatype;
    r.flags = 7;
    return bucket_->Store(0, r);
  }
  // Get with include_deleted, running a background fetch if one is needed.
  StatusOr<GetResult> GetDeleted(std::string_view key, bool* fetched = nullptr) {
    auto w = std::make_shared<RecordingWaiter>();
    auto r = bucket_->Get(0, key, w, /*include_deleted=*/true);
    if (fetched != nullptr) *fetched = r.status().code() == Errc::kWouldBlock;
    if (r.status().code() != Errc::kWouldBlock) return r;
    exec_.RunReady(TaskGroup::kReader);
    EXPECT_EQ(w->notified, 1);
    EXPECT_TRUE(w->last.ok()) << w->last.ToString();
    return bucket_->Get(0, key, w, true);
  }

  testing::TempDir dir_{"sluice_bucket_xattr_test"};
  FakeClock clock_;
  ManualExecutor exec_{&clock_};
  std::shared_ptr<Bucket> bucket_;
};

const std::string kBoth = xattr::Encode({{"_s", R"({"v":1})"}, {"u", "2"}});
const std::string kSystem = xattr::Encode({{"_s", R"({"v":1})"}});

TEST_F(BucketXattrTest, DeleteKeepsSystemXattrsInMemoryAndOnDisk) {
  ASSERT_TRUE(Store("k", kBoth + R"({"a":1})", kJson | kXattr).ok());
  ASSERT_TRUE(bucket_->Delete(0, "k", 0).ok());
  auto w = std::make_shared<RecordingWaiter>();
  EXPECT_EQ(bucket_->Get(0, "k", w).status().code(), Errc::kNotFound);
  bool fetched = true;
  auto t = GetDeleted("k", &fetched);
  ASSERT_TRUE(t.ok());
  EXPECT_FALSE(fetched);
  EXPECT_TRUE(t->deleted);
  EXPECT_EQ(t->value.view(), kSystem);
  EXPECT_EQ(t->datatype, kXattr);
  EXPECT_EQ(t->flags, 0u);
  const uint64_t cas = t->cas;
  const uint64_t tombstone_rev = t->rev_seqno;

  Flush();  // the tombstone leaves memory; AccessDeleted reads load it back from disk
  t = GetDeleted("k", &fetched);
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(fetched);
  EXPECT_EQ(t->value.view(), kSystem);
  EXPECT_EQ(t->cas, cas);
  t = GetDeleted("k", &fetched);  // now in memory
  EXPECT_FALSE(fetched);
  EXPECT_EQ(bucket_->GetMeta(0, "k")->deleted, true);

  // A key with no version at all: NotFound, remembered by a marker until the pagers drop it.
  EXPECT_EQ(GetDeleted("never", &fetched).status().code(), Errc::kNotFound);
  EXPECT_TRUE(fetched);
  EXPECT_EQ(GetDeleted("never", &fetched).status().code(), Errc::kNotFound);
  EXPECT_FALSE(fetched);
  EXPECT_EQ(bucket_->GetMeta(0, "never").status().code(), Errc::kNotFound);
  bucket_->GetVBucket(0)->EvictValues(1 << 20);
  EXPECT_EQ(GetDeleted("never", &fetched).status().code(), Errc::kNotFound);
  EXPECT_TRUE(fetched);
  // A write over the marker is a new document: its rev follows the highest deleted one (the
  // marker's own rev of 0 does not count), and it has no previous version on disk.
  ASSERT_TRUE(Store("never", "{}", kJson, StoreOp::kAdd).ok());
  EXPECT_EQ(bucket_->GetMeta(0, "never")->rev_seqno, tombstone_rev + 1);
  Flush();
}

TEST_F(BucketXattrTest, BodyCommandsKeepXattrs) {
  ASSERT_TRUE(Store("s", kBoth + "mid", kXattr).ok());
  ASSERT_TRUE(bucket_->AppendPrepend(0, "s", "-end", true, 0, {}).ok());
  ASSERT_TRUE(bucket_->AppendPrepend(0, "s", "[", false, 0, {}).ok());
  auto w = std::make_shared<RecordingWaiter>();
  auto got = bucket_->Get(0, "s", w);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->value.view(), kBoth + "[mid-end");
  EXPECT_EQ(got->datatype, kXattr);

  ASSERT_TRUE(Store("n", kBoth + "41", kJson | kXattr).ok());
  ArithmeticRequest inc;
  inc.key = "n";
  inc.delta = 1;
  auto r = bucket_->Arithmetic(0, inc, w);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->value, 42u);
  got = bucket_->Get(0, "n", w);
  EXPECT_EQ(got->value.view(), kBoth + "42");
  EXPECT_EQ(got->datatype, kJson | kXattr);
}

TEST_F(BucketXattrTest, SystemXattrsDoNotCountAgainstMaxItemSize) {
  const std::string big(5000, 'x');
  EXPECT_TRUE(
      Store("sys", xattr::Encode({{"_big", "\"" + big + "\""}}) + "{}", kJson | kXattr).ok());
  EXPECT_EQ(Store("user", xattr::Encode({{"big", "\"" + big + "\""}}) + "{}", kJson | kXattr)
                .status()
                .code(),
            Errc::kTooBig);
}

TEST_F(BucketXattrTest, SubdocStoreOptions) {
  // A tombstone created directly (CreateAsDeleted), then changed under its CAS (AccessDeleted).
  StoreRequest create;
  create.op = StoreOp::kAdd;
  create.key = "t";
  create.value = kBoth;
  create.datatype = kXattr;
  create.deleted = true;
  auto c = bucket_->Store(0, create);
  ASSERT_TRUE(c.ok());
  auto t = GetDeleted("t");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->deleted);
  EXPECT_EQ(t->value.view(), kBoth);  // a subdoc write decides what a tombstone keeps

  StoreRequest change = create;
  change.op = StoreOp::kReplace;
  change.value = kSystem;
  change.cas = c->cas;
  EXPECT_EQ(bucket_->Store(0, change).status().code(), Errc::kNotFound);  // not without the flag
  change.cas_may_match_tombstone = true;
  ASSERT_TRUE(bucket_->Store(0, change).ok());
  EXPECT_EQ(GetDeleted("t")->value.view(), kSystem);

  // Pre-link sees the write's CAS and seqno and may rewrite the value (same size).
  StoreRequest live;
  live.key = "p";
  live.value = "CAS=????????????????";
  live.pre_link = [](const BlobPtr& value, uint64_t cas, uint64_t seqno) {
    char text[32];
    std::snprintf(text, sizeof(text), "CAS=%016llx", static_cast<unsigned long long>(cas));
    EXPECT_GT(seqno, 0u);
    EXPECT_EQ(value.size(), std::string_view(text).size());
    return Blob::Make(text);
  };
  auto p = bucket_->Store(0, live);
  ASSERT_TRUE(p.ok());
  char expected[32];
  std::snprintf(expected, sizeof(expected), "CAS=%016llx", static_cast<unsigned long long>(p->cas));
  auto w = std::make_shared<RecordingWaiter>();
  EXPECT_EQ(bucket_->Get(0, "p", w)->value.view(), expected);
  Flush();
}

}  // namespace
}  // namespace sluice::engine
