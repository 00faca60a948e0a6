#include "storage/rocksdb_history.h"

#include <algorithm>
#include <chrono>

#include "common/logging.h"
#include "storage/disk_format.h"
#include "storage/rocksdb_status.h"

namespace sluice::storage {
namespace {

constexpr size_t kMaxVBuckets = kPrepareNamespaceBit;  // vbids stay below the prepare bit

}  // namespace

RocksDBHistory::RocksDBHistory(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf, Options options)
    : db_(db), cf_(cf), options_(std::move(options)), windows_(kMaxVBuckets) {}

uint64_t RocksDBHistory::Now() const {
  if (options_.now) return options_.now();
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

Status RocksDBHistory::Load() {
  if (!enabled()) {
    // History written while it was enabled would have gaps now: drop it all.
    rocksdb::WriteBatch wb;
    wb.DeleteRange(cf_, std::string(1, '\0'), std::string(2, '\xff'));
    return FromRocksDB(db_->Write(rocksdb::WriteOptions(), &wb), "history: drop");
  }
  const std::string begin(1, kHistoryBoundaryTag);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf_));
  uint64_t total = 0;
  for (it->Seek(begin); it->Valid() && it->key().ToStringView().starts_with(begin); it->Next()) {
    char tag;
    Vbid vbid;
    bool prepare;
    HistoryBoundary b;
    if (!DecodeHistoryKey(it->key().ToStringView(), &tag, &vbid, &b.seqno, &prepare) ||
        vbid >= kMaxVBuckets) {
      return Status(Errc::kCorruption, "history: bad boundary key " + it->key().ToString(true));
    }
    RETURN_IF_ERROR(DecodeHistoryBoundary(it->value().ToStringView(), &b.time, &b.bytes,
                                          &b.snap_start, &b.snap_end));
    windows_[vbid].push_back(b);  // keys sort by (vbid, seqno): oldest first
    total += b.bytes;
  }
  RETURN_IF_ERROR(FromRocksDB(it->status(), "history: load"));
  total_bytes_.store(total, std::memory_order_relaxed);
  return Status::Ok();
}

void RocksDBHistory::AddVersion(Vbid vbid, uint64_t replaced_at, bool prepare, uint64_t old_seqno,
                                std::string_view old_value, rocksdb::WriteBatch* wb,
                                Pending* pending) const {
  const std::string value = EncodeHistoryVersion(old_seqno, old_value);
  wb->Put(cf_, HistoryVersionKey(vbid, replaced_at, prepare), value);
  const uint64_t bytes = value.size() + 12;
  auto it = std::find_if(pending->added_.begin(), pending->added_.end(),
                         [vbid](const auto& a) { return a.first == vbid; });
  if (it == pending->added_.end()) {
    pending->added_.emplace_back(vbid, bytes);
  } else {
    it->second += bytes;
  }
  ++pending->versions_;
}

void RocksDBHistory::AddBoundary(Vbid vbid, const VBucketStateRecord& state,
                                 rocksdb::WriteBatch* wb, Pending* pending) const {
  const Window& w = window(vbid);
  uint64_t added = 0;
  for (const auto& [v, bytes] : pending->added_) {
    if (v == vbid) added += bytes;
  }
  // Nothing new (a state change), or nothing at all: a rollback to 0 is a reset.
  if (state.high_seqno == 0 || (!w.empty() && state.high_seqno <= w.back().seqno)) return;
  HistoryBoundary b{.seqno = state.high_seqno,
                    .time = Now(),
                    .bytes = added,
                    .snap_start = state.snap_start,
                    .snap_end = state.snap_end};
  wb->Put(cf_, HistoryKey(kHistoryBoundaryTag, vbid, b.seqno),
          EncodeHistoryBoundary(b.time, b.bytes, b.snap_start, b.snap_end));
  pending->ops_.push_back({.kind = Pending::Op::Kind::kAppend, .vbid = vbid, .boundary = b});

  // Trim: the window as it will be (w + b), oldest first, while a bound is exceeded.
  const uint64_t total = bytes() + added;
  const uint64_t limit = options_.retention_bytes;
  const bool over_bytes = limit != 0 && total > limit;
  const uint64_t seconds = options_.retention_seconds;
  const bool over_time = seconds != 0 && !w.empty() && w.front().time + seconds < b.time;
  if (!over_bytes && !over_time) return;
  const uint64_t bytes_target = limit - limit / 10;
  const uint64_t time_cutoff = seconds == 0 ? 0 : b.time - (seconds - seconds / 10);
  auto at = [&](size_t i) -> const HistoryBoundary& { return i < w.size() ? w[i] : b; };
  const size_t size = w.size() + 1;
  size_t popped = 0;
  uint64_t freed = 0;
  while (popped + 1 < size) {
    const bool bytes_left = limit != 0 && total - freed > bytes_target;
    const bool time_left = seconds != 0 && at(popped).time < time_cutoff;
    if (!bytes_left && !time_left) break;
    // Dropping boundary `popped` frees its versions and those of the next one (which can no
    // longer be rolled back below); the next one's bytes were counted once.
    freed += at(popped).bytes;
    ++popped;
  }
  if (popped == 0) return;
  const HistoryBoundary& last_dropped = at(popped - 1);
  const HistoryBoundary& new_front = at(popped);
  freed += new_front.bytes;
  wb->DeleteRange(cf_, HistoryKey(kHistoryBoundaryTag, vbid, 0),
                  HistoryKey(kHistoryBoundaryTag, vbid, last_dropped.seqno + 1));
  wb->DeleteRange(cf_, HistoryKey(kHistoryVersionTag, vbid, 0),
                  HistoryKey(kHistoryVersionTag, vbid, new_front.seqno + 1));
  pending->ops_.push_back({.kind = Pending::Op::Kind::kPopFront,
                           .vbid = vbid,
                           .count = popped,
                           .freed = std::min(freed, total)});
}

