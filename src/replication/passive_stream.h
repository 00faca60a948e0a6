// File: replication/passive_stream.h
//
// PassiveStream: the consumer end of one replica vbucket's DCP stream (kv_engine's
// PassiveStream). It builds the stream request from what the replica holds, handles the
// producer's answer (adopting its failover log, or rolling the replica back), and applies the
// producer's snapshot markers, mutations, deletions and expirations to the local vbucket with the
// producer's metadata (engine::VBucket::ApplyReplicated), checking their order first:
//
//   - the first marker ends above the requested start; later markers start above the last seqno
//     received; every marker has start <= end;
//   - an item lies inside the current marker's range and above the last seqno received;
//   - DCP_SEQNO_ADVANCED obeys the same rules as an item.
//
// A message that breaks them closes the stream (a log line says why; back to kPending, so it is
// requested again, after a back-off, from what the replica holds), never a crash. What a stream
// does not expect (an OSO snapshot it did not ask for, a takeover's SET_VBUCKET_STATE) is treated
// the same way.
//
// States (one transition check, Transition()):
//
//   pending ──Request()──▶ awaiting ──Success──▶ reading ──STREAM_END / bad message /──┐
//     ▲                       │                     │      local vbucket gone          │
//     │                       │ Rollback, refusal   │                                  │
//     └───────────────────────┴─────────────────────┴──────── Reset() (connection lost)┘
//   any ──Close()──▶ dead   (no longer a source of this replica; final)
//
// Rollback: a ROLLBACK(seqno) answer at or above the replica's high seqno only means the
// snapshot it was in can be treated as whole. Below it, the replica rewinds from its history
// (engine::Bucket::RollbackVBucket: the newest commit boundary at or below seqno, counted in
// ep_rollback_count, logged) and requests again from the seqno reached; beyond its history, or
// when that would discard at least half of the vbucket's items on disk (kv_engine's midpoint
// rule, KVStore::Rollback), it falls back to a reset: the vbucket is emptied
// (engine::Bucket::ResetVBucket, counted in ep_rollback_count, ep_rollback_resets and
// vb_N:rollback_resets, logged) and requested again from 0. Either way the prepares tracked above
// the new position are forgotten.
//
// Snapshot tracking: the stream knows the last snapshot it received whole ([start, end] of the
// last marker whose end seqno arrived) and the one it is in; the replica's resume point itself
// comes from the vbucket (engine::ReplicaPosition), which persists the snapshot range with its
// data, so a restarted node resumes where its disk is.
//
// SyncWrites: DCP_PREPARE, DCP_COMMIT and DCP_ABORT (which the client hands over as
// raw frames) obey the item rules and are applied with the producer's seqnos
// (engine::VBucket::ApplyReplicatedPrepare/Commit/Abort). The stream's high prepared seqno (HPS,
// kv_engine's PassiveDurabilityMonitor) moves in seqno order over the prepares it received: past
// a majority or majorityAndPersistActive prepare once the snapshot holding it was received whole,
// past a persistToMajority one once the replica also persisted it. TakeSeqnoAck() says when the
// HPS moved (the link sends DCP_SEQNO_ACKNOWLEDGED); a new stream request acks the HPS again.
//
// Ownership: owned by its PeerLink (replication/peer_link.h) in a map by vbucket; holds a plain
// reference to the bucket, which the Replicator guarantees outlives it, and looks the vbucket up
// per message (a reset replaces the VBucket object).
// Thread safety: thread-compatible: only the owning link's thread calls its methods; stats() may
// be called from any thread (relaxed atomics).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "client/dcp_message.h"
#include "client/types.h"
#include "common/status.h"
#include "common/types.h"
#include "engine/bucket.h"
#include "protocol/dcp_codec.h"

namespace sluice::replication {

struct PassiveStreamStats {
  std::string state;
  uint64_t last_received_seqno = 0;
  uint64_t items = 0;    // mutations, deletions and expirations applied
  uint64_t markers = 0;  // snapshot markers applied
  uint64_t requests = 0;
  uint64_t rollbacks = 0;            // ROLLBACK answers handled
  uint64_t rollback_resets = 0;      // of those, the ones that emptied the vbucket
                                     // (the others were ahead of nothing or used the history)
  uint64_t errors = 0;               // times the stream was closed for a bad message
  uint64_t last_snapshot_start = 0;  // the last snapshot received whole
  uint64_t last_snapshot_end = 0;
  // kv_engine's PassiveStream stats ("STAT dcp"): the last stream request, the current snapshot.
  uint32_t flags = 0;
  uint32_t opaque = 0;
  uint64_t start_seqno = 0;
  uint64_t vb_uuid = 0;
  uint64_t snap_start_seqno = 0;
  uint64_t snap_end_seqno = 0;
  std::string_view cur_snapshot_type = "none";  // "none" (no marker yet), "memory", "disk"
  uint64_t cur_snapshot_start = 0;
  uint64_t cur_snapshot_end = 0;
  bool cur_snapshot_prepare = false;  // a prepare arrived in the current snapshot
};

class PassiveStream {
 public:
  enum class State : uint8_t { kPending, kAwaitingResponse, kReading, kDead };
  static std::string_view StateName(State state);

  // What the caller does after a stream-request answer.
  enum class AfterResponse : uint8_t {
    kReading,       // accepted: messages follow
    kRequestAgain,  // rolled back: request again now
    kRetryLater,    // refused (or the rollback failed): request again after a back-off
  };

