#include "engine/durability_monitor.h"

#include <algorithm>
#include <cassert>

namespace sluice::engine {
namespace {

size_t MajorityOf(const TopologyChain& chain) { return chain.size() / 2 + 1; }

bool NeedsLocalPersistence(SyncWriteLevel level) {
  return level == SyncWriteLevel::kMajorityAndPersistOnMaster ||
         level == SyncWriteLevel::kPersistToMajority;
}

}  // namespace

void ActiveDurabilityMonitor::SetTopology(const VBucketTopology& topology) {
  MutexLock lock(&mu_);
  chains_ = topology.chains;
}

bool ActiveDurabilityMonitor::DurabilityPossible() const {
  MutexLock lock(&mu_);
  for (const TopologyChain& chain : chains_) {
    const auto nodes = static_cast<size_t>(
        std::count_if(chain.begin(), chain.end(), [](const TopologyNode& n) { return n; }));
    if (nodes < MajorityOf(chain)) return false;
  }
  return true;
}

void ActiveDurabilityMonitor::Add(uint64_t seqno, std::string key, SyncWriteLevel level,
                                  std::optional<SteadyTime> deadline, Waiter waiter) {
  MutexLock lock(&mu_);
  high_prepared_ = std::max(high_prepared_, seqno);
  Tracked& w = tracked_[seqno];
  w.key = std::move(key);
  w.level = level;
  w.deadline = deadline;
  w.waiter = std::move(waiter);
}

void ActiveDurabilityMonitor::SeqnoAck(const std::string& node, uint64_t seqno) {
  MutexLock lock(&mu_);
  uint64_t& acked = acks_[node];
  acked = std::max(acked, seqno);
}

void ActiveDurabilityMonitor::NotifyLocalPersisted(uint64_t seqno) {
  MutexLock lock(&mu_);
  local_persisted_ = std::max(local_persisted_, seqno);
}

size_t ActiveDurabilityMonitor::AcksInChainLocked(const TopologyChain& chain, uint64_t seqno,
                                                  bool active_acked) const {
  size_t acks = active_acked ? 1 : 0;  // the chain's first node is the active
  for (size_t i = 1; i < chain.size(); ++i) {
    if (!chain[i]) continue;  // a null slot cannot ack
    auto it = acks_.find(*chain[i]);
    if (it != acks_.end() && it->second >= seqno) ++acks;
  }
  return acks;
}

bool ActiveDurabilityMonitor::SatisfiedLocked(uint64_t seqno, const Tracked& w) const {
  const bool persisted = local_persisted_ >= seqno;
  if (NeedsLocalPersistence(w.level) && !persisted) return false;
  // persistToMajority: the active's vote is its persistence; else it voted when it queued.
  const bool active_acked = w.level != SyncWriteLevel::kPersistToMajority || persisted;
  if (chains_.empty()) return active_acked;
  for (const TopologyChain& chain : chains_) {
    if (AcksInChainLocked(chain, seqno, active_acked) < MajorityOf(chain)) return false;
  }
  return true;
}

void ActiveDurabilityMonitor::Resolve(Tracked& w, WriteState to) {
  assert(w.state == WriteState::kPending && to != WriteState::kPending);
  w.state = to;
}

SyncWriteResolution ActiveDurabilityMonitor::Resolution(SyncWriteResolution::Kind kind,
                                                        uint64_t seqno, Tracked& w) {
  return SyncWriteResolution{kind, seqno, std::move(w.key), std::move(w.waiter)};
}

std::vector<SyncWriteResolution> ActiveDurabilityMonitor::TakeCommittable() {
  std::vector<SyncWriteResolution> out;
  MutexLock lock(&mu_);
  for (auto it = tracked_.begin(); it != tracked_.end();) {
    if (!SatisfiedLocked(it->first, it->second)) {
      ++it;
      continue;
    }
    Resolve(it->second, WriteState::kCommitted);
    high_completed_ = std::max(high_completed_, it->first);
    out.push_back(Resolution(SyncWriteResolution::Kind::kCommit, it->first, it->second));
    it = tracked_.erase(it);
  }
  return out;
}

std::vector<SyncWriteResolution> ActiveDurabilityMonitor::TakeTimedOut(SteadyTime now) {
  std::vector<SyncWriteResolution> out;
  MutexLock lock(&mu_);
  for (auto it = tracked_.begin(); it != tracked_.end();) {
    if (!it->second.deadline || *it->second.deadline > now) {
      ++it;
      continue;
    }
    Resolve(it->second, WriteState::kTimedOut);
    high_completed_ = std::max(high_completed_, it->first);
    out.push_back(Resolution(SyncWriteResolution::Kind::kAbort, it->first, it->second));
    it = tracked_.erase(it);
  }
  return out;
}

std::vector<SyncWriteResolution> ActiveDurabilityMonitor::TakeAll() {
  std::vector<SyncWriteResolution> out;
  MutexLock lock(&mu_);
  for (auto& [seqno, w] : tracked_) {
    out.push_back(Resolution(SyncWriteResolution::Kind::kAbort, seqno, w));
  }
  tracked_.clear();
  return out;
}

bool ActiveDurabilityMonitor::WaitsForLocalPersistence() const {
  MutexLock lock(&mu_);
  for (const auto& [seqno, w] : tracked_) {
    if (NeedsLocalPersistence(w.level) && local_persisted_ < seqno) return true;
  }
  return false;
}

size_t ActiveDurabilityMonitor::NumTracked() const {
  MutexLock lock(&mu_);
  return tracked_.size();
}

uint64_t ActiveDurabilityMonitor::high_prepared_seqno() const {
  MutexLock lock(&mu_);
  return high_prepared_;
}

uint64_t ActiveDurabilityMonitor::high_completed_seqno() const {
  MutexLock lock(&mu_);
  return high_completed_;
}

}  // namespace sluice::engine
