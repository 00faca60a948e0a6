#include "cluster/node_agent.h"

#include <fmt/format.h>

#include <charconv>
#include <cstdlib>
#include <thread>

#include "cluster/cluster_keys.h"
#include "common/logging.h"

namespace sluice::cluster {
namespace {

using Clock = std::chrono::steady_clock;

// The epoch key's value: a positive decimal integer; nullopt if it is not one.
std::optional<int64_t> ParseEpoch(std::string_view text) {
  int64_t value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value < 1) return std::nullopt;
  return value;
}

}  // namespace

std::string_view NodeAgent::StateName(State state) {
  switch (state) {
    case State::kRegistering:
      return "registering";
    case State::kWaitingForMap:
      return "waiting_for_map";
    case State::kServing:
      return "serving";
    case State::kFenced:
      return "fenced";
    case State::kStopped:
      return "stopped";
  }
  return "unknown";
}

NodeAgent::NodeAgent(std::shared_ptr<EtcdClient> client, NodeAgentOptions options,
                     NodeAgentHost& host)
    : client_(std::move(client)),
      options_(std::move(options)),
      host_(host),
      map_key_(ClusterKeys(options_.cluster).Map(options_.bucket)),
      epoch_key_(ClusterKeys(options_.cluster).Epoch()),
      rebalance_key_(ClusterKeys(options_.cluster).Rebalance()) {
  LeaseKeeperOptions keeper_options;
  keeper_options.ttl = options_.ttl;
  keeper_options.retry = options_.retry;
  keeper_ = std::make_unique<LeaseKeeper>(
      client_, keeper_options,
      LeaseKeeper::Callbacks{
          .on_granted = [this](int64_t lease) { OnGranted(lease); },
          .on_lost = [this](int64_t lease, const Status& why) { OnLost(lease, why); },
          .on_expiry = [this](int64_t,
                              Clock::time_point expiry) { host_.SetWritesValidUntil(expiry); }});
  mirror_ = std::make_unique<PrefixMirror>(
      client_, ClusterKeys(options_.cluster).prefix(),
      PrefixMirror::Callbacks{.on_update = [this](const MirrorUpdate& update) { OnUpdate(update); },
                              .on_interrupted = [this](const Status& why) { OnInterrupted(why); }},
      options_.retry);
}

NodeAgent::~NodeAgent() { Stop().IgnoreError(); }

void NodeAgent::Start() {
  host_.SetWritesFenced(true);
  host_.OnStateChanged(StateName(State::kRegistering));
  LOG_INFO("cluster {}: node {} joining through etcd (lease TTL {} s, map key {})",
           options_.cluster, options_.node_id, options_.ttl.count(), map_key_);
  mirror_->Start();
  keeper_->Start();
}

Status NodeAgent::Stop() {
  {
    MutexLock lock(&mu_);
    if (stopping_) return Status::Ok();
    stopping_ = true;
  }
  mirror_->Stop();
  Status revoked = keeper_->Stop();
  MutexLock lock(&mu_);
  TransitionLocked(State::kStopped);
  if (!revoked.ok()) {
    LOG_WARN("cluster {}: lease not revoked ({}): nodes/{} ends with its TTL", options_.cluster,
             revoked.ToString(), options_.node_id);
  }
  return revoked;
}

NodeAgent::State NodeAgent::state() const {
  MutexLock lock(&mu_);
  return state_;
}

int64_t NodeAgent::map_rev() const {
  MutexLock lock(&mu_);
  return applied_rev_;
}

int64_t NodeAgent::epoch() const {
  MutexLock lock(&mu_);
  return applied_epoch_;
}

bool NodeAgent::ValidTransition(State from, State to) {
  if (to == State::kStopped) return true;
  switch (from) {
    case State::kRegistering:
    case State::kFenced:
      return to == State::kWaitingForMap;
    case State::kWaitingForMap:
      return to == State::kServing || to == State::kFenced;
    case State::kServing:
      return to == State::kFenced;
    case State::kStopped:
      return false;
  }
  return false;
}

void NodeAgent::TransitionLocked(State next) {
  if (next == state_) return;
  if (!ValidTransition(state_, next)) {
    LOG_CRITICAL("node agent: invalid transition {} -> {}", StateName(state_), StateName(next));
    std::abort();
  }
  LOG_INFO("cluster {}: node {} {} -> {}", options_.cluster, options_.node_id, StateName(state_),
           StateName(next));
  state_ = next;
  host_.SetWritesFenced(next != State::kServing);
  host_.OnStateChanged(StateName(next));
}

int64_t NodeAgent::Register(int64_t lease) {
  const std::string key = ClusterKeys(options_.cluster).Node(options_.node_id);
  const std::string value = FormatNodeRegistration({.id = options_.node_id,
                                                    .host = options_.host,
                                                    .port = options_.port,
                                                    .metrics_port = options_.metrics_port});
  // A put that fails while etcd is away is retried while the lease may still be valid; once it
  // is not, the keeper reports the loss and grants a new lease, which registers again.
  const auto deadline = Clock::now() + options_.ttl;
  while (true) {
    auto put = client_->Put(key, value, {.lease = lease});
    if (put.ok()) return put->revision;
    {
      MutexLock lock(&mu_);
      if (stopping_) return 0;
    }
    if (Clock::now() >= deadline) {
      LOG_WARN("cluster {}: cannot register {}: {}", options_.cluster, key,
               put.status().ToString());
      return 0;
    }
    // etcd did not take the put: try again shortly, bounded by the deadline above.
    std::this_thread::sleep_for(options_.retry.initial);
  }
}

