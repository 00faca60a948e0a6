#include "replication/replica_of.h"

#include <fmt/format.h>

namespace sluice::replication {

ReplicaOfAll::ReplicaOfAll(std::string host, uint16_t port, Replicator& replicator,
                           std::shared_ptr<engine::Bucket> bucket)
    : host_(std::move(host)), port_(port), replicator_(replicator), bucket_(std::move(bucket)) {}

ReplicaOfAll::~ReplicaOfAll() { Stop(); }

std::shared_ptr<ReplicaOfAll> ReplicaOfAll::Start(std::string host, uint16_t port,
                                                  Replicator& replicator,
                                                  std::shared_ptr<engine::Bucket> bucket,
                                                  executor::Executor& executor) {
  std::shared_ptr<ReplicaOfAll> self(
      new ReplicaOfAll(std::move(host), port, replicator, std::move(bucket)));
  // Weak: a scheduled task must not keep the source alive.
  std::weak_ptr<ReplicaOfAll> weak = self;
  auto task =
      executor::MakeTask(executor::TaskGroup::kNonIO, "replica_of", [weak](executor::Task& task) {
        if (auto source = weak.lock()) source->Refresh();
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

void ReplicaOfAll::Stop() {
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

void ReplicaOfAll::OnVBucketStatesChanged() {
  std::shared_ptr<executor::Task> task;
  {
    MutexLock lock(&task_mu_);
    task = task_;
  }
  if (task) task->Wake();
}

std::vector<ReplicaSource> ReplicaOfAll::Compute() const {
  std::vector<ReplicaSource> sources;
  const std::string node_id = fmt::format("{}:{}", host_, port_);
  for (const auto& [vb, seqno] : bucket_->GetAllVbSeqnos(VBucketState::kReplica)) {
    sources.push_back({vb, node_id, host_, port_});
  }
  for (const auto& [vb, seqno] : bucket_->GetAllVbSeqnos(VBucketState::kPending)) {
    sources.push_back({vb, node_id, host_, port_});
  }
  return sources;
}

void ReplicaOfAll::Refresh() {
  MutexLock lock(&refresh_mu_);
  if (stopped_) return;
  replicator_.SetSources(Compute());
}

}  // namespace sluice::replication
