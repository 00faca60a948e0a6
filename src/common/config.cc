#include "common/config.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <variant>

namespace sluice {
namespace {

using Field =
    std::variant<bool Config::*, uint64_t Config::*, double Config::*, std::string Config::*>;

struct Entry {
  ParamInfo info;
  Field field;
};

// The registry. Keep it in the order of the struct; docs/configuration.md follows it.
const std::vector<Entry>& Entries() {
  static const std::vector<Entry> entries = {
      {{"max_size", ParamType::kSize, "bytes",
        "Bucket memory quota (also --memory-quota). Items, hash table and checkpoints count "
        "against it; the item pager evicts values above mem_high_wat."},
       &Config::max_size},
      {{"mem_low_wat_percent", ParamType::kDouble, "ratio",
        "The item pager evicts clean values until memory is below this share of max_size."},
       &Config::mem_low_wat_percent},
      {{"mem_high_wat_percent", ParamType::kDouble, "ratio",
        "Above this share of max_size the item pager starts evicting values."},
       &Config::mem_high_wat_percent},
      {{"backfill_mem_threshold", ParamType::kDouble, "ratio",
        "Above this share of max_size DCP backfills pause and new streams are refused with "
        "ENOMEM."},
       &Config::backfill_mem_threshold},
      {{"mutation_mem_ratio", ParamType::kDouble, "ratio",
        "Above this share of max_size writes are refused with TMPFAIL (retry later) while the "
        "item pager and the flusher free memory."},
       &Config::mutation_mem_ratio},
      {{"max_vbuckets", ParamType::kUInt, "count",
        "Number of vbuckets (also --vbuckets). Fixed for the life of a data directory."},
       &Config::max_vbuckets},
      {{"max_num_shards", ParamType::kUInt, "count",
        "Flusher shards; vbucket v is persisted by shard v % max_num_shards."},
       &Config::max_num_shards},
      {{"max_item_size", ParamType::kSize, "bytes",
        "Largest document value accepted; larger writes answer E2BIG."},
       &Config::max_item_size},
      {{"ht_locks", ParamType::kUInt, "count", "Lock stripes in each vbucket's hash table."},
       &Config::ht_locks},
      {{"checkpoint_max_size", ParamType::kSize, "bytes",
        "Size at which the open checkpoint is closed and a new one opened; 0 derives it from "
        "the checkpoint quota, max_vbuckets and max_checkpoints."},
       &Config::checkpoint_max_size},
      {{"max_checkpoints", ParamType::kUInt, "count",
        "Checkpoints per vbucket before the open checkpoint keeps growing instead."},
       &Config::max_checkpoints},
      {{"checkpoint_memory_ratio", ParamType::kDouble, "ratio",
        "Share of max_size that checkpoints may use in all."},
       &Config::checkpoint_memory_ratio},
      {{"checkpoint_memory_recovery_upper_mark", ParamType::kDouble, "ratio",
        "Share of the checkpoint quota above which closed checkpoints are freed and slow "
        "DCP cursors dropped."},
       &Config::checkpoint_memory_recovery_upper_mark},
      {{"checkpoint_memory_recovery_lower_mark", ParamType::kDouble, "ratio",
        "Share of the checkpoint quota at which memory recovery stops."},
       &Config::checkpoint_memory_recovery_lower_mark},
      {{"chk_remover_stime", ParamType::kDouble, "seconds",
        "Interval of the checkpoint remover task."},
       &Config::chk_remover_stime},
      {{"flusher_total_batch_limit", ParamType::kSize, "bytes",
        "Bytes of dirty items one flusher commit writes at most."},
       &Config::flusher_total_batch_limit},
      {{"flusher_sync", ParamType::kBool, "bool",
        "fsync the RocksDB WAL on every flush, not only for durable writes."},
       &Config::flusher_sync},
      {{"rocksdb_block_cache_size", ParamType::kSize, "bytes", "RocksDB block cache size."},
       &Config::rocksdb_block_cache_size},
      {{"rocksdb_write_buffer_size", ParamType::kSize, "bytes",
        "RocksDB memtable size per column family."},
       &Config::rocksdb_write_buffer_size},
      {{"history_retention_bytes", ParamType::kSize, "bytes",
        "Disk the rollback history may use (older versions of replaced and deleted documents, "
        "for a replica's rollback; kv_engine's magma parameter). The oldest history is trimmed "
        "beyond it. 0 with history_retention_seconds 0: no history, every rollback resets."},
       &Config::history_retention_bytes},
      {{"history_retention_seconds", ParamType::kUInt, "seconds",
        "Age beyond which rollback history is trimmed (kv_engine's magma parameter); 0: no age "
        "bound."},
       &Config::history_retention_seconds},
      {{"midpoint_rollback_optimisation", ParamType::kBool, "bool",
        "A replica's rollback that would discard at least half of a vbucket's items on disk "
        "resets the vbucket and copies it again instead (kv_engine's "
        "couchstore_midpoint_rollback_optimisation)."},
       &Config::midpoint_rollback_optimisation},
      {{"num_reader_threads", ParamType::kUInt, "count",
        "Threads of the reader task group (background fetches)."},
       &Config::num_reader_threads},
      {{"num_writer_threads", ParamType::kUInt, "count",
        "Threads of the writer task group (flushers)."},
       &Config::num_writer_threads},
      {{"num_auxio_threads", ParamType::kUInt, "count",
        "Threads of the auxio task group (DCP backfills)."},
       &Config::num_auxio_threads},
      {{"num_nonio_threads", ParamType::kUInt, "count",
        "Threads of the nonio task group (pagers, checkpoint remover, connection manager)."},
       &Config::num_nonio_threads},
      {{"writer_threads_nice", ParamType::kUInt, "nice",
        "Nice increment (0-19) of the writer threads. Persistence runs behind front-end requests "
        "when the CPU is saturated and catches up in idle time, writing each key once however "
        "often it changed meanwhile; memory limits still apply (TMPFAIL). 0: same priority."},
       &Config::writer_threads_nice},
      {{"exp_pager_stime", ParamType::kDouble, "seconds",
        "Interval of the expiry pager, which turns expired items into expirations."},
       &Config::exp_pager_stime},
      {{"exp_pager_enabled", ParamType::kBool, "bool", "Run the expiry pager."},
       &Config::exp_pager_enabled},
      {{"pager_sleep_time_ms", ParamType::kDouble, "milliseconds",
        "Interval of the item pager's memory check."},
       &Config::pager_sleep_time_ms},
      {{"io_threads", ParamType::kUInt, "count", "Network I/O threads."}, &Config::io_threads},
      {{"max_connections", ParamType::kUInt, "count",
        "Connections served at once, plain and TLS together (also --max-connections); more are "
        "accepted, logged and closed at once."},
       &Config::max_connections},
      {{"max_packet_size", ParamType::kSize, "bytes",
        "Largest request body; a larger frame is answered E2BIG/EINVAL and the connection "
        "closed."},
       &Config::max_packet_size},
      {{"connection_idle_time", ParamType::kDouble, "seconds",
        "Close a (non-DCP) connection that neither sent a byte nor drained any of its output "
        "for this long, e.g. one holding half a frame; 0 never closes (kv_engine's default)."},
       &Config::connection_idle_time},
      {{"auth_failure_limit", ParamType::kUInt, "count",
        "Failed SASL attempts a connection may make: the last one is answered and the "
        "connection closed."},
       &Config::auth_failure_limit},
      {{"auth_failure_delay_ms", ParamType::kDouble, "milliseconds",
        "Every failed SASL attempt after a connection's first is answered only after this delay "
        "(the connection pauses; other connections are served meanwhile)."},
       &Config::auth_failure_delay_ms},
      {{"dcp_backfill_byte_limit", ParamType::kSize, "bytes",
        "Per DCP connection: bytes read from disk by backfills and queued in its streams but not "
        "yet sent. At the limit the connection's backfills pause until its consumer drains."},
       &Config::dcp_backfill_byte_limit},
      {{"dcp_backfill_byte_drain_ratio", ParamType::kDouble, "ratio",
        "A paused backfill resumes once the backfill buffer drained below (1 - this ratio) of "
        "dcp_backfill_byte_limit (or is empty)."},
       &Config::dcp_backfill_byte_drain_ratio},
      {{"dcp_scan_item_limit", ParamType::kUInt, "count",
        "Documents one backfill run reads before yielding the auxio thread."},
       &Config::dcp_scan_item_limit},
      {{"dcp_scan_byte_limit", ParamType::kSize, "bytes",
        "Bytes one backfill run reads before yielding the auxio thread."},
       &Config::dcp_scan_byte_limit},
      {{"dcp_backfill_run_duration_limit", ParamType::kDouble, "seconds",
        "Time one backfill run may take before yielding (kv_engine gives it in ms: 300)."},
       &Config::dcp_backfill_run_duration_limit},
      {{"dcp_backfill_in_progress_per_connection_limit", ParamType::kUInt, "count",
        "Backfills of one DCP connection admitted at once; more wait as pending."},
       &Config::dcp_backfill_in_progress_per_connection_limit},
      {{"dcp_max_running_backfills", ParamType::kUInt, "count",
        "Backfills admitted at once in the bucket (ep_dcp_max_running_backfills); 0 derives it "
        "from max_size: max(2, min(max_size * 1% / 10 KiB, 4096))."},
       &Config::dcp_max_running_backfills},
      {{"dcp_backfill_idle_protection_enabled", ParamType::kBool, "bool",
        "End a stream with TooSlow when its backfill made no progress for "
        "dcp_backfill_idle_limit_seconds while the connection's backfill buffer is full."},
       &Config::dcp_backfill_idle_protection_enabled},
      {{"dcp_backfill_idle_limit_seconds", ParamType::kDouble, "seconds",
        "See dcp_backfill_idle_protection_enabled."},
       &Config::dcp_backfill_idle_limit_seconds},
      {{"dcp_backfill_snooze_interval", ParamType::kDouble, "seconds",
        "How long a backfill waits before checking again that the flusher persisted its range."},
       &Config::dcp_backfill_snooze_interval},
      {{"dcp_idle_timeout", ParamType::kDouble, "seconds",
        "A DCP producer with noops enabled disconnects a consumer silent for this long."},
       &Config::dcp_idle_timeout},
      {{"dcp_noop_tx_interval", ParamType::kDouble, "seconds",
        "Default interval between the DCP_NOOPs a producer sends once enable_noop is on "
        "(set_noop_interval overrides it per connection). kv_engine's parameter of this name is "
        "its consumer's interval; its producers default to 20 s, as here."},
       &Config::dcp_noop_tx_interval},
      {{"connection_manager_interval", ParamType::kDouble, "seconds",
        "Interval of the DCP connection manager (noops, idle disconnects); set_noop_interval "
        "must not be below it."},
       &Config::connection_manager_interval},
      {{"replication_user", ParamType::kString, "name",
        "The users-file entry a replica logs in as on the node it replicates from (its password "
        "is read from the users file); every node needs the same entry."},
       &Config::replication_user},
      {{"replication_buffer_size", ParamType::kSize, "bytes",
        "connection_buffer_size of a replica's DCP connections: bytes its producer may send "
        "before the replica acknowledges them (kv_engine's dcp_conn_buffer_size)."},
       &Config::replication_buffer_size},
      {{"replication_noop_interval", ParamType::kUInt, "seconds",
        "set_noop_interval of a replica's DCP connections; a producer silent for three intervals "
        "(plus 2 s) is taken as gone and the replica reconnects."},
       &Config::replication_noop_interval},
      {{"replication_throttle_threshold", ParamType::kDouble, "ratio",
        "Share of max_size above which a replica stops acknowledging its DCP buffer, which "
        "stalls its producer; it never drops data (kv_engine's replication_throttle_threshold)."},
       &Config::replication_throttle_threshold},
  };
  return entries;
}

const Entry* Find(std::string_view name) {
  for (const auto& e : Entries()) {
    if (e.info.name == name) return &e;
  }
  return nullptr;
}

StatusOr<uint64_t> ParseUInt(std::string_view text) {
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) {
    return Status(Errc::kInvalid, fmt::format("'{}' is not a non-negative integer", text));
  }
  return v;
}

StatusOr<double> ParseDouble(std::string_view text) {
  std::string s(text);
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || errno != 0 || !std::isfinite(v)) {
    return Status(Errc::kInvalid, fmt::format("'{}' is not a number", text));
  }
  return v;
}

