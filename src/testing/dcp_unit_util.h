// File: testing/dcp_unit_util.h
//
// Helpers for the DCP unit tests, in-process (testing/dcp_wire_util.h is for tests over TCP): a
// fake connection (ProducerNotifier) that counts and waits for notifications, a decoder turning a
// producer's output into Msg values, and DcpTest, a fixture with a real Bucket on a temp-dir
// RocksDB store driven by a ManualExecutor and a FakeClock, plus its ConnMap.
//
// Thread safety: FakeNotifier is thread-safe; the fixture is used from the test thread.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "dcp/conn_map.h"
#include "dcp/producer.h"
#include "engine/bucket.h"
#include "protocol/dcp_codec.h"
#include "protocol/frame.h"
#include "testing/fault_injecting_kvstore.h"
#include "testing/manual_executor.h"
#include "testing/temp_dir.h"

namespace sluice::dcp::testing {

// The end seqno of a stream that never ends.
inline constexpr uint64_t kMaxSeqno = ~uint64_t{0};

class FakeNotifier final : public ProducerNotifier {
 public:
  void NotifyProducerReady() override {
    std::function<void()> hook;
    {
      MutexLock lock(&mu_);
      ++ready_;
      hook = on_ready_;
      cv_.SignalAll();
    }
    if (hook) hook();
  }
  void RequestDisconnect(std::string_view reason) override {
    MutexLock lock(&mu_);
    ++disconnects_;
    last_reason_ = std::string(reason);
    cv_.SignalAll();
  }
  int ready() const {
    MutexLock lock(&mu_);
    return ready_;
  }
  int disconnects() const {
    MutexLock lock(&mu_);
    return disconnects_;
  }
  std::string last_reason() const {
    MutexLock lock(&mu_);
    return last_reason_;
  }
  // Runs (outside the notifier's lock) on every NotifyProducerReady().
  void set_on_ready(std::function<void()> hook) {
    MutexLock lock(&mu_);
    on_ready_ = std::move(hook);
  }
  // Blocks until ready() > seen or `timeout` passed; returns ready().
  int WaitReady(int seen, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    MutexLock lock(&mu_);
    while (ready_ <= seen && disconnects_ == 0) {
      if (!cv_.WaitUntil(&mu_, deadline)) break;
    }
    return ready_;
  }

 private:
  mutable Mutex mu_;
  CondVar cv_{&mu_};
  int ready_ GUARDED_BY(mu_) = 0;
  int disconnects_ GUARDED_BY(mu_) = 0;
  std::string last_reason_ GUARDED_BY(mu_);
  std::function<void()> on_ready_ GUARDED_BY(mu_);
};

// One decoded producer message.
struct Msg {
  protocol::Opcode opcode = protocol::Opcode::kDcpNoop;
  Vbid vb = 0;
  uint32_t opaque = 0;
  uint32_t size = 0;            // frame bytes
  std::optional<uint16_t> sid;  // the stream-id frame info
  // marker
  uint64_t snap_start = 0, snap_end = 0;
  uint32_t snap_flags = 0;
  protocol::DcpSnapshotMarkerVersion marker_version = protocol::DcpSnapshotMarkerVersion::kV1;
  uint64_t max_visible_seqno = 0, purge_seqno = 0;
  // OSO snapshot
  uint32_t oso_flags = 0;
  // mutation / deletion / expiration
  uint64_t seqno = 0;
  uint64_t rev_seqno = 0;
  uint64_t cas = 0;
  uint32_t flags = 0;
  uint32_t delete_time = 0;
  uint8_t datatype = 0;
  bool deletion_v2 = false;
  std::string key;
  std::string value;
  // stream end
  protocol::DcpStreamEndStatus status = protocol::DcpStreamEndStatus::kOk;

