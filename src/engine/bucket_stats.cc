// Bucket::GetStats: the STAT groups of the engine, with kv_engine's names so that existing tools
// (cbstats) read them.
#include <fmt/format.h>

#include <charconv>

#include "engine/bucket.h"

namespace sluice::engine {
namespace {

// "vbucket-seqno 12" -> ("vbucket-seqno", "12").
std::pair<std::string_view, std::string_view> SplitGroup(std::string_view group) {
  const size_t space = group.find(' ');
  if (space == std::string_view::npos) return {group, {}};
  std::string_view arg = group.substr(space + 1);
  while (!arg.empty() && arg.front() == ' ') arg.remove_prefix(1);
  while (!arg.empty() && arg.back() == ' ') arg.remove_suffix(1);
  return {group.substr(0, space), arg};
}

}  // namespace

Status Bucket::GetStats(std::string_view group_text, const AddStatFn& add) const {
  const auto [group, arg] = SplitGroup(group_text);

  // Groups that may be limited to one vbucket with an argument.
  std::vector<std::shared_ptr<VBucket>> vbs;
  if (!arg.empty()) {
    if (group != "vbucket-details" && group != "vbucket-seqno" && group != "failovers" &&
        group != "checkpoint") {
      return Status(Errc::kInvalid, "this stat group takes no argument");
    }
    unsigned vbid = 0;
    auto [ptr, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), vbid);
    if (ec != std::errc() || ptr != arg.data() + arg.size() || vbid > 65535) {
      return Status(Errc::kInvalid, "vbucket id expected");
    }
    auto vb = vbuckets_.Get(static_cast<Vbid>(vbid));
    if (!vb) return Errc::kNotMyVbucket;
    vbs.push_back(std::move(vb));
  } else {
    vbs = vbuckets_.All();
  }

  auto num = [&](std::string_view key, auto value) { add(key, fmt::format("{}", value)); };

  if (group.empty()) {
    int64_t active_items = 0, total_items = 0, non_resident = 0;
    int counts[5] = {0, 0, 0, 0, 0};
    for (const auto& vb : vbs) {
      const auto c = vb->hash_table().GetCounters();
      total_items += c.items;
      non_resident += c.non_resident;
      if (vb->state() == VBucketState::kActive) active_items += c.items;
      counts[static_cast<int>(vb->state())]++;
    }
    const Config& c = options_.config;
    num("curr_items", active_items);
    num("curr_items_tot", total_items);
    num("mem_used", MemUsed());
    num("ep_max_size", c.max_size);
    num("ep_mem_high_wat", c.MemHighWatBytes());
    num("ep_mem_low_wat", c.MemLowWatBytes());
    num("ep_mem_high_wat_percent", c.mem_high_wat_percent);
    num("ep_mem_low_wat_percent", c.mem_low_wat_percent);
    num("ep_queue_size", QueueSize());
    num("ep_flusher_todo", 0);
    num("ep_total_persisted", stats_.total_persisted.load());
    num("ep_item_commit_failed", stats_.flusher_failures.load());
    num("ep_commit_num", stats_.flusher_commits.load());
    num("ep_commit_time_total", stats_.flush_duration_us.load() / 1000);
    num("ep_bg_fetched", stats_.bg_fetched.load());
    num("ep_num_value_ejects", stats_.num_value_ejects.load());
    num("ep_num_non_resident", non_resident);
    num("ep_expired_access", stats_.expired_access.load());
    num("ep_expired_pager", stats_.expired_pager.load());
    num("ep_tmp_oom_errors", stats_.tmp_oom_errors.load());
    num("ep_kv_size", stats_.ht_memory.load());
    num("ep_checkpoint_memory", stats_.checkpoint_memory.load());
    num("ep_cursors_dropped", stats_.cursors_dropped.load());
    num("ep_rollback_count", stats_.rollback_count.load());
    num("ep_rollback_resets", stats_.rollback_resets.load());
    num("rollback_item_count", stats_.rollback_item_count.load());
    num("ep_max_vbuckets", vbuckets_.size());
    num("ep_num_shards", flushers_.size());
    num("ep_warmup_thread", "complete");
    num("ep_warmup_time", warmup_.duration_ms * 1000);  // microseconds, as kv_engine
    num("ep_warmup_key_count", warmup_.documents);
    num("ep_warmup_value_count", warmup_.values_loaded);
    num("vb_active_num", counts[static_cast<int>(VBucketState::kActive)]);
    num("vb_replica_num", counts[static_cast<int>(VBucketState::kReplica)]);
    num("vb_pending_num", counts[static_cast<int>(VBucketState::kPending)]);
    num("vb_dead_num", counts[static_cast<int>(VBucketState::kDead)]);
    num("cmd_get", stats_.cmd_get.load());
    num("get_hits", stats_.get_hits.load());
    num("get_misses", stats_.get_misses.load());
    num("cmd_set", stats_.cmd_set.load());
    num("delete_hits", stats_.delete_hits.load());
    num("delete_misses", stats_.delete_misses.load());
    num("incr_hits", stats_.incr_hits.load());
    num("incr_misses", stats_.incr_misses.load());
    num("decr_hits", stats_.decr_hits.load());
    num("decr_misses", stats_.decr_misses.load());
    num("cas_hits", stats_.cas_hits.load());
    num("cas_misses", stats_.cas_misses.load());
    num("cas_badval", stats_.cas_badval.load());
    num("touch_hits", stats_.touch_hits.load());
    num("touch_misses", stats_.touch_misses.load());
    const auto disk = store_->GetStats();
    num("ep_db_data_size", disk.disk_size);
    num("ep_io_num_write", disk.docs_written);
    num("ep_io_write_bytes", disk.bytes_written);
    // The rollback history (magma's names: history_disk_size; sluice's own for the rest).
    num("ep_history_disk_size", disk.history_bytes);
    num("ep_history_versions_written", disk.history_versions);
    num("ep_history_trims", disk.history_trims);
    return Status::Ok();
  }
  if (group == "vbucket" || group == "vbucket-details") {
    const bool details = group == "vbucket-details";
    for (const auto& vb : vbs) vb->AddStats(fmt::format("vb_{}", vb->id()), details, add);
    return Status::Ok();
  }
  if (group == "vbucket-seqno") {
    for (const auto& vb : vbs) vb->AddSeqnoStats(add);
    return Status::Ok();
  }
  if (group == "failovers") {
    for (const auto& vb : vbs) vb->AddFailoverStats(add);
    return Status::Ok();
  }
  if (group == "checkpoint") {
    for (const auto& vb : vbs) vb->AddCheckpointStats(add);
    num("ep_checkpoint_memory", stats_.checkpoint_memory.load());
    return Status::Ok();
  }
  if (group == "memory") {
    const Config& c = options_.config;
    num("mem_used", MemUsed());
    num("ep_max_size", c.max_size);
    num("ep_mem_high_wat", c.MemHighWatBytes());
    num("ep_mem_low_wat", c.MemLowWatBytes());
    num("ep_kv_size", stats_.ht_memory.load());
    num("ep_checkpoint_memory", stats_.checkpoint_memory.load());
    num("ep_checkpoint_memory_quota",
        static_cast<uint64_t>(static_cast<double>(c.max_size) * c.checkpoint_memory_ratio));
    num("ep_mutation_mem_ratio", c.mutation_mem_ratio);
    num("ep_tmp_oom_errors", stats_.tmp_oom_errors.load());
    num("ep_num_value_ejects", stats_.num_value_ejects.load());
    return Status::Ok();
  }
  return Status(Errc::kNotFound, "unknown stat group");
}

}  // namespace sluice::engine
