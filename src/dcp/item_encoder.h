// File: dcp/item_encoder.h
//
// ItemEncoder: how one stream's item messages (DCP_MUTATION, DCP_DELETION, DCP_EXPIRATION) go on
// the wire. It is the one place that turns a document into DCP bytes, for both phases of a
// stream: the producer encodes memory-phase items (checkpoint Items) on its connection's thread,
// and a backfill encodes disk-phase documents straight from the store's buffers on its auxio
// thread (backfill_batch.h), so both phases encode alike by construction.
//
//   kind: a live document -> mutation; a tombstone -> deletion, or expiration when the stream
//         has the expiry opcode (control enable_expiry_opcode) and the document expired (TTL)
//   value and datatype: what the DCP_OPEN flags let the consumer see (xattr/filter.h: NoValue,
//         NoValueWithUnderlyingDatatype, IncludeXattrs, IncludeDeletedUserXattrs), for every kind
//   IncludeDeleteTimes: deletions V2 (delete time), else V1
//   collections (HELLO): keys carry the default collection's LEB128 prefix
//   stream id (enable_stream_id): the stream's id as a frame info on every message
//
// The value: a document without xattrs (no XATTR datatype bit, the common case) is sent as stored
// or without its body, decided inline with no copy. A document with xattrs goes the general way,
// xattr::ForStream, which may rebuild its value (a deletion's user xattrs pruned) into a string
// the caller provides; that costs a copy for that document only.
//
// The bytes are protocol/dcp_item_writer.h's (the one encoding of these messages), written in
// place.
//
// Ownership: a value the producer builds per stream (StreamOptions) and the stream copies into
// each backfill (BackfillSpec). Thread safety: immutable after construction; const methods only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/types.h"
#include "dcp/dcp_message.h"
#include "dcp/stream_key.h"
#include "engine/item.h"
#include "protocol/datatype.h"
#include "protocol/dcp_codec.h"
#include "protocol/dcp_item_writer.h"
#include "protocol/dcp_sync_write.h"
#include "storage/kvstore.h"

namespace sluice::dcp {

// The fields of one document an item message carries, borrowed (views) from an engine::Item or
// a storage::DiskDocView; valid as long as what it was made from.
struct ItemView {
  uint64_t seqno = 0;
  uint64_t rev_seqno = 0;
  uint64_t cas = 0;
  uint32_t flags = 0;
  uint32_t expiry = 0;  // tombstones: the delete time
  uint8_t datatype = 0;
  bool deleted = false;
  DeleteSource delete_source = DeleteSource::kExplicit;
  std::string_view key;
  std::string_view value;
  bool prepared = false;         // a SyncWrite's prepare: DCP_PREPARE (sync-write streams)
  uint8_t durability_level = 0;  // a prepare's level (1..3)

  static ItemView Of(const engine::Item& item);
  static ItemView Of(const storage::DiskDocView& doc);
};

class ItemEncoder {
 public:
  ItemEncoder() = default;
  // `open_flags`: the DCP_OPEN flags; `collections`: HELLO Collections on the connection;
  // `expiry_opcode`: control enable_expiry_opcode when the stream was created.
  // `sync_writes`: control enable_sync_writes (prepares are DCP_PREPAREs; a backfill reads them).
  ItemEncoder(uint32_t open_flags, bool collections, bool expiry_opcode, bool sync_writes = false)
      : open_flags_(open_flags),
        collections_(collections),
        expiry_opcode_(expiry_opcode),
        sync_writes_(sync_writes) {}

  bool expiry_opcode() const { return expiry_opcode_; }
  bool sync_writes() const { return sync_writes_; }

  // The message kind of an item read from disk or a checkpoint: a prepare's DCP_PREPARE, else as
  // TypeOf(deleted, source).
  DcpMessage::Type TypeOf(const ItemView& item) const {
    if (item.prepared) return DcpMessage::Type::kPrepare;
    return TypeOf(item.deleted, item.delete_source);
  }

  // The message kind of a document (see the file comment).
  DcpMessage::Type TypeOf(bool deleted, DeleteSource source) const {
    if (!deleted) return DcpMessage::Type::kMutation;
    if (source == DeleteSource::kTtl && expiry_opcode_) return DcpMessage::Type::kExpiration;
    return DcpMessage::Type::kDeletion;
  }

  // True when `item`'s value needs no xattr filtering (no XATTR datatype bit): Outgoing(item)
  // applies. Otherwise use Outgoing(item, storage).
  static bool IsPlain(const ItemView& item) {
    return (item.datatype & protocol::kDatatypeXattr) == 0;
  }
  // `item` with the value and datatype this stream sends (the file comment), for a plain item:
  // the stored value (a view), or none. REQUIRES: IsPlain(item).
  ItemView Outgoing(const ItemView& item) const {
    if ((open_flags_ & kNoBodyFlags) == 0) return item;
    ItemView out = item;
    out.value = {};
    if ((open_flags_ & protocol::kDcpOpenNoValueWithUnderlyingDatatype) == 0) out.datatype = 0;
    return out;
  }
  // The same for any item: a value with xattrs goes through xattr::ForStream, and a rebuilt value
  // is kept in *storage (the result views it: keep *storage alive while using the result).
  ItemView Outgoing(const ItemView& item, std::string* storage) const;

