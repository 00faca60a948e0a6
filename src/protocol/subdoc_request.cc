// File: protocol/subdoc_request.cc
#include "protocol/subdoc_request.h"

#include "xattr/blob.h"

namespace sluice::protocol {
namespace {

constexpr uint8_t kMkdirP = kSubdocFlagMkdirP;
constexpr uint8_t kXattr = kSubdocFlagXattrPath;
constexpr uint8_t kMacros = kSubdocFlagExpandMacros;
constexpr uint8_t kMkdoc = kSubdocDocFlagMkdoc;
constexpr uint8_t kDeleted = kSubdocDocFlagAccessDeleted;
constexpr uint8_t kCreateDeleted = kSubdocDocFlagCreateAsDeleted;
constexpr uint8_t kRevive = kSubdocDocFlagReviveDocument;

using R = SubdocResponse;

constexpr SubdocTraits Lookup(uint8_t flags, bool empty_path, R response,
                              SubdocScope scope = SubdocScope::kPath) {
  return {scope, flags, 0, kDeleted | kRevive, false, empty_path, response, false};
}
constexpr SubdocTraits Mutation(uint8_t flags, uint8_t doc_flags, bool has_value, bool empty_path,
                                R response = R::kNone) {
  return {SubdocScope::kPath, flags, 0, doc_flags, has_value, empty_path, response, true};
}

constexpr uint8_t kCreateFlags = kMkdoc | kDeleted | kRevive | kSubdocDocFlagAdd | kCreateDeleted;

// ReplicaRead (lookups) and the BinaryValue path flag are left out: sluice refuses them.
std::optional<SubdocTraits> Traits(Opcode op) {
  switch (op) {
    case Opcode::kGet:
      return Lookup(0, true, R::kFromDocument, SubdocScope::kWholeDoc);
    case Opcode::kSet:
      return SubdocTraits{
          SubdocScope::kWholeDoc, 0, 0, kMkdoc | kSubdocDocFlagAdd, true, true, R::kNone, true};
    case Opcode::kDelete:
      return SubdocTraits{
          SubdocScope::kWholeDoc, 0, 0, kDeleted | kRevive, false, true, R::kNone, true};
    case Opcode::kSubdocGet:
      return Lookup(kXattr, false, R::kJson);
    case Opcode::kSubdocExists:
      return Lookup(kXattr, false, R::kNone);
    case Opcode::kSubdocGetCount:
      return Lookup(kXattr, true, R::kJson);
    case Opcode::kSubdocDictAdd:
    case Opcode::kSubdocDictUpsert:
      return Mutation(kMkdirP | kXattr | kMacros, kCreateFlags, true, false);
    case Opcode::kSubdocDelete:
      return Mutation(kXattr, kDeleted | kRevive, false, false);
    case Opcode::kSubdocReplace:
      return Mutation(kXattr | kMacros, kDeleted | kRevive | kSubdocDocFlagAdd, true, false);
    case Opcode::kSubdocArrayPushLast:
    case Opcode::kSubdocArrayPushFirst:
      return Mutation(kMkdirP | kXattr | kMacros, kCreateFlags, true, true);
    case Opcode::kSubdocArrayInsert:
      return Mutation(kXattr | kMacros, kDeleted | kRevive | kSubdocDocFlagAdd | kCreateDeleted,
                      true, false);
    case Opcode::kSubdocArrayAddUnique:
      return Mutation(kMkdirP | kXattr, kCreateFlags, true, true);
    case Opcode::kSubdocCounter:
      return Mutation(kMkdirP | kXattr, kCreateFlags, true, false, R::kJson);
    case Opcode::kSubdocReplaceBodyWithXattr:
      return SubdocTraits{SubdocScope::kXattrAndBody,
                          kXattr,
                          kXattr,
                          kDeleted | kRevive,
                          false,
                          false,
                          R::kNone,
                          true};
    default:
      return std::nullopt;
  }
}

SubdocCheck Fail(McbpStatus status, std::string_view context = {}) { return {status, context}; }
SubdocCheck Einval(std::string_view context) { return Fail(McbpStatus::kEinval, context); }

SubdocCheck CheckMacro(std::string_view value) {
  if (value == R"("${Mutation.CAS}")" || value == R"("${Mutation.seqno}")" ||
      value == R"("${Mutation.value_crc32c}")") {
    return {};
  }
  if (value.starts_with(R"("${$document)") && value.ends_with(R"(}")")) return {};
  return Fail(McbpStatus::kSubdocXattrUnknownMacro);
}

// kv_engine's validate_xattr_section.
SubdocCheck CheckXattr(const SubdocSpec& spec, bool mutator, bool xattr_enabled) {
  if ((spec.flags & kXattr) == 0) {
    if ((spec.flags & kMacros) != 0) {
      return Fail(McbpStatus::kSubdocXattrInvalidFlagCombo,
                  "EXPAND_MACROS flag requires XATTR flag to be set");
    }
    return {};
  }
  if (!xattr_enabled) return Fail(McbpStatus::kNotSupported, "Connection not XATTR enabled");
  size_t key_length = 0;
  if (!xattr::IsValidKey(spec.path, &key_length)) {
    return Fail(McbpStatus::kXattrEinval, "Request XATTR key invalid");
  }
  if (mutator && xattr::IsVirtualKey(spec.path)) {
    return Fail(McbpStatus::kSubdocXattrCantModifyVattr);
  }
  return (spec.flags & kMacros) != 0 ? CheckMacro(spec.value) : SubdocCheck{};
}

// The checks one spec (or the single-path command) gets against its opcode's traits.
SubdocCheck CheckFlags(const SubdocTraits& t, uint8_t flags, uint8_t doc_flags) {
  if ((flags & ~t.valid_flags) != 0) return Einval("Request flags invalid");
  if ((flags & t.mandatory_flags) != t.mandatory_flags) {
    return Einval("Request missing mandatory flags");
  }
  if ((doc_flags & ~t.valid_doc_flags) != 0) return Einval("Request document flags invalid");
  return {};
}

SubdocCheck CheckValuePresence(const SubdocTraits& t, std::string_view value) {
  if (t.has_value && value.empty()) return Einval("Request must include value");
  if (!t.has_value && !value.empty()) return Einval("Request must not include value");
  return {};
}

// The doc-flag and CAS rules both forms share.
SubdocCheck CheckDocFlags(uint8_t doc_flags, uint64_t cas) {
  if ((doc_flags & kSubdocDocFlagAdd) != 0 && cas != 0)
    return Einval("Request with add flag must have CAS 0");
  if ((doc_flags & kSubdocDocFlagAdd) != 0 && (doc_flags & kMkdoc) != 0) {
    return Einval("Request must not contain both add and mkdoc flags");
  }
  return {};
}

SubdocCheck ParseSingle(const Frame& f, const SubdocTraits& t, bool xattr_enabled,
                        SubdocRequest* out) {
  auto extras = DecodeSubdocSingleExtras(f.extras);
  if (!extras.ok() || (extras->doc_flags & ~kSubdocDocFlagsKnown) != 0) {
    return Einval("Invalid extras section");
  }
  if (extras->path_length > kSubdocMaxPathLength) {
    return Einval("Request path length exceeds maximum");
  }
  if (extras->path_length > f.value.size()) return Einval("Path length can't exceed value");
  SubdocSpec spec{f.client_opcode(), extras->flags, f.value.substr(0, extras->path_length),
                  f.value.substr(extras->path_length)};
  if (SubdocCheck c = CheckValuePresence(t, spec.value); !c.ok()) return c;
  if (SubdocCheck c = CheckFlags(t, spec.flags, extras->doc_flags); !c.ok()) return c;
  if ((extras->doc_flags & kCreateDeleted) != 0) {
    if ((extras->doc_flags & (kSubdocDocFlagAdd | kMkdoc)) == 0) {
      return Einval("CreateAsDeleted requires Mkdoc or Add");
    }
    if ((spec.flags & kXattr) == 0) return Einval("CreateAsDeleted does not support body path");
  }
  if (SubdocCheck c = CheckDocFlags(extras->doc_flags, f.cas); !c.ok()) return c;
  if (SubdocCheck c = CheckXattr(spec, t.mutator, xattr_enabled); !c.ok()) return c;
  if (!t.allow_empty_path && spec.path.empty()) return Einval("Request must include path");
  if (!t.mutator && f.extras.size() != 3 && f.extras.size() != 4) {
    return Einval("Request extras invalid");
  }
  out->multi = false;
  out->mutator = t.mutator;
  out->expiry = extras->expiry;
  out->user_flags = extras->user_flags;
  out->doc_flags = extras->doc_flags;
  out->specs.assign(1, spec);
  return {};
}

// One spec of a multi command; *xattr and *isolated describe it for the ordering rules.
SubdocCheck CheckSpec(const SubdocSpec& spec, bool mutator, uint8_t doc_flags, bool xattr_enabled,
                      bool* isolated) {
  const std::optional<SubdocTraits> t = Traits(spec.opcode);
  if (!t) return Fail(McbpStatus::kSubdocInvalidCombo);
  if (t->mutator != mutator) return Fail(McbpStatus::kSubdocInvalidCombo);
  if (SubdocCheck c = CheckFlags(*t, spec.flags, doc_flags); !c.ok()) return c;
  if (spec.path.size() > kSubdocMaxPathLength) {
    return Einval("Request path length exceeds maximum");
  }
  if (t->scope == SubdocScope::kWholeDoc && !spec.path.empty()) {
    return Einval("Request must not include path for wholedoc operations");
  }
  if (SubdocCheck c = CheckXattr(spec, mutator, xattr_enabled); !c.ok()) return c;
  if ((spec.flags & kXattr) == 0 && !t->allow_empty_path && spec.path.empty()) {
    return Einval("Request must include path");
  }
  if (SubdocCheck c = CheckValuePresence(*t, spec.value); !c.ok()) return c;
  *isolated = spec.opcode == Opcode::kDelete;
  return {};
}

SubdocCheck ParseMulti(const Frame& f, bool mutator, bool xattr_enabled, SubdocRequest* out) {
  auto extras = DecodeSubdocMultiExtras(f.extras);
  if (!extras.ok() || (extras->doc_flags & ~kSubdocDocFlagsKnown) != 0 ||
      (!mutator && f.extras.size() > 1)) {
    return Einval("Request extras invalid");
  }
  const uint8_t doc_flags = extras->doc_flags;
  if (SubdocCheck c = CheckDocFlags(doc_flags, f.cas); !c.ok()) return c;
  if ((doc_flags & kRevive) != 0) {
    if ((doc_flags & kDeleted) == 0) {
      return Einval("ReviveDocument can't be used without AccessDeleted");
    }
    if ((doc_flags & kCreateDeleted) != 0) {
      return Einval("ReviveDocument can't be used with CreateAsDeleted");
    }
  }
  out->specs.clear();
  bool xattrs_allowed = true;  // until the first body spec
  bool body_allowed = true;    // until a whole-document delete
  size_t pos = 0;
  while (out->specs.size() < kSubdocMaxSpecs && pos < f.value.size()) {
    if (!body_allowed) {
      return Fail(McbpStatus::kSubdocInvalidCombo,
                  "Request contains an invalid combination of commands");
    }
    auto spec = DecodeSubdocSpec(f.value, &pos, mutator);
    if (!spec.ok())
      return Einval(mutator ? "Multi mutation spec truncated" : "Multi lookup spec truncated");
    bool isolated = false;
    if (SubdocCheck c = CheckSpec(*spec, mutator, doc_flags, xattr_enabled, &isolated); !c.ok()) {
      return c;
    }
    const bool is_xattr = (spec->flags & kXattr) != 0;
    if (xattrs_allowed) {
      xattrs_allowed = is_xattr;
    } else if (is_xattr) {
      return Fail(McbpStatus::kSubdocInvalidXattrOrder);
    } else if (isolated) {
      return Fail(McbpStatus::kSubdocInvalidCombo,
                  "Request contains an invalid combination of commands");
    }
    if (isolated) body_allowed = false;
    out->specs.push_back(*spec);
  }
  if (out->specs.empty()) {
    return Fail(McbpStatus::kSubdocInvalidCombo, "Request must contain at least one path");
  }
  if (pos != f.value.size()) {
    return Fail(McbpStatus::kSubdocInvalidCombo, "Request must contain at most 16 paths");
  }
  out->multi = true;
  out->mutator = mutator;
  out->expiry = extras->expiry;
  out->user_flags = extras->user_flags;
  out->doc_flags = doc_flags;
  return {};
}

}  // namespace

std::optional<SubdocTraits> SubdocTraitsOf(Opcode op) { return Traits(op); }

bool IsSubdocCommand(Opcode op) {
  const auto v = static_cast<uint8_t>(op);
  return v >= static_cast<uint8_t>(Opcode::kSubdocGet) &&
         v <= static_cast<uint8_t>(Opcode::kSubdocReplaceBodyWithXattr);
}

SubdocCheck ParseSubdocRequest(const Frame& request, bool xattr_enabled, SubdocRequest* out) {
  const Opcode op = request.client_opcode();
  if (op == Opcode::kSubdocMultiLookup) return ParseMulti(request, false, xattr_enabled, out);
  if (op == Opcode::kSubdocMultiMutation) return ParseMulti(request, true, xattr_enabled, out);
  const std::optional<SubdocTraits> t = Traits(op);
  if (!t || !IsSubdocCommand(op)) return Einval("Not a subdoc command");
  return ParseSingle(request, *t, xattr_enabled, out);
}

}  // namespace sluice::protocol
