// Integration: value eviction. With a small memory quota and about two and a half times as much
// data, sluiced must keep mem_used under the quota (evicting values once they are on disk,
// answering TMPFAIL while it catches up) and still return every document, fetching evicted values
// from disk — also for mutations of evicted documents and after a restart.
#include <functional>
#include <thread>

#include "protocol/payload.h"
#include "testing/wire_util.h"

namespace sluice::testing {
namespace {

using protocol::McbpStatus;
using protocol::Opcode;
using protocol::RequestFields;

constexpr uint64_t kEvictionQuota = 32ull << 20;
constexpr size_t kValueSize = 4096;
constexpr int kDocs = static_cast<int>(kEvictionQuota * 5 / 2 / kValueSize);  // ~2.5x the quota
constexpr int kBatch = 256;
constexpr int kEarlyDocs = 50;  // written first, so evicted by the end

std::string KeyOf(int i) { return "evict-" + std::to_string(i); }

// 4 KiB that differ per document (so a mix-up would show).
std::string ValueOf(int i) {
  std::string v = "doc " + std::to_string(i) + ":";
  while (v.size() < kValueSize) v += static_cast<char>('a' + (i + v.size()) % 26);
  return v;
}

class EvictionTest : public SluicedTest {
 protected:
  ServerOptions Options() const override {
    ServerOptions options = SluicedTest::Options();
    options.extra_args.insert(options.extra_args.end(), {"--memory-quota", "32M"});
    return options;
  }

  void SetUp() override {
    SluicedTest::SetUp();
    if (HasFatalFailure()) return;
    keys_.resize(kDocs);
    values_.resize(kDocs);
    for (int i = 0; i < kDocs; ++i) {
      keys_[i] = KeyOf(i);
      values_[i] = ValueOf(i);
    }
  }

  // mem_used from a default STAT on `conn`; records the largest value seen.
  uint64_t SampleMemUsed(client::Connection& conn) {
    auto stats = FetchStats(conn);
    EXPECT_TRUE(stats.ok());
    if (!stats.ok()) return 0;
    const uint64_t used = StatU64(*stats, "mem_used").value_or(0);
    max_mem_used_ = std::max(max_mem_used_, used);
    return used;
  }

  // Writes every document in pipelined batches; whatever got TMPFAIL is retried after a short
  // backoff. Samples mem_used after each batch.
  void WriteAll(client::Connection& conn) {
    std::string extras;
    protocol::AppendMutationExtras(&extras, {0, 0});
    for (int start = 0; start < kDocs; start += kBatch) {
      std::vector<int> pending;
      for (int i = start; i < std::min(kDocs, start + kBatch); ++i) pending.push_back(i);
      int attempts = 0;
      while (!pending.empty()) {
        ASSERT_LT(++attempts, 3000) << "writes kept failing with TMPFAIL";
        std::map<uint32_t, int> by_opaque;
        for (int i : pending) {
          by_opaque[conn.Enqueue({.opcode = Opcode::kSet,
                                  .vbucket = VBucketForKey(keys_[i], vbuckets()),
                                  .extras = extras,
                                  .key = keys_[i],
                                  .value = values_[i]})] = i;
        }
        ASSERT_TRUE(conn.Flush().ok());
        std::vector<int> retry;
        Status s = conn.ReadResponses(pending.size(), [&](const protocol::Frame& f) {
          const int i = by_opaque.at(f.opaque);
          if (f.status() == McbpStatus::kEtmpfail) {
            retry.push_back(i);
          } else {
            EXPECT_EQ(f.status(), McbpStatus::kSuccess) << keys_[i];
          }
        });
        ASSERT_TRUE(s.ok()) << s.ToString();
        tmpfails_ += retry.size();
        pending = std::move(retry);
        if (!pending.empty()) std::this_thread::sleep_for(20ms);  // backoff, not an assertion
      }
      SampleMemUsed(conn);
    }
  }

