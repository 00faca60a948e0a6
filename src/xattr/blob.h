// File: xattr/blob.h
//
// The layout of a document value whose datatype has the XATTR bit (0x04), as kv_engine stores it
// (docs/xattrs.md):
//
//   u32 BE  length of the xattr section that follows (not counting these 4 bytes)
//   repeated: u32 BE pair length, key bytes, '\0', value bytes (JSON), '\0'
//   the body (the document the client sees without xattrs)
//
// "Section" below means the 4-byte length plus the pairs (what kv_engine calls the blob); an
// empty set of xattrs is encoded as the empty string, never as a section of length 0 (a value
// then simply has no XATTR bit). Keys starting with '_' are system xattrs (kept in a tombstone
// when the document is deleted), '$' names a virtual xattr (computed, never stored), anything
// else is a user xattr.
//
// Everything except Validate() and SplitXattrs() assumes a value or section that passed
// Validate() (the engine only stores validated values): they never read out of bounds on any
// input, but return nonsense for garbage.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::xattr {

inline constexpr uint8_t kDatatypeXattr = 0x04;  // the datatype bit (protocol/datatype.h)
// An X-Key is at most this many bytes (kv_engine's SUBDOC_MAX_XATTR_LENGTH - 1).
inline constexpr size_t kMaxKeyLength = 15;
// The system xattrs of one document may take at most this many bytes (their own quota beside
// max_item_size; kv_engine's cb::limits::PrivilegedBytes).
inline constexpr size_t kMaxSystemXattrBytes = 1 << 20;

inline bool IsSystemKey(std::string_view key) { return !key.empty() && key[0] == '_'; }
inline bool IsVirtualKey(std::string_view key) { return !key.empty() && key[0] == '$'; }

// kv_engine's is_valid_xattr_key over a subdoc path whose first component is the X-Key: the key
// ends at the first '.' or '[' (no backtick escaping), is modified UTF-8 without NUL, 1..15
// bytes, does not start with a control or punctuation character other than '_' and '$', and a
// '_' or '$' key has at least 2 bytes. *key_length receives the key's length when valid.
bool IsValidKey(std::string_view path, size_t* key_length);

// The value split at the body offset. nullopt if the value is shorter than 4 bytes or its
// section length points past its end.
struct Split {
  std::string_view section;  // the length field and the pairs
  std::string_view body;
};
std::optional<Split> SplitValue(std::string_view value);

// The body of a stored value: the value itself without the XATTR bit, else what follows the
// section (the whole value if the section length is broken).
std::string_view Body(uint8_t datatype, std::string_view value);

// kv_engine's cb::xattr::validate over a whole value (section + body): the section lies within
// the value, every pair is exactly framed, keys are valid (IsValidKey) and unique, values are
// JSON, and the system xattrs fit kMaxSystemXattrBytes.
bool Validate(std::string_view value);

// Calls fn(key, value) for each pair of a section, in stored order.
void ForEach(std::string_view section,
             const std::function<void(std::string_view key, std::string_view value)>& fn);

// The value of `key`, nullopt if absent.
std::optional<std::string_view> Get(std::string_view section, std::string_view key);

// Bytes the system xattrs take in a section, counted as kv_engine does (their pairs with their
// length fields, plus the 4-byte section length if there is any), 0 without a section.
size_t SystemSize(std::string_view section);

// A section holding `pairs` in that order; "" for none.
std::string Encode(const std::vector<std::pair<std::string_view, std::string_view>>& pairs);

enum class Keep : uint8_t { kSystem, kUser };
// The section with only the system (or only the user) xattrs; "" if none remain.
std::string Prune(std::string_view section, Keep keep);

// The section as one JSON object {"key":value,...} (values copied verbatim), "{}" if empty: the
// document the subdoc xattr phase operates on (kv_engine's Blob::to_string).
std::string ToJsonObject(std::string_view section);

}  // namespace sluice::xattr