StatusOr<bool> ParseBool(std::string_view text) {
  if (text == "true" || text == "1" || text == "on" || text == "yes") return true;
  if (text == "false" || text == "0" || text == "off" || text == "no") return false;
  return Status(Errc::kInvalid, fmt::format("'{}' is not a boolean", text));
}

}  // namespace

StatusOr<uint64_t> ParseSize(std::string_view text) {
  std::string_view digits = text;
  uint64_t mult = 1;
  auto strip = [&](std::string_view suffix) {
    if (digits.size() > suffix.size() && digits.substr(digits.size() - suffix.size()) == suffix) {
      digits.remove_suffix(suffix.size());
      return true;
    }
    return false;
  };
  if (!strip("iB")) strip("B");
  if (!digits.empty()) {
    switch (digits.back()) {
      case 'K':
      case 'k':
        mult = 1ULL << 10;
        break;
      case 'M':
      case 'm':
        mult = 1ULL << 20;
        break;
      case 'G':
      case 'g':
        mult = 1ULL << 30;
        break;
      case 'T':
      case 't':
        mult = 1ULL << 40;
        break;
      default:
        break;
    }
    if (mult != 1) digits.remove_suffix(1);
  }
  auto v = ParseUInt(digits);
  if (!v.ok()) {
    return Status(Errc::kInvalid, fmt::format("'{}' is not a size (e.g. 512M, 4G)", text));
  }
  if (*v != 0 && mult > UINT64_MAX / *v) {
    return Status(Errc::kInvalid, fmt::format("'{}' is too large", text));
  }
  return *v * mult;
}

