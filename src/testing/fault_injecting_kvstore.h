// File: testing/fault_injecting_kvstore.h
//
// FaultInjectingKVStore: a test seam. A KVStore decorator that forwards every call to the store
// it wraps, except that the write calls (Commit, SaveVBucketState) fail while a fault is armed in
// its FaultInjector, exactly as a real store fails: with an error and nothing written. It lets
// engine tests (flusher, bucket) reproduce a disk that is full (Errc::kTempFail, what the RocksDB
// store answers for ENOSPC) or broken (Errc::kIoError, a write or fsync error) without a real
// device, and count how often the engine tried.
//
//   FaultInjector::FailNextWrites(n, code)   the next n write calls fail with `code`
//   FaultInjector::FailWritesUntilCleared(code)   every write call fails until Clear()
//   FaultInjector::FailOnlySynced(true)   only writes asked to fsync fail (a sync error)
//   FaultInjector::SetScanOpenHook(fn)    fn() runs once a SeqnoScan's snapshot is open, before
//                                         the scan is returned ("while the snapshot was opened")
//   FaultInjector::SetScanDocHook(fn)     fn(doc) runs for every document a scan delivers, before
//                                         the caller sees it; it may throw (a failing decoder)
//
// Ownership: the decorator owns the wrapped store (unique_ptr) and shares the FaultInjector with
// the test (shared_ptr: the test arms and clears faults and reads the counters after handing the
// store to a Bucket, which owns the store from then on). Production code never builds one.
//
// Thread safety: thread-safe. FaultInjector is internally locked; the decorator adds no state of
// its own and keeps the wrapped store's threading rules (storage/kvstore.h).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "common/mutex.h"
#include "storage/kvstore.h"

namespace sluice::storage {

// What a FaultInjector has seen (counts over write calls: Commit and SaveVBucketState).
struct FaultCounters {
  uint64_t write_attempts = 0;  // write calls that reached the decorator
  uint64_t injected_failures = 0;
  uint64_t writes_passed = 0;  // forwarded to the wrapped store (which may still fail)
};

class FaultInjector {
 public:
  // The next `count` write calls fail with `code` (added to any failures still pending).
  void FailNextWrites(uint64_t count, Errc code) EXCLUDES(mu_);
  // Every write call fails with `code` until Clear().
  void FailWritesUntilCleared(Errc code) EXCLUDES(mu_);
  // true: only write calls with sync = true are failed (the faults above still count them).
  void FailOnlySynced(bool only_synced) EXCLUDES(mu_);
  // Disarms every fault (the hook stays).
  void Clear() EXCLUDES(mu_);
  // Calls `hook(sync)` at the start of every write call, on the writing thread, without any lock
  // of the injector held (a test acts "while a commit is in progress"). Empty: no hook.
  void SetWriteHook(std::function<void(bool sync)> hook) EXCLUDES(mu_);
  // Scan hooks (see the file comment); run on the scanning thread without the injector's lock.
  void SetScanOpenHook(std::function<void()> hook) EXCLUDES(mu_);
  void SetScanDocHook(std::function<void(const DiskDocView&)> hook) EXCLUDES(mu_);
  std::function<void()> scan_open_hook() const EXCLUDES(mu_);
  std::function<void(const DiskDocView&)> scan_doc_hook() const EXCLUDES(mu_);

  FaultCounters counters() const EXCLUDES(mu_);

  // Called by the decorator for each write: the error to return, or OK to forward the call.
  Status OnWrite(bool sync) EXCLUDES(mu_);

 private:
  mutable Mutex mu_;
  uint64_t pending_failures_ GUARDED_BY(mu_) = 0;
  bool fail_until_cleared_ GUARDED_BY(mu_) = false;
  bool only_synced_ GUARDED_BY(mu_) = false;
  Errc code_ GUARDED_BY(mu_) = Errc::kIoError;
  std::function<void(bool)> hook_ GUARDED_BY(mu_);
  std::function<void()> scan_open_hook_ GUARDED_BY(mu_);
  std::function<void(const DiskDocView&)> scan_doc_hook_ GUARDED_BY(mu_);
  FaultCounters counters_ GUARDED_BY(mu_);
};

class FaultInjectingKVStore final : public KVStore {
 public:
  FaultInjectingKVStore(std::unique_ptr<KVStore> inner, std::shared_ptr<FaultInjector> faults);

  Status Commit(const FlushBatch& batch, bool sync) override;
  StatusOr<DiskDoc> Get(Vbid vbid, std::string_view key) override;
  StatusOr<DiskDoc> GetAtSeqno(Vbid vbid, uint64_t seqno, std::string_view key) override;
  StatusOr<std::map<Vbid, VBucketStateRecord>> LoadVBucketStates() override;
  Status SaveVBucketState(Vbid vbid, const VBucketStateRecord& state, bool sync) override;
  StatusOr<std::unique_ptr<SeqnoScan>> OpenSeqnoScan(Vbid vbid, uint64_t start, uint64_t end,
                                                     ScanOptions options) override;
  Status DeleteVBucket(Vbid vbid) override;
  // A write: a failure injected for writes fails it too.
  StatusOr<RollbackResult> Rollback(Vbid vbid, uint64_t seqno) override;
  StatusOr<bool> HasCleanShutdownMarker() override;
  Status SetCleanShutdownMarker(bool clean) override;
  KVStoreStats GetStats() const override;
  Status Close() override;

 private:
  const std::unique_ptr<KVStore> inner_;
  const std::shared_ptr<FaultInjector> faults_;
};

}  // namespace sluice::storage
