// File: protocol/subdoc_request.h
//
// Which subdocument requests are valid, with kv_engine's answers: one traits table saying, per
// opcode usable as a subdoc operation, which path and doc flags it takes, whether it has a value
// and may have an empty path, whether it mutates and what it answers; and ParseSubdocRequest, which
// decodes a SUBDOC_* request (single path or multi) and checks it against the table, returning the
// status kv_engine returns for the first problem:
//
//   Einval                          bad extras, path too long, value present/absent wrongly, flags
//                                   not valid for the opcode, Add with a CAS, Add with Mkdoc,
//                                   CreateAsDeleted without Mkdoc/Add or on a body path,
//                                   ReviveDocument without AccessDeleted or with CreateAsDeleted,
//                                   a path on a whole-document spec, an empty path where none is
//                                   allowed
//   NotSupported                    an xattr path on a connection that did not agree HELLO XATTR
//   XattrEinval                     an invalid X-Key (xattr/blob.h IsValidKey)
//   SubdocXattrInvalidFlagCombo     ExpandMacros without XattrPath
//   SubdocXattrCantModifyVattr      a mutation of a virtual ('$') attribute
//   SubdocXattrUnknownMacro         ExpandMacros with a value that is not a known macro
//   SubdocInvalidCombo              no specs, more than 16, an opcode that is not a subdoc
//                                   operation of the command's kind, a spec after a whole-document
//                                   delete
//   SubdocInvalidXattrOrder         an xattr spec after a body spec
//
// Not supported by sluice (refused as invalid flags, Einval): the BinaryValue path flag and the
// ReplicaRead doc flag.
//
// Thread safety: pure functions over a constant table.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "protocol/frame.h"
#include "protocol/subdoc.h"

namespace sluice::protocol {

enum class SubdocScope : uint8_t {
  kPath,          // a JSON path operation (subdoc/operation.h)
  kWholeDoc,      // GET / SET / DELETE of the whole body, in a multi command, empty path
  kXattrAndBody,  // SUBDOC_REPLACE_BODY_WITH_XATTR
};
enum class SubdocResponse : uint8_t { kNone, kJson, kFromDocument };

struct SubdocTraits {
  SubdocScope scope = SubdocScope::kPath;
  uint8_t valid_flags = 0;      // path flags the operation accepts
  uint8_t mandatory_flags = 0;  // path flags it requires
  uint8_t valid_doc_flags = 0;  // doc flags it accepts
  bool has_value = false;       // the request carries a value
  bool allow_empty_path = false;
  SubdocResponse response = SubdocResponse::kNone;
  bool mutator = false;
};

// The traits of `op`, nullopt if it is not a subdoc operation (the multi commands themselves are
// not: they are containers).
std::optional<SubdocTraits> SubdocTraitsOf(Opcode op);

// A decoded request: the specs in request order, and the request-wide fields.
struct SubdocRequest {
  bool multi = false;
  bool mutator = false;
  uint32_t expiry = 0;  // wire expiry (engine::ExpiryFromWire turns it absolute)
  std::optional<uint32_t> user_flags;
  uint8_t doc_flags = 0;
  std::vector<SubdocSpec> specs;  // views into the frame
};

// The outcome of ParseSubdocRequest: kSuccess or the status to answer, with kv_engine's error
// context for Einval.
struct SubdocCheck {
  McbpStatus status = McbpStatus::kSuccess;
  std::string_view context;
  bool ok() const { return status == McbpStatus::kSuccess; }
};

// Decodes and checks a SUBDOC_* request (opcodes 0xc5-0xd3). `xattr_enabled`: the connection
// agreed HELLO XATTR.
SubdocCheck ParseSubdocRequest(const Frame& request, bool xattr_enabled, SubdocRequest* out);

// Whether `op` is a subdoc command (single path or multi), i.e. ParseSubdocRequest's domain.
bool IsSubdocCommand(Opcode op);

}  // namespace sluice::protocol
