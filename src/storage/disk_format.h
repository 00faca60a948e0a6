// File: storage/disk_format.h
//
// The byte formats of the RocksDB store (internal to storage/; README.md has the tables):
//
//   seq   key  : vbid u16 BE | seqno u64 BE                    (10 bytes; sorts by (vb, seqno))
//         value: EncodeDoc()                                   (version byte 1)
//   key   key  : vbid u16 BE | document key bytes
//         value: EncodeKeyEntry()                              (version byte 1)
//   local key  : "vbstate/<vbid decimal>" | "clean_shutdown"
//         value: EncodeVBucketState() (version byte 1 or 2)   | "1"
//   history key: 'm' | vbid u16 BE | seqno u64 BE              (a commit boundary)
//         value: EncodeHistoryBoundary()                       (version byte 1)
//   history key: 'v' | vbid u16 BE | seqno u64 BE | ns u8      (a replaced version; ns 1 = prepare)
//         value: EncodeHistoryVersion()                        (version byte 1)
//
// Every value starts with a version byte. Decoders accept only the versions they know and reject
// anything else (unknown version, unknown flag bits, truncation, trailing bytes) with
// Errc::kCorruption, so a format change is a new version byte plus a decoder for it, never a
// silent reinterpretation.
//
// Integers inside values are LEB128 varints where they are usually small (rev seqno, flags,
// expiry, lengths, seqnos in state records) and fixed 8 bytes BE where they are usually large
// (CAS, failover uuids). Keys use fixed big-endian so byte order is numeric order.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"
#include "common/types.h"
#include "storage/kvstore.h"

namespace sluice::storage {

inline constexpr uint8_t kDocFormatV1 = 1;
inline constexpr uint8_t kKeyEntryFormatV1 = 1;
inline constexpr uint8_t kVBucketStateFormatV1 = 1;
// v1 plus the vbucket's replication topology; written only when it has one, so a store without
// topologies stays readable by v1 readers.
inline constexpr uint8_t kVBucketStateFormatV2 = 2;

inline constexpr size_t kSeqKeySize = 10;
inline constexpr std::string_view kVBucketStatePrefix = "vbstate/";
inline constexpr std::string_view kCleanShutdownKey = "clean_shutdown";
inline constexpr std::string_view kCleanShutdownValue = "1";

// ---- keys ----

// vbid u16 BE: the prefix every `seq` and `key` entry of the vbucket starts with.
std::string VBucketPrefix(Vbid vbid);
// The smallest 2-byte string above every key with vbid's prefix, or nullopt for vbid 0xffff
// (no such string exists: callers bound that vbucket another way).
std::optional<std::string> VBucketPrefixEnd(Vbid vbid);

std::string SeqKey(Vbid vbid, uint64_t seqno);
// Splits a `seq` key; false if it is not exactly kSeqKeySize bytes.
bool DecodeSeqKey(std::string_view key, Vbid* vbid, uint64_t* seqno);

std::string KeyKey(Vbid vbid, std::string_view doc_key);
// The `key` entry of the key's prepare (kvstore.h, "Prepares"): vbid | kPrepareNamespaceBit.
inline constexpr Vbid kPrepareNamespaceBit = 0x8000;
std::string PrepareKeyKey(Vbid vbid, std::string_view doc_key);

// "vbstate/<vbid>"; ParseVBucketStateKey is its inverse (nullopt for anything else).
std::string VBucketStateKey(Vbid vbid);
std::optional<Vbid> ParseVBucketStateKey(std::string_view key);

// ---- values ----

// A document's `seq` value. vbid and seqno live in the `seq` key, not here.
std::string EncodeDoc(const DiskDoc& doc);
// Fills every field of *doc except vbid and seqno (the caller takes those from the key). With
// key_only, leaves doc->value empty without copying it.
Status DecodeDoc(std::string_view value, bool key_only, DiskDoc* doc);
// DecodeDoc without copying: doc->key and doc->value view `value`.
Status DecodeDocView(std::string_view value, bool key_only, DiskDocView* doc);
// Reads only the deleted bit (cheap filter for skip_deleted scans).
StatusOr<bool> DecodeDocDeleted(std::string_view value);

// A `key` entry: where the latest version of the key lives.
struct KeyEntry {
  uint64_t seqno = 0;
  bool deleted = false;
  friend bool operator==(const KeyEntry&, const KeyEntry&) = default;
};
std::string EncodeKeyEntry(const KeyEntry& entry);
StatusOr<KeyEntry> DecodeKeyEntry(std::string_view value);

// ---- history (rocksdb_history.h) ----
inline constexpr uint8_t kHistoryFormatV1 = 1;
inline constexpr char kHistoryBoundaryTag = 'm';
inline constexpr char kHistoryVersionTag = 'v';
// tag | vbid | seqno; the smallest key of the vbucket's boundaries or versions above `seqno` is
// HistoryKey(tag, vbid, seqno + 1). HistoryKeyEnd(tag, vbid): above every key of that range.
std::string HistoryKey(char tag, Vbid vbid, uint64_t seqno);
std::string HistoryKeyEnd(char tag, Vbid vbid);
// A version's key: HistoryKey('v', ...) plus the namespace byte.
std::string HistoryVersionKey(Vbid vbid, uint64_t replaced_at, bool prepare);
// Splits a history key of either tag; false if malformed. *prepare only for versions.
bool DecodeHistoryKey(std::string_view key, char* tag, Vbid* vbid, uint64_t* seqno, bool* prepare);
// The boundary's seqno lives in the key; every other field here.
std::string EncodeHistoryBoundary(uint64_t time, uint64_t bytes, uint64_t snap_start,
                                  uint64_t snap_end);
Status DecodeHistoryBoundary(std::string_view value, uint64_t* time, uint64_t* bytes,
                             uint64_t* snap_start, uint64_t* snap_end);
// The replaced version: its seqno and its `seq` value (EncodeDoc), kept verbatim.
std::string EncodeHistoryVersion(uint64_t old_seqno, std::string_view doc_value);
Status DecodeHistoryVersion(std::string_view value, uint64_t* old_seqno,
                            std::string_view* doc_value);

// v1 when state.topology is empty, else v2. Decoding accepts both (a v1 record has no topology)
// and rejects a v2 topology that breaks the topology rules (common/vbucket_topology.h).
std::string EncodeVBucketState(const VBucketStateRecord& state);
StatusOr<VBucketStateRecord> DecodeVBucketState(std::string_view value);

}  // namespace sluice::storage
