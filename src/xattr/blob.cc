// File: xattr/blob.cc
#include "xattr/blob.h"

#include <unordered_set>

#include "common/json_check.h"

namespace sluice::xattr {
namespace {

uint32_t LoadBe32(const char* p) {
  const auto* u = reinterpret_cast<const uint8_t*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) | (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}

void AppendBe32(std::string* out, uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
  out->append(b, 4);
}

// Width of the UTF-8 character at p (0 = invalid encoding or truncated).
size_t Utf8Width(const unsigned char* p, size_t avail) {
  if (p[0] < 0x80) return 1;
  auto cont = [&](size_t i) { return (p[i] & 0xC0) == 0x80; };
  if ((p[0] & 0xE0) == 0xC0) return avail >= 2 && cont(1) ? 2 : 0;
  if ((p[0] & 0xF0) == 0xE0) return avail >= 3 && cont(1) && cont(2) ? 3 : 0;
  if ((p[0] & 0xF8) == 0xF0) return avail >= 4 && cont(1) && cont(2) && cont(3) ? 4 : 0;
  return 0;
}

// ispunct() / iscntrl() in the "C" locale.
bool IsPunct(unsigned char c) {
  return (c >= 33 && c <= 47) || (c >= 58 && c <= 64) || (c >= 91 && c <= 96) ||
         (c >= 123 && c <= 126);
}
bool IsCntrl(unsigned char c) { return c < 32 || c == 127; }

// One pair at `offset` of a section of `size` bytes. False if it is not framed exactly.
struct Pair {
  std::string_view key;
  std::string_view value;
  size_t next = 0;
};
bool ReadPair(std::string_view section, size_t offset, Pair* pair) {
  const size_t size = section.size();
  // At least the length field, a 1-byte key and two NULs.
  if (offset + 7 > size) return false;
  const uint32_t length = LoadBe32(section.data() + offset);
  offset += 4;
  if (length > size - offset) return false;
  const size_t key_end = section.find('\0', offset);
  if (key_end == std::string_view::npos) return false;
  const size_t value_end = section.find('\0', key_end + 1);
  if (value_end == std::string_view::npos) return false;
  pair->key = section.substr(offset, key_end - offset);
  pair->value = section.substr(key_end + 1, value_end - key_end - 1);
  if (length != pair->key.size() + pair->value.size() + 2) return false;
  pair->next = value_end + 1;
  return true;
}

}  // namespace

bool IsValidKey(std::string_view path, size_t* key_length) {
  const auto* p = reinterpret_cast<const unsigned char*>(path.data());
  size_t end = path.size();  // the first '.' or '['
  bool special = false;      // starts with '_' or '$'
  for (size_t i = 0; i < path.size();) {
    const size_t width = Utf8Width(p + i, path.size() - i);
    if (width == 0) return false;
    if (width == 1) {
      const unsigned char c = p[i];
      if (i == 0 && (IsPunct(c) || IsCntrl(c))) {
        if (c != '_' && c != '$') return false;
        special = true;
      }
      if ((c == '.' || c == '[') && end == path.size()) end = i;
      if (c == 0) return false;  // NUL is not valid in modified UTF-8
    }
    i += width;
  }
  if (end == 0 || end > kMaxKeyLength || (special && end == 1)) return false;
  *key_length = end;
  return true;
}

std::optional<Split> SplitValue(std::string_view value) {
  if (value.size() < 4) return std::nullopt;
  const uint32_t length = LoadBe32(value.data());
  if (length > value.size() - 4) return std::nullopt;
  return Split{value.substr(0, 4 + length), value.substr(4 + length)};
}

std::string_view Body(uint8_t datatype, std::string_view value) {
  if ((datatype & kDatatypeXattr) == 0) return value;
  const auto split = SplitValue(value);
  return split ? split->body : value;
}

bool Validate(std::string_view value) {
  const auto split = SplitValue(value);
  if (!split) return false;
  const std::string_view section = split->section;
  std::unordered_set<std::string_view> keys;
  size_t system_size = 4;
  size_t offset = 4;
  while (offset < section.size()) {
    Pair pair;
    if (!ReadPair(section, offset, &pair)) return false;
    size_t key_length = 0;
    if (!IsValidKey(pair.key, &key_length)) return false;
    if (!IsValidJson(pair.value)) return false;
    if (!keys.insert(pair.key).second) return false;
    if (IsSystemKey(pair.key)) system_size += pair.next - offset;
    offset = pair.next;
  }
  return system_size <= kMaxSystemXattrBytes;
}

void ForEach(std::string_view section,
             const std::function<void(std::string_view key, std::string_view value)>& fn) {
  size_t offset = 4;
  Pair pair;
  while (offset < section.size() && ReadPair(section, offset, &pair)) {
    fn(pair.key, pair.value);
    offset = pair.next;
  }
}

std::optional<std::string_view> Get(std::string_view section, std::string_view key) {
  std::optional<std::string_view> found;
  ForEach(section, [&](std::string_view k, std::string_view v) {
    if (!found && k == key) found = v;
  });
  return found;
}

size_t SystemSize(std::string_view section) {
  size_t size = 0;
  ForEach(section, [&](std::string_view k, std::string_view v) {
    if (IsSystemKey(k)) size += 4 + k.size() + v.size() + 2;
  });
  return size == 0 ? 0 : size + 4;
}

std::string Encode(const std::vector<std::pair<std::string_view, std::string_view>>& pairs) {
  if (pairs.empty()) return {};
  std::string out(4, '\0');
  for (const auto& [key, value] : pairs) {
    AppendBe32(&out, static_cast<uint32_t>(key.size() + value.size() + 2));
    out.append(key);
    out.push_back('\0');
    out.append(value);
    out.push_back('\0');
  }
  std::string length;
  AppendBe32(&length, static_cast<uint32_t>(out.size() - 4));
  out.replace(0, 4, length);
  return out;
}

std::string Prune(std::string_view section, Keep keep) {
  std::vector<std::pair<std::string_view, std::string_view>> kept;
  ForEach(section, [&](std::string_view k, std::string_view v) {
    if (IsSystemKey(k) == (keep == Keep::kSystem)) kept.emplace_back(k, v);
  });
  return Encode(kept);
}

std::string ToJsonObject(std::string_view section) {
  std::string out = "{";
  ForEach(section, [&](std::string_view k, std::string_view v) {
    if (out.size() > 1) out.push_back(',');
    out.push_back('"');
    out.append(k);
    out.append("\":");
    out.append(v);
  });
  out.push_back('}');
  return out;
}

}  // namespace sluice::xattr
