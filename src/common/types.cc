#include "common/types.h"

#include <zlib.h>

namespace sluice {

std::string_view VBucketStateName(VBucketState state) {
  switch (state) {
    case VBucketState::kActive:
      return "active";
    case VBucketState::kReplica:
      return "replica";
    case VBucketState::kPending:
      return "pending";
    case VBucketState::kDead:
      return "dead";
  }
  return "unknown";
}

std::optional<VBucketState> ParseVBucketState(std::string_view name) {
  if (name == "active") return VBucketState::kActive;
  if (name == "replica") return VBucketState::kReplica;
  if (name == "pending") return VBucketState::kPending;
  if (name == "dead") return VBucketState::kDead;
  return std::nullopt;
}

bool IsValidVBucketState(uint32_t wire_value) { return wire_value >= 1 && wire_value <= 4; }

Vbid VBucketForKey(std::string_view key, uint32_t num_vbuckets) {
  const uLong crc =
      crc32(0L, reinterpret_cast<const Bytef*>(key.data()), static_cast<uInt>(key.size()));
  return static_cast<Vbid>(((crc >> 16) & 0x7fff) % num_vbuckets);
}

}  // namespace sluice
