#include "storage/rocksdb_kvstore.h"

#include <rocksdb/snapshot.h>
#include <rocksdb/transaction_log.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <unordered_map>

#include "common/logging.h"
#include "storage/disk_format.h"
#include "storage/rocksdb_key_order_scan.h"
#include "storage/rocksdb_options.h"
#include "storage/rocksdb_status.h"

namespace sluice::storage {
namespace {

std::string_view View(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

// The exclusive end of vbid's `seq` range: the next vbucket's prefix, or for vbid 0xffff a key
// above (0xffff, 2^64-1) — every `seq` key is exactly 10 bytes, so 10 x 0xff then 0x00 is above.
std::string SeqRangeEnd(Vbid vbid) {
  if (std::optional<std::string> end = VBucketPrefixEnd(vbid)) return *end;
  std::string end = SeqKey(vbid, std::numeric_limits<uint64_t>::max());
  end.push_back('\0');
  return end;
}

}  // namespace

StatusOr<std::unique_ptr<KVStore>> OpenRocksDBKVStore(const std::string& dir,
                                                      const RocksDBOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<RocksDBKVStore> store, RocksDBKVStore::Open(dir, options));
  return std::unique_ptr<KVStore>(std::move(store));
}

StatusOr<std::unique_ptr<RocksDBKVStore>> RocksDBKVStore::Open(const std::string& dir,
                                                               const RocksDBOptions& options) {
  std::error_code ec;
  if (options.read_only) {
    // RocksDB would create a missing directory even for a read-only open.
    if (!std::filesystem::is_directory(dir, ec)) {
      return Status(Errc::kIoError, "open " + dir + ": no such directory");
    }
  } else {
    std::filesystem::create_directories(dir, ec);
    if (ec) return Status(Errc::kIoError, "create " + dir + ": " + ec.message());
  }
  RocksDBSetup setup = MakeRocksDBSetup(options);
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  const rocksdb::Status s =
      options.read_only
          ? rocksdb::DB::OpenForReadOnly(setup.db, dir, setup.column_families, &handles, &raw)
          : rocksdb::DB::Open(setup.db, dir, setup.column_families, &handles, &raw);
  if (!s.ok()) return FromRocksDB(s, "open " + dir);
  std::unique_ptr<RocksDBKVStore> store(
      new RocksDBKVStore(dir, options.read_only, std::move(setup.block_cache),
                         std::unique_ptr<rocksdb::DB>(raw), std::move(handles),
                         {.retention_seconds = options.history_retention_seconds,
                          .retention_bytes = options.history_retention_bytes,
                          .now = options.history_clock},
                         options.midpoint_rollback_optimisation));
  if (!options.read_only) RETURN_IF_ERROR(store->history_.Load());
  return store;
}

RocksDBKVStore::RocksDBKVStore(std::string dir, bool read_only,
                               std::shared_ptr<rocksdb::Cache> block_cache,
                               std::unique_ptr<rocksdb::DB> db,
                               std::vector<rocksdb::ColumnFamilyHandle*> handles,
                               RocksDBHistory::Options history, bool midpoint_rollback)
    : dir_(std::move(dir)),
      read_only_(read_only),
      block_cache_(std::move(block_cache)),
      midpoint_rollback_(midpoint_rollback),
      db_(std::move(db)),
      handles_(std::move(handles)),
      seq_cf_(handles_.at(1)),
      key_cf_(handles_.at(2)),
      local_cf_(handles_.at(3)),
      history_cf_(handles_.at(4)),
      history_(db_.get(), history_cf_, std::move(history)) {}

RocksDBKVStore::~RocksDBKVStore() {
  if (closed_.load(std::memory_order_acquire)) return;
  const uint64_t open_scans = scan_counters_.open.load(std::memory_order_relaxed);
  if (open_scans > 0) {
    // A scan would release its snapshot into a destroyed DB: a use-after-free waiting to happen.
    LOG_CRITICAL("storage {}: destroyed with {} scan(s) still open", dir_, open_scans);
    std::abort();
  }
  if (Status s = Close(); !s.ok()) {
    LOG_WARN("storage {}: close on destruction: {}", dir_, s.ToString());
  }
}

Status RocksDBKVStore::CheckOpen() const {
  if (closed_.load(std::memory_order_acquire)) return Status(Errc::kCancelled, "store closed");
  return Status::Ok();
}

Status RocksDBKVStore::CheckWritable() const {
  RETURN_IF_ERROR(CheckOpen());
  if (read_only_) return Status(Errc::kNotSupported, "store opened read-only");
  return Status::Ok();
}

Status RocksDBKVStore::Write(rocksdb::WriteBatch* batch, bool sync, std::string_view context) {
  if (write_failed_.load(std::memory_order_relaxed)) {
    // A failed write (typically a full disk) leaves RocksDB refusing writes until resumed.
    // Resume() is a no-op when there is nothing to recover and Busy while RocksDB's own
    // recovery runs; either way its answer is this write's answer.
    const rocksdb::Status resumed = db_->Resume();
    if (!resumed.ok()) return FromRocksDB(resumed, std::string(context) + ": resume");
  }
  rocksdb::WriteOptions options;
  options.sync = sync;
  const rocksdb::Status s = db_->Write(options, batch);
  write_failed_.store(!s.ok(), std::memory_order_relaxed);
  if (!s.ok()) return FromRocksDB(s, context);
  bytes_written_.fetch_add(batch->GetDataSize(), std::memory_order_relaxed);
  return Status::Ok();
}

Status RocksDBKVStore::Commit(const FlushBatch& batch, bool sync) {
  RETURN_IF_ERROR(CheckWritable());
  if (batch.empty()) return Status::Ok();
  commits_.fetch_add(1, std::memory_order_relaxed);
  auto fail = [this](Status s) {
    commit_failures_.fetch_add(1, std::memory_order_relaxed);
    return s;
  };

  // Validate, and encode every document's `key` key.
  const std::vector<DiskDoc>& docs = batch.docs();
  std::vector<std::string> key_keys;
  key_keys.reserve(docs.size());
  std::unordered_map<Vbid, uint64_t> last_seqno;
  for (const DiskDoc& doc : docs) {
    if (doc.key.empty()) return fail(Status(Errc::kInvalid, "commit: empty key"));
    if (doc.seqno == 0) return fail(Status(Errc::kInvalid, "commit: seqno 0"));
    auto [it, inserted] = last_seqno.try_emplace(doc.vbid, doc.seqno);
    if (!inserted) {
      if (doc.seqno <= it->second) {
        return fail(Status(Errc::kInvalid,
                           "commit: seqnos not increasing in vb:" + std::to_string(doc.vbid)));
      }
      it->second = doc.seqno;
    }
    key_keys.push_back(doc.prepared ? PrepareKeyKey(doc.vbid, doc.key) : KeyKey(doc.vbid, doc.key));
  }
  // Prepares resolved in this batch: the newest removal of each prepare key.
  std::unordered_map<std::string, uint64_t> removed;
  for (const PrepareRemoval& r : batch.removals()) {
    uint64_t& seqno = removed[PrepareKeyKey(r.vbid, r.key)];
    seqno = std::max(seqno, r.seqno);
  }

  // Only the last version of each key is written; earlier ones never reach disk.
  std::unordered_map<std::string_view, size_t> last_version;
  last_version.reserve(docs.size());
  for (size_t i = 0; i < docs.size(); ++i) last_version[key_keys[i]] = i;
  std::vector<size_t> winners;
  winners.reserve(last_version.size());
  for (size_t i = 0; i < docs.size(); ++i) {
    if (last_version[key_keys[i]] != i) continue;
    auto gone = removed.find(key_keys[i]);
    if (gone != removed.end()) {
      // A prepare newer than its key's removal stays (and replaces the one on disk, found
      // below); one the removal resolved never reaches disk.
      if (docs[i].seqno < gone->second) continue;
      removed.erase(gone);
    }
    winners.push_back(i);
  }

  // Where does each key's previous version live? The caller usually knows (previous_seqno);
  // only unknown ones are read from the `key` column family, in one MultiGet.
  rocksdb::WriteBatch wb;
  std::vector<size_t> unknown;  // indexes into winners
  std::vector<Replaced> replaced;
  // All deletes before all puts: a delete never hides a put of this batch.
  for (size_t w = 0; w < winners.size(); ++w) {
    const DiskDoc& doc = docs[winners[w]];
    if (doc.previous_seqno == DiskDoc::kUnknownPreviousSeqno) {
      unknown.push_back(w);
    } else if (doc.previous_seqno != DiskDoc::kNoPreviousVersion &&
               doc.previous_seqno != doc.seqno) {
      wb.Delete(seq_cf_, SeqKey(doc.vbid, doc.previous_seqno));
      replaced.push_back({doc.vbid, doc.previous_seqno, doc.seqno, doc.prepared});
    }
  }
  if (!unknown.empty()) {
    std::vector<rocksdb::Slice> lookup;
    lookup.reserve(unknown.size());
    for (size_t w : unknown) lookup.emplace_back(key_keys[winners[w]]);
    std::vector<rocksdb::PinnableSlice> previous(unknown.size());
    std::vector<rocksdb::Status> found(unknown.size());
    db_->MultiGet(rocksdb::ReadOptions(), key_cf_, lookup.size(), lookup.data(), previous.data(),
                  found.data());
    for (size_t u = 0; u < unknown.size(); ++u) {
      if (found[u].IsNotFound()) continue;
      if (!found[u].ok()) return fail(FromRocksDB(found[u], "commit: key lookup"));
      StatusOr<KeyEntry> entry = DecodeKeyEntry(View(previous[u]));
      if (!entry.ok()) return fail(entry.status());
      const DiskDoc& doc = docs[winners[unknown[u]]];
      if (entry->seqno != doc.seqno) {
        wb.Delete(seq_cf_, SeqKey(doc.vbid, entry->seqno));
        replaced.push_back({doc.vbid, entry->seqno, doc.seqno, doc.prepared});
      }
    }
  }
  if (Status s = RemovePrepares(removed, &wb, &replaced); !s.ok()) return fail(std::move(s));
  RocksDBHistory::Pending history;
  if (history_.enabled()) {
    if (Status s = AddHistory(batch, replaced, &wb, &history); !s.ok()) return fail(std::move(s));
  }
  for (size_t i : winners) {
    const DiskDoc& doc = docs[i];
    wb.Put(seq_cf_, SeqKey(doc.vbid, doc.seqno), EncodeDoc(doc));
    wb.Put(key_cf_, key_keys[i], EncodeKeyEntry({.seqno = doc.seqno, .deleted = doc.deleted}));
  }
  for (const auto& [vbid, state] : batch.states()) {
    wb.Put(local_cf_, VBucketStateKey(vbid), EncodeVBucketState(state));
  }

  if (Status s = Write(&wb, sync, "commit"); !s.ok()) return fail(std::move(s));
  history_.Apply(history);
  docs_written_.fetch_add(winners.size(), std::memory_order_relaxed);
  return Status::Ok();
}

Status RocksDBKVStore::AddHistory(const FlushBatch& batch, const std::vector<Replaced>& replaced,
                                  rocksdb::WriteBatch* wb, RocksDBHistory::Pending* pending) {
  if (!replaced.empty()) {
    // The replaced versions' `seq` values, in one MultiGet (the deletes above are only in *wb).
    std::vector<std::string> keys;
    keys.reserve(replaced.size());
    for (const Replaced& r : replaced) keys.push_back(SeqKey(r.vbid, r.old_seqno));
    std::vector<rocksdb::Slice> lookup(keys.begin(), keys.end());
    std::vector<rocksdb::PinnableSlice> values(keys.size());
    std::vector<rocksdb::Status> found(keys.size());
    db_->MultiGet(rocksdb::ReadOptions(), seq_cf_, lookup.size(), lookup.data(), values.data(),
                  found.data());
    for (size_t i = 0; i < replaced.size(); ++i) {
      if (found[i].IsNotFound()) continue;  // nothing to keep (a key entry without its doc)
      if (!found[i].ok()) return FromRocksDB(found[i], "commit: history read");
      const Replaced& r = replaced[i];
      history_.AddVersion(r.vbid, r.at, r.prepare, r.old_seqno, View(values[i]), wb, pending);
    }
  }
  // One boundary per vbucket written: its new state, or (no state in the batch) its last seqno.
  std::map<Vbid, VBucketStateRecord> ends = batch.states();
  for (const DiskDoc& doc : batch.docs()) {
    auto [it, inserted] = ends.try_emplace(doc.vbid);
    if (inserted || batch.states().count(doc.vbid) == 0) {
      it->second.high_seqno = std::max(it->second.high_seqno, doc.seqno);
      it->second.snap_start = it->second.snap_end = it->second.high_seqno;
    }
  }
  for (const auto& [vbid, state] : ends) history_.AddBoundary(vbid, state, wb, pending);
  return Status::Ok();
}

Status RocksDBKVStore::RemovePrepares(const std::unordered_map<std::string, uint64_t>& removed,
                                      rocksdb::WriteBatch* wb, std::vector<Replaced>* replaced) {
  for (const auto& [prepare_key, seqno] : removed) {
    rocksdb::PinnableSlice value;
    const rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), key_cf_, prepare_key, &value);
    if (s.IsNotFound()) continue;  // never persisted
    if (!s.ok()) return FromRocksDB(s, "commit: prepare lookup");
    ASSIGN_OR_RETURN(const KeyEntry entry, DecodeKeyEntry(View(value)));
    // The prepare key's first two bytes are vbid | kPrepareNamespaceBit.
    const auto vbid = static_cast<Vbid>(
        ((static_cast<uint8_t>(prepare_key[0]) << 8) | static_cast<uint8_t>(prepare_key[1])) &
        ~kPrepareNamespaceBit);
    wb->Delete(seq_cf_, SeqKey(vbid, entry.seqno));
    wb->Delete(key_cf_, prepare_key);
    replaced->push_back({vbid, entry.seqno, seqno, /*prepare=*/true});
  }
  return Status::Ok();
}

