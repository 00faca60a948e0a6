// File: dcp/dcp_message.h
//
// DcpMessage: one message a stream hands its producer to encode (protocol/dcp_codec.h does the
// bytes): a snapshot marker, a mutation / deletion / expiration carrying the QueuedItem (shared
// with the checkpoint; values are never copied per consumer), a seqno-advanced, an OSO snapshot
// bracket, a stream end, or a range of backfilled item messages already encoded by the backfill
// (kBackfillItems: backfill_batch.h). The stream decides the kind when it queues the message, from
// the options it was created with (expiry opcode, ...); the producer adds vbucket, stream id,
// opaque and the connection's encodings (item_encoder.h for items) to the others.
//
// Ownership: a value; streams keep them in their ready queue and move them to the producer.
// Thread safety: thread-compatible (the item or batch it points to is immutable).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>

#include "engine/item.h"
#include "protocol/dcp_codec.h"

namespace sluice::dcp {

class BackfillBatch;

struct DcpMessage {
  enum class Type : uint8_t {
    kSnapshotMarker,
    kMutation,
    kDeletion,
    kExpiration,
    kSeqnoAdvanced,
    kOsoSnapshot,
    kStreamEnd,
    kBackfillItems,
    // SyncWrites (streams of a connection with enable_sync_writes): DCP_PREPARE, DCP_COMMIT,
    // DCP_ABORT, carrying the item (engine::SyncOp says which).
    kPrepare,
    kCommit,
    kAbort,
  };

  Type type = Type::kMutation;

  // kSnapshotMarker (snap_end is also kSeqnoAdvanced's seqno)
  uint64_t snap_start = 0;
  uint64_t snap_end = 0;
  uint32_t snap_flags = 0;   // protocol::kDcpSnapshot* bits
  uint64_t purge_seqno = 0;  // sent in V2.2 markers only

  // kOsoSnapshot: protocol::kDcpOsoSnapshotStart or kDcpOsoSnapshotEnd
  uint32_t oso_flags = 0;

  // kMutation / kDeletion / kExpiration
  engine::QueuedItem item;
  bool from_backfill = false;  // read from disk (counts as backfill_sent when sent)
  // Bytes charged to the connection's backfill buffer for this message (returned when it is sent
  // or discarded); 0 for memory-phase messages.
  size_t backfill_bytes = 0;

  // kStreamEnd
  protocol::DcpStreamEndStatus end_status = protocol::DcpStreamEndStatus::kOk;

  // kBackfillItems: the messages [first, last) of `batch` (from_backfill, and backfill_bytes
  // their encoded size).
  std::shared_ptr<const BackfillBatch> batch;
  size_t batch_memory = 0;  // batch->MemorySize() (a batch never changes once queued)
  uint32_t first = 0;
  uint32_t last = 0;

  // One mutation, deletion or expiration carrying `item`.
  bool is_item() const {
    return type == Type::kMutation || type == Type::kDeletion || type == Type::kExpiration ||
           type == Type::kPrepare || type == Type::kCommit || type == Type::kAbort;
  }
  // Item messages this message stands for: 1 for an item, last - first for kBackfillItems.
  size_t num_items() const {
    return is_item() ? 1 : type == Type::kBackfillItems ? last - first : 0;
  }
  // Messages it stands for on the wire (readyQ_items): num_items() for kBackfillItems, else 1.
  size_t num_messages() const { return type == Type::kBackfillItems ? last - first : 1; }

  // Approximate bytes this message keeps in memory while queued (ready_queue_memory): the item
  // or batch it pins plus the message itself.
  size_t MemorySize() const;

  static DcpMessage SnapshotMarker(uint64_t start, uint64_t end, uint32_t flags,
                                   uint64_t purge_seqno) {
    DcpMessage m;
    m.type = Type::kSnapshotMarker;
    m.snap_start = start;
    m.snap_end = end;
    m.snap_flags = flags;
    m.purge_seqno = purge_seqno;
    return m;
  }
  static DcpMessage SeqnoAdvanced(uint64_t seqno) {
    DcpMessage m;
    m.type = Type::kSeqnoAdvanced;
    m.snap_end = seqno;
    return m;
  }
  static DcpMessage OsoSnapshot(uint32_t flags) {
    DcpMessage m;
    m.type = Type::kOsoSnapshot;
    m.oso_flags = flags;
    return m;
  }
  static DcpMessage StreamEnd(protocol::DcpStreamEndStatus status) {
    DcpMessage m;
    m.type = Type::kStreamEnd;
    m.end_status = status;
    return m;
  }
  // Messages [first, last) of `batch`, charged `backfill_bytes` (their encoded size);
  // `batch_memory` is the batch's MemorySize().
  static DcpMessage BackfillItems(std::shared_ptr<const BackfillBatch> batch, size_t batch_memory,
                                  uint32_t first, uint32_t last, size_t backfill_bytes) {
    DcpMessage m;
    m.type = Type::kBackfillItems;
    m.batch = std::move(batch);
    m.batch_memory = batch_memory;
    m.first = first;
    m.last = last;
    m.from_backfill = true;
    m.backfill_bytes = backfill_bytes;
    return m;
  }
};

}  // namespace sluice::dcp
