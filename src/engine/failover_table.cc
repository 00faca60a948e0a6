#include "engine/failover_table.h"

namespace sluice::engine {

FailoverTable::FailoverTable(std::vector<FailoverEntry> entries)
    : entries_(std::move(entries)), rng_(std::random_device{}()) {
  MutexLock lock(&mu_);
  if (entries_.empty()) {
    uint64_t uuid = 0;
    while (uuid == 0) uuid = rng_();
    entries_.push_back({uuid, 0});
  }
  if (entries_.size() > kMaxEntries) entries_.resize(kMaxEntries);
}

FailoverEntry FailoverTable::CreateEntry(uint64_t high_seqno) {
  MutexLock lock(&mu_);
  std::erase_if(entries_, [high_seqno](const FailoverEntry& e) { return e.seqno > high_seqno; });
  uint64_t uuid = 0;
  while (uuid == 0) uuid = rng_();
  entries_.insert(entries_.begin(), FailoverEntry{uuid, high_seqno});
  if (entries_.size() > kMaxEntries) entries_.resize(kMaxEntries);
  return entries_.front();
}

void FailoverTable::Replace(std::vector<FailoverEntry> entries) {
  if (entries.empty()) return;
  if (entries.size() > kMaxEntries) entries.resize(kMaxEntries);
  MutexLock lock(&mu_);
  entries_ = std::move(entries);
}

FailoverEntry FailoverTable::Latest() const {
  MutexLock lock(&mu_);
  return entries_.front();
}

std::vector<FailoverEntry> FailoverTable::Entries() const {
  MutexLock lock(&mu_);
  return entries_;
}

size_t FailoverTable::size() const {
  MutexLock lock(&mu_);
  return entries_.size();
}

RollbackDecision FailoverTable::NeedsRollback(uint64_t start, uint64_t high_seqno, uint64_t vb_uuid,
                                              uint64_t snap_start, uint64_t snap_end,
                                              uint64_t purge_seqno, uint64_t remote_purge_seqno,
                                              bool strict_uuid) const {
  // Rule order as kv_engine's FailoverTable::needsRollback.
  if (start == 0 && (!strict_uuid || vb_uuid == 0)) return {};
  // Tombstones the consumer never saw may have been purged since it last connected.
  if (start < purge_seqno && start != 0 && remote_purge_seqno != purge_seqno) return {true, 0};

  MutexLock lock(&mu_);
  // Find the consumer's uuid; `upper` is where its branch ends: the next newer entry's seqno, or
  // our high seqno if it is the newest branch.
  std::optional<uint64_t> upper;
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].uuid == vb_uuid) {
      upper = i == 0 ? high_seqno : entries_[i - 1].seqno;
      break;
    }
  }
  if (!upper) return {true, 0};

  if (start == snap_start) snap_end = start;
  if (snap_end <= *upper) return {};
  if (start == snap_end) snap_start = start;
  if (*upper < snap_start) return {true, *upper};
  return {true, snap_start};
}

std::optional<uint64_t> FailoverTable::LastSeqnoForUuid(uint64_t uuid) const {
  MutexLock lock(&mu_);
  for (size_t i = 1; i < entries_.size(); ++i) {
    if (entries_[i].uuid == uuid) return entries_[i - 1].seqno;
  }
  return std::nullopt;
}

}  // namespace sluice::engine