  // `name` prefixes log lines (e.g. the connection's name).
  PassiveStream(Vbid vb, std::string name, engine::Bucket& bucket);
  PassiveStream(const PassiveStream&) = delete;
  PassiveStream& operator=(const PassiveStream&) = delete;

  Vbid vbid() const { return vb_; }
  State state() const { return state_.load(std::memory_order_relaxed); }
  // The opaque of the current request (messages with another one belong to an older stream).
  uint32_t opaque() const { return opaque_; }

  // kPending -> kAwaitingResponse: the stream request (with `opaque`) from the replica's resume
  // point: its high seqno, the snapshot it is in and its newest failover uuid (0 from seqno 0).
  // kNotMyVbucket (staying pending) if the local vbucket is missing or not a replica.
  // `flags`: the request's (a driver's ADD_STREAM flags), kept for the stats.
  StatusOr<protocol::DcpStreamReqRequest> Request(uint32_t opaque, uint32_t flags = 0);
  // kAwaitingResponse: the producer's answer. Success adopts its failover log; Rollback rolls
  // the replica back (see the file comment); anything else is logged and retried later.
  AfterResponse OnResponse(const client::StreamReqResult& result);
  // kReading: one message of this stream (the caller matched its opaque). Not OK: the stream was
  // closed (now kPending) and the status says why; the caller tells the producer (CLOSE_STREAM)
  // and requests again after a back-off. DCP_STREAM_END also returns to kPending, with OK.
  // The views need to live for the call only (the values are copied into the vbucket).
  Status OnMessage(const client::DcpMessageView& message);
  // The same for an owned message.
  Status OnMessage(const client::DcpMessage& message) { return OnMessage(client::ViewOf(message)); }
  // Any state but kDead -> kPending: the connection was lost or the caller closed the stream.
  void Reset(std::string_view why);
  // -> kDead: this vbucket is no longer replicated from this producer.
  void Close();

  PassiveStreamStats stats() const;
  // The HPS to acknowledge (DCP_SEQNO_ACKNOWLEDGED with opaque()), if it moved since the last ack
  // on this stream request; nullopt otherwise (or while not reading).
  std::optional<uint64_t> TakeSeqnoAck();
  // Some received prepare waits only for local persistence before it can be acknowledged.
  bool AwaitsPersistence() const;

 private:
  // The one transition check: aborts on a transition the diagram does not have (a bug).
  void Transition(State next);
  // Closes the stream for a bad message: logged, counted, back to kPending.
  Status Violation(std::string what);
  Status OnMarker(const protocol::DcpSnapshotMarker& marker);
  // Checks an item's (or a seqno-advanced's) seqno against the order rules.
  Status CheckSeqno(uint64_t seqno, std::string_view what);
  Status Apply(const engine::ReplicatedItem& item, std::string_view what);
  // The end of the current snapshot was reached.
  void OnSnapshotEnd();
  // DCP_PREPARE / DCP_COMMIT / DCP_ABORT (a frame the client does not decode itself).
  Status OnSyncWrite(const protocol::Frame& frame);
  Status OnPrepare(const protocol::Frame& frame);
  Status OnResolution(const protocol::Frame& frame);
  AfterResponse Rollback(uint64_t rollback_seqno);
  // After a rollback to `seqno`: the SyncWrite tracking (HPS, prepares) forgets what is above.
  void ForgetAbove(uint64_t seqno);

  const Vbid vb_;
  const std::string name_;  // "<connection name> vb:<n>"
  engine::Bucket& bucket_;

  // ---- the owning link's thread only ----
  uint32_t opaque_ = 0;
  uint64_t requested_start_ = 0;
  bool marker_seen_ = false;   // a marker arrived since the stream was accepted
  uint32_t marker_flags_ = 0;  // of the current marker
  uint64_t snap_start_ = 0;    // the current marker's range
  uint64_t snap_end_ = 0;
  // SyncWrites: prepares received and not yet past the HPS, in seqno order (seqno, level).
  std::deque<std::pair<uint64_t, engine::SyncWriteLevel>> unacked_prepares_;
  uint64_t whole_upto_ = 0;  // the end of the last snapshot received whole
  uint64_t hps_ = 0;         // high prepared seqno
  uint64_t acked_hps_ = 0;   // the HPS acknowledged on this stream request (0: none yet)

  // ---- written by the owning link's thread, read by stats() ----
  std::atomic<State> state_{State::kPending};
  std::atomic<uint64_t> last_seqno_{0};
  std::atomic<uint64_t> items_{0};
  std::atomic<uint64_t> markers_{0};
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> rollbacks_{0};
  std::atomic<uint64_t> rollback_resets_{0};
  std::atomic<uint64_t> errors_{0};
  std::atomic<uint64_t> whole_start_{0};
  std::atomic<uint64_t> whole_end_{0};
  std::atomic<uint32_t> req_flags_{0};  // the last stream request (stats only)
  std::atomic<uint32_t> req_opaque_{0};
  std::atomic<uint64_t> req_start_{0};
  std::atomic<uint64_t> req_uuid_{0};
  std::atomic<uint64_t> req_snap_start_{0};
  std::atomic<uint64_t> req_snap_end_{0};
  std::atomic<uint32_t> cur_snap_flags_{0};  // the current marker's flags; 0: none yet
  std::atomic<uint64_t> cur_snap_start_{0};
  std::atomic<uint64_t> cur_snap_end_{0};
  std::atomic<bool> cur_snap_prepare_{false};
};

}  // namespace sluice::replication
