// File: protocol/subdoc.cc
#include "protocol/subdoc.h"

#include <charconv>

#include "protocol/byte_order.h"

namespace sluice::protocol {

namespace {

// Where the name starting at `i` ends: the first '.' or '[' outside backticks.
size_t NameEnd(std::string_view path, size_t i) {
  bool quoted = false;
  for (; i < path.size(); ++i) {
    if (path[i] == '`') quoted = !quoted;
    if (!quoted && (path[i] == '.' || path[i] == '[')) break;
  }
  return i;
}

// subjson's rule for a name: it is written as JSON string content (the document's keys are
// compared in that form), so '"' and control characters must be escaped, only JSON's escapes
// are allowed, and \u escapes are not supported. (subjson lets 0x1f through, which then makes
// an inserted key invalid JSON; sluice refuses it with the other control characters.)
bool IsJsonStringContent(std::string_view name) {
  for (size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c == '"' || c < 0x20) return false;
    if (c != '\\') continue;
    if (++i == name.size()) return false;
    const char e = name[i];
    if (e != '"' && e != '/' && e != '\\' && e != 'b' && e != 'f' && e != 'n' && e != 'r' &&
        e != 't') {
      return false;
    }
  }
  return true;
}

}  // namespace

StatusOr<SubdocSingleExtras> DecodeSubdocSingleExtras(std::string_view extras) {
  const size_t n = extras.size();
  if (n != 3 && n != 4 && n != 7 && n != 8 && n != 11 && n != 12) {
    return Status(Errc::kInvalid, "Invalid extras section");
  }
  SubdocSingleExtras e;
  e.path_length = LoadBe16(extras.data());
  e.flags = static_cast<uint8_t>(extras[2]);
  if (n >= 7) e.expiry = LoadBe32(extras.data() + 3);
  if (n >= 11) e.user_flags = LoadBe32(extras.data() + 7);
  if (n == 4 || n == 8 || n == 12) e.doc_flags = static_cast<uint8_t>(extras.back());
  return e;
}

void AppendSubdocSingleExtras(std::string* out, const SubdocSingleExtras& e) {
  AppendBe16(out, e.path_length);
  out->push_back(static_cast<char>(e.flags));
  if (e.expiry != 0 || e.user_flags) AppendBe32(out, e.expiry);
  if (e.user_flags) AppendBe32(out, *e.user_flags);
  if (e.doc_flags != 0) out->push_back(static_cast<char>(e.doc_flags));
}

StatusOr<SubdocMultiExtras> DecodeSubdocMultiExtras(std::string_view extras) {
  const size_t n = extras.size();
  if (n != 0 && n != 1 && n != 4 && n != 5 && n != 8 && n != 9) {
    return Status(Errc::kInvalid, "Request extras invalid");
  }
  SubdocMultiExtras e;
  if (n >= 4) e.expiry = LoadBe32(extras.data());
  if (n >= 8) e.user_flags = LoadBe32(extras.data() + 4);
  if (n == 1 || n == 5 || n == 9) e.doc_flags = static_cast<uint8_t>(extras.back());
  return e;
}

void AppendSubdocMultiExtras(std::string* out, const SubdocMultiExtras& e) {
  if (e.expiry != 0 || e.user_flags) AppendBe32(out, e.expiry);
  if (e.user_flags) AppendBe32(out, *e.user_flags);
  if (e.doc_flags != 0) out->push_back(static_cast<char>(e.doc_flags));
}

StatusOr<SubdocSpec> DecodeSubdocSpec(std::string_view value, size_t* pos, bool mutation) {
  const size_t header = mutation ? 8 : 4;
  if (value.size() - *pos < header) {
    return Status(Errc::kInvalid,
                  mutation ? "Multi mutation spec truncated" : "Multi lookup spec truncated");
  }
  const char* p = value.data() + *pos;
  SubdocSpec spec;
  spec.opcode = static_cast<Opcode>(static_cast<uint8_t>(p[0]));
  spec.flags = static_cast<uint8_t>(p[1]);
  const size_t path_length = LoadBe16(p + 2);
  const size_t value_length = mutation ? LoadBe32(p + 4) : 0;
  if (value.size() - *pos - header < path_length + value_length) {
    return Status(Errc::kInvalid, mutation ? "Multi mutation path and value truncated"
                                           : "Multi lookup path truncated");
  }
  spec.path = value.substr(*pos + header, path_length);
  spec.value = value.substr(*pos + header + path_length, value_length);
  *pos += header + path_length + value_length;
  return spec;
}

void AppendSubdocSpec(std::string* out, const SubdocSpec& spec, bool mutation) {
  out->push_back(static_cast<char>(spec.opcode));
  out->push_back(static_cast<char>(spec.flags));
  AppendBe16(out, static_cast<uint16_t>(spec.path.size()));
  if (mutation) AppendBe32(out, static_cast<uint32_t>(spec.value.size()));
  out->append(spec.path);
  if (mutation) out->append(spec.value);
}

StatusOr<SubdocSpec> DecodeSubdocSingleLookup(Opcode opcode, std::string_view extras,
                                              std::string_view value) {
  if (extras.size() != 3 && extras.size() != 4) {
    return Status(Errc::kInvalid, "subdoc lookup extras must be 3 or 4 bytes");
  }
  ASSIGN_OR_RETURN(const SubdocSingleExtras e, DecodeSubdocSingleExtras(extras));
  if (e.path_length != value.size()) {
    return Status(Errc::kInvalid, "subdoc path length does not match the value");
  }
  SubdocSpec spec;
  spec.opcode = opcode;
  spec.flags = e.flags;
  spec.path = value;
  return spec;
}

