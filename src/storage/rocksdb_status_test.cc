#include "storage/rocksdb_status.h"

#include <gtest/gtest.h>
#include <rocksdb/status.h>

namespace sluice::storage {
namespace {

Errc Map(const rocksdb::Status& s) { return FromRocksDB(s, "test").code(); }

TEST(RocksDBStatusTest, MapsEveryFamily) {
  EXPECT_EQ(Map(rocksdb::Status::OK()), Errc::kOk);
  EXPECT_EQ(Map(rocksdb::Status::NotFound()), Errc::kNotFound);
  EXPECT_EQ(Map(rocksdb::Status::Corruption("bad block")), Errc::kCorruption);
  EXPECT_EQ(Map(rocksdb::Status::InvalidArgument()), Errc::kInvalid);
  EXPECT_EQ(Map(rocksdb::Status::NotSupported()), Errc::kNotSupported);
  EXPECT_EQ(Map(rocksdb::Status::IOError("read")), Errc::kIoError);
  EXPECT_EQ(Map(rocksdb::Status::ShutdownInProgress()), Errc::kCancelled);
  EXPECT_EQ(Map(rocksdb::Status::Aborted()), Errc::kCancelled);
  EXPECT_EQ(Map(rocksdb::Status::Expired()), Errc::kInternal);
}

TEST(RocksDBStatusTest, FullDiskIsTemporary) {
  EXPECT_EQ(Map(rocksdb::Status::NoSpace()), Errc::kTempFail);
  EXPECT_EQ(Map(rocksdb::Status::IOError(rocksdb::Status::kNoSpace)), Errc::kTempFail);
  EXPECT_EQ(Map(rocksdb::Status::SpaceLimit()), Errc::kTempFail);
}

TEST(RocksDBStatusTest, TransientCodesAreTemporary) {
  EXPECT_EQ(Map(rocksdb::Status::Busy()), Errc::kTempFail);
  EXPECT_EQ(Map(rocksdb::Status::TryAgain()), Errc::kTempFail);
  EXPECT_EQ(Map(rocksdb::Status::TimedOut()), Errc::kTempFail);
  EXPECT_EQ(Map(rocksdb::Status::Incomplete()), Errc::kTempFail);
  EXPECT_EQ(Map(rocksdb::Status::MemoryLimit()), Errc::kTempFail);
}

TEST(RocksDBStatusTest, MissingPathIsAnIoErrorNotAMissingKey) {
  EXPECT_EQ(Map(rocksdb::Status::PathNotFound()), Errc::kIoError);
  EXPECT_EQ(Map(rocksdb::Status::NotFound(rocksdb::Status::kPathNotFound)), Errc::kIoError);
}

TEST(RocksDBStatusTest, MessageCarriesContextAndCause) {
  const Status s = FromRocksDB(rocksdb::Status::Corruption("block checksum"), "get: seq");
  EXPECT_NE(s.message().find("get: seq"), std::string_view::npos);
  EXPECT_NE(s.message().find("block checksum"), std::string_view::npos);
  EXPECT_TRUE(FromRocksDB(rocksdb::Status::OK(), "x").message().empty());
}

}  // namespace
}  // namespace sluice::storage
