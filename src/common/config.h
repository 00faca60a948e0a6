// File: common/config.h
//
// Config: every tunable of the server and the engine in one typed struct, plus a registry that
// names each field, its unit, default and meaning. The registry is the single source for
// `--set NAME=VALUE`, `--config FILE` (a JSON object of NAME: value), `sluiced --help` and
// docs/configuration.md (a test checks the doc lists every parameter).
//
// Names follow kv_engine's configuration.json where a counterpart exists, so a Couchbase user
// recognises them.
//
// Ownership: the server builds one Config at start-up and hands components a const reference or a
// copy of the fields they need; it is immutable once the server runs.
// Thread safety: thread-compatible (immutable after start-up).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace sluice {

struct Config {
  // ---- memory ----
  uint64_t max_size = 1ULL << 30;        // bucket memory quota, bytes
  double mem_low_wat_percent = 0.75;     // the item pager evicts down to this share of max_size
  double mem_high_wat_percent = 0.85;    // the item pager starts above this share of max_size
  double backfill_mem_threshold = 0.96;  // share of max_size above which backfills pause
  double mutation_mem_ratio = 0.93;      // share of max_size above which writes get TMPFAIL

  // ---- vbuckets, items ----
  uint64_t max_vbuckets = 1024;
  uint64_t max_num_shards = 4;           // flusher shards: vbucket v belongs to shard v % shards
  uint64_t max_item_size = 20ULL << 20;  // bytes of one document value
  uint64_t ht_locks = 47;                // lock stripes per vbucket hash table

  // ---- checkpoints ----
  uint64_t checkpoint_max_size = 0;      // bytes per checkpoint before a new one opens; 0 = auto
  uint64_t max_checkpoints = 10;         // per vbucket, before the open one is extended
  double checkpoint_memory_ratio = 0.2;  // share of max_size checkpoints may use
  double checkpoint_memory_recovery_upper_mark = 0.9;  // of checkpoint quota: start freeing
  double checkpoint_memory_recovery_lower_mark = 0.6;  // of checkpoint quota: stop freeing
  double chk_remover_stime = 1.0;                      // seconds between checkpoint remover runs

  // ---- persistence ----
  uint64_t flusher_total_batch_limit = 16ULL << 20;  // bytes per flusher commit
  bool flusher_sync = false;  // fsync every flush (durable writes always fsync)
  uint64_t rocksdb_block_cache_size = 64ULL << 20;   // bytes
  uint64_t rocksdb_write_buffer_size = 64ULL << 20;  // bytes per memtable
  uint64_t history_retention_bytes = 256ULL << 20;   // rollback history on disk (all vbuckets)
  uint64_t history_retention_seconds = 0;            // age bound of the history; 0 = none
  bool midpoint_rollback_optimisation = true;  // reset instead of rolling back >= half the items

  // ---- background tasks ----
  uint64_t num_reader_threads = 2;
  uint64_t num_writer_threads = 2;
  uint64_t num_auxio_threads = 1;
  uint64_t num_nonio_threads = 1;
  uint64_t writer_threads_nice = 10;  // nice increment of the flusher threads (0-19)
  double exp_pager_stime = 3600.0;    // seconds between expiry pager runs
  bool exp_pager_enabled = true;
  double pager_sleep_time_ms = 5000.0;  // ms between item pager checks

  // ---- front end ----
  uint64_t io_threads = 2;  // network threads
  uint64_t max_connections = 4096;
  uint64_t max_packet_size = 30ULL << 20;  // bytes of one request body; larger closes the conn
  double connection_idle_time = 0.0;       // seconds without progress before closing; 0 = never
  uint64_t auth_failure_limit = 5;         // failed SASL attempts per connection; the last closes
  double auth_failure_delay_ms = 500.0;    // delay of each failed SASL answer after the first

  // ---- DCP (names and defaults as kv_engine's configuration.json unless noted) ----
  uint64_t dcp_backfill_byte_limit = 20ULL << 20;  // bytes a connection may backfill unsent
  double dcp_backfill_byte_drain_ratio = 0.25;     // share of the limit to drain before resuming
  uint64_t dcp_scan_item_limit = 4096;             // items per backfill run before yielding
  uint64_t dcp_scan_byte_limit = 4ULL << 20;       // bytes per backfill run before yielding
  double dcp_backfill_run_duration_limit = 0.3;    // seconds per backfill run before yielding
  uint64_t dcp_backfill_in_progress_per_connection_limit = 64;
  uint64_t dcp_max_running_backfills = 0;  // bucket-wide; 0 = derive from max_size
  bool dcp_backfill_idle_protection_enabled = true;
  double dcp_backfill_idle_limit_seconds = 720.0;  // no progress this long with a full buffer
  double dcp_backfill_snooze_interval = 1.0;       // seconds a backfill waits for the flusher
  double dcp_idle_timeout = 360.0;                 // seconds of consumer silence (noop on)
  double dcp_noop_tx_interval = 20.0;              // producer's default noop interval, seconds
  double connection_manager_interval = 1.0;        // seconds between DCP housekeeping runs

  // ---- replication (the consumer side: src/replication) ----
  std::string replication_user = "Administrator";  // users-file entry a replica logs in as
  uint64_t replication_buffer_size = 10ULL << 20;  // connection_buffer_size of its connections
  uint64_t replication_noop_interval = 1;          // set_noop_interval of its connections, seconds
  double replication_throttle_threshold = 0.99;    // share of max_size above which it stops acking

  // Sets one parameter from text ("1G", "0.8", "true", "round-robin"). Errors name the parameter.
  Status Set(std::string_view name, std::string_view value);
  // Applies a JSON object {"name": value, ...}; values may be numbers, booleans or strings.
  Status ApplyJson(std::string_view json_text);
  // Checks cross-field constraints (low < high watermark, ...).
  Status Validate() const;

  // Derived values.
  uint64_t MemHighWatBytes() const {
    return static_cast<uint64_t>(static_cast<double>(max_size) * mem_high_wat_percent);
  }
  uint64_t MemLowWatBytes() const {
    return static_cast<uint64_t>(static_cast<double>(max_size) * mem_low_wat_percent);
  }
  // ep_dcp_max_running_backfills: dcp_max_running_backfills, or when 0 kv_engine's
  // max(2, min(max_size * 1% / 10 KiB, 4096)).
  uint64_t MaxRunningBackfills() const {
    if (dcp_max_running_backfills != 0) return dcp_max_running_backfills;
    const uint64_t derived = max_size / 100 / (10 * 1024);
    return derived < 2 ? 2 : (derived > 4096 ? 4096 : derived);
  }
  // Text of a parameter's current value, as Set() accepts it.
  StatusOr<std::string> Get(std::string_view name) const;
};

enum class ParamType { kBool, kUInt, kSize, kDouble, kString };

struct ParamInfo {
  std::string_view name;
  ParamType type;
  std::string_view unit;  // "bytes", "seconds", "ratio", "count", ...
  std::string_view description;
};

// Every parameter, in declaration order.
const std::vector<ParamInfo>& ConfigParams();

// The parameter reference as a Markdown table (name, type, unit, default, meaning), in registry
// order: docs/configuration.md embeds it between <!-- BEGIN PARAMS --> and <!-- END PARAMS -->
// (a test keeps the two equal; `sluiced --config-doc` prints it).
std::string ConfigReferenceMarkdown();

// "64M" -> 67108864. Accepts K/M/G/T (powers of 1024, optional trailing B/iB), no suffix = bytes.
StatusOr<uint64_t> ParseSize(std::string_view text);

}  // namespace sluice
