// File: replication/peer_link.h
//
// PeerLink: this node's one DCP connection to one producer node, carrying the passive streams of
// every vbucket this node replicates from it (one connection per pair of nodes). A thread of its
// own runs the conversation with the blocking client library (src/client):
//
//   connect ─▶ HELLO ─▶ SASL ─▶ SELECT_BUCKET ─▶ DCP_OPEN "replication:<peer>-><me>:<bucket>"
//   (Producer | IncludeXattrs | IncludeDeleteTimes | IncludeDeletedUserXattrs) ─▶ controls
//   consumer_name=<me> (kv_engine accepts {"consumer_name"} only in a consumer's DCP_OPEN value;
//   its DcpConsumer names itself to the producer with this control), enable_noop,
//   set_noop_interval, set_priority, connection_buffer_size, enable_expiry_opcode,
//   v7_dcp_status_codes, enable_sync_writes ─▶ loop:
//     - bring the streams in line with SetVBuckets(): a new vbucket gets a PassiveStream, a
//       removed one is closed (CLOSE_STREAM); every pending stream whose back-off has passed
//       sends its STREAM_REQ (PassiveStream::Request), all in one write without waiting (as
//       kv_engine's DcpConsumer: 1024 round trips one after the other took ~0.4 s before the
//       first item was applied). Each answer comes back among the messages and is handled in
//       order (the producer answers before any message of the new stream); it may roll the
//       replica back and ask again at once (three rounds at most), or retry after a back-off.
//       A request unanswered for io_timeout ends the session;
//     - read what the producer sent and hand each message to its vbucket's stream (a message
//       whose opaque is not the stream's current one belongs to a closed stream: dropped);
//     - acknowledge the bytes of applied messages (DCP_BUFFER_ACKNOWLEDGEMENT) once a quarter of
//       the buffer is applied, or once nothing more is buffered and kIdleAckDelay has passed
//       since the last acknowledgement (kv_engine: a ratio of the buffer, or some seconds); while
//       the bucket's memory is above the throttle threshold nothing is acknowledged (the producer
//       stops once the buffer is full), so a replica under pressure slows its producer and never
//       drops data;
//     - write what it has to say (seqno acknowledgements first, then buffer acknowledgements) in
//       one write per pass: each write wakes the producer's thread;
//     - answer NOOPs (the client does), and treat a producer silent for 3 noop intervals (+2 s)
//       as gone.
//   Any error ends the session: every stream goes back to pending and the link reconnects after
//   a back-off (doubling from min_backoff to max_backoff; reset by a successful handshake); the
//   streams then resume from what the replica holds.
//
// SyncWrites: the link also sends enable_sync_writes, and after applying messages (and while
// idle: every kSeqnoAckRecheck while a prepare waits for local persistence) it sends each
// stream's DCP_SEQNO_ACKNOWLEDGED when its high prepared seqno moved (PassiveStream::TakeSeqnoAck).
// Only the streams that received something since the last pass, or that hold a prepare waiting
// for persistence, are looked at (the ack watch): a pass costs what arrived, not the number of
// vbuckets.
//
// Ownership: the Replicator owns its links (unique_ptr) and destroys a link only after Stop().
// The link owns its thread, its streams and its wake-up eventfd, and holds the bucket by
// shared_ptr (the replicator is stopped before the bucket shuts down).
// Thread safety: SetVBuckets, Stop and stats are thread-safe; everything else runs on the link's
// thread. Stop() may block up to io_timeout (a blocking call of the client in progress).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/connection.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "engine/bucket.h"
#include "replication/consumer_common.h"
#include "replication/passive_stream.h"

namespace sluice::replication {

struct LinkOptions {
  std::string conn_name;      // DCP_OPEN name: replication:<peer>-><me>:<bucket>
  std::string consumer_name;  // this node's id (control consumer_name)
  std::string host;
  uint16_t port = 0;
  std::string bucket;
  std::string user;
  std::string password;
  uint32_t buffer_size = 10u << 20;  // connection_buffer_size
  uint32_t noop_interval_seconds = 1;
  uint64_t throttle_mem_bytes = UINT64_MAX;  // no acknowledgement above this bucket memory use
  std::chrono::milliseconds min_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds io_timeout{10000};
};

struct LinkStats {
  bool connected = false;
  uint64_t connects = 0;  // sessions that completed the handshake
  uint64_t connect_failures = 0;
  uint64_t messages = 0;
  uint64_t bytes_received = 0;  // producer messages, counted as flow control counts them
  uint64_t bytes_acked = 0;
  uint64_t unacked_bytes = 0;
  uint64_t throttled = 0;  // times acknowledgement was withheld for memory
  std::string last_error;
  SteadyTime created{};  // when the link was made (STAT dcp's created)
  std::map<Vbid, PassiveStreamStats> streams;
};

class PeerLink {
 public:
  // Starts the link's thread (it connects at once).
  PeerLink(LinkOptions options, std::shared_ptr<engine::Bucket> bucket);
  ~PeerLink();  // Stop()
  PeerLink(const PeerLink&) = delete;
  PeerLink& operator=(const PeerLink&) = delete;

  // The vbuckets to replicate from this peer; the thread applies the change at once.
  void SetVBuckets(std::set<Vbid> vbuckets) EXCLUDES(desired_mu_);
  // Ends the session (no CLOSE_STREAM is sent: the connection simply closes) and joins the
  // thread. Idempotent.
  void Stop();
  // This node's flusher synced a replica vbucket of the link: a prepare waiting for persistence
  // may be acknowledged now (the thread looks at once). Any thread; never blocks.
  void NotifyPersisted() { Wake(); }
  LinkStats stats() const EXCLUDES(streams_mu_, error_mu_);
  const LinkOptions& options() const { return options_; }

