// File: storage/rocksdb_status.h
//
// FromRocksDB: the one place where a rocksdb::Status becomes a sluice::Status (internal to
// storage/). Every RocksDB call in this folder returns through it, so the mapping below is the
// whole policy:
//
//   rocksdb                                   sluice            why
//   OK                                        kOk
//   NotFound (plain)                          kNotFound         a missing key/record
//   NotFound / IOError with PathNotFound      kIoError          a missing file is not a missing key
//   IOError NoSpace / SpaceLimit              kTempFail         a full disk clears when space is
//                                                               freed; the engine retries the flush
//   IOError (other)                           kIoError
//   Corruption                                kCorruption
//   InvalidArgument                           kInvalid
//   NotSupported                              kNotSupported
//   Busy, TryAgain, TimedOut, Incomplete,     kTempFail         transient: retry later
//   CompactionTooLarge, Aborted(MemoryLimit)
//   ShutdownInProgress, Aborted (other)       kCancelled
//   anything else                             kInternal
//
// The message is "<context>: <rocksdb's ToString()>".
//
// Thread safety: pure function.
#pragma once

#include <string_view>

#include "common/status.h"

namespace rocksdb {
class Status;
}  // namespace rocksdb

namespace sluice::storage {

Status FromRocksDB(const rocksdb::Status& status, std::string_view context);

}  // namespace sluice::storage
