#include "common/status.h"

namespace sluice {

std::string_view ErrcName(Errc code) {
  switch (code) {
    case Errc::kOk:
      return "OK";
    case Errc::kNotFound:
      return "NotFound";
    case Errc::kExists:
      return "Exists";
    case Errc::kNotStored:
      return "NotStored";
    case Errc::kTooBig:
      return "TooBig";
    case Errc::kDeltaBadval:
      return "DeltaBadval";
    case Errc::kLocked:
      return "Locked";
    case Errc::kInvalid:
      return "Invalid";
    case Errc::kXattrInvalid:
      return "XattrInvalid";
    case Errc::kRange:
      return "Range";
    case Errc::kRollback:
      return "Rollback";
    case Errc::kNotMyVbucket:
      return "NotMyVbucket";
    case Errc::kNoAccess:
      return "NoAccess";
    case Errc::kNoBucket:
      return "NoBucket";
    case Errc::kUnknownCollection:
      return "UnknownCollection";
    case Errc::kUnknownScope:
      return "UnknownScope";
    case Errc::kDcpStreamIdInvalid:
      return "DcpStreamIdInvalid";
    case Errc::kNotSupported:
      return "NotSupported";
    case Errc::kUnknownCommand:
      return "UnknownCommand";
    case Errc::kAuthError:
      return "AuthError";
    case Errc::kAuthContinue:
      return "AuthContinue";
    case Errc::kStreamNotFound:
      return "StreamNotFound";
    case Errc::kDurabilityInvalidLevel:
      return "DurabilityInvalidLevel";
    case Errc::kDurabilityImpossible:
      return "DurabilityImpossible";
    case Errc::kSyncWriteInProgress:
      return "SyncWriteInProgress";
    case Errc::kSyncWriteAmbiguous:
      return "SyncWriteAmbiguous";
    case Errc::kWouldBlock:
      return "WouldBlock";
    case Errc::kTempFail:
      return "TempFail";
    case Errc::kNoMemory:
      return "NoMemory";
    case Errc::kBusy:
      return "Busy";
    case Errc::kCancelled:
      return "Cancelled";
    case Errc::kDisconnect:
      return "Disconnect";
    case Errc::kIoError:
      return "IoError";
    case Errc::kCorruption:
      return "Corruption";
    case Errc::kInternal:
      return "Internal";
  }
  return "Unknown";
}

std::string Status::ToString() const {
  std::string out(ErrcName(code_));
  if (message_) {
    out += ": ";
    out += *message_;
  }
  return out;
}

}  // namespace sluice
