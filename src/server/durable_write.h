// File: server/durable_write.h
//
// DurableWrite: the server side of a SyncWrite — a mutation whose request carries a durability
// frame info — on a single node. With no replicas (numReplicas 0), a majority of the replication
// chain is the active alone, so, as kv_engine decides with a chain of one node:
//   majority                          acknowledged once the mutation is in memory (at once);
//   majorityAndPersistActive (2),
//   persistToMajority (3)             acknowledged only once the flusher has written the
//                                     mutation's seqno to disk and synced it
//                                     (Bucket::WaitForPersistence: synced_seqno >= seqno).
// Every level can be met by one node, so DurabilityImpossible is only answered where the write
// cannot be durable at all (see CheckDurabilityPossible). If the wait outlasts the request's
// durability timeout (default kDefaultTimeout), the write is answered SyncWriteAmbiguous, as
// kv_engine does: it was applied and may yet reach disk, the client cannot know.
//
// How a command uses it (commands_kv.cc, commands_subdoc.cc; DurabilityScope below wraps it):
//   1. On entry: Take(conn, req) — if this frame already did its mutation and waited, answer
//      with the outcome (the mutation's response, or the error) and stop.
//   2. Do the mutation. Then Start(...): OK = durable already (answer now); kWouldBlock = parked
//      on conn.continuation(), the handler returns CommandResult::kWouldBlock and the connection
//      runs the frame again when the wait resolves (step 1 then answers it); other = answer it.
//
// State machine (one transition check: Resolve() moves only out of kWaiting):
//
//   kWaiting --persisted (flusher thread)------------> kPersisted
//       |----- flusher/engine error -----------------> kFailed     (answered SyncWriteAmbiguous)
//       '----- durability timeout (I/O thread) ------> kTimedOut   (answered SyncWriteAmbiguous)
//
// Ownership: shared_ptr, parked in the connection's continuation slot (it ends with the
// connection). The engine's persistence waiter list and the timeout timer hold weak references
// (a closed connection must free it); it holds the connection only weakly (its Waiter).
//
// Thread safety: Start/Take and the timer run on the connection's I/O thread;
// NotifyIoComplete() comes from a flusher thread; the state is guarded by mu_.
#pragma once

#include <asio.hpp>
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

// Whether this node can meet `requirement` for a mutation on `vbid` (kv_engine:
// ActiveDurabilityMonitor::checkDurabilityPossible): OK or kDurabilityImpossible. With no
// replicas every level is possible on an active vbucket (other states are NotMyVbucket anyway).
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

  enum class State { kWaiting, kPersisted, kFailed, kTimedOut };

  // After the mutation of `req` succeeded on `vbid`: OK if `requirement` is met already,
  // kWouldBlock if a DurableWrite now waits (parked on conn.continuation()), another error to
  // answer the request with. `reply` is what to answer on success.
  static Status Start(Connection& conn, const protocol::Frame& req, engine::Bucket& bucket,
                      Vbid vbid, const protocol::DurabilityRequirement& requirement,
                      MutationReply reply);

  // The resolved DurableWrite parked for `req` (taken off the connection), or null if none is.
  static std::shared_ptr<DurableWrite> Take(Connection& conn, const protocol::Frame& req);

  // Use only after Take(): OK (answer with reply()) or the error to answer with.
  Status outcome() const;
  const MutationReply& reply() const { return reply_; }

  // engine::IoCompletion: the flusher persisted the seqno (or the engine gave up). Any thread.
  void NotifyIoComplete(Status status) override;

  // Public for make_shared only; use Start().
  DurableWrite(Connection& conn, const protocol::Frame& req, MutationReply reply);

 private:
  void Resolve(State to, Status outcome);

  // ---- constant after construction ----
  const engine::Waiter conn_;  // weak: see the header comment
  const uint32_t opaque_;
  const uint8_t opcode_;
  const MutationReply reply_;

  // ---- I/O thread only ----
  asio::steady_timer timer_;

  // ---- guarded by mu_ ----
  mutable Mutex mu_;
  State state_ GUARDED_BY(mu_) = State::kWaiting;
  Status outcome_ GUARDED_BY(mu_);
};

// A mutation command's durability (the steps above). Begin() runs before the mutation: it
// answers a frame whose durable wait resolved (the mutation was done on an earlier run) or a
// requirement this node cannot meet, and then returns false. Finish() runs after a successful
// mutation: it answers now (unless `quiet`) or parks the frame until the flusher persisted it.
class DurabilityScope {
 public:
  DurabilityScope(Connection& conn, const protocol::Frame& req, bool quiet);
  bool Begin(engine::Bucket& bucket);
  CommandResult Finish(engine::Bucket& bucket, MutationReply reply);

 private:
  Connection& conn_;
  const protocol::Frame& req_;
  const bool quiet_;
  const std::optional<protocol::DurabilityRequirement> requirement_;
};

}  // namespace sluice::server
