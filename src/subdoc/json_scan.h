// File: subdoc/json_scan.h
//
// A validating scanner over JSON text that reports where values are (byte offsets) instead of
// building a tree: what the subdoc operations need to splice a document the way kv_engine's
// subjson does, leaving every byte they do not touch as it was. Strict RFC 8259 syntax; nesting
// deeper than kMaxLevel (the root value is level 1) is kSubdocDocE2deep, like subjson's parser.
//
// Thread safety: a Scanner is immutable; pure functions otherwise.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "protocol/status.h"

namespace sluice::subdoc {

using protocol::McbpStatus;

enum class JsonType : uint8_t { kObject, kArray, kString, kNumber, kTrue, kFalse, kNull };

inline bool IsContainer(JsonType t) { return t == JsonType::kObject || t == JsonType::kArray; }

// One value in the text: [begin, end) covers it exactly (quotes and brackets included).
struct Element {
  size_t begin = 0;
  size_t end = 0;
  JsonType type = JsonType::kNull;
  bool integer = false;  // kNumber without fraction or exponent
};

// An object member or array element met while iterating a container.
struct Child {
  size_t index = 0;      // position in the container (0-based)
  size_t key_begin = 0;  // objects: the opening quote of the key
  std::string_view key;  // objects: the key's raw text between the quotes
  Element value;
};

class Scanner {
 public:
  static constexpr int kMaxLevel = 32;

  explicit Scanner(std::string_view text) : text_(text) {}
  std::string_view text() const { return text_; }
  std::string_view Slice(const Element& e) const { return text_.substr(e.begin, e.end - e.begin); }

  size_t SkipWs(size_t pos) const;
  // The value starting at `pos` (after optional whitespace), at nesting `level`.
  // kSubdocDocNotJson on a syntax error, kSubdocDocE2deep past kMaxLevel.
  McbpStatus Value(size_t pos, int level, Element* out) const;
  // The whole text as one value (whitespace around it allowed, nothing else).
  McbpStatus Root(Element* out) const;
  // Calls fn for each child of `container` (at `level`) in order until fn returns false.
  // *count receives the number of children seen (all of them unless fn stopped early).
  McbpStatus ForEachChild(const Element& container, int level,
                          const std::function<bool(const Child&)>& fn, size_t* count) const;

 private:
  McbpStatus String(size_t pos, size_t* end) const;
  McbpStatus Number(size_t pos, Element* out) const;
  McbpStatus Literal(size_t pos, std::string_view word, JsonType type, Element* out) const;
  McbpStatus Container(size_t pos, int level, Element* out) const;

  std::string_view text_;
};

// A JSON key's raw text with its \uXXXX escapes decoded to UTF-8 (other escapes kept as
// written): subjson compares keys to path components in that form. False on a bad escape or an
// escaped NUL.
bool DecodeUnicodeEscapes(std::string_view raw, std::string* out);

// A user value checked the way subjson checks what it inserts:
enum class ValueContext : uint8_t {
  kDictValue,    // exactly one JSON value ({"k": VALUE})
  kArrayValues,  // one or more comma-separated values ([VALUE])
  kUniqueValue,  // exactly one JSON primitive (ARRAY_ADD_UNIQUE)
};
// kSuccess, kSubdocValueCantinsert (not valid there), or kSubdocValueEtoodeep when the value
// nests deeper than `max_depth` levels (a primitive is 1 level, [1] is 2).
McbpStatus CheckValue(std::string_view value, ValueContext context, int max_depth);

}  // namespace sluice::subdoc
