#include "dcp/backfill_batch.h"

#include <algorithm>
#include <cstring>
#include <string>

namespace sluice::dcp {

BackfillBatch::BackfillBatch(size_t reserve)
    : data_(new char[std::min(reserve, kMaxBytes + (kMaxBytes >> 2))]),
      capacity_(std::min(reserve, kMaxBytes + (kMaxBytes >> 2))) {
  // A message is rarely under 64 bytes (24 header + 31 extras + key): `reserve` bytes hold about
  // this many; more grow the vector.
  entries_.reserve(std::min(kMaxItems, capacity_ / 64 + 1));
}

void BackfillBatch::Grow(size_t more) {
  const size_t capacity = std::max(capacity_ * 2, size_ + more);
  std::unique_ptr<char[]> data(new char[capacity]);
  if (size_ != 0) std::memcpy(data.get(), data_.get(), size_);
  data_ = std::move(data);
  capacity_ = capacity;
}

size_t BackfillBatch::AppendFiltered(const ItemEncoder& encoder, const ItemView& item,
                                     StreamKey key, uint32_t opaque) {
  std::string storage;  // a rebuilt value (a deletion's user xattrs pruned), if any
  return AppendOutgoing(encoder, encoder.Outgoing(item, &storage), key, opaque);
}

size_t BackfillBatch::CutAt(size_t first, size_t limit) const {
  const size_t base = Offset(first);
  if (limit >= size_ - base) return entries_.size();
  // The first entry whose end reaches base + limit; the range ends just after it.
  auto it =
      std::lower_bound(entries_.begin() + static_cast<ptrdiff_t>(first), entries_.end(),
                       base + limit, [](const Entry& e, size_t target) { return e.end < target; });
  if (it == entries_.end()) return entries_.size();
  return static_cast<size_t>(it - entries_.begin()) + 1;
}

}  // namespace sluice::dcp
