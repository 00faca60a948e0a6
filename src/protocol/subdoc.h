// File: protocol/subdoc.h
//
// The wire format of the subdocument commands (kv_engine's) and their path syntax, shared by the
// server (decodes requests, encodes replies) and clients/tests (the reverse). Which combinations
// are valid is protocol/subdoc_request.h.
//
//   single path request:  extras = path length u16, path flags u8 [, expiry u32 [, user flags
//                         u32]] [, doc flags u8] (3, 4, 7, 8, 11 or 12 bytes; lookups 3 or 4);
//                         value = path, then the operation's value (mutations)
//   single path reply:    value = the fragment (GET), the count (GET_COUNT), the new number
//                         (COUNTER), nothing otherwise; extras = mutation token (mutations, with
//                         HELLO MutationSeqno)
//   multi request:        extras = [expiry u32 [, user flags u32]] [, doc flags u8] (0, 1, 4, 5,
//                         8 or 9 bytes; lookups 0 or 1); value = up to 16 specs:
//                           lookup:   opcode u8, path flags u8, path length u16, path
//                           mutation: opcode u8, path flags u8, path length u16, value length
//                                     u32, path, value
//   multi lookup reply:   per spec: status u16, value length u32, value
//   multi mutation reply: success: per spec that has a result (COUNTER): index u8, status u16
//                         (Success), value length u32, value; failure (SubdocMultiPathFailure):
//                         the first failed spec's index u8 and status u16 only
//
// Paths: dot-separated names and [index] components, e.g. `a.b[2].c`, `[-1]` = last element;
// a name in backticks may contain '.' and '[' (a doubled backtick is a literal one). A name is
// JSON string content: '"' and control characters must be escaped (\" etc.; \u is refused).
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/status.h"
#include "protocol/opcode.h"
#include "protocol/status.h"

namespace sluice::protocol {

// Path flags (per spec).
inline constexpr uint8_t kSubdocFlagMkdirP = 0x01;
inline constexpr uint8_t kSubdocFlagXattrPath = 0x04;
inline constexpr uint8_t kSubdocFlagExpandMacros = 0x10;
inline constexpr uint8_t kSubdocFlagBinaryValue = 0x20;  // not supported by sluice
// Doc flags (per request).
inline constexpr uint8_t kSubdocDocFlagMkdoc = 0x01;
inline constexpr uint8_t kSubdocDocFlagAdd = 0x02;
inline constexpr uint8_t kSubdocDocFlagAccessDeleted = 0x04;
inline constexpr uint8_t kSubdocDocFlagCreateAsDeleted = 0x08;
inline constexpr uint8_t kSubdocDocFlagReviveDocument = 0x10;
inline constexpr uint8_t kSubdocDocFlagReplicaRead = 0x20;  // not supported by sluice
inline constexpr uint8_t kSubdocDocFlagsKnown = 0x3f;

inline constexpr size_t kSubdocMaxSpecs = 16;
inline constexpr size_t kSubdocMaxLookupSpecs = kSubdocMaxSpecs;
inline constexpr size_t kSubdocMaxPathLength = 1024;
// Components a path may have: subjson's MAX_COMPONENTS (32) counts the root as one.
inline constexpr size_t kSubdocMaxPathDepth = 31;

// One operation: the single-path command itself or one spec of a multi command.
struct SubdocSpec {
  Opcode opcode = Opcode::kSubdocGet;
  uint8_t flags = 0;  // path flags
  std::string_view path;
  std::string_view value;  // mutations only
};
using SubdocLookupSpec = SubdocSpec;

struct SubdocSingleExtras {
  uint16_t path_length = 0;
  uint8_t flags = 0;  // path flags
  uint32_t expiry = 0;
  std::optional<uint32_t> user_flags;
  uint8_t doc_flags = 0;
};
// kInvalid unless 3, 4, 7, 8, 11 or 12 bytes.
StatusOr<SubdocSingleExtras> DecodeSubdocSingleExtras(std::string_view extras);
// The shortest form carrying the fields: expiry when non-zero or user_flags is set, doc flags
// when non-zero.
void AppendSubdocSingleExtras(std::string* out, const SubdocSingleExtras& extras);

struct SubdocMultiExtras {
  uint32_t expiry = 0;
  std::optional<uint32_t> user_flags;
  uint8_t doc_flags = 0;
};
// kInvalid unless 0, 1, 4, 5, 8 or 9 bytes.
StatusOr<SubdocMultiExtras> DecodeSubdocMultiExtras(std::string_view extras);
void AppendSubdocMultiExtras(std::string* out, const SubdocMultiExtras& extras);

// The spec at *pos of a multi request's value (views into it); advances *pos. kInvalid if it is
// truncated. Nothing else is checked here.
StatusOr<SubdocSpec> DecodeSubdocSpec(std::string_view value, size_t* pos, bool mutation);
void AppendSubdocSpec(std::string* out, const SubdocSpec& spec, bool mutation);

// Convenience for clients and tests: a single-path lookup's spec, and every spec of a multi
// lookup (kInvalid if truncated or empty).
StatusOr<SubdocSpec> DecodeSubdocSingleLookup(Opcode opcode, std::string_view extras,
                                              std::string_view value);
void AppendSubdocSingleLookupExtras(std::string* out, uint16_t path_length, uint8_t flags);
StatusOr<std::vector<SubdocSpec>> DecodeSubdocMultiLookup(std::string_view value);
inline void AppendSubdocLookupSpec(std::string* out, const SubdocSpec& spec) {
  AppendSubdocSpec(out, spec, /*mutation=*/false);
}

struct SubdocLookupResult {
  McbpStatus status = McbpStatus::kSuccess;
  std::string value;
};
void AppendSubdocLookupResult(std::string* out, McbpStatus status, std::string_view value);
StatusOr<std::vector<SubdocLookupResult>> DecodeSubdocMultiLookupResponse(std::string_view value);

struct SubdocMutationResult {
  uint8_t index = 0;
  McbpStatus status = McbpStatus::kSuccess;
  std::string value;  // successful results only
};
// A success carries its value; a failure only index and status.
void AppendSubdocMutationResult(std::string* out, uint8_t index, McbpStatus status,
                                std::string_view value);
StatusOr<std::vector<SubdocMutationResult>> DecodeSubdocMultiMutationResponse(
    std::string_view value);

// One path component: an object member name (backticks removed) or an array index.
using SubdocPathComponent = std::variant<std::string, int64_t>;
// The components of `path`; the error is the subdoc status to answer: kSubdocPathEinval (syntax),
// kSubdocPathE2big (longer than kSubdocMaxPathLength or deeper than kSubdocMaxPathDepth).
// An empty path has no components.
struct SubdocPathParse {
  McbpStatus status = McbpStatus::kSuccess;
  std::vector<SubdocPathComponent> components;
};
SubdocPathParse ParseSubdocPath(std::string_view path);

}  // namespace sluice::protocol
