// File: engine/engine_stats.h
//
// EngineStats: bucket-wide counters and gauges updated on hot paths from many threads. Plain
// relaxed atomics: each is an independent counter; readers (STAT, pagers) accept a slightly stale
// view. Names of the fields follow the kv_engine stat they feed.
//
// Ownership: one per Bucket, owned by it; vbuckets, hash tables, checkpoint managers and tasks
// hold a plain pointer (the bucket outlives them all). Thread safety: thread-safe.
#pragma once

#include <atomic>
#include <cstdint>

namespace sluice::engine {

struct EngineStats {
  using Counter = std::atomic<uint64_t>;
  using Gauge = std::atomic<int64_t>;

  // ---- memory (bytes) ----
  Gauge ht_memory{0};          // hash tables: entries, keys, resident values
  Gauge checkpoint_memory{0};  // checkpoints: queued items and their values
  // mem_used = ht_memory + checkpoint_memory + overhead (see Bucket::MemUsed)

  // ---- front end ----
  Counter cmd_get{0};
  Counter get_hits{0};
  Counter get_misses{0};
  Counter cmd_set{0};
  Counter delete_hits{0};
  Counter delete_misses{0};
  Counter incr_hits{0};
  Counter incr_misses{0};
  Counter decr_hits{0};
  Counter decr_misses{0};
  Counter cas_hits{0};
  Counter cas_misses{0};
  Counter cas_badval{0};
  Counter touch_hits{0};
  Counter touch_misses{0};
  Counter tmp_oom_errors{0};  // writes refused with TMPFAIL over the mutation threshold

  // ---- persistence ----
  Counter total_persisted{0};  // ep_total_persisted: items written by flushers
  Counter flusher_commits{0};
  Counter flusher_failures{0};  // ep_item_commit_failed
  Counter flush_duration_us{0};

  // ---- background fetch / eviction / expiry ----
  Counter bg_fetched{0};        // ep_bg_fetched
  Counter num_value_ejects{0};  // ep_num_value_ejects
  Counter expired_access{0};    // ep_expired_access: expired on access
  Counter expired_pager{0};     // ep_expired_pager: expired by the pager
  Counter items_rm_from_checkpoints{0};
  Counter cursors_dropped{0};  // ep_cursors_dropped

  // ---- replication ----
  Counter rollback_count{0};       // ep_rollback_count: replica rollbacks below the high seqno
  Counter rollback_resets{0};      // ep_rollback_resets: of those, vbuckets emptied to copy again
  Counter rollback_item_count{0};  // rollback_item_count: items undone by rollbacks and resets
};

}  // namespace sluice::engine
