// File: server/subdoc_context.cc
#include "server/subdoc_context.h"

#include <nlohmann/json.hpp>

#include "common/json_check.h"
#include "protocol/datatype.h"
#include "subdoc/operation.h"
#include "xattr/blob.h"

namespace sluice::server {

using protocol::McbpStatus;
using protocol::Opcode;
using protocol::SubdocScope;
using protocol::SubdocSpec;

namespace {

bool IsXattrSpec(const SubdocSpec& spec) {
  return (spec.flags & protocol::kSubdocFlagXattrPath) != 0;
}

std::string_view XattrKeyOf(std::string_view path) {
  return path.substr(0, path.find_first_of(".["));
}

std::string_view SectionOf(uint8_t datatype, std::string_view value) {
  if ((datatype & xattr::kDatatypeXattr) == 0) return {};
  const auto split = xattr::SplitValue(value);
  return split ? split->section : std::string_view();
}

// The section rebuilt from the xattrs' JSON object, as kv_engine does it (nlohmann: members in
// key order, values re-serialised compactly). nullopt if the text is not a JSON object.
std::optional<std::string> SectionFromJson(std::string_view object) {
  const nlohmann::json json = nlohmann::json::parse(object, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) return std::nullopt;
  std::vector<std::string> values;
  std::vector<std::pair<std::string_view, std::string_view>> pairs;
  values.reserve(json.size());
  for (auto it = json.begin(); it != json.end(); ++it) {
    values.push_back(it.value().dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
  }
  size_t i = 0;
  for (auto it = json.begin(); it != json.end(); ++it) pairs.emplace_back(it.key(), values[i++]);
  return xattr::Encode(pairs);
}

}  // namespace

SubdocExecution::SubdocExecution(const protocol::SubdocRequest& request, SubdocInput input)
    : request_(request), input_(std::move(input)) {
  doc_ = input_.value;
  datatype_ = input_.datatype;
  input_.meta.body = xattr::Body(input_.datatype, input_.value);
  results_.resize(request_.specs.size());
  for (const SubdocSpec& spec : request_.specs) {
    delete_document_ = delete_document_ || spec.opcode == Opcode::kDelete;
    if ((spec.flags & protocol::kSubdocFlagExpandMacros) != 0) {
      expand_macros_ = true;
      macro_keys_.emplace_back(XattrKeyOf(spec.path));
    }
  }
}

void SubdocExecution::Run() {
  XattrPhase();
  if (request_.mutator && status_ != McbpStatus::kSuccess) return;
  DeletePhase();
  BodyPhase();
}

size_t SubdocExecution::body_size() const { return xattr::Body(datatype_, doc_).size(); }

engine::PreLinkFn SubdocExecution::PreLink() const {
  if (!expand_macros_) return nullptr;
  return padding_.PreLink(macro_keys_);
}

bool SubdocExecution::Record(size_t index, McbpStatus status, std::string value) {
  results_[index] = {status, std::move(value)};
  if (status == McbpStatus::kSuccess) return true;
  if (!request_.multi) {
    status_ = status;
    return false;
  }
  status_ = McbpStatus::kSubdocMultiPathFailure;
  return !request_.mutator;  // a lookup goes on with the next spec
}

std::string_view SubdocExecution::SpecValue(size_t index, McbpStatus* status) {
  const SubdocSpec& spec = request_.specs[index];
  if ((spec.flags & protocol::kSubdocFlagExpandMacros) == 0) return spec.value;
  if (std::string_view padded = padding_.For(spec.value); !padded.empty()) return padded;
  macro_scratch_ = ExpandDocumentMacro(spec.value, input_.meta);
  if (macro_scratch_.empty()) *status = McbpStatus::kSubdocXattrUnknownVattrMacro;
  return macro_scratch_;
}

bool SubdocExecution::RunPathSpec(size_t index, std::string* doc, bool* modified) {
  const SubdocSpec& spec = request_.specs[index];
  std::string_view target = *doc;
  if (IsXattrSpec(spec) && xattr::IsVirtualKey(spec.path)) {
    const std::string_view key = XattrKeyOf(spec.path);
    if (key == "$document") {
      vattr_scratch_ = DocumentVattr(input_.meta, /*wrapped=*/true);
    } else if (key == "$XTOC") {
      vattr_scratch_ = XtocVattr(SectionOf(input_.datatype, input_.value));
    } else if (key == "$vbucket") {
      if (!input_.hlc) return Record(index, McbpStatus::kNotMyVbucket);
      vattr_scratch_ = VbucketVattr(*input_.hlc);
    } else {
      return Record(index, McbpStatus::kSubdocXattrUnknownVattr);
    }
    target = vattr_scratch_;
  }
  McbpStatus status = McbpStatus::kSuccess;
  const std::string_view value = SpecValue(index, &status);
  if (status != McbpStatus::kSuccess) return Record(index, status);
  const bool mkdir_p =
      (spec.flags & protocol::kSubdocFlagMkdirP) != 0 ||
      (request_.doc_flags & (protocol::kSubdocDocFlagMkdoc | protocol::kSubdocDocFlagAdd)) != 0;
  subdoc::OpResult r = subdoc::Execute(spec.opcode, target, spec.path, value, mkdir_p);
  if (r.status == McbpStatus::kSuccess && request_.mutator) {
    *doc = std::move(r.doc);
    *modified = true;
  }
  return Record(index, r.status, std::move(r.value));
}

void SubdocExecution::XattrPhase() {
  if (request_.specs.empty() || !IsXattrSpec(request_.specs.front())) return;  // xattrs first
  const std::string_view section = SectionOf(datatype_, doc_);
  std::string xattrs = xattr::ToJsonObject(section);
  std::string body(xattr::Body(datatype_, doc_));
  if (expand_macros_) {
    std::vector<std::string_view> values;
    for (const SubdocSpec& spec : request_.specs) values.push_back(spec.value);
    padding_.Generate(xattrs, values);
  }
  bool modified = false;
  for (size_t i = 0; i < request_.specs.size(); ++i) {
    const SubdocSpec& spec = request_.specs[i];
    if (!IsXattrSpec(spec)) continue;
    bool go_on = true;
    if (spec.opcode == Opcode::kSubdocReplaceBodyWithXattr) {
      // The body becomes the value at an xattr path.
      subdoc::OpResult r = subdoc::Execute(Opcode::kSubdocGet, xattrs, spec.path, {}, false);
      if (r.status == McbpStatus::kSuccess) {
        body = std::move(r.value);
        datatype_ = body.empty() ? datatype_ & ~protocol::kDatatypeJson
                                 : datatype_ | protocol::kDatatypeJson;
        modified = true;
      }
      go_on = Record(i, r.status);
    } else {
      go_on = RunPathSpec(i, &xattrs, &modified);
    }
    if (!go_on) break;
  }
  if (!modified || status_ != McbpStatus::kSuccess) return;
  const std::optional<std::string> rebuilt = SectionFromJson(xattrs);
  if (!rebuilt) {
    status_ = McbpStatus::kEinternal;
    return;
  }
  Rewrite(*rebuilt, body);
}

void SubdocExecution::DeletePhase() {
  if (!delete_document_ || !has_xattrs()) return;
  const std::string body(xattr::Body(datatype_, doc_));
  Rewrite(xattr::Prune(SectionOf(datatype_, doc_), xattr::Keep::kSystem), body);
}

bool SubdocExecution::WholeDocSpec(size_t index, std::string* body, bool* modified) {
  const SubdocSpec& spec = request_.specs[index];
  switch (spec.opcode) {
    case Opcode::kGet:
      if (body->empty()) return Record(index, McbpStatus::kSubdocPathEnoent);
      return Record(index, McbpStatus::kSuccess, *body);
    case Opcode::kSet:
      *body = std::string(spec.value);
      datatype_ = IsValidJson(*body) ? datatype_ | protocol::kDatatypeJson
                                     : datatype_ & ~protocol::kDatatypeJson;
      *modified = true;
      return Record(index, McbpStatus::kSuccess);
    case Opcode::kDelete:
      body->clear();
      datatype_ &= ~(protocol::kDatatypeJson | protocol::kDatatypeSnappy);
      *modified = true;
      return Record(index, McbpStatus::kSuccess);
    default:
      return Record(index, McbpStatus::kEinval);
  }
}

void SubdocExecution::BodyPhase() {
  const std::string section(SectionOf(datatype_, doc_));
  std::string body(xattr::Body(datatype_, doc_));
  bool modified = false;
  for (size_t i = 0; i < request_.specs.size(); ++i) {
    const SubdocSpec& spec = request_.specs[i];
    if (IsXattrSpec(spec)) continue;
    const auto traits = protocol::SubdocTraitsOf(spec.opcode);
    bool go_on = true;
    if (traits && traits->scope == SubdocScope::kWholeDoc) {
      go_on = WholeDocSpec(i, &body, &modified);
    } else if ((datatype_ & protocol::kDatatypeJson) == 0) {
      go_on = Record(i, McbpStatus::kSubdocDocNotJson);
    } else {
      go_on = RunPathSpec(i, &body, &modified);
    }
    if (!go_on) break;
  }
  if (!modified || status_ != McbpStatus::kSuccess) return;
  Rewrite(section, body);
}

void SubdocExecution::Rewrite(std::string_view section, std::string_view body) {
  std::string doc;
  doc.reserve(section.size() + body.size());
  doc.append(section);
  doc.append(body);
  doc_ = std::move(doc);
  if (section.empty()) {
    datatype_ &= ~xattr::kDatatypeXattr;
  } else {
    datatype_ |= xattr::kDatatypeXattr;
  }
}

}  // namespace sluice::server
