#include "dcp/conn_map.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "common/clock.h"
#include "common/heap.h"
#include "common/logging.h"
#include "dcp/active_stream.h"
#include "executor/task.h"

namespace sluice::dcp {

std::shared_ptr<ConnMap> ConnMap::Create(std::shared_ptr<engine::Bucket> bucket) {
  // Not make_shared: the constructor is private.
  std::shared_ptr<ConnMap> map(new ConnMap(std::move(bucket)));
  // Weak: a queued task must not keep a shut-down ConnMap alive (the weak-owner pattern).
  std::weak_ptr<ConnMap> weak = map;
  const Duration interval = Seconds(map->bucket_->config().connection_manager_interval);
  map->task_ = executor::MakeTask(executor::TaskGroup::kNonIO, "dcp_connection_manager",
                                  [weak, interval](executor::Task& self) {
                                    std::shared_ptr<ConnMap> conn_map = weak.lock();
                                    if (conn_map == nullptr) {
                                      self.Cancel();
                                      return false;
                                    }
                                    conn_map->ManageConnections();
                                    self.Snooze(interval);
                                    return true;
                                  });
  map->task_->Snooze(interval);
  map->bucket_->SetSeqnoListener(map.get());
  map->bucket_->executor().Schedule(map->task_);
  return map;
}

ConnMap::ConnMap(std::shared_ptr<engine::Bucket> bucket)
    : bucket_(std::move(bucket)),
      tracker_(BackfillTracker::Create(bucket_->config().MaxRunningBackfills())),
      num_vbuckets_(bucket_->num_vbuckets()),
      vbs_(new VbStreams[num_vbuckets_]) {}

ConnMap::~ConnMap() {
  // No waiting here (we may be released on a backfill thread); Shutdown() did that.
  if (!shut_down_.load()) {
    LOG_WARN("dcp: ConnMap of bucket {} destroyed without Shutdown()", bucket_->name());
    bucket_->SetSeqnoListener(nullptr);
  }
  if (task_ != nullptr) task_->Cancel();
}

StatusOr<std::shared_ptr<Producer>> ConnMap::NewProducer(ProducerOptions options) {
  if (shut_down_.load()) return Status(Errc::kDisconnect, "bucket is shutting down");
  if ((options.open_flags & ~protocol::kDcpOpenKnownFlags) != 0 ||
      (options.open_flags & protocol::kDcpOpenInvalid) != 0) {
    return Status(Errc::kInvalid, "invalid DCP_OPEN flags");
  }
  if ((options.open_flags & protocol::kDcpOpenProducer) == 0) {
    return Status(Errc::kNotSupported, "a producer needs the Producer flag");
  }
  if (options.name.empty()) return Status(Errc::kInvalid, "DCP_OPEN needs a connection name");
  const std::string name = options.name;
  std::shared_ptr<Producer> producer = Producer::Create(shared_from_this(), std::move(options));
  std::shared_ptr<Producer> old;  // released after the lock
  bool refused = false;
  {
    MutexLock lock(&mu_);
    // Checked under the lock Shutdown() sets it under: a producer registered here is one
    // Shutdown() disconnects.
    refused = shut_down_.load();
    if (!refused) {
      ProducerEntry& entry = producers_[name];
      old = entry.producer.lock();
      entry.producer = producer;
      entry.raw = producer.get();
    }
  }
  if (refused) {
    producer->Disconnect();
    return Status(Errc::kDisconnect, "bucket is shutting down");
  }
  if (old != nullptr) {
    LOG_INFO("dcp: a new connection named {} replaces the existing one", producer->conn_name());
    old->Disconnect();
    old->RequestDisconnect("replaced by a new DCP connection with the same name");
  }
  return producer;
}

void ConnMap::Unregister(const Producer& producer) {
  MutexLock lock(&mu_);
  auto it = producers_.find(producer.name());
  if (it != producers_.end() && it->second.raw == &producer) producers_.erase(it);
}

std::vector<std::shared_ptr<Producer>> ConnMap::LiveProducers() const {
  std::vector<std::weak_ptr<Producer>> weak;
  {
    MutexLock lock(&mu_);
    weak.reserve(producers_.size());
    for (const auto& [name, entry] : producers_) weak.push_back(entry.producer);
  }
  // Promoted outside the lock: a promoted pointer may turn out to be the last reference.
  std::vector<std::shared_ptr<Producer>> live;
  for (auto& w : weak) {
    if (std::shared_ptr<Producer> p = w.lock()) live.push_back(std::move(p));
  }
  return live;
}

size_t ConnMap::num_producers() const { return LiveProducers().size(); }

void ConnMap::ManageConnections() {
  {
    // Forget producers whose connection is gone (expired entries only: no promotion here).
    MutexLock lock(&mu_);
    for (auto it = producers_.begin(); it != producers_.end();) {
      it = it->second.producer.expired() ? producers_.erase(it) : std::next(it);
    }
  }
  const SteadyTime now = bucket_->clock().Now();
  for (const auto& producer : LiveProducers()) producer->ManageConnection(now);

  // Trim only when no producer disconnected during the last interval: the backfill runs and
  // queue releases of the burst have finished by then, so their memory is free to give back.
  const uint64_t disconnects = disconnects_.load(std::memory_order_relaxed);
  if (disconnects != disconnects_seen_) {
    disconnects_seen_ = disconnects;
    trim_due_ = true;
  } else if (trim_due_) {
    trim_due_ = false;
    const bool released = ReleaseFreeHeapToOs();
    LOG_DEBUG("dcp: heap trimmed after producer disconnects (memory released: {})", released);
  }
}

bool ConnMap::Shutdown(std::chrono::milliseconds timeout) {
  bool first = false;
  std::vector<std::weak_ptr<Producer>> weak;
  {
    MutexLock lock(&mu_);
    first = !shut_down_.exchange(true);
    for (const auto& [name, entry] : producers_) weak.push_back(entry.producer);
    producers_.clear();
  }
  if (first) {
    bucket_->SetSeqnoListener(nullptr);
    if (task_ != nullptr) task_->Cancel();
    std::vector<std::shared_ptr<Producer>> producers;
    for (auto& w : weak) {
      if (std::shared_ptr<Producer> p = w.lock()) producers.push_back(std::move(p));
    }
    for (const auto& producer : producers) {
      producer->Disconnect();
      producer->RequestDisconnect("bucket shutting down");
    }
    LOG_INFO("dcp: bucket {} shutting down: {} DCP connections closed", bucket_->name(),
             producers.size());
  }
  // Backfills still running finish their current item and are destroyed when their run ends.
  if (!tracker_->WaitUntilIdle(timeout)) {
    LOG_ERROR("dcp: bucket {}: {} backfills and {} scans still alive after {} ms", bucket_->name(),
              tracker_->num_running(), tracker_->open_scans(), timeout.count());
    return false;
  }
  return true;
}

// ---- the stream directory ----

void ConnMap::AddStream(Vbid vbid, const std::shared_ptr<ActiveStream>& stream) {
  if (vbid >= num_vbuckets_) return;
  VbStreams& vs = vbs_[vbid];
  MutexLock lock(&vs.mu);
  vs.entries.push_back({stream, stream.get()});
  vs.count.store(static_cast<uint32_t>(vs.entries.size()), std::memory_order_relaxed);
}

void ConnMap::RemoveStream(Vbid vbid, const ActiveStream* stream) {
  if (vbid >= num_vbuckets_) return;
  VbStreams& vs = vbs_[vbid];
  std::vector<VbStreams::Entry> removed;  // weak_ptrs only, but keep the habit
  MutexLock lock(&vs.mu);
  auto it = std::find_if(vs.entries.begin(), vs.entries.end(),
                         [stream](const VbStreams::Entry& e) { return e.raw == stream; });
  if (it == vs.entries.end()) return;
  vs.entries.erase(it);
  vs.count.store(static_cast<uint32_t>(vs.entries.size()), std::memory_order_relaxed);
}

size_t ConnMap::num_streams(Vbid vbid) const {
  if (vbid >= num_vbuckets_) return 0;
  return vbs_[vbid].count.load(std::memory_order_relaxed);
}

std::vector<std::shared_ptr<ActiveStream>> ConnMap::StreamsOf(Vbid vbid) {
  VbStreams& vs = vbs_[vbid];
  std::vector<std::weak_ptr<ActiveStream>> weak;
  {
    MutexLock lock(&vs.mu);
    // Prune entries whose stream is gone (its producer was destroyed without removing it).
    std::erase_if(vs.entries, [](const VbStreams::Entry& e) { return e.stream.expired(); });
    vs.count.store(static_cast<uint32_t>(vs.entries.size()), std::memory_order_relaxed);
    weak.reserve(vs.entries.size());
    for (const auto& e : vs.entries) weak.push_back(e.stream);
  }
  std::vector<std::shared_ptr<ActiveStream>> live;
  live.reserve(weak.size());
  for (auto& w : weak) {
    if (std::shared_ptr<ActiveStream> s = w.lock()) live.push_back(std::move(s));
  }
  return live;
}

void ConnMap::OnSeqnoAdvanced(Vbid vbid, uint64_t seqno) {
  // The hot path: every write of the bucket. Nearly free when nobody streams this vbucket.
  if (vbid >= num_vbuckets_ || vbs_[vbid].count.load(std::memory_order_relaxed) == 0) return;
  // Promoted outside the directory lock; released at the end of this function with no lock held
  // (a stream - or, through it, a producer - may be destroyed here).
  for (const auto& stream : StreamsOf(vbid)) stream->NotifySeqnoAvailable();
}

void ConnMap::OnVBucketStateChanged(Vbid vbid, VBucketState state, bool deleted) {
  if (vbid >= num_vbuckets_ || vbs_[vbid].count.load(std::memory_order_relaxed) == 0) return;
  std::vector<std::shared_ptr<ActiveStream>> streams = StreamsOf(vbid);
  for (const auto& stream : streams) {
    stream->EndStream(protocol::DcpStreamEndStatus::kStateChanged);
  }
  if (!streams.empty()) {
    LOG_INFO("dcp: vb:{} {} ({}): {} streams ended", vbid, deleted ? "deleted" : "changed state",
             VBucketStateName(state), streams.size());
  }
}

// ---- stats ----

namespace {

// kv_engine's DcpStatsOptions: {"stream_format": "legacy"|"json"|"skip", "filter": {"user": U,
// "port": P}}. What does not parse is ignored (logged), as there.
struct DcpStatsOptions {
  Producer::StreamStatsFormat format = Producer::StreamStatsFormat::kLegacy;
  std::optional<std::string> user;
  std::optional<uint16_t> port;

