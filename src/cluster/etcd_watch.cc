#include "cluster/etcd_watch.h"

#include <utility>

namespace sluice::cluster {

EtcdWatcher::EtcdWatcher(std::shared_ptr<EtcdClient> client, WatchOptions options,
                         Callbacks callbacks, BackoffOptions backoff)
    : client_(std::move(client)),
      options_(std::move(options)),
      callbacks_(std::move(callbacks)),
      backoff_(backoff) {}

EtcdWatcher::~EtcdWatcher() { Stop(); }

void EtcdWatcher::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void EtcdWatcher::Stop() {
  std::shared_ptr<WatchStream> stream;
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    stream = stream_;
    cv_.SignalAll();
  }
  if (stream) stream->Cancel();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<WatchStream> EtcdWatcher::NewStream() {
  auto stream = std::make_shared<WatchStream>(client_->transport().current_endpoint(),
                                              client_->transport().options());
  MutexLock lock(&mu_);
  if (stopping_) return nullptr;
  stream_ = stream;
  return stream;
}

bool EtcdWatcher::Pause(std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  MutexLock lock(&mu_);
  while (!stopping_ && std::chrono::steady_clock::now() < deadline) cv_.WaitUntil(&mu_, deadline);
  return !stopping_;
}

void EtcdWatcher::Loop() {
  while (auto stream = NewStream()) {
    const WatchEnd end = stream->Run(options_, [&](const WatchBatch& batch) {
      if (callbacks_.on_batch) callbacks_.on_batch(batch);
    });
    options_.start_revision = end.next_revision;
    if (end.created) backoff_.Reset();
    switch (end.reason) {
      case WatchEnd::Reason::kCancelled:
        return;
      case WatchEnd::Reason::kCompacted:
        if (callbacks_.on_compacted) callbacks_.on_compacted(end.compact_revision);
        return;
      case WatchEnd::Reason::kBroken:
        if (callbacks_.on_interrupted) callbacks_.on_interrupted(end.status);
        if (!Pause(backoff_.Next())) return;
        break;
    }
  }
}

}  // namespace sluice::cluster