Status RocksDBKVStore::GetAt(const rocksdb::Snapshot* snapshot, Vbid vbid, std::string_view key,
                             DiskDoc* doc, bool* moved) {
  *moved = false;
  rocksdb::ReadOptions read;
  read.snapshot = snapshot;
  rocksdb::PinnableSlice value;
  rocksdb::Status s = db_->Get(read, key_cf_, KeyKey(vbid, key), &value);
  if (!s.ok()) return FromRocksDB(s, "get: key");
  ASSIGN_OR_RETURN(const KeyEntry entry, DecodeKeyEntry(View(value)));

  value.Reset();
  s = db_->Get(read, seq_cf_, SeqKey(vbid, entry.seqno), &value);
  if (s.IsNotFound()) {
    *moved = true;
    return Status(Errc::kCorruption, "get: key entry points at a missing seq entry");
  }
  if (!s.ok()) return FromRocksDB(s, "get: seq");
  RETURN_IF_ERROR(DecodeDoc(View(value), /*key_only=*/false, doc));
  if (doc->key != key) return Status(Errc::kCorruption, "get: seq entry holds another key");
  doc->vbid = vbid;
  doc->seqno = entry.seqno;
  return Status::Ok();
}

StatusOr<DiskDoc> RocksDBKVStore::Get(Vbid vbid, std::string_view key) {
  RETURN_IF_ERROR(CheckOpen());
  gets_.fetch_add(1, std::memory_order_relaxed);
  DiskDoc doc;
  bool moved = false;
  // Without a snapshot first (the common case). A commit between the two reads may have moved
  // the key to a new seqno; then read both through one snapshot, where a missing seq entry is
  // real corruption.
  Status s = GetAt(nullptr, vbid, key, &doc, &moved);
  if (moved) {
    rocksdb::ManagedSnapshot snapshot(db_.get());
    s = GetAt(snapshot.snapshot(), vbid, key, &doc, &moved);
  }
  if (!s.ok()) return s;
  return doc;
}

