#include "cluster/etcd_messages.h"

#include <string>

namespace sluice::cluster::codec {
namespace {

// The gateway's enum names and the field each compare target reads: one table.
struct TargetInfo {
  CompareTarget target;
  const char* name;
  const char* field;
};
constexpr TargetInfo kTargets[] = {
    {CompareTarget::kValue, "VALUE", "value"},
    {CompareTarget::kVersion, "VERSION", "version"},
    {CompareTarget::kCreateRevision, "CREATE", "create_revision"},
    {CompareTarget::kModRevision, "MOD", "mod_revision"},
    {CompareTarget::kLease, "LEASE", "lease"},
};

const char* CompareOpName(CompareOp op) {
  switch (op) {
    case CompareOp::kEqual:
      return "EQUAL";
    case CompareOp::kNotEqual:
      return "NOT_EQUAL";
    case CompareOp::kLess:
      return "LESS";
    case CompareOp::kGreater:
      return "GREATER";
  }
  return "EQUAL";
}

Json EncodeCompare(const Compare& c) {
  Json out = Json::object();
  SetKeyRange(out, c.key, /*prefix=*/false);
  for (const auto& info : kTargets) {
    if (info.target != c.target) continue;
    out["target"] = info.name;
    if (c.target == CompareTarget::kValue) {
      out[info.field] = Base64Encode(c.value);
    } else {
      out[info.field] = std::to_string(c.number);
    }
  }
  out["result"] = CompareOpName(c.op);
  return out;
}

Json EncodeTxnOp(const TxnOp& op) {
  switch (op.kind) {
    case TxnOp::Kind::kPut:
      return {
          {"request_put", EncodePut(op.key, op.value, {.lease = op.lease, .prev_kv = op.prev_kv})}};
    case TxnOp::Kind::kRange:
      return {{"request_range", EncodeRange(op.key, {.prefix = op.prefix})}};
    case TxnOp::Kind::kDelete:
      return {{"request_delete_range",
               EncodeDelete(op.key, {.prefix = op.prefix, .prev_kv = op.prev_kv})}};
  }
  return Json::object();
}

StatusOr<std::vector<EtcdKeyValue>> DecodeKeyValues(const Json& response, const char* field) {
  std::vector<EtcdKeyValue> kvs;
  const auto it = response.find(field);
  if (it == response.end() || it->is_null()) return kvs;
  if (!it->is_array())
    return Status(Errc::kIoError, std::string("etcd: '") + field + "' is not a list");
  for (const auto& item : *it) {
    ASSIGN_OR_RETURN(auto kv, DecodeKeyValue(item));
    kvs.push_back(std::move(kv));
  }
  return kvs;
}

// One element of a txn's "responses": {"response_put": {...}} or range or delete_range.
StatusOr<TxnOpResult> DecodeTxnOpResult(const Json& item, int64_t txn_revision) {
  if (!item.is_object()) return Status(Errc::kIoError, "etcd: a txn response is not an object");
  auto with_revision = [txn_revision](auto result) {
    if (result.revision == 0) result.revision = txn_revision;
    return result;
  };
  if (const auto it = item.find("response_put"); it != item.end()) {
    ASSIGN_OR_RETURN(auto put, DecodePut(*it));
    return TxnOpResult(with_revision(std::move(put)));
  }
  if (const auto it = item.find("response_range"); it != item.end()) {
    ASSIGN_OR_RETURN(auto range, DecodeRange(*it));
    return TxnOpResult(with_revision(std::move(range)));
  }
  if (const auto it = item.find("response_delete_range"); it != item.end()) {
    ASSIGN_OR_RETURN(auto del, DecodeDelete(*it));
    return TxnOpResult(with_revision(std::move(del)));
  }
  return Status(Errc::kIoError, "etcd: a txn response of an unknown kind");
}

}  // namespace

Json EncodeRange(std::string_view key, const RangeOptions& options) {
  Json out = Json::object();
  SetKeyRange(out, key, options.prefix);
  if (options.revision != 0) out["revision"] = std::to_string(options.revision);
  if (options.limit != 0) out["limit"] = std::to_string(options.limit);
  if (options.keys_only) out["keys_only"] = true;
  if (options.count_only) out["count_only"] = true;
  return out;
}

StatusOr<RangeResult> DecodeRange(const Json& response) {
  RangeResult result;
  ASSIGN_OR_RETURN(result.revision, HeaderRevision(response));
  ASSIGN_OR_RETURN(result.kvs, DecodeKeyValues(response, "kvs"));
  result.more = BoolField(response, "more");
  ASSIGN_OR_RETURN(result.count, Int64Field(response, "count"));
  return result;
}

Json EncodePut(std::string_view key, std::string_view value, const PutOptions& options) {
  Json out = Json::object();
  SetKeyRange(out, key, /*prefix=*/false);
  out["value"] = Base64Encode(value);
  if (options.lease != 0) out["lease"] = std::to_string(options.lease);
  if (options.prev_kv) out["prev_kv"] = true;
  return out;
}

StatusOr<PutResult> DecodePut(const Json& response) {
  PutResult result;
  ASSIGN_OR_RETURN(result.revision, HeaderRevision(response));
  if (const auto it = response.find("prev_kv"); it != response.end() && !it->is_null()) {
    ASSIGN_OR_RETURN(auto prev, DecodeKeyValue(*it));
    result.prev_kv = std::move(prev);
  }
  return result;
}

Json EncodeDelete(std::string_view key, const DeleteOptions& options) {
  Json out = Json::object();
  SetKeyRange(out, key, options.prefix);
  if (options.prev_kv) out["prev_kv"] = true;
  return out;
}

StatusOr<DeleteResult> DecodeDelete(const Json& response) {
  DeleteResult result;
  ASSIGN_OR_RETURN(result.revision, HeaderRevision(response));
  ASSIGN_OR_RETURN(result.deleted, Int64Field(response, "deleted"));
  ASSIGN_OR_RETURN(result.prev_kvs, DecodeKeyValues(response, "prev_kvs"));
  return result;
}

Json EncodeTxn(const TxnRequest& request) {
  Json out = Json::object();
  Json& compare = out["compare"] = Json::array();
  for (const auto& c : request.compare) compare.push_back(EncodeCompare(c));
  Json& success = out["success"] = Json::array();
  for (const auto& op : request.success) success.push_back(EncodeTxnOp(op));
  Json& failure = out["failure"] = Json::array();
  for (const auto& op : request.failure) failure.push_back(EncodeTxnOp(op));
  return out;
}

StatusOr<TxnResult> DecodeTxn(const Json& response) {
  TxnResult result;
  ASSIGN_OR_RETURN(result.revision, HeaderRevision(response));
  result.succeeded = BoolField(response, "succeeded");
  const auto it = response.find("responses");
  if (it == response.end() || it->is_null()) return result;
  if (!it->is_array()) return Status(Errc::kIoError, "etcd: txn 'responses' is not a list");
  for (const auto& item : *it) {
    ASSIGN_OR_RETURN(auto op_result, DecodeTxnOpResult(item, result.revision));
    result.responses.push_back(std::move(op_result));
  }
  return result;
}

StatusOr<WatchEvent> DecodeWatchEvent(const Json& event) {
  if (!event.is_object()) return Status(Errc::kIoError, "etcd: a watch event is not an object");
  WatchEvent out;
  if (const auto it = event.find("type"); it != event.end() && !it->is_null()) {
    if (*it == "DELETE" || *it == 1) {
      out.type = WatchEvent::Type::kDelete;
    } else if (!(*it == "PUT" || *it == 0)) {
      return Status(Errc::kIoError, "etcd: unknown watch event type " + it->dump());
    }
  }
  if (const auto it = event.find("kv"); it != event.end()) {
    ASSIGN_OR_RETURN(out.kv, DecodeKeyValue(*it));
  }
  if (const auto it = event.find("prev_kv"); it != event.end() && !it->is_null()) {
    ASSIGN_OR_RETURN(auto prev, DecodeKeyValue(*it));
    out.prev_kv = std::move(prev);
  }
  return out;
}

}  // namespace sluice::cluster::codec
