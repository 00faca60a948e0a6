// Producer::Encode: a stream's message in this connection's encodings - the stream id (a frame
// info, with enable_stream_id), snapshot marker V1 or V2.2 (max_marker_version), and the item
// messages as the stream's ItemEncoder writes them (item_encoder.h: collection-aware keys, the
// value as the DCP_OPEN flags allow, deletion V1 or V2); backfilled items arrive encoded already
// (backfill_batch.h) and are copied as they are.
#include "dcp/backfill_batch.h"
#include "dcp/producer.h"
#include "protocol/dcp_sync_write.h"
#include "protocol/opcode.h"

namespace sluice::dcp {
void Producer::Encode(const DcpMessage& m, StreamKey key, uint32_t opaque,
                      const ItemEncoder& encoder, std::string* out) const {
  switch (m.type) {
    case DcpMessage::Type::kSnapshotMarker: {
      protocol::DcpSnapshotMarker marker;
      marker.vbucket = key.vb;
      marker.opaque = opaque;
      marker.stream_id = key.stream_id();
      marker.start_seqno = m.snap_start;
      marker.end_seqno = m.snap_end;
      marker.flags = m.snap_flags;
      if (marker_v2_2_.load(std::memory_order_relaxed)) {
        // Without sync writes every item in the snapshot is visible and none is prepared.
        marker.version = protocol::DcpSnapshotMarkerVersion::kV2_2;
        marker.max_visible_seqno = m.snap_end;
        marker.purge_seqno = m.purge_seqno;
      }
      protocol::AppendDcpSnapshotMarker(out, marker);
      return;
    }
    case DcpMessage::Type::kMutation:
    case DcpMessage::Type::kDeletion:
    case DcpMessage::Type::kExpiration:
    case DcpMessage::Type::kPrepare:
      encoder.Append(m.type, ItemView::Of(*m.item), key, opaque, out);
      return;
    case DcpMessage::Type::kCommit:
    case DcpMessage::Type::kAbort: {
      const auto opcode = m.type == DcpMessage::Type::kCommit ? protocol::Opcode::kDcpCommit
                                                              : protocol::Opcode::kDcpAbort;
      protocol::AppendDcpResolution(out, static_cast<uint8_t>(opcode),
                                    {.vbucket = key.vb,
                                     .opaque = opaque,
                                     .prepared_seqno = m.item->prepared_seqno,
                                     .seqno = m.item->by_seqno,
                                     .key = m.item->key,
                                     .stream_id = key.stream_id()},
                                    collections_);
      return;
    }
    case DcpMessage::Type::kBackfillItems:
      // Encoded by the backfill with the same encoder (backfill_batch.h).
      out->append(m.batch->Bytes(m.first, m.last));
      return;
    case DcpMessage::Type::kSeqnoAdvanced:
      protocol::AppendDcpSeqnoAdvanced(out, {.vbucket = key.vb,
                                             .opaque = opaque,
                                             .by_seqno = m.snap_end,
                                             .stream_id = key.stream_id()});
      return;
    case DcpMessage::Type::kOsoSnapshot:
      protocol::AppendDcpOsoSnapshot(out, {.vbucket = key.vb,
                                           .opaque = opaque,
                                           .flags = m.oso_flags,
                                           .stream_id = key.stream_id()});
      return;
    case DcpMessage::Type::kStreamEnd:
      protocol::AppendDcpStreamEnd(out, {.vbucket = key.vb,
                                         .opaque = opaque,
                                         .status = m.end_status,
                                         .stream_id = key.stream_id()});
      return;
  }
}

}  // namespace sluice::dcp
