// File: cluster/manager.cc
//
// The manager's lifecycle and its loop: when to fail whom over. The failover itself is in
// manager_failover.cc, a failed-over node's return in manager_rejoin.cc.
#include "cluster/manager.h"

#include <algorithm>
#include <utility>

#include "cluster/map_planner.h"
#include "common/logging.h"

namespace sluice::cluster {
namespace {

// auto_failover_timeout is at least 1 s, as the settings key's parser insists.
ManagerOptions WithMinimums(ManagerOptions options) {
  auto& timeout = options.defaults.auto_failover_timeout;
  if (timeout < ClusterSettings::kMinAutoFailoverTimeout) {
    LOG_WARN("manager {}: auto_failover_timeout {} s raised to the minimum, {} s", options.node_id,
             timeout.count(), ClusterSettings::kMinAutoFailoverTimeout.count());
    timeout = ClusterSettings::kMinAutoFailoverTimeout;
  }
  return options;
}

}  // namespace

Manager::Manager(std::shared_ptr<EtcdClient> client, ManagerOptions options,
                 std::shared_ptr<SeqnoProbe> probe)
    : client_(std::move(client)),
      options_(WithMinimums(std::move(options))),
      keys_(options_.cluster),
      probe_(std::move(probe)),
      mirror_(client_, keys_.prefix(),
              PrefixMirror::Callbacks{.on_update = [this](const MirrorUpdate&) { Wake(); },
                                      .on_interrupted =
                                          [this](const Status& why) {
                                            LOG_WARN("manager {}: lost the view of {}: {}",
                                                     options_.node_id, keys_.prefix(),
                                                     why.ToString());
                                          }},
              options_.retry),
      election_(
          client_,
          ElectionOptions{.key = keys_.Manager(),
                          .candidate = options_.node_id,
                          .ttl = options_.election_ttl,
                          .retry = options_.retry},
          Election::Callbacks{.on_elected = [this](const Leadership&) { Wake(); },
                              .on_deposed = [this](const Leadership&, const Status&) { Wake(); }}) {
}

Manager::~Manager() { Stop(); }

void Manager::Start() {
  mirror_.Start();
  election_.Start();
  thread_ = std::thread([this] { Loop(); });
}

void Manager::Stop() {
  {
    MutexLock lock(&mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    cv_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
  election_.Stop();
  mirror_.Stop();
}

ManagerStats Manager::stats() const {
  MutexLock lock(&mu_);
  return stats_;
}

void Manager::Wake() {
  MutexLock lock(&mu_);
  woken_ = true;
  cv_.SignalAll();
}

void Manager::Loop() {
  while (true) {
    {
      MutexLock lock(&mu_);
      const auto deadline = std::chrono::steady_clock::now() +
                            (moves_in_flight_ ? options_.move_poll : options_.poll);
      while (!stopping_ && !woken_) {
        if (!cv_.WaitUntil(&mu_, deadline)) break;
      }
      if (stopping_) return;
      woken_ = false;
    }
    const auto term = election_.leadership();
    const auto snapshot = mirror_.snapshot();
    if (!term || term->create_revision != timed_term_) {
      // Absences are timed within one term: a new term starts every clock again.
      absent_since_.clear();
      refusal_logged_.clear();
      timed_term_ = term ? term->create_revision : 0;
    }
    if (!term || !snapshot) {
      moves_in_flight_ = false;
      continue;
    }
    if (snapshot != parsed_from_) {  // parse each snapshot once
      state_ = ClusterState::Read(keys_, snapshot->kvs, snapshot->revision, options_.defaults);
      parsed_from_ = snapshot;
      LogNewProblems(state_->problems);
    }
    Evaluate(*term, *state_);
  }
}

std::optional<std::string> Manager::AutoRefusal(const ClusterState& state,
                                                const std::string& node) const {
  if (state.failover_count >= state.settings.auto_failover_max_count) {
    return fmt::format(
        "auto_failover_max_count ({}) reached; reset it with sluice cluster "
        "reset-failover-count",
        state.settings.auto_failover_max_count);
  }
  const auto members = state.InClusterMembers();
  size_t alive = 0;
  for (const auto& id : members) alive += (id != node && state.IsAlive(id)) ? 1 : 0;
  if (!LeavesMajority(members.size(), alive)) {
    return fmt::format("only {} of {} members would remain alive: never fail over into a minority",
                       alive, members.size());
  }
  return std::nullopt;
}

void Manager::Evaluate(const Leadership& term, const ClusterState& state) {
  moves_in_flight_ = false;  // set again by a rebalance or graceful step still under way
  if (EvaluateFailovers(term, state) || EvaluateRejoins(term, state)) return;
  RebalanceStep(term, state);
}

bool Manager::EvaluateFailovers(const Leadership& term, const ClusterState& state) {
  // Requests first: the operator asked. One failover per look: the next is judged on the state
  // the first one wrote. A failover that could not be done does not hold up the others.
  for (const auto& [id, status] : state.members) {
    if (status == MemberStatus::kFailoverRequested &&
        FailedOverAndCaughtUp(FailOver(term, id, Kind::kManual))) {
      return true;
    }
    // Graceful: its actives move to their replicas first (manager_rebalance.cc), then the hard
    // failover takes it out of the maps; a node that is not alive is failed over hard at once.
    if (status == MemberStatus::kGracefulFailoverRequested) {
      // While its moves are under way the other checks go on (a node that dies meanwhile is
      // still failed over automatically; its failover drops the moves, which then restart).
      if (state.IsAlive(id) && !GracefulStep(term, state, id)) continue;
      if (FailedOverAndCaughtUp(FailOver(term, id, Kind::kManual))) return true;
    }
  }
  const auto now = std::chrono::steady_clock::now();
  for (const auto& [id, status] : state.members) {
    const bool holds_data =
        status == MemberStatus::kActive || status == MemberStatus::kPendingRemove;
    if (!holds_data || state.IsAlive(id)) {
      absent_since_.erase(id);
      // A pending request keeps its logged error (logged once, not at every look).
      if (status != MemberStatus::kFailoverRequested &&
          status != MemberStatus::kGracefulFailoverRequested) {
        refusal_logged_.erase(id);
      }
      continue;
    }
    const auto since = absent_since_.try_emplace(id, now).first->second;
    if (now - since < state.settings.auto_failover_timeout) continue;
    if (auto refusal = AutoRefusal(state, id)) {
      if (refusal_logged_[id] != *refusal) {
        LOG_WARN("manager {}: not failing over {}: {}", options_.node_id, id, *refusal);
        refusal_logged_[id] = *refusal;
        MutexLock lock(&mu_);
        ++stats_.refusals;
      }
      continue;
    }
    if (FailedOverAndCaughtUp(FailOver(term, id, Kind::kAutomatic))) {
      absent_since_.erase(id);
      return true;
    }
  }
  return false;
}

void Manager::LogNewProblems(const std::vector<std::string>& problems) {
  for (const auto& problem : problems) {
    if (std::find(problems_.begin(), problems_.end(), problem) == problems_.end()) {
      LOG_WARN("manager {}: ignoring {}", options_.node_id, problem);
    }
  }
  problems_ = problems;
}

bool Manager::FailedOverAndCaughtUp(int64_t revision) {
  if (revision == 0) return false;
  // Bounded: if the mirror lags, the next look reads a stale state and TryFailOver's fresh read
  // finds nothing to do.
  mirror_.WaitForRevision(revision, std::chrono::steady_clock::now() + options_.poll * 10);
  return true;
}

}  // namespace sluice::cluster
