// File: tools/load_generator.h
//
// LoadGenerator: the engine of `sluice load`. It drives a mix of GET and SET requests over a set
// of already connected (and authenticated) client::Connections, one thread per connection, each
// keeping `pipeline` requests in flight: a batch is encoded into the connection's send buffer with
// Enqueue(), written with one Flush(), and its responses are read back in order with
// ReadResponses(). A request's latency is the time from its batch's Flush() to the arrival of its
// response (so it includes the time spent behind earlier requests of the same batch, as a
// pipelining client sees it). Latencies go into one LatencyHistogram per worker, merged at the end.
//
// Phases:
//
//   [populate]  optional: every key is SET once; the key range is split evenly across the
//               connections (not measured, only timed)
//   measure     until `ops` requests have completed in total (claimed in batches from one shared
//               counter, so the total is exact) or `duration` has passed (checked between
//               batches, so a run ends at most one batch late)
//
// Pacing (--rate): the measured phase issues at most `rate` requests per second in total. Each
// worker sends its batches on a fixed schedule (batch size x connections / rate apart, the workers
// staggered evenly); a worker that falls behind sends at once until it is back on schedule, so
// the average rate holds even when individual sleeps overshoot.
//
// Timestamped values (--timestamp-values): every SET's value starts with the steady-clock time
// (nanoseconds since the clock's epoch, little-endian u64) at which its batch was encoded, so a
// DCP consumer on the same machine (`sluice tail --latency`) can measure write -> receipt latency.
// Each worker then has its own copy of the value to stamp.
//
// Hot path, per request: no allocation, no string building. Keys are prebuilt in one contiguous
// buffer (KeySpace), with their vbucket (CRC32 mapping as Couchbase clients compute, or 0 for
// memcached) precomputed; the value is one prebuilt buffer shared by every SET; random numbers come
// from a per-worker xorshift generator.
//
// Durability (--durability): every SET (populate included) carries a durability-requirement frame
// info, encoded once (the requests go out with the alternative request magic; the session agrees
// AltRequestSupport and SyncReplication in HELLO). A server that cannot honour it answers
// DurabilityImpossible, which counts as an error like any other failure status.
//
// Responses: Success counts as done; KEY_ENOENT for a GET counts as a miss (the key was never
// written, e.g. without --populate); any other status counts as an error (the first one is kept
// for the report). In the populate phase, Etmpfail and Enomem (the server is shedding load until
// its flusher catches up) are not failures: those keys are written again after a pause that
// doubles from 1 ms up to 100 ms while the server keeps refusing, as Couchbase SDKs retry them
// (populate_retries counts them). A transport failure (connection closed, timeout) stops that
// worker and makes Run() fail with its Status.
//
// Ownership: the generator owns the connections it is given. Thread safety: Run() is called by one
// thread, once; it starts and joins the worker threads itself.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/connection.h"
#include "common/status.h"
#include "common/types.h"
#include "protocol/frame_info.h"
#include "protocol/status.h"
#include "tools/histogram.h"

