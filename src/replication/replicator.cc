#include "replication/replicator.h"

#include <fmt/format.h>

#include <set>

#include "common/logging.h"

namespace sluice::replication {

Replicator::Replicator(ReplicatorOptions options, std::shared_ptr<engine::Bucket> bucket)
    : options_(std::move(options)), bucket_(std::move(bucket)) {}

Replicator::~Replicator() { Stop(); }

std::string Replicator::ConnName(const std::string& node_id) const {
  return fmt::format("replication:{}->{}:{}", node_id, options_.node_id, options_.bucket);
}

LinkOptions Replicator::OptionsFor(const ReplicaSource& source) const {
  LinkOptions o;
  o.conn_name = ConnName(source.node_id);
  o.consumer_name = options_.node_id;
  o.host = source.host;
  o.port = source.port;
  o.bucket = options_.bucket;
  o.user = options_.user;
  o.password = options_.password;
  o.buffer_size = options_.buffer_size;
  o.noop_interval_seconds = options_.noop_interval_seconds;
  o.throttle_mem_bytes = static_cast<uint64_t>(static_cast<double>(bucket_->config().max_size) *
                                               options_.throttle_threshold);
  o.min_backoff = options_.min_backoff;
  o.max_backoff = options_.max_backoff;
  o.connect_timeout = options_.connect_timeout;
  o.io_timeout = options_.io_timeout;
  return o;
}

void Replicator::SetSources(std::vector<ReplicaSource> sources) {
  // The last entry of a vbucket wins; then group by node.
  std::map<Vbid, const ReplicaSource*> by_vb;
  for (const auto& s : sources) by_vb[s.vb] = &s;
  std::map<std::string, std::pair<const ReplicaSource*, std::set<Vbid>>> by_node;
  for (const auto& [vb, s] : by_vb) {
    auto& entry = by_node[s->node_id];
    entry.first = s;
    entry.second.insert(vb);
  }
  std::vector<std::unique_ptr<PeerLink>> retired;  // stopped after the lock is released
  {
    MutexLock lock(&mu_);
    if (stopped_) {
      LOG_WARN("replication: sources set after the replicator stopped: ignored");
      return;
    }
    for (auto it = links_.begin(); it != links_.end();) {
      auto wanted = by_node.find(it->first);
      if (wanted == by_node.end() || wanted->second.first->host != it->second.host ||
          wanted->second.first->port != it->second.port) {
        LOG_INFO("replication: link {} retired", it->second.link->options().conn_name);
        retired.push_back(std::move(it->second.link));
        it = links_.erase(it);
      } else {
        ++it;
      }
    }
    source_node_.clear();
    for (const auto& [vb, s] : by_vb) source_node_.emplace(vb, s->node_id);
    for (auto& [node, entry] : by_node) {
      auto it = links_.find(node);
      if (it == links_.end()) {
        Link link;
        link.host = entry.first->host;
        link.port = entry.first->port;
        link.link = std::make_unique<PeerLink>(OptionsFor(*entry.first), bucket_);
        LOG_INFO("replication: link {} to {}:{} for {} vbuckets", ConnName(node), link.host,
                 link.port, entry.second.size());
        it = links_.emplace(node, std::move(link)).first;
      }
      it->second.link->SetVBuckets(std::move(entry.second));
    }
  }
  for (auto& link : retired) link->Stop();
}

void Replicator::Stop() {
  std::map<std::string, Link> links;
  {
    MutexLock lock(&mu_);
    stopped_ = true;
    links.swap(links_);
    source_node_.clear();
  }
  for (auto& [node, link] : links) link.link->Stop();
}

void Replicator::OnReplicaSynced(Vbid vb) {
  MutexLock lock(&mu_);
  auto source = source_node_.find(vb);
  if (source == source_node_.end()) return;
  auto link = links_.find(source->second);
  if (link != links_.end()) link->second.link->NotifyPersisted();
}

std::map<std::string, LinkStats> Replicator::Stats() const {
  std::map<std::string, LinkStats> out;
  MutexLock lock(&mu_);
  for (const auto& [node, link] : links_) out.emplace(node, link.link->stats());
  return out;
}

void Replicator::AddStats(const engine::AddStatFn& add) const {
  std::vector<std::pair<std::string, LinkStats>> links;
  {
    MutexLock lock(&mu_);
    for (const auto& [node, link] : links_) {
      links.emplace_back(link.link->options().conn_name, link.link->stats());
    }
  }
  for (const auto& link : links) {
    const std::string& conn = link.first;
    const LinkStats& s = link.second;
    auto stat = [&](std::string_view name, const auto& value) {
      add(fmt::format("eq_dcpq:{}:{}", conn, name), fmt::format("{}", value));
    };
    stat("type", "consumer");
    stat("connected", s.connected ? "true" : "false");
    stat("connects", s.connects);
    stat("connect_failures", s.connect_failures);
    stat("messages_received", s.messages);
    stat("total_bytes_received", s.bytes_received);
    stat("total_bytes_acked", s.bytes_acked);
    stat("unacked_bytes", s.unacked_bytes);
    stat("throttled", s.throttled);
    stat("num_streams", s.streams.size());
    if (!s.last_error.empty()) stat("last_error", s.last_error);
    for (const auto& stream : s.streams) {
      const Vbid vb = stream.first;
      const PassiveStreamStats& st = stream.second;
      auto sstat = [&](std::string_view name, const auto& value) {
        add(fmt::format("eq_dcpq:{}:stream_{}_{}", conn, vb, name), fmt::format("{}", value));
      };
      sstat("state", st.state);
      sstat("last_received_seqno", st.last_received_seqno);
      sstat("items", st.items);
      sstat("markers", st.markers);
      sstat("requests", st.requests);
      sstat("rollbacks", st.rollbacks);
      sstat("rollback_resets", st.rollback_resets);
      sstat("errors", st.errors);
      sstat("last_snapshot_start", st.last_snapshot_start);
      sstat("last_snapshot_end", st.last_snapshot_end);
    }
  }
}

void Replicator::AddDcpStats(DcpStreamStatsFormat format, const engine::AddStatFn& add,
                             const std::optional<std::string>& user) const {
  std::vector<std::pair<LinkOptions, LinkStats>> links;
  {
    MutexLock lock(&mu_);
    for (const auto& [node, link] : links_) {
      links.emplace_back(link.link->options(), link.link->stats());
    }
  }
  for (auto& [options, s] : links) {
    if (user && *user != options.user) continue;
    ConsumerConnStats c;
    c.name = options.conn_name;
    c.user = options.user;
    c.created = s.created;
    c.total_acked_bytes = s.bytes_acked;
    c.max_buffer_bytes = options.buffer_size;
    c.unacked_bytes = s.unacked_bytes;
    c.total_backoffs = s.throttled;
    c.messages = s.messages;
    c.total_bytes_received = s.bytes_received;
    c.synchronous_replication = true;  // the links always ask for enable_sync_writes
    c.streams = std::move(s.streams);
    AddConsumerDcpStats(c, format, add);
  }
}

}  // namespace sluice::replication
