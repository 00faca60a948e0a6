// File: cluster/watch_stream.h
//
// WatchStream: one etcd watch, run synchronously on the caller's thread — a long POST of
// {"create_request": ...} to /v3/watch whose chunked answer is a sequence of newline-separated
// JSON messages ({"result": {...}}), read as it arrives with cpp-httplib's content receiver. The
// building block of EtcdWatcher (cluster/etcd_watch.h), PrefixMirror (cluster/prefix_mirror.h)
// and Election (cluster/election.h), which run it on their own threads.
//
//   Run()     opens the watch, calls on_batch for every message with events (in revision order;
//             all events of one revision arrive in one batch) and returns how the stream ended:
//               kCompacted  etcd no longer has the history from the start revision: re-list
//               kBroken     connection refused or lost, no data for watch_idle_timeout, an error
//                           message, or a watch etcd cancelled: re-open from next_revision (or
//                           re-list)
//               kCancelled  Cancel() was called
//   Cancel()  from any thread: closes the stream's socket (cpp-httplib's stop(), repeated until Run
//             has returned, which covers a Cancel that lands while the connection is being made)
//             and makes a later Run() return kCancelled at once. Returns once Run() is over. From
//             inside on_batch it only marks the stream cancelled (Run then ends after the batch).
//
// Ownership: owned by the thread that runs it, through a shared_ptr that the objects that may
// cancel it (an owner's Stop(), a lease keeper's loss callback) copy while they call Cancel().
// Thread safety: Run() on one thread, once; Cancel() on any thread, any number of times.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "cluster/etcd_transport.h"
#include "cluster/etcd_types.h"
#include "common/mutex.h"
#include "common/status.h"

namespace httplib {
class Client;
}

namespace sluice::cluster {

struct WatchOptions {
  std::string key;
  bool prefix = false;
  int64_t start_revision = 0;  // the first revision wanted; 0: changes from now on
  bool prev_kv = false;        // deliver each event's previous key-value
};

// One message of the stream that carries events.
struct WatchBatch {
  int64_t revision = 0;  // the message's header revision (the store's revision when sent)
  std::vector<WatchEvent> events;
};

struct WatchEnd {
  enum class Reason : uint8_t { kCancelled, kCompacted, kBroken };
  Reason reason = Reason::kCancelled;
  Status status;                 // why, for kBroken
  int64_t compact_revision = 0;  // kCompacted: the oldest revision etcd still has
  // Where to re-open the watch without missing or repeating an event: the revision after the last
  // delivered event; before any, the start revision (a watch "from now" is pinned to the revision
  // after the one it was created at).
  int64_t next_revision = 0;
  bool created = false;  // etcd had confirmed the watch (a connection was made)
};

class WatchStream {
 public:
  using BatchCallback = std::function<void(const WatchBatch&)>;

  // Connects to `endpoint` with `options`' timeouts (the connect timeout, and watch_idle_timeout
  // as the read timeout).
  WatchStream(EtcdEndpoint endpoint, const EtcdOptions& options);
  ~WatchStream();
  WatchStream(const WatchStream&) = delete;
  WatchStream& operator=(const WatchStream&) = delete;

  // Blocks until the stream ends (see the file comment). Call once.
  WatchEnd Run(const WatchOptions& options, const BatchCallback& on_batch) EXCLUDES(mu_);
  void Cancel() EXCLUDES(mu_);

 private:
  // The content receiver's state: the bytes of an unfinished line and how the stream ended.
  struct Reader;

  bool cancelled() const EXCLUDES(mu_);

  const EtcdEndpoint endpoint_;
  const EtcdOptions options_;
  mutable Mutex mu_;
  CondVar done_cv_{&mu_};  // Run() returned
  bool cancelled_ GUARDED_BY(mu_) = false;
  bool running_ GUARDED_BY(mu_) = false;
  std::thread::id run_thread_ GUARDED_BY(mu_);
  // The client Run() is using, so Cancel() can stop() it.
  std::shared_ptr<httplib::Client> client_ GUARDED_BY(mu_);
};

}  // namespace sluice::cluster