const std::vector<ParamInfo>& ConfigParams() {
  static const std::vector<ParamInfo> params = [] {
    std::vector<ParamInfo> out;
    for (const auto& e : Entries()) out.push_back(e.info);
    return out;
  }();
  return params;
}

std::string ConfigReferenceMarkdown() {
  const Config defaults;
  std::string out = "| parameter | type | unit | default | what it changes |\n";
  out += "|---|---|---|---|---|\n";
  for (const auto& e : Entries()) {
    const char* type = "";
    switch (e.info.type) {
      case ParamType::kBool:
        type = "bool";
        break;
      case ParamType::kUInt:
        type = "integer";
        break;
      case ParamType::kSize:
        type = "size";
        break;
      case ParamType::kDouble:
        type = "number";
        break;
      case ParamType::kString:
        type = "string";
        break;
    }
    out += fmt::format("| `{}` | {} | {} | `{}` | {} |\n", e.info.name, type, e.info.unit,
                       defaults.Get(e.info.name).value(), e.info.description);
  }
  return out;
}

Status Config::Set(std::string_view name, std::string_view value) {
  const Entry* e = Find(name);
  if (e == nullptr) {
    return Status(Errc::kInvalid, fmt::format("unknown parameter '{}'", name));
  }
  auto fail = [&](const Status& s) {
    return Status(Errc::kInvalid, fmt::format("{}: {}", name, s.message()));
  };
  switch (e->info.type) {
    case ParamType::kBool: {
      auto v = ParseBool(value);
      if (!v.ok()) return fail(v.status());
      this->*std::get<bool Config::*>(e->field) = *v;
      break;
    }
    case ParamType::kUInt: {
      auto v = ParseUInt(value);
      if (!v.ok()) return fail(v.status());
      this->*std::get<uint64_t Config::*>(e->field) = *v;
      break;
    }
    case ParamType::kSize: {
      auto v = ParseSize(value);
      if (!v.ok()) return fail(v.status());
      this->*std::get<uint64_t Config::*>(e->field) = *v;
      break;
    }
    case ParamType::kDouble: {
      auto v = ParseDouble(value);
      if (!v.ok()) return fail(v.status());
      this->*std::get<double Config::*>(e->field) = *v;
      break;
    }
    case ParamType::kString:
      this->*std::get<std::string Config::*>(e->field) = std::string(value);
      break;
  }
  return Status::Ok();
}

