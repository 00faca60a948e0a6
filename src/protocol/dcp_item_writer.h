// File: protocol/dcp_item_writer.h
//
// The DCP item messages - DCP_MUTATION, DCP_DELETION (V1 / V2) and DCP_EXPIRATION - written in
// place: Dcp*Size() gives the bytes of a message and WriteDcp*() writes it at a pointer with that
// much room, returning the end. This is their one encoding: AppendDcpMutation, AppendDcpDeletion
// and AppendDcpExpiration (dcp_codec.h) are a resize plus these. They are inline because the DCP
// backfill writes millions of messages a second straight into its batch buffers
// (dcp/backfill_batch.h): inlined into the caller, a message is its header, extras, key and value
// stored in one pass, several times cheaper than the layered append with its zero-filled resize.
//
// Layout (docs/protocol.md, "DCP item messages"): 24-byte request header (magic 0x80, or 0x08 with
// the stream-id frame info), framing extras (stream id, 3 bytes, when set), extras, key (LEB128
// collection prefix first on a collection-aware connection), value.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

#include "protocol/byte_order.h"
#include "protocol/dcp_codec.h"
#include "protocol/encode.h"
#include "protocol/frame_info.h"
#include "protocol/leb128.h"
#include "protocol/opcode.h"

namespace sluice::protocol {
namespace dcp_item_detail {

inline constexpr size_t kStreamIdFrameInfoSize = 3;

inline size_t CollectionPrefixSize(uint32_t collection_id) {
  size_t n = 1;
  while (collection_id >= 0x80) {
    collection_id >>= 7;
    ++n;
  }
  return n;
}

inline size_t FrameSize(const std::optional<uint16_t>& stream_id, size_t extras, bool collections,
                        uint32_t collection_id, std::string_view key, std::string_view value) {
  return kHeaderSize + (stream_id ? kStreamIdFrameInfoSize : 0) + extras +
         (collections ? CollectionPrefixSize(collection_id) : 0) + key.size() + value.size();
}

// Writes the header and the framing extras; returns where the extras go.
inline char* WriteHead(char* p, Opcode opcode, Vbid vb, uint32_t opaque, uint64_t cas,
                       uint8_t datatype, const std::optional<uint16_t>& stream_id, size_t extras,
                       bool collections, uint32_t collection_id, std::string_view key,
                       std::string_view value) {
  const size_t framing = stream_id ? kStreamIdFrameInfoSize : 0;
  const size_t key_len = (collections ? CollectionPrefixSize(collection_id) : 0) + key.size();
  WriteHeader(p, stream_id ? Magic::kAltClientRequest : Magic::kClientRequest,
              static_cast<uint8_t>(opcode), vb, datatype, opaque, cas, framing, extras, key_len,
              value.size());
  p += kHeaderSize;
  if (stream_id) {
    p[0] = static_cast<char>((static_cast<uint8_t>(RequestFrameInfoId::kDcpStreamId) << 4) | 2);
    StoreBe16(p + 1, *stream_id);
    p += kStreamIdFrameInfoSize;
  }
  return p;
}

// Writes the key (with its collection prefix) and the value after the extras at `p`.
inline char* WriteTail(char* p, bool collections, uint32_t collection_id, std::string_view key,
                       std::string_view value) {
  if (collections) p += EncodeLeb128(collection_id, p);
  if (!key.empty()) std::memcpy(p, key.data(), key.size());
  p += key.size();
  if (!value.empty()) std::memcpy(p, value.data(), value.size());
  return p + value.size();
}

}  // namespace dcp_item_detail

inline size_t DcpMutationSize(const DcpMutation& m, bool collections) {
  return dcp_item_detail::FrameSize(m.stream_id, kDcpMutationExtrasSize, collections,
                                    m.collection_id, m.key, m.value);
}

inline char* WriteDcpMutation(char* p, const DcpMutation& m, bool collections) {
  char* e = dcp_item_detail::WriteHead(p, Opcode::kDcpMutation, m.vbucket, m.opaque, m.cas,
                                       m.datatype, m.stream_id, kDcpMutationExtrasSize, collections,
                                       m.collection_id, m.key, m.value);
  StoreBe64(e, m.by_seqno);
  StoreBe64(e + 8, m.rev_seqno);
  StoreBe32(e + 16, m.flags);
  StoreBe32(e + 20, m.expiration);
  StoreBe32(e + 24, m.lock_time);
  StoreBe16(e + 28, 0);  // nmeta
  e[30] = static_cast<char>(m.nru);
  return dcp_item_detail::WriteTail(e + kDcpMutationExtrasSize, collections, m.collection_id, m.key,
                                    m.value);
}

inline size_t DcpDeletionExtrasSize(const DcpDeletion& d) {
  return d.version == DcpDeletionVersion::kV1 ? kDcpDeletionV1ExtrasSize : kDcpDeletionV2ExtrasSize;
}

inline size_t DcpDeletionSize(const DcpDeletion& d, bool collections) {
  return dcp_item_detail::FrameSize(d.stream_id, DcpDeletionExtrasSize(d), collections,
                                    d.collection_id, d.key, d.value);
}

inline char* WriteDcpDeletion(char* p, const DcpDeletion& d, bool collections) {
  const size_t extras = DcpDeletionExtrasSize(d);
  char* e =
      dcp_item_detail::WriteHead(p, Opcode::kDcpDeletion, d.vbucket, d.opaque, d.cas, d.datatype,
                                 d.stream_id, extras, collections, d.collection_id, d.key, d.value);
  StoreBe64(e, d.by_seqno);
  StoreBe64(e + 8, d.rev_seqno);
  if (d.version == DcpDeletionVersion::kV1) {
    StoreBe16(e + 16, 0);  // nmeta
  } else {
    StoreBe32(e + 16, d.delete_time);
    e[20] = 0;  // unused
  }
  return dcp_item_detail::WriteTail(e + extras, collections, d.collection_id, d.key, d.value);
}

inline size_t DcpExpirationSize(const DcpExpiration& x, bool collections) {
  return dcp_item_detail::FrameSize(x.stream_id, kDcpExpirationExtrasSize, collections,
                                    x.collection_id, x.key, x.value);
}

inline char* WriteDcpExpiration(char* p, const DcpExpiration& x, bool collections) {
  char* e = dcp_item_detail::WriteHead(p, Opcode::kDcpExpiration, x.vbucket, x.opaque, x.cas,
                                       x.datatype, x.stream_id, kDcpExpirationExtrasSize,
                                       collections, x.collection_id, x.key, x.value);
  StoreBe64(e, x.by_seqno);
  StoreBe64(e + 8, x.rev_seqno);
  StoreBe32(e + 16, x.delete_time);
  return dcp_item_detail::WriteTail(e + kDcpExpirationExtrasSize, collections, x.collection_id,
                                    x.key, x.value);
}

}  // namespace sluice::protocol
