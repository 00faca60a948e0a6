#include "cluster/election.h"

#include <cstdlib>
#include <utility>

#include "common/logging.h"

namespace sluice::cluster {
namespace {

// The key-value a txn's range response carries (the campaign's "get key").
std::optional<EtcdKeyValue> RangedKey(const TxnResult& txn) {
  for (const auto& response : txn.responses) {
    if (const auto* range = std::get_if<RangeResult>(&response); range && !range->kvs.empty()) {
      return range->kvs.front();
    }
  }
  return std::nullopt;
}

}  // namespace

Election::Election(std::shared_ptr<EtcdClient> client, ElectionOptions options, Callbacks callbacks)
    : client_(std::move(client)),
      options_(std::move(options)),
      callbacks_(std::move(callbacks)),
      backoff_(options_.retry),
      keeper_(client_, {.ttl = options_.ttl, .retry = options_.retry},
              {.on_granted = [this](int64_t lease) { OnLease(lease); },
               .on_lost = [this](int64_t, const Status&) { OnLease(0); }}) {}

Election::~Election() { Stop(); }

void Election::Start() {
  {
    MutexLock lock(&mu_);
    if (role_ != Role::kIdle) return;
  }
  SetRole(Role::kCampaigning);
  keeper_.Start();
  thread_ = std::thread([this] { Loop(); });
}

void Election::Stop() {
  std::shared_ptr<WatchStream> stream;
  {
    MutexLock lock(&mu_);
    if (role_ == Role::kStopped) return;
    stopping_ = true;
    stream = stream_;
    cv_.SignalAll();
  }
  if (stream) stream->Cancel();
  if (thread_.joinable()) thread_.join();
  std::optional<Leadership> term;
  {
    MutexLock lock(&mu_);
    term = term_;
  }
  if (term) {
    // Resign: delete the key only if this term still holds it. Best effort: revoking the lease
    // below deletes it too, and if etcd is away it goes at the lease's expiry.
    client_->Txn({.compare = {term->Guard()}, .success = {TxnOp::Delete(term->key)}})
        .status()
        .IgnoreError();
  }
  keeper_.Stop().IgnoreError();  // if etcd is away the lease ends at its TTL
  SetRole(Role::kStopped);
}

Election::Role Election::role() const {
  MutexLock lock(&mu_);
  return role_;
}

std::optional<Leadership> Election::leadership() const {
  MutexLock lock(&mu_);
  return term_;
}

bool Election::AwaitLeadership(std::chrono::steady_clock::time_point deadline) const {
  MutexLock lock(&mu_);
  while (role_ != Role::kLeading && !stopping_) {
    if (!cv_.WaitUntil(&mu_, deadline) && std::chrono::steady_clock::now() >= deadline) break;
  }
  return role_ == Role::kLeading;
}

StatusOr<EtcdKeyValue> Election::Leader(EtcdClient& client, std::string_view key) {
  return client.Get(key);
}

void Election::OnLease(int64_t lease) {
  std::shared_ptr<WatchStream> stream;
  {
    MutexLock lock(&mu_);
    lease_ = lease;
    stream = stream_;
    cv_.SignalAll();
  }
  // Wake the campaign thread out of its watch: a new lease means campaigning with it, a lost one
  // means the term (if any) is over.
  if (stream) stream->Cancel();
}

// The one transition check (the diagram in election.h). A failed campaign campaigns again.
bool Election::ValidTransition(Role from, Role to) {
  switch (to) {
    case Role::kCampaigning:
      return from != Role::kStopped;
    case Role::kFollowing:
    case Role::kLeading:
      return from == Role::kCampaigning;
    case Role::kStopped:
      return from != Role::kStopped;
    case Role::kIdle:
      return false;
  }
  return false;
}

void Election::SetRole(Role role, std::optional<Leadership> term) {
  MutexLock lock(&mu_);
  if (!ValidTransition(role_, role)) {
    LOG_CRITICAL("election {}: invalid transition {} -> {}", options_.key, static_cast<int>(role_),
                 static_cast<int>(role));
    std::abort();
  }
  role_ = role;
  term_ = std::move(term);
  cv_.SignalAll();
}

std::shared_ptr<WatchStream> Election::NewStream(int64_t lease) {
  auto stream = std::make_shared<WatchStream>(client_->transport().current_endpoint(),
                                              client_->transport().options());
  MutexLock lock(&mu_);
  if (stopping_ || lease_ != lease) return nullptr;
  stream_ = stream;
  return stream;
}

bool Election::Pause(std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  MutexLock lock(&mu_);
  while (!stopping_ && std::chrono::steady_clock::now() < deadline) cv_.WaitUntil(&mu_, deadline);
  return !stopping_;
}

void Election::Loop() {
  while (true) {
    int64_t lease;
    {
      MutexLock lock(&mu_);
      while (!stopping_ && lease_ == 0) cv_.Wait(&mu_);
      if (stopping_) return;
      lease = lease_;
    }
    Campaign(lease);
  }
}

void Election::Campaign(int64_t lease) {
  SetRole(Role::kCampaigning);
  const std::string& key = options_.key;
  auto txn = client_->Txn({
      .compare = {Compare::CreateRevision(key, CompareOp::kEqual, 0)},
      .success = {TxnOp::Put(key, options_.candidate, lease), TxnOp::Get(key)},
      .failure = {TxnOp::Get(key)},
  });
  if (!txn.ok()) {
    LOG_DEBUG("election {}: campaign failed: {}", key, txn.status().ToString());
    Pause(backoff_.Next());
    return;
  }
  backoff_.Reset();
  const auto holder = RangedKey(*txn);
  // Won, or the key is already this candidate's under this very lease.
  if (holder && holder->lease == lease && holder->value == options_.candidate) {
    Lead({.key = key,
          .candidate = options_.candidate,
          .lease = lease,
          .create_revision = holder->create_revision,
          .mod_revision = holder->mod_revision},
         txn->revision + 1);
    return;
  }
  Follow(lease, txn->revision + 1);
}

void Election::Lead(Leadership term, int64_t watch_from) {
  SetRole(Role::kLeading, term);
  LOG_INFO("election {}: {} leads (create_revision {})", term.key, term.candidate,
           term.create_revision);
  if (callbacks_.on_elected) callbacks_.on_elected(term);
  std::optional<Status> ended;
  while (!ended) {
    auto stream = NewStream(term.lease);
    if (!stream) {
      {
        MutexLock lock(&mu_);
        if (stopping_) return;  // Stop() resigns
      }
      ended = Status(Errc::kTempFail, "the election lease was lost");
      break;
    }
    const WatchEnd end =
        stream->Run({.key = term.key, .start_revision = watch_from}, [&](const WatchBatch& batch) {
          for (const auto& event : batch.events) {
            if (event.type == WatchEvent::Type::kDelete ||
                event.kv.create_revision != term.create_revision) {
              ended = Status(Errc::kNotFound, "the election key was deleted or replaced");
              stream->Cancel();  // from the callback: ends Run after this batch
            }
          }
        });
    watch_from = end.next_revision;
    if (ended || end.reason == WatchEnd::Reason::kCancelled) continue;  // re-checked above
    // The watch broke (or history was compacted): does the term still stand?
    auto check = CheckTerm(term);
    if (!check.ok()) {
      if (!Pause(backoff_.Next())) return;  // etcd away: the lease keeper decides
    } else if (*check == 0) {
      ended = Status(Errc::kNotFound, "the election key was deleted or replaced");
    } else {
      watch_from = *check;
    }
  }
  SetRole(Role::kCampaigning);
  LOG_WARN("election {}: {} deposed: {}", term.key, term.candidate, ended->ToString());
  if (callbacks_.on_deposed) callbacks_.on_deposed(term, *ended);
}

StatusOr<int64_t> Election::CheckTerm(const Leadership& term) {
  ASSIGN_OR_RETURN(auto range, client_->Range(term.key));
  if (range.kvs.empty() || range.kvs.front().create_revision != term.create_revision) {
    return int64_t{0};
  }
  return range.revision + 1;
}

void Election::Follow(int64_t lease, int64_t watch_from) {
  SetRole(Role::kFollowing);
  while (auto stream = NewStream(lease)) {
    bool deleted = false;
    const WatchEnd end = stream->Run({.key = options_.key, .start_revision = watch_from},
                                     [&](const WatchBatch& batch) {
                                       for (const auto& event : batch.events) {
                                         if (event.type == WatchEvent::Type::kDelete)
                                           deleted = true;
                                       }
                                       if (deleted) stream->Cancel();
                                     });
    if (deleted || end.reason != WatchEnd::Reason::kBroken) return;  // campaign (again)
    if (!Pause(backoff_.Next())) return;
    watch_from = end.next_revision;
  }
}

}  // namespace sluice::cluster
