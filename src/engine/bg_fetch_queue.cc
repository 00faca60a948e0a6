#include "engine/bg_fetch_queue.h"

#include <algorithm>
#include <utility>

namespace sluice::engine {

BgFetchQueue::~BgFetchQueue() {
  std::deque<Fetch> left;
  {
    MutexLock lock(&mu_);
    left.swap(queue_);
  }
  for (Fetch& f : left) {
    if (auto w = f.waiter.lock()) w->NotifyIoComplete(Status(Errc::kCancelled));
  }
}

bool BgFetchQueue::Push(Fetch fetch) {
  MutexLock lock(&mu_);
  queue_.push_back(std::move(fetch));
  if (drainers_ >= max_drainers_) return false;
  ++drainers_;
  return true;
}

std::vector<BgFetchQueue::Fetch> BgFetchQueue::Take(size_t max) {
  std::vector<Fetch> out;
  MutexLock lock(&mu_);
  if (queue_.empty()) {
    --drainers_;  // the caller's drainer ends here
    return out;
  }
  const size_t n = std::min(max, queue_.size());
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  return out;
}

size_t BgFetchQueue::size() const {
  MutexLock lock(&mu_);
  return queue_.size();
}

}  // namespace sluice::engine
