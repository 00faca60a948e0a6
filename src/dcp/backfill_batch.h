// File: dcp/backfill_batch.h
//
// BackfillBatch: DCP item messages a backfill encoded for one stream, in the scan's order (seqno
// order, or key order for an OSO backfill), back to back in one buffer - the unit a backfill hands
// its stream. Per batch (of up to kMaxItems documents or kMaxBytes bytes) the stream takes its lock
// once, charges the backfill buffer once and notifies its producer once; the documents are encoded
// straight from the store's buffers (no Item, no value copy per document) and the connection's
// thread only copies finished bytes into its output.
//
//   auxio thread (Backfill::Scan)        Append, Append, ...   (the batch is private to the run)
//        │ ActiveStream::BackfillBatchReceived(shared_ptr<const BackfillBatch>)
//        ▼
//   stream's ready queue: one DcpMessage{kBackfillItems, batch, [first, last)}
//        │ ActiveStream::Next(limit): the whole rest, or the prefix up to the first message that
//        │ reaches `limit` bytes (flow control / output budget), as a DcpMessage of its own
//        ▼
//   connection thread (Producer::Step)   copies Bytes(first, last) into its output
//
// The messages are exactly those ItemEncoder (item_encoder.h) writes for the memory phase; the
// bytes a message range is charged to the backfill buffer with are its encoded size.
//
// Ownership: built by one backfill run on its thread; once handed to the stream it is immutable
// and shared (shared_ptr<const>) by the stream's ready queue and the messages cut from it; the
// last holder frees it: the connection thread after sending it, or the stream's ending (or the
// nonio task that frees a disconnected stream's queue, queue_release.h).
// Thread safety: thread-compatible while built; immutable, so safe to read from any thread, after.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "common/types.h"
#include "dcp/item_encoder.h"
#include "dcp/stream_key.h"

namespace sluice::dcp {

class BackfillBatch {
 public:
  // A batch is handed to the stream once it holds this many documents or bytes (or earlier: the
  // backfill buffer's room, the end of a run or of the scan).
  static constexpr size_t kMaxItems = 512;
  static constexpr size_t kMaxBytes = 64 << 10;

  // `reserve`: bytes to allocate up front (the previous batch's size is a good guess).
  explicit BackfillBatch(size_t reserve);
  BackfillBatch(const BackfillBatch&) = delete;
  BackfillBatch& operator=(const BackfillBatch&) = delete;

  // Appends the message for `item` (as read from the store: the encoder filters its value, see
  // item_encoder.h) on stream `key` with `opaque`, and returns its size in bytes. Inline for a
  // plain value: it is the per-document work of a backfill besides reading the store; a value
  // with xattrs takes AppendFiltered.
  size_t Append(const ItemEncoder& encoder, const ItemView& item, StreamKey key, uint32_t opaque) {
    if (!ItemEncoder::IsPlain(item)) return AppendFiltered(encoder, item, key, opaque);
    return AppendOutgoing(encoder, encoder.Outgoing(item), key, opaque);
  }

  size_t size() const { return entries_.size(); }  // messages
  bool empty() const { return entries_.empty(); }
  size_t bytes() const { return size_; }
  // Seqno of message i (0 <= i < size()).
  uint64_t seqno(size_t i) const { return entries_[i].seqno; }
  // The highest seqno in the batch (not the last one's in a key-order (OSO) backfill); 0 if empty.
  uint64_t max_seqno() const { return max_seqno_; }
  // Bytes of messages [first, last).
  size_t RangeBytes(size_t first, size_t last) const { return Offset(last) - Offset(first); }
  std::string_view Bytes(size_t first, size_t last) const {
    return std::string_view(data_.get() + Offset(first), RangeBytes(first, last));
  }
  // The end of the longest range from `first` that stops at the first message whose end reaches
  // `limit` bytes from Offset(first) (that message included: a limit is overshot by at most one
  // message), or size(). REQUIRES: first < size().
  size_t CutAt(size_t first, size_t limit) const;
  // Bytes the batch keeps allocated (ready_queue_memory).
  size_t MemorySize() const {
    return sizeof(*this) + capacity_ + entries_.capacity() * sizeof(Entry);
  }

 private:
  struct Entry {
    uint32_t end;  // offset in data_ just past this message
    uint64_t seqno;
  };
  size_t Offset(size_t i) const { return i == 0 ? 0 : entries_[i - 1].end; }
  // Appends the message for `item`, already as the stream sends it (ItemEncoder::Outgoing).
  size_t AppendOutgoing(const ItemEncoder& encoder, const ItemView& item, StreamKey key,
                        uint32_t opaque) {
    const size_t most = ItemEncoder::MaxSize(item);
    if (most > capacity_ - size_) Grow(most);
    char* const begin = data_.get() + size_;
    const char* const end = encoder.Write(encoder.TypeOf(item), item, key, opaque, begin);
    const auto n = static_cast<size_t>(end - begin);
    size_ += n;
    entries_.push_back(Entry{static_cast<uint32_t>(size_), item.seqno});
    if (item.seqno > max_seqno_) max_seqno_ = item.seqno;
    return n;
  }
  // Append for a value with xattrs: filtered through a temporary copy (item_encoder.h).
  size_t AppendFiltered(const ItemEncoder& encoder, const ItemView& item, StreamKey key,
                        uint32_t opaque);
  // Makes room for `more` bytes after size_ (at least doubling).
  void Grow(size_t more);

  std::unique_ptr<char[]> data_;  // capacity_ bytes, size_ of them written (never zero-filled)
  size_t size_ = 0;
  size_t capacity_ = 0;
  uint64_t max_seqno_ = 0;
  std::vector<Entry> entries_;
};

}  // namespace sluice::dcp