  // A connection is listed (its own stats and its share of the aggregates) if it matches.
  bool Includes(const Producer& p) const {
    return (!user || *user == p.user()) && (!port || *port == p.port());
  }
};

DcpStatsOptions ParseDcpStatsOptions(std::string_view options) {
  using Format = Producer::StreamStatsFormat;
  DcpStatsOptions out;
  if (options.empty()) return out;
  const nlohmann::json json = nlohmann::json::parse(options, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) {
    LOG_WARN("STAT dcp: ignoring options that are not a JSON object: {}", options);
    return out;
  }
  if (const auto it = json.find("stream_format"); it != json.end()) {
    const std::string name = it->is_string() ? it->get<std::string>() : std::string();
    if (name == "legacy") {
      out.format = Format::kLegacy;
    } else if (name == "json") {
      out.format = Format::kJson;
    } else if (name == "skip") {
      out.format = Format::kSkip;
    } else {
      LOG_WARN("STAT dcp: ignoring unknown stream_format {}",
               it->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
    }
  }
  if (const auto filter = json.find("filter"); filter != json.end() && filter->is_object()) {
    if (const auto user = filter->find("user"); user != filter->end()) {
      if (user->is_string()) {
        out.user = user->get<std::string>();
      } else {
        LOG_WARN("STAT dcp: ignoring a filter user that is not a string");
      }
    }
    if (const auto port = filter->find("port"); port != filter->end()) {
      if (port->is_number_unsigned() && port->get<uint64_t>() <= UINT16_MAX) {
        out.port = static_cast<uint16_t>(port->get<uint64_t>());
      } else {
        LOG_WARN("STAT dcp: ignoring a filter port that is not a port number");
      }
    }
  }
  return out;
}

}  // namespace

Status ConnMap::GetStats(std::string_view group, std::string_view options,
                         const engine::AddStatFn& add,
                         const ConsumerStatsFn& consumer_stats) const {
  // "dcp [json]" or "dcpagg [sep]".
  std::string_view name = group;
  std::string_view arg;
  if (const size_t space = group.find(' '); space != std::string_view::npos) {
    name = group.substr(0, space);
    arg = group.substr(space + 1);
  }
  const std::vector<std::shared_ptr<Producer>> producers = LiveProducers();
  if (name == "dcp") {
    // The JSON may also follow the group name ("dcp {...}", as mcstat sends it).
    const std::string_view json_options =
        !options.empty() ? options
                         : (!arg.empty() && arg.front() == '{' ? arg : std::string_view());
    const DcpStatsOptions parsed = ParseDcpStatsOptions(json_options);
    Producer::Aggregate total;
    for (const auto& p : producers) {
      if (parsed.Includes(*p)) p->AddAggregate(&total);
    }
    auto stat = [&](std::string_view key, const auto& value) {
      add(key, fmt::format("{}", value));
    };
    const uint64_t consumers = consumers_.load(std::memory_order_relaxed);
    stat("ep_dcp_count", producers.size() + consumers);
    stat("ep_dcp_producer_count", producers.size());
    stat("ep_dcp_consumer_count", consumers);
    stat("ep_dcp_total_bytes", total.total_bytes);
    stat("ep_dcp_items_sent", total.items_sent);
    stat("ep_dcp_items_remaining", total.stream.items_remaining);
    stat("ep_dcp_backfill_disk", total.stream.backfill_disk_items);
    stat("ep_dcp_num_running_backfills", tracker_->num_running());
    stat("ep_dcp_max_running_backfills", tracker_->max_running());
    stat("ep_dcp_backfill_snapshots_opened", tracker_->snapshots_opened());
    stat("ep_dcp_backfill_scans_started", tracker_->scans_started());
    stat("ep_dcp_backfill_open_scans", tracker_->open_scans());
    for (const auto& p : producers) {
      if (parsed.Includes(*p)) p->AddStats(add, parsed.format);
    }
    if (consumer_stats) consumer_stats({parsed.format, parsed.user, parsed.port}, add);
    return Status::Ok();
  }
  if (name == "dcpagg") {
    const std::string sep = arg.empty() ? ":" : std::string(arg.substr(0, 8));
    // kv_engine's ConnAggStatBuilder: strip through the first ':' ("eq_dcpq:"), the type is what
    // precedes `sep` in the rest ("_unknown" if there is none); ":total" sums everything.
    std::map<std::string, std::pair<size_t, Producer::Aggregate>> groups;
    for (const auto& p : producers) {
      std::string_view rest = p->conn_name();
      rest.remove_prefix(std::min(rest.size(), rest.find(':') + 1));
      const size_t pos = rest.find(sep);
      const std::string type =
          pos == std::string_view::npos ? "_unknown" : std::string(rest.substr(0, pos));
      for (const std::string& key : {type, sep + "total"}) {
        auto& [count, agg] = groups[key];
        ++count;
        p->AddAggregate(&agg);
      }
    }
    if (groups.empty()) groups[sep + "total"];
    for (const auto& group_entry : groups) {
      const std::string& type = group_entry.first;
      const size_t count = group_entry.second.first;
      const Producer::Aggregate& agg = group_entry.second.second;
      auto stat = [&](std::string_view key, const auto& value) {
        add(fmt::format("{}:{}", type, key), fmt::format("{}", value));
      };
      stat("count", count);
      stat("producer_count", count);
      stat("activestream_count", agg.streams);
      stat("passivestream_count", 0);
      stat("items_sent", agg.items_sent);
      stat("items_remaining", agg.stream.items_remaining);
      stat("total_bytes", agg.total_bytes);
      stat("ready_queue_bytes", agg.stream.ready_queue_memory);
      stat("items_backfilled_disk", agg.stream.backfill_disk_items);
    }
    return Status::Ok();
  }
  return Status(Errc::kNotFound, "unknown DCP stat group");
}

}  // namespace sluice::dcp