StatusOr<std::string> Config::Get(std::string_view name) const {
  const Entry* e = Find(name);
  if (e == nullptr) return Status(Errc::kInvalid, fmt::format("unknown parameter '{}'", name));
  return std::visit(
      [this](auto member) -> std::string {
        const auto& v = this->*member;
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, bool>) {
          return v ? "true" : "false";
        } else if constexpr (std::is_same_v<T, std::string>) {
          return v;
        } else if constexpr (std::is_same_v<T, double>) {
          return fmt::format("{}", v);
        } else {
          return std::to_string(v);
        }
      },
      e->field);
}

Status Config::ApplyJson(std::string_view json_text) {
  nlohmann::json doc = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return Status(Errc::kInvalid, "config is not a JSON object");
  }
  for (const auto& [key, value] : doc.items()) {
    std::string text;
    if (value.is_string()) {
      text = value.get<std::string>();
    } else if (value.is_boolean()) {
      text = value.get<bool>() ? "true" : "false";
    } else if (value.is_number_unsigned()) {
      text = std::to_string(value.get<uint64_t>());
    } else if (value.is_number_integer()) {
      text = std::to_string(value.get<int64_t>());
    } else if (value.is_number_float()) {
      text = fmt::format("{}", value.get<double>());
    } else {
      return Status(Errc::kInvalid, fmt::format("{}: unsupported JSON value", key));
    }
    RETURN_IF_ERROR(Set(key, text));
  }
  return Status::Ok();
}

