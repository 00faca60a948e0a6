// File: common/types.h
//
// Small vocabulary types shared by every layer: vbucket ids and states, the key→vbucket hash that
// Couchbase clients compute, and document delete sources.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace sluice {

using Vbid = uint16_t;

// Wire values as in the memcached binary protocol (SET_VBUCKET extras).
enum class VBucketState : uint8_t {
  kActive = 1,
  kReplica = 2,
  kPending = 3,
  kDead = 4,
};

std::string_view VBucketStateName(VBucketState state);  // "active", "replica", ...
std::optional<VBucketState> ParseVBucketState(std::string_view name);
bool IsValidVBucketState(uint32_t wire_value);
// Replica and pending vbuckets are the ones replication writes to (kv_engine's consumer rule).
inline bool IsReplicaState(VBucketState state) {
  return state == VBucketState::kReplica || state == VBucketState::kPending;
}

// Couchbase's key→vbucket mapping: ((crc32(key) >> 16) & 0x7fff) % num_vbuckets, where crc32 is
// the standard reflected IEEE CRC (zlib's crc32). The key is the raw key, without a collection
// prefix.
Vbid VBucketForKey(std::string_view key, uint32_t num_vbuckets);

// Why a document became a tombstone; DCP sends TTL deletes as expirations when asked to.
enum class DeleteSource : uint8_t {
  kExplicit = 0,
  kTtl = 1,
};

}  // namespace sluice
