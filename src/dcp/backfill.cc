#include "dcp/backfill.h"

#include <algorithm>
#include <cstdlib>
#include <utility>

#include "common/logging.h"
#include "dcp/dcp_message.h"
#include "engine/blob.h"

namespace sluice::dcp {
namespace {

engine::QueuedItem ToItem(storage::DiskDoc&& doc) {
  auto item = std::make_shared<engine::Item>();
  item->op = engine::QueueOp::kMutation;
  item->vbid = doc.vbid;
  item->key = std::move(doc.key);
  if (!doc.value.empty()) item->value = engine::Blob::Make(doc.value);
  item->cas = doc.cas;
  item->by_seqno = doc.seqno;
  item->rev_seqno = doc.rev_seqno;
  item->flags = doc.flags;
  item->expiry = doc.expiry;
  item->datatype = doc.datatype;
  item->deleted = doc.deleted;
  item->delete_source = doc.delete_source;
  return item;
}

}  // namespace

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
  const SteadyTime run_start = ctx.clock->Now();
  size_t items = 0;
  size_t bytes = 0;
  bool stop = false;
  bool buffer_full = false;
  bool done = false;
  const Status status = scan_->Scan(
      [&](storage::DiskDoc&& doc) {
        // Checked per item: a disconnect (or the stream ending) stops the run at the next item.
        if (ctx.cancelled->load(std::memory_order_relaxed)) {
          stop = true;
          return storage::ScanControl::kYield;
        }
        engine::QueuedItem item = ToItem(std::move(doc));
        const size_t size = DcpMessage::ItemWireSize(*item);
        switch (stream->BackfillReceived(std::move(item), *ctx.buffer)) {
          case BackfillTarget::Delivery::kStreamNotBackfilling:
            stop = true;
            return storage::ScanControl::kYield;
          case BackfillTarget::Delivery::kBufferFull:
            buffer_full = true;
            break;
          case BackfillTarget::Delivery::kQueued:
            break;
        }
        ++items;
        bytes += size;
        // The clock every kClockCheckEvery items (and at the first): reading it per item was
        // 2% of a drain's backfill thread, and a run yields within milliseconds anyway.
        if (buffer_full || items >= ctx.scan_item_limit || bytes >= ctx.scan_byte_limit ||
            (items % kClockCheckEvery == 1 &&
             ctx.clock->Now() - run_start >= ctx.run_duration_limit)) {
          return storage::ScanControl::kYield;
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
  if (stop) {
    TransitionTo(State::kDone);
    return Result::kFinished;
  }
  if (done) {
    stream->CompleteBackfill(scan_end_);
    TransitionTo(State::kDone);
    return Result::kFinished;
  }
  if (buffer_full) stream->BackfillPaused();
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
