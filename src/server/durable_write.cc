// File: server/durable_write.cc
#include "server/durable_write.h"

#include "common/logging.h"
#include "protocol/payload.h"

namespace sluice::server {

using protocol::DurabilityLevel;
using protocol::DurabilityRequirement;
using protocol::Frame;

std::optional<DurabilityRequirement> RequestedDurability(const Frame& req) {
  if (req.framing_extras.empty()) return std::nullopt;
  auto infos = protocol::ParseRequestFrameInfos(req.framing_extras);
  if (!infos.ok()) return std::nullopt;
  return infos->durability;
}

Status CheckDurabilityPossible(const engine::Bucket& bucket, Vbid vbid,
                               const DurabilityRequirement& requirement) {
  switch (requirement.level) {
    case DurabilityLevel::kMajority:
    case DurabilityLevel::kMajorityAndPersistOnMaster:
    case DurabilityLevel::kPersistToMajority:
      break;
    default:
      return Status(Errc::kDurabilityInvalidLevel);
  }
  // Only a vbucket this node does not own cannot take the write (answered like any other write
  // to it); the topology's part is the engine's (kDurabilityImpossible from the mutation).
  auto state = bucket.GetVBucketState(vbid);
  if (!state.ok()) return state.status();
  if (*state != VBucketState::kActive) return Status(Errc::kNotMyVbucket);
  return Status::Ok();
}

void RespondMutation(Connection& conn, const Frame& req, const MutationReply& reply) {
  std::string extras;
  if (conn.HasFeature(protocol::Feature::kMutationSeqno)) {
    protocol::AppendMutationTokenExtras(&extras, reply.result.vbucket_uuid, reply.result.seqno);
  }
  conn.Respond(req, reply.status, extras, {}, reply.value, reply.datatype, reply.result.cas);
}

DurableWrite::DurableWrite(Connection& conn, const Frame& req)
    : conn_(conn.waiter()), opaque_(req.opaque), opcode_(req.opcode) {}

Status DurableWrite::Park(Connection& conn, MutationReply reply) {
  reply_ = std::move(reply);
  {
    MutexLock lock(&mu_);
    if (state_ != State::kWaiting) return outcome_;  // resolved while the engine queued it
    parked_ = true;
  }
  conn.continuation() = shared_from_this();
  return Status(Errc::kWouldBlock);
}

std::shared_ptr<DurableWrite> DurableWrite::Take(Connection& conn, const Frame& req) {
  if (!conn.continuation()) return nullptr;
  auto write = std::dynamic_pointer_cast<DurableWrite>(conn.continuation());
  if (write == nullptr || write->opaque_ != req.opaque || write->opcode_ != req.opcode) {
    return nullptr;
  }
  {
    MutexLock lock(&write->mu_);
    // A frame is only run again once its wait resolved; anything else is not ours to take.
    if (write->state_ == State::kWaiting) return nullptr;
  }
  conn.continuation().reset();
  return write;
}

Status DurableWrite::outcome() const {
  MutexLock lock(&mu_);
  return outcome_;
}

void DurableWrite::NotifyIoComplete(Status status) {
  if (status.ok()) {
    Resolve(State::kCommitted, Status::Ok());
  } else {
    Resolve(State::kAmbiguous, Status(Errc::kSyncWriteAmbiguous, status.ToString()));
  }
}

void DurableWrite::Resolve(State to, Status outcome) {
  bool wake = false;
  {
    MutexLock lock(&mu_);
    if (state_ != State::kWaiting) return;  // the first resolution wins
    state_ = to;
    outcome_ = std::move(outcome);
    wake = parked_;
  }
  // The connection runs the frame again; Take() hands this write to the handler then.
  if (!wake) return;
  if (auto conn = conn_.lock()) conn->NotifyIoComplete(Status::Ok());
}

DurabilityScope::DurabilityScope(Connection& conn, const Frame& req, bool quiet)
    : conn_(conn), req_(req), quiet_(quiet), requirement_(RequestedDurability(req)) {}

bool DurabilityScope::Begin(engine::Bucket& bucket) {
  if (auto done = DurableWrite::Take(conn_, req_)) {
    const Status outcome = done->outcome();
    if (!outcome.ok()) {
      conn_.RespondError(req_, outcome);
    } else if (!quiet_) {
      RespondMutation(conn_, req_, done->reply());
    }
    return false;
  }
  if (!requirement_) return true;
  if (Status s = CheckDurabilityPossible(bucket, req_.vbucket(), *requirement_); !s.ok()) {
    conn_.RespondError(req_, s);
    return false;
  }
  write_ = std::make_shared<DurableWrite>(conn_, req_);
  spec_.level = static_cast<engine::SyncWriteLevel>(requirement_->level);
  spec_.timeout = requirement_->timeout_ms ? std::chrono::milliseconds(*requirement_->timeout_ms)
                                           : DurableWrite::kDefaultTimeout;
  spec_.waiter = write_;
  return true;
}

CommandResult DurabilityScope::Finish(engine::Bucket& bucket, MutationReply reply) {
  if (write_) {
    Status s = write_->Park(conn_, reply);
    if (s.code() == Errc::kWouldBlock) return CommandResult::kWouldBlock;
    if (!s.ok()) {
      conn_.RespondError(req_, s);
      return CommandResult::kDone;
    }
  }
  if (!quiet_) RespondMutation(conn_, req_, reply);
  return CommandResult::kDone;
}

}  // namespace sluice::server