  // Reads every document back (pipelined) and counts wrong answers; samples mem_used.
  void ReadAllBack(client::Connection& conn) {
    size_t wrong = 0;
    for (int start = 0; start < kDocs; start += kBatch) {
      std::map<uint32_t, int> by_opaque;
      const int end = std::min(kDocs, start + kBatch);
      for (int i = start; i < end; ++i) {
        by_opaque[conn.Enqueue({.opcode = Opcode::kGet,
                                .vbucket = VBucketForKey(keys_[i], vbuckets()),
                                .key = keys_[i]})] = i;
      }
      ASSERT_TRUE(conn.Flush().ok());
      Status s = conn.ReadResponses(end - start, [&](const protocol::Frame& f) {
        const int i = by_opaque.at(f.opaque);
        if (f.status() != McbpStatus::kSuccess || f.value != values_[i]) {
          if (wrong++ < 5) {
            ADD_FAILURE() << keys_[i] << ": " << protocol::McbpStatusName(f.status()) << ", "
                          << f.value.size() << " bytes";
          }
        }
      });
      ASSERT_TRUE(s.ok()) << s.ToString();
      SampleMemUsed(conn);
    }
    EXPECT_EQ(wrong, 0u);
  }

  // Waits until memory settled under the quota with values ejected and `items` documents.
  void ExpectSettledUnderQuota(client::Connection& conn, uint64_t items = kDocs) {
    std::string state;
    EXPECT_TRUE(PollUntil([&] {
      auto s = FetchStats(conn);
      if (!s.ok()) return false;
      state = "mem_used " + (*s)["mem_used"] + ", ep_num_value_ejects " +
              (*s)["ep_num_value_ejects"] + ", ep_num_non_resident " + (*s)["ep_num_non_resident"] +
              ", curr_items " + (*s)["curr_items"];
      return StatU64(*s, "mem_used").value_or(UINT64_MAX) < kEvictionQuota &&
             StatU64(*s, "ep_num_non_resident").value_or(0) > 0 &&
             StatU64(*s, "curr_items") == items;
    })) << state;
  }

  void Report(const char* phase) {
    std::printf(
        "eviction (%s): %d docs of %zu bytes, %lu TMPFAIL retries, max mem_used %lu of %lu\n",
        phase, kDocs, kValueSize, static_cast<unsigned long>(tmpfails_),
        static_cast<unsigned long>(max_mem_used_), static_cast<unsigned long>(kEvictionQuota));
  }

  std::vector<std::string> keys_;
  std::vector<std::string> values_;
  uint64_t max_mem_used_ = 0;
  uint64_t tmpfails_ = 0;
};

TEST_F(EvictionTest, MemoryStaysUnderQuotaAndEveryDocumentReadsBack) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  auto stats = FetchStats(*conn);
  ASSERT_TRUE(stats.ok());
  ASSERT_EQ(StatU64(*stats, "ep_max_size"), kEvictionQuota);

  WriteAll(*conn);
  if (HasFatalFailure()) return;
  ExpectSettledUnderQuota(*conn);
  auto after_writes = FetchStats(*conn);
  ASSERT_TRUE(after_writes.ok());
  EXPECT_GT(StatU64(*after_writes, "ep_num_value_ejects").value_or(0), 0u);
  EXPECT_LE(max_mem_used_, kEvictionQuota) << "mem_used went over the quota while writing";
  Report("write");

