// File: dcp/dcp_message.h
//
// DcpMessage: one message a stream hands its producer to encode (protocol/dcp_codec.h does the
// bytes): a snapshot marker, a mutation / deletion / expiration carrying the QueuedItem (shared
// with the checkpoint or built once from disk; values are never copied per consumer), a
// seqno-advanced, an OSO snapshot bracket, or a stream end. The stream decides the kind when it
// queues the message, from the options it was created with (expiry opcode, ...); the producer adds
// vbucket, opaque and the connection's encodings.
//
// Ownership: a value; streams keep them in their ready queue and move them to the producer.
// Thread safety: thread-compatible (the item it points to is immutable).
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/item.h"
#include "protocol/dcp_codec.h"

namespace sluice::dcp {

struct DcpMessage {
  enum class Type : uint8_t {
    kSnapshotMarker,
    kMutation,
    kDeletion,
    kExpiration,
    kSeqnoAdvanced,
    kOsoSnapshot,
    kStreamEnd
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

  bool is_item() const {
    return type == Type::kMutation || type == Type::kDeletion || type == Type::kExpiration;
  }
  uint64_t seqno() const { return is_item() ? item->by_seqno : 0; }

  // Approximate bytes this message keeps in memory while queued (ready_queue_memory): the item
  // it pins plus the message itself.
  size_t MemorySize() const { return sizeof(DcpMessage) + (item ? item->SizeInMemory() : 0); }

  // Approximate size on the wire of the item message (header + mutation extras + key + value),
  // used to charge the backfill buffer before the message is encoded.
  static size_t ItemWireSize(const engine::Item& item) {
    return protocol::kHeaderSize + protocol::kDcpMutationExtrasSize + 1 + item.key.size() +
           item.value.size();
  }

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
};

}  // namespace sluice::dcp