  bool is_marker() const { return opcode == protocol::Opcode::kDcpSnapshotMarker; }
  bool is_item() const {
    return opcode == protocol::Opcode::kDcpMutation || opcode == protocol::Opcode::kDcpDeletion ||
           opcode == protocol::Opcode::kDcpExpiration;
  }
  bool is_end() const { return opcode == protocol::Opcode::kDcpStreamEnd; }
  bool is_seqno_advanced() const { return opcode == protocol::Opcode::kDcpSeqnoAdvanced; }
  bool is_oso() const { return opcode == protocol::Opcode::kDcpOsoSnapshot; }
};

inline std::vector<Msg> Decode(std::string_view bytes, bool collections = false) {
  std::vector<Msg> out;
  while (!bytes.empty()) {
    const protocol::DecodeResult r = protocol::DecodeFrame(bytes, 64 << 20);
    EXPECT_EQ(r.status, protocol::DecodeStatus::kOk) << r.reason;
    if (r.status != protocol::DecodeStatus::kOk) break;
    const protocol::Frame& f = r.frame;
    Msg m;
    m.opcode = f.client_opcode();
    m.vb = f.vbucket();
    m.opaque = f.opaque;
    m.size = f.size;
    switch (m.opcode) {
      case protocol::Opcode::kDcpSnapshotMarker: {
        auto d = protocol::DecodeDcpSnapshotMarker(f);
        EXPECT_TRUE(d.ok());
        m.snap_start = d->start_seqno;
        m.snap_end = d->end_seqno;
        m.snap_flags = d->flags;
        m.marker_version = d->version;
        m.max_visible_seqno = d->max_visible_seqno;
        m.purge_seqno = d->purge_seqno;
        m.sid = d->stream_id;
        break;
      }
      case protocol::Opcode::kDcpSeqnoAdvanced: {
        auto d = protocol::DecodeDcpSeqnoAdvanced(f);
        EXPECT_TRUE(d.ok());
        m.seqno = d->by_seqno;
        m.sid = d->stream_id;
        break;
      }
      case protocol::Opcode::kDcpOsoSnapshot: {
        auto d = protocol::DecodeDcpOsoSnapshot(f);
        EXPECT_TRUE(d.ok());
        m.oso_flags = d->flags;
        m.sid = d->stream_id;
        break;
      }
      case protocol::Opcode::kDcpMutation: {
        auto d = protocol::DecodeDcpMutation(f, collections);
        EXPECT_TRUE(d.ok());
        m.seqno = d->by_seqno;
        m.rev_seqno = d->rev_seqno;
        m.cas = d->cas;
        m.flags = d->flags;
        m.datatype = d->datatype;
        m.key = std::string(d->key);
        m.value = std::string(d->value);
        m.sid = d->stream_id;
        break;
      }
      case protocol::Opcode::kDcpDeletion: {
        auto d = protocol::DecodeDcpDeletion(f, collections);
        EXPECT_TRUE(d.ok());
        m.seqno = d->by_seqno;
        m.rev_seqno = d->rev_seqno;
        m.cas = d->cas;
        m.delete_time = d->delete_time;
        m.deletion_v2 = d->version == protocol::DcpDeletionVersion::kV2;
        m.key = std::string(d->key);
        m.sid = d->stream_id;
        break;
      }
      case protocol::Opcode::kDcpExpiration: {
        auto d = protocol::DecodeDcpExpiration(f, collections);
        EXPECT_TRUE(d.ok());
        m.seqno = d->by_seqno;
        m.rev_seqno = d->rev_seqno;
        m.cas = d->cas;
        m.delete_time = d->delete_time;
        m.key = std::string(d->key);
        break;
      }
      case protocol::Opcode::kDcpStreamEnd: {
        auto d = protocol::DecodeDcpStreamEnd(f);
        EXPECT_TRUE(d.ok());
        m.status = d->status;
        m.sid = d->stream_id;
        break;
      }
      case protocol::Opcode::kDcpNoop:
        break;
      default:
        ADD_FAILURE() << "unexpected opcode " << static_cast<int>(f.opcode);
    }
    out.push_back(std::move(m));
    bytes.remove_prefix(r.size);
  }
  return out;
}

// Messages of one vbucket, in order.
inline std::vector<Msg> OfVb(const std::vector<Msg>& msgs, Vbid vb) {
  std::vector<Msg> out;
  for (const auto& m : msgs) {
    if (m.vb == vb && m.opcode != protocol::Opcode::kDcpNoop) out.push_back(m);
  }
  return out;
}

class DcpTest : public ::testing::Test {
 protected:
  static constexpr Vbid kNumVbuckets = 8;

