#include "storage/rocksdb_options.h"

#include <rocksdb/cache.h>
#include <rocksdb/convenience.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>

#include "common/logging.h"

namespace sluice::storage {
namespace {

// RocksDB's info log for read-only opens: forwarded to the process log instead of a LOG file in
// the data directory (which would rotate the LOG of a server running on that directory).
class ForwardingLogger : public rocksdb::Logger {
 public:
  ForwardingLogger() : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL) {}

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    Logv(rocksdb::InfoLogLevel::WARN_LEVEL, format, ap);
  }
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override {
    if (level < GetInfoLogLevel()) return;
    char buffer[1024];
    std::vsnprintf(buffer, sizeof(buffer), format, ap);
    if (level >= rocksdb::InfoLogLevel::ERROR_LEVEL) {
      LOG_ERROR("rocksdb: {}", buffer);
    } else {
      LOG_WARN("rocksdb: {}", buffer);
    }
  }
};

constexpr uint64_t kLocalWriteBufferSize = 4ULL << 20;

rocksdb::CompressionType PickCompression() {
  const std::vector<rocksdb::CompressionType> supported = rocksdb::GetSupportedCompressions();
  for (rocksdb::CompressionType wanted : {rocksdb::kLZ4Compression, rocksdb::kSnappyCompression}) {
    if (std::find(supported.begin(), supported.end(), wanted) != supported.end()) return wanted;
  }
  return rocksdb::kNoCompression;
}

rocksdb::ColumnFamilyOptions DataFamily(const RocksDBOptions& options,
                                        const std::shared_ptr<rocksdb::Cache>& cache, bool bloom) {
  rocksdb::ColumnFamilyOptions cf;
  cf.write_buffer_size = options.write_buffer_size;
  cf.compaction_style = rocksdb::kCompactionStyleLevel;
  cf.level_compaction_dynamic_level_bytes = true;
  cf.compression = PickCompression();

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  // Index and filter blocks live in the cache (bounded memory), in its high-priority pool, and
  // partitioned: a point read then needs one small index partition, and the data blocks a
  // random read stream brings in cannot push the indexes out. With one whole index block per
  // file in the low-priority pool, non-resident GETs of a dataset larger than the cache
  // decompressed that block again on almost every read (disk_reads.sh: 55% of the CPU in LZ4).
  table.cache_index_and_filter_blocks = true;
  table.cache_index_and_filter_blocks_with_high_priority = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  table.pin_top_level_index_and_filter = true;
  table.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
  if (bloom) {
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    table.optimize_filters_for_memory = true;
    table.partition_filters = true;
  }
  cf.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return cf;
}

}  // namespace

RocksDBSetup MakeRocksDBSetup(const RocksDBOptions& options) {
  RocksDBSetup setup;
  // Half of it is the high-priority pool of index and filter blocks (DataFamily).
  setup.block_cache = rocksdb::NewLRUCache(options.block_cache_size, /*num_shard_bits=*/-1,
                                           /*strict_capacity_limit=*/false,
                                           /*high_pri_pool_ratio=*/0.5);

  rocksdb::DBOptions& db = setup.db;
  db.create_if_missing = true;
  db.create_missing_column_families = true;
  db.max_background_jobs = 2;
  db.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db.keep_log_file_num = 2;
  db.max_log_file_size = 4ULL << 20;
  db.stats_dump_period_sec = 0;
  db.stats_persist_period_sec = 0;
  db.db_write_buffer_size = 2 * options.write_buffer_size;
  db.max_total_wal_size = 4 * options.write_buffer_size;
  db.bytes_per_sync = 1ULL << 20;
  db.wal_bytes_per_sync = 1ULL << 20;
  if (options.env != nullptr) db.env = options.env;
  if (options.read_only) db.info_log = std::make_shared<ForwardingLogger>();

  rocksdb::ColumnFamilyOptions local;
  local.write_buffer_size = std::min<uint64_t>(options.write_buffer_size, kLocalWriteBufferSize);
  local.compression = rocksdb::kNoCompression;

  setup.column_families = {
      // Unused, but RocksDB always has it; keep it small.
      {rocksdb::kDefaultColumnFamilyName, local},
      {kSeqColumnFamily, DataFamily(options, setup.block_cache, /*bloom=*/false)},
      {kKeyColumnFamily, DataFamily(options, setup.block_cache, /*bloom=*/true)},
      {kLocalColumnFamily, local},
      {kHistoryColumnFamily, DataFamily(options, setup.block_cache, /*bloom=*/false)},
  };
  return setup;
}

}  // namespace sluice::storage
