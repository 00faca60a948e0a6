// File: protocol/dcp_codec.h
//
// DCP message codecs, both directions: the server encodes producer messages and decodes consumer
// requests; the client does the reverse. Layouts are kv_engine's (the extras sizes below).
//
// Conventions:
// - Every producer->consumer message is a request (magic 0x80; 0x08 when it carries a DCP stream-id
//   frame info, which happens only after control "enable_stream_id"). Each message struct has an
//   optional `stream_id`: encoders add the frame info when set, decoders fill it when present.
// - Decoders take a Frame (protocol/frame.h) whose opcode the caller already dispatched on; they
//   check the section sizes and return kInvalid on a mismatch. Decoded structs hold views into the
//   frame's buffer. The messages with a key and a value (mutation, deletion, expiration) are
//   templates over their byte type: DcpMutation is the view; BasicDcpMutation<std::string> is the
//   same message owning its bytes (what the client hands out), made with As<std::string>().
// - Keys of mutations, deletions and expirations carry a LEB128 collection-id prefix on a
//   collection-aware connection: pass `collections = true` to encode/decode it. Decoded `key` is
//   then the logical key and `collection_id` the prefix.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "common/types.h"
#include "protocol/frame.h"

namespace sluice::protocol {

// ---- DCP_OPEN (0x50) flags (extras: reserved/seqno u32, flags u32) ----
inline constexpr uint32_t kDcpOpenProducer = 0x001;  // clear = consumer
inline constexpr uint32_t kDcpOpenInvalid = 0x002;   // old "notifier"; must be clear
inline constexpr uint32_t kDcpOpenIncludeXattrs = 0x004;
inline constexpr uint32_t kDcpOpenNoValue = 0x008;
inline constexpr uint32_t kDcpOpenIncludeDeleteTimes = 0x020;  // deletions use V2
inline constexpr uint32_t kDcpOpenNoValueWithUnderlyingDatatype = 0x040;
inline constexpr uint32_t kDcpOpenIncludeDeletedUserXattrs = 0x100;
inline constexpr uint32_t kDcpOpenSkipDeletesInInitialBackfill = 0x200;
inline constexpr uint32_t kDcpOpenKnownFlags =
    kDcpOpenProducer | kDcpOpenIncludeXattrs | kDcpOpenNoValue | kDcpOpenIncludeDeleteTimes |
    kDcpOpenNoValueWithUnderlyingDatatype | kDcpOpenIncludeDeletedUserXattrs |
    kDcpOpenSkipDeletesInInitialBackfill;

// ---- DCP_STREAM_REQ (0x53) / DCP_ADD_STREAM (0x51) flags ----
inline constexpr uint32_t kDcpStreamTakeOver = 0x01;
inline constexpr uint32_t kDcpStreamDiskOnly = 0x02;
inline constexpr uint32_t kDcpStreamToLatest = 0x04;
inline constexpr uint32_t kDcpStreamNoValue = 0x08;  // removed: use kDcpOpenNoValue
inline constexpr uint32_t kDcpStreamActiveVbOnly = 0x10;
inline constexpr uint32_t kDcpStreamStrictVbUuid = 0x20;
inline constexpr uint32_t kDcpStreamFromLatest = 0x40;
inline constexpr uint32_t kDcpStreamIgnorePurgedTombstones = 0x80;
inline constexpr uint32_t kDcpStreamCacheTransfer = 0x100;
inline constexpr uint32_t kDcpStreamKnownFlags =
    kDcpStreamTakeOver | kDcpStreamDiskOnly | kDcpStreamToLatest | kDcpStreamActiveVbOnly |
    kDcpStreamStrictVbUuid | kDcpStreamFromLatest | kDcpStreamIgnorePurgedTombstones |
    kDcpStreamCacheTransfer;

// ---- DCP_SNAPSHOT_MARKER (0x56) flags ----
inline constexpr uint32_t kDcpSnapshotMemory = 0x01;
inline constexpr uint32_t kDcpSnapshotDisk = 0x02;
inline constexpr uint32_t kDcpSnapshotCheckpoint = 0x04;
inline constexpr uint32_t kDcpSnapshotAck = 0x08;
inline constexpr uint32_t kDcpSnapshotHistory = 0x10;
inline constexpr uint32_t kDcpSnapshotMayContainDuplicates = 0x20;

inline constexpr size_t kDcpOpenExtrasSize = 8;
inline constexpr size_t kDcpStreamReqExtrasSize = 48;
inline constexpr size_t kDcpSnapshotMarkerV1ExtrasSize = 20;
inline constexpr size_t kDcpMutationExtrasSize = 31;
inline constexpr size_t kDcpDeletionV1ExtrasSize = 18;
inline constexpr size_t kDcpDeletionV2ExtrasSize = 21;
inline constexpr size_t kDcpExpirationExtrasSize = 20;
inline constexpr size_t kDcpStreamEndExtrasSize = 4;
inline constexpr size_t kDcpBufferAckExtrasSize = 4;

// Why a stream ended (DCP_STREAM_END extras).
enum class DcpStreamEndStatus : uint32_t {
  kOk = 0,              // end seqno reached
  kClosed = 1,          // the client closed it
  kStateChanged = 2,    // the vbucket changed state
  kDisconnected = 3,    // the connection is going away
  kTooSlow = 4,         // the consumer was too slow (cursor dropped)
  kBackfillFailed = 5,  // a disk backfill failed
  kRollback = 6,        // the vbucket rolled back
  kFilterEmpty = 7,     // every filtered collection was dropped
  kLostPrivileges = 8,  // the connection lost the required privileges
};
std::string_view DcpStreamEndStatusName(DcpStreamEndStatus status);  // "Ok", "Closed", ...

// ---- Requests the consumer sends ----

struct DcpOpenRequest {
  uint32_t opaque = 0;
  uint32_t seqno = 0;  // reserved, 0
  uint32_t flags = 0;
  std::string_view name;        // key, the connection name
  std::string_view json_value;  // optional JSON (datatype JSON when non-empty)
};
void AppendDcpOpen(std::string* out, const DcpOpenRequest& request);
StatusOr<DcpOpenRequest> DecodeDcpOpen(const Frame& frame);

struct DcpControlRequest {
  uint32_t opaque = 0;
  std::string_view key;
  std::string_view value;
};
void AppendDcpControl(std::string* out, const DcpControlRequest& request);
StatusOr<DcpControlRequest> DecodeDcpControl(const Frame& frame);

struct DcpStreamReqRequest {
  Vbid vbucket = 0;
  uint32_t opaque = 0;
  uint32_t flags = 0;
  uint64_t start_seqno = 0;
  uint64_t end_seqno = ~uint64_t{0};
  uint64_t vbucket_uuid = 0;
  uint64_t snap_start_seqno = 0;
  uint64_t snap_end_seqno = 0;
  std::string_view json_value;  // optional: uid, sid, collections, scope, purge_seqno, ...
};
void AppendDcpStreamReq(std::string* out, const DcpStreamReqRequest& request);
StatusOr<DcpStreamReqRequest> DecodeDcpStreamReq(const Frame& frame);

// One failover-log entry; logs travel newest first.
struct FailoverEntry {
  uint64_t vbucket_uuid = 0;
  uint64_t seqno = 0;
  friend bool operator==(const FailoverEntry&, const FailoverEntry&) = default;
};
// The success value of STREAM_REQ / GET_FAILOVER_LOG: n x (uuid u64, seqno u64).
void AppendFailoverLog(std::string* out, const std::vector<FailoverEntry>& log);
StatusOr<std::vector<FailoverEntry>> DecodeFailoverLog(std::string_view value);
// The value of a STREAM_REQ response with status Rollback: the seqno to roll back to.
void AppendRollbackSeqno(std::string* out, uint64_t seqno);
StatusOr<uint64_t> DecodeRollbackSeqno(std::string_view value);

// DCP_CLOSE_STREAM (0x52) and DCP_GET_FAILOVER_LOG (0x54): vbucket in the header, no body.
void AppendDcpCloseStream(std::string* out, Vbid vbucket, uint32_t opaque,
                          std::optional<uint16_t> stream_id = std::nullopt);
void AppendDcpGetFailoverLog(std::string* out, Vbid vbucket, uint32_t opaque);

// DCP_BUFFER_ACKNOWLEDGEMENT (0x5d): bytes consumed, counting each message's 24-byte header.
void AppendDcpBufferAck(std::string* out, uint32_t bytes, uint32_t opaque = 0);
StatusOr<uint32_t> DecodeDcpBufferAck(const Frame& frame);

// DCP_NOOP (0x5c) request (producer -> consumer) and the consumer's reply.
void AppendDcpNoop(std::string* out, uint32_t opaque);
void AppendDcpNoopResponse(std::string* out, uint32_t opaque);

// ---- Messages the producer sends ----

enum class DcpSnapshotMarkerVersion : uint8_t {
  kV1,    // 20-byte extras
  kV2_0,  // 1-byte extras (0) + 36-byte value
  kV2_2,  // 1-byte extras (2) + 52-byte value
};

struct DcpSnapshotMarker {
  Vbid vbucket = 0;
  uint32_t opaque = 0;
  DcpSnapshotMarkerVersion version = DcpSnapshotMarkerVersion::kV1;
  uint64_t start_seqno = 0;
  uint64_t end_seqno = 0;
  uint32_t flags = 0;
  // V2.x only.
  uint64_t max_visible_seqno = 0;
  uint64_t high_completed_seqno = 0;
  // V2.2 only.
  uint64_t purge_seqno = 0;
  uint64_t high_prepared_seqno = 0;
  std::optional<uint16_t> stream_id;
};
void AppendDcpSnapshotMarker(std::string* out, const DcpSnapshotMarker& marker);
StatusOr<DcpSnapshotMarker> DecodeDcpSnapshotMarker(const Frame& frame);

template <typename Bytes>
struct BasicDcpMutation {
  Vbid vbucket = 0;
  uint32_t opaque = 0;
  uint64_t cas = 0;
  uint8_t datatype = 0;
  uint64_t by_seqno = 0;
  uint64_t rev_seqno = 0;
  uint32_t flags = 0;  // the document's flags, as the client stored them
  uint32_t expiration = 0;
  uint32_t lock_time = 0;
  uint8_t nru = 0;
  uint32_t collection_id = 0;  // meaningful when collection-aware
  Bytes key;                   // logical key
  Bytes value;
  std::optional<uint16_t> stream_id;