 private:
  using Streams = std::map<Vbid, std::unique_ptr<PassiveStream>>;

  void Run();
  // One connection's life: returns why it ended (OK only when stopping).
  Status Session();
  Status Handshake(client::Connection& conn);
  // Adds and removes streams per the desired set (no I/O); returns the removed ones that were
  // open at the producer (reading or awaiting an answer).
  std::vector<Vbid> UpdateStreams() EXCLUDES(streams_mu_, desired_mu_);
  // UpdateStreams, CLOSE_STREAM for the removed open ones, then requests the due pending ones.
  Status SyncStreams(client::Connection& conn) EXCLUDES(streams_mu_, desired_mu_);
  // Appends `stream`'s STREAM_REQ to `wire` and remembers it (a refused Request() retries later).
  void AppendStreamRequest(client::Connection& conn, PassiveStream& stream, std::string* wire);
  // The producer's answer to one of the STREAM_REQs (matched by opaque; others are ignored).
  Status OnStreamReqResponse(client::Connection& conn, const protocol::Frame& response)
      EXCLUDES(streams_mu_);
  // Not OK if a STREAM_REQ waits for its answer longer than io_timeout.
  Status CheckStreamRequestsAnswered(SteadyTime now) const;
  // The stream of `vb` is requested again after its back-off (which then doubles).
  void RetryLater(Vbid vb);
  // Reads and applies up to a batch of messages; `*got` says whether any came, `*drained` that
  // the batch ended because nothing more was there to read.
  Status Pump(client::Connection& conn, bool* got, bool* drained) EXCLUDES(streams_mu_);
  Status Dispatch(client::Connection& conn, const client::DcpMessageView& message)
      EXCLUDES(streams_mu_);
  // Queues the acknowledgement of applied bytes (written by the pass's Flush): a quarter of the
  // buffer at once; less only when `drained` and kIdleAckDelay passed since the last one.
  void MaybeAck(client::Connection& conn, bool drained);
  // Queues DCP_SEQNO_ACKNOWLEDGED for every watched stream whose high prepared seqno moved; the
  // streams still waiting for persistence stay watched.
  void QueueSeqnoAcks(client::Connection& conn) EXCLUDES(streams_mu_);
  // `vb`'s stream is looked at by the next QueueSeqnoAcks.
  void Watch(Vbid vb);
  // Some stream holds a prepare that waits for local persistence before its ack (valid after
  // QueueSeqnoAcks: only those stay watched).
  bool AwaitsPersistence() const { return !ack_watch_.empty(); }
  // How long the loop may wait for input before it has something to do.
  std::chrono::milliseconds NextWait() const EXCLUDES(streams_mu_);
  // Waits up to `timeout` for a wake-up (SetVBuckets, Stop); false when stopping.
  bool Sleep(std::chrono::milliseconds timeout);
  void DrainWake();
  void Wake();
  void SetError(const Status& status) EXCLUDES(error_mu_);
  PassiveStream* Find(Vbid vb) EXCLUDES(streams_mu_);
  // Find() remembering the last answer: a producer sends each vbucket's messages in runs.
  PassiveStream* FindCached(Vbid vb) EXCLUDES(streams_mu_);

  // ---- constant after construction ----
  const LinkOptions options_;
  const std::shared_ptr<engine::Bucket> bucket_;
  const SteadyTime created_ = Clock::Real()->Now();
  int wake_fd_ = -1;  // eventfd: SetVBuckets and Stop write, the thread polls

  std::atomic<bool> stopping_{false};

  mutable Mutex desired_mu_;
  std::set<Vbid> desired_ GUARDED_BY(desired_mu_);
  bool desired_changed_ GUARDED_BY(desired_mu_) = true;

  // The thread changes the map (under the lock); stats() reads it. The thread reads it without
  // the lock only through Find(), which takes it.
  mutable Mutex streams_mu_;
  Streams streams_ GUARDED_BY(streams_mu_);

  mutable Mutex error_mu_;
  std::string last_error_ GUARDED_BY(error_mu_);

  // ---- the link's thread only ----
  std::map<Vbid, SteadyTime> retry_at_;  // pending streams: when to request again
  std::map<Vbid, std::chrono::milliseconds> stream_backoff_;
  struct PendingRequest {
    Vbid vb;
    SteadyTime sent;
  };
  std::map<uint32_t, PendingRequest> stream_requests_;  // STREAM_REQs sent, by opaque
  std::map<Vbid, int> request_rounds_;                  // requests since the stream went pending
  BufferAcker acker_{options_.buffer_size, options_.throttle_mem_bytes};
  SteadyTime last_buffer_ack_{};
  std::vector<Vbid> ack_watch_;    // the ack watch (file comment), each vbucket once
  std::vector<bool> ack_watched_;  // by vbid: in ack_watch_
  SteadyTime last_input_{};
  uint64_t noops_seen_ = 0;
  // FindCached's last answer; only UpdateStreams (this thread) removes streams, and forgets it.
  Vbid cached_vb_ = 0;
  PassiveStream* cached_stream_ = nullptr;

  // ---- counters (the thread writes, stats() reads) ----
  std::atomic<bool> connected_{false};
  std::atomic<uint64_t> connects_{0};
  std::atomic<uint64_t> connect_failures_{0};
  std::atomic<uint64_t> messages_{0};
  std::atomic<uint64_t> bytes_received_{0};
  std::atomic<uint64_t> bytes_acked_{0};
  std::atomic<uint64_t> unacked_bytes_{0};
  std::atomic<uint64_t> throttled_{0};

  std::thread thread_;  // last: started once everything above is initialised
};

}  // namespace sluice::replication