StatusOr<DiskDoc> RocksDBKVStore::GetAtSeqno(Vbid vbid, uint64_t seqno, std::string_view key) {
  RETURN_IF_ERROR(CheckOpen());
  gets_.fetch_add(1, std::memory_order_relaxed);
  rocksdb::PinnableSlice value;
  const rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), seq_cf_, SeqKey(vbid, seqno), &value);
  if (!s.ok()) return FromRocksDB(s, "get at seqno");
  DiskDoc doc;
  RETURN_IF_ERROR(DecodeDoc(View(value), /*key_only=*/false, &doc));
  // A prepare is not a version of the key (Get reads the committed namespace only).
  if (doc.key != key || doc.prepared) {
    return Status(Errc::kNotFound, "get at seqno: the entry holds another key or a prepare");
  }
  doc.vbid = vbid;
  doc.seqno = seqno;
  return doc;
}

StatusOr<std::map<Vbid, VBucketStateRecord>> RocksDBKVStore::LoadVBucketStates() {
  RETURN_IF_ERROR(CheckOpen());
  std::map<Vbid, VBucketStateRecord> states;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), local_cf_));
  for (it->Seek(rocksdb::Slice(kVBucketStatePrefix.data(), kVBucketStatePrefix.size()));
       it->Valid() && View(it->key()).starts_with(kVBucketStatePrefix); it->Next()) {
    const std::optional<Vbid> vbid = ParseVBucketStateKey(View(it->key()));
    if (!vbid) {
      return Status(Errc::kCorruption, "local: bad state key " + it->key().ToString(true));
    }
    ASSIGN_OR_RETURN(VBucketStateRecord state, DecodeVBucketState(View(it->value())));
    states.emplace(*vbid, std::move(state));
  }
  if (!it->status().ok()) return FromRocksDB(it->status(), "load vbucket states");
  return states;
}

