// File: protocol/status.h
//
// McbpStatus: the 16-bit status of a memcached binary response, with kv_engine's values, and the
// single translation from sluice's domain codes (sluice::Errc) to the wire: ToMcbpStatus(). Every
// response the server sends goes through it, so the mapping is decided here and nowhere else.
//
// The reverse direction, ErrcFromMcbpStatus(), is for clients (src/client, tools) that want to turn
// a server's answer into a sluice::Status.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/status.h"

namespace sluice::protocol {

enum class McbpStatus : uint16_t {
  kSuccess = 0x00,
  kKeyEnoent = 0x01,
  kKeyEexists = 0x02,
  kE2big = 0x03,
  kEinval = 0x04,
  kNotStored = 0x05,
  kDeltaBadval = 0x06,
  kNotMyVbucket = 0x07,
  kNoBucket = 0x08,
  kLocked = 0x09,
  kDcpStreamNotFound = 0x0a,  // only after DCP control v7_dcp_status_codes
  kOpaqueNoMatch = 0x0b,      // idem
  kEWouldThrottle = 0x0c,
  kEConfigOnly = 0x0d,
  kNotLocked = 0x0e,
  kCasValueInvalid = 0x0f,
  kAuthStale = 0x1f,
  kAuthError = 0x20,
  kAuthContinue = 0x21,
  kErange = 0x22,
  kRollback = 0x23,
  kEaccess = 0x24,
  kNotInitialized = 0x25,
  kEncryptionKeyNotAvailable = 0x26,
  kChecksumMismatch = 0x27,
  kExpiryOverflow = 0x28,
  kLockExpiryOverflow = 0x29,
  kRateLimitedNetworkIngress = 0x30,
  kRateLimitedNetworkEgress = 0x31,
  kRateLimitedMaxConnections = 0x32,
  kRateLimitedMaxCommands = 0x33,
  kBucketSizeLimitExceeded = 0x35,
  kBucketResidentRatioTooLow = 0x36,
  kBucketDataSizeTooBig = 0x37,
  kBucketDiskSpaceTooLow = 0x38,
  kBucketPaused = 0x50,
  kCancelled = 0x51,
  kUnknownFrameInfo = 0x80,
  kUnknownCommand = 0x81,
  kEnomem = 0x82,
  kNotSupported = 0x83,
  kEinternal = 0x84,
  kEbusy = 0x85,
  kEtmpfail = 0x86,
  kXattrEinval = 0x87,
  kUnknownCollection = 0x88,
  kCannotApplyCollectionsManifest = 0x8a,
  kUnknownScope = 0x8c,
  kDcpStreamIdInvalid = 0x8d,
  kDurabilityInvalidLevel = 0xa0,
  kDurabilityImpossible = 0xa1,
  kSyncWriteInProgress = 0xa2,
  kSyncWriteAmbiguous = 0xa3,
  kSyncWriteReCommitInProgress = 0xa4,
  kRangeScanCancelled = 0xa5,
  kRangeScanMore = 0xa6,
  kRangeScanComplete = 0xa7,
  kVbUuidNotEqual = 0xa8,
  kSubdocPathEnoent = 0xc0,
  kSubdocPathMismatch = 0xc1,
  kSubdocPathEinval = 0xc2,
  kSubdocPathE2big = 0xc3,
  kSubdocDocE2deep = 0xc4,
  kSubdocValueCantinsert = 0xc5,
  kSubdocDocNotJson = 0xc6,
  kSubdocNumErange = 0xc7,
  kSubdocDeltaEinval = 0xc8,
  kSubdocPathEexists = 0xc9,
  kSubdocValueEtoodeep = 0xca,
  kSubdocInvalidCombo = 0xcb,
  kSubdocMultiPathFailure = 0xcc,
  kSubdocSuccessDeleted = 0xcd,
  kSubdocXattrInvalidFlagCombo = 0xce,
  kSubdocXattrInvalidKeyCombo = 0xcf,
  kSubdocXattrUnknownMacro = 0xd0,
  kSubdocXattrUnknownVattr = 0xd1,
  kSubdocXattrCantModifyVattr = 0xd2,
  kSubdocMultiPathFailureDeleted = 0xd3,
  kSubdocInvalidXattrOrder = 0xd4,
  kSubdocXattrUnknownVattrMacro = 0xd5,
  kSubdocCanOnlyReviveDeletedDocuments = 0xd6,
  kSubdocDeletedDocumentCantHaveValue = 0xd7,
  kSubdocFieldNotBinaryValue = 0xd8,
  // 0xff00-0xffff are reserved for applications (proxies); Couchbase never returns them.
};

// True for the values listed above.
bool IsKnownStatus(McbpStatus status);
// kv_engine's notion of a successful status (the payload is the real answer, not an error
// context): Success, AuthContinue, Rollback, SubdocSuccessDeleted, SubdocMultiPathFailure(Deleted),
// RangeScanMore, RangeScanComplete.
bool IsSuccessStatus(McbpStatus status);
// The enumerator name without the 'k' ("KeyEnoent"), or "Unknown".
std::string_view McbpStatusName(McbpStatus status);

struct ToMcbpOptions {
  // DCP control "v7_dcp_status_codes" was agreed on the connection: Errc::kStreamNotFound becomes
  // DcpStreamNotFound (0x0a) instead of the legacy KeyEnoent.
  bool v7_dcp_status_codes = false;
};

// The one Errc -> wire translation. Choices worth knowing:
// - kStreamNotFound -> KeyEnoent (DcpStreamNotFound only with v7 DCP status codes, see above).
// - kTempFail and kIoError -> Etmpfail (a storage hiccup is retryable from the client's side).
// - kCancelled -> Etmpfail: kv_engine has Cancelled (0x51), but legacy clients do not know it and
//   the operation had no effect, so "retry" is the honest answer.
// - kCorruption and kInternal -> Einternal.
// - kWouldBlock and kDisconnect are control flow inside the server and must never reach the wire;
//   they map to Einternal so a bug is visible to the client rather than undefined.
McbpStatus ToMcbpStatus(Errc code, ToMcbpOptions options = {});

// Client side: the sluice code that best describes a server's status (kOk for the success
// statuses other than AuthContinue/Rollback, which have their own codes; kInternal for unknown
// values).
Errc ErrcFromMcbpStatus(McbpStatus status);

}  // namespace sluice::protocol
