// File: client/connection_kv.cc
//
// Connection's KV and admin helpers: each builds one request with src/protocol, runs it through
// Execute() and decodes the answer.

#include <fmt/format.h>

#include "client/connection.h"
#include "protocol/byte_order.h"
#include "protocol/datatype.h"
#include "protocol/frame_info.h"
#include "protocol/payload.h"

namespace sluice::client {

using protocol::Feature;
using protocol::McbpStatus;
using protocol::Opcode;
using protocol::RequestFields;

protocol::RequestFields Connection::KeyRequest(Opcode opcode, std::string_view key,
                                               const KeyOptions& route) const {
  RequestFields request;
  request.opcode = opcode;
  request.key = key;
  if (route.vbucket) {
    request.vbucket = *route.vbucket;
  } else if (options_.num_vbuckets > 0) {
    request.vbucket = VBucketForKey(key, options_.num_vbuckets);
  }
  if (HasFeature(Feature::kCollections)) request.collection = route.collection_id;
  return request;
}

StatusOr<KvResult> Connection::ExecuteKv(const RequestFields& request, bool mutation) {
  ASSIGN_OR_RETURN(Response response, Execute(request));
  KvResult result;
  result.status = response.status;
  result.cas = response.cas;
  result.datatype = response.datatype;
  result.vbucket = request.vbucket;
  result.key = std::move(response.key);
  result.value = std::move(response.value);
  if (!response.ok()) return result;
  if (mutation) {
    if (response.extras.size() == protocol::kMutationTokenExtrasSize) {
      ASSIGN_OR_RETURN(result.token,
                       protocol::DecodeMutationTokenExtras(response.extras, request.vbucket));
    }
  } else if (response.extras.size() == 4) {
    result.flags = protocol::LoadBe32(response.extras.data());
  }
  return result;
}

StatusOr<KvResult> Connection::Store(Opcode opcode, std::string_view key, std::string_view value,
                                     const MutationOptions& options) {
  RequestFields request = KeyRequest(opcode, key, options.route);
  request.value = value;
  request.cas = options.cas;
  request.datatype = options.datatype;
  char extras[8];
  if (opcode == Opcode::kSet || opcode == Opcode::kAdd || opcode == Opcode::kReplace) {
    protocol::StoreBe32(extras, options.flags);
    protocol::StoreBe32(extras + 4, options.expiry);
    request.extras = std::string_view(extras, sizeof(extras));
  }
  std::string framing;
  if (options.durability) protocol::AppendDurabilityFrameInfo(&framing, *options.durability);
  if (options.preserve_ttl) protocol::AppendPreserveTtlFrameInfo(&framing);
  request.framing_extras = framing;
  return ExecuteKv(request, /*mutation=*/true);
}

StatusOr<KvResult> Connection::Get(std::string_view key, const KeyOptions& options) {
  return ExecuteKv(KeyRequest(Opcode::kGet, key, options), false);
}

StatusOr<KvResult> Connection::GetK(std::string_view key, const KeyOptions& options) {
  return ExecuteKv(KeyRequest(Opcode::kGetk, key, options), false);
}

StatusOr<KvResult> Connection::Set(std::string_view key, std::string_view value,
                                   const MutationOptions& options) {
  return Store(Opcode::kSet, key, value, options);
}

StatusOr<KvResult> Connection::Add(std::string_view key, std::string_view value,
                                   const MutationOptions& options) {
  return Store(Opcode::kAdd, key, value, options);
}

StatusOr<KvResult> Connection::Replace(std::string_view key, std::string_view value,
                                       const MutationOptions& options) {
  return Store(Opcode::kReplace, key, value, options);
}

StatusOr<KvResult> Connection::Append(std::string_view key, std::string_view value,
                                      const MutationOptions& options) {
  return Store(Opcode::kAppend, key, value, options);
}

StatusOr<KvResult> Connection::Prepend(std::string_view key, std::string_view value,
                                       const MutationOptions& options) {
  return Store(Opcode::kPrepend, key, value, options);
}

StatusOr<KvResult> Connection::Delete(std::string_view key, const MutationOptions& options) {
  RequestFields request = KeyRequest(Opcode::kDelete, key, options.route);
  request.cas = options.cas;
  std::string framing;
  if (options.durability) protocol::AppendDurabilityFrameInfo(&framing, *options.durability);
  request.framing_extras = framing;
  return ExecuteKv(request, /*mutation=*/true);
}

StatusOr<KvResult> Connection::Arithmetic(Opcode opcode, std::string_view key, uint64_t delta,
                                          const ArithmeticOptions& options) {
  RequestFields request = KeyRequest(opcode, key, options.route);
  char extras[20];
  protocol::StoreBe64(extras, delta);
  protocol::StoreBe64(extras + 8, options.initial);
  protocol::StoreBe32(extras + 16, options.expiry);
  request.extras = std::string_view(extras, sizeof(extras));
  std::string framing;
  if (options.durability) protocol::AppendDurabilityFrameInfo(&framing, *options.durability);
  request.framing_extras = framing;
  ASSIGN_OR_RETURN(KvResult result, ExecuteKv(request, /*mutation=*/true));
  if (result.ok()) {
    ASSIGN_OR_RETURN(result.counter, protocol::DecodeU64(result.value));
  }
  return result;
}

StatusOr<KvResult> Connection::Increment(std::string_view key, uint64_t delta,
                                         const ArithmeticOptions& options) {
  return Arithmetic(Opcode::kIncrement, key, delta, options);
}

StatusOr<KvResult> Connection::Decrement(std::string_view key, uint64_t delta,
                                         const ArithmeticOptions& options) {
  return Arithmetic(Opcode::kDecrement, key, delta, options);
}

StatusOr<KvResult> Connection::Touch(std::string_view key, uint32_t expiry,
                                     const KeyOptions& options) {
  RequestFields request = KeyRequest(Opcode::kTouch, key, options);
  char extras[4];
  protocol::StoreBe32(extras, expiry);
  request.extras = std::string_view(extras, sizeof(extras));
  return ExecuteKv(request, /*mutation=*/false);
}

StatusOr<KvResult> Connection::GetAndTouch(std::string_view key, uint32_t expiry,
                                           const KeyOptions& options) {
  RequestFields request = KeyRequest(Opcode::kGat, key, options);
  char extras[4];
  protocol::StoreBe32(extras, expiry);
  request.extras = std::string_view(extras, sizeof(extras));
  return ExecuteKv(request, /*mutation=*/false);
}

// ---- Admin ----

StatusOr<std::vector<std::pair<std::string, std::string>>> Connection::Stats(
    std::string_view group, std::string_view json_value) {
  RequestFields request;
  request.opcode = Opcode::kStat;
  request.key = group;
  request.value = json_value;
  if (!json_value.empty()) request.datatype = protocol::kDatatypeJson;
  const uint32_t opaque = Enqueue(request);
  RETURN_IF_ERROR(Flush());
  std::vector<std::pair<std::string, std::string>> stats;
  while (true) {
    ASSIGN_OR_RETURN(protocol::Frame frame, AwaitResponse(opaque));
    if (frame.status() != McbpStatus::kSuccess) {
      return Status(
          protocol::ErrcFromMcbpStatus(frame.status()),
          fmt::format("STAT {} failed: {}", group, protocol::McbpStatusName(frame.status())));
    }
    if (frame.key.empty() && frame.value.empty()) return stats;  // the terminator
    stats.emplace_back(std::string(frame.key), std::string(frame.value));
  }
}

StatusOr<KvResult> Connection::GetClusterConfig(
    std::optional<protocol::ClusterConfigVersion> known) {
  RequestFields request;
  request.opcode = Opcode::kGetClusterConfig;
  std::string extras;
  if (known) protocol::AppendClusterConfigVersion(&extras, *known);
  request.extras = extras;
  return ExecuteKv(request, /*mutation=*/false);
}

StatusOr<KvResult> Connection::GetErrorMap(uint16_t version) {
  RequestFields request;
  request.opcode = Opcode::kGetErrorMap;
  char value[2];
  protocol::StoreBe16(value, version);
  request.value = std::string_view(value, sizeof(value));
  return ExecuteKv(request, /*mutation=*/false);
}

Status Connection::SetVBucket(Vbid vbucket, VBucketState state, std::string_view json_value) {
  RequestFields request;
  request.opcode = Opcode::kSetVbucket;
  request.vbucket = vbucket;
  const char extras = static_cast<char>(state);
  request.extras = std::string_view(&extras, 1);
  request.value = json_value;
  if (!json_value.empty()) request.datatype = protocol::kDatatypeJson;
  return ExecuteExpectSuccess(request).status();
}

StatusOr<VBucketState> Connection::GetVBucket(Vbid vbucket) {
  RequestFields request;
  request.opcode = Opcode::kGetVbucket;
  request.vbucket = vbucket;
  ASSIGN_OR_RETURN(Response response, ExecuteExpectSuccess(request));
  ASSIGN_OR_RETURN(uint32_t state, protocol::DecodeU32(response.value));
  if (!IsValidVBucketState(state)) {
    return Status(Errc::kInvalid, fmt::format("GET_VBUCKET returned state {}", state));
  }
  return static_cast<VBucketState>(state);
}

StatusOr<std::vector<std::pair<Vbid, uint64_t>>> Connection::GetAllVbSeqnos(
    std::optional<protocol::AllVbSeqnosFilter> filter) {
  RequestFields request;
  request.opcode = Opcode::kGetAllVbSeqnos;
  std::string extras;
  if (filter) protocol::AppendAllVbSeqnosExtras(&extras, *filter);
  request.extras = extras;
  ASSIGN_OR_RETURN(Response response, ExecuteExpectSuccess(request));
  return protocol::DecodeAllVbSeqnos(response.value);
}

StatusOr<protocol::ObserveSeqnoReply> Connection::ObserveSeqno(Vbid vbucket,
                                                               uint64_t vbucket_uuid) {
  RequestFields request;
  request.opcode = Opcode::kObserveSeqno;
  request.vbucket = vbucket;
  char value[8];
  protocol::StoreBe64(value, vbucket_uuid);
  request.value = std::string_view(value, sizeof(value));
  ASSIGN_OR_RETURN(Response response, ExecuteExpectSuccess(request));
  return protocol::DecodeObserveSeqnoReply(response.value);
}

StatusOr<std::vector<protocol::FailoverEntry>> Connection::GetFailoverLog(Vbid vbucket) {
  RequestFields request;
  request.opcode = Opcode::kGetFailoverLog;
  request.vbucket = vbucket;
  ASSIGN_OR_RETURN(Response response, ExecuteExpectSuccess(request));
  return protocol::DecodeFailoverLog(response.value);
}

Status Connection::Noop() {
  RequestFields request;
  request.opcode = Opcode::kNoop;
  return ExecuteExpectSuccess(request).status();
}

StatusOr<std::string> Connection::Version() {
  RequestFields request;
  request.opcode = Opcode::kVersion;
  ASSIGN_OR_RETURN(Response response, ExecuteExpectSuccess(request));
  return std::move(response.value);
}

}  // namespace sluice::client
