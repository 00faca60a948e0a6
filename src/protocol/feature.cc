// File: protocol/feature.cc
#include "protocol/feature.h"

#include "protocol/byte_order.h"

namespace sluice::protocol {

std::string_view FeatureName(Feature feature) {
  switch (feature) {
    case Feature::kInvalid:
      return "Invalid";
    case Feature::kTls:
      return "TLS";
    case Feature::kTcpNoDelay:
      return "TCP nodelay";
    case Feature::kMutationSeqno:
      return "Mutation seqno";
    case Feature::kTcpDelay:
      return "TCP delay";
    case Feature::kXattr:
      return "XATTR";
    case Feature::kXerror:
      return "XERROR";
    case Feature::kSelectBucket:
      return "Select bucket";
    case Feature::kInvalid2:
      return "Invalid2";
    case Feature::kSnappy:
      return "Snappy";
    case Feature::kJson:
      return "JSON";
    case Feature::kDuplex:
      return "Duplex";
    case Feature::kClustermapChangeNotification:
      return "Clustermap change notification";
    case Feature::kUnorderedExecution:
      return "Unordered execution";
    case Feature::kTracing:
      return "Tracing";
    case Feature::kAltRequestSupport:
      return "AltRequestSupport";
    case Feature::kSyncReplication:
      return "SyncReplication";
    case Feature::kCollections:
      return "Collections";
    case Feature::kSnappyEverywhere:
      return "SnappyEverywhere";
    case Feature::kPreserveTtl:
      return "PreserveTtl";
    case Feature::kVAttr:
      return "VAttr";
    case Feature::kInvalid3:
      return "Invalid3";
    case Feature::kSubdocCreateAsDeleted:
      return "SubdocCreateAsDeleted";
    case Feature::kSubdocDocumentMacroSupport:
      return "SubdocDocumentMacroSupport";
    case Feature::kSubdocReplaceBodyWithXattr:
      return "SubdocReplaceBodyWithXattr";
    case Feature::kReportUnitUsage:
      return "ReportUnitUsage";
    case Feature::kNonBlockingThrottlingMode:
      return "NonBlockingThrottlingMode";
    case Feature::kSubdocReplicaRead:
      return "SubdocReplicaRead";
    case Feature::kGetClusterConfigWithKnownVersion:
      return "GetClusterConfigWithKnownVersion";
    case Feature::kDedupeNotMyVbucketClustermap:
      return "DedupeNotMyVbucketClustermap";
    case Feature::kClustermapChangeNotificationBrief:
      return "ClustermapChangeNotificationBrief";
    case Feature::kSubdocAllowsAccessOnMultipleXattrKeys:
      return "SubdocAllowsAccessOnMultipleXattrKeys";
    case Feature::kSubdocBinaryXattr:
      return "SubdocBinaryXattr";
    case Feature::kRangeScanIncludeXattr:
      return "RangeScanIncludeXattr";
    case Feature::kSubdocAllowReplicaReadOnDeletedDocs:
      return "SubdocAllowReplicaReadOnDeletedDocs";
    case Feature::kGetRandomKeyIncludeXattr:
      return "GetRandomKeyIncludeXattr";
    case Feature::kMutateWithMeta:
      return "MutateWithMeta";
    case Feature::kDcpSkipDeletesInInitialBackfill:
      return "DcpSkipDeletesInInitialBackfill";
  }
  return "Unknown";
}

bool IsKnownFeature(uint16_t code) { return code >= 0x01 && code <= 0x26; }

void AppendFeatures(std::string* out, const std::vector<Feature>& features) {
  out->reserve(out->size() + 2 * features.size());
  for (Feature f : features) AppendBe16(out, static_cast<uint16_t>(f));
}

std::vector<Feature> DecodeFeatures(std::string_view value) {
  std::vector<Feature> features;
  features.reserve(value.size() / 2);
  for (size_t i = 0; i + 1 < value.size(); i += 2) {
    features.push_back(static_cast<Feature>(LoadBe16(value.data() + i)));
  }
  return features;
}

}  // namespace sluice::protocol
