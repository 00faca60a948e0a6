// File: dcp/stream_filter.h
//
// StreamFilter: what a DCP_STREAM_REQ's JSON value asks for, checked as kv_engine's
// Collections::VB::Filter checks it. sluice has one collection (the default, id 0) in one scope
// (the default, id 0), at manifest uid 0.
//
//   {"sid": n}                the stream id, 1..65535 (0 or out of range: DcpStreamIdInvalid)
//   {"uid": "<hex>"}          the consumer's manifest uid: accepted, not used (as kv_engine)
//   {"collections": ["0"]}    hex collection ids; only "0" exists (else UnknownCollection)
//   {"scope": "0"}            a hex scope id; only "0" exists (else UnknownScope)
//   {"purge_seqno": "<dec>"}  the consumer's purge seqno (kv_engine sends a string; a number too)
//
// Invalid: a value that is not a JSON object, fields of the wrong type, "scope" together with
// "collections", or an object with none of the keys above. NotSupported: "cts" (cache-transfer
// streams are refused). Other keys are ignored, as kv_engine does. An empty value is a legacy
// stream: the default collection, no stream id.
//
// Thread safety: pure functions on values.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/status.h"

namespace sluice::dcp {

struct StreamFilter {
  std::optional<uint16_t> stream_id;
  // "collections" or "scope" was given: a filtered stream. With one collection it passes every
  // document, but it is a collection-aware stream (kv_engine sends it SeqnoAdvanced).
  bool collection_filter = false;
  uint64_t remote_purge_seqno = 0;
};

StatusOr<StreamFilter> ParseStreamFilter(std::string_view json);

}  // namespace sluice::dcp
