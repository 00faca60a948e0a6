// File: dcp/producer.h
//
// Producer: one DCP producer connection (created for a DCP_OPEN with the Producer flag): its
// controls, its streams (one per vbucket, or several per vbucket by stream id after the control
// enable_stream_id), flow control, noops, and Step(), which encodes what its streams have ready
// into the connection's output.
//
// How a connection drives it (all on the connection's own thread, synchronously):
//   DCP_CONTROL            Control(key, value)
//   DCP_STREAM_REQ         StreamRequest(...) -> status + failover log | rollback seqno
//   DCP_CLOSE_STREAM       CloseStream(vb, sid)
//   DCP_GET_FAILOVER_LOG   GetFailoverLog(vb)
//   DCP_BUFFER_ACK         BufferAcknowledged(bytes)
//   DCP_SEQNO_ACKNOWLEDGED SeqnoAcknowledged(opaque, vb, prepared seqno)
//   DCP_NOOP response      NoopResponse()
//   any other message      MessageReceived() (idle detection; the calls above do it themselves)
//   ready to write         Step(out, budget) until it returns something else than kBudgetFull,
//                          then again when NotifyProducerReady() arrives (or output drained after
//                          kBudgetFull)
//   connection closed      Disconnect(), then drop the shared_ptr (ConnMap::Unregister optional)
// Streams, backfills and the ConnMap's housekeeping call ProducerNotifier::NotifyProducerReady()
// from any thread when there is something to send; the connection then runs Step on its thread.
// RequestDisconnect() asks the connection to close (a same-named producer replaced this one, the
// consumer was idle past dcp_idle_timeout, the bucket is shutting down).
//
// Disconnect() (dcp/README.md, "Disconnect is prompt"): flags the producer, cancels and drops its
// BackfillManager first (destroyed right there, giving back the running-backfill slots, unless a
// run is in progress, which then ends at its next item), then ends every stream (Disconnected:
// nothing is sent) and hands their queued messages to a nonio task to free (queue_release.h), and
// counts the disconnect for the ConnMap's heap trim. ~Producer does the minimum of that without
// touching other objects' locks (it may run on an auxio or writer thread inside a notification).
//
// Ownership: shared; the connection owns it (shared_ptr). It is its streams' StreamOwner and its
// BackfillManager's BackfillOwner, and sees the ConnMap only as a StreamDirectory (declared here).
// It owns its streams and its BackfillManager, and holds its directory strongly (a producer needs
// its bucket's directory and tracker for its whole life; the ConnMap holds producers weakly, so
// there is no cycle). Held weakly by its streams, its BackfillManagerTask and the ConnMap. The
// notifier is held weakly: the connection owns the producer.
//
// Thread safety: thread-safe. Connection calls on the connection thread; the StreamOwner methods,
// Disconnect, ManageConnection and the stats from any thread. mu_ has rank kDcpObject
// (common/lock_rank.h): it is never held while calling into a stream, the BackfillManager, the
// ConnMap or the notifier.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "common/types.h"
#include "dcp/active_stream.h"
#include "dcp/backfill_manager.h"
#include "dcp/backfill_tracker.h"
#include "dcp/dcp_message.h"
#include "dcp/flow_control.h"
#include "dcp/item_encoder.h"
#include "dcp/stream_filter.h"
#include "engine/bucket.h"
#include "engine/engine_types.h"
#include "protocol/dcp_codec.h"
#include "storage/kvstore.h"