std::optional<HistoryBoundary> RocksDBHistory::BoundaryAtOrBelow(Vbid vbid, uint64_t seqno) const {
  const Window& w = window(vbid);
  auto it = std::upper_bound(w.begin(), w.end(), seqno,
                             [](uint64_t s, const HistoryBoundary& b) { return s < b.seqno; });
  if (it == w.begin()) return std::nullopt;
  return *std::prev(it);
}

Status RocksDBHistory::ForEachVersionAbove(
    Vbid vbid, uint64_t seqno,
    const std::function<Status(bool prepare, uint64_t old_seqno, std::string_view value)>& fn)
    const {
  const std::string end = HistoryKeyEnd(kHistoryVersionTag, vbid);
  rocksdb::ReadOptions read;
  const rocksdb::Slice upper(end);
  read.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read, cf_));
  for (it->Seek(HistoryKey(kHistoryVersionTag, vbid, seqno + 1)); it->Valid(); it->Next()) {
    char tag;
    Vbid v;
    uint64_t replaced_at;
    bool prepare = false;
    if (!DecodeHistoryKey(it->key().ToStringView(), &tag, &v, &replaced_at, &prepare) ||
        v != vbid) {
      return Status(Errc::kCorruption, "history: bad version key " + it->key().ToString(true));
    }
    uint64_t old_seqno;
    std::string_view doc;
    RETURN_IF_ERROR(DecodeHistoryVersion(it->value().ToStringView(), &old_seqno, &doc));
    RETURN_IF_ERROR(fn(prepare, old_seqno, doc));
  }
  return FromRocksDB(it->status(), "history: versions");
}

void RocksDBHistory::DropAbove(Vbid vbid, uint64_t seqno, rocksdb::WriteBatch* wb,
                               Pending* pending) const {
  wb->DeleteRange(cf_, HistoryKey(kHistoryBoundaryTag, vbid, seqno + 1),
                  HistoryKeyEnd(kHistoryBoundaryTag, vbid));
  wb->DeleteRange(cf_, HistoryKey(kHistoryVersionTag, vbid, seqno + 1),
                  HistoryKeyEnd(kHistoryVersionTag, vbid));
  uint64_t freed = 0;
  for (const HistoryBoundary& b : window(vbid)) {
    if (b.seqno > seqno) freed += b.bytes;
  }
  pending->ops_.push_back(
      {.kind = Pending::Op::Kind::kTruncateAbove, .vbid = vbid, .count = seqno, .freed = freed});
}

void RocksDBHistory::DropVBucket(Vbid vbid, rocksdb::WriteBatch* wb, Pending* pending) const {
  wb->DeleteRange(cf_, HistoryKey(kHistoryBoundaryTag, vbid, 0),
                  HistoryKeyEnd(kHistoryBoundaryTag, vbid));
  wb->DeleteRange(cf_, HistoryKey(kHistoryVersionTag, vbid, 0),
                  HistoryKeyEnd(kHistoryVersionTag, vbid));
  uint64_t freed = 0;
  for (const HistoryBoundary& b : window(vbid)) freed += b.bytes;
  pending->ops_.push_back({.kind = Pending::Op::Kind::kClear, .vbid = vbid, .freed = freed});
}

void RocksDBHistory::Apply(const Pending& pending) {
  uint64_t added = 0;
  for (const auto& [vbid, bytes] : pending.added_) added += bytes;
  uint64_t freed = 0;
  for (const Pending::Op& op : pending.ops_) {
    Window& w = windows_[op.vbid];
    freed += op.freed;
    switch (op.kind) {
      case Pending::Op::Kind::kAppend:
        w.push_back(op.boundary);
        break;
      case Pending::Op::Kind::kPopFront:
        w.erase(w.begin(), w.begin() + static_cast<std::ptrdiff_t>(std::min(op.count, w.size())));
        if (!w.empty()) w.front().bytes = 0;  // its versions were deleted with the trim
        trims_.fetch_add(1, std::memory_order_relaxed);
        break;
      case Pending::Op::Kind::kTruncateAbove:
        std::erase_if(w, [&op](const HistoryBoundary& b) { return b.seqno > op.count; });
        break;
      case Pending::Op::Kind::kClear:
        w.clear();
        break;
    }
  }
  total_bytes_.fetch_add(added, std::memory_order_relaxed);
  total_bytes_.fetch_sub(freed, std::memory_order_relaxed);
  versions_.fetch_add(pending.versions_, std::memory_order_relaxed);
}

}  // namespace sluice::storage
