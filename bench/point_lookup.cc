// File: bench/point_lookup.cc
//
// sluice_point_lookup: the floor of bench/disk_reads.sh - plain RocksDB point lookups of the
// documents a sluiced bucket holds on disk, with nothing of sluice in them. It opens the
// directory read-only with RocksDB's default options (every column family listed on disk, none of
// the store's tuning), reads the keys of the `seq` column family (one entry per document), shuffles
// them, and then THREADS threads each call DB::Get on `seq` for keys of their share, in that random
// order, for SECONDS. One Get returns a whole document: what any program keeping the same
// documents in RocksDB pays per read. (sluiced's own read of a non-resident key is two lookups:
// the key's `key` entry, then its `seq` entry.)
//
//   sluice_point_lookup DATA_DIR/BUCKET [--threads N] [--seconds S] [--json]
//
// Figures: keys (distinct `seq` entries); lookups; seconds; lookups_per_sec; bytes_per_lookup
// (value bytes read, on average); misses (must be 0); cpu_seconds (this process, the lookups
// only); check (a fold of the values' bytes, printed so the reads cannot be dropped).
//
// Exit status: 0, or 1 with a message on stderr when the store cannot be opened or a read fails.
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

double ProcessCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "sluice_point_lookup: %s\n", message.c_str());
  return 1;
}

struct Args {
  std::string dir;
  int threads = 2;
  double seconds = 10;
  bool json = false;
};

bool ParseArgs(int argc, char** argv, Args* args) {
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json") {
      args->json = true;
    } else if (arg == "--threads" && i + 1 < argc) {
      args->threads = std::atoi(argv[++i]);
    } else if (arg == "--seconds" && i + 1 < argc) {
      args->seconds = std::atof(argv[++i]);
    } else if (arg[0] == '-' || !args->dir.empty()) {
      return false;
    } else {
      args->dir = arg;
    }
  }
  return !args->dir.empty() && args->threads > 0 && args->seconds > 0;
}

// What one lookup thread did.
struct Tally {
  uint64_t lookups = 0;
  uint64_t bytes = 0;
  uint64_t misses = 0;
  uint64_t check = 0;
  std::string error;
};

// Gets keys[first], keys[first + stride], ... (wrapping) until `deadline`.
void LookupLoop(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* seq,
                const std::vector<std::string>& keys, size_t first, size_t stride,
                Clock::time_point deadline, Tally* tally) {
  rocksdb::PinnableSlice value;
  size_t i = first;
  while (true) {
    // The clock is read every 64 lookups: cheap next to a lookup, precise enough for seconds.
    if ((tally->lookups & 63) == 0 && Clock::now() >= deadline) return;
    value.Reset();
    const rocksdb::Status s = db->Get(rocksdb::ReadOptions(), seq, keys[i], &value);
    if (s.IsNotFound()) {
      ++tally->misses;
    } else if (!s.ok()) {
      tally->error = s.ToString();
      return;
    } else {
      tally->bytes += value.size();
      if (!value.empty()) tally->check += static_cast<uint8_t>(value[value.size() - 1]);
    }
    ++tally->lookups;
    i += stride;
    if (i >= keys.size()) i = first;
  }
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  if (!ParseArgs(argc, argv, &args)) {
    return Fail(std::string("usage: ") + argv[0] +
                " DATA_DIR/BUCKET [--threads N] [--seconds S] [--json]");
  }
  std::vector<std::string> names;
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), args.dir, &names);
  if (!s.ok()) return Fail("cannot list the column families of " + args.dir + ": " + s.ToString());
  std::vector<rocksdb::ColumnFamilyDescriptor> families;
  int seq = -1;
  for (const std::string& name : names) {
    if (name == "seq") seq = static_cast<int>(families.size());
    families.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  if (seq < 0) return Fail(args.dir + " has no `seq` column family");
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw_db = nullptr;
  s = rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), args.dir, families, &handles, &raw_db);
  if (!s.ok()) return Fail("cannot open " + args.dir + ": " + s.ToString());
  std::unique_ptr<rocksdb::DB> db(raw_db);

  std::vector<std::string> keys;
  {
    rocksdb::ReadOptions keys_only;
    keys_only.fill_cache = false;  // the key listing must not warm the cache for the lookups
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(keys_only, handles[seq]));
    for (it->SeekToFirst(); it->Valid(); it->Next()) keys.push_back(it->key().ToString());
    if (!it->status().ok()) return Fail("listing keys failed: " + it->status().ToString());
  }
  if (keys.empty()) return Fail(args.dir + ": `seq` is empty");
  std::shuffle(keys.begin(), keys.end(), std::mt19937_64(42));

  const auto threads = static_cast<size_t>(args.threads);
  std::vector<Tally> tallies(threads);
  const double cpu_start = ProcessCpuSeconds();
  const Clock::time_point start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(
                                    std::chrono::duration<double>(args.seconds));
  {
    std::vector<std::thread> workers;
    for (size_t t = 0; t < threads; ++t) {
      workers.emplace_back(LookupLoop, db.get(), handles[seq], std::cref(keys), t % keys.size(),
                           threads, deadline, &tallies[t]);
    }
    for (std::thread& w : workers) w.join();
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu_seconds = ProcessCpuSeconds() - cpu_start;
  for (rocksdb::ColumnFamilyHandle* handle : handles) db->DestroyColumnFamilyHandle(handle);

  Tally total;
  for (const Tally& t : tallies) {
    if (!t.error.empty()) return Fail("lookup failed: " + t.error);
    total.lookups += t.lookups;
    total.bytes += t.bytes;
    total.misses += t.misses;
    total.check += t.check;
  }
  const double per_sec = seconds > 0 ? static_cast<double>(total.lookups) / seconds : 0;
  const double bytes_per = total.lookups > 0 ? static_cast<double>(total.bytes) / total.lookups : 0;
  if (args.json) {
    std::printf(
        "{\"keys\":%zu,\"threads\":%zu,\"lookups\":%llu,\"seconds\":%.3f,\"lookups_per_sec\":%.1f,"
        "\"bytes_per_lookup\":%.1f,\"misses\":%llu,\"cpu_seconds\":%.3f,\"check\":%llu}\n",
        keys.size(), threads, static_cast<unsigned long long>(total.lookups), seconds, per_sec,
        bytes_per, static_cast<unsigned long long>(total.misses), cpu_seconds,
        static_cast<unsigned long long>(total.check));
  } else {
    std::printf(
        "keys %zu  threads %zu  lookups %llu  seconds %.3f  lookups/s %.0f  (misses %llu)\n",
        keys.size(), threads, static_cast<unsigned long long>(total.lookups), seconds, per_sec,
        static_cast<unsigned long long>(total.misses));
  }
  return 0;
}