void AppendSubdocSingleLookupExtras(std::string* out, uint16_t path_length, uint8_t flags) {
  AppendSubdocSingleExtras(out, {path_length, flags, 0, std::nullopt, 0});
}

StatusOr<std::vector<SubdocSpec>> DecodeSubdocMultiLookup(std::string_view value) {
  std::vector<SubdocSpec> specs;
  size_t pos = 0;
  while (pos < value.size()) {
    ASSIGN_OR_RETURN(SubdocSpec spec, DecodeSubdocSpec(value, &pos, /*mutation=*/false));
    specs.push_back(spec);
  }
  if (specs.empty()) return Status(Errc::kInvalid, "no subdoc lookup specs");
  return specs;
}

void AppendSubdocLookupResult(std::string* out, McbpStatus status, std::string_view value) {
  AppendBe16(out, static_cast<uint16_t>(status));
  AppendBe32(out, static_cast<uint32_t>(value.size()));
  out->append(value);
}

StatusOr<std::vector<SubdocLookupResult>> DecodeSubdocMultiLookupResponse(std::string_view value) {
  std::vector<SubdocLookupResult> results;
  size_t pos = 0;
  while (pos < value.size()) {
    if (value.size() - pos < 6) return Status(Errc::kInvalid, "truncated subdoc lookup result");
    SubdocLookupResult r;
    r.status = static_cast<McbpStatus>(LoadBe16(value.data() + pos));
    const uint32_t length = LoadBe32(value.data() + pos + 2);
    pos += 6;
    if (value.size() - pos < length) return Status(Errc::kInvalid, "truncated subdoc value");
    r.value = std::string(value.substr(pos, length));
    pos += length;
    results.push_back(std::move(r));
  }
  return results;
}

void AppendSubdocMutationResult(std::string* out, uint8_t index, McbpStatus status,
                                std::string_view value) {
  out->push_back(static_cast<char>(index));
  AppendBe16(out, static_cast<uint16_t>(status));
  if (status != McbpStatus::kSuccess) return;
  AppendBe32(out, static_cast<uint32_t>(value.size()));
  out->append(value);
}

StatusOr<std::vector<SubdocMutationResult>> DecodeSubdocMultiMutationResponse(
    std::string_view value) {
  std::vector<SubdocMutationResult> results;
  size_t pos = 0;
  while (pos < value.size()) {
    if (value.size() - pos < 3) return Status(Errc::kInvalid, "truncated subdoc result");
    SubdocMutationResult r;
    r.index = static_cast<uint8_t>(value[pos]);
    r.status = static_cast<McbpStatus>(LoadBe16(value.data() + pos + 1));
    pos += 3;
    if (r.status == McbpStatus::kSuccess) {
      if (value.size() - pos < 4) return Status(Errc::kInvalid, "truncated subdoc result");
      const uint32_t length = LoadBe32(value.data() + pos);
      pos += 4;
      if (value.size() - pos < length) return Status(Errc::kInvalid, "truncated subdoc value");
      r.value = std::string(value.substr(pos, length));
      pos += length;
    }
    results.push_back(std::move(r));
  }
  return results;
}

SubdocPathParse ParseSubdocPath(std::string_view path) {
  SubdocPathParse out;
  if (path.size() > kSubdocMaxPathLength) {
    out.status = McbpStatus::kSubdocPathE2big;
    return out;
  }
  auto fail = [&out]() {
    out.components.clear();
    out.status = McbpStatus::kSubdocPathEinval;
    return out;
  };
  size_t i = 0;
  bool expect_name = true;  // at the start or after '.'
  while (i < path.size()) {
    if (path[i] == '[') {
      const size_t close = path.find(']', i);
      if (close == std::string_view::npos || close == i + 1) return fail();
      const std::string_view digits = path.substr(i + 1, close - i - 1);
      int64_t index = 0;
      auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
      if (ec != std::errc() || end != digits.data() + digits.size()) return fail();
      // Negative indexes count from the end; only -1 is accepted (kv_engine/subjson).
      if (index < -1) return fail();
      if (digits.size() > 1 && (digits[0] == '0' || (digits[0] == '-' && digits[1] == '0'))) {
        return fail();
      }
      out.components.emplace_back(index);
      i = close + 1;
      expect_name = false;
      continue;
    }
    if (path[i] == '.') {
      if (expect_name) return fail();  // empty name: "a..b" or ".a"
      expect_name = true;
      ++i;
      continue;
    }
    if (!expect_name) return fail();  // "a[0]b"
    if (!IsJsonStringContent(path.substr(i, NameEnd(path, i) - i))) return fail();
    std::string name;
    if (path[i] == '`') {
      ++i;
      bool closed = false;
      while (i < path.size()) {
        if (path[i] == '`') {
          if (i + 1 < path.size() && path[i + 1] == '`') {
            name.push_back('`');
            i += 2;
            continue;
          }
          closed = true;
          ++i;
          break;
        }
        name.push_back(path[i++]);
      }
      if (!closed) return fail();
    } else {
      while (i < path.size() && path[i] != '.' && path[i] != '[') name.push_back(path[i++]);
    }
    out.components.emplace_back(std::move(name));
    expect_name = false;
  }
  if (expect_name && !path.empty()) return fail();  // trailing '.'
  if (out.components.size() > kSubdocMaxPathDepth) {
    out.components.clear();
    out.status = McbpStatus::kSubdocPathE2big;
  }
  return out;
}

}  // namespace sluice::protocol
