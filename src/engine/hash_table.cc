#include "engine/hash_table.h"

#include <absl/hash/hash.h>

#include <cassert>

namespace sluice::engine {

HashTable::KeyLock::KeyLock(HashTable& table, std::string_view key)
    : KeyLock(table, table.StripeOf(key)) {}

HashTable::KeyLock::KeyLock(HashTable& table, size_t stripe) : table_(table), stripe_(stripe) {
  table_.stripes_[stripe_].mu.Lock();
}

HashTable::KeyLock::~KeyLock() NO_THREAD_SAFETY_ANALYSIS { table_.stripes_[stripe_].mu.Unlock(); }

HashTable::HashTable(size_t num_stripes, std::atomic<int64_t>* bucket_memory)
    : num_stripes_(num_stripes == 0 ? 1 : num_stripes),
      bucket_memory_(bucket_memory),
      stripes_(new Stripe[num_stripes_]) {}

HashTable::~HashTable() {
  if (bucket_memory_ != nullptr) {
    bucket_memory_->fetch_sub(memory_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  }
}

size_t HashTable::StripeOf(std::string_view key) const {
  // A different hash than the maps' (which mix in a per-process seed), so the stripe choice and
  // the in-stripe bucket choice are independent.
  return std::hash<std::string_view>{}(key) % num_stripes_;
}

HashTable::Map& HashTable::LockedMap(const KeyLock& lock, std::string_view key) const {
  assert(&lock.table_ == this);
  assert(lock.stripe_ == StripeOf(key));
  (void)key;
  Stripe& s = stripes_[lock.stripe_];
  s.mu.AssertHeld();  // by `lock`, which the analysis cannot follow to this stripe
  return s.map;
}

size_t HashTable::Footprint(std::string_view key, const StoredValue& sv) {
  // Slot (key string object + value) plus a control byte, plus heap key bytes beyond SSO.
  size_t bytes = sizeof(std::string) + sizeof(StoredValue) + 1;
  if (key.size() > 15) bytes += key.size() + 1;
  if (sv.resident && sv.value) bytes += sv.value->AllocatedSize();
  return bytes;
}

void HashTable::Account(const StoredValue* before, std::string_view key, const StoredValue* after) {
  int64_t mem = 0, items = 0, deleted = 0, non_resident = 0;
  if (before != nullptr) {
    mem -= static_cast<int64_t>(Footprint(key, *before));
    (before->deleted ? deleted : items) -= 1;
    if (!before->deleted && !before->resident) non_resident -= 1;
  }
  if (after != nullptr) {
    mem += static_cast<int64_t>(Footprint(key, *after));
    (after->deleted ? deleted : items) += 1;
    if (!after->deleted && !after->resident) non_resident += 1;
  }
  if (mem != 0) {
    memory_.fetch_add(mem, std::memory_order_relaxed);
    if (bucket_memory_ != nullptr) bucket_memory_->fetch_add(mem, std::memory_order_relaxed);
  }
  if (items != 0) items_.fetch_add(items, std::memory_order_relaxed);
  if (deleted != 0) deleted_.fetch_add(deleted, std::memory_order_relaxed);
  if (non_resident != 0) non_resident_.fetch_add(non_resident, std::memory_order_relaxed);
}

const StoredValue* HashTable::Find(const KeyLock& lock, std::string_view key) const {
  const Map& map = LockedMap(lock, key);
  auto it = map.find(key);
  return it == map.end() ? nullptr : &it->second;
}

void HashTable::Upsert(const KeyLock& lock, std::string_view key, StoredValue sv) {
  Map& map = LockedMap(lock, key);
  auto it = map.find(key);
  if (it == map.end()) {
    Account(nullptr, key, &sv);
    map.emplace(std::string(key), std::move(sv));
  } else {
    sv.disk_seqno = it->second.disk_seqno;
    Account(&it->second, key, &sv);
    it->second = std::move(sv);
  }
}

void HashTable::Erase(const KeyLock& lock, std::string_view key) {
  Map& map = LockedMap(lock, key);
  auto it = map.find(key);
  if (it == map.end()) return;
  Account(&it->second, key, nullptr);
  map.erase(it);
}

bool HashTable::MarkPersisted(const KeyLock& lock, std::string_view key, uint64_t seqno) {
  Map& map = LockedMap(lock, key);
  auto it = map.find(key);
  if (it == map.end()) return false;
  it->second.disk_seqno = seqno;  // whatever version is in memory, this one is on disk now
  if (it->second.by_seqno != seqno) return false;
  if (it->second.deleted) {
    Account(&it->second, key, nullptr);
    map.erase(it);
  } else {
    it->second.dirty = false;  // no accounting change
  }
  return true;
}

size_t HashTable::EvictValue(const KeyLock& lock, std::string_view key) {
  Map& map = LockedMap(lock, key);
  auto it = map.find(key);
  if (it == map.end()) return 0;
  StoredValue& sv = it->second;
  if (sv.deleted || sv.dirty || !sv.resident || !sv.value) return 0;
  StoredValue after = sv;
  after.value = nullptr;
  after.resident = false;
  const size_t freed = Footprint(key, sv) - Footprint(key, after);
  Account(&sv, key, &after);
  sv = std::move(after);
  ejects_.fetch_add(1, std::memory_order_relaxed);
  return freed;
}

bool HashTable::RestoreValue(const KeyLock& lock, std::string_view key, uint64_t seqno,
                             BlobPtr value) {
  Map& map = LockedMap(lock, key);
  auto it = map.find(key);
  if (it == map.end()) return false;
  StoredValue& sv = it->second;
  if (sv.resident || sv.deleted || sv.by_seqno != seqno) return false;
  StoredValue after = sv;
  after.value = std::move(value);
  after.resident = true;
  after.fetched_unread = true;
  Account(&sv, key, &after);
  sv = std::move(after);
  return true;
}

void HashTable::MarkRead(const KeyLock& lock, std::string_view key) {
  Map& map = LockedMap(lock, key);
  auto it = map.find(key);
  if (it != map.end()) it->second.fetched_unread = false;
}

size_t HashTable::EvictFromStripe(size_t stripe, size_t max_bytes) {
  Stripe& s = stripes_[stripe];
  MutexLock lock(&s.mu);
  size_t freed = 0;
  for (auto it = s.map.begin(); it != s.map.end() && freed < max_bytes;) {
    const std::string& key = it->first;
    StoredValue& sv = it->second;
    if (sv.deleted && !sv.dirty) {
      // A tombstone loaded for an AccessDeleted read: memory only, the disk has it.
      freed += Footprint(key, sv);
      Account(&sv, key, nullptr);
      s.map.erase(it++);
      continue;
    }
    if (sv.deleted || sv.dirty || !sv.resident || !sv.value || sv.fetched_unread) {
      ++it;
      continue;
    }
    StoredValue after = sv;
    after.value = nullptr;
    after.resident = false;
    freed += Footprint(key, sv) - Footprint(key, after);
    Account(&sv, key, &after);
    sv = std::move(after);
    ejects_.fetch_add(1, std::memory_order_relaxed);
    ++it;
  }
  return freed;
}

void HashTable::ForEachInStripe(
    size_t stripe, const std::function<void(std::string_view, const StoredValue&)>& fn) const {
  const Stripe& s = stripes_[stripe];
  MutexLock lock(&s.mu);
  for (const auto& [key, sv] : s.map) fn(key, sv);
}

void HashTable::ForEach(
    const std::function<void(std::string_view key, const StoredValue&)>& fn) const {
  for (size_t i = 0; i < num_stripes_; ++i) ForEachInStripe(i, fn);
}

HashTable::Counters HashTable::GetCounters() const {
  return Counters{items_.load(std::memory_order_relaxed), deleted_.load(std::memory_order_relaxed),
                  non_resident_.load(std::memory_order_relaxed),
                  memory_.load(std::memory_order_relaxed), ejects_.load(std::memory_order_relaxed)};
}

void HashTable::Clear() {
  for (size_t i = 0; i < num_stripes_; ++i) {
    Stripe& s = stripes_[i];
    MutexLock lock(&s.mu);
    for (const auto& [key, sv] : s.map) Account(&sv, key, nullptr);
    s.map.clear();
  }
}

}  // namespace sluice::engine
