// File: testing/temp_dir.h
//
// TempDir: a fresh directory for one test (a bucket's data, a store, a server's files), removed
// with its contents when the TempDir is destroyed. The one helper every test uses for that.
//
// Created under $TMPDIR (or /tmp) as <prefix>_XXXXXX. Creation failure is a test failure
// (ADD_FAILURE) and leaves path() empty. Removal never throws and never fails the test: RocksDB
// may still be deleting an obsolete file when a test ends; whatever is left is logged to stderr.
//
// Ownership: owned by the test or fixture; the directory lives exactly as long as the object
// (unless Keep()). Thread safety: thread-compatible; path() may be read from any thread.
#pragma once

#include <string>
#include <string_view>

namespace sluice::testing {

class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "sluice_test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // A path inside the directory (not created).
  std::string Sub(std::string_view name) const;
  // Leaves the directory in place on destruction (to look at it after a failure).
  void Keep() { keep_ = true; }

 private:
  std::string path_;
  bool keep_ = false;
};

}  // namespace sluice::testing
