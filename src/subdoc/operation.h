// File: subdoc/operation.h
//
// One subdocument operation on one JSON text, with kv_engine's semantics (its subjson library:
// docs/SubDocument.md has the user-level rules): the lookups SUBDOC_GET, SUBDOC_EXISTS and
// SUBDOC_GET_COUNT, and the mutations SUBDOC_DICT_ADD, SUBDOC_DICT_UPSERT, SUBDOC_DELETE,
// SUBDOC_REPLACE, SUBDOC_ARRAY_PUSH_LAST / _FIRST, SUBDOC_ARRAY_INSERT, SUBDOC_ARRAY_ADD_UNIQUE
// and SUBDOC_COUNTER. A mutation splices the text: bytes it does not replace stay as they were
// (the inserted value is the client's text verbatim), and a lookup returns the matched bytes.
//
// The caller (server/subdoc_context.h) runs these on the document body, or on the xattrs seen as
// one JSON object whose members are the X-Keys; whole-document specs, virtual attributes and
// macros are its business.
//
// Thread safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "protocol/opcode.h"
#include "protocol/status.h"

namespace sluice::subdoc {

struct OpResult {
  protocol::McbpStatus status = protocol::McbpStatus::kSuccess;
  std::string doc;    // a successful mutation: the new document
  std::string value;  // a successful GET, GET_COUNT or COUNTER: the result
};

// Runs `op` at `path` in `doc` (valid JSON expected; otherwise kSubdocDocNotJson). `value` is the
// mutation's input (empty for lookups and SUBDOC_DELETE); `mkdir_p` creates missing intermediate
// dictionaries. Errors are subdoc statuses (kSubdocPath*, kSubdocValue*, kSubdocDelta*,
// kSubdocNumErange, kSubdocDoc*); an opcode that is not one of the above is kEinval.
OpResult Execute(protocol::Opcode op, std::string_view doc, std::string_view path,
                 std::string_view value, bool mkdir_p);

// What a document created by a mutation with the Mkdoc or Add doc flag starts as (kv_engine's
// Subdoc::Util::get_root_type): "[]" for an array push or add-unique with an empty path and for a
// path starting with '[', "{}" otherwise.
std::string_view EmptyRootFor(protocol::Opcode op, std::string_view path);

}  // namespace sluice::subdoc
