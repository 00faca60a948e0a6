#include "dcp/backfill.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "common/logging.h"
#include "dcp/active_stream.h"
#include "dcp/backfill_batch.h"

namespace sluice::dcp {

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
  std::shared_ptr<ActiveStream> stream = spec_.stream.lock();
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
  if (!stream->MarkDiskSnapshot(spec_.start, scan_end_)) {
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

Backfill::Result Backfill::Scan(const BackfillRunContext& ctx) {
  std::shared_ptr<ActiveStream> stream = spec_.stream.lock();  // for this run only
  if (stream == nullptr || stream->IsDead() || ctx.cancelled->load()) {
    TransitionTo(State::kDone);
    return Result::kFinished;
  }
  const SteadyTime run_start = ctx.clock->Now();
  size_t items = 0;
  size_t bytes = 0;
  bool stop = false;
  bool buffer_full = false;
  bool done = false;
  std::shared_ptr<BackfillBatch> batch;  // being filled: this thread's alone until delivered
  size_t batch_cap = 0;
  const Status status = scan_->ScanViews(
      [&](const storage::DiskDocView& doc) {
        // Checked per item: a disconnect or the stream's end stops the run at the next item.
        if (ctx.cancelled->load(std::memory_order_relaxed) || stream->IsDead()) {
          stop = true;
          return storage::ScanControl::kYield;
        }
        if (batch == nullptr) {
          batch = std::make_shared<BackfillBatch>(batch_reserve_);
          batch_cap = std::min(BackfillBatch::kMaxBytes, ctx.buffer->room());
        }
        bytes += batch->Append(spec_.encoder, ItemView::Of(doc), spec_.vbid, spec_.opaque);
        ++items;
        // The clock every kClockCheckEvery items (and at the first): reading it per item was
        // 2% of a drain's backfill thread, and a run yields within milliseconds anyway.
        const bool yield = items >= ctx.scan_item_limit || bytes >= ctx.scan_byte_limit ||
                           (items % kClockCheckEvery == 1 &&
                            ctx.clock->Now() - run_start >= ctx.run_duration_limit);
        if (yield || batch->bytes() >= batch_cap || batch->size() >= BackfillBatch::kMaxItems) {
          Deliver(*stream, &batch, ctx, &stop, &buffer_full);
          if (stop || buffer_full || yield) return storage::ScanControl::kYield;
        }
        return storage::ScanControl::kContinue;
      },
      &done);
  if (items != 0) last_progress_ = ctx.clock->Now();
  if (!status.ok()) {
    LOG_ERROR("dcp backfill vb:{}: scan failed after seqno {}: {}", spec_.vbid, scan_->last_seqno(),
              status.ToString());
    stream->EndStream(protocol::DcpStreamEndStatus::kBackfillFailed);
    TransitionTo(State::kDone);
    return Result::kFinished;
  }
  // The range ended with a batch in progress (a yield always delivered its batch first).
  if (!stop && batch != nullptr) Deliver(*stream, &batch, ctx, &stop, &buffer_full);
  if (stop) {
    TransitionTo(State::kDone);
    return Result::kFinished;
  }
  if (done) {
    stream->CompleteBackfill(scan_end_);
    TransitionTo(State::kDone);
    return Result::kFinished;
  }
  if (buffer_full) {
    ++num_pauses_;
    stream->BackfillPaused();
  }
  return Result::kSuccess;
}

void Backfill::Deliver(ActiveStream& stream, std::shared_ptr<BackfillBatch>* batch,
                       const BackfillRunContext& ctx, bool* stop, bool* buffer_full) {
  batch_reserve_ = std::max<size_t>((*batch)->bytes(), 4096);
  switch (stream.BackfillBatchReceived(std::move(*batch), *ctx.buffer)) {
    case ActiveStream::BackfillDelivery::kStreamNotBackfilling:
      *stop = true;
      break;
    case ActiveStream::BackfillDelivery::kBufferFull:
      *buffer_full = true;
      break;
    case ActiveStream::BackfillDelivery::kQueued:
      break;
  }
  batch->reset();
}

bool Backfill::ShouldCancel(SteadyTime now, bool idle_protection, Duration idle_limit,
                            bool* too_slow) const {
  *too_slow = false;
  std::shared_ptr<ActiveStream> stream = spec_.stream.lock();
  if (stream == nullptr || stream->IsDead()) return true;
  // Note: `stream` may be the last reference; the caller holds the manager's lock, and
  // ~ActiveStream takes no lock of the manager, so that is safe.
  if (idle_protection && progress_started_ && now - last_progress_ >= idle_limit) {
    *too_slow = true;
    return true;
  }
  return false;
}

void Backfill::EndStreamTooSlow() {
  if (std::shared_ptr<ActiveStream> stream = spec_.stream.lock()) {
    LOG_WARN("dcp backfill vb:{}: no progress for the idle limit with a full buffer: TooSlow",
             spec_.vbid);
    stream->EndStream(protocol::DcpStreamEndStatus::kTooSlow);
  }
}

}  // namespace sluice::dcp
