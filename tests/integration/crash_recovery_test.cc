// Crash safety over TCP: sluiced is killed with SIGKILL at random moments (seeded; the seed is
// printed, rerun with SLUICE_CRASH_SEED=<seed>) while a client makes durable writes and a DCP
// consumer streams every vbucket, kCycles times. After each restart:
//   - every acknowledged durable write is there with its value (or with a later value of the same
//     key that was still in flight), and nothing that was never written appears;
//   - seqnos never go backwards: each vbucket's high seqno is at least what it was after the
//     previous restart and at least every acknowledged durable write's seqno, and acknowledged
//     seqnos keep increasing per vbucket across restarts;
//   - every vbucket got exactly one new failover entry (an unclean shutdown), at the high seqno
//     it had persisted: at or above every acknowledged durable write's seqno and at or below its
//     high seqno now (above it only the commits of the prepares warmup found in flight, which
//     start the new branch: docs/replication.md, "SyncWrites");
//   - the DCP consumer resumes each vbucket from its last (uuid, seqno, snapshot start/end): the
//     producer either continues after that seqno or tells it to roll back to a seqno it already
//     has (it discards what follows and resumes from there), and once caught up its view holds
//     every acknowledged durable write, with no seqno sent twice and no gap in the snapshots.
// At the end the consumer's view is compared with the server's data key by key.
//
// Durable writes: kDurableMode below picks how a write counts as acknowledged-durable. With
// kSyncWrite the SET carries a SyncWrite durability requirement (persistToMajority: on a single
// node the server answers only after the flusher persisted the write). With kObservePersisted
// (the fallback used while the server still answers DurabilityImpossible to SyncWrites) a plain
// SET is acknowledged only once OBSERVE_SEQNO reports the vbucket's persisted seqno at or past
// the mutation's seqno — the same promise, observed by the client.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "protocol/dcp_codec.h"
#include "protocol/frame_info.h"
#include "testing/dcp_wire_util.h"

namespace sluice::testing {
namespace {

using protocol::McbpStatus;

enum class DurableMode { kObservePersisted, kSyncWrite };
// The one line to change once the server implements SyncWrites (src/server/commands_kv.cc).
constexpr DurableMode kDurableMode = DurableMode::kSyncWrite;

constexpr int kCycles = 20;
constexpr int kHotKeys = 8;             // keys rewritten again and again
constexpr int kMaxAcksBeforeKill = 40;  // the kill comes after 0..this many acknowledged writes

// Every value a key was given, in order, and the last one acknowledged as durable.
struct KeyHistory {
  Vbid vbucket = 0;
  std::vector<std::string> attempts;
  int acked = -1;  // index into attempts; -1: none acknowledged
  uint64_t acked_seqno = 0;

