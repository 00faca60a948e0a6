// File: protocol/leb128.h
//
// Unsigned LEB128 for the collection-id prefix of document keys: 7 bits per byte, least significant
// group first, the high bit set on every byte but the last. The decoder is strict, as kv_engine's
// decodeCanonical is:
//   - at most 5 bytes for a u32, and the 5th byte may carry only the top 4 bits (no overflow);
//   - no stop byte within the input or within 5 bytes -> error;
//   - non-canonical (overlong) encodings such as 0x80 0x00 for 0 -> error.
//
// Thread safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace sluice::protocol {

inline constexpr size_t kMaxLeb128U32Size = 5;

// The default collection; keys of legacy (non-collection) connections belong to it.
inline constexpr uint32_t kDefaultCollectionId = 0;

struct Leb128Value {
  uint32_t value = 0;
  size_t length = 0;  // bytes consumed
};

// Decodes the LEB128 value at the start of `input`; nullopt if it is truncated, too long, overflows
// 32 bits or is not canonical.
std::optional<Leb128Value> DecodeLeb128(std::string_view input);

// Writes the encoding of `value` to `out` (room for kMaxLeb128U32Size bytes) and returns its
// length.
size_t EncodeLeb128(uint32_t value, char* out);
void AppendLeb128(std::string* out, uint32_t value);

struct CollectionKey {
  uint32_t collection_id = kDefaultCollectionId;
  std::string_view key;  // the logical key (a view into the input)
};

// Splits a collection-prefixed key (what a collection-aware connection sends). kInvalid when the
// prefix does not decode or the logical key is empty.
StatusOr<CollectionKey> SplitCollectionKey(std::string_view prefixed_key);

// A key as a connection sends it: collection-prefixed on a collection-aware connection
// (SplitCollectionKey's rules), otherwise the whole of it, in the default collection.
Status SplitWireKey(std::string_view wire_key, bool collections, uint32_t* collection_id,
                    std::string_view* key);

// Appends LEB128(collection_id) + key.
void AppendCollectionKey(std::string* out, uint32_t collection_id, std::string_view key);

}  // namespace sluice::protocol