  ReadAllBack(*conn);
  if (HasFatalFailure()) return;
  auto after = FetchStats(*conn);
  ASSERT_TRUE(after.ok());
  EXPECT_GT(StatU64(*after, "ep_bg_fetched").value_or(0), 0u) << "values came from disk";
  EXPECT_LE(max_mem_used_, kEvictionQuota) << "mem_used went over the quota while reading";
  EXPECT_TRUE(PollUntil([&] { return SampleMemUsed(*conn) < kEvictionQuota; }));
  Report("read");
}

TEST_F(EvictionTest, MutationsOfEvictedDocuments) {
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  // Counters written first: by the end of the bulk load their values are on disk only.
  for (int i = 0; i < kEarlyDocs; ++i) {
    ASSERT_EQ(Must(conn->Set("ctr-" + std::to_string(i), std::to_string(i))).status,
              McbpStatus::kSuccess);
  }
  WriteAll(*conn);
  if (HasFatalFailure()) return;
  ExpectSettledUnderQuota(*conn, kDocs + kEarlyDocs);
  auto before = FetchStats(*conn);
  ASSERT_TRUE(before.ok());
  const uint64_t fetched_before = StatU64(*before, "ep_bg_fetched").value_or(0);

  // At the quota a mutation that fetched its value may be answered TMPFAIL until the pager
  // frees memory (kv_engine does the same); a client retries it, and so does the test.
  auto retried = [](const std::function<client::KvResult()>& op) {
    client::KvResult r;
    PollUntil([&] {
      r = op();
      return r.status != McbpStatus::kEtmpfail;
    });
    return r;
  };
  for (int i = 0; i < kEarlyDocs; ++i) {
    const std::string ctr = "ctr-" + std::to_string(i);
    auto incr = retried([&] { return Must(conn->Increment(ctr, 1000)); });
    EXPECT_EQ(incr.status, McbpStatus::kSuccess) << ctr;
    EXPECT_EQ(incr.counter, static_cast<uint64_t>(i + 1000)) << ctr;
    const std::string& key = keys_[i];
    EXPECT_EQ(retried([&] { return Must(conn->Append(key, "+tail")); }).status,
              McbpStatus::kSuccess)
        << key;
    EXPECT_EQ(retried([&] { return Must(conn->Prepend(keys_[i + kEarlyDocs], "head+")); }).status,
              McbpStatus::kSuccess);
    auto gat = retried([&] { return Must(conn->GetAndTouch(keys_[i + 2 * kEarlyDocs], 3600)); });
    EXPECT_EQ(gat.status, McbpStatus::kSuccess);
    EXPECT_EQ(gat.value, values_[i + 2 * kEarlyDocs]);
  }
  for (int i = 0; i < kEarlyDocs; ++i) {
    EXPECT_EQ(Must(conn->Get(keys_[i])).value, values_[i] + "+tail");
    EXPECT_EQ(Must(conn->Get(keys_[i + kEarlyDocs])).value, "head+" + values_[i + kEarlyDocs]);
    EXPECT_EQ(Must(conn->Get("ctr-" + std::to_string(i))).value, std::to_string(i + 1000));
  }
  auto after = FetchStats(*conn);
  ASSERT_TRUE(after.ok());
  EXPECT_GT(StatU64(*after, "ep_bg_fetched").value_or(0), fetched_before)
      << "the mutations needed values from disk";
  EXPECT_LE(max_mem_used_, kEvictionQuota);
}

TEST_F(EvictionTest, MoreDataThanQuotaSurvivesARestart) {
  {
    auto conn = Connect();
    ASSERT_NE(conn, nullptr);
    WriteAll(*conn);
    if (HasFatalFailure()) return;
  }
  ASSERT_TRUE(WaitUntilPersisted());
  RestartClean();
  if (HasFatalFailure()) return;
  // Warmup loads metadata for everything and values only while memory allows.
  auto conn = Connect();
  ASSERT_NE(conn, nullptr);
  EXPECT_LT(SampleMemUsed(*conn), kEvictionQuota) << "warmup stayed under the quota";
  ReadAllBack(*conn);
  if (HasFatalFailure()) return;
  EXPECT_LE(max_mem_used_, kEvictionQuota);
  auto stats = FetchStats(*conn);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(StatU64(*stats, "curr_items"), static_cast<uint64_t>(kDocs));
  Report("restart");
}

}  // namespace
}  // namespace sluice::testing
