// File: tools/drainer.h
//
// Drainer: the engine of `sluice drain`. It streams a set of vbuckets over one or more already
// opened DCP connections (tools/dcp_session.h: BeginDcp done), one worker thread per connection,
// the vbuckets dealt round-robin across the connections. Each worker requests its streams (from
// `from` to the high seqno at request time, or to `to`) one after the other, then reads messages
// until every stream has ended, counting items (mutations, deletions, expirations) and wire bytes
// and, with `verify`, checking them (tools/stream_checker.h).
//
// Hot path, per message: what client::Connection::ReadDcpMessageView costs (it decodes the frame in
// place: views into the read buffer, no allocation, no copy), a few counter updates, and with
// --verify a StreamChecker call. Bytes are the messages' frame sizes (responses count 0), as flow
// control counts them.
//
// Progress: each worker publishes its counters through single-writer atomics after every message;
// Progress() reads them from any thread (the progress line runs on the caller's thread).
//
// Failures: the first transport failure or refused stream request is kept and ends the drain:
// the other workers are woken by half-closing their connections. A stream that ends
// with a status other than Ok is not a transport failure; it is counted (and a --verify error).
//
//   Drainer d(options, targets, connections);
//   d.Start();
//   while (!d.WaitFor(200ms)) progress.Update(d.Progress());
//   DrainResult r = d.Finish();
//
// Ownership: the Drainer owns the connections and its worker threads (a Drainer destroyed before
// Finish() wakes and joins them). Thread safety: Start, WaitFor and Finish on the owner's thread;
// Progress from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "client/connection.h"
#include "common/mutex.h"
#include "tools/dcp_options.h"
#include "tools/dcp_session.h"
#include "tools/failure.h"
#include "tools/progress.h"

namespace sluice::tools {

struct DrainResult {
  uint64_t items = 0;  // mutations + deletions + expirations
  uint64_t mutations = 0;
  uint64_t deletions = 0;
  uint64_t expirations = 0;
  uint64_t bytes = 0;  // wire bytes of every producer message (markers and stream ends included)
  uint64_t snapshot_markers = 0;
  uint64_t vbuckets = 0;          // streams that ended, whatever the status
  uint64_t streams_ended_ok = 0;  // of those, with status Ok
  // The first few streams that ended otherwise: "vb 7: StateChanged".
  std::vector<std::string> bad_stream_ends;
  double seconds = 0;  // from the first stream request to the last stream end
  std::optional<Failure> failure;

  bool verified = false;  // --verify was on
  uint64_t verify_errors = 0;
  std::vector<std::string> verify_messages;  // the first few

  double items_per_sec() const { return seconds > 0 ? static_cast<double>(items) / seconds : 0; }
  double mb_per_sec() const { return seconds > 0 ? static_cast<double>(bytes) / 1e6 / seconds : 0; }
};

class Drainer {
 public:
  // REQUIRES: !connections.empty(), each a DCP producer connection (BeginDcp done).
  Drainer(const DrainOptions& options, std::vector<VBucketTarget> targets,
          std::vector<std::unique_ptr<client::Connection>> connections);
  ~Drainer();

  Drainer(const Drainer&) = delete;
  Drainer& operator=(const Drainer&) = delete;

  void Start();
  // Waits up to `timeout` for every worker to finish; true when they all have.
  bool WaitFor(std::chrono::milliseconds timeout);
  ProgressSnapshot Progress() const;
  // Joins the workers and adds up their results.
  DrainResult Finish();

 private:
  struct Worker;

  void RunWorker(Worker& worker);
  // Records the first failure and wakes every other worker.
  void Fail(Failure failure);
  void WorkerDone();

  // ---- Constant after construction ----
  const DrainOptions options_;
  const uint64_t seqnos_total_;
  const uint64_t vbuckets_total_;

  // ---- Filled at construction, never resized. While the workers run, a Worker belongs to its
  // thread; other threads only read its atomics (Progress) and half-close its connection (Fail).
  std::vector<std::unique_ptr<Worker>> workers_;
  // ---- Owner thread ----
  std::vector<std::thread> threads_;
  std::chrono::steady_clock::time_point start_;

  // ---- Atomics ----
  std::atomic<bool> aborted_{false};
  // Nanoseconds after start_ at which the last worker finished.
  std::atomic<int64_t> end_ns_{0};

  // ---- Guarded by mu_ ----
  mutable Mutex mu_;
  CondVar done_cv_{&mu_};
  size_t running_ GUARDED_BY(mu_) = 0;
  std::optional<Failure> failure_ GUARDED_BY(mu_);
};

}  // namespace sluice::tools