  // The same message over other bytes (a copy owning them: As<std::string>()).
  template <typename To>
  BasicDcpMutation<To> As() const {
    return {vbucket,    opaque,    cas, datatype,      by_seqno, rev_seqno, flags,
            expiration, lock_time, nru, collection_id, To(key),  To(value), stream_id};
  }
  friend bool operator==(const BasicDcpMutation&, const BasicDcpMutation&) = default;
};
using DcpMutation = BasicDcpMutation<std::string_view>;
void AppendDcpMutation(std::string* out, const DcpMutation& mutation, bool collections);
StatusOr<DcpMutation> DecodeDcpMutation(const Frame& frame, bool collections);

enum class DcpDeletionVersion : uint8_t { kV1, kV2 };  // V2 after DCP_OPEN IncludeDeleteTimes

template <typename Bytes>
struct BasicDcpDeletion {
  Vbid vbucket = 0;
  uint32_t opaque = 0;
  uint64_t cas = 0;
  uint8_t datatype = 0;
  DcpDeletionVersion version = DcpDeletionVersion::kV1;
  uint64_t by_seqno = 0;
  uint64_t rev_seqno = 0;
  uint32_t delete_time = 0;  // V2 only
  uint32_t collection_id = 0;
  Bytes key;
  Bytes value;  // only xattrs
  std::optional<uint16_t> stream_id;

