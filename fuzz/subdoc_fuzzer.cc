// File: fuzz/subdoc_fuzzer.cc
//
// libFuzzer target for the document-level code of extended attributes and subdoc: the XATTR
// value codec (xattr/blob.h, xattr/filter.h) and the subdoc path operations (subdoc/operation.h).
// Input (fuzz/fuzz_input.h): U8 mode, then
//
//   0  Rest: a value with the XATTR datatype
//   1  U8 operation, U8 mkdir_p, Str path, Str value, Rest document: one subdoc operation
//
// Invariants: a value Validate() accepts re-encodes (ForEach + Encode) to exactly its section,
// its pruned halves and what DCP sends of it (ForStream, every option) are valid sections again
// (or empty), and Get finds every key ForEach yields; an operation on a valid JSON document never
// breaks it: a successful mutation's result is valid JSON, and a lookup's value is one JSON value
// of the document.
// Seeds: fuzz/corpus/subdoc/ (from make_corpus).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fuzz/fuzz_check.h"
#include "fuzz/fuzz_input.h"
#include "protocol/opcode.h"
#include "subdoc/json_scan.h"
#include "subdoc/operation.h"
#include "xattr/blob.h"
#include "xattr/filter.h"

namespace sluice::fuzz {
namespace {

using protocol::McbpStatus;
using protocol::Opcode;

constexpr Opcode kOperations[] = {
    Opcode::kSubdocGet,         Opcode::kSubdocExists,         Opcode::kSubdocGetCount,
    Opcode::kSubdocDictAdd,     Opcode::kSubdocDictUpsert,     Opcode::kSubdocDelete,
    Opcode::kSubdocReplace,     Opcode::kSubdocArrayPushLast,  Opcode::kSubdocArrayPushFirst,
    Opcode::kSubdocArrayInsert, Opcode::kSubdocArrayAddUnique, Opcode::kSubdocCounter};

bool ValidSectionOrEmpty(std::string_view section) {
  return section.empty() || xattr::Validate(section);
}

void CheckXattrValue(std::string_view value) {
  if (!xattr::Validate(value)) return;
  const auto split = xattr::SplitValue(value);
  FUZZ_CHECK(split.has_value(), "a valid value splits");
  std::vector<std::pair<std::string_view, std::string_view>> pairs;
  xattr::ForEach(split->section, [&](std::string_view k, std::string_view v) {
    pairs.emplace_back(k, v);
    FUZZ_CHECK(xattr::Get(split->section, k) == v, "Get finds what ForEach yields");
  });
  const std::string encoded = xattr::Encode(pairs);
  FUZZ_CHECK(pairs.empty() ? encoded.empty() : encoded == split->section,
             "ForEach + Encode reproduce the section");
  FUZZ_CHECK(ValidSectionOrEmpty(xattr::Prune(split->section, xattr::Keep::kSystem)),
             "the system half is a valid section");
  FUZZ_CHECK(ValidSectionOrEmpty(xattr::Prune(split->section, xattr::Keep::kUser)),
             "the user half is a valid section");
  xattr::ToJsonObject(split->section);  // any text; must not crash
  for (int bits = 0; bits < 32; ++bits) {
    xattr::StreamOptions o;
    o.include_body = (bits & 1) != 0;
    o.include_xattrs = (bits & 2) != 0;
    o.include_deleted_user_xattrs = (bits & 4) != 0;
    o.underlying_datatype = (bits & 8) != 0;
    const bool deleted = (bits & 16) != 0;
    const xattr::StreamValue v = xattr::ForStream(value, xattr::kDatatypeXattr, deleted, o);
    if (!o.underlying_datatype && (v.datatype & xattr::kDatatypeXattr) != 0) {
      FUZZ_CHECK(xattr::Validate(v.value()), "a streamed value with xattrs is valid");
    }
    if (!o.include_xattrs) {
      FUZZ_CHECK(!o.underlying_datatype ? (v.datatype & xattr::kDatatypeXattr) == 0 : true,
                 "no xattrs without IncludeXattrs");
    }
  }
}

void CheckOperation(FuzzInput& in) {
  const Opcode op = kOperations[in.U8() % std::size(kOperations)];
  const bool mkdir_p = (in.U8() & 1) != 0;
  const std::string path(in.Str());
  const std::string value(in.Str());
  const std::string doc(in.Rest());
  subdoc::Element root;
  const bool valid = subdoc::Scanner(doc).Root(&root) == McbpStatus::kSuccess;
  const subdoc::OpResult r = subdoc::Execute(op, doc, path, value, mkdir_p);
  if (!valid || r.status != McbpStatus::kSuccess) return;
  const bool lookup =
      op == Opcode::kSubdocGet || op == Opcode::kSubdocExists || op == Opcode::kSubdocGetCount;
  if (!lookup) {
    FUZZ_CHECK(subdoc::Scanner(r.doc).Root(&root) == McbpStatus::kSuccess,
               "a mutation of a valid document leaves valid JSON");
  }
  if (op == Opcode::kSubdocGet || op == Opcode::kSubdocGetCount || op == Opcode::kSubdocCounter) {
    FUZZ_CHECK(subdoc::Scanner(r.value).Root(&root) == McbpStatus::kSuccess,
               "a lookup or counter result is one JSON value");
  }
}

}  // namespace
}  // namespace sluice::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  sluice::fuzz::FuzzInput in(data, size);
  switch (in.U8() % 2) {
    case 0:
      sluice::fuzz::CheckXattrValue(in.Rest());
      break;
    default:
      sluice::fuzz::CheckOperation(in);
      break;
  }
  return 0;
}
