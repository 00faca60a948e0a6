// File: server/subdoc_vattr.h
//
// The virtual xattrs and macros of subdoc, as kv_engine defines them: what the '$' attributes read
// as, what ${...} macros expand to, and how ${Mutation.*} macros are filled in once the write's
// CAS and seqno are known.
//
//   $document  {"CAS":"0x<16 hex>","datatype":["json","xattr"],"deleted":false,"exptime":0,
//               "flags":0,"last_modified":"<seconds>","revid":"<rev seqno>",
//               "seqno":"0x<16 hex>","value_bytes":<body bytes>,"value_crc32c":"0x<8 hex>",
//               "vbucket_uuid":"0x<16 hex>"}  (keys sorted; a lookup sees it under "$document")
//   $vbucket   {"$vbucket":{"HLC":{"mode":"real"|"logical","now":"<seconds>"}}}
//   $XTOC      {"$XTOC":[the document's xattr keys, system ones included]}
//
//   ${Mutation.CAS}           "0x<16 hex>" of the new CAS, byte-swapped as kv_engine writes it
//                             (htonll(cas) printed in hex)
//   ${Mutation.seqno}         "0x<16 hex>" of the new seqno
//   ${Mutation.value_crc32c}  "0x<8 hex>" CRC-32C of the new body
//   ${$document}, ${$document.<CAS|vbucket_uuid|seqno|revid|exptime|flags|value_bytes|
//   datatype|deleted|last_modified>}   the document as it was before the write
//
// Thread safety: pure functions; a MacroPadding is used by one thread at a time, then copied
// into the PreLinkFn (immutable).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine_types.h"

namespace sluice::server {

// The document a subdoc command read (or starts from, when it creates one).
struct SubdocDocMeta {
  uint64_t cas = 0;
  uint64_t vbucket_uuid = 0;
  uint64_t seqno = 0;
  uint64_t rev_seqno = 0;
  uint32_t expiry = 0;  // absolute unix seconds
  uint32_t flags = 0;
  uint8_t datatype = 0;  // as stored
  bool deleted = false;
  std::string_view body;  // without xattrs
};

// "0x" and 16 (or 8) lowercase hex digits, as kv_engine's cb::to_hex.
std::string Hex64(uint64_t v);
std::string Hex32(uint32_t v);

// $document: wrapped in {"$document": ...} for lookups, bare for macro expansion.
std::string DocumentVattr(const SubdocDocMeta& doc, bool wrapped);
std::string VbucketVattr(const engine::HlcNow& hlc);
std::string XtocVattr(std::string_view xattr_section);

// The expansion of a ${$document...} macro (`macro` with its quotes), "" if unknown.
std::string ExpandDocumentMacro(std::string_view macro, const SubdocDocMeta& doc);

// The ${Mutation.*} macros of one command: each used macro stands in the document as a unique
// placeholder of its final length until the write's pre-link step substitutes it.
class MacroPadding {
 public:
  // Picks placeholders that occur neither in `xattrs` (the section's JSON) nor in `values`.
  void Generate(std::string_view xattrs, const std::vector<std::string_view>& values);
  // The placeholder for `macro` (quotes included), "" if it is not a Mutation macro.
  std::string_view For(std::string_view macro) const;
  // A pre-link step replacing the placeholders inside the values of `keys` (the xattrs whose
  // specs expanded macros) with the write's CAS, seqno and body CRC.
  engine::PreLinkFn PreLink(std::vector<std::string> keys) const;

 private:
  std::string cas_;
  std::string seqno_;
  std::string crc_;
};

}  // namespace sluice::server
