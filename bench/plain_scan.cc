// File: bench/plain_scan.cc
//
// sluice_plain_scan: the floor of bench/drain_vs_scan.sh - a plain RocksDB iteration of a sluiced
// bucket's `seq` column family, with nothing of sluice in it. It opens the directory read-only
// with RocksDB's default options (every column family listed on disk, none of the store's
// tuning), iterates `seq` from its first entry to its last with default ReadOptions, one thread,
// and for every entry reads the key and value slices (sizes and their first and last bytes, so the
// bytes are touched) without decoding anything. No snapshot, no per-vbucket bounds, no document
// decoding: what any program reading the same files costs, which sluice's backfill cannot beat.
//
//   sluice_plain_scan DATA_DIR/BUCKET [--json]
//
// Figures: items (entries, tombstones included); bytes (key + value bytes); seconds (the
// iteration only, not opening); items_per_sec; mb_per_sec (bytes, 10^6 per MB); cpu_seconds and
// cpu_us_per_item (this process's user + system CPU over the iteration); open_seconds; check (a
// fold of the touched bytes, printed so the compiler cannot drop the reads).
//
// Exit status: 0, or 1 with a message on stderr when the store cannot be opened or the iteration
// fails.
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "sluice_plain_scan: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--json") == 0) {
      json = true;
    } else if (argv[i][0] == '-' || !dir.empty()) {
      return Fail(std::string("usage: ") + argv[0] + " DATA_DIR/BUCKET [--json]");
    } else {
      dir = argv[i];
    }
  }
  if (dir.empty()) return Fail(std::string("usage: ") + argv[0] + " DATA_DIR/BUCKET [--json]");

  const Clock::time_point open_start = Clock::now();
  std::vector<std::string> names;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &names);
  if (!s.ok()) return Fail("cannot list the column families of " + dir + ": " + s.ToString());
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  int seq = -1;
  for (const std::string& name : names) {
    if (name == "seq") seq = static_cast<int>(families.size());
    families.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  if (seq < 0) return Fail(dir + " has no `seq` column family");
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw_db = nullptr;
  s = rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), dir, families, &handles, &raw_db);
  if (!s.ok()) return Fail("cannot open " + dir + ": " + s.ToString());
  std::unique_ptr<rocksdb::DB> db(raw_db);
  const double open_seconds = std::chrono::duration<double>(Clock::now() - open_start).count();

  uint64_t items = 0;
  uint64_t bytes = 0;
  uint64_t check = 0;
  const double cpu_start = CpuSeconds();
  const Clock::time_point start = Clock::now();
  {
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[seq]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const rocksdb::Slice key = it->key();
      const rocksdb::Slice value = it->value();
      ++items;
      bytes += key.size() + value.size();
      if (!key.empty()) check += static_cast<uint8_t>(key[key.size() - 1]);
      if (!value.empty()) check ^= static_cast<uint8_t>(value[0]) ^ value[value.size() - 1];
    }
    if (!it->status().ok()) return Fail("iteration failed: " + it->status().ToString());
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu_seconds = CpuSeconds() - cpu_start;
  for (rocksdb::ColumnFamilyHandle* handle : handles) db->DestroyColumnFamilyHandle(handle);

  const double items_per_sec = seconds > 0 ? static_cast<double>(items) / seconds : 0;
  const double mb_per_sec = seconds > 0 ? static_cast<double>(bytes) / 1e6 / seconds : 0;
  const double us_per_item = items > 0 ? cpu_seconds * 1e6 / static_cast<double>(items) : 0;
  if (json) {
    std::printf(
        "{\"items\":%llu,\"bytes\":%llu,\"seconds\":%.6f,\"items_per_sec\":%.1f,"
        "\"mb_per_sec\":%.2f,\"cpu_seconds\":%.3f,\"cpu_us_per_item\":%.3f,"
        "\"open_seconds\":%.6f,\"check\":%llu}\n",
        static_cast<unsigned long long>(items), static_cast<unsigned long long>(bytes), seconds,
        items_per_sec, mb_per_sec, cpu_seconds, us_per_item, open_seconds,
        static_cast<unsigned long long>(check));
  } else {
    std::printf(
        "items %llu  bytes %llu  seconds %.3f  items/s %.0f  MB/s %.1f  CPU %.3f µs/item  "
        "(open %.3f s)\n",
        static_cast<unsigned long long>(items), static_cast<unsigned long long>(bytes), seconds,
        items_per_sec, mb_per_sec, us_per_item, open_seconds);
  }
  return 0;
}
