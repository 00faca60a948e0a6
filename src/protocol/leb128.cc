// File: protocol/leb128.cc
#include "protocol/leb128.h"

namespace sluice::protocol {

std::optional<Leb128Value> DecodeLeb128(std::string_view input) {
  uint32_t value = 0;
  const size_t limit = input.size() < kMaxLeb128U32Size ? input.size() : kMaxLeb128U32Size;
  for (size_t i = 0; i < limit; ++i) {
    const auto byte = static_cast<uint8_t>(input[i]);
    if (i == kMaxLeb128U32Size - 1 && (byte & 0xf0) != 0) {
      return std::nullopt;  // more than 32 bits (or a continuation past the 5th byte)
    }
    value |= uint32_t{static_cast<uint8_t>(byte & 0x7f)} << (7 * i);
    if ((byte & 0x80) == 0) {
      if (byte == 0 && i > 0) return std::nullopt;  // overlong: a trailing zero group
      return Leb128Value{value, i + 1};
    }
  }
  return std::nullopt;  // no stop byte
}

size_t EncodeLeb128(uint32_t value, char* out) {
  size_t n = 0;
  do {
    auto byte = static_cast<uint8_t>(value & 0x7f);
    value >>= 7;
    if (value != 0) byte |= 0x80;
    out[n++] = static_cast<char>(byte);
  } while (value != 0);
  return n;
}

void AppendLeb128(std::string* out, uint32_t value) {
  char buf[kMaxLeb128U32Size];
  out->append(buf, EncodeLeb128(value, buf));
}

StatusOr<CollectionKey> SplitCollectionKey(std::string_view prefixed_key) {
  const std::optional<Leb128Value> leb = DecodeLeb128(prefixed_key);
  if (!leb) return Status(Errc::kInvalid, "key has no valid leb128 collection prefix");
  if (leb->length == prefixed_key.size()) return Status(Errc::kInvalid, "no logical key found");
  return CollectionKey{leb->value, prefixed_key.substr(leb->length)};
}

void AppendCollectionKey(std::string* out, uint32_t collection_id, std::string_view key) {
  AppendLeb128(out, collection_id);
  out->append(key);
}

Status SplitWireKey(std::string_view wire_key, bool collections, uint32_t* cid,
                    std::string_view* key) {
  if (!collections) {
    *cid = kDefaultCollectionId;
    *key = wire_key;
    return Status::Ok();
  }
  ASSIGN_OR_RETURN(CollectionKey split, SplitCollectionKey(wire_key));
  *cid = split.collection_id;
  *key = split.key;
  return Status::Ok();
}

}  // namespace sluice::protocol