namespace sluice::dcp {

// What a producer needs from its bucket's DCP directory (the ConnMap implements it and creates
// every producer). Any thread; no lock of the producer is held when it is called.
class StreamDirectory {
 public:
  virtual ~StreamDirectory() = default;
  virtual const std::shared_ptr<engine::Bucket>& bucket() const = 0;
  // The bucket-wide admission counter every backfill of the producer charges.
  virtual const std::shared_ptr<BackfillTracker>& tracker() const = 0;
  // A stream of `vbid` starts or stops receiving the vbucket's notifications (new seqnos, state
  // changes).
  virtual void AddStream(Vbid vbid, const std::shared_ptr<ActiveStream>& stream) = 0;
  virtual void RemoveStream(Vbid vbid, const ActiveStream* stream) = 0;
  // The producer disconnected (once): counts towards the directory's heap trim.
  virtual void NoteProducerDisconnected() = 0;
};

// Implemented by the connection that owns a producer.
class ProducerNotifier {
 public:
  virtual ~ProducerNotifier() = default;
  // The producer has something to send (or can send again): run Step() on the connection's
  // thread soon. Any thread; must be cheap and must not call back into the producer.
  virtual void NotifyProducerReady() = 0;
  // Close the connection. Any thread; must not call back into the producer synchronously.
  virtual void RequestDisconnect(std::string_view reason) = 0;
};

// What DCP_OPEN established.
struct ProducerOptions {
  std::string name;  // the DCP_OPEN key
  uint32_t open_flags = protocol::kDcpOpenProducer;
  bool collections = false;  // HELLO Collections: keys carry the LEB128 collection id (0x00)
  // Who opened it and on which server port: what `stats dcp`'s "filter" option matches.
  std::string user;
  uint16_t port = 0;
  // Weak: the connection owns the producer.
  std::weak_ptr<ProducerNotifier> notifier;
};

struct [[nodiscard]] StreamRequestResult {
  Status status;  // OK, Rollback, NotMyVbucket, Range, Exists, NotSupported, NoMemory, Invalid,
                  // Disconnect, DcpStreamIdInvalid, UnknownCollection, UnknownScope
  std::vector<storage::FailoverEntry> failover_log;  // OK: newest first
  uint64_t rollback_seqno = 0;                       // Rollback
};

enum class StepResult : uint8_t {
  kNothingReady,     // every ready stream is drained; wait for NotifyProducerReady()
  kFlowControlFull,  // the consumer must acknowledge first (BufferAcknowledged notifies)
  kBudgetFull,       // `budget` bytes appended; call again once the output drained
  kDisconnect,       // close the connection
};

class Producer final : public StreamOwner,
                       public BackfillOwner,
                       public std::enable_shared_from_this<Producer> {
 public:
  static constexpr std::string_view kConnNamePrefix = "eq_dcpq:";

  // Use ConnMap::NewProducer (which also registers it by name).
  static std::shared_ptr<Producer> Create(std::shared_ptr<StreamDirectory> directory,
                                          ProducerOptions options);
  ~Producer() override;
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  const std::string& name() const { return name_; }            // the DCP_OPEN key
  const std::string& conn_name() const { return conn_name_; }  // "eq_dcpq:<name>"
  const std::string& user() const { return user_; }
  uint16_t port() const { return port_; }
  bool IsDisconnecting() const override { return disconnecting_.load(); }
  // Control "v7_dcp_status_codes" (the connection maps kStreamNotFound with it).
  bool v7_dcp_status_codes() const { return v7_status_codes_.load(); }

  // ---- connection thread ----
  // DCP_CONTROL: kInvalid for an unknown key or a bad value, kNotSupported for a known feature
  // sluice does not implement. Every accepted control is honoured (producer_controls.cc has the
  // table of keys).
  Status Control(std::string_view key, std::string_view value);
  // DCP_STREAM_REQ, checked in kv_engine's order:
  //   disconnecting -> Disconnect; unknown flags -> Invalid; the JSON value (stream_filter.h):
  //   malformed -> Invalid, a stream id missing with enable_stream_id or present without it ->
  //   DcpStreamIdInvalid, a collection or scope other than the default -> UnknownCollection /
  //   UnknownScope; vbucket missing or dead, or not active with ActiveVbOnly -> NotMyVbucket (a
  //   replica streams, as in kv_engine); TakeOver / CacheTransfer -> NotSupported; FromLatest
  //   (start = snapshot = high seqno, uuid = latest if 0); start > end or not snap_start <= start
  //   <= snap_end -> Range; a live stream with the same (vbucket, stream id) -> Exists (a dead one
  //   is replaced); rollback (FailoverTable::NeedsRollback: purge seqno 0 with
  //   IgnorePurgedTombstones, StrictVbUuid, the consumer's purge seqno) -> Rollback + seqno;
  //   ToLatest (end = high seqno), DiskOnly (end = persisted seqno); start > end or start > high
  //   seqno -> Range; memory above backfill_mem_threshold -> NoMemory. Then the stream is
  //   created, registered with the ConnMap, checked once more against a concurrent vbucket state
  //   change (-> NotMyVbucket), activated, and the failover log returned (newest first).
  StreamRequestResult StreamRequest(const protocol::DcpStreamReqRequest& request);
  // DCP_CLOSE_STREAM of (vb, sid): sid is the request's stream-id frame info. DcpStreamIdInvalid
  // if a sid is missing with enable_stream_id or present without it; kStreamNotFound if there is
  // no live stream. With send_stream_end_on_client_close_stream a STREAM_END(Closed) follows;
  // otherwise the stream is gone at once. Either way its backfill is released before this returns.
  Status CloseStream(Vbid vb, std::optional<uint16_t> sid = std::nullopt);
  StatusOr<std::vector<storage::FailoverEntry>> GetFailoverLog(Vbid vb);
  void BufferAcknowledged(uint32_t bytes);
  // DCP_SEQNO_ACKNOWLEDGED: the consumer (named by the consumer_name control) holds vb's prepares
  // up to `prepared_seqno`; the vbucket's durability monitor counts it (kv_engine's
  // seqno_acknowledged). kInvalid without enable_sync_writes or a consumer name; kNotMyVbucket if
  // the vbucket is missing. An ack for a stream that is gone (or not active) is ignored.
  Status SeqnoAcknowledged(uint32_t opaque, Vbid vb, uint64_t prepared_seqno);
  void NoopResponse();
  void MessageReceived();
  // Appends encoded messages to *out: a noop if due, then stream messages round-robin across the
  // streams with something ready, until `budget` bytes were appended (one message may overshoot
  // it), flow control is full, or nothing is ready. The connection passes StepBudget().
  StepResult Step(std::string* out, size_t budget);
  // The control set_priority (kv_engine's connection priority): how many bytes one Step may
  // append before the connection's I/O thread turns to its other connections. high 1 MiB,
  // medium (the default) 512 KiB, low 64 KiB.
  enum class Priority : uint8_t { kLow, kMedium, kHigh };
  size_t StepBudget() const;

  // ---- any thread ----
  void Disconnect();
  // Asks the connection to close (through the notifier).
  void RequestDisconnect(std::string_view reason);
  // How the per-stream stats of the "dcp" group are given (kv_engine's stream_format):
  // kLegacy one stat per value ("eq_dcpq:<name>:stream_<vb>_<stat>"), kJson one stat per stream
  // ("eq_dcpq:<name>:stream_<vb>", a JSON object of the same stats, values as strings), kSkip none.
  enum class StreamStatsFormat { kLegacy, kJson, kSkip };
  // "eq_dcpq:<name>:<stat>" for the connection, its backfills, flow control and each stream.
  void AddStats(const engine::AddStatFn& add,
                StreamStatsFormat format = StreamStatsFormat::kLegacy) const;

  struct Aggregate {
    uint64_t items_sent = 0;
    uint64_t total_bytes = 0;
    size_t streams = 0;
    StreamAggregate stream;
    bool paused = false;
  };
  void AddAggregate(Aggregate* agg) const;

  // ---- StreamOwner: its streams, from any thread ----
  void NotifyStreamReady(StreamKey key) override;
  void ScheduleBackfill(BackfillSpec spec) override;
  void BackfillBytesSent(size_t bytes) override;
  void CancelBackfill(uint64_t backfill_id) override;

  // ---- the ConnMap's connection manager (nonio thread) ----
  // Disconnects an idle consumer (noop enabled, nothing received for dcp_idle_timeout) and
  // notifies the connection when a noop is due.
  void ManageConnection(SteadyTime now);

 private:
  Producer(std::shared_ptr<StreamDirectory> directory, ProducerOptions options);

  // Wakes the connection unless a notification is already outstanding.
  void NotifyConnection();

  // ---- Step's parts ----
  // What one stream's turn in Step appended.
  struct StreamTurn {
    size_t bytes = 0;
    size_t backfill_bytes = 0;  // of it, charged to the backfill buffer
    uint64_t items = 0;
    bool ended = false;  // its STREAM_END was among them
  };
  // Appends a noop if one is due; false if the consumer was idle past dcp_idle_timeout.
  bool NoopOrIdleCheck(std::string* out) EXCLUDES(mu_);
  // The next ready stream into *stream and the consumer's window into *window; or why Step stops.
  std::optional<StepResult> NextReadyStream(std::shared_ptr<ActiveStream>* stream, size_t* window)
      EXCLUDES(mu_);
  // Appends up to kStreamBatch messages of `stream`, stopping once `room` bytes are reached.
  StreamTurn SendTurn(ActiveStream& stream, size_t room, std::string* out) EXCLUDES(mu_);
  // Accounts a turn that sent something (flow control, round-robin, the backfill buffer) and
  // removes the stream after its STREAM_END.
  void FinishTurn(ActiveStream& stream, const StreamTurn& turn) EXCLUDES(mu_);
  // Appends `m` of the stream `key` (opaque `opaque`) in this connection's encodings, its items
  // as `encoder` (the stream's) says (producer_encode.cc).
  void Encode(const DcpMessage& m, StreamKey key, uint32_t opaque, const ItemEncoder& encoder,
              std::string* out) const;
  // Removes `stream` (if still the one mapped at its key) after its STREAM_END was sent.
  void RemoveStream(const ActiveStream* stream);

  // ---- StreamRequest's steps (producer_stream_request.cc) ----
  // The request's flags, filter, stream id, vbucket (into *vb) and range, and that no live
  // stream has its key: the stream's parameters, or the status to answer.
  StatusOr<StreamParams> CheckRequest(const protocol::DcpStreamReqRequest& a,
                                      std::shared_ptr<engine::VBucket>* vb) const;
  // ToLatest / DiskOnly fix p->end_seqno; then the range against the high seqno and the memory
  // threshold.
  Status ResolveEnd(StreamParams* p, const engine::VBucket& vb) const;
  // Creates, registers and activates the stream (NotMyVbucket if the vbucket changed under it).
  Status OpenStream(const StreamParams& p, const std::shared_ptr<engine::VBucket>& vb);
  Status CheckStreamId(const StreamFilter& filter) const;
  Status CheckRange(StreamParams* p, const engine::VBucket& vb) const;
  StreamRequestResult CheckRollback(const StreamParams& p, engine::VBucket& vb) const;
  StreamOptions OptionsForNewStream() const;
  // Inserts `stream` at its key (replacing a dead one); kExists if a live one is there.
  Status InsertStream(const std::shared_ptr<ActiveStream>& stream);

  // ---- controls (producer_controls.cc), each applying one DCP_CONTROL key ----
  using ControlFn = Status (Producer::*)(std::string_view value);
  struct ControlEntry {
    std::string_view key;
    ControlFn apply;
  };
  static const ControlEntry* FindControl(std::string_view key);
  Status InvalidControl(std::string_view key, std::string_view value) const;
  Status ControlBufferSize(std::string_view value);
  Status ControlEnableNoop(std::string_view value);
  Status ControlNoopInterval(std::string_view value);
  Status ControlPriority(std::string_view value);
  Status ControlCursorDropping(std::string_view value);
  Status ControlStreamEndOnClose(std::string_view value);
  Status ControlExpiryOpcode(std::string_view value);
  Status ControlBackfillOrder(std::string_view value);
  Status ControlV7StatusCodes(std::string_view value);
  Status ControlConsumerName(std::string_view value);
  Status ControlHifiMfu(std::string_view value);
  Status ControlOutOfOrder(std::string_view value);
  Status ControlStreamId(std::string_view value);
  Status ControlMaxMarkerVersion(std::string_view value);
  Status ControlDeletedUserXattrs(std::string_view value);
  Status ControlNotSupported(std::string_view value);
  Status ControlSyncWrites(std::string_view value);

  // ---- constant after construction ----
  const std::string name_;
  const std::string conn_name_;
  const std::string user_;
  const uint16_t port_;
  const uint32_t open_flags_;
  const bool collections_;
  // Weak: the connection owns the producer.
  const std::weak_ptr<ProducerNotifier> notifier_;
  // Strong: a producer needs its directory and tracker for its whole life; the directory holds
  // producers weakly, so there is no cycle.
  const std::shared_ptr<StreamDirectory> directory_;
  const std::shared_ptr<engine::Bucket> bucket_;
  const Clock& clock_;
  const SteadyTime created_;
  const Duration idle_timeout_;
  const double connection_manager_interval_;  // seconds (set_noop_interval lower bound)

  // ---- atomics: independent flags and counters read without the lock ----
  std::atomic<bool> disconnecting_{false};
  std::atomic<bool> notify_pending_{false};  // a NotifyProducerReady() not yet followed by Step
  std::atomic<Duration::rep> last_receive_;  // clock_ time of the last consumer message
  std::atomic<uint64_t> items_sent_{0};
  std::atomic<uint64_t> total_bytes_sent_{0};
  std::atomic<bool> v7_status_codes_{false};
  std::atomic<bool> marker_v2_2_{false};  // control max_marker_version=2.2 (read by Encode)
  std::atomic<Priority> priority_{Priority::kMedium};

  // ---- protected by mu_ ----
  mutable Mutex mu_{LockRank::kDcpObject};
  std::map<StreamKey, std::shared_ptr<ActiveStream>> streams_ GUARDED_BY(mu_);
  std::deque<StreamKey> ready_ GUARDED_BY(mu_);   // streams with something to send, round-robin
  std::set<StreamKey> in_ready_ GUARDED_BY(mu_);  // queued in ready_
  std::shared_ptr<BackfillManager> manager_ GUARDED_BY(mu_);  // null once disconnected
  FlowControl flow_ GUARDED_BY(mu_);
  bool paused_ GUARDED_BY(mu_) = false;  // the last Step stopped without budget left over
  std::string paused_reason_ GUARDED_BY(mu_);
  bool noop_enabled_ GUARDED_BY(mu_) = false;
  Duration noop_interval_ GUARDED_BY(mu_);
  bool noop_pending_ GUARDED_BY(mu_) = false;  // sent, no reply yet
  SteadyTime noop_sent_ GUARDED_BY(mu_);
  uint32_t noop_opaque_ GUARDED_BY(mu_) = 0;
  bool cursor_dropping_ GUARDED_BY(mu_) = false;
  bool send_stream_end_on_close_ GUARDED_BY(mu_) = false;
  bool expiry_opcode_ GUARDED_BY(mu_) = false;
  std::string consumer_name_ GUARDED_BY(mu_);
  bool stream_ids_ GUARDED_BY(mu_) = false;   // control enable_stream_id (one way)
  bool sync_writes_ GUARDED_BY(mu_) = false;  // control enable_sync_writes (one way)
  StreamOptions::Oso oso_ GUARDED_BY(mu_) = StreamOptions::Oso::kOff;
};

}  // namespace sluice::dcp
