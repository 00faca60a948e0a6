// File: protocol/feature.h
//
// HELLO feature codes, kv_engine's. A client sends the u16 codes it wants in the HELLO value; the
// server answers with the subset it agrees to (server/commands_session.cc). What each agreed
// feature changes on the wire is documented in docs/protocol.md, "HELLO features sluice agrees to".
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::protocol {

enum class Feature : uint16_t {
  kInvalid = 0x01,  // retired "Datatype"
  kTls = 0x02,      // never implemented
  kTcpNoDelay = 0x03,
  kMutationSeqno = 0x04,
  kTcpDelay = 0x05,  // unsupported
  kXattr = 0x06,
  kXerror = 0x07,
  kSelectBucket = 0x08,
  kInvalid2 = 0x09,  // retired collections prototype
  kSnappy = 0x0a,
  kJson = 0x0b,
  kDuplex = 0x0c,
  kClustermapChangeNotification = 0x0d,
  kUnorderedExecution = 0x0e,
  kTracing = 0x0f,
  kAltRequestSupport = 0x10,
  kSyncReplication = 0x11,
  kCollections = 0x12,
  kSnappyEverywhere = 0x13,
  kPreserveTtl = 0x14,
  kVAttr = 0x15,
  kInvalid3 = 0x16,  // retired PiTR
  kSubdocCreateAsDeleted = 0x17,
  kSubdocDocumentMacroSupport = 0x18,
  kSubdocReplaceBodyWithXattr = 0x19,
  kReportUnitUsage = 0x1a,
  kNonBlockingThrottlingMode = 0x1b,
  kSubdocReplicaRead = 0x1c,
  kGetClusterConfigWithKnownVersion = 0x1d,
  kDedupeNotMyVbucketClustermap = 0x1e,
  kClustermapChangeNotificationBrief = 0x1f,
  kSubdocAllowsAccessOnMultipleXattrKeys = 0x20,
  kSubdocBinaryXattr = 0x21,
  kRangeScanIncludeXattr = 0x22,
  kSubdocAllowReplicaReadOnDeletedDocs = 0x23,
  kGetRandomKeyIncludeXattr = 0x24,
  kMutateWithMeta = 0x25,
  kDcpSkipDeletesInInitialBackfill = 0x26,
};

// kv_engine's display name ("Mutation seqno", "XERROR", "Collections", ...); "Unknown" otherwise.
std::string_view FeatureName(Feature feature);
bool IsKnownFeature(uint16_t code);

// HELLO value codec: a list of big-endian u16 codes. Decoding keeps unknown codes (a server
// ignores them; a client should never receive them) and ignores a trailing odd byte (the
// validator rejects odd lengths before this is called).
void AppendFeatures(std::string* out, const std::vector<Feature>& features);
std::vector<Feature> DecodeFeatures(std::string_view value);

}  // namespace sluice::protocol
