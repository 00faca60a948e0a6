// Multi-threaded tests with the real ThreadPoolExecutor (run them under TSan and ASan too):
//   - the backfill -> memory handover while a writer thread writes, checked against a model;
//   - many producers opening, stepping, closing and dropping streams on many vbuckets (some
//     sharing a connection name, so they replace each other from different threads) while
//     writers write and vbuckets change state; then shutdown must find no backfill or scan alive
//     and every producer freed.
// No sleeps: threads wait on conditions (with generous deadlines that fail the test rather than
// hang it); nothing asserts on timing.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "executor/executor.h"
#include "testing/dcp_unit_util.h"
#include "testing/temp_dir.h"

namespace sluice::dcp {
namespace {

using protocol::Opcode;
using testing::FakeNotifier;
using testing::Msg;

// Checks one stream's invariants as messages arrive and applies them to a key/value state.
class StreamChecker {
 public:
  void Apply(const Msg& m) {
    if (m.is_marker()) {
      EXPECT_LE(m.snap_start, m.snap_end);
      if (have_marker_) {
        // No gap after the previous snapshot, and nothing re-announced. (A snapshot may start
        // before the previous one's end: a cursor dropped in the middle of a checkpoint makes the
        // stream backfill from the last seqno it sent, superseding the rest of that snapshot.)
        EXPECT_LE(m.snap_start, marker_end_ + 1) << "vb " << m.vb;
        EXPECT_GT(m.snap_start, last_seqno_) << "vb " << m.vb;
      }
      have_marker_ = true;
      marker_start_ = m.snap_start;
      marker_end_ = m.snap_end;
    } else if (m.is_item()) {
      EXPECT_TRUE(have_marker_);
      EXPECT_GT(m.seqno, last_seqno_) << "vb " << m.vb << ": seqno repeated or out of order";
      EXPECT_GE(m.seqno, marker_start_);
      EXPECT_LE(m.seqno, marker_end_);
      last_seqno_ = m.seqno;
      if (m.opcode == Opcode::kDcpMutation) {
        state_[m.key] = m.value;
      } else {
        state_.erase(m.key);
      }
    } else if (m.is_end()) {
      ended_ = true;
    }
  }
  uint64_t last_seqno() const { return last_seqno_; }
  bool ended() const { return ended_; }
  const std::map<std::string, std::string>& state() const { return state_; }

 private:
  bool have_marker_ = false;
  bool ended_ = false;
  uint64_t marker_start_ = 0;
  uint64_t marker_end_ = 0;
  uint64_t last_seqno_ = 0;
  std::map<std::string, std::string> state_;
};

class StressTest : public ::testing::Test {
 protected:
  static constexpr Vbid kVbuckets = 16;

  void SetUp() override {
    config_.max_vbuckets = kVbuckets;
    config_.max_num_shards = 2;
    config_.max_size = 256ULL << 20;
    config_.ht_locks = 8;
    config_.exp_pager_enabled = false;
    config_.dcp_scan_item_limit = 16;
    executor_ = executor::MakeThreadPoolExecutor(executor::ThreadCounts{{1, 2, 2, 1}});
  }
  void TearDown() override {
    Close(/*clean=*/false);
    executor_->Shutdown();
  }
  void OpenBucket() {
    engine::BucketOptions o;
    o.name = "default";
    o.data_dir = dir_.path();
    o.config = config_;
    o.executor = executor_.get();
    auto b = engine::Bucket::Open(o);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    bucket_ = *b;
    conn_map_ = ConnMap::Create(bucket_);
  }
  void Close(bool clean) {
    if (conn_map_ != nullptr) {
      EXPECT_TRUE(conn_map_->Shutdown(std::chrono::seconds(60)));
      EXPECT_EQ(conn_map_->tracker()->num_running(), 0u);
      EXPECT_EQ(conn_map_->tracker()->open_scans(), 0u);
      conn_map_.reset();
    }
    if (bucket_ != nullptr) {
      if (clean) EXPECT_TRUE(bucket_->Shutdown().ok());
      bucket_.reset();
    }
  }
  void Populate(int per_vb) {
    for (Vbid vb = 0; vb < kVbuckets; ++vb) {
      for (int i = 0; i < per_vb; ++i) {
        engine::StoreRequest r;
        const std::string key = "k" + std::to_string(i);
        const std::string value = "initial" + std::to_string(i);
        r.key = key;
        r.value = value;
        ASSERT_TRUE(bucket_->Store(vb, r).ok());
        model_[vb][key] = value;
      }
    }
  }

