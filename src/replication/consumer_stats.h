// File: replication/consumer_stats.h
//
// A consumer connection's entry in "STAT dcp", with kv_engine's names (its ConnHandler,
// DcpConsumer, FlowControl and PassiveStream addStats), for both consumers of this node: the
// built-in replicator's links (Replicator::AddDcpStats) and the connections an external driver
// opened with DCP_OPEN (Consumer, through its ConsumerStatsBoard). Keys are
// "eq_dcpq:<connection name>:<stat>", a stream's "eq_dcpq:<name>:stream_<vb>_<stat>" (or one JSON
// value per stream, "eq_dcpq:<name>:stream_<vb>", as kv_engine's stream_format "json").
//
// What sluice's consumers are not, the stats say as they are: a message is applied when it
// arrives (no ready queue: items_ready false, readyQ_items 0, ready_queue_memory 0, a stream's
// unacked_bytes 0; the connection's unacked_bytes are the applied bytes not yet acknowledged);
// the connection is never paused. total_backoffs counts the acknowledgements withheld for memory
// (kv_engine's consumer backs off its processing then; sluice's stops acknowledging).
//
// Ownership: ConsumerStatsBoard is shared (shared_ptr) by its Consumer, which writes it, and the
// server, which reads it for STAT dcp on any thread; it keeps the streams it lists alive.
// Thread safety: AddConsumerDcpStats is pure; ConsumerStatsBoard is thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/mutex.h"
#include "common/types.h"
#include "engine/engine_types.h"
#include "replication/passive_stream.h"

namespace sluice::replication {

struct ConsumerConnStats {
  std::string name;  // the connection's (DCP_OPEN) name
  std::string user;
  SteadyTime created{};
  uint64_t total_acked_bytes = 0;
  uint64_t max_buffer_bytes = 0;  // connection_buffer_size
  uint64_t unacked_bytes = 0;     // applied, not yet acknowledged
  uint64_t total_backoffs = 0;
  uint64_t messages = 0;  // producer messages received (sluice's)
  uint64_t total_bytes_received = 0;
  bool synchronous_replication = false;  // enable_sync_writes was asked for
  size_t pending_controls = 0;           // controls not answered yet; the first of them:
  std::string pending_control;
  std::string pending_control_value;
  bool pending_add_stream = false;  // an ADD_STREAM waits for the controls
  std::map<Vbid, PassiveStreamStats> streams;
};

// kv_engine's stream_format of STAT dcp.
enum class DcpStreamStatsFormat : uint8_t { kLegacy, kJson, kSkip };

// Adds `c`'s stats (and its streams', in `format`).
void AddConsumerDcpStats(const ConsumerConnStats& c, DcpStreamStatsFormat format,
                         const engine::AddStatFn& add);

class ConsumerStatsBoard {
 public:
  ConsumerStatsBoard(std::string name, std::string user, uint64_t buffer_size, SteadyTime created);

  // ---- the Consumer (its connection's thread) ----
  void SetStream(Vbid vb, std::shared_ptr<const PassiveStream> stream) EXCLUDES(mu_);
  void RemoveStream(Vbid vb) EXCLUDES(mu_);
  void ClearStreams() EXCLUDES(mu_);
  // The controls still to be answered (the first one named), and whether ADD_STREAMs wait.
  void SetControls(size_t pending, std::string first_key, std::string first_value,
                   bool adds_waiting) EXCLUDES(mu_);
  void SetCounters(uint64_t messages, uint64_t bytes_received, uint64_t bytes_acked,
                   uint64_t unacked, uint64_t backoffs);

  // ---- any thread ----
  ConsumerConnStats Read() const EXCLUDES(mu_);

 private:
  const std::string name_;
  const std::string user_;
  const uint64_t buffer_size_;
  const SteadyTime created_;
  std::atomic<uint64_t> messages_{0};
  std::atomic<uint64_t> bytes_received_{0};
  std::atomic<uint64_t> bytes_acked_{0};
  std::atomic<uint64_t> unacked_{0};
  std::atomic<uint64_t> backoffs_{0};
  mutable Mutex mu_;
  std::map<Vbid, std::shared_ptr<const PassiveStream>> streams_ GUARDED_BY(mu_);
  size_t pending_controls_ GUARDED_BY(mu_) = 0;
  std::string pending_control_ GUARDED_BY(mu_);
  std::string pending_control_value_ GUARDED_BY(mu_);
  bool adds_waiting_ GUARDED_BY(mu_) = false;
};

}  // namespace sluice::replication