Status RocksDBKVStore::SaveVBucketState(Vbid vbid, const VBucketStateRecord& state, bool sync) {
  RETURN_IF_ERROR(CheckWritable());
  rocksdb::WriteBatch wb;
  wb.Put(local_cf_, VBucketStateKey(vbid), EncodeVBucketState(state));
  return Write(&wb, sync, "save vbucket state");
}

StatusOr<std::unique_ptr<SeqnoScan>> RocksDBKVStore::OpenSeqnoScan(Vbid vbid, uint64_t start,
                                                                   uint64_t end,
                                                                   ScanOptions options) {
  RETURN_IF_ERROR(CheckOpen());
  // Snapshot first, then the state from it: the state and the documents agree (the invariant "one
  // snapshot per scan").
  const rocksdb::Snapshot* snapshot = db_->GetSnapshot();
  rocksdb::ReadOptions read;
  read.snapshot = snapshot;
  rocksdb::PinnableSlice value;
  const rocksdb::Status s = db_->Get(read, local_cf_, VBucketStateKey(vbid), &value);
  VBucketStateRecord state;
  if (s.ok()) {
    StatusOr<VBucketStateRecord> decoded = DecodeVBucketState(View(value));
    if (!decoded.ok()) {
      db_->ReleaseSnapshot(snapshot);
      return decoded.status();
    }
    state = std::move(decoded).value();
  } else if (!s.IsNotFound()) {
    db_->ReleaseSnapshot(snapshot);
    return FromRocksDB(s, "open scan: state");
  }
  scans_opened_.fetch_add(1, std::memory_order_relaxed);
  const uint64_t clamped_end = std::min(end, state.high_seqno);
  if (options.key_order) {
    return std::unique_ptr<SeqnoScan>(std::make_unique<RocksDBKeyOrderScan>(
        db_.get(), seq_cf_, key_cf_, snapshot, &scan_counters_, vbid, start, clamped_end, options,
        std::move(state)));
  }
  return std::unique_ptr<SeqnoScan>(
      std::make_unique<RocksDBSeqnoScan>(db_.get(), seq_cf_, snapshot, &scan_counters_, vbid, start,
                                         clamped_end, options, std::move(state)));
}

