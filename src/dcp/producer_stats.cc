// Producer::AddStats and AddAggregate: kv_engine's per-connection stat names
// (DcpProducer::addStats, ConnHandler::addStats, BackfillManager::addStats, BufferLog::addStats),
// each prefixed "eq_dcpq:<name>:", followed by every stream's "stream_<vb>_*" stats.
#include <fmt/format.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <vector>

#include "dcp/producer.h"

namespace sluice::dcp {

void Producer::AddStats(const engine::AddStatFn& add, StreamStatsFormat format) const {
  const std::string prefix = conn_name_ + ":";
  fmt::memory_buffer key;
  auto stat = [&](std::string_view name, const auto& value) {
    key.clear();
    fmt::format_to(std::back_inserter(key), "{}{}", prefix, name);
    add(std::string_view(key.data(), key.size()), fmt::format("{}", value));
  };
  auto secs = [](Duration d) { return std::chrono::duration<double>(d).count(); };

  std::vector<std::shared_ptr<ActiveStream>> streams;
  std::shared_ptr<BackfillManager> manager;
  FlowControl flow;
  bool paused = false, noop_enabled = false, noop_pending = false, cursor_dropping = false;
  bool stream_end_on_close = false, expiry_opcode = false;
  std::string paused_reason, consumer_name;
  const char* oso = "false";
  bool stream_ids = false;
  const Priority level = priority_.load();
  const char* priority = level == Priority::kHigh  ? "high"
                         : level == Priority::kLow ? "low"
                                                   : "medium";
  Duration noop_interval{};
  {
    MutexLock lock(&mu_);
    for (const auto& [key, stream] : streams_) streams.push_back(stream);
    manager = manager_;
    flow = flow_;
    paused = paused_;
    paused_reason = paused_reason_;
    noop_enabled = noop_enabled_;
    noop_pending = noop_pending_;
    noop_interval = noop_interval_;
    cursor_dropping = cursor_dropping_;
    stream_end_on_close = send_stream_end_on_close_;
    expiry_opcode = expiry_opcode_;
    consumer_name = consumer_name_;
    stream_ids = stream_ids_;
    oso = oso_ == StreamOptions::Oso::kOff  ? "false"
          : oso_ == StreamOptions::Oso::kOn ? "true"
                                            : "true_with_seqno_advanced";
  }
  const SteadyTime last_receive{Duration(last_receive_.load(std::memory_order_relaxed))};

  stat("type", "producer");
  stat("created", secs(created_.time_since_epoch()));
  stat("pending_disconnect", disconnecting_.load() ? "true" : "false");
  stat("paused", paused ? "true" : "false");
  if (paused) stat("paused_reason", paused_reason);
  stat("priority", priority);
  stat("enable_stream_id", stream_ids ? "true" : "false");
  stat("max_marker_version", marker_v2_2_.load() ? "2.2" : "1.0");
  stat("enable_out_of_order_snapshots", oso);
  if (!consumer_name.empty()) stat("consumer_name", consumer_name);
  stat("items_sent", items_sent_.load());
  stat("total_bytes_sent", total_bytes_sent_.load());
  stat("last_receive_time", secs(last_receive.time_since_epoch()));
  stat("noop_enabled", noop_enabled ? "true" : "false");
  stat("noop_tx_interval", fmt::format("{}s", secs(noop_interval)));
  stat("noop_wait", noop_pending ? "true" : "false");
  stat("cursor_dropping", cursor_dropping ? "true" : "false");
  stat("send_stream_end_on_client_close_stream", stream_end_on_close ? "true" : "false");
  stat("enable_expiry_opcode", expiry_opcode ? "true" : "false");
  stat("collections", collections_ ? "true" : "false");
  stat("flags", fmt::format("{:#x}", open_flags_));
  if (manager != nullptr) {
    const BackfillManager::Stats b = manager->GetStats();
    stat("backfill_buffer_bytes_read", b.buffer_bytes_read);
    stat("backfill_buffer_max_bytes", b.buffer_max_bytes);
    stat("backfill_buffer_full", b.buffer_full ? "true" : "false");
    stat("backfill_buffer_pauses", b.buffer_pauses);
    stat("backfill_num_pending", b.pending);
    stat("backfill_num_initializing", b.initializing);
    stat("backfill_num_active", b.active + b.running);
    stat("backfill_num_snoozing", b.snoozing);
    stat("backfill_order", BackfillManager::OrderName(b.order));
  }
  if (flow.enabled()) {
    stat("max_buffer_bytes", flow.max_bytes());
    stat("unacked_bytes", flow.outstanding());
    stat("total_acked_bytes", flow.acked());
    stat("flow_control", "enabled");
  } else {
    stat("flow_control", "disabled");
  }
  size_t dead = 0;
  StreamAggregate agg;
  for (const auto& stream : streams) {
    if (stream->IsDead()) ++dead;
    stream->Aggregate(&agg);
  }
  stat("items_remaining", agg.items_remaining);
  stat("num_streams", streams.size());
  stat("num_dead_streams", dead);
  switch (format) {
    case StreamStatsFormat::kLegacy:
      // kv_engine's ConnHandler::doStreamStatsLegacy: "<name>:stream_<vb>_<stat>".
      for (const auto& stream : streams) {
        const std::string head = prefix + stream->StatName() + "_";
        stream->AddStats([&](std::string_view k, std::string_view v) {
          key.clear();
          fmt::format_to(std::back_inserter(key), "{}{}", head, k);
          add(std::string_view(key.data(), key.size()), v);
        });
      }
      break;
    case StreamStatsFormat::kJson:
      // kv_engine's ConnHandler::doStreamStatsJson: the stream's stats, unprefixed, as one JSON
      // object under "<name>:stream_<vb>".
      for (const auto& stream : streams) {
        nlohmann::json object = nlohmann::json::object();
        stream->AddStats([&](std::string_view k, std::string_view v) {
          object[std::string(k)] = std::string(v);
        });
        add(prefix + stream->StatName(),
            object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      }
      break;
    case StreamStatsFormat::kSkip:
      break;
  }
}

void Producer::AddAggregate(Aggregate* agg) const {
  std::vector<std::shared_ptr<ActiveStream>> streams;
  {
    MutexLock lock(&mu_);
    for (const auto& [key, stream] : streams_) streams.push_back(stream);
    agg->paused = agg->paused || paused_;
  }
  agg->items_sent += items_sent_.load();
  agg->total_bytes += total_bytes_sent_.load();
  agg->streams += streams.size();
  for (const auto& stream : streams) stream->Aggregate(&agg->stream);
}

}  // namespace sluice::dcp
