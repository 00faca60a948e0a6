// Producer::Encode: a stream's message in this connection's encodings - the stream id (a frame
// info, with enable_stream_id), snapshot marker V1 or V2.2 (max_marker_version), collection-aware
// keys (HELLO Collections), the value as the DCP_OPEN flags allow (NoValue,
// NoValueWithUnderlyingDatatype, IncludeXattrs, IncludeDeletedUserXattrs), deletion V1 or V2
// (IncludeDeleteTimes).
#include "dcp/producer.h"

namespace sluice::dcp {
namespace {

std::optional<uint16_t> StreamId(StreamKey key) {
  return key.sid == 0 ? std::nullopt : std::optional<uint16_t>(key.sid);
}

// The fields every item message (mutation, deletion, expiration) takes from its item.
template <typename Message>
void FillItemFields(const engine::Item& item, StreamKey key, uint32_t opaque, Message& message) {
  message.vbucket = key.vb;
  message.opaque = opaque;
  message.stream_id = StreamId(key);
  message.cas = item.cas;
  message.by_seqno = item.by_seqno;
  message.rev_seqno = item.rev_seqno;
  message.key = item.key;
}

}  // namespace

xattr::StreamValue Producer::StreamValueOf(const engine::Item& item) const {
  // What the DCP_OPEN flags let this consumer see of the value (xattr/filter.h).
  xattr::StreamOptions o;
  o.include_body = (open_flags_ & (protocol::kDcpOpenNoValue |
                                   protocol::kDcpOpenNoValueWithUnderlyingDatatype)) == 0;
  o.include_xattrs = (open_flags_ & protocol::kDcpOpenIncludeXattrs) != 0;
  o.include_deleted_user_xattrs = (open_flags_ & protocol::kDcpOpenIncludeDeletedUserXattrs) != 0;
  o.underlying_datatype = (open_flags_ & protocol::kDcpOpenNoValueWithUnderlyingDatatype) != 0;
  return xattr::ForStream(item.value.view(), item.datatype, item.deleted, o);
}

void Producer::Encode(const DcpMessage& m, StreamKey key, uint32_t opaque, std::string* out) const {
  switch (m.type) {
    case DcpMessage::Type::kSnapshotMarker: {
      protocol::DcpSnapshotMarker marker;
      marker.vbucket = key.vb;
      marker.opaque = opaque;
      marker.stream_id = StreamId(key);
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
      EncodeItem(m, key, opaque, out);
      return;
    case DcpMessage::Type::kSeqnoAdvanced:
      protocol::AppendDcpSeqnoAdvanced(out, {.vbucket = key.vb,
                                             .opaque = opaque,
                                             .by_seqno = m.snap_end,
                                             .stream_id = StreamId(key)});
      return;
    case DcpMessage::Type::kOsoSnapshot:
      protocol::AppendDcpOsoSnapshot(
          out,
          {.vbucket = key.vb, .opaque = opaque, .flags = m.oso_flags, .stream_id = StreamId(key)});
      return;
    case DcpMessage::Type::kStreamEnd:
      protocol::AppendDcpStreamEnd(out, {.vbucket = key.vb,
                                         .opaque = opaque,
                                         .status = m.end_status,
                                         .stream_id = StreamId(key)});
      return;
  }
}

void Producer::EncodeItem(const DcpMessage& m, StreamKey key, uint32_t opaque,
                          std::string* out) const {
  const engine::Item& item = *m.item;
  switch (m.type) {
    case DcpMessage::Type::kMutation: {
      protocol::DcpMutation mutation;
      FillItemFields(item, key, opaque, mutation);
      mutation.flags = item.flags;
      mutation.expiration = item.expiry;
      const xattr::StreamValue v = StreamValueOf(item);
      mutation.datatype = v.datatype;
      mutation.value = v.value();
      protocol::AppendDcpMutation(out, mutation, collections_);
      return;
    }
    case DcpMessage::Type::kDeletion: {
      protocol::DcpDeletion deletion;
      FillItemFields(item, key, opaque, deletion);
      if ((open_flags_ & protocol::kDcpOpenIncludeDeleteTimes) != 0) {
        deletion.version = protocol::DcpDeletionVersion::kV2;
        deletion.delete_time = item.expiry;  // a tombstone's expiry holds its delete time
      }
      const xattr::StreamValue v = StreamValueOf(item);
      deletion.datatype = v.datatype;
      deletion.value = v.value();
      protocol::AppendDcpDeletion(out, deletion, collections_);
      return;
    }
    case DcpMessage::Type::kExpiration: {
      protocol::DcpExpiration expiration;
      FillItemFields(item, key, opaque, expiration);
      expiration.delete_time = item.expiry;
      const xattr::StreamValue v = StreamValueOf(item);
      expiration.datatype = v.datatype;
      expiration.value = v.value();
      protocol::AppendDcpExpiration(out, expiration, collections_);
      return;
    }
    default:
      return;
  }
}

}  // namespace sluice::dcp