  // The values the key may have now: an acknowledged write or anything attempted after it.
  bool Allows(const std::string& value) const {
    for (size_t i = acked < 0 ? 0 : static_cast<size_t>(acked); i < attempts.size(); ++i) {
      if (attempts[i] == value) return true;
    }
    return false;
  }
};

// What the writer did, read by the test thread only after the writer thread was joined.
struct WriteLog {
  std::map<std::string, KeyHistory> keys;
  std::map<Vbid, uint64_t> max_acked_seqno;
  std::vector<std::string> errors;  // protocol-level surprises (not transport failures)
};

enum class WriteOutcome { kAcked, kNotAcked, kConnectionLost };

// One durable SET as kDurableMode says; on kAcked `*token` is the mutation's.
WriteOutcome DurableSet(client::Connection& conn, const std::string& key, const std::string& value,
                        protocol::MutationToken* token, std::string* error) {
  client::MutationOptions options;
  if (kDurableMode == DurableMode::kSyncWrite) {
    options.durability =
        protocol::DurabilityRequirement{protocol::DurabilityLevel::kPersistToMajority, {}};
  }
  auto set = conn.Set(key, value, options);
  if (!set.ok()) return WriteOutcome::kConnectionLost;
  if (set->status != McbpStatus::kSuccess || !set->token) {
    *error = "SET " + key + " answered " + std::to_string(static_cast<int>(set->status));
    return WriteOutcome::kNotAcked;
  }
  *token = *set->token;
  token->vbucket = set->vbucket;
  if (kDurableMode == DurableMode::kSyncWrite) return WriteOutcome::kAcked;
  while (true) {
    auto observed = conn.ObserveSeqno(set->vbucket, token->vbucket_uuid);
    if (!observed.ok()) return WriteOutcome::kConnectionLost;
    if (observed->failover) {
      *error = "OBSERVE_SEQNO reports a failover within one server life";
      return WriteOutcome::kNotAcked;
    }
    if (observed->last_persisted_seqno >= token->seqno) return WriteOutcome::kAcked;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // polling a remote server
  }
}

// Where a DCP consumer stands on one vbucket: what it presents when it resumes.
struct ResumePoint {
  uint64_t uuid = 0;
  uint64_t seqno = 0;
  uint64_t snap_start = 0;
  uint64_t snap_end = 0;
};

class CrashRecoveryTest : public DcpTest {
 protected:
  // fsync on every flush: the flusher lags behind what the live consumer reads from memory, so
  // kills often leave the consumer past the persisted seqno (the rollback path).
  ServerOptions Options() const override {
    ServerOptions o = DcpTest::Options();
    o.extra_args.insert(o.extra_args.end(), {"--set", "flusher_sync=true"});
    return o;
  }

  // Plain (not durable) SETs of larger values as fast as the server takes them, until the
  // connection breaks or `stop`: unacknowledged-durable traffic that keeps the flusher busy.
  // Such writes may be lost in a crash, but must never come back with a wrong value.
  static void BulkLoop(client::Connection& conn, int cycle, const std::atomic<bool>& stop,
                       std::map<std::string, KeyHistory>* keys) {
    for (int i = 0; !stop.load(); ++i) {
      const std::string key = "bulk" + std::to_string(cycle) + "-" + std::to_string(i % 64);
      const std::string value = key + "#" + std::to_string(i) + std::string(2048, 'b');
      (*keys)[key].attempts.push_back(value);
      if (!conn.Set(key, value).ok()) return;
    }
  }
  void SetUp() override {
    DcpTest::SetUp();
    if (HasFatalFailure()) return;
    const char* env = std::getenv("SLUICE_CRASH_SEED");
    seed_ = env != nullptr ? std::strtoull(env, nullptr, 10) : std::random_device{}();
    std::cout << "crash test seed: " << seed_ << " (rerun with SLUICE_CRASH_SEED=" << seed_ << ")"
              << std::endl;
    RecordProperty("seed", std::to_string(seed_));
    rng_.seed(seed_);
    for (Vbid vb = 0; vb < vbuckets(); ++vb) resume_[vb] = ResumePoint{};
  }

  // Writes until the connection breaks (the kill) or `stop`; counts acknowledged writes.
  void WriterLoop(client::Connection& conn, int cycle, uint64_t seed,
                  const std::atomic<bool>& stop) {
    std::mt19937_64 rng(seed);
    for (int i = 0; !stop.load(); ++i) {
      const bool hot = rng() % 4 == 0;
      const std::string key = hot ? "hot" + std::to_string(rng() % kHotKeys)
                                  : "c" + std::to_string(cycle) + "-" + std::to_string(i);
      const std::string value = key + "@" + std::to_string(cycle) + "." + std::to_string(i) +
                                std::string(rng() % 200, '.');
      KeyHistory& history = log_.keys[key];
      history.attempts.push_back(value);
      protocol::MutationToken token;
      std::string error;
      const WriteOutcome outcome = DurableSet(conn, key, value, &token, &error);
      if (outcome == WriteOutcome::kConnectionLost) return;
      if (outcome == WriteOutcome::kNotAcked) {
        log_.errors.push_back(error);
        continue;
      }
      history.vbucket = token.vbucket;
      history.acked = static_cast<int>(history.attempts.size()) - 1;
      history.acked_seqno = token.seqno;
      uint64_t& max = log_.max_acked_seqno[token.vbucket];
      if (token.seqno <= max) {
        log_.errors.push_back("vb:" + std::to_string(token.vbucket) + " acknowledged seqno " +
                              std::to_string(token.seqno) + " after " + std::to_string(max));
      }
      max = std::max(max, token.seqno);
      acked_.fetch_add(1);
    }
  }

