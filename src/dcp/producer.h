// File: dcp/producer.h
//
// Producer: one DCP producer connection (created for a DCP_OPEN with the Producer flag): its
// controls, its streams (one per vbucket), flow control, noops, and Step(), which encodes what its
// streams have ready into the connection's output.
//
// How a connection drives it (all on the connection's own thread, synchronously):
//   DCP_CONTROL            Control(key, value)
//   DCP_STREAM_REQ         StreamRequest(...) -> status + failover log | rollback seqno
//   DCP_CLOSE_STREAM       CloseStream(vb)
//   DCP_GET_FAILOVER_LOG   GetFailoverLog(vb)
//   DCP_BUFFER_ACK         BufferAcknowledged(bytes)
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
// Order of checks in StreamRequest (kv_engine's, reference section 6): disconnecting ->
// Disconnect; unknown flags -> Invalid; vbucket missing or not active -> NotMyVbucket (only active
// vbuckets stream here; a replica would need kv_engine's replica snapshot handling, so ActiveVbOnly
// changes nothing); TakeOver / CacheTransfer -> NotSupported; FromLatest (start = snap = high
// seqno, uuid = latest if 0); start > end or not snap_start <= start <= snap_end -> Range; a live
// stream on the vbucket -> Exists (a dead one is replaced); a JSON value that is not an object ->
// Invalid; rollback via FailoverTable::NeedsRollback (purge seqno 0 with IgnorePurgedTombstones;
// StrictVbUuid; the consumer's purge seqno from the JSON value's "purge_seqno") -> Rollback +
// seqno; ToLatest (end = high seqno), DiskOnly (end = persisted seqno); start > end or start >
// high seqno -> Range; memory above backfill_mem_threshold -> NoMemory; then the stream is
// created, registered with the ConnMap, checked once more against a concurrent vbucket state
// change (-> NotMyVbucket), activated, and the failover log returned.
//
// Disconnect() (README rule 6): flags the producer, cancels and drops its BackfillManager first
// (destroyed right there, giving back the running-backfill slots, unless a run is in progress,
// which then ends at its next item), then ends every stream (Disconnected: nothing is sent) and
// hands their queued messages to a nonio task to free (queue_release.h), and counts the
// disconnect for the ConnMap's heap trim. ~Producer does the minimum of that without touching
// other objects' locks (it may run on an auxio or writer thread inside a notification).
//
// Ownership: shared; the connection owns it (shared_ptr). It owns its streams and its
// BackfillManager, and holds its ConnMap strongly (a producer needs its bucket's directory and
// tracker for its whole life; the ConnMap holds producers weakly, so there is no cycle). Held
// weakly by its streams, its BackfillManagerTask and the ConnMap. The notifier is held weakly:
// the connection owns the producer.
//
// Thread safety: thread-safe. Connection calls on the connection thread; NotifyStreamReady,
// BackfillBytesSent, Disconnect, ManageConnection and the stats from any thread. mu_ is never held
// while calling into a stream, the BackfillManager, the ConnMap or the notifier.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "common/types.h"
#include "dcp/active_stream.h"
#include "dcp/backfill_manager.h"
#include "dcp/dcp_message.h"
#include "dcp/flow_control.h"
#include "dcp/item_encoder.h"
#include "engine/bucket.h"
#include "engine/engine_types.h"
#include "storage/kvstore.h"

namespace sluice::dcp {

class ConnMap;

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

struct StreamRequestArgs {
  Vbid vbucket = 0;
  uint32_t opaque = 0;
  uint32_t flags = 0;
  uint64_t start_seqno = 0;
  uint64_t end_seqno = ~uint64_t{0};
  uint64_t vbucket_uuid = 0;
  uint64_t snap_start_seqno = 0;
  uint64_t snap_end_seqno = 0;
  std::string_view json_value;  // optional; "purge_seqno" is honoured
};

struct [[nodiscard]] StreamRequestResult {
  Status status;  // OK, Rollback, NotMyVbucket, Range, Exists, NotSupported, NoMemory, Invalid,
                  // Disconnect
  std::vector<storage::FailoverEntry> failover_log;  // OK: newest first
  uint64_t rollback_seqno = 0;                       // Rollback
};

enum class StepResult : uint8_t {
  kNothingReady,     // every ready stream is drained; wait for NotifyProducerReady()
  kFlowControlFull,  // the consumer must acknowledge first (BufferAcknowledged notifies)
  kBudgetFull,       // `budget` bytes appended; call again once the output drained
  kDisconnect,       // close the connection
};

class Producer : public std::enable_shared_from_this<Producer> {
 public:
  static constexpr std::string_view kConnNamePrefix = "eq_dcpq:";

