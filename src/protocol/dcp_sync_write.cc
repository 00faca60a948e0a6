#include "protocol/dcp_sync_write.h"

#include "protocol/byte_order.h"
#include "protocol/dcp_item_writer.h"
#include "protocol/leb128.h"
#include "protocol/opcode.h"

namespace sluice::protocol {
namespace {

// Appends a frame of `extras_size` extras, `fill` writing them; returns nothing.
template <typename Fill>
void AppendItemFrame(std::string* out, Opcode opcode, Vbid vb, uint32_t opaque, uint64_t cas,
                     uint8_t datatype, const std::optional<uint16_t>& stream_id, size_t extras_size,
                     bool collections, uint32_t collection_id, std::string_view key,
                     std::string_view value, Fill fill) {
  const size_t size =
      dcp_item_detail::FrameSize(stream_id, extras_size, collections, collection_id, key, value);
  const size_t at = out->size();
  out->resize(at + size);
  char* e =
      dcp_item_detail::WriteHead(out->data() + at, opcode, vb, opaque, cas, datatype, stream_id,
                                 extras_size, collections, collection_id, key, value);
  fill(e);
  dcp_item_detail::WriteTail(e + extras_size, collections, collection_id, key, value);
}

}  // namespace

size_t DcpPrepareSize(const DcpPrepare& m, bool collections) {
  return dcp_item_detail::FrameSize(m.stream_id, kDcpPrepareExtrasSize, collections,
                                    m.collection_id, m.key, m.value);
}

char* WriteDcpPrepare(char* dst, const DcpPrepare& m, bool collections) {
  char* e = dcp_item_detail::WriteHead(dst, Opcode::kDcpPrepare, m.vbucket, m.opaque, m.cas,
                                       m.datatype, m.stream_id, kDcpPrepareExtrasSize, collections,
                                       m.collection_id, m.key, m.value);
  StoreBe64(e, m.by_seqno);
  StoreBe64(e + 8, m.rev_seqno);
  StoreBe32(e + 16, m.flags);
  StoreBe32(e + 20, m.expiration);
  StoreBe32(e + 24, m.lock_time);
  e[28] = static_cast<char>(m.nru);
  e[29] = static_cast<char>(m.deleted ? 1 : 0);
  e[30] = static_cast<char>(m.durability_level);
  return dcp_item_detail::WriteTail(e + kDcpPrepareExtrasSize, collections, m.collection_id, m.key,
                                    m.value);
}

void AppendDcpPrepare(std::string* out, const DcpPrepare& m, bool collections) {
  const size_t at = out->size();
  out->resize(at + DcpPrepareSize(m, collections));
  WriteDcpPrepare(out->data() + at, m, collections);
}

StatusOr<DcpPrepare> DecodeDcpPrepare(const Frame& frame, bool collections) {
  if (frame.extras.size() != kDcpPrepareExtrasSize) {
    return Status::Invalid("DCP_PREPARE extras must be 31 bytes");
  }
  if (frame.key.empty()) return Status::Invalid("DCP_PREPARE requires a key");
  const char* e = frame.extras.data();
  DcpPrepare m;
  m.vbucket = frame.vbucket();
  m.opaque = frame.opaque;
  m.cas = frame.cas;
  m.datatype = frame.datatype;
  m.by_seqno = LoadBe64(e);
  m.rev_seqno = LoadBe64(e + 8);
  m.flags = LoadBe32(e + 16);
  m.expiration = LoadBe32(e + 20);
  m.lock_time = LoadBe32(e + 24);
  m.nru = static_cast<uint8_t>(e[28]);
  const auto deleted = static_cast<uint8_t>(e[29]);
  if (deleted > 1) return Status::Invalid("DCP_PREPARE deleted must be 0 or 1");
  m.deleted = deleted == 1;
  m.durability_level = static_cast<uint8_t>(e[30]);
  if (m.durability_level < 1 || m.durability_level > 3) {
    return Status::Invalid("DCP_PREPARE durability level must be 1 to 3");
  }
  RETURN_IF_ERROR(SplitWireKey(frame.key, collections, &m.collection_id, &m.key));
  m.value = frame.value;
  ASSIGN_OR_RETURN(m.stream_id, DecodeDcpStreamId(frame));
  return m;
}

void AppendDcpResolution(std::string* out, uint8_t opcode, const DcpResolution& m,
                         bool collections) {
  AppendItemFrame(out, static_cast<Opcode>(opcode), m.vbucket, m.opaque, 0, 0, m.stream_id,
                  kDcpCommitExtrasSize, collections, m.collection_id, m.key, {}, [&](char* e) {
                    StoreBe64(e, m.prepared_seqno);
                    StoreBe64(e + 8, m.seqno);
                  });
}

StatusOr<DcpResolution> DecodeDcpResolution(const Frame& frame, bool collections) {
  if (frame.extras.size() != kDcpCommitExtrasSize) {
    return Status::Invalid("DCP_COMMIT/DCP_ABORT extras must be 16 bytes");
  }
  if (frame.key.empty()) return Status::Invalid("DCP_COMMIT/DCP_ABORT requires a key");
  if (!frame.value.empty()) return Status::Invalid("DCP_COMMIT/DCP_ABORT must not have a value");
  DcpResolution m;
  m.vbucket = frame.vbucket();
  m.opaque = frame.opaque;
  m.prepared_seqno = LoadBe64(frame.extras.data());
  m.seqno = LoadBe64(frame.extras.data() + 8);
  if (m.prepared_seqno == 0 || m.seqno <= m.prepared_seqno) {
    return Status::Invalid("DCP_COMMIT/DCP_ABORT seqno must be above its prepared seqno");
  }
  RETURN_IF_ERROR(SplitWireKey(frame.key, collections, &m.collection_id, &m.key));
  ASSIGN_OR_RETURN(m.stream_id, DecodeDcpStreamId(frame));
  return m;
}

void AppendDcpSeqnoAcknowledged(std::string* out, const DcpSeqnoAcknowledged& m) {
  AppendItemFrame(out, Opcode::kDcpSeqnoAcknowledged, m.vbucket, m.opaque, 0, 0, std::nullopt,
                  kDcpSeqnoAcknowledgedExtrasSize, false, 0, {}, {},
                  [&](char* e) { StoreBe64(e, m.prepared_seqno); });
}

StatusOr<DcpSeqnoAcknowledged> DecodeDcpSeqnoAcknowledged(const Frame& frame) {
  if (frame.extras.size() != kDcpSeqnoAcknowledgedExtrasSize) {
    return Status::Invalid("DCP_SEQNO_ACKNOWLEDGED extras must be 8 bytes");
  }
  if (!frame.key.empty() || !frame.value.empty()) {
    return Status::Invalid("DCP_SEQNO_ACKNOWLEDGED has no key and no value");
  }
  DcpSeqnoAcknowledged m;
  m.vbucket = frame.vbucket();
  m.opaque = frame.opaque;
  m.prepared_seqno = LoadBe64(frame.extras.data());
  return m;
}

}  // namespace sluice::protocol
