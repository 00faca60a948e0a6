// File: server/durable_write.h
//
// DurableWrite: the server side of a SyncWrite — a mutation whose request carries a durability
// frame info. The engine queues such a mutation as a *prepare* (engine/vbucket.h, "SyncWrites")
// and its vbucket's durability monitor commits it once the level is met: a majority of every
// topology chain (the active alone without a topology), plus the active's persistence for
// majorityAndPersistActive and persistToMajority (docs/replication.md, "SyncWrites"). The client
// is answered when the engine tells the DurableWrite (its SyncWriteSpec waiter): OK once
// committed, SyncWriteAmbiguous once the durability timeout passed (the engine then aborts the
// prepare) or the vbucket stopped being active. DurabilityImpossible comes from the engine when
// the topology can never reach a majority; SyncWriteInProgress for a key with a prepare in flight.
//
// How a command uses it (commands_kv.cc, commands_subdoc.cc; DurabilityScope below wraps it):
//   1. On entry, Begin(): if this frame already did its mutation and waited, answer with the
//      outcome (the mutation's response, or the error) and stop. Else a DurableWrite is made and
//      scope.sync() is the SyncWriteSpec to pass to the engine's mutation.
//   2. Do the mutation with scope.sync(). Then Finish(): answered now if the engine resolved it
//      already (a chain of one, majority), else parked on conn.continuation(): the handler returns
//      CommandResult::kWouldBlock and the connection runs the frame again once it resolves
//      (step 1 then answers it).
//
// State machine (one transition check: Resolve() moves only out of kWaiting):
//
//   kWaiting --committed (any thread)---------------> kCommitted
//       '----- timed out / aborted / not active ----> kAmbiguous   (answered SyncWriteAmbiguous)
//
// Ownership: shared_ptr, held by the DurabilityScope and then parked in the connection's
// continuation slot (it ends with the connection). The engine's durability monitor holds it
// weakly (a closed connection must free it); it holds the connection only weakly (its Waiter).
//
// Thread safety: Begin/Finish/Take run on the connection's I/O thread; NotifyIoComplete() comes
// from any engine thread (a front-end thread, the flusher, the durability timeout task, a DCP
// consumer's ack); the state is guarded by mu_.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "common/mutex.h"
#include "common/status.h"
#include "engine/bucket.h"
#include "engine/engine_types.h"
#include "protocol/frame.h"
#include "protocol/frame_info.h"
#include "server/connection.h"

namespace sluice::server {

// The durability requirement of a request, nullopt without one. The frame infos were validated
// by ValidateRequest already (an invalid level never gets here).
std::optional<protocol::DurabilityRequirement> RequestedDurability(const protocol::Frame& req);

// Whether the request's level is one this server knows (kDurabilityInvalidLevel otherwise) and
// vbid is active here (kNotMyVbucket otherwise). Whether the topology can reach a majority is the
// engine's to say (kDurabilityImpossible from the mutation).
Status CheckDurabilityPossible(const engine::Bucket& bucket, Vbid vbid,
                               const protocol::DurabilityRequirement& requirement);

// What a successful mutation answers: its token (extras, with HELLO MutationSeqno) and CAS, and
// the status, body and datatype of the command (INCR's number, a subdoc mutation's results).
struct MutationReply {
  engine::MutationResult result;
  std::string value;
  protocol::McbpStatus status = protocol::McbpStatus::kSuccess;
  uint8_t datatype = 0;
};

// Sends `reply` for `req`.
void RespondMutation(Connection& conn, const protocol::Frame& req, const MutationReply& reply);

class DurableWrite final : public Connection::Continuation,
                           public engine::IoCompletion,
                           public std::enable_shared_from_this<DurableWrite> {
 public:
  // The durability timeout when the request names none (kv_engine's bucket default).
  static constexpr std::chrono::milliseconds kDefaultTimeout{30'000};

  enum class State { kWaiting, kCommitted, kAmbiguous };

  // After the engine queued the prepare: OK to answer `reply` now (committed already), another
  // error to answer now, or kWouldBlock: parked on conn.continuation() until resolved.
  Status Park(Connection& conn, MutationReply reply);

  // The resolved DurableWrite parked for `req` (taken off the connection), or null if none is.
  static std::shared_ptr<DurableWrite> Take(Connection& conn, const protocol::Frame& req);

  // Use only after Take(): OK (answer with reply()) or the error to answer with.
  Status outcome() const;
  const MutationReply& reply() const { return reply_; }

  // engine::IoCompletion: the prepare was committed (OK) or not (any error). Any thread.
  void NotifyIoComplete(Status status) override;

  explicit DurableWrite(Connection& conn, const protocol::Frame& req);

 private:
  void Resolve(State to, Status outcome);

  // ---- constant after construction ----
  const engine::Waiter conn_;  // weak: see the header comment
  const uint32_t opaque_;
  const uint8_t opcode_;

  // ---- I/O thread only (set by Park before parked_) ----
  MutationReply reply_;

  // ---- guarded by mu_ ----
  mutable Mutex mu_;
  State state_ GUARDED_BY(mu_) = State::kWaiting;
  bool parked_ GUARDED_BY(mu_) = false;  // the frame waits: wake the connection on Resolve
  Status outcome_ GUARDED_BY(mu_);
};

// A mutation command's durability (the steps above). Begin() runs before the mutation: it
// answers a frame whose durable wait resolved (the mutation was done on an earlier run) or a
// requirement this node cannot meet, and then returns false. sync() is what the mutation passes
// to the engine (null for a plain write). Finish() runs after a successful mutation: it answers
// now (unless `quiet`) or parks the frame until the engine resolves the SyncWrite.
class DurabilityScope {
 public:
  DurabilityScope(Connection& conn, const protocol::Frame& req, bool quiet);
  bool Begin(engine::Bucket& bucket);
  const engine::SyncWriteSpec* sync() const { return write_ ? &spec_ : nullptr; }
  CommandResult Finish(engine::Bucket& bucket, MutationReply reply);

 private:
  Connection& conn_;
  const protocol::Frame& req_;
  const bool quiet_;
  const std::optional<protocol::DurabilityRequirement> requirement_;
  std::shared_ptr<DurableWrite> write_;  // set by Begin() for a SyncWrite
  engine::SyncWriteSpec spec_;
};

}  // namespace sluice::server
