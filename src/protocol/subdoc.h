// File: protocol/subdoc.h
//
// The wire format of the subdocument lookups (kv_engine docs/SubDocument.md) and their path
// syntax, shared by the server (decodes requests, encodes replies) and clients/tests (the
// reverse). Only lookups: SUBDOC_GET (0xc5), SUBDOC_EXISTS (0xc6), SUBDOC_GET_COUNT (0xd2) and
// SUBDOC_MULTI_LOOKUP (0xd0).
//
//   single path request:  extras = path length u16, subdoc flags u8 [, doc flags u8]; value = path
//   single path reply:    value = the fragment (GET), the count (GET_COUNT), nothing (EXISTS)
//   multi lookup request: extras = [doc flags u8]; value = up to 16 specs, each
//                         opcode u8, subdoc flags u8, path length u16, path
//   multi lookup reply:   value = per spec: status u16, value length u32, value
//
// Paths: dot-separated names and [index] components, e.g. `a.b[2].c`, `[-1]` = last element;
// a name in backticks may contain '.' and '[' (a doubled backtick is a literal one).
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/status.h"
#include "protocol/opcode.h"
#include "protocol/status.h"

namespace sluice::protocol {

inline constexpr uint8_t kSubdocFlagMkdirP = 0x01;
inline constexpr uint8_t kSubdocFlagXattrPath = 0x04;
inline constexpr uint8_t kSubdocFlagExpandMacros = 0x10;
inline constexpr uint8_t kSubdocDocFlagAccessDeleted = 0x04;
inline constexpr size_t kSubdocMaxLookupSpecs = 16;
inline constexpr size_t kSubdocMaxPathLength = 1024;
inline constexpr size_t kSubdocMaxPathDepth = 32;

struct SubdocLookupSpec {
  Opcode opcode = Opcode::kSubdocGet;  // kGet (whole document, empty path), kSubdocGet,
                                       // kSubdocExists or kSubdocGetCount
  uint8_t flags = 0;                   // subdoc flags
  std::string_view path;
};

// A single-path lookup's extras + value. kInvalid on a size mismatch.
StatusOr<SubdocLookupSpec> DecodeSubdocSingleLookup(Opcode opcode, std::string_view extras,
                                                    std::string_view value);
void AppendSubdocSingleLookupExtras(std::string* out, uint16_t path_length, uint8_t flags);

// A multi lookup's specs (views into `value`). kInvalid if a spec is truncated, there are none
// or more than kSubdocMaxLookupSpecs, or an opcode is not a lookup.
StatusOr<std::vector<SubdocLookupSpec>> DecodeSubdocMultiLookup(std::string_view value);
void AppendSubdocLookupSpec(std::string* out, const SubdocLookupSpec& spec);

struct SubdocLookupResult {
  McbpStatus status = McbpStatus::kSuccess;
  std::string value;
};
void AppendSubdocLookupResult(std::string* out, McbpStatus status, std::string_view value);
StatusOr<std::vector<SubdocLookupResult>> DecodeSubdocMultiLookupResponse(std::string_view value);

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
