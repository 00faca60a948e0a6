// File: subdoc/json_scan.cc
#include "subdoc/json_scan.h"

#include <algorithm>

namespace sluice::subdoc {
namespace {

bool IsWs(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool ReadHex4(std::string_view s, size_t pos, uint32_t* out) {
  if (pos + 4 > s.size()) return false;
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) {
    const int h = HexValue(s[pos + i]);
    if (h < 0) return false;
    v = v * 16 + static_cast<uint32_t>(h);
  }
  *out = v;
  return true;
}

void AppendUtf8(std::string* out, uint32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace

size_t Scanner::SkipWs(size_t pos) const {
  while (pos < text_.size() && IsWs(text_[pos])) ++pos;
  return pos;
}

McbpStatus Scanner::Root(Element* out) const {
  const McbpStatus s = Value(0, 1, out);
  if (s != McbpStatus::kSuccess) return s;
  return SkipWs(out->end) == text_.size() ? McbpStatus::kSuccess : McbpStatus::kSubdocDocNotJson;
}

McbpStatus Scanner::Value(size_t pos, int level, Element* out) const {
  if (level > kMaxLevel) return McbpStatus::kSubdocDocE2deep;
  pos = SkipWs(pos);
  if (pos >= text_.size()) return McbpStatus::kSubdocDocNotJson;
  out->begin = pos;
  out->integer = false;
  switch (text_[pos]) {
    case '{':
    case '[':
      return Container(pos, level, out);
    case '"':
      out->type = JsonType::kString;
      return String(pos, &out->end);
    case 't':
      return Literal(pos, "true", JsonType::kTrue, out);
    case 'f':
      return Literal(pos, "false", JsonType::kFalse, out);
    case 'n':
      return Literal(pos, "null", JsonType::kNull, out);
    default:
      return Number(pos, out);
  }
}

McbpStatus Scanner::String(size_t pos, size_t* end) const {
  ++pos;  // the opening quote
  while (pos < text_.size()) {
    const auto c = static_cast<unsigned char>(text_[pos]);
    if (c == '"') {
      *end = pos + 1;
      return McbpStatus::kSuccess;
    }
    if (c < 0x20) return McbpStatus::kSubdocDocNotJson;
    if (c != '\\') {
      ++pos;
      continue;
    }
    if (pos + 1 >= text_.size()) break;
    const char e = text_[pos + 1];
    uint32_t hex = 0;
    if (e == 'u') {
      if (!ReadHex4(text_, pos + 2, &hex)) return McbpStatus::kSubdocDocNotJson;
      pos += 6;
    } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' ||
               e == 't') {
      pos += 2;
    } else {
      return McbpStatus::kSubdocDocNotJson;
    }
  }
  return McbpStatus::kSubdocDocNotJson;
}

McbpStatus Scanner::Number(size_t pos, Element* out) const {
  const size_t n = text_.size();
  size_t i = pos;
  if (i < n && text_[i] == '-') ++i;
  if (i >= n || !IsDigit(text_[i])) return McbpStatus::kSubdocDocNotJson;
  if (text_[i] == '0') {
    ++i;
  } else {
    while (i < n && IsDigit(text_[i])) ++i;
  }
  bool integer = true;
  if (i < n && text_[i] == '.') {
    integer = false;
    ++i;
    if (i >= n || !IsDigit(text_[i])) return McbpStatus::kSubdocDocNotJson;
    while (i < n && IsDigit(text_[i])) ++i;
  }
  if (i < n && (text_[i] == 'e' || text_[i] == 'E')) {
    integer = false;
    ++i;
    if (i < n && (text_[i] == '+' || text_[i] == '-')) ++i;
    if (i >= n || !IsDigit(text_[i])) return McbpStatus::kSubdocDocNotJson;
    while (i < n && IsDigit(text_[i])) ++i;
  }
  out->type = JsonType::kNumber;
  out->integer = integer;
  out->end = i;
  return McbpStatus::kSuccess;
}

McbpStatus Scanner::Literal(size_t pos, std::string_view word, JsonType type, Element* out) const {
  if (text_.substr(pos, word.size()) != word) return McbpStatus::kSubdocDocNotJson;
  out->type = type;
  out->end = pos + word.size();
  return McbpStatus::kSuccess;
}

McbpStatus Scanner::Container(size_t pos, int level, Element* out) const {
  out->type = text_[pos] == '{' ? JsonType::kObject : JsonType::kArray;
  out->end = pos + 1;  // provisional: ForEachChild only needs begin and type
  size_t count = 0;
  size_t close = 0;
  const McbpStatus s = ForEachChild(
      *out, level,
      [&](const Child& child) {
        close = child.value.end;
        return true;
      },
      &count);
  if (s != McbpStatus::kSuccess) return s;
  // ForEachChild validated the closing bracket; find it after the last child.
  const size_t after = SkipWs(count == 0 ? pos + 1 : close);
  out->end = after + 1;
  return McbpStatus::kSuccess;
}

McbpStatus Scanner::ForEachChild(const Element& container, int level,
                                 const std::function<bool(const Child&)>& fn, size_t* count) const {
  const bool object = container.type == JsonType::kObject;
  const char close = object ? '}' : ']';
  *count = 0;
  size_t pos = SkipWs(container.begin + 1);
  if (pos < text_.size() && text_[pos] == close) return McbpStatus::kSuccess;
  for (size_t index = 0;; ++index) {
    Child child;
    child.index = index;
    if (object) {
      if (pos >= text_.size() || text_[pos] != '"') return McbpStatus::kSubdocDocNotJson;
      size_t key_end = 0;
      if (String(pos, &key_end) != McbpStatus::kSuccess) return McbpStatus::kSubdocDocNotJson;
      child.key_begin = pos;
      child.key = text_.substr(pos + 1, key_end - pos - 2);
      pos = SkipWs(key_end);
      if (pos >= text_.size() || text_[pos] != ':') return McbpStatus::kSubdocDocNotJson;
      ++pos;
    }
    const McbpStatus s = Value(pos, level + 1, &child.value);
    if (s != McbpStatus::kSuccess) return s;
    *count = index + 1;
    if (!fn(child)) return McbpStatus::kSuccess;
    pos = SkipWs(child.value.end);
    if (pos >= text_.size()) return McbpStatus::kSubdocDocNotJson;
    if (text_[pos] == close) return McbpStatus::kSuccess;
    if (text_[pos] != ',') return McbpStatus::kSubdocDocNotJson;
    pos = SkipWs(pos + 1);
  }
}

bool DecodeUnicodeEscapes(std::string_view raw, std::string* out) {
  out->clear();
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '\\' || i + 1 >= raw.size() || raw[i + 1] != 'u') {
      out->push_back(raw[i]);
      if (raw[i] == '\\' && i + 1 < raw.size()) out->push_back(raw[++i]);
      continue;
    }
    uint32_t cp = 0;
    if (!ReadHex4(raw, i + 2, &cp)) return false;
    i += 5;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      uint32_t low = 0;
      if (i + 6 >= raw.size() || raw[i + 1] != '\\' || raw[i + 2] != 'u' ||
          !ReadHex4(raw, i + 3, &low) || low < 0xDC00 || low > 0xDFFF) {
        return false;
      }
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
      i += 6;
    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
      return false;
    }
    if (cp == 0) return false;
    AppendUtf8(out, cp);
  }
  return true;
}