  void SetUp() override {
    config_.max_vbuckets = kNumVbuckets;
    config_.max_num_shards = 2;
    config_.max_size = 256ULL << 20;
    config_.ht_locks = 4;
    config_.exp_pager_enabled = false;
  }
  void TearDown() override {
    CloseBucket(/*clean=*/false);
    exec_.Shutdown();
  }

  void OpenBucket() {
    engine::BucketOptions o;
    o.name = "default";
    o.data_dir = dir_;
    o.config = config_;
    o.executor = &exec_;
    o.clock = &clock_;
    // Every store is wrapped: tests arm scan hooks and faults through faults_.
    o.wrap_store = [faults = faults_](std::unique_ptr<storage::KVStore> inner) {
      return std::make_unique<storage::FaultInjectingKVStore>(std::move(inner), faults);
    };
    auto b = engine::Bucket::Open(o);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    bucket_ = *b;
    conn_map_ = ConnMap::Create(bucket_);
  }
  // ConnMap first (no scan may outlive the store), then the bucket.
  void CloseBucket(bool clean) {
    if (conn_map_ != nullptr) {
      EXPECT_TRUE(conn_map_->Shutdown(std::chrono::seconds(10)));
      conn_map_.reset();
    }
    if (bucket_ != nullptr) {
      if (clean) {
        EXPECT_TRUE(bucket_->Shutdown().ok());
      }
      bucket_.reset();
    }
  }
  void Restart(bool clean = true) {
    CloseBucket(clean);
    OpenBucket();
  }

  engine::MutationResult Set(Vbid vb, const std::string& key, const std::string& value,
                             uint32_t expiry = 0) {
    engine::StoreRequest r;
    r.key = key;
    r.value = value;
    r.flags = 0xcafef00d;
    r.expiry = expiry;
    auto m = bucket_->Store(vb, r);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? *m : engine::MutationResult{};
  }
  engine::MutationResult Del(Vbid vb, const std::string& key) {
    auto m = bucket_->Delete(vb, key, 0);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    return m.ok() ? *m : engine::MutationResult{};
  }
  // Writes keys "<prefix><i>" = "value-<i>" for i in [0, n) to vb.
  void WriteMany(Vbid vb, int n, const std::string& prefix = "key") {
    for (int i = 0; i < n; ++i) Set(vb, prefix + std::to_string(i), "value-" + std::to_string(i));
  }
  void Flush() {
    for (int i = 0; i < 10000 && bucket_->QueueSize() != 0; ++i) {
      exec_.RunReady(executor::TaskGroup::kWriter);
    }
    exec_.RunReady(executor::TaskGroup::kWriter);
    ASSERT_EQ(bucket_->QueueSize(), 0u);
  }

  std::shared_ptr<Producer> Open(const std::string& name,
                                 const std::shared_ptr<FakeNotifier>& notifier,
                                 uint32_t flags = protocol::kDcpOpenProducer,
                                 bool collections = false) {
    ProducerOptions o;
    o.name = name;
    o.open_flags = flags;
    o.collections = collections;
    o.notifier = notifier;
    return Open(std::move(o));
  }
  std::shared_ptr<Producer> Open(ProducerOptions options) {
    auto p = conn_map_->NewProducer(std::move(options));
    EXPECT_TRUE(p.ok()) << p.status().ToString();
    return p.ok() ? *p : nullptr;
  }

