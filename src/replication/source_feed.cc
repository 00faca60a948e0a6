#include "replication/source_feed.h"

#include <fmt/format.h>

namespace sluice::replication {

SourceOf FixedSource(std::string host, uint16_t port) {
  return [host = std::move(host), port](Vbid vb) -> std::optional<ReplicaSource> {
    return ReplicaSource{vb, fmt::format("{}:{}", host, port), host, port};
  };
}

SourceFeed::SourceFeed(SourceOf source_of, Replicator& replicator,
                       std::shared_ptr<engine::Bucket> bucket)
    : source_of_(std::move(source_of)), replicator_(replicator), bucket_(std::move(bucket)) {}

SourceFeed::~SourceFeed() { Stop(); }

std::shared_ptr<SourceFeed> SourceFeed::Start(SourceOf source_of, Replicator& replicator,
                                              std::shared_ptr<engine::Bucket> bucket,
                                              executor::Executor& executor) {
  std::shared_ptr<SourceFeed> self(
      new SourceFeed(std::move(source_of), replicator, std::move(bucket)));
  // Weak: a scheduled task must not keep the feed alive.
  std::weak_ptr<SourceFeed> weak = self;
  auto task = executor::MakeTask(executor::TaskGroup::kNonIO, "replica_sources",
                                 [weak](executor::Task& task) {
                                   if (auto feed = weak.lock()) feed->Refresh();
                                   task.SnoozeForever();
                                   return true;
                                 });
  task->SnoozeForever();
  {
    MutexLock lock(&self->task_mu_);
    self->task_ = task;
  }
  executor.Schedule(task);
  self->bucket_->AddStateObserver(self);
  self->Refresh();
  return self;
}

void SourceFeed::Stop() {
  {
    MutexLock lock(&refresh_mu_);  // waits for a refresh in progress
    stopped_ = true;
  }
  std::shared_ptr<executor::Task> task;
  {
    MutexLock lock(&task_mu_);
    task = std::move(task_);
  }
  if (task) task->Cancel();
}

void SourceFeed::OnVBucketStatesChanged() {
  std::shared_ptr<executor::Task> task;
  {
    MutexLock lock(&task_mu_);
    task = task_;
  }
  if (task) task->Wake();
}

std::vector<ReplicaSource> SourceFeed::Compute() const {
  std::vector<ReplicaSource> sources;
  for (VBucketState state : {VBucketState::kReplica, VBucketState::kPending}) {
    for (const auto& [vb, seqno] : bucket_->GetAllVbSeqnos(state)) {
      if (auto source = source_of_(vb)) sources.push_back(std::move(*source));
    }
  }
  return sources;
}

void SourceFeed::Refresh() {
  MutexLock lock(&refresh_mu_);
  if (stopped_) return;
  replicator_.SetSources(Compute());
}

}  // namespace sluice::replication
