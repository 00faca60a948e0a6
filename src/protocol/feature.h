// File: protocol/feature.h
//
// HELLO feature codes, kv_engine's. A client sends the u16 codes it wants in the HELLO value; the
// server answers with the subset it agrees to (sluice's are in server/commands_session.cc). The
// comments say what an agreed feature changes on the wire, for the ones sluice agrees to.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::protocol {

enum class Feature : uint16_t {
  kInvalid = 0x01,        // retired "Datatype"
  kTls = 0x02,            // never implemented
  kTcpNoDelay = 0x03,     // TCP_NODELAY (sluice sets it on every connection anyway)
  kMutationSeqno = 0x04,  // mutation responses carry vbucket uuid u64 + seqno u64 as extras
  kTcpDelay = 0x05,       // unsupported
  // Values may have the XATTR datatype (an xattr section before the body); subdoc xattr paths.
  kXattr = 0x06,
  // Every status may be sent (without it newer codes are mapped to older ones), and EINVAL
  // carries a JSON body {"error":{"context":...}}.
  kXerror = 0x07,
  kSelectBucket = 0x08,  // SELECT_BUCKET
  kInvalid2 = 0x09,      // retired collections prototype
  kSnappy = 0x0a,
  kJson = 0x0b,  // the JSON datatype bit is set on values that are JSON
  kDuplex = 0x0c,
  kClustermapChangeNotification = 0x0d,
  kUnorderedExecution = 0x0e,
  kTracing = 0x0f,
  kAltRequestSupport = 0x10,  // requests may carry frame infos (magic 0x08)
  kSyncReplication = 0x11,    // mutations may carry a durability frame info
  kCollections = 0x12,        // document keys start with a LEB128 collection id
  kSnappyEverywhere = 0x13,
  kPreserveTtl = 0x14,
  kVAttr = 0x15,                       // subdoc virtual xattrs: $document, $vbucket, $XTOC
  kInvalid3 = 0x16,                    // retired PiTR
  kSubdocCreateAsDeleted = 0x17,       // the CreateAsDeleted doc flag
  kSubdocDocumentMacroSupport = 0x18,  // ${$document...} macros
  kSubdocReplaceBodyWithXattr = 0x19,  // SUBDOC_REPLACE_BODY_WITH_XATTR
  kReportUnitUsage = 0x1a,
  kNonBlockingThrottlingMode = 0x1b,
  kSubdocReplicaRead = 0x1c,
  kGetClusterConfigWithKnownVersion = 0x1d,
  kDedupeNotMyVbucketClustermap = 0x1e,
  kClustermapChangeNotificationBrief = 0x1f,
  kSubdocAllowsAccessOnMultipleXattrKeys = 0x20,  // a multi spec may address several X-Keys
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
