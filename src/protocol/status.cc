// File: protocol/status.cc
#include "protocol/status.h"

namespace sluice::protocol {

namespace {

struct StatusDef {
  McbpStatus status;
  std::string_view name;
};

#define SLUICE_STATUS(x) \
  { McbpStatus::k##x, #x }
constexpr StatusDef kStatusDefs[] = {
    SLUICE_STATUS(Success),
    SLUICE_STATUS(KeyEnoent),
    SLUICE_STATUS(KeyEexists),
    SLUICE_STATUS(E2big),
    SLUICE_STATUS(Einval),
    SLUICE_STATUS(NotStored),
    SLUICE_STATUS(DeltaBadval),
    SLUICE_STATUS(NotMyVbucket),
    SLUICE_STATUS(NoBucket),
    SLUICE_STATUS(Locked),
    SLUICE_STATUS(DcpStreamNotFound),
    SLUICE_STATUS(OpaqueNoMatch),
    SLUICE_STATUS(EWouldThrottle),
    SLUICE_STATUS(EConfigOnly),
    SLUICE_STATUS(NotLocked),
    SLUICE_STATUS(CasValueInvalid),
    SLUICE_STATUS(AuthStale),
    SLUICE_STATUS(AuthError),
    SLUICE_STATUS(AuthContinue),
    SLUICE_STATUS(Erange),
    SLUICE_STATUS(Rollback),
    SLUICE_STATUS(Eaccess),
    SLUICE_STATUS(NotInitialized),
    SLUICE_STATUS(EncryptionKeyNotAvailable),
    SLUICE_STATUS(ChecksumMismatch),
    SLUICE_STATUS(ExpiryOverflow),
    SLUICE_STATUS(LockExpiryOverflow),
    SLUICE_STATUS(RateLimitedNetworkIngress),
    SLUICE_STATUS(RateLimitedNetworkEgress),
    SLUICE_STATUS(RateLimitedMaxConnections),
    SLUICE_STATUS(RateLimitedMaxCommands),
    SLUICE_STATUS(BucketSizeLimitExceeded),
    SLUICE_STATUS(BucketResidentRatioTooLow),
    SLUICE_STATUS(BucketDataSizeTooBig),
    SLUICE_STATUS(BucketDiskSpaceTooLow),
    SLUICE_STATUS(BucketPaused),
    SLUICE_STATUS(Cancelled),
    SLUICE_STATUS(UnknownFrameInfo),
    SLUICE_STATUS(UnknownCommand),
    SLUICE_STATUS(Enomem),
    SLUICE_STATUS(NotSupported),
    SLUICE_STATUS(Einternal),
    SLUICE_STATUS(Ebusy),
    SLUICE_STATUS(Etmpfail),
    SLUICE_STATUS(XattrEinval),
    SLUICE_STATUS(UnknownCollection),
    SLUICE_STATUS(CannotApplyCollectionsManifest),
    SLUICE_STATUS(UnknownScope),
    SLUICE_STATUS(DcpStreamIdInvalid),
    SLUICE_STATUS(DurabilityInvalidLevel),
    SLUICE_STATUS(DurabilityImpossible),
    SLUICE_STATUS(SyncWriteInProgress),
    SLUICE_STATUS(SyncWriteAmbiguous),
    SLUICE_STATUS(SyncWriteReCommitInProgress),
    SLUICE_STATUS(RangeScanCancelled),
    SLUICE_STATUS(RangeScanMore),
    SLUICE_STATUS(RangeScanComplete),
    SLUICE_STATUS(VbUuidNotEqual),
    SLUICE_STATUS(SubdocPathEnoent),
    SLUICE_STATUS(SubdocPathMismatch),
    SLUICE_STATUS(SubdocPathEinval),
    SLUICE_STATUS(SubdocPathE2big),
    SLUICE_STATUS(SubdocDocE2deep),
    SLUICE_STATUS(SubdocValueCantinsert),
    SLUICE_STATUS(SubdocDocNotJson),
    SLUICE_STATUS(SubdocNumErange),
    SLUICE_STATUS(SubdocDeltaEinval),
    SLUICE_STATUS(SubdocPathEexists),
    SLUICE_STATUS(SubdocValueEtoodeep),
    SLUICE_STATUS(SubdocInvalidCombo),
    SLUICE_STATUS(SubdocMultiPathFailure),
    SLUICE_STATUS(SubdocSuccessDeleted),
    SLUICE_STATUS(SubdocXattrInvalidFlagCombo),
    SLUICE_STATUS(SubdocXattrInvalidKeyCombo),
    SLUICE_STATUS(SubdocXattrUnknownMacro),
    SLUICE_STATUS(SubdocXattrUnknownVattr),
    SLUICE_STATUS(SubdocXattrCantModifyVattr),
    SLUICE_STATUS(SubdocMultiPathFailureDeleted),
    SLUICE_STATUS(SubdocInvalidXattrOrder),
    SLUICE_STATUS(SubdocXattrUnknownVattrMacro),
    SLUICE_STATUS(SubdocCanOnlyReviveDeletedDocuments),
    SLUICE_STATUS(SubdocDeletedDocumentCantHaveValue),
    SLUICE_STATUS(SubdocFieldNotBinaryValue),
};
#undef SLUICE_STATUS

const StatusDef* Find(McbpStatus status) {
  for (const auto& def : kStatusDefs) {
    if (def.status == status) return &def;
  }
  return nullptr;
}

}  // namespace

bool IsKnownStatus(McbpStatus status) { return Find(status) != nullptr; }

bool IsSuccessStatus(McbpStatus status) {
  switch (status) {
    case McbpStatus::kSuccess:
    case McbpStatus::kAuthContinue:
    case McbpStatus::kRollback:
    case McbpStatus::kSubdocSuccessDeleted:
    case McbpStatus::kSubdocMultiPathFailure:
    case McbpStatus::kSubdocMultiPathFailureDeleted:
    case McbpStatus::kRangeScanMore:
    case McbpStatus::kRangeScanComplete:
      return true;
    default:
      return false;
  }
}

std::string_view McbpStatusName(McbpStatus status) {
  const StatusDef* def = Find(status);
  return def ? def->name : std::string_view("Unknown");
}

McbpStatus ToMcbpStatus(Errc code, ToMcbpOptions options) {
  switch (code) {
    case Errc::kOk:
      return McbpStatus::kSuccess;
    case Errc::kNotFound:
      return McbpStatus::kKeyEnoent;
    case Errc::kExists:
      return McbpStatus::kKeyEexists;
    case Errc::kNotStored:
      return McbpStatus::kNotStored;
    case Errc::kTooBig:
      return McbpStatus::kE2big;
    case Errc::kDeltaBadval:
      return McbpStatus::kDeltaBadval;
    case Errc::kLocked:
      return McbpStatus::kLocked;
    case Errc::kInvalid:
      return McbpStatus::kEinval;
    case Errc::kXattrInvalid:
      return McbpStatus::kXattrEinval;
    case Errc::kRange:
      return McbpStatus::kErange;
    case Errc::kRollback:
      return McbpStatus::kRollback;
    case Errc::kNotMyVbucket:
      return McbpStatus::kNotMyVbucket;
    case Errc::kNoAccess:
      return McbpStatus::kEaccess;
    case Errc::kNoBucket:
      return McbpStatus::kNoBucket;
    case Errc::kUnknownCollection:
      return McbpStatus::kUnknownCollection;
    case Errc::kUnknownScope:
      return McbpStatus::kUnknownScope;
    case Errc::kDcpStreamIdInvalid:
      return McbpStatus::kDcpStreamIdInvalid;
    case Errc::kNotSupported:
      return McbpStatus::kNotSupported;
    case Errc::kUnknownCommand:
      return McbpStatus::kUnknownCommand;
    case Errc::kAuthError:
      return McbpStatus::kAuthError;
    case Errc::kAuthContinue:
      return McbpStatus::kAuthContinue;
    case Errc::kStreamNotFound:
      return options.v7_dcp_status_codes ? McbpStatus::kDcpStreamNotFound : McbpStatus::kKeyEnoent;
    case Errc::kDurabilityInvalidLevel:
      return McbpStatus::kDurabilityInvalidLevel;
    case Errc::kDurabilityImpossible:
      return McbpStatus::kDurabilityImpossible;
    case Errc::kSyncWriteInProgress:
      return McbpStatus::kSyncWriteInProgress;
    case Errc::kSyncWriteAmbiguous:
      return McbpStatus::kSyncWriteAmbiguous;
    case Errc::kTempFail:
    case Errc::kIoError:
    case Errc::kCancelled:
      return McbpStatus::kEtmpfail;
    case Errc::kNoMemory:
      return McbpStatus::kEnomem;
    case Errc::kBusy:
      return McbpStatus::kEbusy;
    case Errc::kCorruption:
    case Errc::kInternal:
    case Errc::kWouldBlock:  // control flow; must never reach the wire
    case Errc::kDisconnect:  // idem
      return McbpStatus::kEinternal;
  }
  return McbpStatus::kEinternal;
}

Errc ErrcFromMcbpStatus(McbpStatus status) {
  switch (status) {
    case McbpStatus::kSuccess:
    case McbpStatus::kSubdocSuccessDeleted:
    case McbpStatus::kRangeScanMore:
    case McbpStatus::kRangeScanComplete:
      return Errc::kOk;
    case McbpStatus::kKeyEnoent:
    case McbpStatus::kSubdocPathEnoent:
      return Errc::kNotFound;
    case McbpStatus::kKeyEexists:
    case McbpStatus::kSubdocPathEexists:
      return Errc::kExists;
    case McbpStatus::kE2big:
      return Errc::kTooBig;
    case McbpStatus::kNotStored:
      return Errc::kNotStored;
    case McbpStatus::kDeltaBadval:
      return Errc::kDeltaBadval;
    case McbpStatus::kNotMyVbucket:
      return Errc::kNotMyVbucket;
    case McbpStatus::kNoBucket:
      return Errc::kNoBucket;
    case McbpStatus::kLocked:
      return Errc::kLocked;
    case McbpStatus::kDcpStreamNotFound:
      return Errc::kStreamNotFound;
    case McbpStatus::kAuthError:
    case McbpStatus::kAuthStale:
      return Errc::kAuthError;
    case McbpStatus::kAuthContinue:
      return Errc::kAuthContinue;
    case McbpStatus::kErange:
      return Errc::kRange;
    case McbpStatus::kRollback:
      return Errc::kRollback;
    case McbpStatus::kEaccess:
      return Errc::kNoAccess;
    case McbpStatus::kUnknownCommand:
      return Errc::kUnknownCommand;
    case McbpStatus::kEnomem:
      return Errc::kNoMemory;
    case McbpStatus::kNotSupported:
    case McbpStatus::kUnknownFrameInfo:
      return Errc::kNotSupported;
    case McbpStatus::kEbusy:
      return Errc::kBusy;
    case McbpStatus::kEtmpfail:
    case McbpStatus::kNotInitialized:
    case McbpStatus::kEWouldThrottle:
      return Errc::kTempFail;
    case McbpStatus::kCancelled:
      return Errc::kCancelled;
    case McbpStatus::kUnknownCollection:
      return Errc::kUnknownCollection;
    case McbpStatus::kUnknownScope:
      return Errc::kUnknownScope;
    case McbpStatus::kDcpStreamIdInvalid:
      return Errc::kDcpStreamIdInvalid;
    case McbpStatus::kDurabilityInvalidLevel:
      return Errc::kDurabilityInvalidLevel;
    case McbpStatus::kDurabilityImpossible:
      return Errc::kDurabilityImpossible;
    case McbpStatus::kSyncWriteInProgress:
    case McbpStatus::kSyncWriteReCommitInProgress:
      return Errc::kSyncWriteInProgress;
    case McbpStatus::kSyncWriteAmbiguous:
      return Errc::kSyncWriteAmbiguous;
    case McbpStatus::kXattrEinval:
      return Errc::kXattrInvalid;
    case McbpStatus::kEinval:
    case McbpStatus::kOpaqueNoMatch:
    case McbpStatus::kCasValueInvalid:
    case McbpStatus::kNotLocked:
    case McbpStatus::kSubdocPathEinval:
    case McbpStatus::kSubdocPathE2big:
      return Errc::kInvalid;
    default:
      return Errc::kInternal;
  }
}

}  // namespace sluice::protocol