  StreamRequestResult Req(Producer& p, Vbid vb, uint64_t start = 0, uint64_t end = ~uint64_t{0},
                          uint32_t flags = 0, uint64_t uuid = 0,
                          std::optional<uint64_t> snap_start = std::nullopt,
                          std::optional<uint64_t> snap_end = std::nullopt,
                          std::string_view json = {}) {
    protocol::DcpStreamReqRequest a;
    a.vbucket = vb;
    a.opaque = 0x1000 + vb;
    a.flags = flags;
    a.start_seqno = start;
    a.end_seqno = end;
    a.vbucket_uuid = uuid;
    a.snap_start_seqno = snap_start.value_or(start);
    a.snap_end_seqno = snap_end.value_or(start);
    a.json_value = json;
    return p.StreamRequest(a);
  }

  // One Step into a fresh buffer; decoded.
  std::vector<Msg> StepOnce(Producer& p, size_t budget = 1 << 20, StepResult* result = nullptr) {
    std::string out;
    const StepResult r = p.Step(&out, budget);
    if (result != nullptr) *result = r;
    return Decode(out, collections_);
  }

  // Alternates auxio runs (backfills), writer runs (so snoozing backfills can proceed) and Steps
  // until `done(msgs)` holds or nothing moves any more. Returns every message seen.
  std::vector<Msg> Pump(Producer& p,
                        const std::function<bool(const std::vector<Msg>&)>& done = nullptr,
                        int max_rounds = 100000) {
    std::vector<Msg> all;
    for (int round = 0; round < max_rounds; ++round) {
      std::vector<Msg> got = StepOnce(p);
      const bool stepped = !got.empty();
      all.insert(all.end(), got.begin(), got.end());
      if (done && done(all)) break;
      size_t ran = exec_.RunReady(executor::TaskGroup::kAuxIO, 1);
      if (ran == 0 && !stepped) {
        ran += exec_.RunReady(executor::TaskGroup::kWriter);
        if (ran == 0) {
          // Snoozing backfills: let time pass.
          const auto next = exec_.NextWakeTime(executor::TaskGroup::kAuxIO);
          if (next && *next != SteadyTime::max() && *next > clock_.Now()) {
            clock_.Advance(*next - clock_.Now());
            continue;
          }
          break;
        }
      }
    }
    return all;
  }
  // Pump until every vb in `vbs` has a STREAM_END.
  std::vector<Msg> PumpUntilEnded(Producer& p, const std::vector<Vbid>& vbs) {
    return Pump(p, [&](const std::vector<Msg>& all) {
      for (Vbid vb : vbs) {
        bool ended = false;
        for (const auto& m : all) ended = ended || (m.vb == vb && m.is_end());
        if (!ended) return false;
      }
      return true;
    });
  }

  std::map<std::string, std::string> DcpStats(std::string_view group = "dcp") {
    std::map<std::string, std::string> out;
    EXPECT_TRUE(
        conn_map_
            ->GetStats(group, [&](std::string_view k,
                                  std::string_view v) { out[std::string(k)] = std::string(v); })
            .ok());
    return out;
  }
  size_t RunningBackfills() const { return conn_map_->tracker()->num_running(); }
  uint64_t ScansStarted() const { return conn_map_->tracker()->scans_started(); }

  sluice::testing::TempDir temp_dir_{"sluice_dcp_test"};
  const std::string dir_ = temp_dir_.path();  // the bucket's data directory
  Config config_;
  FakeClock clock_;
  executor::ManualExecutor exec_{&clock_};
  std::shared_ptr<storage::FaultInjector> faults_ = std::make_shared<storage::FaultInjector>();
  std::shared_ptr<engine::Bucket> bucket_;
  std::shared_ptr<ConnMap> conn_map_;
  bool collections_ = false;
};

}  // namespace sluice::dcp::testing
