// File: replication/consumer.h
//
// Consumer: the consumer end of a DCP connection that a driver opened on this node with a
// DCP_OPEN without the Producer flag (kv_engine's DcpConsumer, as ns_server's dcp proxy drives
// it). The driver relays between this connection and a producer connection it opened on another
// node: what the consumer sends (its controls, stream requests, buffer acknowledgements, the
// answers below) goes to the producer, and the producer's messages come back here.
//
//   open ─▶ controls, one at a time, each after the previous one's answer (ConsumerControls:
//   consumer_name, enable_noop, set_noop_interval, set_priority, connection_buffer_size,
//   enable_expiry_opcode, v7_dcp_status_codes; a refused one is logged and skipped, as kv_engine)
//   ADD_STREAM(vb) ─▶ (once the controls are answered) STREAM_REQ with a new opaque from where the
//     replica is (PassiveStream::Request) ─▶ the producer's answer: Success adopts its failover
//     log and answers ADD_STREAM Success with the stream's opaque in the extras; Rollback rolls
//     the replica back and requests again; a refusal answers ADD_STREAM with its status.
//     ADD_STREAM answers at once NOT_MY_VBUCKET for a vbucket missing or not replica/pending,
//     KEY_EEXISTS when the vbucket has a stream.
//   messages (snapshot marker, mutation, deletion, expiration, seqno advanced, stream end) ─▶ the
//     vbucket's PassiveStream; no answer on success. A message for no stream answers
//     KEY_ENOENT (DCP_STREAM_NOT_FOUND with v7 status codes), one with another opaque
//     KEY_EEXISTS (OPAQUE_NO_MATCH), except a STREAM_END (dropped: the stream was replaced);
//     one the stream refuses (out of its snapshot, out of order) answers ERANGE and closes the
//     stream (logged; the driver adds it again). STREAM_END removes the stream.
//   SET_VBUCKET_STATE ─▶ applied to the local vbucket, answered Success (its opaque); a state
//     other than replica/pending ends the stream.
//   CLOSE_STREAM ─▶ the stream is closed (the producer's side is the driver's to close).
//   DCP_NOOP ─▶ answered Success.
//   Every producer message but NOOP counts for flow control: acknowledged once a quarter of the
//   buffer is applied or when the input is drained (Flush), never above the memory threshold
//   (BufferAcker). Nothing from the producer for SilenceLimit(noop interval): Tick() says close.
//
// Ownership: owned by its server connection (unique_ptr), which calls every method on its I/O
// thread; holds the bucket by shared_ptr (the connection's selected bucket). Owns its streams,
// sharing them (shared_ptr) with its ConsumerStatsBoard, which the server reads for STAT dcp on
// other threads (replication/consumer_stats.h).
// Thread safety: thread-compatible (the connection's I/O thread).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "engine/bucket.h"
#include "protocol/frame.h"
#include "protocol/opcode.h"
#include "replication/consumer_common.h"
#include "replication/consumer_stats.h"
#include "replication/passive_stream.h"

namespace sluice::replication {

struct ConsumerOptions {
  std::string name;  // the DCP_OPEN name (logs, STAT dcp)
  std::string user;  // the connection's user (STAT dcp)
  ControlOptions controls;
  uint64_t throttle_mem_bytes = UINT64_MAX;  // no acknowledgement above this bucket memory use
  bool collections = false;                  // keys carry a LEB128 collection id (HELLO)
  bool xattrs = false;                       // DCP_OPEN IncludeXattrs: values may carry xattrs
  bool delete_times = false;  // DCP_OPEN IncludeDeleteTimes: deletions in the v2 (21-byte) form
  const Clock* clock = Clock::Real();
};

struct ConsumerStats {
  uint64_t messages = 0;
  uint64_t bytes_received = 0;  // counted as flow control counts them
  uint64_t bytes_acked = 0;
  uint64_t errors = 0;  // messages answered with an error
  size_t controls_pending = 0;
  std::map<Vbid, PassiveStreamStats> streams;
};

class Consumer {
 public:
  Consumer(ConsumerOptions options, std::shared_ptr<engine::Bucket> bucket);
  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // Whether a request with this opcode is one a consumer connection takes (anything else on it
  // is a protocol error: the connection closes).
  static bool Takes(protocol::Opcode op);