Status RocksDBKVStore::DeleteKeyEntries(Vbid vbid, rocksdb::WriteBatch* batch) {
  const std::string begin = VBucketPrefix(vbid);
  if (std::optional<std::string> end = VBucketPrefixEnd(vbid)) {
    return FromRocksDB(batch->DeleteRange(key_cf_, begin, *end), "delete vbucket: key range");
  }
  // vbid 0xffff: document keys have no length bound, so no key is above every key of this
  // prefix. Delete the entries one by one instead.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), key_cf_));
  for (it->Seek(begin); it->Valid() && View(it->key()).starts_with(begin); it->Next()) {
    RETURN_IF_ERROR(FromRocksDB(batch->Delete(key_cf_, it->key()), "delete vbucket: key"));
  }
  return FromRocksDB(it->status(), "delete vbucket: key scan");
}

Status RocksDBKVStore::DeleteVBucket(Vbid vbid) {
  RETURN_IF_ERROR(CheckWritable());
  rocksdb::WriteBatch wb;
  RETURN_IF_ERROR(FromRocksDB(wb.DeleteRange(seq_cf_, VBucketPrefix(vbid), SeqRangeEnd(vbid)),
                              "delete vbucket: seq range"));
  RETURN_IF_ERROR(DeleteKeyEntries(vbid, &wb));
  if (vbid < kPrepareNamespaceBit) {
    RETURN_IF_ERROR(DeleteKeyEntries(static_cast<Vbid>(vbid | kPrepareNamespaceBit), &wb));
  }
  wb.Delete(local_cf_, VBucketStateKey(vbid));
  RocksDBHistory::Pending history;
  if (vbid < kPrepareNamespaceBit) history_.DropVBucket(vbid, &wb, &history);
  RETURN_IF_ERROR(Write(&wb, /*sync=*/true, "delete vbucket"));
  history_.Apply(history);
  return Status::Ok();
}

