// File: tools/drainer.cc
#include "tools/drainer.h"

#include <fmt/format.h>

#include <algorithm>
#include <variant>

#include "tools/stream_checker.h"

namespace sluice::tools {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kBadEndsKept = 10;

// Single-writer counter: the owning worker adds, anyone reads.
inline void Add(std::atomic<uint64_t>& counter, uint64_t n) {
  counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

}  // namespace

struct Drainer::Worker {
  // A stream's progress in seqnos: `position` moves from the start towards `end_estimate` (the
  // high seqno when the drain started, or --to).
  struct Stream {
    bool ours = false;
    bool ended = false;
    uint64_t position = 0;
    uint64_t end_estimate = 0;
  };

  std::unique_ptr<client::Connection> conn;
  std::vector<VBucketTarget> targets;
  std::vector<Stream> streams;  // indexed by vbucket id
  StreamChecker checker;
  DrainResult result;  // this worker's share (its own thread only)

  // Published after every message for Progress() (single writer: this worker).
  std::atomic<uint64_t> items{0};
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> seqnos_done{0};
  std::atomic<uint64_t> vbuckets_done{0};

  // Moves the stream's position to `seqno` (capped at its end estimate) and publishes the seqnos
  // covered.
  void Advance(Stream& s, uint64_t seqno) {
    const uint64_t covered = std::min(seqno, s.end_estimate);
    if (covered > s.position) {
      Add(seqnos_done, covered - s.position);
      s.position = covered;
    }
  }
};

namespace {

uint64_t SeqnoSpan(const DrainOptions& options, const VBucketTarget& t) {
  const uint64_t end = options.to ? std::min(*options.to, t.high_seqno) : t.high_seqno;
  return end > options.from ? end - options.from : 0;
}

uint64_t TotalSpan(const DrainOptions& options, const std::vector<VBucketTarget>& targets) {
  uint64_t total = 0;
  for (const auto& t : targets) total += SeqnoSpan(options, t);
  return total;
}

}  // namespace

Drainer::Drainer(const DrainOptions& options, std::vector<VBucketTarget> targets,
                 std::vector<std::unique_ptr<client::Connection>> connections)
    : options_(options),
      seqnos_total_(TotalSpan(options, targets)),
      vbuckets_total_(targets.size()) {
  Vbid max_vb = 0;
  for (const auto& t : targets) max_vb = std::max(max_vb, t.vbucket);
  for (auto& conn : connections) {
    auto worker = std::make_unique<Worker>();
    worker->conn = std::move(conn);
    worker->streams.resize(size_t{max_vb} + 1);
    workers_.push_back(std::move(worker));
  }
  for (size_t i = 0; i < targets.size(); ++i) {
    Worker& w = *workers_[i % workers_.size()];
    const VBucketTarget& t = targets[i];
    w.targets.push_back(t);
    Worker::Stream& s = w.streams[t.vbucket];
    s.ours = true;
    s.position = options_.from;
    s.end_estimate = options_.from + SeqnoSpan(options_, t);
  }
}

Drainer::~Drainer() {
  if (!threads_.empty()) {
    aborted_.store(true);
    for (auto& w : workers_) w->conn->ShutdownWrite();
    for (auto& t : threads_) t.join();
  }
}

void Drainer::Start() {
  {
    MutexLock lock(&mu_);
    running_ = workers_.size();
  }
  start_ = Clock::now();
  for (auto& w : workers_) {
    Worker* worker = w.get();
    threads_.emplace_back([this, worker] {
      RunWorker(*worker);
      WorkerDone();
    });
  }
}

bool Drainer::WaitFor(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  MutexLock lock(&mu_);
  while (running_ > 0) {
    if (!done_cv_.WaitUntil(&mu_, deadline) && running_ > 0) return false;
  }
  return true;
}

ProgressSnapshot Drainer::Progress() const {
  ProgressSnapshot s;
  for (const auto& w : workers_) {
    s.items += w->items.load(std::memory_order_relaxed);
    s.bytes += w->bytes.load(std::memory_order_relaxed);
    s.seqnos_done += w->seqnos_done.load(std::memory_order_relaxed);
    s.vbuckets_done += w->vbuckets_done.load(std::memory_order_relaxed);
  }
  const int64_t end = end_ns_.load(std::memory_order_acquire);
  s.seconds = end > 0 ? static_cast<double>(end) / 1e9
                      : std::chrono::duration<double>(Clock::now() - start_).count();
  s.seqnos_total = seqnos_total_;
  s.vbuckets_total = vbuckets_total_;
  return s;
}

void Drainer::Fail(Failure failure) {
  {
    MutexLock lock(&mu_);
    if (failure_) return;  // the first one is the cause; the rest are our own wake-ups
    failure_ = std::move(failure);
  }
  aborted_.store(true);
  for (auto& w : workers_) w->conn->ShutdownWrite();
}

void Drainer::WorkerDone() {
  MutexLock lock(&mu_);
  if (--running_ == 0) {
    const auto elapsed =
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start_);
    end_ns_.store(std::max<int64_t>(elapsed.count(), 1), std::memory_order_release);
    done_cv_.SignalAll();
  }
}