  template <typename To>
  BasicDcpDeletion<To> As() const {
    return {vbucket,   opaque,      cas,           datatype, version,   by_seqno,
            rev_seqno, delete_time, collection_id, To(key),  To(value), stream_id};
  }
  friend bool operator==(const BasicDcpDeletion&, const BasicDcpDeletion&) = default;
};
using DcpDeletion = BasicDcpDeletion<std::string_view>;
void AppendDcpDeletion(std::string* out, const DcpDeletion& deletion, bool collections);
// The version follows the extras length (18 -> V1, 21 -> V2).
StatusOr<DcpDeletion> DecodeDcpDeletion(const Frame& frame, bool collections);

template <typename Bytes>
struct BasicDcpExpiration {
  Vbid vbucket = 0;
  uint32_t opaque = 0;
  uint64_t cas = 0;
  uint8_t datatype = 0;
  uint64_t by_seqno = 0;
  uint64_t rev_seqno = 0;
  uint32_t delete_time = 0;
  uint32_t collection_id = 0;
  Bytes key;
  Bytes value;
  std::optional<uint16_t> stream_id;

  template <typename To>
  BasicDcpExpiration<To> As() const {
    return {vbucket,     opaque,        cas,     datatype,  by_seqno, rev_seqno,
            delete_time, collection_id, To(key), To(value), stream_id};
  }
  friend bool operator==(const BasicDcpExpiration&, const BasicDcpExpiration&) = default;
};
using DcpExpiration = BasicDcpExpiration<std::string_view>;
void AppendDcpExpiration(std::string* out, const DcpExpiration& expiration, bool collections);
StatusOr<DcpExpiration> DecodeDcpExpiration(const Frame& frame, bool collections);

struct DcpStreamEnd {
  Vbid vbucket = 0;
  uint32_t opaque = 0;
  DcpStreamEndStatus status = DcpStreamEndStatus::kOk;
  std::optional<uint16_t> stream_id;
};
void AppendDcpStreamEnd(std::string* out, const DcpStreamEnd& end);
StatusOr<DcpStreamEnd> DecodeDcpStreamEnd(const Frame& frame);

// DCP_SET_VBUCKET_STATE (0x5b): 1-byte state extras (1..4).
struct DcpSetVbucketState {
  Vbid vbucket = 0;
  uint32_t opaque = 0;
  VBucketState state = VBucketState::kActive;
};
void AppendDcpSetVbucketState(std::string* out, const DcpSetVbucketState& message);
StatusOr<DcpSetVbucketState> DecodeDcpSetVbucketState(const Frame& frame);

// DCP_SEQNO_ADVANCED (0x64): by_seqno u64 (collection-aware streams only).
struct DcpSeqnoAdvanced {
  Vbid vbucket = 0;
  uint32_t opaque = 0;
  uint64_t by_seqno = 0;
  std::optional<uint16_t> stream_id;
};
void AppendDcpSeqnoAdvanced(std::string* out, const DcpSeqnoAdvanced& message);
StatusOr<DcpSeqnoAdvanced> DecodeDcpSeqnoAdvanced(const Frame& frame);

// DCP_OSO_SNAPSHOT (0x65): u32 flags extras. Brackets an out-of-order (key order) snapshot.
inline constexpr uint32_t kDcpOsoSnapshotStart = 0x01;
inline constexpr uint32_t kDcpOsoSnapshotEnd = 0x02;
struct DcpOsoSnapshot {
  Vbid vbucket = 0;
  uint32_t opaque = 0;
  uint32_t flags = 0;  // kDcpOsoSnapshotStart or kDcpOsoSnapshotEnd
  std::optional<uint16_t> stream_id;
};
void AppendDcpOsoSnapshot(std::string* out, const DcpOsoSnapshot& message);
StatusOr<DcpOsoSnapshot> DecodeDcpOsoSnapshot(const Frame& frame);

// The DCP stream-id of a producer message, if its framing extras carry one (kInvalid if the
// framing extras are malformed).
StatusOr<std::optional<uint16_t>> DecodeDcpStreamId(const Frame& frame);

}  // namespace sluice::protocol