  sluice::testing::TempDir dir_{"sluice_dcp_stress"};
  Config config_;
  std::unique_ptr<executor::Executor> executor_;
  std::shared_ptr<engine::Bucket> bucket_;
  std::shared_ptr<ConnMap> conn_map_;
  std::map<Vbid, std::map<std::string, std::string>> model_;
};

TEST_F(StressTest, HandoverWithAConcurrentWriterThread) {
  OpenBucket();
  Populate(300);
  Close(/*clean=*/true);
  OpenBucket();  // everything on disk only
  for (const auto& [key, value] : model_[0]) {
    auto meta = bucket_->GetMeta(0, key);
    ASSERT_TRUE(meta.ok()) << key << " lost by the restart: " << meta.status().ToString()
                           << " (warmup: " << bucket_->warmup_stats().documents << " documents)";
  }

  auto notifier = std::make_shared<FakeNotifier>();
  ProducerOptions o;
  o.name = "handover";
  o.notifier = notifier;
  auto p = conn_map_->NewProducer(o);
  ASSERT_TRUE(p.ok());
  protocol::DcpStreamReqRequest a;
  a.vbucket = 0;
  ASSERT_TRUE((*p)->StreamRequest(a).status.ok());

  std::atomic<bool> writer_done{false};
  std::atomic<uint64_t> final_high{0};
  std::map<std::string, std::string>& model = model_[0];
  std::thread writer([&] {
    for (int i = 0; i < 2000; ++i) {
      const std::string key = "k" + std::to_string((i * 7) % 450);
      if (i % 13 == 0 && model.count(key) != 0) {
        auto d = bucket_->Delete(0, key, 0);
        if (!d.ok()) {
          ADD_FAILURE() << "delete " << key << ": " << d.status().ToString();
          break;
        }
        model.erase(key);
      } else {
        engine::StoreRequest r;
        const std::string value = "w" + std::to_string(i);
        r.key = key;
        r.value = value;
        auto m = bucket_->Store(0, r);
        if (!m.ok()) {
          ADD_FAILURE() << "store " << key << ": " << m.status().ToString();
          break;
        }
        model[key] = value;
      }
    }
    final_high.store(bucket_->GetVBucket(0)->high_seqno());
    writer_done.store(true);
    notifier->NotifyProducerReady();  // wake the consumer to check the end condition
  });

  StreamChecker checker;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(300);
  while (!(writer_done.load() && checker.last_seqno() == final_high.load())) {
    if (std::chrono::steady_clock::now() >= deadline) {
      ADD_FAILURE() << "stream stalled at seqno " << checker.last_seqno();
      break;
    }
    const int seen = notifier->ready();
    std::string out;
    const StepResult r = (*p)->Step(&out, 64 << 10);
    for (const Msg& m : testing::Decode(out)) checker.Apply(m);
    if (r == StepResult::kDisconnect) {
      ADD_FAILURE() << "disconnected";
      break;
    }
    if (r == StepResult::kNothingReady) notifier->WaitReady(seen, std::chrono::milliseconds(50));
  }
  writer.join();
  EXPECT_EQ(checker.state(), model);
  (*p)->Disconnect();
}

TEST_F(StressTest, ManyProducersStreamsAndWritersOnTheThreadPool) {
  config_.dcp_max_running_backfills = 4;       // pending backfills
  config_.dcp_backfill_byte_limit = 16 << 10;  // paused backfills
  config_.checkpoint_max_size = 16 << 10;      // many checkpoints, so cursors can be dropped
  config_.checkpoint_memory_ratio = 0.004;     // ~1 MiB: memory recovery drops cursors
  config_.chk_remover_stime = 0.05;
  // Cursors are also dropped directly by the flipper thread below.
  OpenBucket();
  Populate(200);
  Close(/*clean=*/true);
  OpenBucket();

  constexpr int kConsumers = 4;
  constexpr int kRounds = 25;
  std::atomic<bool> stop{false};
  Mutex weak_mu;
  std::vector<std::weak_ptr<Producer>> all_producers;
  std::atomic<uint64_t> items_received{0};

  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      std::mt19937 rng(1000 + w);
      for (int i = 0; !stop.load(); ++i) {
        const Vbid vb = static_cast<Vbid>(rng() % kVbuckets);
        const std::string key = "w" + std::to_string(rng() % 500);
        if (i % 11 == 0) {
          bucket_->Delete(vb, key, 0).status().IgnoreError();  // may be missing or NotMyVbucket
        } else {
          engine::StoreRequest r;
          const std::string value(64 + rng() % 512, 'v');
          r.key = key;
          r.value = value;
          bucket_->Store(vb, r).status().IgnoreError();  // NotMyVbucket while a vbucket is flipped
        }
      }
    });
  }
  std::thread flipper([&] {
    std::mt19937 rng(7);
    for (int i = 0; i < 40 && !stop.load(); ++i) {
      const Vbid vb = static_cast<Vbid>(rng() % kVbuckets);
      ASSERT_TRUE(bucket_->SetVBucketState(vb, VBucketState::kReplica).ok());
      std::this_thread::yield();
      ASSERT_TRUE(bucket_->SetVBucketState(vb, VBucketState::kActive).ok());
      for (int d = 0; d < 5; ++d) {
        std::this_thread::yield();
        const Vbid victim = static_cast<Vbid>(rng() % kVbuckets);
        if (auto v = bucket_->GetVBucket(victim)) v->checkpoints().DropCursorsInOldestCheckpoint();
      }
    }
  });

  std::vector<std::thread> consumers;
  for (int t = 0; t < kConsumers; ++t) {
    consumers.emplace_back([&, t] {
      std::mt19937 rng(t);
      for (int round = 0; round < kRounds; ++round) {
        auto notifier = std::make_shared<FakeNotifier>();
        ProducerOptions o;
        // Every fourth round all consumers use one name: they replace each other.
        o.name = round % 4 == 0 ? "shared" : "c" + std::to_string(t);
        o.open_flags =
            protocol::kDcpOpenProducer | (rng() % 2 ? protocol::kDcpOpenIncludeDeleteTimes : 0);
        o.notifier = notifier;
        auto created = conn_map_->NewProducer(o);
        ASSERT_TRUE(created.ok()) << created.status().ToString();
        std::shared_ptr<Producer> p = *created;
        {
          MutexLock lock(&weak_mu);
          all_producers.push_back(p);
        }
        // A control may find the producer already replaced by another thread's.
        auto control = [&](std::string_view key, std::string_view value) {
          const Status s = p->Control(key, value);
          EXPECT_TRUE(s.ok() || s.code() == Errc::kDisconnect) << s.ToString();
        };
        if (rng() % 2) control("connection_buffer_size", "8192");
        if (rng() % 3 == 0) control("backfill_order", "sequential");
        if (rng() % 2) control("supports_cursor_dropping", "true");
        std::map<Vbid, StreamChecker> checkers;
        for (int k = 0; k < 6; ++k) {
          protocol::DcpStreamReqRequest a;
          a.vbucket = static_cast<Vbid>(rng() % kVbuckets);
          a.opaque = a.vbucket;
          StreamRequestResult r = p->StreamRequest(a);
          if (r.status.ok()) {
            checkers[a.vbucket] = StreamChecker();
          } else {
            // A duplicate vbucket, a flipped one, or we were replaced meanwhile.
            const Errc c = r.status.code();
            EXPECT_TRUE(c == Errc::kExists || c == Errc::kNotMyVbucket || c == Errc::kDisconnect)
                << r.status.ToString();
          }
        }
        size_t unacked = 0;
        const int steps = 20 + static_cast<int>(rng() % 200);
        for (int s = 0; s < steps; ++s) {
          const int seen = notifier->ready();
          std::string out;
          const StepResult r = p->Step(&out, 16 << 10);
          for (const Msg& m : testing::Decode(out)) {
            if (m.opcode == Opcode::kDcpNoop) continue;
            unacked += m.size;
            if (m.is_item()) items_received.fetch_add(1, std::memory_order_relaxed);
            auto it = checkers.find(m.vb);
            EXPECT_NE(it, checkers.end());
            if (it != checkers.end()) it->second.Apply(m);
          }
          if (r == StepResult::kDisconnect) break;
          if (r == StepResult::kFlowControlFull) {
            p->BufferAcknowledged(static_cast<uint32_t>(unacked));
            unacked = 0;
          }
          if (r == StepResult::kNothingReady) {
            notifier->WaitReady(seen, std::chrono::milliseconds(10));
          }
          if (rng() % 64 == 0 && !checkers.empty()) {
            auto it = checkers.begin();
            std::advance(it, rng() % checkers.size());
            p->CloseStream(it->first).IgnoreError();  // may have ended already
            checkers.erase(it);
          }
        }
        // Half the connections close properly; the others just drop the producer (as a
        // connection torn down without ceremony), leaving it to ~Producer on whatever thread.
        if (rng() % 2) p->Disconnect();
        p.reset();
      }
    });
  }
  for (auto& c : consumers) c.join();
  flipper.join();
  stop.store(true);
  for (auto& w : writers) w.join();
  EXPECT_GT(items_received.load(), 0u);

  std::shared_ptr<BackfillTracker> tracker = conn_map_->tracker();
  EXPECT_GT(tracker->scans_started(), 0u);
  Close(/*clean=*/true);
  executor_->Shutdown();  // joins the workers: no run holds anything any more
  EXPECT_EQ(tracker->num_running(), 0u);
  MutexLock lock(&weak_mu);
  for (const auto& w : all_producers) EXPECT_TRUE(w.expired());
}

}  // namespace
}  // namespace sluice::dcp