  // Resumes every vbucket of `consumer` from resume_, rolling back where the producer says so.
  void ResumeAll(DcpConsumer& consumer) {
    for (Vbid vb = 0; vb < vbuckets(); ++vb) {
      ResumePoint& at = resume_[vb];
      protocol::DcpStreamReqRequest request = StreamRequest(at.seqno, ~uint64_t{0}, 0, at.uuid);
      request.vbucket = vb;
      request.snap_start_seqno = at.snap_start;
      request.snap_end_seqno = at.snap_end;
      auto r = consumer.Stream(request);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      journal_[vb] += fmt::format(" | resume uuid {:x} seqno {} snap [{},{}] -> {}", at.uuid,
                                  at.seqno, at.snap_start, at.snap_end,
                                  r->status == McbpStatus::kRollback
                                      ? fmt::format("rollback to {}", r->rollback_seqno)
                                      : std::string("ok"));
      if (r->status == McbpStatus::kRollback) {
        ++rollbacks_;
        ASSERT_LE(r->rollback_seqno, at.seqno)
            << "vb:" << vb << " told to roll back to a seqno the consumer never had";
        // Roll back to the last point at or below the server's answer where the consumer's
        // state was consistent: the end of a snapshot it received whole. (In a snapshot read
        // from memory a key appears once, at its newest seqno: a point inside one can miss the
        // version the server persisted there. kv_engine's replicas likewise roll back to a
        // persisted snapshot boundary at or below the rollback seqno.)
        std::set<uint64_t>& points = consistent_[vb];
        points.insert(0);
        const uint64_t to = *std::prev(points.upper_bound(r->rollback_seqno));
        points.erase(points.upper_bound(to), points.end());
        auto& events = history_[vb];
        events.erase(events.upper_bound(to), events.end());
        journal_[vb] += fmt::format(" (to the snapshot end {})", to);
        at.seqno = to;
        at.snap_start = at.snap_end = at.seqno;
        request.start_seqno = request.snap_start_seqno = request.snap_end_seqno = at.seqno;
        r = consumer.Stream(request);
        ASSERT_TRUE(r.ok()) << r.status().ToString();
      }
      ASSERT_EQ(r->status, McbpStatus::kSuccess) << "vb:" << vb << " " << r->value;
      ASSERT_FALSE(r->failover_log.empty());
      at.uuid = r->failover_log.front().vbucket_uuid;
      resumed_from_[vb] = at.seqno;
    }
  }

  // Takes what `consumer` received into history_ and moves the resume points.
  void Absorb(const DcpConsumer& consumer) {
    for (const auto& [vb, log] : consumer.streams()) {
      std::string& j = journal_[vb];
      j += fmt::format(" | got {} items", log.items.size());
      if (!log.items.empty()) {
        j += fmt::format(" {}..{}", log.items.front().seqno, log.items.back().seqno);
      }
      for (const auto& m : log.markers) {
        j += fmt::format(" [{},{} {:#x}]", m.start_seqno, m.end_seqno, m.flags);
      }
      if (log.items.empty()) continue;
      if (log.items.front().seqno <= resumed_from_[vb]) {
        ADD_FAILURE() << "vb:" << vb << " resumed after " << resumed_from_[vb]
                      << " but received seqno " << log.items.front().seqno;
      }
      auto& events = history_[vb];
      for (const DcpEvent& e : log.items) events[e.seqno] = e;
      const uint64_t last = log.items.back().seqno;
      for (const auto& m : log.markers) {
        if (m.end_seqno <= last) consistent_[vb].insert(m.end_seqno);
      }
      ResumePoint& at = resume_[vb];
      at.seqno = last;
      at.snap_start = at.snap_end = last;
      for (auto m = log.markers.rbegin(); m != log.markers.rend(); ++m) {
        if (m->start_seqno <= last && last <= m->end_seqno) {
          if (last != m->end_seqno) {
            at.snap_start = m->start_seqno;
            at.snap_end = m->end_seqno;
          }
          break;
        }
      }
    }
  }

