// File: protocol/dcp_codec.cc
#include "protocol/dcp_codec.h"

#include "protocol/byte_order.h"
#include "protocol/datatype.h"
#include "protocol/encode.h"
#include "protocol/frame_info.h"
#include "protocol/leb128.h"

namespace sluice::protocol {

std::string_view DcpStreamEndStatusName(DcpStreamEndStatus status) {
  switch (status) {
    case DcpStreamEndStatus::kOk:
      return "Ok";
    case DcpStreamEndStatus::kClosed:
      return "Closed";
    case DcpStreamEndStatus::kStateChanged:
      return "StateChanged";
    case DcpStreamEndStatus::kDisconnected:
      return "Disconnected";
    case DcpStreamEndStatus::kTooSlow:
      return "TooSlow";
    case DcpStreamEndStatus::kBackfillFailed:
      return "BackfillFailed";
    case DcpStreamEndStatus::kRollback:
      return "Rollback";
    case DcpStreamEndStatus::kFilterEmpty:
      return "FilterEmpty";
    case DcpStreamEndStatus::kLostPrivileges:
      return "LostPrivileges";
  }
  return "Unknown";
}

namespace {

// Appends a DCP request, adding the stream-id frame info (and so the alt magic) when asked.
void AppendDcpRequest(std::string* out, Opcode opcode, Vbid vb, uint32_t opaque, uint64_t cas,
                      uint8_t datatype, std::optional<uint16_t> stream_id, std::string_view extras,
                      std::optional<uint32_t> collection, std::string_view key,
                      std::string_view value) {
  char fe[3];
  RequestFields fields;
  fields.opcode = opcode;
  fields.vbucket = vb;
  fields.opaque = opaque;
  fields.cas = cas;
  fields.datatype = datatype;
  if (stream_id) {
    fe[0] = static_cast<char>((static_cast<uint8_t>(RequestFrameInfoId::kDcpStreamId) << 4) | 2);
    StoreBe16(fe + 1, *stream_id);
    fields.framing_extras = std::string_view(fe, 3);
  }
  fields.extras = extras;
  fields.collection = collection;
  fields.key = key;
  fields.value = value;
  AppendRequest(out, fields);
}

// Splits the key of a collection-aware message; leaves it whole otherwise.
}  // namespace

StatusOr<std::optional<uint16_t>> DecodeDcpStreamId(const Frame& frame) {
  std::optional<uint16_t> stream_id;
  bool bad_size = false;
  RETURN_IF_ERROR(ForEachFrameInfo(frame.framing_extras, [&](const FrameInfoEntry& entry) {
    if (entry.id == static_cast<uint16_t>(RequestFrameInfoId::kDcpStreamId)) {
      if (entry.payload.size() != 2) {
        bad_size = true;
      } else {
        stream_id = LoadBe16(entry.payload.data());
      }
      return false;
    }
    return true;
  }));
  if (bad_size) return Status::Invalid("DCP stream-id frame info must be 2 bytes");
  return stream_id;
}

// ---- DCP_OPEN ----

void AppendDcpOpen(std::string* out, const DcpOpenRequest& r) {
  char extras[kDcpOpenExtrasSize];
  StoreBe32(extras, r.seqno);
  StoreBe32(extras + 4, r.flags);
  AppendDcpRequest(out, Opcode::kDcpOpen, 0, r.opaque, 0,
                   r.json_value.empty() ? kDatatypeRaw : kDatatypeJson, std::nullopt,
                   std::string_view(extras, sizeof(extras)), std::nullopt, r.name, r.json_value);
}

StatusOr<DcpOpenRequest> DecodeDcpOpen(const Frame& frame) {
  if (frame.extras.size() != kDcpOpenExtrasSize)
    return Status::Invalid("DCP_OPEN extras must be 8 bytes");
  DcpOpenRequest r;
  r.opaque = frame.opaque;
  r.seqno = LoadBe32(frame.extras.data());
  r.flags = LoadBe32(frame.extras.data() + 4);
  r.name = frame.key;
  r.json_value = frame.value;
  return r;
}

// ---- DCP_CONTROL ----

void AppendDcpControl(std::string* out, const DcpControlRequest& r) {
  AppendDcpRequest(out, Opcode::kDcpControl, 0, r.opaque, 0, kDatatypeRaw, std::nullopt, {},
                   std::nullopt, r.key, r.value);
}

StatusOr<DcpControlRequest> DecodeDcpControl(const Frame& frame) {
  if (!frame.extras.empty()) return Status::Invalid("DCP_CONTROL must not have extras");
  if (frame.key.empty()) return Status::Invalid("DCP_CONTROL requires a key");
  return DcpControlRequest{frame.opaque, frame.key, frame.value};
}

// ---- DCP_STREAM_REQ ----

void AppendDcpStreamReq(std::string* out, const DcpStreamReqRequest& r) {
  char extras[kDcpStreamReqExtrasSize];
  StoreBe32(extras, r.flags);
  StoreBe32(extras + 4, 0);  // reserved
  StoreBe64(extras + 8, r.start_seqno);
  StoreBe64(extras + 16, r.end_seqno);
  StoreBe64(extras + 24, r.vbucket_uuid);
  StoreBe64(extras + 32, r.snap_start_seqno);
  StoreBe64(extras + 40, r.snap_end_seqno);
  // kv_engine accepts only datatype RAW on STREAM_REQ, even with a JSON value.
  AppendDcpRequest(out, Opcode::kDcpStreamReq, r.vbucket, r.opaque, 0, kDatatypeRaw, std::nullopt,
                   std::string_view(extras, sizeof(extras)), std::nullopt, {}, r.json_value);
}

StatusOr<DcpStreamReqRequest> DecodeDcpStreamReq(const Frame& frame) {
  if (frame.extras.size() != kDcpStreamReqExtrasSize) {
    return Status::Invalid("DCP_STREAM_REQ extras must be 48 bytes");
  }
  const char* e = frame.extras.data();
  DcpStreamReqRequest r;
  r.vbucket = frame.vbucket();
  r.opaque = frame.opaque;
  r.flags = LoadBe32(e);
  r.start_seqno = LoadBe64(e + 8);
  r.end_seqno = LoadBe64(e + 16);
  r.vbucket_uuid = LoadBe64(e + 24);
  r.snap_start_seqno = LoadBe64(e + 32);
  r.snap_end_seqno = LoadBe64(e + 40);
  r.json_value = frame.value;
  return r;
}

void AppendFailoverLog(std::string* out, const std::vector<FailoverEntry>& log) {
  out->reserve(out->size() + 16 * log.size());
  for (const FailoverEntry& entry : log) {
    AppendBe64(out, entry.vbucket_uuid);
    AppendBe64(out, entry.seqno);
  }
}

StatusOr<std::vector<FailoverEntry>> DecodeFailoverLog(std::string_view value) {
  if (value.size() % 16 != 0) return Status::Invalid("failover log is not a multiple of 16 bytes");
  std::vector<FailoverEntry> log;
  log.reserve(value.size() / 16);
  for (size_t i = 0; i < value.size(); i += 16) {
    log.push_back({LoadBe64(value.data() + i), LoadBe64(value.data() + i + 8)});
  }
  return log;
}

void AppendRollbackSeqno(std::string* out, uint64_t seqno) { AppendBe64(out, seqno); }

StatusOr<uint64_t> DecodeRollbackSeqno(std::string_view value) {
  if (value.size() != 8) return Status::Invalid("rollback seqno must be 8 bytes");
  return LoadBe64(value.data());
}

// ---- Small control messages ----

void AppendDcpCloseStream(std::string* out, Vbid vbucket, uint32_t opaque,
                          std::optional<uint16_t> stream_id) {
  AppendDcpRequest(out, Opcode::kDcpCloseStream, vbucket, opaque, 0, kDatatypeRaw, stream_id, {},
                   std::nullopt, {}, {});
}

void AppendDcpGetFailoverLog(std::string* out, Vbid vbucket, uint32_t opaque) {
  AppendDcpRequest(out, Opcode::kDcpGetFailoverLog, vbucket, opaque, 0, kDatatypeRaw, std::nullopt,
                   {}, std::nullopt, {}, {});
}

void AppendDcpBufferAck(std::string* out, uint32_t bytes, uint32_t opaque) {
  char extras[kDcpBufferAckExtrasSize];
  StoreBe32(extras, bytes);
  AppendDcpRequest(out, Opcode::kDcpBufferAcknowledgement, 0, opaque, 0, kDatatypeRaw, std::nullopt,
                   std::string_view(extras, sizeof(extras)), std::nullopt, {}, {});
}

StatusOr<uint32_t> DecodeDcpBufferAck(const Frame& frame) {
  if (frame.extras.size() != kDcpBufferAckExtrasSize) {
    return Status::Invalid("DCP_BUFFER_ACKNOWLEDGEMENT extras must be 4 bytes");
  }
  return LoadBe32(frame.extras.data());
}

void AppendDcpNoop(std::string* out, uint32_t opaque) {
  AppendDcpRequest(out, Opcode::kDcpNoop, 0, opaque, 0, kDatatypeRaw, std::nullopt, {},
                   std::nullopt, {}, {});
}

void AppendDcpNoopResponse(std::string* out, uint32_t opaque) {
  ResponseFields response;
  response.opcode = Opcode::kDcpNoop;
  response.opaque = opaque;
  AppendResponse(out, response);
}

// ---- DCP_SNAPSHOT_MARKER ----

void AppendDcpSnapshotMarker(std::string* out, const DcpSnapshotMarker& m) {
  if (m.version == DcpSnapshotMarkerVersion::kV1) {
    char extras[kDcpSnapshotMarkerV1ExtrasSize];
    StoreBe64(extras, m.start_seqno);
    StoreBe64(extras + 8, m.end_seqno);
    StoreBe32(extras + 16, m.flags);
    AppendDcpRequest(out, Opcode::kDcpSnapshotMarker, m.vbucket, m.opaque, 0, kDatatypeRaw,
                     m.stream_id, std::string_view(extras, sizeof(extras)), std::nullopt, {}, {});
    return;
  }
  const bool v22 = m.version == DcpSnapshotMarkerVersion::kV2_2;
  const char extras = v22 ? 2 : 0;
  char value[52];
  StoreBe64(value, m.start_seqno);
  StoreBe64(value + 8, m.end_seqno);
  StoreBe32(value + 16, m.flags);
  StoreBe64(value + 20, m.max_visible_seqno);
  StoreBe64(value + 28, m.high_completed_seqno);
  if (v22) {
    StoreBe64(value + 36, m.purge_seqno);
    StoreBe64(value + 44, m.high_prepared_seqno);
  }
  AppendDcpRequest(out, Opcode::kDcpSnapshotMarker, m.vbucket, m.opaque, 0, kDatatypeRaw,
                   m.stream_id, std::string_view(&extras, 1), std::nullopt, {},
                   std::string_view(value, v22 ? 52 : 36));
}

StatusOr<DcpSnapshotMarker> DecodeDcpSnapshotMarker(const Frame& frame) {
  DcpSnapshotMarker m;
  m.vbucket = frame.vbucket();
  m.opaque = frame.opaque;
  ASSIGN_OR_RETURN(m.stream_id, DecodeDcpStreamId(frame));
  if (!frame.key.empty()) return Status::Invalid("DCP_SNAPSHOT_MARKER must not have a key");
  if (frame.extras.size() == kDcpSnapshotMarkerV1ExtrasSize) {
    if (!frame.value.empty())
      return Status::Invalid("V1 DCP_SNAPSHOT_MARKER must not have a value");
    m.version = DcpSnapshotMarkerVersion::kV1;
    m.start_seqno = LoadBe64(frame.extras.data());
    m.end_seqno = LoadBe64(frame.extras.data() + 8);
    m.flags = LoadBe32(frame.extras.data() + 16);
    return m;
  }
  if (frame.extras.size() != 1)
    return Status::Invalid("DCP_SNAPSHOT_MARKER extras must be 20 or 1 bytes");
  const auto version = static_cast<uint8_t>(frame.extras[0]);
  size_t expected = 0;
  if (version == 0) {
    m.version = DcpSnapshotMarkerVersion::kV2_0;
    expected = 36;
  } else if (version == 2) {
    m.version = DcpSnapshotMarkerVersion::kV2_2;
    expected = 52;
  } else {
    return Status::Invalid("unsupported DCP_SNAPSHOT_MARKER version");
  }
  if (frame.value.size() != expected)
    return Status::Invalid("DCP_SNAPSHOT_MARKER value has wrong size");
  const char* v = frame.value.data();
  m.start_seqno = LoadBe64(v);
  m.end_seqno = LoadBe64(v + 8);
  m.flags = LoadBe32(v + 16);
  m.max_visible_seqno = LoadBe64(v + 20);
  m.high_completed_seqno = LoadBe64(v + 28);
  if (m.version == DcpSnapshotMarkerVersion::kV2_2) {
    m.purge_seqno = LoadBe64(v + 36);
    m.high_prepared_seqno = LoadBe64(v + 44);
  }
  return m;
}

// ---- DCP_MUTATION ----

StatusOr<DcpMutation> DecodeDcpMutation(const Frame& frame, bool collections) {
  if (frame.extras.size() != kDcpMutationExtrasSize) {
    return Status::Invalid("DCP_MUTATION extras must be 31 bytes");
  }
  if (frame.key.empty()) return Status::Invalid("DCP_MUTATION requires a key");
  const char* e = frame.extras.data();
  DcpMutation m;
  m.vbucket = frame.vbucket();
  m.opaque = frame.opaque;
  m.cas = frame.cas;
  m.datatype = frame.datatype;
  m.by_seqno = LoadBe64(e);
  m.rev_seqno = LoadBe64(e + 8);
  m.flags = LoadBe32(e + 16);
  m.expiration = LoadBe32(e + 20);
  m.lock_time = LoadBe32(e + 24);
  if (LoadBe16(e + 28) != 0)
    return Status::Invalid("DCP_MUTATION extended metadata is not supported");
  m.nru = static_cast<uint8_t>(e[30]);
  RETURN_IF_ERROR(SplitWireKey(frame.key, collections, &m.collection_id, &m.key));
  m.value = frame.value;
  ASSIGN_OR_RETURN(m.stream_id, DecodeDcpStreamId(frame));
  return m;
}

// ---- DCP_DELETION ----

StatusOr<DcpDeletion> DecodeDcpDeletion(const Frame& frame, bool collections) {
  DcpDeletion d;
  const char* e = frame.extras.data();
  if (frame.extras.size() == kDcpDeletionV1ExtrasSize) {
    d.version = DcpDeletionVersion::kV1;
    if (LoadBe16(e + 16) != 0)
      return Status::Invalid("DCP_DELETION extended metadata is not supported");
  } else if (frame.extras.size() == kDcpDeletionV2ExtrasSize) {
    d.version = DcpDeletionVersion::kV2;
    d.delete_time = LoadBe32(e + 16);
  } else {
    return Status::Invalid("DCP_DELETION extras must be 18 or 21 bytes");
  }
  if (frame.key.empty()) return Status::Invalid("DCP_DELETION requires a key");
  d.vbucket = frame.vbucket();
  d.opaque = frame.opaque;
  d.cas = frame.cas;
  d.datatype = frame.datatype;
  d.by_seqno = LoadBe64(e);
  d.rev_seqno = LoadBe64(e + 8);
  RETURN_IF_ERROR(SplitWireKey(frame.key, collections, &d.collection_id, &d.key));
  d.value = frame.value;
  ASSIGN_OR_RETURN(d.stream_id, DecodeDcpStreamId(frame));
  return d;
}

// ---- DCP_EXPIRATION ----

StatusOr<DcpExpiration> DecodeDcpExpiration(const Frame& frame, bool collections) {
  if (frame.extras.size() != kDcpExpirationExtrasSize) {
    return Status::Invalid("DCP_EXPIRATION extras must be 20 bytes");
  }
  if (frame.key.empty()) return Status::Invalid("DCP_EXPIRATION requires a key");
  const char* e = frame.extras.data();
  DcpExpiration x;
  x.vbucket = frame.vbucket();
  x.opaque = frame.opaque;
  x.cas = frame.cas;
  x.datatype = frame.datatype;
  x.by_seqno = LoadBe64(e);
  x.rev_seqno = LoadBe64(e + 8);
  x.delete_time = LoadBe32(e + 16);
  RETURN_IF_ERROR(SplitWireKey(frame.key, collections, &x.collection_id, &x.key));
  x.value = frame.value;
  ASSIGN_OR_RETURN(x.stream_id, DecodeDcpStreamId(frame));
  return x;
}

// ---- DCP_STREAM_END ----

void AppendDcpStreamEnd(std::string* out, const DcpStreamEnd& end) {
  char extras[kDcpStreamEndExtrasSize];
  StoreBe32(extras, static_cast<uint32_t>(end.status));
  AppendDcpRequest(out, Opcode::kDcpStreamEnd, end.vbucket, end.opaque, 0, kDatatypeRaw,
                   end.stream_id, std::string_view(extras, sizeof(extras)), std::nullopt, {}, {});
}

StatusOr<DcpStreamEnd> DecodeDcpStreamEnd(const Frame& frame) {
  if (frame.extras.size() != kDcpStreamEndExtrasSize) {
    return Status::Invalid("DCP_STREAM_END extras must be 4 bytes");
  }
  DcpStreamEnd end;
  end.vbucket = frame.vbucket();
  end.opaque = frame.opaque;
  end.status = static_cast<DcpStreamEndStatus>(LoadBe32(frame.extras.data()));
  ASSIGN_OR_RETURN(end.stream_id, DecodeDcpStreamId(frame));
  return end;
}

// ---- DCP_SET_VBUCKET_STATE / DCP_SEQNO_ADVANCED ----

void AppendDcpSetVbucketState(std::string* out, const DcpSetVbucketState& message) {
  const char extras = static_cast<char>(message.state);
  AppendDcpRequest(out, Opcode::kDcpSetVbucketState, message.vbucket, message.opaque, 0,
                   kDatatypeRaw, std::nullopt, std::string_view(&extras, 1), std::nullopt, {}, {});
}

StatusOr<DcpSetVbucketState> DecodeDcpSetVbucketState(const Frame& frame) {
  if (frame.extras.size() != 1)
    return Status::Invalid("DCP_SET_VBUCKET_STATE extras must be 1 byte");
  const auto state = static_cast<uint8_t>(frame.extras[0]);
  if (!IsValidVBucketState(state)) return Status::Invalid("invalid vbucket state");
  return DcpSetVbucketState{frame.vbucket(), frame.opaque, static_cast<VBucketState>(state)};
}

void AppendDcpSeqnoAdvanced(std::string* out, const DcpSeqnoAdvanced& message) {
  char extras[8];
  StoreBe64(extras, message.by_seqno);
  AppendDcpRequest(out, Opcode::kDcpSeqnoAdvanced, message.vbucket, message.opaque, 0, kDatatypeRaw,
                   message.stream_id, std::string_view(extras, sizeof(extras)), std::nullopt, {},
                   {});
}

StatusOr<DcpSeqnoAdvanced> DecodeDcpSeqnoAdvanced(const Frame& frame) {
  if (frame.extras.size() != 8) return Status::Invalid("DCP_SEQNO_ADVANCED extras must be 8 bytes");
  DcpSeqnoAdvanced message;
  message.vbucket = frame.vbucket();
  message.opaque = frame.opaque;
  message.by_seqno = LoadBe64(frame.extras.data());
  ASSIGN_OR_RETURN(message.stream_id, DecodeDcpStreamId(frame));
  return message;
}

void AppendDcpOsoSnapshot(std::string* out, const DcpOsoSnapshot& message) {
  char extras[4];
  StoreBe32(extras, message.flags);
  AppendDcpRequest(out, Opcode::kDcpOsoSnapshot, message.vbucket, message.opaque, 0, kDatatypeRaw,
                   message.stream_id, std::string_view(extras, sizeof(extras)), std::nullopt, {},
                   {});
}

StatusOr<DcpOsoSnapshot> DecodeDcpOsoSnapshot(const Frame& frame) {
  if (frame.extras.size() != 4) return Status::Invalid("DCP_OSO_SNAPSHOT extras must be 4 bytes");
  DcpOsoSnapshot message;
  message.vbucket = frame.vbucket();
  message.opaque = frame.opaque;
  message.flags = LoadBe32(frame.extras.data());
  if (message.flags != kDcpOsoSnapshotStart && message.flags != kDcpOsoSnapshotEnd) {
    return Status::Invalid("DCP_OSO_SNAPSHOT flags must be start (1) or end (2)");
  }
  ASSIGN_OR_RETURN(message.stream_id, DecodeDcpStreamId(frame));
  return message;
}

}  // namespace sluice::protocol
