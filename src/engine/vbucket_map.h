// File: engine/vbucket_map.h
//
// VBucketMap: the bucket's fixed-size table of vbucket slots (vbid -> VBucket). A slot may be
// empty (no such vbucket) and may be replaced or emptied at run time (SET_VBUCKET creating one,
// DEL_VBUCKET), so readers take a shared_ptr copy for the length of one operation.
//
// Ownership: owned by the Bucket; slots share ownership of their VBucket with in-flight
// operations. Thread safety: thread-safe (a small lock per slot).
#pragma once

#include <memory>
#include <vector>

#include "common/mutex.h"
#include "common/types.h"
#include "engine/vbucket.h"

namespace sluice::engine {

class VBucketMap {
 public:
  explicit VBucketMap(size_t size) : size_(size), slots_(new Slot[size]) {}

  size_t size() const { return size_; }

  std::shared_ptr<VBucket> Get(Vbid vbid) const {
    if (vbid >= size_) return nullptr;
    MutexLock lock(&slots_[vbid].mu);
    return slots_[vbid].vb;
  }
  void Set(Vbid vbid, std::shared_ptr<VBucket> vb) {
    MutexLock lock(&slots_[vbid].mu);
    slots_[vbid].vb = std::move(vb);
  }
  // Empties the slot and returns what it held.
  std::shared_ptr<VBucket> Remove(Vbid vbid) {
    MutexLock lock(&slots_[vbid].mu);
    return std::exchange(slots_[vbid].vb, nullptr);
  }
  // Every present vbucket, in vbid order.
  std::vector<std::shared_ptr<VBucket>> All() const {
    std::vector<std::shared_ptr<VBucket>> out;
    for (size_t i = 0; i < size_; ++i) {
      if (auto vb = Get(static_cast<Vbid>(i))) out.push_back(std::move(vb));
    }
    return out;
  }

 private:
  struct Slot {
    mutable Mutex mu;
    std::shared_ptr<VBucket> vb GUARDED_BY(mu);
  };
  const size_t size_;
  std::unique_ptr<Slot[]> slots_;
};

}  // namespace sluice::engine
