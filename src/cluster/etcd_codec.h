// File: cluster/etcd_codec.h
//
// The encoding rules of etcd's JSON gateway (grpc-gateway over the v3 gRPC API), in one place:
//   - keys and values (protobuf `bytes`) travel as standard base64;
//   - int64/uint64 fields travel as JSON strings ("42"), other numbers as JSON numbers;
//   - fields with their zero value are omitted (no "kvs" in an empty range, no "type" in a PUT
//     watch event, no "succeeded" in a failed txn);
//   - errors come back as a JSON body: {"error": "...", "message": "...", "code": <gRPC code>}
//     from a unary call, {"error": {"grpc_code": n, "message": "..."}} from a stream;
//   - a prefix is the range [key, PrefixEnd(key)).
// Everything here is pure (no I/O), so it is tested without an etcd (etcd_codec_test.cc).
//
// Ownership: free functions. Thread safety: thread-safe.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "cluster/etcd_types.h"
#include "common/status.h"

namespace sluice::cluster::codec {

using Json = nlohmann::json;

// Standard base64 (RFC 4648 alphabet, '=' padding, no line breaks).
std::string Base64Encode(std::string_view bytes);
// Strict: only a canonical encoding is accepted; kInvalid otherwise.
StatusOr<std::string> Base64Decode(std::string_view text);

// The range_end that makes [prefix, end) cover every key starting with `prefix`: the prefix with
// its last byte below 0xff incremented and what follows dropped. An empty prefix, or one of only
// 0xff bytes, gives "\0" (etcd's "every key >= key").
std::string PrefixEnd(std::string_view prefix);

// Sets "key" (and "range_end" for a prefix) in a request object.
void SetKeyRange(Json& request, std::string_view key, bool prefix);

// An int64 field: absent or null is 0; a decimal string or a JSON integer is its value; anything
// else is kIoError naming the field.
StatusOr<int64_t> Int64Field(const Json& object, std::string_view name);
// A bool field: absent is false.
bool BoolField(const Json& object, std::string_view name);
// A bytes field, decoded: absent is empty.
StatusOr<std::string> BytesField(const Json& object, std::string_view name);
// The header's revision of a response object (0 if absent).
StatusOr<int64_t> HeaderRevision(const Json& response);
// An mvccpb.KeyValue object.
StatusOr<EtcdKeyValue> DecodeKeyValue(const Json& object);

// The sluice code for a gRPC status code, as the gateway reports it (the one translation):
//   NotFound (lease not found) → kNotFound, AlreadyExists → kExists,
//   InvalidArgument/FailedPrecondition → kInvalid, OutOfRange (compacted or future revision) →
//   kRange, Unavailable/DeadlineExceeded/Aborted (no leader, timeouts) → kTempFail,
//   ResourceExhausted (database space exceeded, too many requests) → kBusy,
//   PermissionDenied/Unauthenticated → kNoAccess, Cancelled → kCancelled,
//   Unimplemented → kNotSupported, DataLoss → kCorruption, anything else → kInternal.
Errc ErrcFromGrpcCode(int64_t code);

// The error a gateway body carries, or OK when it carries none. Both the unary form and the
// stream form are understood; the message keeps etcd's text ("etcd: <text>").
Status ErrorInBody(const Json& body);

// Parses a response body; malformed JSON is kIoError quoting the start of the body.
StatusOr<Json> ParseBody(std::string_view text);

}  // namespace sluice::cluster::codec