  // Appends the first control. Once, after the DCP_OPEN answer.
  void Start(std::string* out);
  // A request the driver sent (Takes(opcode), validated): answers and follow-ups go to `out`.
  // Not OK: the connection must close (logged here).
  Status OnRequest(const protocol::Frame& request, std::string* out);
  // A response to one of the consumer's requests. Not OK: the connection must close (logged).
  Status OnResponse(const protocol::Frame& response, std::string* out);
  // The input is drained: acknowledges what was applied (unless throttled).
  void Flush(std::string* out);
  // Periodically: a withheld acknowledgement, and the silence check (not OK: close).
  Status Tick(std::string* out);
  // How long until Tick() should run again.
  std::chrono::milliseconds TickInterval() const;
  // The connection closes: every stream is closed.
  void Disconnect();

  ConsumerStats stats() const;
  // What STAT dcp lists of this connection, readable on any thread while this lives and after.
  std::shared_ptr<ConsumerStatsBoard> stats_board() const { return board_; }
  const std::string& name() const { return options_.name; }
  // Deletions arrive in the v2 form (DCP_OPEN IncludeDeleteTimes): how they are validated.
  bool delete_v2() const { return options_.delete_times; }

 private:
  struct StreamEntry {
    std::shared_ptr<PassiveStream> stream;  // shared with board_ (stats only)
    uint32_t add_opaque = 0;                // the ADD_STREAM whose answer waits for the producer's
    uint32_t flags = 0;                     // the ADD_STREAM's flags, passed on in each STREAM_REQ
    bool answered = false;                  // the ADD_STREAM was answered
    int rounds = 0;  // stream requests since the ADD_STREAM (rollbacks ask again)
  };
  struct PendingAdd {
    uint32_t opaque;
    Vbid vb;
    uint32_t flags;
  };

  void SendNextControl(std::string* out);
  Status OnControlResponse(const protocol::Frame& response, std::string* out);
  Status OnStreamReqResponse(const protocol::Frame& response, std::string* out);
  // ADD_STREAM once the controls are answered; answers errors at once.
  void AddStream(const PendingAdd& add, std::string* out);
  // Sends the stream's next STREAM_REQ; false (stream removed, ADD_STREAM answered) if it cannot.
  bool RequestStream(Vbid vb, StreamEntry& entry, std::string* out);
  void CloseStream(const protocol::Frame& request, std::string* out);
  void OnMessage(const protocol::Frame& request, std::string* out);
  void OnSetVBucketState(const protocol::Frame& request, std::string* out);
  // The stream of `request`, or null after answering why there is none.
  StreamEntry* Route(const protocol::Frame& request, std::string* out);
  // Removes a stream (closing it) and forgets its outstanding stream requests.
  void RemoveStream(Vbid vb);
  void AnswerAddStream(StreamEntry& entry, protocol::McbpStatus status, std::string* out);
  void Answer(const protocol::Frame& request, protocol::McbpStatus status, std::string* out);
  void Ack(bool idle, std::string* out);
  // Copies the counters / the controls and waiting ADD_STREAMs to board_.
  void PublishCounters();
  void PublishControls();

  const ConsumerOptions options_;
  const std::shared_ptr<engine::Bucket> bucket_;

  std::map<Vbid, StreamEntry> streams_;
  std::map<uint32_t, Vbid> requests_;  // STREAM_REQ opaque -> vbucket, until answered
  std::deque<std::pair<std::string, std::string>> controls_;  // not yet answered, in order
  uint32_t control_opaque_ = 0;           // the front control's request (0: not sent)
  std::vector<PendingAdd> pending_adds_;  // ADD_STREAMs waiting for the controls
  uint32_t next_opaque_ = 0;
  bool v7_status_codes_ = false;
  BufferAcker acker_;
  SteadyTime last_input_;
  ConsumerStats counters_;
  uint64_t backoffs_ = 0;  // acknowledgements withheld for memory
  const std::shared_ptr<ConsumerStatsBoard> board_;
};

}  // namespace sluice::replication