StatusOr<RollbackResult> RocksDBKVStore::Rollback(Vbid vbid, uint64_t seqno) {
  RETURN_IF_ERROR(CheckWritable());
  if (vbid >= kPrepareNamespaceBit) return Status(Errc::kInvalid, "rollback: bad vbid");
  rocksdb::PinnableSlice value;
  const rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), local_cf_, VBucketStateKey(vbid), &value);
  if (s.IsNotFound()) return Status(Errc::kNotFound, "rollback: no such vbucket on disk");
  if (!s.ok()) return FromRocksDB(s, "rollback: state");
  ASSIGN_OR_RETURN(VBucketStateRecord state, DecodeVBucketState(View(value)));
  if (seqno >= state.high_seqno) {
    return Status(Errc::kInvalid, "rollback: " + std::to_string(seqno) +
                                      " is not below the persisted high seqno " +
                                      std::to_string(state.high_seqno));
  }
  const std::optional<HistoryBoundary> boundary =
      seqno == 0 || !history_.enabled() ? std::nullopt : history_.BoundaryAtOrBelow(vbid, seqno);
  if (!boundary || boundary->seqno == 0) {
    return Status(Errc::kNotFound,
                  "rollback to " + std::to_string(seqno) +
                      " is below the history window of vb:" + std::to_string(vbid));
  }
  RollbackResult result;
  result.seqno = boundary->seqno;
  rocksdb::WriteBatch wb;
  RETURN_IF_ERROR(RollbackDocs(vbid, boundary->seqno, &wb, &result));
  if (midpoint_rollback_) {
    // kv_engine's midpoint rule (couch-kvstore): reset when T / 2 <= D, with T the entries and D
    // those above the boundary; T = B + D (B at or below it), so it holds exactly when B <= D + 1
    // and counting B stops at D + 2.
    const uint64_t discard = result.items_rolled_back;
    ASSIGN_OR_RETURN(const uint64_t kept, CountSeqEntries(vbid, boundary->seqno, discard + 2));
    if (kept <= discard + 1) {
      return Status(Errc::kNotFound,
                    fmt::format("rollback of vb:{} to seqno {} would discard {} of its {} items "
                                "on disk, at least half (midpoint_rollback_optimisation)",
                                vbid, boundary->seqno, discard, kept + discard));
    }
  }
  RocksDBHistory::Pending history;
  history_.DropAbove(vbid, boundary->seqno, &wb, &history);

  state.high_seqno = boundary->seqno;
  state.snap_start = std::min(boundary->snap_start, boundary->seqno);
  state.snap_end = std::max(boundary->snap_end, boundary->seqno);
  state.purge_seqno = std::min(state.purge_seqno, boundary->seqno);
  // Failover entries above the boundary describe history that is gone (kept: the oldest one).
  while (state.failover.size() > 1 && state.failover.front().seqno > boundary->seqno) {
    state.failover.erase(state.failover.begin());
  }
  wb.Put(local_cf_, VBucketStateKey(vbid), EncodeVBucketState(state));
  RETURN_IF_ERROR(Write(&wb, /*sync=*/true, "rollback"));
  history_.Apply(history);
  result.state = std::move(state);
  return result;
}

