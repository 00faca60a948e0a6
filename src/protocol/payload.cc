// File: protocol/payload.cc
#include "protocol/payload.h"

#include "protocol/byte_order.h"

namespace sluice::protocol {

namespace {
Status SizeError(const char* what) { return Status(Errc::kInvalid, what); }
}  // namespace

StatusOr<MutationExtras> DecodeMutationExtras(std::string_view extras) {
  if (extras.size() != 8) return SizeError("mutation extras must be 8 bytes");
  return MutationExtras{LoadBe32(extras.data()), LoadBe32(extras.data() + 4)};
}

void AppendMutationExtras(std::string* out, const MutationExtras& extras) {
  AppendBe32(out, extras.flags);
  AppendBe32(out, extras.expiry);
}

StatusOr<ArithmeticExtras> DecodeArithmeticExtras(std::string_view extras) {
  if (extras.size() != 20) return SizeError("arithmetic extras must be 20 bytes");
  return ArithmeticExtras{LoadBe64(extras.data()), LoadBe64(extras.data() + 8),
                          LoadBe32(extras.data() + 16)};
}

void AppendArithmeticExtras(std::string* out, const ArithmeticExtras& extras) {
  AppendBe64(out, extras.delta);
  AppendBe64(out, extras.initial);
  AppendBe32(out, extras.expiry);
}

StatusOr<uint32_t> DecodeU32(std::string_view bytes) {
  if (bytes.size() != 4) return SizeError("expected 4 bytes");
  return LoadBe32(bytes.data());
}

StatusOr<uint64_t> DecodeU64(std::string_view bytes) {
  if (bytes.size() != 8) return SizeError("expected 8 bytes");
  return LoadBe64(bytes.data());
}

StatusOr<uint16_t> DecodeU16(std::string_view bytes) {
  if (bytes.size() != 2) return SizeError("expected 2 bytes");
  return LoadBe16(bytes.data());
}

void AppendMutationTokenExtras(std::string* out, uint64_t vbucket_uuid, uint64_t seqno) {
  AppendBe64(out, vbucket_uuid);
  AppendBe64(out, seqno);
}

StatusOr<MutationToken> DecodeMutationTokenExtras(std::string_view extras, Vbid vbucket) {
  if (extras.size() != kMutationTokenExtrasSize) {
    return SizeError("mutation token extras must be 16 bytes");
  }
  return MutationToken{vbucket, LoadBe64(extras.data()), LoadBe64(extras.data() + 8)};
}

StatusOr<ClusterConfigVersion> DecodeClusterConfigVersion(std::string_view extras) {
  if (extras.size() != 16) return SizeError("cluster config version must be 16 bytes");
  return ClusterConfigVersion{static_cast<int64_t>(LoadBe64(extras.data())),
                              static_cast<int64_t>(LoadBe64(extras.data() + 8))};
}

void AppendClusterConfigVersion(std::string* out, const ClusterConfigVersion& version) {
  AppendBe64(out, static_cast<uint64_t>(version.epoch));
  AppendBe64(out, static_cast<uint64_t>(version.revision));
}

StatusOr<std::optional<AllVbSeqnosFilter>> DecodeAllVbSeqnosExtras(std::string_view extras) {
  if (extras.empty()) return std::optional<AllVbSeqnosFilter>();
  if (extras.size() != 4 && extras.size() != 8) {
    return SizeError("GET_ALL_VB_SEQNOS extras must be 0, 4 or 8 bytes");
  }
  AllVbSeqnosFilter filter;
  filter.state = LoadBe32(extras.data());
  if (filter.state > 4) return SizeError("GET_ALL_VB_SEQNOS state must be 0..4");
  if (extras.size() == 8) filter.collection_id = LoadBe32(extras.data() + 4);
  return std::optional<AllVbSeqnosFilter>(filter);
}

void AppendAllVbSeqnosExtras(std::string* out, const AllVbSeqnosFilter& filter) {
  AppendBe32(out, filter.state);
  if (filter.collection_id) AppendBe32(out, *filter.collection_id);
}

void AppendVbSeqnoEntry(std::string* out, Vbid vb, uint64_t high_seqno) {
  AppendBe16(out, vb);
  AppendBe64(out, high_seqno);
}

StatusOr<std::vector<std::pair<Vbid, uint64_t>>> DecodeAllVbSeqnos(std::string_view value) {
  if (value.size() % 10 != 0) return SizeError("GET_ALL_VB_SEQNOS value not a multiple of 10");
  std::vector<std::pair<Vbid, uint64_t>> entries;
  entries.reserve(value.size() / 10);
  for (size_t i = 0; i < value.size(); i += 10) {
    entries.emplace_back(LoadBe16(value.data() + i), LoadBe64(value.data() + i + 2));
  }
  return entries;
}

void AppendObserveSeqnoReply(std::string* out, const ObserveSeqnoReply& reply) {
  out->push_back(reply.failover ? 1 : 0);
  AppendBe16(out, reply.vbucket);
  AppendBe64(out, reply.vbucket_uuid);
  AppendBe64(out, reply.last_persisted_seqno);
  AppendBe64(out, reply.current_seqno);
  if (reply.failover) {
    AppendBe64(out, reply.old_vbucket_uuid);
    AppendBe64(out, reply.last_received_seqno);
  }
}

StatusOr<ObserveSeqnoReply> DecodeObserveSeqnoReply(std::string_view value) {
  if (value.empty()) return SizeError("empty OBSERVE_SEQNO reply");
  ObserveSeqnoReply reply;
  const auto format = static_cast<uint8_t>(value[0]);
  if (format > 1) return SizeError("unknown OBSERVE_SEQNO reply format");
  reply.failover = format == 1;
  const size_t expected = reply.failover ? 43 : 27;
  if (value.size() != expected) return SizeError("OBSERVE_SEQNO reply has the wrong size");
  const char* p = value.data() + 1;
  reply.vbucket = LoadBe16(p);
  reply.vbucket_uuid = LoadBe64(p + 2);
  reply.last_persisted_seqno = LoadBe64(p + 10);
  reply.current_seqno = LoadBe64(p + 18);
  if (reply.failover) {
    reply.old_vbucket_uuid = LoadBe64(p + 26);
    reply.last_received_seqno = LoadBe64(p + 34);
  }
  return reply;
}

}  // namespace sluice::protocol
