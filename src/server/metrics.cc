#include "server/metrics.h"

#include <charconv>
#include <functional>
#include <map>
#include <optional>
#include <string_view>

#include "server/prometheus_text.h"

namespace sluice::server {
namespace {

using StatMap = std::map<std::string, std::string, std::less<>>;
using Labels = PrometheusText::Labels;

enum class Kind { kGauge, kCounter };

// A STAT key exported as a metric.
struct Export {
  std::string_view stat;
  std::string_view metric;
  Kind kind;
  std::string_view help;
  Labels labels;
};

// One STAT group as a map. A group that fails (none does today) just contributes no metrics: a
// scrape shows what it can rather than failing as a whole.
StatMap Collect(const std::function<Status(const engine::AddStatFn&)>& fetch) {
  StatMap out;
  fetch([&out](std::string_view k, std::string_view v) { out.emplace(k, v); }).IgnoreError();
  return out;
}

std::optional<double> Number(const StatMap& stats, std::string_view key) {
  auto it = stats.find(key);
  if (it == stats.end()) return std::nullopt;
  double value = 0;
  const std::string& text = it->second;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

Labels With(const Labels& base, const Labels& extra) {
  Labels all = base;
  all.insert(all.end(), extra.begin(), extra.end());
  return all;
}

void ExportAll(PrometheusText* page, const StatMap& stats, const std::vector<Export>& table,
               const Labels& base) {
  for (const Export& e : table) {
    const std::optional<double> v = Number(stats, e.stat);
    if (!v) continue;
    if (e.kind == Kind::kGauge) {
      page->Gauge(e.metric, e.help, *v, With(base, e.labels));
    } else {
      page->Counter(e.metric, e.help, *v, With(base, e.labels));
    }
  }
}

const std::vector<Export>& BucketExports() {
  // clang-format off
  static const std::vector<Export> kTable = {
    {"curr_items", "kv_curr_items", Kind::kGauge, "Count of alive items in active vbuckets", {}},
    {"curr_items_tot", "kv_curr_items_tot", Kind::kGauge,
     "Count of alive items in all vbuckets", {}},
    {"mem_used", "kv_mem_used_bytes", Kind::kGauge, "Engine's total memory usage", {}},
    {"ep_max_size", "kv_ep_max_size_bytes", Kind::kGauge, "Memory quota of the bucket", {}},
    {"ep_mem_high_wat", "kv_ep_mem_high_wat", Kind::kGauge,
     "High water mark for auto-evictions (bytes)", {}},
    {"ep_mem_low_wat", "kv_ep_mem_low_wat", Kind::kGauge,
     "Low water mark for auto-evictions (bytes)", {}},
    {"ep_kv_size", "kv_ep_key_value_size_bytes", Kind::kGauge,
     "Memory used to store item metadata, keys and values", {}},
    {"ep_checkpoint_memory", "kv_ep_checkpoint_memory_bytes", Kind::kGauge,
     "Memory of items in all checkpoints", {}},
    {"ep_queue_size", "kv_ep_queue_size", Kind::kGauge, "Number of items queued for storage", {}},
    {"ep_total_persisted", "kv_ep_total_persisted", Kind::kCounter,
     "Total number of items persisted", {}},
    {"ep_item_commit_failed", "kv_ep_item_commit_failed", Kind::kCounter,
     "Number of times a transaction failed to commit due to storage errors", {}},
    {"ep_commit_num", "kv_ep_commit_num", Kind::kCounter, "Total number of write commits", {}},
    {"ep_bg_fetched", "kv_ep_bg_fetched", Kind::kCounter, "Number of items fetched from disk", {}},
    {"ep_num_value_ejects", "kv_ep_num_value_ejects", Kind::kCounter,
     "Number of times item values got ejected from memory to disk", {}},
    {"ep_num_non_resident", "kv_ep_num_non_resident", Kind::kGauge,
     "Number of non-resident items", {}},
    {"ep_expired_access", "kv_ep_expired_access", Kind::kCounter,
     "Number of times an item was expired on application access", {}},
    {"ep_expired_pager", "kv_ep_expired_pager", Kind::kCounter,
     "Number of times an item was expired by the item pager", {}},
    {"ep_tmp_oom_errors", "kv_ep_tmp_oom_errors", Kind::kCounter,
     "Number of times temporary OOMs were sent to a client", {}},
    {"ep_cursors_dropped", "kv_ep_cursors_dropped", Kind::kCounter,
     "Number of cursors dropped by the checkpoint remover", {}},
    {"ep_db_data_size", "kv_ep_db_data_size_bytes", Kind::kGauge,
     "Total size of valid data in db files", {}},
    {"vb_active_num", "kv_num_vbuckets", Kind::kGauge, "Number of vbuckets", {{"state", "active"}}},
    {"vb_replica_num", "kv_num_vbuckets", Kind::kGauge,
     "Number of vbuckets", {{"state", "replica"}}},
    {"vb_pending_num", "kv_num_vbuckets", Kind::kGauge,
     "Number of vbuckets", {{"state", "pending"}}},
    {"vb_dead_num", "kv_num_vbuckets", Kind::kGauge, "Number of vbuckets", {{"state", "dead"}}},
    {"cmd_set", "kv_ops", Kind::kCounter, "Number of operations", {{"op", "set"}}},
    {"get_hits", "kv_ops", Kind::kCounter,
     "Number of operations", {{"op", "get"}, {"result", "hit"}}},
    {"get_misses", "kv_ops", Kind::kCounter,
     "Number of operations", {{"op", "get"}, {"result", "miss"}}},
    {"delete_hits", "kv_ops", Kind::kCounter,
     "Number of operations", {{"op", "delete"}, {"result", "hit"}}},
    {"delete_misses", "kv_ops", Kind::kCounter,
     "Number of operations", {{"op", "delete"}, {"result", "miss"}}},
    {"incr_hits", "kv_ops", Kind::kCounter,
     "Number of operations", {{"op", "incr"}, {"result", "hit"}}},
    {"incr_misses", "kv_ops", Kind::kCounter,
     "Number of operations", {{"op", "incr"}, {"result", "miss"}}},
    {"decr_hits", "kv_ops", Kind::kCounter,
     "Number of operations", {{"op", "decr"}, {"result", "hit"}}},
    {"decr_misses", "kv_ops", Kind::kCounter,
     "Number of operations", {{"op", "decr"}, {"result", "miss"}}},
    {"cas_hits", "kv_ops", Kind::kCounter,
     "Number of operations", {{"op", "cas"}, {"result", "hit"}}},
    {"cas_misses", "kv_ops", Kind::kCounter,
     "Number of operations", {{"op", "cas"}, {"result", "miss"}}},
    {"cas_badval", "kv_ops", Kind::kCounter,
     "Number of operations", {{"op", "cas"}, {"result", "badval"}}},
    {"touch_hits", "kv_ops", Kind::kCounter,
     "Number of operations", {{"op", "touch"}, {"result", "hit"}}},
    {"touch_misses", "kv_ops", Kind::kCounter,
     "Number of operations", {{"op", "touch"}, {"result", "miss"}}},
  };
  // clang-format on
  return kTable;
}

const std::vector<Export>& DcpExports() {
  // clang-format off
  static const std::vector<Export> kTable = {
    {"ep_dcp_producer_count", "kv_dcp_count", Kind::kGauge,
     "Number of DCP connections", {{"type", "producer"}}},
    {"ep_dcp_consumer_count", "kv_dcp_count", Kind::kGauge,
     "Number of DCP connections", {{"type", "consumer"}}},
    {"ep_dcp_items_sent", "kv_dcp_items_sent", Kind::kCounter,
     "Total number of items sent by DCP connections", {}},
    {"ep_dcp_items_remaining", "kv_dcp_items_remaining", Kind::kGauge,
     "Total number of items remaining to be sent by DCP connections", {}},
    {"ep_dcp_total_bytes", "kv_dcp_total_data_size_bytes", Kind::kCounter,
     "Total data sent by DCP connections", {}},
    {"ep_dcp_backfill_disk", "kv_dcp_items_backfilled", Kind::kCounter,
     "Number of items backfilled by DCP streams", {{"from", "disk"}}},
    {"ep_dcp_num_running_backfills", "kv_dcp_num_running_backfills", Kind::kGauge,
     "Total number of running backfills across all DCP connections", {}},
    {"ep_dcp_max_running_backfills", "kv_dcp_max_running_backfills", Kind::kGauge,
     "Maximum number of backfills across all DCP connections", {}},
    {"ep_dcp_backfill_scans_started", "kv_dcp_backfill_scans_started", Kind::kCounter,
     "(sluice) Number of backfill disk scans started", {}},
    {"ep_dcp_backfill_open_scans", "kv_dcp_backfill_open_scans", Kind::kGauge,
     "(sluice) Number of backfill disk scans open now", {}},
  };
  // clang-format on
  return kTable;
}

}  // namespace

void AddLatencyHistogram(PrometheusText* page, std::string_view name, std::string_view help,
                         const LatencyHistogram::Snapshot& snapshot, const Labels& labels) {
  constexpr int kMaxPower = 26;
  std::vector<PrometheusText::HistogramBucket> buckets;
  buckets.reserve(kMaxPower + 1);
  uint64_t below_previous = 0;
  for (int k = 0; k <= kMaxPower; ++k) {
    const uint64_t bound_us = uint64_t{1} << k;
    // Whole microseconds below 2^k: the true durations were below 2^k us, so <= le.
    const uint64_t below = snapshot.CountBelow(bound_us);
    buckets.push_back({static_cast<double>(bound_us) / 1e6, below - below_previous});
    below_previous = below;
  }
  page->Histogram(name, help, buckets, snapshot.count + snapshot.overflowed,
                  static_cast<double>(snapshot.sum_us) / 1e6, labels);
}

std::string RenderMetrics(ServerContext& ctx) {
  PrometheusText page;
  ServerStats& s = ctx.stats();
  page.Gauge("kv_uptime_seconds", "The time since this server started", ctx.UptimeSeconds());
  page.Gauge("kv_curr_connections", "Number of currently connected clients",
             static_cast<double>(s.curr_connections.load()));
  page.Counter("kv_total_connections", "Total number of connections to this server",
               static_cast<double>(s.total_connections.load()));
  page.Counter("kv_rejected_connections", "Number of connections rejected",
               static_cast<double>(s.rejected_connections.load()));
  page.Counter("kv_auth_cmds", "Number of authentication commands",
               static_cast<double>(s.auth_cmds.load()));
  page.Counter("kv_auth_errors", "Number of failed authentication requests",
               static_cast<double>(s.auth_errors.load()));
  page.Counter("kv_read_bytes", "Total number of bytes read from clients",
               static_cast<double>(s.bytes_read.load()));
  page.Counter("kv_written_bytes", "Total number of bytes written to clients (DCP included)",
               static_cast<double>(s.bytes_written.load()));

  const std::shared_ptr<engine::Bucket>& bucket = ctx.bucket();
  const Labels base = bucket ? Labels{{"bucket", std::string(bucket->name())}} : Labels{};
  if (bucket) {
    const StatMap all =
        Collect([&](const engine::AddStatFn& add) { return bucket->GetStats("", add); });
    ExportAll(&page, all, BucketExports(), base);
  }
  if (const auto& conn_map = ctx.conn_map()) {
    const StatMap dcp = Collect([&](const engine::AddStatFn& add) {
      return conn_map->GetStats("dcp", R"({"stream_format":"skip"})", add);
    });
    ExportAll(&page, dcp, DcpExports(), base);
    // Per-connection sums kv_engine keeps only per connection.
    double buffered = 0;
    for (const auto& [key, value] : dcp) {
      if (key.ends_with(":backfill_buffer_bytes_read")) buffered += Number(dcp, key).value_or(0);
    }
    page.Gauge("kv_dcp_backfill_buffer_bytes",
               "(sluice) Bytes read by backfills and not yet sent, all DCP connections", buffered,
               base);
    const StatMap agg =
        Collect([&](const engine::AddStatFn& add) { return conn_map->GetStats("dcpagg :", add); });
    if (auto streams = Number(agg, ":total:activestream_count")) {
      page.Gauge("kv_dcp_stream_count", "Current number of DCP streams", *streams,
                 With(base, {{"for", "producer"}}));
    }
    if (auto ready = Number(agg, ":total:ready_queue_bytes")) {
      page.Gauge("kv_dcp_ready_queue_size_bytes", "Memory of items ready to send on DCP streams",
                 *ready, base);
    }
  }

  const CommandTimings& timings = ctx.timings();
  for (int i = 0; i < 256; ++i) {
    const auto op = static_cast<protocol::Opcode>(i);
    if (timings.Of(op).TotalCount() == 0) continue;
    AddLatencyHistogram(&page, "kv_cmd_duration_seconds",
                        "Per-opcode histogram of time taken to execute operations",
                        timings.Of(op).Take(),
                        With(base, {{"opcode", std::string(protocol::OpcodeName(op))}}));
  }
  return page.Take();
}

}  // namespace sluice::server