Status RocksDBKVStore::RollbackDocs(Vbid vbid, uint64_t boundary, rocksdb::WriteBatch* wb,
                                    RollbackResult* result) {
  // Per key changed after the boundary (by its `key` key): the version first replaced after it,
  // which is the one the key had at the boundary (unless that version is itself newer: then the
  // key did not exist there).
  std::unordered_map<std::string, DiskDoc> restore;
  RETURN_IF_ERROR(history_.ForEachVersionAbove(
      vbid, boundary, [&](bool prepare, uint64_t old_seqno, std::string_view doc_value) -> Status {
        DiskDoc doc;
        RETURN_IF_ERROR(DecodeDoc(doc_value, /*key_only=*/false, &doc));
        doc.vbid = vbid;
        doc.seqno = old_seqno;
        std::string key_key = prepare ? PrepareKeyKey(vbid, doc.key) : KeyKey(vbid, doc.key);
        restore.try_emplace(std::move(key_key), std::move(doc));
        return Status::Ok();
      }));
  // Every `seq` entry above the boundary goes, and so does its key's `key` entry unless a version
  // at or below the boundary comes back.
  const std::string begin = SeqKey(vbid, boundary + 1);
  const std::string end = SeqRangeEnd(vbid);
  rocksdb::ReadOptions read;
  const rocksdb::Slice upper(end);
  read.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, seq_cf_));
  for (it->Seek(begin); it->Valid(); it->Next()) {
    DiskDocView doc;
    RETURN_IF_ERROR(DecodeDocView(View(it->value()), /*key_only=*/true, &doc));
    const std::string key_key = doc.prepared ? PrepareKeyKey(vbid, doc.key) : KeyKey(vbid, doc.key);
    auto found = restore.find(key_key);
    if (found == restore.end() || found->second.seqno > boundary) wb->Delete(key_cf_, key_key);
    ++result->items_rolled_back;
  }
  RETURN_IF_ERROR(FromRocksDB(it->status(), "rollback: seq scan"));
  RETURN_IF_ERROR(FromRocksDB(wb->DeleteRange(seq_cf_, begin, end), "rollback: seq range"));
  for (const auto& [key_key, doc] : restore) {
    if (doc.seqno > boundary) continue;  // created after the boundary: removed above
    wb->Put(seq_cf_, SeqKey(vbid, doc.seqno), EncodeDoc(doc));
    wb->Put(key_cf_, key_key, EncodeKeyEntry({.seqno = doc.seqno, .deleted = doc.deleted}));
    ++result->items_restored;
  }
  return Status::Ok();
}

StatusOr<uint64_t> RocksDBKVStore::CountSeqEntries(Vbid vbid, uint64_t seqno, uint64_t limit) {
  const std::string begin = SeqKey(vbid, 0);
  const std::string end = SeqKey(vbid, seqno + 1);
  rocksdb::ReadOptions read;
  const rocksdb::Slice upper(end);
  read.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, seq_cf_));
  uint64_t n = 0;
  for (it->Seek(begin); it->Valid() && n < limit; it->Next()) ++n;
  RETURN_IF_ERROR(FromRocksDB(it->status(), "rollback: seq count"));
  return n;
}

