// File: replication/source_feed.h
//
// SourceFeed: hands the Replicator (replication/replicator.h) the sources of this node's replica
// vbuckets and keeps them current. Whoever starts it says, per vbucket, which node it replicates
// from (a SourceOf function: sluiced builds one from the static cluster file, --cluster-map, or
// from the hidden test/driver flag --replica-of HOST:PORT; server/replication_setup.h). The feed
// observes the bucket's vbucket states (engine::VBucketStateObserver) and, whenever they change,
// recomputes the sources of every vbucket held as replica (or pending) on a nonio executor task
// (the observer is called under a bucket lock, so it only wakes the task) and hands them to the
// Replicator. A vbucket its SourceOf names no node for gets no stream.
//
// Ownership: the server owns it (shared_ptr: the bucket holds it weakly as an observer, because
// the server may drop it first; its task holds it weakly, because a scheduled task must not keep
// it alive). It borrows the Replicator, which must outlive Stop().
// Thread safety: thread-safe. Stop() waits for a refresh in progress, so once it returns the
// Replicator is no longer called. Lock order: refresh_mu_ is held across a refresh (which takes
// the Replicator's lock and may join a link's thread); OnVBucketStatesChanged, called under the
// bucket's lifecycle lock (possibly by a link's thread resetting a vbucket), takes only the leaf
// task_mu_, never refresh_mu_. SourceOf is called on the refreshing thread, under refresh_mu_.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "common/mutex.h"
#include "engine/bucket.h"
#include "executor/executor.h"
#include "executor/task.h"
#include "replication/replicator.h"

namespace sluice::replication {

// The source of replica (or pending) vbucket `vb`, or nullopt for none. Must not block or call
// into the bucket's vbucket lifecycle.
using SourceOf = std::function<std::optional<ReplicaSource>(Vbid vb)>;

// The --replica-of source: every vbucket from HOST:PORT, whose node id is "HOST:PORT".
SourceOf FixedSource(std::string host, uint16_t port);

class SourceFeed final : public engine::VBucketStateObserver,
                         public std::enable_shared_from_this<SourceFeed> {
 public:
  // Registers with the bucket, schedules its task and computes the first sources at once.
  static std::shared_ptr<SourceFeed> Start(SourceOf source_of, Replicator& replicator,
                                           std::shared_ptr<engine::Bucket> bucket,
                                           executor::Executor& executor);
  ~SourceFeed() override;

  // No more refreshes (cancels the task; waits for one in progress). Idempotent.
  void Stop() EXCLUDES(refresh_mu_, task_mu_);
  void OnVBucketStatesChanged() override EXCLUDES(task_mu_);
  // Hands the Replicator the sources for the bucket's current states now, on the caller's thread
  // (which may wait: see Replicator::SetSources), e.g. before a replica vbucket is promoted, so
  // that its passive stream is closed first. Nothing after Stop().
  void RefreshNow() EXCLUDES(refresh_mu_) { Refresh(); }
  // The sources for the bucket's current states (also what the task hands over).
  std::vector<ReplicaSource> Compute() const;

 private:
  SourceFeed(SourceOf source_of, Replicator& replicator, std::shared_ptr<engine::Bucket> bucket);
  void Refresh() EXCLUDES(refresh_mu_);

  const SourceOf source_of_;
  Replicator& replicator_;
  const std::shared_ptr<engine::Bucket> bucket_;

  Mutex refresh_mu_;  // held across a refresh, so Stop() waits for it
  bool stopped_ GUARDED_BY(refresh_mu_) = false;
  Mutex task_mu_;
  std::shared_ptr<executor::Task> task_ GUARDED_BY(task_mu_);
};

}  // namespace sluice::replication
