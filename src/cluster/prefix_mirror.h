// File: cluster/prefix_mirror.h
//
// PrefixMirror: a consistent local copy of every key under a prefix (e.g. a cluster's
// "/sluice/<cluster>/"), kept current on a thread of its own — how a node agent "watches the
// cluster's keys and applies them". It lists the prefix at revision R (one range), publishes that
// snapshot, then watches from R+1 and applies each batch of events, publishing the changes and the
// snapshot after them. Every published snapshot is the prefix exactly as it was at some revision
// (all events of a revision are applied together).
//
// When the watch ends — etcd compacted the revisions it needed, the connection broke, etcd
// restarted, or the stream went idle for watch_idle_timeout — the mirror reports the interruption,
// keeps its last copy (what a node serves with while etcd is away), waits (backoff, cut short by
// Stop) and starts over with a fresh list: a re-list is the one recovery for every cause, including
// an etcd whose data was replaced (revisions that went backwards).
//
//   Start()  starts the thread (callbacks may run from then on)
//   Stop()   closes the stream, joins; no callback runs after it returns. Idempotent; the
//            destructor calls it. Never from a callback.
//
// Ownership: owned by its user (the node agent, a test); shares the EtcdClient. Snapshots are
// immutable and shared (shared_ptr<const>): a reader keeps the one it got for as long as it likes.
// Callbacks run on the mirror's thread, one at a time, in revision order. Thread safety: Start and
// Stop from the owner's thread; snapshot() and WaitForRevision() from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cluster/backoff.h"
#include "cluster/etcd_client.h"
#include "cluster/watch_stream.h"
#include "common/mutex.h"

namespace sluice::cluster {

struct MirrorSnapshot {
  // The store revision the copy reflects: the list's revision, then each applied event's.
  int64_t revision = 0;
  std::map<std::string, EtcdKeyValue> kvs;  // by full key
};

struct MirrorUpdate {
  enum class Kind : uint8_t {
    kReset,    // a (re-)list: `snapshot` replaces everything seen before
    kChanges,  // `events` were applied to the previous snapshot, giving `snapshot`
  };
  Kind kind = Kind::kReset;
  std::vector<WatchEvent> events;  // kChanges only
  std::shared_ptr<const MirrorSnapshot> snapshot;
};

class PrefixMirror {
 public:
  struct Callbacks {
    std::function<void(const MirrorUpdate&)> on_update;
    // The list failed or the watch ended; the copy is kept and a re-list follows.
    std::function<void(const Status& why)> on_interrupted;
  };

  PrefixMirror(std::shared_ptr<EtcdClient> client, std::string prefix, Callbacks callbacks,
               BackoffOptions backoff = {});
  ~PrefixMirror();
  PrefixMirror(const PrefixMirror&) = delete;
  PrefixMirror& operator=(const PrefixMirror&) = delete;

  void Start();
  void Stop() EXCLUDES(mu_);

  // The latest snapshot; null before the first list.
  std::shared_ptr<const MirrorSnapshot> snapshot() const EXCLUDES(mu_);
  // Waits until the copy reflects `revision` or later (a change under the prefix at or after it,
  // or a list made after it). False at the deadline or once stopped.
  bool WaitForRevision(int64_t revision, std::chrono::steady_clock::time_point deadline) const
      EXCLUDES(mu_);
  // Number of lists made so far (1 after the first; each recovery adds one).
  int lists() const EXCLUDES(mu_);

 private:
  void Loop() EXCLUDES(mu_);
  // Lists the prefix and publishes the snapshot; false if the list failed (reported).
  bool List() EXCLUDES(mu_);
  // Applies one batch to a copy of the current snapshot and publishes it.
  void Apply(const WatchBatch& batch) EXCLUDES(mu_);
  void Publish(MirrorUpdate update, bool list) EXCLUDES(mu_);
  std::shared_ptr<WatchStream> NewStream() EXCLUDES(mu_);
  bool Pause(std::chrono::milliseconds wait) EXCLUDES(mu_);

  const std::shared_ptr<EtcdClient> client_;
  const std::string prefix_;
  const Callbacks callbacks_;
  Backoff backoff_;  // the thread's own
  mutable Mutex mu_;
  mutable CondVar cv_{&mu_};  // a new snapshot, or stopping
  bool stopping_ GUARDED_BY(mu_) = false;
  std::shared_ptr<const MirrorSnapshot> snapshot_ GUARDED_BY(mu_);
  int lists_ GUARDED_BY(mu_) = 0;
  std::shared_ptr<WatchStream> stream_ GUARDED_BY(mu_);  // the one running, for Stop()
  std::thread thread_;
};

}  // namespace sluice::cluster
