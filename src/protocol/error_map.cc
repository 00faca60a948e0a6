// File: protocol/error_map.cc
#include "protocol/error_map.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace sluice::protocol {
namespace {

using S = McbpStatus;

std::vector<ErrorMapEntry> BuildEntries() {
  std::vector<ErrorMapEntry> e = {
      {S::kSuccess, "SUCCESS", "Success", {"success"}},
      {S::kKeyEnoent, "KEY_ENOENT", "Not Found", {"item-only"}},
      {S::kKeyEexists, "KEY_EEXISTS", "key already exists, or CAS mismatch", {"item-only"}},
      {S::kE2big, "E2BIG", "Value is too big", {"item-only", "invalid-input"}},
      {S::kEinval, "EINVAL", "Invalid packet", {"internal", "invalid-input"}},
      {S::kNotStored, "NOT_STORED", "Not Stored", {"internal", "item-only"}},
      {S::kDeltaBadval,
       "DELTA_BADVAL",
       "Existing document not a number",
       {"item-only", "invalid-input"}},
      {S::kNotMyVbucket,
       "NOT_MY_VBUCKET",
       "Server does not know about this vBucket",
       {"fetch-config", "invalid-input"}},
      {S::kNoBucket, "NO_BUCKET", "Not connected to any bucket", {"conn-state-invalidated"}},
      {S::kLocked,
       "LOCKED",
       "Requested resource is locked",
       {"item-locked", "item-only", "retry-now"}},
      {S::kDcpStreamNotFound, "STREAM_NOT_FOUND", "Stream not found", {"conn-state-invalidated"}},
      {S::kOpaqueNoMatch, "OPAQUE_NO_MATCH", "Opaque does not match", {"conn-state-invalidated"}},
      {S::kEWouldThrottle,
       "EWOULD_THROTTLE",
       "Command would have been throttled",
       {"temp", "retry-later", "rate-limit"}},
      {S::kEConfigOnly,
       "ECONFIG_ONLY",
       "Command can't be executed in a config-only bucket",
       {"fetch-config", "retry-now"}},
      {S::kNotLocked, "NOT_LOCKED", "Requested resource is not locked", {"item-only"}},
      {S::kCasValueInvalid,
       "CAS_VALUE_INVALID",
       "The provided CAS value is invalid",
       {"item-only"}},
      {S::kAuthStale,
       "AUTH_STALE",
       "Reauthentication required",
       {"conn-state-invalidated", "auth"}},
      {S::kAuthError, "AUTH_ERROR", "Authentication failed", {"conn-state-invalidated", "auth"}},
      {S::kAuthContinue, "AUTH_CONTINUE", "Continue authentication process", {"special-handling"}},
      {S::kErange, "ERANGE", "Invalid range requested", {"invalid-input"}},
      {S::kRollback, "ROLLBACK", "Rollback", {"dcp", "special-handling"}},
      {S::kEaccess, "EACCESS", "Not authorized for command", {"support"}},
      {S::kNotInitialized, "NOT_INITIALIZED", "Server not initialized", {"conn-state-invalidated"}},
      {S::kEncryptionKeyNotAvailable,
       "ENCRYPTION_KEY_NOT_AVAILABLE",
       "Encryption key not available",
       {"special-handling"}},
      {S::kChecksumMismatch,
       "CHECKSUM_MISMATCH",
       "The calculated checksum of data does not match the expected checksum",
       {"special-handling"}},
      {S::kExpiryOverflow,
       "EXPIRY_OVERFLOW",
       "The requested expiry overflows the 32-bit time representation used on the wire",
       {"item-only", "system-constraint", "no-retry"}},
      {S::kLockExpiryOverflow,
       "LOCK_EXPIRY_OVERFLOW",
       "The requested lock timeout overflows the 32-bit time representation of the lock expiry",
       {"item-only", "system-constraint", "no-retry"}},
      {S::kRateLimitedNetworkIngress,
       "RATE_LIMITED_NETWORK_INGRESS",
       "Rate limited: Network Ingress",
       {"temp", "retry-later", "rate-limit"}},
      {S::kRateLimitedNetworkEgress,
       "RATE_LIMITED_NETWORK_EGRESS",
       "Rate limited: Network Egress",
       {"temp", "retry-later", "rate-limit"}},
      {S::kRateLimitedMaxConnections,
       "RATE_LIMITED_MAX_CONNECTIONS",
       "Rate limited: Max Connections",
       {"conn-state-invalidated", "rate-limit"}},
      {S::kRateLimitedMaxCommands,
       "RATE_LIMITED_MAX_COMMANDS",
       "Rate limited: Max Commands",
       {"temp", "retry-later", "rate-limit"}},
      {S::kBucketSizeLimitExceeded,
       "BUCKET_SIZE_LIMIT_EXCEEDED",
       "The bucket contains too much data",
       {"item-only", "system-constraint", "no-retry"}},
      {S::kBucketResidentRatioTooLow,
       "BUCKET_RESIDENT_RATIO_TOO_LOW",
       "Bucket resident ratio too low, writes to this bucket are rejected",
       {"item-only", "system-constraint", "no-retry"}},
      {S::kBucketDataSizeTooBig,
       "BUCKET_DATA_SIZE_TOO_BIG",
       "Bucket data size exceeds the maximum allowed size, writes to this bucket are rejected",
       {"item-only", "system-constraint", "no-retry"}},
      {S::kBucketDiskSpaceTooLow,
       "BUCKET_DISK_SPACE_TOO_LOW",
       "Disk space where the bucket is deployed is above the configured threshold, writes to "
       "this bucket are rejected",
       {"item-only", "system-constraint", "no-retry"}},
      {S::kBucketPaused,
       "BUCKET_PAUSED",
       "The request is not possible because the bucket is paused",
       {"support"}},
      {S::kCancelled,
       "CANCELLED",
       "The request was cancelled, no state changed",
       {"item-only", "retry-now"}},
      {S::kUnknownFrameInfo,
       "UNKNOWN_FRAME_INFO",
       "Unknown frame info identifier encountered. Maybe a newer server version knows about it",
       {"support"}},
      {S::kUnknownCommand,
       "UNKNOWN_COMMAND",
       "Unknown command. Maybe a newer server version knows about it",
       {"support"}},
      {S::kEnomem,
       "ENOMEM",
       "No memory available to store item. Add memory or remove some items and try later",
       {"temp", "retry-later"}},
      {S::kNotSupported,
       "NOT_SUPPORTED",
       "Command not supported with current bucket type/configuration",
       {"support"}},
      {S::kEinternal,
       "EINTERNAL",
       "Internal error. Reconnect recommended",
       {"internal", "conn-state-invalidated"}},
      {S::kEbusy, "EBUSY", "Busy, try again", {"temp", "retry-now"}},
      {S::kEtmpfail, "ETMPFAIL", "Temporary failure. Try again", {"temp", "retry-now"}},
      {S::kXattrEinval, "XATTR_EINVAL", "Invalid extended attribute", {"invalid-input"}},
      {S::kUnknownCollection,
       "UNKNOWN_COLLECTION",
       "Operation specified an unknown collection.",
       {"invalid-input"}},
      {S::kCannotApplyCollectionsManifest,
       "CANNOT_APPLY_COLLECTIONS_MANIFEST",
       "The manifest cannot be applied to the bucket's vbuckets.",
       {"invalid-input"}},
      {S::kUnknownScope,
       "UNKNOWN_SCOPE",
       "Operation specified an unknown scope.",
       {"invalid-input"}},
      {S::kDcpStreamIdInvalid,
       "DCP stream-ID invalid",
       "Operations stream-ID usage is incorrect.",
       {"invalid-input"}},
      {S::kDurabilityInvalidLevel,
       "DurabilityInvalidLevel",
       "Durability level is invalid",
       {"invalid-input"}},
      {S::kDurabilityImpossible,
       "DurabilityImpossible",
       "Durability requirements are impossible to achieve",
       {"item-only", "invalid-input"}},
      {S::kSyncWriteInProgress,
       "SyncWriteInProgress",
       "The requested key has a pending synchronous write",
       {"item-only", "retry-later"}},
      {S::kSyncWriteAmbiguous,
       "SyncWriteAmbiguous",
       "The SyncWrite request has not completed in the specified time and has ambiguous result - "
       "it may Succeed or Fail; but the final value is not yet known",
       {"item-only"}},
      {S::kSyncWriteReCommitInProgress,
       "SyncWriteReCommitInProgress",
       "The requested key has a SyncWrite which is being re-committed.",
       {"item-only", "retry-later"}},
      {S::kRangeScanCancelled,
       "RangeScanCancelled",
       "The requested range-scan has been cancelled.",
       {"success"}},
      {S::kRangeScanMore, "RangeScanMore", "The range scan has more data available.", {"success"}},
      {S::kRangeScanComplete, "RangeScanComplete", "The range scan has completed", {"success"}},
      {S::kVbUuidNotEqual,
       "VbUuidNotEqual",
       "The provided vbucket uuid does not equal the server's vbucket uuid",
       {"invalid-input"}},
      {S::kSubdocPathEnoent,
       "SUBDOC_PATH_ENOENT",
       "Subdoc: Path not found in document",
       {"subdoc", "item-only"}},
      {S::kSubdocPathMismatch,
       "SUBDOC_PATH_MISMATCH",
       "Subdoc: Path and document disagree on structure",
       {"subdoc", "item-only"}},
      {S::kSubdocPathEinval,
       "SUBDOC_PATH_EINVAL",
       "Subdoc: Invalid path (bad syntax or unacceptable semantics for command)",
       {"subdoc", "invalid-input"}},
      {S::kSubdocPathE2big,
       "SUBDOC_PATH_E2BIG",
       "Subdoc: Path size exceeds limit",
       {"subdoc", "invalid-input"}},
      {S::kSubdocDocE2deep,
       "SUBDOC_PATH_E2DEEP",
       "Subdoc: Path is too deep to be parsed",
       {"subdoc", "invalid-input"}},
      {S::kSubdocValueCantinsert,
       "SUBDOC_VALUE_CANTINSERT",
       "Subdoc: Value invalid for insertion",
       {"subdoc", "invalid-input"}},
      {S::kSubdocDocNotJson,
       "SUBDOC_DOC_NOTJSON",
       "Subdoc: Document not JSON",
       {"subdoc", "item-only"}},
      {S::kSubdocNumErange,
       "SUBDOC_NUM_ERANGE",
       "Subdoc: Existing numeric value is not within range",
       {"subdoc", "item-only"}},
      {S::kSubdocDeltaEinval,
       "SUBDOC_DELTA_EINVAL",
       "Subdoc: Invalid value passed for delta (out of range, or not an integer)",
       {"subdoc", "item-only"}},
      {S::kSubdocPathEexists,
       "SUBDOC_PATH_EEXISTS",
       "Subdoc: Path already exists",
       {"subdoc", "item-only"}},
      {S::kSubdocValueEtoodeep,
       "SUBDOC_VALUE_ETOODEEP",
       "Subdoc: Value is too deep, or would make the document too deep",
       {"subdoc", "invalid-input", "item-only"}},
      {S::kSubdocInvalidCombo,
       "SUBDOC_INVALID_COMBO",
       "Subdoc: Lookup and mutation commands found within single packet",
       {"subdoc", "invalid-input"}},
      {S::kSubdocMultiPathFailure,
       "SUBDOC_MULTI_PATH_FAILURE",
       "Subdoc: Some (or all) commands failed. Inspect payload for details",
       {"subdoc", "special-handling"}},
      {S::kSubdocSuccessDeleted,
       "SUBDOC_SUCCESS_DELETED",
       "Subdoc: Success, but the affected document was (and still is) deleted",
       {"item-deleted", "success", "subdoc"}},
      {S::kSubdocXattrInvalidFlagCombo,
       "SUBDOC_XATTR_INVALID_FLAG_COMBO",
       "Subdoc: The flag combination doesn't make any sense",
       {"subdoc", "invalid-input"}},
      {S::kSubdocXattrInvalidKeyCombo,
       "SUBDOC_XATTR_INVALID_KEY_COMBO",
       "Subdoc: The key combination of the xattrs is not allowed",
       {"subdoc", "invalid-input"}},
      {S::kSubdocXattrUnknownMacro,
       "SUBDOC_XATTR_UNKNOWN_MACRO",
       "Subdoc: The server doesn't know about the specified macro",
       {"subdoc", "invalid-input"}},
      {S::kSubdocXattrUnknownVattr,
       "SUBDOC_XATTR_UNKNOWN_VATTR",
       "Subdoc: The server doesn't know about the specified virtual attribute",
       {"subdoc", "invalid-input"}},
      {S::kSubdocXattrCantModifyVattr,
       "SUBDOC_XATTR_CANT_MODIFY_VATTR",
       "Subdoc: Can't modify virtual attributes",
       {"subdoc", "invalid-input"}},
      {S::kSubdocMultiPathFailureDeleted,
       "SUBDOC_MULTI_PATH_FAILURE_DELETED",
       "Subdoc: One or more paths in a multi-path command failed on a deleted document",
       {"item-deleted", "subdoc", "special-handling"}},
      {S::kSubdocInvalidXattrOrder,
       "SUBDOC_INVALID_XATTR_ORDER",
       "Subdoc: Invalid XATTR order (xattrs should come first)",
       {"subdoc", "invalid-input"}},
      {S::kSubdocXattrUnknownVattrMacro,
       "SUBDOC_XATTR_UNKNOWN_VATTR_MACRO",
       "Subdoc: The server doesn't know about (or support) the specified virtual macro",
       {"subdoc", "invalid-input"}},
      {S::kSubdocCanOnlyReviveDeletedDocuments,
       "SUBDOC_CAN_ONLY_REVIVE_DELETED_DOCUMENTS",
       "Subdoc: Only deleted documents can be revived",
       {"subdoc", "item-only"}},
      {S::kSubdocDeletedDocumentCantHaveValue,
       "SUBDOC_DELETED_DOCUMENT_CANT_HAVE_VALUE",
       "Subdoc: A deleted document can't have a value",
       {"subdoc", "item-only"}},
      {S::kSubdocFieldNotBinaryValue,
       "SUBDOC_FIELD_NOT_BINARY_VALUE",
       "Subdoc: The field is not a binary value",
       {"subdoc", "item-only"}},
  };
  std::sort(e.begin(), e.end(), [](const ErrorMapEntry& a, const ErrorMapEntry& b) {
    return static_cast<uint16_t>(a.status) < static_cast<uint16_t>(b.status);
  });
  return e;
}

// Attributes version 1 of the format defined; others are stripped from the v1 map.
bool IsV1Attribute(std::string_view attr) {
  static constexpr std::string_view kV1[] = {
      "item-deleted",  "item-locked",      "item-only",
      "invalid-input", "fetch-config",     "conn-state-invalidated",
      "auth",          "special-handling", "support",
      "temp",          "internal",         "retry-now",
      "retry-later",   "subdoc",           "dcp",
      "success"};
  return std::find(std::begin(kV1), std::end(kV1), attr) != std::end(kV1);
}

std::string BuildJson(int version) {
  nlohmann::json errors = nlohmann::json::object();
  for (const ErrorMapEntry& entry : ErrorMapEntries()) {
    nlohmann::json attrs = nlohmann::json::array();
    for (std::string_view attr : entry.attrs) {
      if (version >= 2 || IsV1Attribute(attr)) attrs.push_back(attr);
    }
    char key[8];
    std::snprintf(key, sizeof(key), "%x", static_cast<unsigned>(entry.status));
    errors[key] = {{"name", entry.name}, {"desc", entry.desc}, {"attrs", std::move(attrs)}};
  }
  nlohmann::json map = {{"version", version},
                        {"revision", version >= 2 ? kErrorMapRevision : 4 + kErrorMapRevision},
                        {"errors", std::move(errors)}};
  return map.dump();
}

}  // namespace

const std::vector<ErrorMapEntry>& ErrorMapEntries() {
  static const std::vector<ErrorMapEntry>* const entries =
      new std::vector<ErrorMapEntry>(BuildEntries());
  return *entries;
}

const ErrorMapEntry* FindErrorMapEntry(McbpStatus status) {
  for (const ErrorMapEntry& entry : ErrorMapEntries()) {
    if (entry.status == status) return &entry;
  }
  return nullptr;
}

std::string ErrorMapJson(int version) {
  if (version <= 0) return std::string();
  static const std::string* const v1 = new std::string(BuildJson(1));
  static const std::string* const v2 = new std::string(BuildJson(2));
  return version == 1 ? *v1 : *v2;
}

}  // namespace sluice::protocol
