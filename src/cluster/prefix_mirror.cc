#include "cluster/prefix_mirror.h"

#include <utility>

namespace sluice::cluster {

PrefixMirror::PrefixMirror(std::shared_ptr<EtcdClient> client, std::string prefix,
                           Callbacks callbacks, BackoffOptions backoff)
    : client_(std::move(client)),
      prefix_(std::move(prefix)),
      callbacks_(std::move(callbacks)),
      backoff_(backoff) {}

PrefixMirror::~PrefixMirror() { Stop(); }

void PrefixMirror::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void PrefixMirror::Stop() {
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

std::shared_ptr<const MirrorSnapshot> PrefixMirror::snapshot() const {
  MutexLock lock(&mu_);
  return snapshot_;
}

int PrefixMirror::lists() const {
  MutexLock lock(&mu_);
  return lists_;
}

bool PrefixMirror::WaitForRevision(int64_t revision,
                                   std::chrono::steady_clock::time_point deadline) const {
  MutexLock lock(&mu_);
  while (!stopping_ && (!snapshot_ || snapshot_->revision < revision)) {
    if (!cv_.WaitUntil(&mu_, deadline) && std::chrono::steady_clock::now() >= deadline) break;
  }
  return snapshot_ && snapshot_->revision >= revision;
}

void PrefixMirror::Publish(MirrorUpdate update, bool list) {
  {
    MutexLock lock(&mu_);
    snapshot_ = update.snapshot;
    if (list) ++lists_;
    cv_.SignalAll();
  }
  if (callbacks_.on_update) callbacks_.on_update(update);
}

bool PrefixMirror::List() {
  auto range = client_->Range(prefix_, {.prefix = true});
  if (!range.ok()) {
    if (callbacks_.on_interrupted) callbacks_.on_interrupted(range.status());
    return false;
  }
  auto snapshot = std::make_shared<MirrorSnapshot>();
  snapshot->revision = range->revision;
  for (auto& kv : range->kvs) {
    std::string key = kv.key;
    snapshot->kvs.emplace(std::move(key), std::move(kv));
  }
  Publish({.kind = MirrorUpdate::Kind::kReset, .snapshot = std::move(snapshot)}, /*list=*/true);
  return true;
}

void PrefixMirror::Apply(const WatchBatch& batch) {
  auto next = std::make_shared<MirrorSnapshot>(*snapshot());
  for (const auto& event : batch.events) {
    if (event.type == WatchEvent::Type::kPut) {
      next->kvs[event.kv.key] = event.kv;
    } else {
      next->kvs.erase(event.kv.key);
    }
    next->revision = event.kv.mod_revision;
  }
  Publish(
      {.kind = MirrorUpdate::Kind::kChanges, .events = batch.events, .snapshot = std::move(next)},
      /*list=*/false);
}

std::shared_ptr<WatchStream> PrefixMirror::NewStream() {
  auto stream = std::make_shared<WatchStream>(client_->transport().current_endpoint(),
                                              client_->transport().options());
  MutexLock lock(&mu_);
  if (stopping_) return nullptr;
  stream_ = stream;
  return stream;
}

bool PrefixMirror::Pause(std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  MutexLock lock(&mu_);
  while (!stopping_ && std::chrono::steady_clock::now() < deadline) cv_.WaitUntil(&mu_, deadline);
  return !stopping_;
}

void PrefixMirror::Loop() {
  while (true) {
    {
      MutexLock lock(&mu_);
      if (stopping_) return;
    }
    if (!List()) {
      if (!Pause(backoff_.Next())) return;
      continue;
    }
    auto stream = NewStream();
    if (!stream) return;
    const WatchOptions options{
        .key = prefix_, .prefix = true, .start_revision = snapshot()->revision + 1};
    const WatchEnd end = stream->Run(options, [this](const WatchBatch& batch) { Apply(batch); });
    if (end.reason == WatchEnd::Reason::kCancelled) return;
    if (end.created) backoff_.Reset();
    const Status why = end.reason == WatchEnd::Reason::kCompacted
                           ? Status(Errc::kRange, "etcd compacted revisions before " +
                                                      std::to_string(end.compact_revision))
                           : end.status;
    if (callbacks_.on_interrupted) callbacks_.on_interrupted(why);
    // After a compaction the history is gone but etcd is there: re-list at once.
    if (end.reason == WatchEnd::Reason::kBroken && !Pause(backoff_.Next())) return;
  }
}

}  // namespace sluice::cluster