namespace sluice::tools {

// How requests pick their vbucket.
enum class VBucketMode : uint8_t {
  kCrc,   // VBucketForKey(key, server's vbucket count), as a Couchbase client
  kZero,  // always vbucket 0, as a memcached client
};

struct LoadOptions {
  uint64_t keys = 100'000;
  uint32_t value_size = 100;
  double set_ratio = 0.1;  // fraction of requests that are SETs, 0..1
  // Exactly one of these ends the measured phase (the CLI fills in duration 10 s if neither).
  std::optional<uint64_t> ops;
  std::optional<double> duration_seconds;
  uint32_t connections = 1;
  uint32_t pipeline = 16;
  std::string key_prefix = "key:";
  bool populate = false;
  VBucketMode vbucket_mode = VBucketMode::kCrc;
  uint64_t seed = 1;
  std::optional<double> rate;     // requests per second in the measured phase (all connections)
  bool timestamp_values = false;  // SET values start with the send time (needs value_size >= 8)
  // SETs carry this durability requirement (nullopt: plain writes).
  std::optional<protocol::DurabilityRequirement> durability;
};

// "majority", "majority_and_persist_on_master", "persist_to_majority" (kv_engine's spellings);
// nullopt for anything else.
std::optional<protocol::DurabilityLevel> ParseDurabilityLevel(std::string_view name);

// Checks ranges and combinations (e.g. keys > 0, set_ratio in [0, 1], ops xor duration).
Status ValidateLoadOptions(const LoadOptions& options);

// The prebuilt keys: `prefix` + the index in decimal, zero-padded to one width, and each key's
// vbucket. Immutable after construction; shared read-only by every worker.
class KeySpace {
 public:
  // num_vbuckets 0: every key maps to vbucket 0.
  KeySpace(std::string_view prefix, uint64_t count, uint32_t num_vbuckets);

  uint64_t size() const { return count_; }
  std::string_view Key(uint64_t index) const {
    return std::string_view(keys_.data() + index * stride_, stride_);
  }
  Vbid VBucket(uint64_t index) const { return vbuckets_[index]; }

 private:
  uint64_t count_;
  size_t stride_;
  std::string keys_;
  std::vector<Vbid> vbuckets_;
};

struct LoadResult {
  uint64_t ops = 0;  // completed requests in the measured phase (any status)
  uint64_t gets = 0;
  uint64_t sets = 0;
  uint64_t misses = 0;  // GETs answered KEY_ENOENT
  uint64_t errors = 0;  // any other non-success answer
  std::optional<protocol::McbpStatus> first_error;
  uint64_t populated = 0;  // keys written by the populate phase
  uint64_t populate_errors = 0;
  uint64_t populate_retries = 0;  // writes refused with Etmpfail/Enomem and sent again
  double populate_seconds = 0;
  double seconds = 0;  // wall time of the measured phase
  LatencyHistogram latency_ns;

  double ops_per_sec() const { return seconds > 0 ? static_cast<double>(ops) / seconds : 0; }
};

class LoadGenerator {
 public:
  // `num_vbuckets` is the server's vbucket count (used when options.vbucket_mode is kCrc; must be
  // > 0 then). REQUIRES: connections.size() == options.connections, each ready for KV requests.
  LoadGenerator(LoadOptions options, uint32_t num_vbuckets,
                std::vector<std::unique_ptr<client::Connection>> connections);
  ~LoadGenerator();

  LoadGenerator(const LoadGenerator&) = delete;
  LoadGenerator& operator=(const LoadGenerator&) = delete;

  // Runs [populate and] the measured phase. A transport failure on any connection is returned
  // (after every worker has stopped).
  StatusOr<LoadResult> Run();

 private:
  struct Worker;

  // Runs fn(worker) on one thread per connection and joins them; the wall time in seconds.
  template <class Fn>
  double RunWorkers(Fn&& fn);
  void Populate(Worker& worker, uint64_t begin, uint64_t end);
  void Measure(Worker& worker, size_t index);

  // ---- Constant after construction ----
  const LoadOptions options_;
  const KeySpace keys_;
  const std::string value_;    // the prebuilt value of every SET
  const std::string framing_;  // the SETs' framing extras (the durability requirement) or empty

  // ---- Run()'s thread; each Worker is then used by its own thread only ----
  std::vector<std::unique_ptr<Worker>> workers_;
  // Set before the measuring threads start (thread creation orders it), read-only meanwhile.
  std::chrono::steady_clock::time_point measure_start_;
  std::chrono::steady_clock::time_point deadline_;

  // ---- Atomics ----
  // Requests of an --ops run not yet claimed by a worker. Each worker claims a batch at a time with
  // one fetch_sub: that is all the coordination the workers need, so no lock.
  std::atomic<int64_t> unclaimed_ops_{0};
};

}  // namespace sluice::tools
