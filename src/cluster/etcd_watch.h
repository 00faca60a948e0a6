// File: cluster/etcd_watch.h
//
// EtcdWatcher: a watch of a key or a prefix from a revision, on a thread of its own, delivering
// every change exactly once and in revision order to a callback. It rides out broken connections
// by itself: when the stream breaks (etcd restarted, a network blip, an idle connection closed) it
// reports the interruption, waits (backoff, cut short by Stop) and re-opens the watch from the
// revision after the last event it delivered — etcd keeps its history across restarts, so nothing
// is lost or repeated. It ends only when that history is gone (compaction): it then reports the
// compaction and stops, and the owner re-lists and starts a new watcher from the listed revision.
// PrefixMirror (cluster/prefix_mirror.h) does exactly that, for a whole prefix.
//
//   Start()  starts the thread (callbacks may run from then on)
//   Stop()   cancels the stream (closes its socket), joins; no callback runs after it returns.
//            Idempotent; the destructor calls it. Never call it from a callback (it joins the
//            thread the callbacks run on).
//
// Ownership: owned by its user (a node agent, a test); holds a shared_ptr to the EtcdClient for
// its endpoints and options. Callbacks run on the watcher's thread, one at a time; they must not
// block for long (the stream is not read meanwhile). Thread safety: Start/Stop from the owner's
// thread; the rest is internal.
#pragma once

#include <functional>
#include <memory>
#include <thread>

#include "cluster/backoff.h"
#include "cluster/etcd_client.h"
#include "cluster/watch_stream.h"
#include "common/mutex.h"

namespace sluice::cluster {

class EtcdWatcher {
 public:
  struct Callbacks {
    // Events of one or more revisions, in order.
    std::function<void(const WatchBatch&)> on_batch;
    // The stream broke; the watcher re-opens it from the next revision after a backoff.
    std::function<void(const Status& why)> on_interrupted;
    // etcd compacted away revisions the watch still needed (everything before
    // compact_revision): the watcher has stopped; re-list, then watch from the listed revision.
    std::function<void(int64_t compact_revision)> on_compacted;
  };

  EtcdWatcher(std::shared_ptr<EtcdClient> client, WatchOptions options, Callbacks callbacks,
              BackoffOptions backoff = {});
  ~EtcdWatcher();
  EtcdWatcher(const EtcdWatcher&) = delete;
  EtcdWatcher& operator=(const EtcdWatcher&) = delete;

  void Start();
  void Stop() EXCLUDES(mu_);

 private:
  void Loop() EXCLUDES(mu_);
  // Registers a new stream unless stopping; null when stopping.
  std::shared_ptr<WatchStream> NewStream() EXCLUDES(mu_);
  // Waits `wait` or until Stop(); false when stopping.
  bool Pause(std::chrono::milliseconds wait) EXCLUDES(mu_);

  const std::shared_ptr<EtcdClient> client_;
  WatchOptions options_;  // start_revision advances as events arrive (the thread's own)
  const Callbacks callbacks_;
  Backoff backoff_;  // the thread's own
  Mutex mu_;
  CondVar cv_{&mu_};
  bool stopping_ GUARDED_BY(mu_) = false;
  std::shared_ptr<WatchStream> stream_ GUARDED_BY(mu_);  // the one running, for Stop()
  std::thread thread_;
};

}  // namespace sluice::cluster
