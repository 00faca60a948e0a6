// File: replication/replica_of.h
//
// ReplicaOfAll: the test and driver topology source behind sluiced's hidden --replica-of
// HOST:PORT flag, until the cluster map feeds the Replicator: every vbucket this node holds as a
// replica (or pending) streams from that one address, whose node id is "HOST:PORT". It observes
// the bucket's vbucket states (engine::VBucketStateObserver) and, whenever they change,
// recomputes the sources on a nonio executor task (the observer is called under a bucket lock,
// so it only wakes the task) and hands them to the Replicator.
//
// Ownership: the server owns it (shared_ptr: the bucket holds it weakly as an observer, because
// the server may drop it first; its task holds it weakly, because a scheduled task must not keep
// it alive). It borrows the Replicator, which must outlive Stop().
// Thread safety: thread-safe. Stop() waits for a refresh in progress, so once it returns the
// Replicator is no longer called. Lock order: refresh_mu_ is held across a refresh (which takes
// the Replicator's lock and may join a link's thread); OnVBucketStatesChanged, called under the
// bucket's lifecycle lock (possibly by a link's thread resetting a vbucket), takes only the leaf
// task_mu_, never refresh_mu_.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/mutex.h"
#include "engine/bucket.h"
#include "executor/executor.h"
#include "executor/task.h"
#include "replication/replicator.h"

namespace sluice::replication {

class ReplicaOfAll final : public engine::VBucketStateObserver,
                           public std::enable_shared_from_this<ReplicaOfAll> {
 public:
  // Registers with the bucket, schedules its task and computes the first sources at once.
  static std::shared_ptr<ReplicaOfAll> Start(std::string host, uint16_t port,
                                             Replicator& replicator,
                                             std::shared_ptr<engine::Bucket> bucket,
                                             executor::Executor& executor);
  ~ReplicaOfAll() override;

  // No more refreshes (cancels the task; waits for one in progress). Idempotent.
  void Stop() EXCLUDES(refresh_mu_, task_mu_);
  void OnVBucketStatesChanged() override EXCLUDES(task_mu_);
  // The sources for the bucket's current states (also what the task hands over).
  std::vector<ReplicaSource> Compute() const;

 private:
  ReplicaOfAll(std::string host, uint16_t port, Replicator& replicator,
               std::shared_ptr<engine::Bucket> bucket);
  void Refresh() EXCLUDES(refresh_mu_);

  const std::string host_;
  const uint16_t port_;
  Replicator& replicator_;
  const std::shared_ptr<engine::Bucket> bucket_;

  Mutex refresh_mu_;  // held across a refresh, so Stop() waits for it
  bool stopped_ GUARDED_BY(refresh_mu_) = false;
  Mutex task_mu_;
  std::shared_ptr<executor::Task> task_ GUARDED_BY(task_mu_);
};

}  // namespace sluice::replication
