// File: cluster/etcd_messages.h
//
// The JSON request and response messages of the KV and watch calls (etcdserverpb RangeRequest,
// PutRequest, DeleteRangeRequest, TxnRequest and their responses; mvccpb.Event), built from and
// decoded into the structs of cluster/etcd_types.h with the rules of cluster/etcd_codec.h.
// Decoders take the response object (the one inside "result" for streams) and fail with kIoError
// on a field of the wrong shape. Pure: tested without an etcd.
//
// Ownership: free functions. Thread safety: thread-safe.
#pragma once

#include <string_view>

#include "cluster/etcd_codec.h"
#include "cluster/etcd_types.h"
#include "common/status.h"

namespace sluice::cluster::codec {

Json EncodeRange(std::string_view key, const RangeOptions& options);
StatusOr<RangeResult> DecodeRange(const Json& response);

Json EncodePut(std::string_view key, std::string_view value, const PutOptions& options);
StatusOr<PutResult> DecodePut(const Json& response);

Json EncodeDelete(std::string_view key, const DeleteOptions& options);
StatusOr<DeleteResult> DecodeDelete(const Json& response);

Json EncodeTxn(const TxnRequest& request);
StatusOr<TxnResult> DecodeTxn(const Json& response);

// One element of a watch response's "events" (a PUT has no "type": its zero value).
StatusOr<WatchEvent> DecodeWatchEvent(const Json& event);

}  // namespace sluice::cluster::codec
