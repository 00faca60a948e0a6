// File: server/subdoc_context.h
//
// SubdocExecution: runs the specs of one subdoc command on one fetched document, in kv_engine's
// phases:
//
//   1. xattr phase   the xattr specs, on the document's xattrs seen as one JSON object (an X-Key
//                    is the first path component) or on a virtual xattr ($document, $vbucket,
//                    $XTOC; subdoc_vattr.h); ${...} macros are expanded (${Mutation.*} as
//                    placeholders the write's pre-link step fills in). If they changed anything,
//                    the section is rebuilt from the object (members sorted by key, values
//                    re-serialised compactly, as kv_engine's nlohmann rebuild does).
//   2. delete phase  a whole-document DELETE spec drops the user xattrs (the system ones stay
//                    for the tombstone)
//   3. body phase    the body specs: path operations (subdoc/operation.h) need a JSON body
//                    (else SubdocDocNotJson); whole-document GET / SET / DELETE.
//
// A failing spec ends a single-path command and a multi mutation (status: its own, or
// SubdocMultiPathFailure); a multi lookup goes on with the next spec. Nothing here touches the
// engine: commands_subdoc.cc fetches the document, runs this, and stores value() with
// datatype().
//
// Thread safety: one command on its connection's thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/engine_types.h"
#include "protocol/subdoc_request.h"
#include "server/subdoc_vattr.h"
#include "xattr/blob.h"

namespace sluice::server {

// The document as fetched: its stored value (xattrs, then the body) and metadata, or for a
// mutation that creates it, the empty root it starts from (subdoc::EmptyRootFor).
struct SubdocInput {
  std::string value;
  uint8_t datatype = 0;
  SubdocDocMeta meta;                 // meta.body is set by SubdocExecution
  std::optional<engine::HlcNow> hlc;  // $vbucket; nullopt: the vbucket is gone
};

struct SubdocSpecResult {
  protocol::McbpStatus status = protocol::McbpStatus::kEinternal;
  std::string value;  // GET, GET_COUNT, COUNTER, whole-document GET
};

class SubdocExecution {
 public:
  SubdocExecution(const protocol::SubdocRequest& request, SubdocInput input);

  void Run();

  // kSuccess; a single-path command's own failure; kSubdocMultiPathFailure (a multi command).
  protocol::McbpStatus status() const { return status_; }
  // One per spec, in request order (specs after a multi mutation's failure stay kEinternal).
  const std::vector<SubdocSpecResult>& results() const { return results_; }

  // After a successful mutation: the new value (xattr section, then the body) and datatype.
  const std::string& value() const { return doc_; }
  uint8_t datatype() const { return datatype_; }
  size_t body_size() const;
  // A whole-document DELETE ran; then whether any (system) xattrs remain for the tombstone.
  bool delete_document() const { return delete_document_; }
  bool has_xattrs() const { return (datatype_ & xattr::kDatatypeXattr) != 0; }
  // The pre-link step for ${Mutation.*} macros, null if none was used.
  engine::PreLinkFn PreLink() const;

 private:
  // Runs one spec on `doc` (JSON); records its result; returns false to stop the phase.
  bool RunPathSpec(size_t index, std::string* doc, bool* modified);
  bool Record(size_t index, protocol::McbpStatus status, std::string value = {});
  std::string_view SpecValue(size_t index, protocol::McbpStatus* status);
  void XattrPhase();
  void DeletePhase();
  void BodyPhase();
  bool WholeDocSpec(size_t index, std::string* body, bool* modified);
  void Rewrite(std::string_view section, std::string_view body);

  const protocol::SubdocRequest& request_;
  SubdocInput input_;
  std::string doc_;  // the current value: xattr section (if any), then the body
  uint8_t datatype_ = 0;
  protocol::McbpStatus status_ = protocol::McbpStatus::kSuccess;
  std::vector<SubdocSpecResult> results_;
  bool delete_document_ = false;
  bool expand_macros_ = false;
  MacroPadding padding_;
  std::vector<std::string> macro_keys_;
  std::string vattr_scratch_;  // the virtual xattr document a spec runs on
  std::string macro_scratch_;  // an expanded ${$document...} macro
};

}  // namespace sluice::server
