// File: protocol/dcp_sync_write.h
//
// The DCP messages of SyncWrites (kv_engine's docs/dcp/documentation/commands/), both directions:
//
//   DCP_PREPARE (0x60)             producer -> consumer. Extras 31 bytes: by_seqno u64, rev_seqno
//                                  u64, flags u32, expiration u32, lock_time u32, nru u8, deleted
//                                  u8, durability level u8. Key, value; CAS and datatype in the
//                                  header.
//   DCP_COMMIT (0x62)              producer -> consumer. Extras 16 bytes: prepared_seqno u64,
//                                  commit_seqno u64. Key, no value.
//   DCP_ABORT (0x63)               producer -> consumer. Extras 16 bytes: prepared_seqno u64,
//                                  abort_seqno u64. Key, no value.
//   DCP_SEQNO_ACKNOWLEDGED (0x61)  consumer -> producer. Extras 8 bytes: prepared_seqno u64 (the
//                                  replica's high prepared seqno); vbucket and the stream's opaque
//                                  in the header. No response.
//
// All integers big-endian. Keys carry the LEB128 collection prefix on a collection-aware
// connection, as the other item messages (dcp_codec.h). Decoders check the section sizes and
// return kInvalid on a mismatch; decoded messages view the frame's buffer.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/types.h"
#include "protocol/frame.h"

namespace sluice::protocol {

inline constexpr size_t kDcpPrepareExtrasSize = 31;
inline constexpr size_t kDcpCommitExtrasSize = 16;
inline constexpr size_t kDcpAbortExtrasSize = 16;
inline constexpr size_t kDcpSeqnoAcknowledgedExtrasSize = 8;

struct DcpPrepare {
  Vbid vbucket = 0;
  uint32_t opaque = 0;
  uint64_t cas = 0;
  uint8_t datatype = 0;
  uint64_t by_seqno = 0;
  uint64_t rev_seqno = 0;
  uint32_t flags = 0;
  uint32_t expiration = 0;  // a deleted prepare: its delete time
  uint32_t lock_time = 0;
  uint8_t nru = 0;
  bool deleted = false;
  uint8_t durability_level = 1;  // 1..3 (protocol::DurabilityLevel)
  uint32_t collection_id = 0;
  std::string_view key;
  std::string_view value;
  std::optional<uint16_t> stream_id;
};
void AppendDcpPrepare(std::string* out, const DcpPrepare& m, bool collections);
// The message's size, and the message written at `dst` (with room for that many bytes; returns
// its end): the in-place form the DCP encoders use (dcp_item_writer.h).
size_t DcpPrepareSize(const DcpPrepare& m, bool collections);
char* WriteDcpPrepare(char* dst, const DcpPrepare& m, bool collections);
StatusOr<DcpPrepare> DecodeDcpPrepare(const Frame& frame, bool collections);

// DCP_COMMIT and DCP_ABORT share a layout: the prepare's seqno and the resolution's own.
struct DcpResolution {
  Vbid vbucket = 0;
  uint32_t opaque = 0;
  uint64_t prepared_seqno = 0;
  uint64_t seqno = 0;  // commit_seqno / abort_seqno
  uint32_t collection_id = 0;
  std::string_view key;
  std::optional<uint16_t> stream_id;
};
// `opcode`: kDcpCommit or kDcpAbort.
void AppendDcpResolution(std::string* out, uint8_t opcode, const DcpResolution& m,
                         bool collections);
StatusOr<DcpResolution> DecodeDcpResolution(const Frame& frame, bool collections);

struct DcpSeqnoAcknowledged {
  Vbid vbucket = 0;
  uint32_t opaque = 0;
  uint64_t prepared_seqno = 0;
};
void AppendDcpSeqnoAcknowledged(std::string* out, const DcpSeqnoAcknowledged& m);
StatusOr<DcpSeqnoAcknowledged> DecodeDcpSeqnoAcknowledged(const Frame& frame);

}  // namespace sluice::protocol
