#include "replication/consumer_stats.h"

#include <fmt/format.h>

#include <chrono>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string_view>
#include <utility>

namespace sluice::replication {
namespace {

std::string_view Bool(bool b) { return b ? "true" : "false"; }

// kv_engine's PassiveStream states: a stream request in flight is still "pending".
std::string_view KvState(const std::string& state) {
  if (state == "reading") return "reading";
  if (state == "dead") return "dead";
  return "pending";
}

// Calls stat(name, value) for each of a passive stream's stats (Stream and PassiveStream
// addStats), values as text.
template <typename Fn>
void ForEachStreamStat(const PassiveStreamStats& s, Fn&& stat) {
  stat("flags", fmt::format("{}", s.flags));
  stat("opaque", fmt::format("{}", s.opaque));
  stat("start_seqno", fmt::format("{}", s.start_seqno));
  stat("vb_uuid", fmt::format("{}", s.vb_uuid));
  stat("snap_start_seqno", fmt::format("{}", s.snap_start_seqno));
  stat("snap_end_seqno", fmt::format("{}", s.snap_end_seqno));
  stat("state", std::string(KvState(s.state)));
  stat("items_ready", std::string(Bool(false)));
  stat("readyQ_items", std::string("0"));
  stat("unacked_bytes", std::string("0"));
  stat("last_received_seqno", fmt::format("{}", s.last_received_seqno));
  stat("ready_queue_memory", std::string("0"));
  stat("cur_snapshot_type", std::string(s.cur_snapshot_type));
  if (s.cur_snapshot_type != "none") {
    stat("cur_snapshot_start", fmt::format("{}", s.cur_snapshot_start));
    stat("cur_snapshot_end", fmt::format("{}", s.cur_snapshot_end));
  }
  stat("cur_snapshot_prepare", std::string(Bool(s.cur_snapshot_prepare)));
}

}  // namespace

void AddConsumerDcpStats(const ConsumerConnStats& c, DcpStreamStatsFormat format,
                         const engine::AddStatFn& add) {
  const std::string prefix = "eq_dcpq:" + c.name + ":";
  fmt::memory_buffer key;
  auto stat = [&](std::string_view name, const auto& value) {
    key.clear();
    fmt::format_to(std::back_inserter(key), "{}{}", prefix, name);
    add(std::string_view(key.data(), key.size()), fmt::format("{}", value));
  };
  stat("user", c.user);
  stat("type", "consumer");
  stat("created", std::chrono::duration<double>(c.created.time_since_epoch()).count());
  stat("pending_disconnect", Bool(false));
  stat("supports_ack", Bool(true));
  stat("paused", Bool(false));
  stat("priority", "high");
  stat("total_backoffs", c.total_backoffs);
  stat("total_acked_bytes", c.total_acked_bytes);
  stat("max_buffer_bytes", c.max_buffer_bytes);
  stat("unacked_bytes", c.unacked_bytes);
  stat("synchronous_replication", Bool(c.synchronous_replication));
  if (c.pending_controls != 0) {
    stat("pending_controls_size", c.pending_controls);
    stat("pending_control", c.pending_control);
    stat("pending_control_value", c.pending_control_value);
  }
  stat("pending_add_stream", Bool(c.pending_add_stream));
  stat("messages_received", c.messages);
  stat("total_bytes_received", c.total_bytes_received);
  stat("num_streams", c.streams.size());
  if (format == DcpStreamStatsFormat::kSkip) return;
  for (const auto& entry : c.streams) {
    const Vbid vb = entry.first;
    const PassiveStreamStats& s = entry.second;
    if (format == DcpStreamStatsFormat::kJson) {
      nlohmann::json json = nlohmann::json::object();
      ForEachStreamStat(s, [&](std::string_view name, std::string value) {
        json[std::string(name)] = std::move(value);
      });
      stat(fmt::format("stream_{}", vb), json.dump());
      continue;
    }
    ForEachStreamStat(s, [&](std::string_view name, const std::string& value) {
      stat(fmt::format("stream_{}_{}", vb, name), value);
    });
  }
}

ConsumerStatsBoard::ConsumerStatsBoard(std::string name, std::string user, uint64_t buffer_size,
                                       SteadyTime created)
    : name_(std::move(name)),
      user_(std::move(user)),
      buffer_size_(buffer_size),
      created_(created) {}

void ConsumerStatsBoard::SetStream(Vbid vb, std::shared_ptr<const PassiveStream> stream) {
  MutexLock lock(&mu_);
  streams_[vb] = std::move(stream);
}

void ConsumerStatsBoard::RemoveStream(Vbid vb) {
  MutexLock lock(&mu_);
  streams_.erase(vb);
}

void ConsumerStatsBoard::ClearStreams() {
  MutexLock lock(&mu_);
  streams_.clear();
}

void ConsumerStatsBoard::SetControls(size_t pending, std::string first_key, std::string first_value,
                                     bool adds_waiting) {
  MutexLock lock(&mu_);
  pending_controls_ = pending;
  pending_control_ = std::move(first_key);
  pending_control_value_ = std::move(first_value);
  adds_waiting_ = adds_waiting;
}

void ConsumerStatsBoard::SetCounters(uint64_t messages, uint64_t bytes_received,
                                     uint64_t bytes_acked, uint64_t unacked, uint64_t backoffs) {
  messages_.store(messages, std::memory_order_relaxed);
  bytes_received_.store(bytes_received, std::memory_order_relaxed);
  bytes_acked_.store(bytes_acked, std::memory_order_relaxed);
  unacked_.store(unacked, std::memory_order_relaxed);
  backoffs_.store(backoffs, std::memory_order_relaxed);
}

ConsumerConnStats ConsumerStatsBoard::Read() const {
  ConsumerConnStats c;
  c.name = name_;
  c.user = user_;
  c.created = created_;
  c.max_buffer_bytes = buffer_size_;
  c.messages = messages_.load(std::memory_order_relaxed);
  c.total_bytes_received = bytes_received_.load(std::memory_order_relaxed);
  c.total_acked_bytes = bytes_acked_.load(std::memory_order_relaxed);
  c.unacked_bytes = unacked_.load(std::memory_order_relaxed);
  c.total_backoffs = backoffs_.load(std::memory_order_relaxed);
  std::map<Vbid, std::shared_ptr<const PassiveStream>> streams;
  {
    MutexLock lock(&mu_);
    streams = streams_;
    c.pending_controls = pending_controls_;
    c.pending_control = pending_control_;
    c.pending_control_value = pending_control_value_;
    c.pending_add_stream = adds_waiting_;
  }
  for (const auto& [vb, stream] : streams) c.streams.emplace(vb, stream->stats());
  return c;
}

}  // namespace sluice::replication