StatusOr<bool> RocksDBKVStore::HasCleanShutdownMarker() {
  RETURN_IF_ERROR(CheckOpen());
  rocksdb::PinnableSlice value;
  const rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), local_cf_,
               rocksdb::Slice(kCleanShutdownKey.data(), kCleanShutdownKey.size()), &value);
  if (s.IsNotFound()) return false;
  if (!s.ok()) return FromRocksDB(s, "clean shutdown marker");
  if (View(value) != kCleanShutdownValue) {
    return Status(Errc::kCorruption, "clean shutdown marker: unexpected value");
  }
  return true;
}

Status RocksDBKVStore::SetCleanShutdownMarker(bool clean) {
  RETURN_IF_ERROR(CheckWritable());
  const rocksdb::Slice key(kCleanShutdownKey.data(), kCleanShutdownKey.size());
  rocksdb::WriteBatch wb;
  if (clean) {
    wb.Put(local_cf_, key, rocksdb::Slice(kCleanShutdownValue.data(), kCleanShutdownValue.size()));
  } else {
    wb.Delete(local_cf_, key);
  }
  return Write(&wb, /*sync=*/true, "clean shutdown marker");
}

uint64_t RocksDBKVStore::DiskSize() const {
  uint64_t total = 0;
  uint64_t sst = 0;
  if (db_->GetAggregatedIntProperty("rocksdb.total-sst-files-size", &sst)) total += sst;
  rocksdb::VectorLogPtr wal_files;
  // Best effort: a WAL file may be deleted while listed, and read-only DBs do not list them.
  if (db_->GetSortedWalFiles(wal_files).ok()) {
    for (const auto& file : wal_files) total += file->SizeFileBytes();
  }
  return total;
}

KVStoreStats RocksDBKVStore::GetStats() const {
  KVStoreStats stats;
  stats.commits = commits_.load(std::memory_order_relaxed);
  stats.commit_failures = commit_failures_.load(std::memory_order_relaxed);
  stats.docs_written = docs_written_.load(std::memory_order_relaxed);
  stats.bytes_written = bytes_written_.load(std::memory_order_relaxed);
  stats.gets = gets_.load(std::memory_order_relaxed);
  stats.scans_opened = scans_opened_.load(std::memory_order_relaxed);
  stats.scan_docs = scan_counters_.docs.load(std::memory_order_relaxed);
  stats.open_scans = scan_counters_.open.load(std::memory_order_relaxed);
  if (CheckOpen().ok()) stats.disk_size = DiskSize();
  stats.history_bytes = history_.bytes();
  stats.history_versions = history_.versions_written();
  stats.history_trims = history_.trims();
  return stats;
}

Status RocksDBKVStore::Close() {
  MutexLock lock(&close_mu_);
  if (close_done_) return Status::Ok();
  const uint64_t open_scans = scan_counters_.open.load(std::memory_order_relaxed);
  if (open_scans > 0) {
    return Status(Errc::kInternal, "close: " + std::to_string(open_scans) + " scan(s) still open");
  }
  // Refuse new calls from here on (none should be running: KVStore's rule "Close last").
  closed_.store(true, std::memory_order_release);

  Status result;
  auto keep_first = [&result](const rocksdb::Status& s, std::string_view context) {
    if (!s.ok() && result.ok()) result = FromRocksDB(s, context);
  };
  if (!read_only_) {
    // Sync the WAL first so that everything written is durable even if the flush fails, then
    // flush the memtables so the next open has no WAL to replay.
    keep_first(db_->SyncWAL(), "close: sync WAL");
    rocksdb::FlushOptions flush;
    flush.wait = true;
    keep_first(db_->Flush(flush, {seq_cf_, key_cf_, local_cf_, history_cf_}), "close: flush");
  }
  for (rocksdb::ColumnFamilyHandle* handle : handles_) {
    keep_first(db_->DestroyColumnFamilyHandle(handle), "close: column family handle");
  }
  handles_.clear();
  keep_first(db_->Close(), "close");
  db_.reset();
  close_done_ = true;
  if (!result.ok()) LOG_WARN("storage {}: {}", dir_, result.ToString());
  return result;
}

}  // namespace sluice::storage
