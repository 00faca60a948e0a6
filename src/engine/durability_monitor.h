// File: engine/durability_monitor.h
//
// ActiveDurabilityMonitor: an active vbucket's bookkeeping of its in-flight SyncWrites (prepares),
// after kv_engine's ActiveDurabilityMonitor. It tracks each prepare (seqno, key, level, deadline,
// the waiting client) in seqno order, learns how far each node of the replication topology has
// acknowledged (SeqnoAck: a replica's high prepared seqno; NotifyLocalPersisted: the active's
// own persistence) and says which prepares are now committed or timed out. The vbucket then
// queues the COMMIT or ABORT and tells the waiter; the monitor itself touches no data.
//
// Rules (kv_engine's):
//   - A chain is the topology's list of nodes, active first; without a topology the chain is the
//     active alone. A prepare needs a majority (chain size / 2 + 1, null slots counted in the
//     size) of *every* chain to have acknowledged it. A null slot never acknowledges.
//   - The active acknowledges every prepare in memory at once (it queued it), except under
//     persistToMajority, where it counts only once the prepare is persisted locally.
//   - majorityAndPersistActive and persistToMajority also need the active's own persistence.
//   - A replica's ack of seqno S acknowledges every prepare at or below S (it sends its high
//     prepared seqno, which it moves past a persistToMajority prepare only once persisted).
//   - A topology where some chain has fewer non-null nodes than its majority can never commit:
//     new SyncWrites are refused (DurabilityPossible() false -> DURABILITY_IMPOSSIBLE).
//
// Tracked write lifecycle (one transition check: Resolve(), which only leaves kPending):
//
//   kPending --majority of every chain acked (+ local persistence)--> kCommitted
//       '------ deadline passed (ProcessTimeouts) -----------------> kTimedOut (aborted)
//
// Prepares tracked without a deadline (warmed up, or inherited by a promotion) never time out.
//
// Ownership: owned by its VBucket (a member). Thread safety: thread-safe (mu_); it never calls
// out while holding mu_ (resolutions are returned to the caller, who acts on them unlocked).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/vbucket_topology.h"
#include "engine/engine_types.h"

namespace sluice::engine {

// A prepare the monitor resolved: commit it, or (timeout) abort it and answer its waiter
// SYNC_WRITE_AMBIGUOUS.
struct SyncWriteResolution {
  enum class Kind : uint8_t { kCommit, kAbort };
  Kind kind = Kind::kCommit;
  uint64_t seqno = 0;  // the prepare's
  std::string key;
  Waiter waiter;  // may be empty (warmed-up prepares, or the client went away)
};

class ActiveDurabilityMonitor {
 public:
  enum class WriteState : uint8_t { kPending, kCommitted, kTimedOut };

  ActiveDurabilityMonitor() = default;
  ActiveDurabilityMonitor(const ActiveDurabilityMonitor&) = delete;
  ActiveDurabilityMonitor& operator=(const ActiveDurabilityMonitor&) = delete;

  // The vbucket's topology (empty: the active alone). Acks of nodes no longer named are kept
  // (a node may return in the next topology) but only named nodes count.
  void SetTopology(const VBucketTopology& topology);
  // Whether a new SyncWrite can ever reach a majority of every chain.
  bool DurabilityPossible() const;

  // Tracks prepare `seqno` of `key`. REQUIRES: seqno not tracked already. `deadline` nullopt:
  // never times out.
  void Add(uint64_t seqno, std::string key, SyncWriteLevel level,
           std::optional<SteadyTime> deadline, Waiter waiter);

  // Node `node` holds every prepare up to `seqno` (monotonic: a lower ack changes nothing).
  void SeqnoAck(const std::string& node, uint64_t seqno);
  // The active persisted (and synced) everything up to `seqno`.
  void NotifyLocalPersisted(uint64_t seqno);

  // The prepares now satisfied, in seqno order, removed from tracking.
  std::vector<SyncWriteResolution> TakeCommittable();
  // The prepares whose deadline is at or before `now`, removed from tracking.
  std::vector<SyncWriteResolution> TakeTimedOut(SteadyTime now);
  // Everything tracked, removed (the vbucket stopped being active): their waiters are to be
  // answered SYNC_WRITE_AMBIGUOUS; the prepares themselves stay in the vbucket.
  std::vector<SyncWriteResolution> TakeAll();

  // Whether some tracked prepare waits for the active's persistence (the flusher then syncs).
  bool WaitsForLocalPersistence() const;
  size_t NumTracked() const;
  // The highest prepare seqno ever tracked, and the highest one committed or aborted.
  uint64_t high_prepared_seqno() const;
  uint64_t high_completed_seqno() const;

 private:
  struct Tracked {
    std::string key;
    SyncWriteLevel level = SyncWriteLevel::kMajority;
    std::optional<SteadyTime> deadline;
    Waiter waiter;
    WriteState state = WriteState::kPending;
  };

  bool SatisfiedLocked(uint64_t seqno, const Tracked& w) const REQUIRES(mu_);
  size_t AcksInChainLocked(const TopologyChain& chain, uint64_t seqno, bool active_acked) const
      REQUIRES(mu_);
  // The single transition check of the diagram above.
  static void Resolve(Tracked& w, WriteState to);
  static SyncWriteResolution Resolution(SyncWriteResolution::Kind kind, uint64_t seqno, Tracked& w);

  mutable Mutex mu_;
  std::vector<TopologyChain> chains_ GUARDED_BY(mu_);  // empty: the active alone
  std::map<uint64_t, Tracked> tracked_ GUARDED_BY(mu_);
  std::map<std::string, uint64_t> acks_ GUARDED_BY(mu_);  // replica node -> acked seqno
  uint64_t local_persisted_ GUARDED_BY(mu_) = 0;
  uint64_t high_prepared_ GUARDED_BY(mu_) = 0;
  uint64_t high_completed_ GUARDED_BY(mu_) = 0;
};

}  // namespace sluice::engine