  // The consumer's view: the latest event per key over history_.
  std::map<std::string, DcpEvent> View() const {
    std::map<std::string, DcpEvent> view;
    for (const auto& [vb, events] : history_) {
      for (const auto& [seqno, e] : events) view[e.key] = e;
    }
    return view;
  }

  // Every acknowledged write is in `actual` (key -> value) with an allowed value, and every value
  // there was written by someone. `what` names the source in messages.
  void CheckAgainstWrites(const std::map<std::string, std::string>& actual, const char* what,
                          int cycle) {
    int reported = 0;
    for (const auto& [key, history] : log_.keys) {
      auto it = actual.find(key);
      if (history.acked >= 0 && it == actual.end()) {
        ADD_FAILURE() << what << " after crash " << cycle << ": acknowledged durable write of "
                      << key << " (seqno " << history.acked_seqno << ") is missing";
      } else if (it != actual.end() && !history.Allows(it->second)) {
        ADD_FAILURE() << what << " after crash " << cycle << ": " << key << " = " << it->second
                      << " is neither its acknowledged value nor a later one";
      } else {
        continue;
      }
      if (++reported >= 10) return;
    }
    for (const auto& [key, value] : actual) {
      if (log_.keys.count(key) == 0) ADD_FAILURE() << what << ": unknown key " << key;
    }
  }

  // GET of every key ever attempted (absent keys are left out).
  std::map<std::string, std::string> ServerData(client::Connection& conn) {
    std::map<std::string, std::string> data;
    for (const auto& [key, history] : log_.keys) {
      auto r = Must(conn.Get(key));
      if (r.status == McbpStatus::kSuccess) {
        data[key] = r.value;
      } else if (r.status != McbpStatus::kKeyEnoent) {
        ADD_FAILURE() << "GET " << key << " answered " << static_cast<int>(r.status);
      }
    }
    return data;
  }

