// File: protocol/subdoc.cc
#include "protocol/subdoc.h"

#include <charconv>

#include "protocol/byte_order.h"

namespace sluice::protocol {

namespace {

bool IsLookupOpcode(Opcode op) {
  return op == Opcode::kGet || op == Opcode::kSubdocGet || op == Opcode::kSubdocExists ||
         op == Opcode::kSubdocGetCount;
}

}  // namespace

StatusOr<SubdocLookupSpec> DecodeSubdocSingleLookup(Opcode opcode, std::string_view extras,
                                                    std::string_view value) {
  if (extras.size() != 3 && extras.size() != 4) {
    return Status(Errc::kInvalid, "subdoc lookup extras must be 3 or 4 bytes");
  }
  const uint16_t path_length = LoadBe16(extras.data());
  if (path_length != value.size()) {
    return Status(Errc::kInvalid, "subdoc path length does not match the value");
  }
  SubdocLookupSpec spec;
  spec.opcode = opcode;
  spec.flags = static_cast<uint8_t>(extras[2]);
  spec.path = value;
  return spec;
}

void AppendSubdocSingleLookupExtras(std::string* out, uint16_t path_length, uint8_t flags) {
  AppendBe16(out, path_length);
  out->push_back(static_cast<char>(flags));
}

StatusOr<std::vector<SubdocLookupSpec>> DecodeSubdocMultiLookup(std::string_view value) {
  std::vector<SubdocLookupSpec> specs;
  size_t pos = 0;
  while (pos < value.size()) {
    if (value.size() - pos < 4) return Status(Errc::kInvalid, "truncated subdoc lookup spec");
    SubdocLookupSpec spec;
    spec.opcode = static_cast<Opcode>(static_cast<uint8_t>(value[pos]));
    spec.flags = static_cast<uint8_t>(value[pos + 1]);
    const uint16_t path_length = LoadBe16(value.data() + pos + 2);
    pos += 4;
    if (value.size() - pos < path_length) {
      return Status(Errc::kInvalid, "truncated subdoc lookup path");
    }
    spec.path = value.substr(pos, path_length);
    pos += path_length;
    if (!IsLookupOpcode(spec.opcode)) {
      return Status(Errc::kInvalid, "not a subdoc lookup opcode");
    }
    specs.push_back(spec);
    if (specs.size() > kSubdocMaxLookupSpecs) {
      return Status(Errc::kInvalid, "too many subdoc lookup specs");
    }
  }
  if (specs.empty()) return Status(Errc::kInvalid, "no subdoc lookup specs");
  return specs;
}

void AppendSubdocLookupSpec(std::string* out, const SubdocLookupSpec& spec) {
  out->push_back(static_cast<char>(spec.opcode));
  out->push_back(static_cast<char>(spec.flags));
  AppendBe16(out, static_cast<uint16_t>(spec.path.size()));
  out->append(spec.path);
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
