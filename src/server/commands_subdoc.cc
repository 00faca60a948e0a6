// File: server/commands_subdoc.cc
#include "server/commands_subdoc.h"

#include <nlohmann/json.hpp>
#include <string>
#include <variant>
#include <vector>

#include "protocol/subdoc.h"
#include "server/command_util.h"

namespace sluice::server {

using protocol::Frame;
using protocol::McbpStatus;
using protocol::Opcode;
using protocol::SubdocLookupSpec;

namespace {

struct LookupResult {
  McbpStatus status = McbpStatus::kSuccess;
  std::string value;
};

// The element `path` names in `doc`, or null with *status set.
const nlohmann::json* Walk(const nlohmann::json& doc, std::string_view path, McbpStatus* status) {
  protocol::SubdocPathParse parsed = protocol::ParseSubdocPath(path);
  if (parsed.status != McbpStatus::kSuccess) {
    *status = parsed.status;
    return nullptr;
  }
  const nlohmann::json* node = &doc;
  for (const auto& component : parsed.components) {
    if (const auto* name = std::get_if<std::string>(&component)) {
      if (!node->is_object()) {
        *status = McbpStatus::kSubdocPathMismatch;
        return nullptr;
      }
      auto it = node->find(*name);
      if (it == node->end()) {
        *status = McbpStatus::kSubdocPathEnoent;
        return nullptr;
      }
      node = &*it;
      continue;
    }
    const int64_t index = std::get<int64_t>(component);
    if (!node->is_array()) {
      *status = McbpStatus::kSubdocPathMismatch;
      return nullptr;
    }
    if (node->empty() || index >= static_cast<int64_t>(node->size())) {
      *status = McbpStatus::kSubdocPathEnoent;
      return nullptr;
    }
    node = &(*node)[index < 0 ? node->size() - 1 : static_cast<size_t>(index)];
  }
  return node;
}

// One spec against the document (`doc` is null when the document is not JSON).
LookupResult Evaluate(const nlohmann::json* doc, std::string_view raw,
                      const SubdocLookupSpec& spec) {
  if ((spec.flags & protocol::kSubdocFlagXattrPath) != 0) {
    // No extended attributes are stored: nothing to find, and no virtual attributes.
    return {!spec.path.empty() && spec.path[0] == '$' ? McbpStatus::kSubdocXattrUnknownVattr
                                                      : McbpStatus::kSubdocPathEnoent,
            {}};
  }
  if (spec.opcode == Opcode::kGet) {
    if (!spec.path.empty()) return {McbpStatus::kSubdocPathEinval, {}};
    return {McbpStatus::kSuccess, std::string(raw)};
  }
  if (spec.path.empty()) return {McbpStatus::kSubdocPathEinval, {}};
  if (doc == nullptr) return {McbpStatus::kSubdocDocNotJson, {}};
  McbpStatus status = McbpStatus::kSuccess;
  const nlohmann::json* node = Walk(*doc, spec.path, &status);
  if (node == nullptr) return {status, {}};
  switch (spec.opcode) {
    case Opcode::kSubdocGet:
      return {McbpStatus::kSuccess,
              node->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)};
    case Opcode::kSubdocExists:
      return {McbpStatus::kSuccess, {}};
    case Opcode::kSubdocGetCount:
      if (!node->is_object() && !node->is_array()) return {McbpStatus::kSubdocPathMismatch, {}};
      return {McbpStatus::kSuccess, std::to_string(node->size())};
    default:
      return {McbpStatus::kEinval, {}};
  }
}

CommandResult Lookup(Connection& conn, const Frame& req, engine::Bucket& bucket) {
  const Opcode op = req.client_opcode();
  const bool multi = op == Opcode::kSubdocMultiLookup;
  std::vector<SubdocLookupSpec> specs;
  if (multi) {
    auto decoded = protocol::DecodeSubdocMultiLookup(req.value);
    if (!decoded.ok()) {
      conn.RespondError(req, decoded.status());
      return CommandResult::kDone;
    }
    specs = std::move(*decoded);
  } else {
    auto decoded = protocol::DecodeSubdocSingleLookup(op, req.extras, req.value);
    if (!decoded.ok()) {
      conn.RespondError(req, decoded.status());
      return CommandResult::kDone;
    }
    specs.push_back(*decoded);
  }
  auto key = DocumentKey(conn, req);
  if (!key) return CommandResult::kDone;
  auto r = bucket.Get(req.vbucket(), *key, conn.waiter());
  if (!r.ok()) {
    if (r.status().code() == Errc::kWouldBlock) return CommandResult::kWouldBlock;
    conn.RespondError(req, r.status());
    return CommandResult::kDone;
  }
  const std::string_view raw = r->value.view();
  const nlohmann::json parsed = nlohmann::json::parse(raw, nullptr, /*allow_exceptions=*/false);
  const nlohmann::json* doc = parsed.is_discarded() ? nullptr : &parsed;

  if (!multi) {
    LookupResult result = Evaluate(doc, raw, specs[0]);
    if (result.status != McbpStatus::kSuccess) {
      conn.Respond(req, result.status, {}, {}, {}, 0, r->cas);
      return CommandResult::kDone;
    }
    const uint8_t datatype =
        op == Opcode::kSubdocGet ? VisibleDatatype(conn, protocol::kDatatypeJson) : 0;
    conn.Respond(req, McbpStatus::kSuccess, {}, {}, result.value, datatype, r->cas);
    return CommandResult::kDone;
  }
  std::string body;
  bool all_ok = true;
  for (const SubdocLookupSpec& spec : specs) {
    LookupResult result = Evaluate(doc, raw, spec);
    all_ok = all_ok && result.status == McbpStatus::kSuccess;
    protocol::AppendSubdocLookupResult(&body, result.status, result.value);
  }
  conn.Respond(req, all_ok ? McbpStatus::kSuccess : McbpStatus::kSubdocMultiPathFailure, {}, {},
               body, 0, r->cas);
  return CommandResult::kDone;
}

}  // namespace

std::optional<CommandResult> DispatchSubdoc(Connection& conn, const Frame& req) {
  switch (req.client_opcode()) {
    case Opcode::kSubdocGet:
    case Opcode::kSubdocExists:
    case Opcode::kSubdocGetCount:
    case Opcode::kSubdocMultiLookup:
      break;
    default:
      return std::nullopt;
  }
  engine::Bucket* bucket = RequireBucket(conn, req);
  if (bucket == nullptr) return CommandResult::kDone;
  return Lookup(conn, req, *bucket);
}

}  // namespace sluice::server
