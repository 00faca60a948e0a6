// File: storage/rocksdb_options.h
//
// The RocksDB tuning of the store, in one place (internal to storage/):
//
//   DB     create_if_missing, create_missing_column_families, max_background_jobs 2,
//          info log at WARN with at most 2 files of 4 MiB (read-only opens: forwarded to the
//          process log instead, so nothing is written in the data directory), no stats dump,
//          memtables bounded in total by db_write_buffer_size = 2 x write_buffer_size,
//          max_total_wal_size = 4 x write_buffer_size (forces a flush of a rarely written
//          column family — `local` — that would otherwise pin old WAL files forever).
//   seq    level compaction (dynamic level bytes), LZ4 (else Snappy, else none), block cache
//          shared with `key`; no bloom filter (it is read by range scans and by point reads that
//          always hit).
//   key    as `seq` plus a 10 bits/key bloom filter: Commit() looks up every written key and most
//          of those are new keys, i.e. misses the filter answers without reading a block.
//   local  tiny: a 4 MiB memtable, no compression.
//   history as `seq` (written in the same batches, read by rollbacks' range scans).
//
// Thread safety: pure functions.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/options.h>

#include <string>
#include <vector>

#include "storage/kvstore.h"

namespace sluice::storage {

inline constexpr char kSeqColumnFamily[] = "seq";
inline constexpr char kKeyColumnFamily[] = "key";
inline constexpr char kLocalColumnFamily[] = "local";
inline constexpr char kHistoryColumnFamily[] = "history";

struct RocksDBSetup {
  rocksdb::DBOptions db;
  // default, seq, key, local, history: in this order (RocksDBKVStore relies on it).
  std::vector<rocksdb::ColumnFamilyDescriptor> column_families;
  std::shared_ptr<rocksdb::Cache> block_cache;
};

RocksDBSetup MakeRocksDBSetup(const RocksDBOptions& options);

}  // namespace sluice::storage
