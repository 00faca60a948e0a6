// File: engine/bg_fetch_queue.h
//
// BgFetchQueue: the background fetches a bucket owes (GETs of keys whose value was ejected), and
// how many reader tasks drain them. One drainer serves many fetches per wake-up, as kv_engine's
// BgFetcher serves a batch: under a burst of non-resident GETs the reader threads stop paying a
// task, a queue insertion and a thread wake-up per key.
//
//   Push ──▶ queue ──▶ Take(max) by at most `max_drainers` drainer tasks at a time
//   a Push that finds fewer drainers than the limit starts one (Push returns true); a drainer
//   whose Take comes back empty has ended (the count drops in the same locked step, so a fetch
//   pushed after it starts a new drainer: nothing is ever left without one)
//
// Ownership: the Bucket owns it; drainer tasks reach it through the bucket (held weakly). A queue
// destroyed with fetches in it answers their waiters Cancelled (the bucket is going away).
// Thread safety: thread-safe; Push from any front-end thread, Take from reader threads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "common/mutex.h"
#include "common/types.h"
#include "engine/engine_types.h"

namespace sluice::engine {

class BgFetchQueue {
 public:
  struct Fetch {
    Vbid vbid = 0;
    std::string key;
    uint64_t seqno = 0;  // the ejected version's seqno; 0: a tombstone memory does not hold
    Waiter waiter;
  };

  explicit BgFetchQueue(size_t max_drainers)
      : max_drainers_(max_drainers == 0 ? 1 : max_drainers) {}
  ~BgFetchQueue();
  BgFetchQueue(const BgFetchQueue&) = delete;
  BgFetchQueue& operator=(const BgFetchQueue&) = delete;

  // Queues `fetch`. True if the caller must start a drainer task, which calls Take() until it
  // comes back empty.
  bool Push(Fetch fetch);
  // Up to `max` queued fetches, oldest first. Empty means the queue was empty and the calling
  // drainer has ended: it must not call Take() again.
  std::vector<Fetch> Take(size_t max);

  size_t size() const;

 private:
  const size_t max_drainers_;
  mutable Mutex mu_;
  std::deque<Fetch> queue_ GUARDED_BY(mu_);
  size_t drainers_ GUARDED_BY(mu_) = 0;
};

}  // namespace sluice::engine
