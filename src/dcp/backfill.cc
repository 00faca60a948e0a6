#include "dcp/backfill.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "common/logging.h"

namespace sluice::dcp {

uint64_t NewBackfillId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

Backfill::Backfill(BackfillSpec spec, std::shared_ptr<engine::Bucket> bucket,
                   std::shared_ptr<BackfillTracker> tracker)
    : spec_(std::move(spec)), bucket_(std::move(bucket)), tracker_(std::move(tracker)) {}

Backfill::~Backfill() {
  // Explicit so the order is visible: scan first (its snapshot reads the bucket's store), then
  // the admission unit, then (implicitly) the bucket reference.
  CloseScan();
  token_.Reset();
}

std::string_view Backfill::StateName(State state) {
  switch (state) {
    case State::kCreate:
      return "create";
    case State::kScan:
      return "scan";
    case State::kDone:
      return "done";
  }
  return "unknown";
}

void Backfill::TransitionTo(State next) {
  bool valid = false;
  switch (state_) {
    case State::kCreate:
      valid = next == State::kScan || next == State::kDone;
      break;
    case State::kScan:
      valid = next == State::kDone;
      break;
    case State::kDone:
      valid = false;
      break;
  }
  if (!valid) {
    LOG_CRITICAL("dcp backfill vb:{}: invalid transition {} -> {}", spec_.vbid, StateName(state_),
                 StateName(next));
    std::abort();
  }
  state_ = next;
  if (next == State::kDone) CloseScan();
}

void Backfill::CloseScan() {
  if (scan_ == nullptr) return;
  scan_.reset();
  tracker_->ScanClosed();
}

Backfill::Result Backfill::Run(const BackfillRunContext& ctx) {
  switch (state_) {
    case State::kCreate: {
      const Result r = Create(ctx);
      if (r != Result::kSuccess || state_ != State::kScan || ctx.create_only) return r;
      return Scan(ctx);
    }
    case State::kScan:
      return Scan(ctx);
    case State::kDone:
      return Result::kFinished;
  }
  return Result::kFinished;
}

Backfill::Result Backfill::Create(const BackfillRunContext& ctx) {
  // Promoted for this run only; released when Create returns.
  std::shared_ptr<BackfillTarget> stream = spec_.stream.lock();
  if (stream == nullptr || stream->IsDead() || ctx.cancelled->load()) {
    TransitionTo(State::kDone);
    return Result::kFinished;
  }
  std::shared_ptr<engine::VBucket> vb = bucket_->GetVBucket(spec_.vbid);
  if (vb == nullptr) {
    // Deleted: the ConnMap ends the stream (StateChanged); make sure of it.
    stream->EndStream(protocol::DcpStreamEndStatus::kStateChanged);
    TransitionTo(State::kDone);
    return Result::kFinished;
  }
  if (vb->persisted_seqno() < spec_.end) return Result::kSnooze;
  vb.reset();

  storage::ScanOptions options;
  options.key_only = spec_.key_only;
  options.skip_deleted = spec_.skip_deleted;
  options.key_order = spec_.key_order;
  // A sync-write stream's disk snapshot carries the prepares in flight (DCP_PREPARE).
  options.include_prepares = spec_.encoder.sync_writes() && !spec_.key_order;
  auto scan = bucket_->store().OpenSeqnoScan(spec_.vbid, spec_.start, spec_.stream_end, options);
  if (!scan.ok()) {
    LOG_WARN("dcp backfill vb:{}: cannot open a scan from {}: {}", spec_.vbid, spec_.start,
             scan.status().ToString());
    stream->EndStream(protocol::DcpStreamEndStatus::kBackfillFailed);
    TransitionTo(State::kDone);
    return Result::kFinished;
  }
  scan_ = std::move(*scan);
  tracker_->ScanOpened();
  if (ctx.cancelled->load()) {
    // The producer disconnected while the snapshot was being opened: read nothing from it.
    TransitionTo(State::kDone);
    return Result::kFinished;
  }

  const storage::VBucketStateRecord& disk = scan_->state();
  if (spec_.start != 1 && spec_.start <= disk.purge_seqno && !spec_.ignore_purged_tombstones &&
      spec_.remote_purge_seqno != disk.purge_seqno) {
    LOG_WARN("dcp backfill vb:{}: start {} is at or below the purge seqno {}: rollback", spec_.vbid,
             spec_.start, disk.purge_seqno);
    stream->EndStream(protocol::DcpStreamEndStatus::kRollback);
    TransitionTo(State::kDone);
    return Result::kFinished;
  }
  scan_end_ = std::min(spec_.stream_end, disk.high_seqno);
  if (spec_.start > scan_end_) {
    stream->CompleteBackfill(scan_end_);
    TransitionTo(State::kDone);
    return Result::kFinished;
  }
  if (!stream->MarkDiskSnapshot(spec_.start, scan_end_, disk.purge_seqno)) {
    // No longer backfilling (ended meanwhile).
    TransitionTo(State::kDone);
    return Result::kFinished;
  }
  last_progress_ = ctx.clock->Now();
  progress_started_ = true;
  TransitionTo(State::kScan);
  return Result::kSuccess;
}

namespace {
constexpr size_t kClockCheckEvery = 64;
}  // namespace

struct Backfill::ScanRun {
  BackfillTarget& stream;
  const BackfillRunContext& ctx;
  SteadyTime start;
  size_t items = 0;
  size_t bytes = 0;
  bool stop = false;
  bool buffer_full = false;
  std::shared_ptr<BackfillBatch> batch;  // being filled: this thread's alone until delivered
  size_t batch_cap = 0;                  // deliver it once it holds this many bytes
};

Backfill::Result Backfill::Scan(const BackfillRunContext& ctx) {
  std::shared_ptr<BackfillTarget> stream = spec_.stream.lock();  // for this run only
  if (stream == nullptr || stream->IsDead() || ctx.cancelled->load()) {
    TransitionTo(State::kDone);
    return Result::kFinished;
  }
  if (!scan_started_) {
    // Counted here, past every check: a scan is started only once it really reads.
    scan_started_ = true;
    tracker_->ScanStarted();
  }
  ScanRun run{.stream = *stream, .ctx = ctx, .start = ctx.clock->Now()};
  bool done = false;
  const Status status = scan_->ScanViews(
      [this, &run](const storage::DiskDocView& doc) { return Take(run, doc); }, &done);
  return EndRun(run, status, done);
}

storage::ScanControl Backfill::Take(ScanRun& run, const storage::DiskDocView& doc) {
  // Checked per item: a disconnect or the stream's end stops the run at the next item.
  if (run.ctx.cancelled->load(std::memory_order_relaxed) || run.stream.IsDead()) {
    run.stop = true;
    return storage::ScanControl::kYield;
  }
  if (run.batch == nullptr) {
    run.batch = std::make_shared<BackfillBatch>(batch_reserve_);
    run.batch_cap = std::min(BackfillBatch::kMaxBytes, run.ctx.buffer->room());
  }
  run.bytes += run.batch->Append(spec_.encoder, ItemView::Of(doc), StreamKey{spec_.vbid, spec_.sid},
                                 spec_.opaque);
  ++run.items;
  // The clock every kClockCheckEvery items (and at the first): reading it per item was 2% of a
  // drain's backfill thread, and a run yields within milliseconds anyway.
  const bool yield = run.items >= run.ctx.scan_item_limit || run.bytes >= run.ctx.scan_byte_limit ||
                     (run.items % kClockCheckEvery == 1 &&
                      run.ctx.clock->Now() - run.start >= run.ctx.run_duration_limit);
  if (yield || run.batch->bytes() >= run.batch_cap ||
      run.batch->size() >= BackfillBatch::kMaxItems) {
    Deliver(run);
    if (run.stop || run.buffer_full || yield) return storage::ScanControl::kYield;
  }
  return storage::ScanControl::kContinue;
}

void Backfill::Deliver(ScanRun& run) {
  batch_reserve_ = std::max<size_t>(run.batch->bytes(), 4096);
  switch (run.stream.BackfillBatchReceived(std::move(run.batch), *run.ctx.buffer)) {
    case BackfillTarget::Delivery::kStreamNotBackfilling:
      run.stop = true;
      break;
    case BackfillTarget::Delivery::kBufferFull:
      run.buffer_full = true;
      break;
    case BackfillTarget::Delivery::kQueued:
      break;
  }
  run.batch.reset();
}

Backfill::Result Backfill::EndRun(ScanRun& run, const Status& status, bool done) {
  if (run.items != 0) last_progress_ = run.ctx.clock->Now();
  if (!status.ok()) {
    LOG_ERROR("dcp backfill vb:{}: scan failed after seqno {}: {}", spec_.vbid, scan_->last_seqno(),
              status.ToString());
    run.stream.EndStream(protocol::DcpStreamEndStatus::kBackfillFailed);
    TransitionTo(State::kDone);
    return Result::kFinished;
  }
  // The range ended with a batch in progress (a yield always delivered its batch first).
  if (!run.stop && run.batch != nullptr) Deliver(run);
  if (run.stop) {
    TransitionTo(State::kDone);
    return Result::kFinished;
  }
  if (done) {
    run.stream.CompleteBackfill(scan_end_);
    TransitionTo(State::kDone);
    return Result::kFinished;
  }
  if (run.buffer_full) run.stream.BackfillPaused();
  return Result::kSuccess;
}

Backfill::Result Backfill::Fail(std::string_view what) {
  LOG_ERROR("dcp backfill vb:{}: failed in state {}: {}; ending its stream", spec_.vbid,
            StateName(state_), what);
  // Promoted here, on the running thread with no lock held (it may be the last reference).
  if (std::shared_ptr<BackfillTarget> stream = spec_.stream.lock()) {
    stream->EndStream(protocol::DcpStreamEndStatus::kBackfillFailed);
  }
  if (state_ != State::kDone) TransitionTo(State::kDone);
  return Result::kFinished;
}

bool Backfill::IdleFor(SteadyTime now, Duration limit) const {
  return progress_started_ && now - last_progress_ >= limit;
}

void Backfill::EndStreamTooSlow() {
  if (std::shared_ptr<BackfillTarget> stream = spec_.stream.lock()) {
    LOG_WARN("dcp backfill vb:{}: no progress for the idle limit with a full buffer: TooSlow",
             spec_.vbid);
    stream->EndStream(protocol::DcpStreamEndStatus::kTooSlow);
  }
}

}  // namespace sluice::dcp