  uint64_t seed_ = 0;
  std::mt19937_64 rng_;
  WriteLog log_;
  std::atomic<uint64_t> acked_{0};
  std::map<Vbid, ResumePoint> resume_;
  std::map<Vbid, uint64_t> resumed_from_;
  std::map<Vbid, std::map<uint64_t, DcpEvent>> history_;  // per vbucket, by seqno
  // Per vbucket: every resume and what each consumer received, printed when the final check fails.
  std::map<Vbid, std::string> journal_;
  // Per vbucket: the seqnos at which the consumer's state was consistent (ends of snapshots it
  // received whole; 0): where a rollback may take it.
  std::map<Vbid, std::set<uint64_t>> consistent_;
  int rollbacks_ = 0;
};

TEST_F(CrashRecoveryTest, DurableWritesAndDcpResumeSurviveRepeatedKills) {
  std::map<Vbid, uint64_t> high_after_restart;
  std::map<Vbid, std::vector<protocol::FailoverEntry>> failover_before;
  {
    auto conn = Connect();
    ASSERT_TRUE(conn);
    for (Vbid vb = 0; vb < vbuckets(); ++vb) {
      auto log = conn->GetFailoverLog(vb);
      ASSERT_TRUE(log.ok());
      failover_before[vb] = *log;
    }
  }
  if (kDurableMode == DurableMode::kObservePersisted) {
    // Tell whoever reads the log which promise was tested.
    auto conn = Connect();
    ASSERT_TRUE(conn);
    client::MutationOptions durable;
    durable.durability =
        protocol::DurabilityRequirement{protocol::DurabilityLevel::kPersistToMajority, {}};
    auto probe = conn->Set("durability-probe", "x", durable);
    ASSERT_TRUE(probe.ok());
    std::cout << "durable writes: SET + OBSERVE_SEQNO until persisted (server answers SyncWrite "
              << "with status 0x" << std::hex << static_cast<int>(probe->status) << std::dec << ")"
              << std::endl;
    log_.keys["durability-probe"].attempts.push_back("x");
  }

  for (int cycle = 0; cycle < kCycles; ++cycle) {
    SCOPED_TRACE("crash " + std::to_string(cycle) + ", seed " + std::to_string(seed_));
    // The consumer resumes and catches up with what the server has.
    auto consumer = OpenConsumer({.name = "crash-consumer-" + std::to_string(cycle)});
    ASSERT_TRUE(consumer);
    ResumeAll(*consumer);
    if (HasFatalFailure()) return;
    {
      auto conn = Connect();
      ASSERT_TRUE(conn);
      auto seqnos = conn->GetAllVbSeqnos();
      ASSERT_TRUE(seqnos.ok());
      std::map<Vbid, uint64_t> targets;
      for (const auto& [vb, seqno] : *seqnos) {
        if (seqno > resume_[vb].seqno) targets[vb] = seqno;
      }
      ASSERT_TRUE(consumer->ReadUntilSeqnos(targets).ok());
    }
    Absorb(*consumer);
    EXPECT_THAT(consumer->violations(), ::testing::IsEmpty());
    {
      std::map<std::string, std::string> view;
      for (const auto& [key, e] : View()) view[key] = e.value;
      CheckAgainstWrites(view, "DCP view", cycle);
    }

    // Load: a durable writer and the live consumer, until the kill.
    auto writer_conn = Connect();
    ASSERT_TRUE(writer_conn);
    const uint64_t acks_before_kill = rng_() % (kMaxAcksBeforeKill + 1);
    const uint64_t writer_seed = rng_();
    acked_.store(0);
    std::atomic<bool> stop{false};
    auto bulk_conn = Connect();
    ASSERT_TRUE(bulk_conn);
    std::map<std::string, KeyHistory> bulk_keys;
    std::thread writer([&] { WriterLoop(*writer_conn, cycle, writer_seed, stop); });
    std::thread bulk([&] { BulkLoop(*bulk_conn, cycle, stop, &bulk_keys); });
    std::thread reader([&] {
      while (consumer->Next().ok()) {
      }
    });
    const bool reached = PollUntil([&] { return acked_.load() >= acks_before_kill; }, kWaitTimeout,
                                   std::chrono::milliseconds(1));
    server().Kill();
    stop.store(true);
    writer.join();
    bulk.join();
    reader.join();
    for (auto& [key, history] : bulk_keys) log_.keys[key] = std::move(history);
    bulk_conn.reset();
    ASSERT_TRUE(reached) << "the writer did not get " << acks_before_kill << " acknowledgements";
    EXPECT_THAT(log_.errors, ::testing::IsEmpty());
    Absorb(*consumer);
    EXPECT_THAT(consumer->violations(), ::testing::IsEmpty());
    consumer.reset();
    writer_conn.reset();

    ASSERT_TRUE(server().Start()) << server().error();
    auto conn = Connect();
    ASSERT_TRUE(conn);

    // Every acknowledged durable write is back, with its value.
    CheckAgainstWrites(ServerData(*conn), "server", cycle);

    // Seqnos never go backwards; one new failover entry per vbucket, at its persisted high seqno
    // (warmup may have committed prepares in flight above it).
    auto seqnos = conn->GetAllVbSeqnos();
    ASSERT_TRUE(seqnos.ok());
    for (const auto& [vb, high] : *seqnos) {
      EXPECT_GE(high, high_after_restart[vb]) << "vb:" << vb << " high seqno went backwards";
      EXPECT_GE(high, log_.max_acked_seqno[vb]) << "vb:" << vb << " lost an acknowledged seqno";
      high_after_restart[vb] = high;
      auto log = conn->GetFailoverLog(vb);
      ASSERT_TRUE(log.ok());
      const auto& before = failover_before[vb];
      ASSERT_FALSE(log->empty());
      journal_[vb] += fmt::format(" | restart {}: high {}, failover {:x}@{}", cycle, high,
                                  log->front().vbucket_uuid, log->front().seqno);
      EXPECT_LE(log->front().seqno, high) << "vb:" << vb;
      EXPECT_GE(log->front().seqno, log_.max_acked_seqno[vb]) << "vb:" << vb;
      EXPECT_EQ(log->size(), std::min<size_t>(before.size() + 1, 25)) << "vb:" << vb;
      for (size_t i = 1; i < log->size() && i - 1 < before.size(); ++i) {
        EXPECT_EQ((*log)[i].vbucket_uuid, before[i - 1].vbucket_uuid)
            << "vb:" << vb << " entry " << i;
      }
      for (const auto& old : before) {
        EXPECT_NE(log->front().vbucket_uuid, old.vbucket_uuid) << "vb:" << vb << " reused a uuid";
      }
      failover_before[vb] = *log;
    }
    if (HasFailure()) return;
  }

  // The last restart: the consumer catches up once more and its view is the server's data.
  auto consumer = OpenConsumer({.name = "crash-consumer-final"});
  ASSERT_TRUE(consumer);
  ResumeAll(*consumer);
  if (HasFatalFailure()) return;
  auto conn = Connect();
  ASSERT_TRUE(conn);
  auto seqnos = conn->GetAllVbSeqnos();
  ASSERT_TRUE(seqnos.ok());
  std::map<Vbid, uint64_t> targets;
  for (const auto& [vb, seqno] : *seqnos) {
    if (seqno > resume_[vb].seqno) targets[vb] = seqno;
  }
  ASSERT_TRUE(consumer->ReadUntilSeqnos(targets).ok());
  Absorb(*consumer);
  EXPECT_THAT(consumer->violations(), ::testing::IsEmpty());
  const std::map<std::string, DcpEvent> events = View();
  std::map<std::string, std::string> view_values;
  for (const auto& [key, e] : events) view_values[key] = e.value;
  const std::map<std::string, std::string> data = ServerData(*conn);
  CheckAgainstWrites(view_values, "final DCP view", kCycles);
  const auto& view = events;
  // Only the differences: the maps hold thousands of ~1 KiB values.
  size_t differences = 0;
  for (const auto& [key, value] : data) {
    auto it = view.find(key);
    if (it == view.end() || it->second.value != value) {
      if (++differences <= 10) {
        std::string where;
        if (it != view.end()) {
          const Vbid vb = it->second.vbucket;
          where = fmt::format(" (vb:{} event seqno {}, resumed from {}, last received {};", vb,
                              it->second.seqno, resumed_from_[vb], resume_[vb].seqno);
          for (const auto& [seqno, e] : history_[vb]) {
            if (e.key == key) where += fmt::format(" {}", seqno);
          }
          auto log = consumer->streams().find(vb);
          if (log != consumer->streams().end()) {
            for (const auto& m : log->second.markers) {
              where += fmt::format(" [{},{} f{:#x}]", m.start_seqno, m.end_seqno, m.flags);
            }
            where += fmt::format(" items {}", log->second.items.size());
          }
          where += ")\n  journal:" + journal_[vb];
        }
        ADD_FAILURE() << "final DCP view of " << key << ": "
                      << (it == view.end() ? std::string("absent") : it->second.value.substr(0, 24))
                      << ", server: " << value.substr(0, 24) << where;
      }
    }
  }
  for (const auto& [key, value] : view) {
    if (data.count(key) == 0 && ++differences <= 10) {
      ADD_FAILURE() << "final DCP view has " << key << " (" << value.value.substr(0, 24)
                    << "), the server does not";
    }
  }
  EXPECT_EQ(differences, 0u) << "the consumer's view differs from the server's data";

  uint64_t acked_keys = 0;
  for (const auto& [key, history] : log_.keys) acked_keys += history.acked >= 0 ? 1 : 0;
  std::cout << kCycles << " kills: " << log_.keys.size() << " keys written, " << acked_keys
            << " with an acknowledged durable write, " << rollbacks_ << " DCP rollbacks"
            << std::endl;
  RecordProperty("rollbacks", std::to_string(rollbacks_));
}

}  // namespace
}  // namespace sluice::testing