  // The message of kind `type` (kMutation, kDeletion or kExpiration) for `item`, an Outgoing()
  // view, on stream `key` with `opaque`: its size, and the message written at `dst` (with room
  // for Size() bytes; returns its end). Inline: the backfill writes one per document into its
  // batch.
  size_t Size(DcpMessage::Type type, const ItemView& item, StreamKey key, uint32_t opaque) const;
  // An upper bound of Size() for any kind of an Outgoing() view (no need to build it first).
  static size_t MaxSize(const ItemView& item) {
    return protocol::kHeaderSize + protocol::dcp_item_detail::kStreamIdFrameInfoSize +
           protocol::kDcpMutationExtrasSize + protocol::kMaxLeb128U32Size + item.key.size() +
           item.value.size();
  }
  char* Write(DcpMessage::Type type, const ItemView& item, StreamKey key, uint32_t opaque,
              char* dst) const;
  // The message for `item` as stored (filtered here: Outgoing) appended to *out.
  void Append(DcpMessage::Type type, const ItemView& item, StreamKey key, uint32_t opaque,
              std::string* out) const;

 private:
  static constexpr uint32_t kNoBodyFlags =
      protocol::kDcpOpenNoValue | protocol::kDcpOpenNoValueWithUnderlyingDatatype;

  // Builds the protocol message of kind `type` and calls fn(message).
  template <typename Fn>
  auto Visit(DcpMessage::Type type, const ItemView& item, StreamKey key, uint32_t opaque,
             Fn&& fn) const {
    switch (type) {
      case DcpMessage::Type::kDeletion: {
        protocol::DcpDeletion deletion;
        Fill(item, key, opaque, deletion);
        if ((open_flags_ & protocol::kDcpOpenIncludeDeleteTimes) != 0) {
          deletion.version = protocol::DcpDeletionVersion::kV2;
          deletion.delete_time = item.expiry;  // a tombstone's expiry holds its delete time
        }
        return fn(deletion);
      }
      case DcpMessage::Type::kPrepare: {
        protocol::DcpPrepare prepare;
        Fill(item, key, opaque, prepare);
        prepare.flags = item.flags;
        prepare.expiration = item.expiry;
        prepare.deleted = item.deleted;
        prepare.durability_level = item.durability_level;
        return fn(prepare);
      }
      case DcpMessage::Type::kExpiration: {
        protocol::DcpExpiration expiration;
        Fill(item, key, opaque, expiration);
        expiration.delete_time = item.expiry;
        return fn(expiration);
      }
      default: {  // kMutation (the callers pass item kinds only)
        protocol::DcpMutation mutation;
        Fill(item, key, opaque, mutation);
        mutation.flags = item.flags;
        mutation.expiration = item.expiry;
        return fn(mutation);
      }
    }
  }
  // The fields every item message takes from its (outgoing) item.
  template <typename Message>
  static void Fill(const ItemView& item, StreamKey key, uint32_t opaque, Message& message) {
    message.vbucket = key.vb;
    message.opaque = opaque;
    message.stream_id = key.stream_id();
    message.cas = item.cas;
    message.by_seqno = item.seqno;
    message.rev_seqno = item.rev_seqno;
    message.datatype = item.datatype;
    message.key = item.key;
    message.value = item.value;
  }
  size_t MessageSize(const protocol::DcpMutation& m) const {
    return protocol::DcpMutationSize(m, collections_);
  }
  size_t MessageSize(const protocol::DcpDeletion& m) const {
    return protocol::DcpDeletionSize(m, collections_);
  }
  size_t MessageSize(const protocol::DcpPrepare& m) const {
    return protocol::DcpPrepareSize(m, collections_);
  }
  char* WriteMessage(const protocol::DcpPrepare& m, char* dst) const {
    return protocol::WriteDcpPrepare(dst, m, collections_);
  }
  size_t MessageSize(const protocol::DcpExpiration& m) const {
    return protocol::DcpExpirationSize(m, collections_);
  }
  char* WriteMessage(const protocol::DcpMutation& m, char* dst) const {
    return protocol::WriteDcpMutation(dst, m, collections_);
  }
  char* WriteMessage(const protocol::DcpDeletion& m, char* dst) const {
    return protocol::WriteDcpDeletion(dst, m, collections_);
  }
  char* WriteMessage(const protocol::DcpExpiration& m, char* dst) const {
    return protocol::WriteDcpExpiration(dst, m, collections_);
  }

  uint32_t open_flags_ = 0;
  bool collections_ = false;
  bool expiry_opcode_ = false;
  bool sync_writes_ = false;
};

inline size_t ItemEncoder::Size(DcpMessage::Type type, const ItemView& item, StreamKey key,
                                uint32_t opaque) const {
  return Visit(type, item, key, opaque, [this](const auto& m) { return MessageSize(m); });
}

inline char* ItemEncoder::Write(DcpMessage::Type type, const ItemView& item, StreamKey key,
                                uint32_t opaque, char* dst) const {
  return Visit(type, item, key, opaque,
               [this, dst](const auto& m) { return WriteMessage(m, dst); });
}

}  // namespace sluice::dcp
