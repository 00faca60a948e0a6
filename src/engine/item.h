// File: engine/item.h
//
// Item: one version of a document (or a tombstone) as it travels through a vbucket's checkpoints
// to the flusher and to DCP streams; plus the meta items that mark checkpoint boundaries.
//
// Ownership: an Item is built mutable by the vbucket, given its seqno by the CheckpointManager
// when queued, and from then on shared immutably as a QueuedItem (shared_ptr<const Item>) by the
// checkpoint, the flusher's batch and any DCP stream's ready queue. The value bytes are a shared
// Blob, never copied per consumer.
// Thread safety: immutable once queued.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "common/types.h"
#include "engine/blob.h"

namespace sluice::engine {

enum class QueueOp : uint8_t {
  kMutation,         // a document write or delete (see Item::deleted)
  kCheckpointStart,  // meta: first element of every checkpoint (seqno = checkpoint's start)
  kCheckpointEnd,    // meta: last element of a closed checkpoint
  kSetVBucketState,  // meta: the vbucket changed state
};

// A SyncWrite's part in an item (kv_engine's CommittedState): a plain mutation, the prepare of a
// durable write (its value not yet visible), or the commit or abort that resolves one. Prepares
// and aborts live in the key's *prepare namespace*: they never deduplicate or shadow committed
// versions, in checkpoints as on disk.
enum class SyncOp : uint8_t { kNone, kPrepare, kCommit, kAbort };

struct Item {
  QueueOp op = QueueOp::kMutation;
  Vbid vbid = 0;
  std::string key;
  BlobPtr value;  // null for tombstones without a body
  uint64_t cas = 0;
  uint64_t by_seqno = 0;  // assigned by CheckpointManager::Queue for mutations
  uint64_t rev_seqno = 0;
  uint32_t flags = 0;
  uint32_t expiry = 0;  // absolute unix seconds, 0 = never; tombstones: delete time
  uint8_t datatype = 0;
  bool deleted = false;
  DeleteSource delete_source = DeleteSource::kExplicit;
  SyncOp sync_op = SyncOp::kNone;
  uint8_t durability_level = 0;  // a prepare's SyncWriteLevel (1..3), else 0
  uint64_t prepared_seqno = 0;   // a commit's or abort's prepare
  // A replica's plain mutation that dropped the key's prepare (VBucket::ApplyReplicated): the
  // flusher removes the prepare from disk too.
  bool resolves_prepare = false;

  bool IsMeta() const { return op != QueueOp::kMutation; }
  bool InPrepareNamespace() const {
    return sync_op == SyncOp::kPrepare || sync_op == SyncOp::kAbort;
  }
  // Whether a reader of committed data only (a DCP stream without SyncWrites) skips it.
  bool IsCommittedData() const { return !IsMeta() && !InPrepareNamespace(); }
  // Approximate bytes held in memory by this item (struct, key, value), for accounting.
  size_t SizeInMemory() const {
    return sizeof(Item) + key.capacity() + (value ? value->AllocatedSize() : 0);
  }
};

using QueuedItem = std::shared_ptr<const Item>;

}  // namespace sluice::engine