void Drainer::RunWorker(Worker& w) {
  StreamRange range;
  range.from = StartPosition{.latest = false, .seqno = options_.from};
  range.to_latest = !options_.to.has_value();
  range.to = options_.to;

  size_t open = 0;
  for (const VBucketTarget& t : w.targets) {
    if (aborted_.load()) return;
    StatusOr<client::StreamReqResult> r = RequestStream(*w.conn, t.vbucket, range);
    if (!r.ok()) {
      if (!aborted_.load()) Fail(FailureFromStatus(r.status(), w.conn.get()));
      return;
    }
    if (r->status != protocol::McbpStatus::kSuccess) {
      Fail(StreamRequestFailure(t.vbucket, *r));
      return;
    }
    if (options_.verify) w.checker.StreamOpened(t.vbucket, options_.to);
    ++open;
  }

  DrainResult& res = w.result;
  const bool verify = options_.verify;
  auto stream_of = [&w](Vbid vb) -> Worker::Stream* {
    return vb < w.streams.size() && w.streams[vb].ours ? &w.streams[vb] : nullptr;
  };
  auto change = [&](Vbid vb, uint64_t seqno, uint64_t* kind_counter) {
    ++*kind_counter;
    ++res.items;
    Add(w.items, 1);
    if (verify) w.checker.Change(vb, seqno);
    if (Worker::Stream* s = stream_of(vb)) w.Advance(*s, seqno);
  };

  while (open > 0) {
    StatusOr<client::DcpMessageView> read = w.conn->ReadDcpMessageView();
    if (!read.ok()) {
      if (!aborted_.load()) {
        Failure failure = FailureFromStatus(read.status(), w.conn.get());
        failure.message = fmt::format("reading the DCP stream: {} ({} stream(s) still open)",
                                      failure.message, open);
        Fail(std::move(failure));
      }
      return;
    }
    const auto& message = read->message;  // views: valid until the next read
    const auto* other = std::get_if<protocol::Frame>(&message);
    const uint64_t size = other != nullptr && other->is_response() ? 0 : read->wire_size;
    res.bytes += size;
    Add(w.bytes, size);
    if (const auto* m = std::get_if<protocol::DcpMutation>(&message)) {
      change(m->vbucket, m->by_seqno, &res.mutations);
    } else if (const auto* marker = std::get_if<protocol::DcpSnapshotMarker>(&message)) {
      ++res.snapshot_markers;
      if (verify) w.checker.Marker(*marker);
    } else if (const auto* d = std::get_if<protocol::DcpDeletion>(&message)) {
      change(d->vbucket, d->by_seqno, &res.deletions);
    } else if (const auto* x = std::get_if<protocol::DcpExpiration>(&message)) {
      change(x->vbucket, x->by_seqno, &res.expirations);
    } else if (const auto* end = std::get_if<protocol::DcpStreamEnd>(&message)) {
      if (verify) w.checker.StreamEnd(end->vbucket, end->status);
      Worker::Stream* s = stream_of(end->vbucket);
      if (s == nullptr || s->ended) continue;  // not one of ours: --verify reports it
      s->ended = true;
      --open;
      ++res.vbuckets;
      if (end->status == protocol::DcpStreamEndStatus::kOk) {
        ++res.streams_ended_ok;
        w.Advance(*s, s->end_estimate);
      } else if (res.bad_stream_ends.size() < kBadEndsKept) {
        res.bad_stream_ends.push_back(
            fmt::format("vb {}: {}", end->vbucket, protocol::DcpStreamEndStatusName(end->status)));
      }
      Add(w.vbuckets_done, 1);
    }
    // Responses and other producer requests: counted in bytes only.
  }
  if (verify) w.checker.Finish();
}

DrainResult Drainer::Finish() {
  for (auto& t : threads_) t.join();
  threads_.clear();
  DrainResult total;
  total.verified = options_.verify;
  for (const auto& w : workers_) {
    const DrainResult& r = w->result;
    total.items += r.items;
    total.mutations += r.mutations;
    total.deletions += r.deletions;
    total.expirations += r.expirations;
    total.bytes += r.bytes;
    total.snapshot_markers += r.snapshot_markers;
    total.vbuckets += r.vbuckets;
    total.streams_ended_ok += r.streams_ended_ok;
    for (const auto& bad : r.bad_stream_ends) {
      if (total.bad_stream_ends.size() < kBadEndsKept) total.bad_stream_ends.push_back(bad);
    }
    if (options_.verify) {
      total.verify_errors += w->checker.error_count();
      for (const auto& message : w->checker.errors()) {
        if (total.verify_messages.size() < kBadEndsKept) total.verify_messages.push_back(message);
      }
    }
  }
  total.seconds = static_cast<double>(end_ns_.load(std::memory_order_acquire)) / 1e9;
  MutexLock lock(&mu_);
  total.failure = failure_;
  return total;
}

}  // namespace sluice::tools
