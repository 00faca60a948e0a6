#include "engine/checkpoint.h"

#include <cassert>
#include <iterator>
#include <memory>
#include <utility>

namespace sluice::engine {

Checkpoint::Checkpoint(uint64_t id, Vbid vbid, uint64_t start_seqno)
    : id_(id), start_seqno_(start_seqno), end_seqno_(start_seqno - 1) {
  auto start = std::make_shared<Item>();
  start->op = QueueOp::kCheckpointStart;
  start->vbid = vbid;
  start->by_seqno = start_seqno;
  memory_bytes_ += ElementBytes(*start);
  items_.push_back(std::move(start));
}

Checkpoint::Appended Checkpoint::AppendMutation(QueuedItem item) {
  assert(open_ && !item->IsMeta() && item->by_seqno > end_seqno_);
  memory_bytes_ += ElementBytes(*item);
  end_seqno_ = item->by_seqno;
  ++num_mutations_;
  items_.push_back(std::move(item));
  Appended result{std::prev(items_.end()), std::nullopt};
  // Prepares and aborts are never deduplicated, nor deduplicate anything (kv_engine keeps the
  // prepare namespace apart; a replica needs every prepare); a disk checkpoint has no index.
  if ((*result.added)->InPrepareNamespace() || disk_) return result;
  // The index key views the key of the item it maps to, so on a duplicate the entry is replaced
  // by one viewing the new item (the old item may be freed once erased from the list).
  const std::string_view key = (*result.added)->key;
  auto [slot, inserted] = index_.try_emplace(key, result.added);
  if (!inserted) {
    result.replaced = slot->second;
    index_.erase(slot);
    index_.emplace(key, result.added);
  }
  return result;
}

QueuedItem Checkpoint::Erase(CheckpointItems::iterator it) {
  assert(!(*it)->IsMeta());
  QueuedItem item = std::move(*it);
  items_.erase(it);
  memory_bytes_ -= ElementBytes(*item);
  --num_mutations_;
  return item;
}

void Checkpoint::AppendMeta(QueuedItem meta) {
  assert(open_ && meta->IsMeta());
  memory_bytes_ += ElementBytes(*meta);
  items_.push_back(std::move(meta));
}

void Checkpoint::Close(QueuedItem end_meta) {
  assert(open_ && end_meta->op == QueueOp::kCheckpointEnd);
  memory_bytes_ += ElementBytes(*end_meta);
  items_.push_back(std::move(end_meta));
  open_ = false;
  // Release the index's table (clear() may keep it allocated).
  absl::flat_hash_map<std::string_view, CheckpointItems::iterator>().swap(index_);
}

}  // namespace sluice::engine