  // Use ConnMap::NewProducer (which also registers it by name).
  static std::shared_ptr<Producer> Create(std::shared_ptr<ConnMap> conn_map,
                                          ProducerOptions options);
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  const std::string& name() const { return name_; }            // the DCP_OPEN key
  const std::string& conn_name() const { return conn_name_; }  // "eq_dcpq:<name>"
  const std::string& user() const { return user_; }
  uint16_t port() const { return port_; }
  bool IsDisconnecting() const { return disconnecting_.load(); }
  // Control "v7_dcp_status_codes" (the connection maps kStreamNotFound with it).
  bool v7_dcp_status_codes() const { return v7_status_codes_.load(); }

  // ---- connection thread ----
  // kInvalid for an unknown key or a bad value, kNotSupported for a known unsupported feature.
  Status Control(std::string_view key, std::string_view value);
  StreamRequestResult StreamRequest(const StreamRequestArgs& args);
  // kStreamNotFound if there is no live stream on vb. With send_stream_end_on_client_close_stream
  // a STREAM_END(Closed) follows; otherwise the stream is gone at once.
  Status CloseStream(Vbid vb);
  StatusOr<std::vector<storage::FailoverEntry>> GetFailoverLog(Vbid vb);
  void BufferAcknowledged(uint32_t bytes);
  void NoopResponse();
  void MessageReceived();
  // Appends encoded messages to *out: a noop if due, then stream messages round-robin across the
  // streams with something ready, until `budget` bytes were appended (one message may overshoot
  // it), flow control is full, or nothing is ready.
  StepResult Step(std::string* out, size_t budget);

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

  // ---- streams and backfills ----
  void NotifyStreamReady(Vbid vb);
  void ScheduleBackfill(BackfillSpec spec);
  void BackfillBytesSent(size_t bytes);

  // ---- the ConnMap's connection manager (nonio thread) ----
  // Disconnects an idle consumer (noop enabled, nothing received for dcp_idle_timeout) and
  // notifies the connection when a noop is due.
  void ManageConnection(SteadyTime now);

 private:
  Producer(std::shared_ptr<ConnMap> conn_map, ProducerOptions options);

  // Wakes the connection unless a notification is already outstanding.
  void NotifyConnection();
  // Appends `m` for stream (vb, opaque), items as `encoder` (the stream's) says.
  void Encode(const DcpMessage& m, Vbid vb, uint32_t opaque, const ItemEncoder& encoder,
              std::string* out) const;
  // Removes `stream` (if still the one mapped at vb) after its STREAM_END was sent.
  void RemoveStream(Vbid vb, const ActiveStream* stream);

  // ---- constant after construction ----
  const std::string name_;
  const std::string conn_name_;
  const std::string user_;
  const uint16_t port_;
  const uint32_t open_flags_;
  const bool collections_;
  // Weak: the connection owns the producer.
  const std::weak_ptr<ProducerNotifier> notifier_;
  const std::shared_ptr<ConnMap> conn_map_;
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

  // ---- protected by mu_ ----
  mutable Mutex mu_;
  std::map<Vbid, std::shared_ptr<ActiveStream>> streams_ GUARDED_BY(mu_);
  std::deque<Vbid> ready_ GUARDED_BY(mu_);      // streams with something to send, round-robin
  std::vector<bool> in_ready_ GUARDED_BY(mu_);  // by vbid: queued in ready_
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
  std::string priority_ GUARDED_BY(mu_) = "medium";
  std::string consumer_name_ GUARDED_BY(mu_);
};

}  // namespace sluice::dcp
