// File: protocol/payload.h
//
// Codecs for the fixed-layout extras and values of the non-DCP commands, shared by the server
// (which decodes requests and encodes replies) and the client (the reverse). Decoders take views
// and return kInvalid on a size mismatch; encoders append to a std::string.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"
#include "common/types.h"

namespace sluice::protocol {

// SET/ADD/REPLACE request extras (8 bytes).
struct MutationExtras {
  uint32_t flags = 0;
  uint32_t expiry = 0;
};
StatusOr<MutationExtras> DecodeMutationExtras(std::string_view extras);
void AppendMutationExtras(std::string* out, const MutationExtras& extras);

// INCR/DECR request extras (20 bytes). expiry 0xffffffff = do not create.
inline constexpr uint32_t kArithmeticNoCreate = 0xffffffff;
struct ArithmeticExtras {
  uint64_t delta = 0;
  uint64_t initial = 0;
  uint32_t expiry = 0;
};
StatusOr<ArithmeticExtras> DecodeArithmeticExtras(std::string_view extras);
void AppendArithmeticExtras(std::string* out, const ArithmeticExtras& extras);

// TOUCH/GAT request extras, GET-hit response flags, GET_VBUCKET reply, BUFFER_ACK extras...:
// a lone big-endian u32 / u64 / u16.
StatusOr<uint32_t> DecodeU32(std::string_view bytes);
StatusOr<uint64_t> DecodeU64(std::string_view bytes);
StatusOr<uint16_t> DecodeU16(std::string_view bytes);

// The 16-byte extras of a successful mutation response once HELLO MutationSeqno was agreed.
struct MutationToken {
  Vbid vbucket = 0;  // from the request; not on the wire
  uint64_t vbucket_uuid = 0;
  uint64_t seqno = 0;
};
inline constexpr size_t kMutationTokenExtrasSize = 16;
void AppendMutationTokenExtras(std::string* out, uint64_t vbucket_uuid, uint64_t seqno);
StatusOr<MutationToken> DecodeMutationTokenExtras(std::string_view extras, Vbid vbucket);

// GET_CLUSTER_CONFIG optional 16-byte extras: the (epoch, revision) the client already has.
struct ClusterConfigVersion {
  int64_t epoch = 0;
  int64_t revision = 0;
};
StatusOr<ClusterConfigVersion> DecodeClusterConfigVersion(std::string_view extras);
void AppendClusterConfigVersion(std::string* out, const ClusterConfigVersion& version);

// GET_ALL_VB_SEQNOS: optional request extras (state filter u32 [, collection id u32]) and the
// reply value (vbid u16, high seqno u64) repeated, sorted by vbid. State 0 means "alive".
struct AllVbSeqnosFilter {
  uint32_t state = 0;  // 0 alive, 1 active, 2 replica, 3 pending, 4 dead
  std::optional<uint32_t> collection_id;
};
StatusOr<std::optional<AllVbSeqnosFilter>> DecodeAllVbSeqnosExtras(std::string_view extras);
void AppendAllVbSeqnosExtras(std::string* out, const AllVbSeqnosFilter& filter);
void AppendVbSeqnoEntry(std::string* out, Vbid vb, uint64_t high_seqno);
StatusOr<std::vector<std::pair<Vbid, uint64_t>>> DecodeAllVbSeqnos(std::string_view value);

// OBSERVE_SEQNO reply. Format 0: the UUID matched; format 1 (a failover happened) adds the old
// UUID and the last seqno received under it.
struct ObserveSeqnoReply {
  bool failover = false;  // format byte 1
  Vbid vbucket = 0;
  uint64_t vbucket_uuid = 0;
  uint64_t last_persisted_seqno = 0;
  uint64_t current_seqno = 0;
  uint64_t old_vbucket_uuid = 0;     // format 1 only
  uint64_t last_received_seqno = 0;  // format 1 only
};
void AppendObserveSeqnoReply(std::string* out, const ObserveSeqnoReply& reply);
StatusOr<ObserveSeqnoReply> DecodeObserveSeqnoReply(std::string_view value);

}  // namespace sluice::protocol