void NodeAgent::OnGranted(int64_t lease) {
  const int64_t revision = Register(lease);
  if (revision == 0) return;
  MutexLock lock(&mu_);
  if (stopping_) return;
  registered_rev_ = revision;
  LOG_INFO("cluster {}: node {} registered under lease {:x} at revision {}", options_.cluster,
           options_.node_id, lease, revision);
  TransitionLocked(State::kWaitingForMap);
  MaybeServeLocked();
}

void NodeAgent::OnLost(int64_t lease, const Status& why) {
  MutexLock lock(&mu_);
  if (stopping_) return;
  registered_rev_ = 0;
  if (state_ == State::kServing || state_ == State::kWaitingForMap) {
    LOG_WARN(
        "cluster {}: node {} fenced (lease {:x} lost: {}): writes answer TMPFAIL until it is "
        "registered again and has seen the map",
        options_.cluster, options_.node_id, lease, why.ToString());
    TransitionLocked(State::kFenced);
  }
}

void NodeAgent::OnInterrupted(const Status& why) {
  MutexLock lock(&mu_);
  if (interrupted_) return;
  interrupted_ = true;
  LOG_WARN("cluster {}: lost etcd ({}): serving with the last map (rev {}) until it is back",
           options_.cluster, why.ToString(), applied_rev_);
}

bool NodeAgent::ApplySnapshot(const MirrorSnapshot& snapshot) {
  int64_t epoch = 1;
  {
    MutexLock lock(&mu_);
    epoch = applied_epoch_;
  }
  if (auto it = snapshot.kvs.find(epoch_key_); it == snapshot.kvs.end()) {
    epoch = 1;
  } else if (auto parsed = ParseEpoch(it->second.value)) {
    epoch = *parsed;
  } else {
    LOG_WARN("cluster {}: {} is not a positive integer ('{}'): keeping epoch {}", options_.cluster,
             epoch_key_, it->second.value, epoch);
  }
  auto it = snapshot.kvs.find(map_key_);
  if (it == snapshot.kvs.end()) return false;
  const int64_t rev = it->second.mod_revision;
  {
    MutexLock lock(&mu_);
    if (rev == applied_rev_ && epoch == applied_epoch_) return true;
    if (rev == refused_rev_) return false;
  }
  auto map = ClusterMap::Parse(it->second.value, options_.num_vbuckets);
  if (!map.ok()) {
    LOG_ERROR("cluster {}: the map at revision {} is not valid: {} (keeping the last one)",
              options_.cluster, rev, map.status().ToString());
    MutexLock lock(&mu_);
    refused_rev_ = rev;
    return false;
  }
  Status applied = host_.ApplyMap(std::make_shared<const ClusterMap>(std::move(*map)), rev, epoch);
  if (!applied.ok()) {
    LOG_ERROR("cluster {}: cannot apply the map at revision {}: {}", options_.cluster, rev,
              applied.ToString());
    return false;
  }
  LOG_INFO("cluster {}: map rev {} (epoch {}) applied", options_.cluster, rev, epoch);
  MutexLock lock(&mu_);
  applied_rev_ = rev;
  applied_epoch_ = epoch;
  return true;
}

void NodeAgent::TellRebalance(const MirrorSnapshot& snapshot) {
  auto it = snapshot.kvs.find(rebalance_key_);
  const int64_t rev = it == snapshot.kvs.end() ? 0 : it->second.mod_revision;
  {
    MutexLock lock(&mu_);
    if (rev == rebalance_rev_) return;
    rebalance_rev_ = rev;
  }
  std::optional<RebalanceStatus> status;
  if (it != snapshot.kvs.end()) {
    auto parsed = ParseRebalance(it->second.value);
    if (parsed.ok()) status = std::move(*parsed);
  }
  host_.OnRebalance(status);
}

void NodeAgent::OnUpdate(const MirrorUpdate& update) {
  const bool current = ApplySnapshot(*update.snapshot);
  TellRebalance(*update.snapshot);
  MutexLock lock(&mu_);
  if (interrupted_) {
    interrupted_ = false;
    LOG_INFO("cluster {}: etcd is back (revision {})", options_.cluster, update.snapshot->revision);
  }
  mirror_rev_ = update.snapshot->revision;
  map_current_ = current;
  MaybeServeLocked();
}

void NodeAgent::MaybeServeLocked() {
  if (state_ != State::kWaitingForMap || stopping_) return;
  if (registered_rev_ == 0 || mirror_rev_ < registered_rev_ || !map_current_) return;
  TransitionLocked(State::kServing);
}

}  // namespace sluice::cluster