namespace {

// Levels of `e` (a primitive or an empty container is 1, [1] is 2), at most a container deep
// enough to exceed the scanner's limit (then Value() failed already).
int Depth(const Scanner& scanner, const Element& e, int level) {
  if (!IsContainer(e.type)) return 1;
  int deepest = 0;
  size_t n = 0;
  const McbpStatus s = scanner.ForEachChild(
      e, level,
      [&](const Child& c) {
        deepest = std::max(deepest, Depth(scanner, c.value, level + 1));
        return true;
      },
      &n);
  (void)s;  // the container was scanned whole before: its children are valid
  return 1 + deepest;
}

}  // namespace

McbpStatus CheckValue(std::string_view value, ValueContext context, int max_depth) {
  // subjson validates the value inside a wrapper: "[" VALUE "]" (for a dictionary value the
  // wrapper is {"k": VALUE}; both accept exactly what a one-element array accepts).
  std::string wrapped;
  wrapped.reserve(value.size() + 2);
  wrapped.push_back('[');
  wrapped.append(value);
  wrapped.push_back(']');
  const Scanner scanner(wrapped);
  Element root;
  McbpStatus s = scanner.Root(&root);
  if (s == McbpStatus::kSubdocDocE2deep) return McbpStatus::kSubdocValueEtoodeep;
  if (s != McbpStatus::kSuccess) return McbpStatus::kSubdocValueCantinsert;
  size_t count = 0;
  bool primitives = true;
  int deepest = 0;
  s = scanner.ForEachChild(
      root, 1,
      [&](const Child& c) {
        primitives = primitives && !IsContainer(c.value.type);
        deepest = std::max(deepest, Depth(scanner, c.value, 2));
        return true;
      },
      &count);
  if (s != McbpStatus::kSuccess || count == 0) return McbpStatus::kSubdocValueCantinsert;
  if (context != ValueContext::kArrayValues && count != 1) {
    return McbpStatus::kSubdocValueCantinsert;
  }
  if (context == ValueContext::kUniqueValue && !primitives) {
    return McbpStatus::kSubdocValueCantinsert;
  }
  return deepest > max_depth ? McbpStatus::kSubdocValueEtoodeep : McbpStatus::kSuccess;
}

}  // namespace sluice::subdoc