Status Config::Validate() const {
  auto ratio = [](double v) { return v > 0.0 && v <= 1.0; };
  if (max_size < (16ULL << 20)) return Status(Errc::kInvalid, "max_size must be at least 16M");
  if (!ratio(mem_low_wat_percent) || !ratio(mem_high_wat_percent) ||
      mem_low_wat_percent >= mem_high_wat_percent) {
    return Status(Errc::kInvalid, "need 0 < mem_low_wat_percent < mem_high_wat_percent <= 1");
  }
  if (!ratio(mutation_mem_ratio) || mutation_mem_ratio < mem_high_wat_percent) {
    return Status(Errc::kInvalid, "mutation_mem_ratio must be in [mem_high_wat_percent, 1]");
  }
  if (!ratio(backfill_mem_threshold)) {
    return Status(Errc::kInvalid, "backfill_mem_threshold must be in (0, 1]");
  }
  if (max_vbuckets == 0 || max_vbuckets > 65535) {
    return Status(Errc::kInvalid, "max_vbuckets must be in 1..65535");
  }
  if (max_num_shards == 0 || max_num_shards > 64) {
    return Status(Errc::kInvalid, "max_num_shards must be in 1..64");
  }
  if (ht_locks == 0 || ht_locks > 4096) return Status(Errc::kInvalid, "ht_locks must be 1..4096");
  if (max_checkpoints < 2) return Status(Errc::kInvalid, "max_checkpoints must be at least 2");
  if (!ratio(checkpoint_memory_ratio) || !ratio(checkpoint_memory_recovery_upper_mark) ||
      !ratio(checkpoint_memory_recovery_lower_mark) ||
      checkpoint_memory_recovery_lower_mark >= checkpoint_memory_recovery_upper_mark) {
    return Status(Errc::kInvalid, "checkpoint memory ratios must be in (0, 1] and lower < upper");
  }
  if (chk_remover_stime <= 0 || exp_pager_stime <= 0 || pager_sleep_time_ms <= 0) {
    return Status(Errc::kInvalid, "task intervals must be positive");
  }
  if (num_reader_threads == 0 || num_writer_threads == 0 || num_auxio_threads == 0 ||
      num_nonio_threads == 0 || io_threads == 0) {
    return Status(Errc::kInvalid, "thread counts must be at least 1");
  }
  if (io_threads > 64 || num_reader_threads > 64 || num_writer_threads > 64 ||
      num_auxio_threads > 64 || num_nonio_threads > 64) {
    return Status(Errc::kInvalid, "thread counts must be at most 64");
  }
  if (writer_threads_nice > 19) return Status(Errc::kInvalid, "writer_threads_nice must be 0..19");
  if (max_connections == 0) return Status(Errc::kInvalid, "max_connections must be positive");
  if (!(connection_idle_time >= 0)) {
    return Status(Errc::kInvalid, "connection_idle_time must not be negative");
  }
  if (auth_failure_limit == 0) return Status(Errc::kInvalid, "auth_failure_limit must be >= 1");
  if (!(auth_failure_delay_ms >= 0 && auth_failure_delay_ms <= 60000)) {
    return Status(Errc::kInvalid, "auth_failure_delay_ms must be in [0, 60000]");
  }
  if (max_packet_size < 1024) return Status(Errc::kInvalid, "max_packet_size must be >= 1K");
  if (max_item_size == 0 || max_item_size > max_packet_size) {
    return Status(Errc::kInvalid, "max_item_size must be in 1..max_packet_size");
  }
  if (dcp_backfill_byte_limit == 0 || dcp_scan_byte_limit == 0 || dcp_scan_item_limit == 0) {
    return Status(Errc::kInvalid,
                  "dcp_backfill_byte_limit, dcp_scan_byte_limit and dcp_scan_item_limit must be "
                  "positive");
  }
  if (!(dcp_backfill_byte_drain_ratio >= 0.0 && dcp_backfill_byte_drain_ratio < 1.0)) {
    return Status(Errc::kInvalid, "dcp_backfill_byte_drain_ratio must be in [0, 1)");
  }
  if (dcp_backfill_in_progress_per_connection_limit == 0) {
    return Status(Errc::kInvalid,
                  "dcp_backfill_in_progress_per_connection_limit must be at least 1");
  }
  if (dcp_backfill_run_duration_limit <= 0 || dcp_backfill_idle_limit_seconds <= 0 ||
      dcp_backfill_snooze_interval <= 0 || connection_manager_interval <= 0) {
    return Status(Errc::kInvalid, "DCP task intervals and limits must be positive");
  }
  if (dcp_idle_timeout < 1) return Status(Errc::kInvalid, "dcp_idle_timeout must be >= 1");
  if (dcp_noop_tx_interval < connection_manager_interval) {
    return Status(Errc::kInvalid,
                  "dcp_noop_tx_interval must not be below connection_manager_interval");
  }
  if (replication_user.empty()) return Status(Errc::kInvalid, "replication_user must be set");
  if (replication_buffer_size < 1024 || replication_buffer_size > (1ULL << 31)) {
    return Status(Errc::kInvalid, "replication_buffer_size must be in [1K, 2G]");
  }
  if (replication_noop_interval < 1 || replication_noop_interval > 3600) {
    return Status(Errc::kInvalid, "replication_noop_interval must be in [1, 3600]");
  }
  if (!(replication_throttle_threshold > 0.0 && replication_throttle_threshold <= 1.0)) {
    return Status(Errc::kInvalid, "replication_throttle_threshold must be in (0, 1]");
  }
  return Status::Ok();
}

}  // namespace sluice
