// File: protocol/validate.h
//
// Per-opcode request validation, the facts taken from kv_engine's validators: for each client
// opcode the server implements, which extras lengths are allowed, whether a key and a value are
// required / forbidden / optional, whether CAS may be set, which datatype bits are
// accepted, whether the key is a document key (collection-prefixed when collections are on), the
// frame infos (durability / preserve-TTL only where the opcode supports them) and the few
// command-specific rules (DCP_OPEN flag combinations, vbucket states, snapshot-marker versions,
// HELLO's even-length value, GET_ERROR_MAP's 2-byte value, ...).
//
// ValidateRequest returns:
//   OK                       the request is well-formed; the handler may read its sections blindly
//   kInvalid (+ reason)      malformed -> EINVAL
//   kXattrInvalid            a value with the XATTR datatype whose xattr section is malformed
//   kDurabilityInvalidLevel  bad durability frame info
//   kNotSupported            known but retired opcode (FLUSH, TAP, ...), preserve-TTL on an opcode
//                            without it, unknown frame info id
//   kUnknownCommand          opcode not in the table (the server does not implement it)
// What it does not check (connection state the server owns): authentication, bucket selection,
// whether the datatype bits were enabled by HELLO, whether a DCP command arrives on a DCP
// connection, and the DCP_STREAM_REQ flag semantics beyond "known bits".
//
// Thread safety: pure function over an immutable table.
#pragma once

#include "common/status.h"
#include "protocol/frame.h"

namespace sluice::protocol {

// Connection state that changes the rules.
struct ValidationContext {
  // HELLO Collections agreed: document keys carry a LEB128 collection prefix, keys may be up to 251
  // bytes, DCP_STREAM_REQ may carry a JSON value, GET_RANDOM_KEY takes a collection id.
  bool collections = false;
  // The connection was opened (as a DCP consumer) with IncludeDeleteTimes: DCP_DELETION has 21-byte
  // extras instead of 18.
  bool dcp_delete_v2 = false;
  // HELLO XATTR agreed: SET / ADD / REPLACE may carry the XATTR datatype (the value then starts
  // with an xattr section, which must be valid: else kXattrInvalid, kv_engine's XATTR_EINVAL).
  bool xattr = false;
};

// Maximum key length without collections (with collections: 251 on the wire, and a logical key of
// at most 250 in the default collection and 246 in others).
inline constexpr size_t kMaxKeyLength = 250;
inline constexpr size_t kMaxCollectionsKeyLength = 251;
inline constexpr size_t kMaxCollectionsLogicalKeyLength = 246;

// REQUIRES: request.is_request() and it came from a client (magic 0x80 or 0x08).
Status ValidateRequest(const Frame& request, const ValidationContext& context = {});

// Whether the validation table has an entry for `op` (i.e. ValidateRequest does not answer
// kUnknownCommand for it).
bool IsValidatedOpcode(Opcode op);

}  // namespace sluice::protocol
