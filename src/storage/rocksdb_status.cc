#include "storage/rocksdb_status.h"

#include <rocksdb/status.h>

#include <string>

namespace sluice::storage {
namespace {

Errc MapCode(const rocksdb::Status& s) {
  using Code = rocksdb::Status::Code;
  using SubCode = rocksdb::Status::SubCode;
  switch (s.code()) {
    case Code::kOk:
      return Errc::kOk;
    case Code::kNotFound:
      return s.subcode() == SubCode::kPathNotFound ? Errc::kIoError : Errc::kNotFound;
    case Code::kIOError:
      if (s.subcode() == SubCode::kNoSpace || s.subcode() == SubCode::kSpaceLimit) {
        return Errc::kTempFail;
      }
      return Errc::kIoError;
    case Code::kCorruption:
      return Errc::kCorruption;
    case Code::kInvalidArgument:
      return Errc::kInvalid;
    case Code::kNotSupported:
      return Errc::kNotSupported;
    case Code::kBusy:
    case Code::kTryAgain:
    case Code::kTimedOut:
    case Code::kIncomplete:
    case Code::kCompactionTooLarge:
      return Errc::kTempFail;
    case Code::kAborted:
      return s.subcode() == SubCode::kMemoryLimit ? Errc::kTempFail : Errc::kCancelled;
    case Code::kShutdownInProgress:
      return Errc::kCancelled;
    default:
      return Errc::kInternal;
  }
}

}  // namespace

Status FromRocksDB(const rocksdb::Status& status, std::string_view context) {
  const Errc code = MapCode(status);
  if (code == Errc::kOk) return Status::Ok();
  std::string message(context);
  message += ": ";
  message += status.ToString();
  return Status(code, message);
}

}  // namespace sluice::storage
