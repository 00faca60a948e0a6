#include "testing/fault_injecting_kvstore.h"

#include <string>

namespace sluice::storage {

void FaultInjector::FailNextWrites(uint64_t count, Errc code) {
  MutexLock lock(&mu_);
  pending_failures_ += count;
  code_ = code;
}

void FaultInjector::FailWritesUntilCleared(Errc code) {
  MutexLock lock(&mu_);
  fail_until_cleared_ = true;
  code_ = code;
}

void FaultInjector::FailOnlySynced(bool only_synced) {
  MutexLock lock(&mu_);
  only_synced_ = only_synced;
}

void FaultInjector::Clear() {
  MutexLock lock(&mu_);
  pending_failures_ = 0;
  fail_until_cleared_ = false;
}

FaultCounters FaultInjector::counters() const {
  MutexLock lock(&mu_);
  return counters_;
}

void FaultInjector::SetWriteHook(std::function<void(bool sync)> hook) {
  MutexLock lock(&mu_);
  hook_ = std::move(hook);
}

void FaultInjector::SetScanOpenHook(std::function<void()> hook) {
  MutexLock lock(&mu_);
  scan_open_hook_ = std::move(hook);
}

void FaultInjector::SetScanDocHook(std::function<void(const DiskDocView&)> hook) {
  MutexLock lock(&mu_);
  scan_doc_hook_ = std::move(hook);
}

std::function<void()> FaultInjector::scan_open_hook() const {
  MutexLock lock(&mu_);
  return scan_open_hook_;
}

std::function<void(const DiskDocView&)> FaultInjector::scan_doc_hook() const {
  MutexLock lock(&mu_);
  return scan_doc_hook_;
}

Status FaultInjector::OnWrite(bool sync) {
  std::function<void(bool)> hook;
  {
    MutexLock lock(&mu_);
    hook = hook_;
  }
  if (hook) hook(sync);
  MutexLock lock(&mu_);
  ++counters_.write_attempts;
  const bool armed = fail_until_cleared_ || pending_failures_ > 0;
  if (!armed || (only_synced_ && !sync)) {
    ++counters_.writes_passed;
    return Status::Ok();
  }
  if (pending_failures_ > 0) --pending_failures_;
  ++counters_.injected_failures;
  return Status(code_, code_ == Errc::kTempFail ? "injected fault: no space left on device"
                                                : "injected fault: I/O error");
}

FaultInjectingKVStore::FaultInjectingKVStore(std::unique_ptr<KVStore> inner,
                                             std::shared_ptr<FaultInjector> faults)
    : inner_(std::move(inner)), faults_(std::move(faults)) {}

Status FaultInjectingKVStore::Commit(const FlushBatch& batch, bool sync) {
  if (batch.empty()) return inner_->Commit(batch, sync);
  RETURN_IF_ERROR(faults_->OnWrite(sync));
  return inner_->Commit(batch, sync);
}

StatusOr<DiskDoc> FaultInjectingKVStore::Get(Vbid vbid, std::string_view key) {
  return inner_->Get(vbid, key);
}

StatusOr<DiskDoc> FaultInjectingKVStore::GetAtSeqno(Vbid vbid, uint64_t seqno,
                                                    std::string_view key) {
  return inner_->GetAtSeqno(vbid, seqno, key);
}

StatusOr<std::map<Vbid, VBucketStateRecord>> FaultInjectingKVStore::LoadVBucketStates() {
  return inner_->LoadVBucketStates();
}

Status FaultInjectingKVStore::SaveVBucketState(Vbid vbid, const VBucketStateRecord& state,
                                               bool sync) {
  RETURN_IF_ERROR(faults_->OnWrite(sync));
  return inner_->SaveVBucketState(vbid, state, sync);
}

namespace {

// A scan whose every delivered document first passes through the injector's doc hook.
class HookedSeqnoScan final : public SeqnoScan {
 public:
  HookedSeqnoScan(std::unique_ptr<SeqnoScan> inner, std::function<void(const DiskDocView&)> hook)
      : inner_(std::move(inner)), hook_(std::move(hook)) {}
  const VBucketStateRecord& state() const override { return inner_->state(); }
  uint64_t EstimateCount() const override { return inner_->EstimateCount(); }
  Status ScanViews(const std::function<ScanControl(const DiskDocView&)>& fn, bool* done) override {
    return inner_->ScanViews(
        [&](const DiskDocView& doc) {
          hook_(doc);
          return fn(doc);
        },
        done);
  }
  uint64_t last_seqno() const override { return inner_->last_seqno(); }

 private:
  const std::unique_ptr<SeqnoScan> inner_;
  const std::function<void(const DiskDocView&)> hook_;
};

}  // namespace

StatusOr<std::unique_ptr<SeqnoScan>> FaultInjectingKVStore::OpenSeqnoScan(Vbid vbid, uint64_t start,
                                                                          uint64_t end,
                                                                          ScanOptions options) {
  StatusOr<std::unique_ptr<SeqnoScan>> scan = inner_->OpenSeqnoScan(vbid, start, end, options);
  if (!scan.ok()) return scan;
  if (std::function<void()> hook = faults_->scan_open_hook()) hook();
  if (std::function<void(const DiskDocView&)> hook = faults_->scan_doc_hook()) {
    return std::unique_ptr<SeqnoScan>(std::make_unique<HookedSeqnoScan>(std::move(*scan), hook));
  }
  return scan;
}

Status FaultInjectingKVStore::DeleteVBucket(Vbid vbid) { return inner_->DeleteVBucket(vbid); }

StatusOr<RollbackResult> FaultInjectingKVStore::Rollback(Vbid vbid, uint64_t seqno) {
  RETURN_IF_ERROR(faults_->OnWrite(/*sync=*/true));
  return inner_->Rollback(vbid, seqno);
}

StatusOr<bool> FaultInjectingKVStore::HasCleanShutdownMarker() {
  return inner_->HasCleanShutdownMarker();
}

Status FaultInjectingKVStore::SetCleanShutdownMarker(bool clean) {
  return inner_->SetCleanShutdownMarker(clean);
}

KVStoreStats FaultInjectingKVStore::GetStats() const { return inner_->GetStats(); }

Status FaultInjectingKVStore::Close() { return inner_->Close(); }

}  // namespace sluice::storage
