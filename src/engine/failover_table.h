// File: engine/failover_table.h
//
// FailoverTable: a vbucket's history of (uuid, seqno) branch points, newest first. A new entry is
// created when a vbucket first becomes active, when it is promoted, and when warmup follows an
// unclean shutdown (at the last persisted seqno: anything a client saw after it may be lost).
// DCP clients present the (uuid, seqno, snapshot) they last saw; the table decides whether they
// can resume or must roll back (kv_engine's rules, written out in docs/dcp.md, "Rollback").
//
// Ownership: one per VBucket, owned by it. Thread safety: thread-safe (internal lock).
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <vector>

#include "common/mutex.h"
#include "storage/kvstore.h"

namespace sluice::engine {

using storage::FailoverEntry;

struct RollbackDecision {
  bool rollback = false;
  uint64_t rollback_seqno = 0;
};

class FailoverTable {
 public:
  static constexpr size_t kMaxEntries = 25;

  // A table with the given entries (newest first); an empty list gets one entry (new uuid, 0).
  explicit FailoverTable(std::vector<FailoverEntry> entries);

  // Adds a branch at `high_seqno` with a fresh random non-zero uuid. Entries with a seqno above
  // `high_seqno` are removed first (they describe history that no longer exists).
  FailoverEntry CreateEntry(uint64_t high_seqno);

  // A replica adopts its producer's log (newest first; an empty list keeps the current one,
  // longer lists are cut to kMaxEntries).
  void Replace(std::vector<FailoverEntry> entries);

  FailoverEntry Latest() const;
  std::vector<FailoverEntry> Entries() const;  // newest first
  size_t size() const;

  // kv_engine's rollback decision for a stream request. `start` is the consumer's last seqno,
  // `high_seqno` and `purge_seqno` are the vbucket's (pass purge 0 for IgnorePurgedTombstones),
  // `remote_purge_seqno` the purge seqno the consumer last saw (0 if unknown), `strict_uuid`
  // the StrictVbUuid flag. The rules, applied in order, are docs/dcp.md's "Rollback".
  RollbackDecision NeedsRollback(uint64_t start, uint64_t high_seqno, uint64_t vb_uuid,
                                 uint64_t snap_start, uint64_t snap_end, uint64_t purge_seqno,
                                 uint64_t remote_purge_seqno, bool strict_uuid) const;

  // For OBSERVE_SEQNO with a stale uuid: the seqno at which `uuid`'s branch ended (the seqno of
  // the next newer entry), if the uuid is in the table and not the latest.
  std::optional<uint64_t> LastSeqnoForUuid(uint64_t uuid) const;

 private:
  mutable Mutex mu_;
  std::vector<FailoverEntry> entries_ GUARDED_BY(mu_);  // newest first
  std::mt19937_64 rng_ GUARDED_BY(mu_);
};

}  // namespace sluice::engine
