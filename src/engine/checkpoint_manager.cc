#include "engine/checkpoint_manager.h"

#include <algorithm>
#include <cassert>
#include <iterator>
#include <utility>

#include "engine/checkpoint.h"

namespace sluice::engine {

namespace {

QueuedItem MakeMetaItem(QueueOp op, Vbid vbid, uint64_t seqno) {
  auto item = std::make_shared<Item>();
  item->op = op;
  item->vbid = vbid;
  item->by_seqno = seqno;
  return item;
}

}  // namespace

CheckpointManager::CheckpointManager(Vbid vbid, CheckpointConfig config, uint64_t last_seqno,
                                     std::atomic<int64_t>* memory_counter)
    : vbid_(vbid), config_(config), memory_counter_(memory_counter) {
  MutexLock lock(&mu_);
  high_seqno_ = last_seqno;
  OpenCheckpointLocked();
  persistence_ = NewCursor(std::string(kPersistenceCursor), /*droppable=*/false, nullptr);
  PositionCursorLocked(*persistence_, last_seqno);
  cursors_.emplace(persistence_->name(), persistence_);
}

CheckpointManager::~CheckpointManager() {
  MutexLock lock(&mu_);
  // Everything still held is freed with the members: take it off the shared counter.
  AccountLocked(-static_cast<int64_t>(memory_bytes_));
}

std::shared_ptr<Cursor> CheckpointManager::NewCursor(std::string name, bool droppable,
                                                     std::function<void()> on_dropped) {
  // Cursor's constructor is private to the manager, so no make_shared.
  return std::shared_ptr<Cursor>(new Cursor(std::move(name), droppable, std::move(on_dropped)));
}

void CheckpointManager::AccountLocked(int64_t delta) {
  memory_bytes_ = static_cast<size_t>(static_cast<int64_t>(memory_bytes_) + delta);
  if (memory_counter_ != nullptr && delta != 0) {
    memory_counter_->fetch_add(delta, std::memory_order_relaxed);
  }
}

void CheckpointManager::OpenCheckpointLocked() {
  checkpoints_.push_back(
      std::make_unique<Checkpoint>(next_checkpoint_id_++, vbid_, high_seqno_ + 1));
  AccountLocked(static_cast<int64_t>(checkpoints_.back()->memory_bytes()));
}

void CheckpointManager::CloseOpenCheckpointLocked() {
  const auto closed = std::prev(checkpoints_.end());
  Checkpoint& ckpt = **closed;
  const size_t before = ckpt.memory_bytes();
  ckpt.Close(MakeMetaItem(QueueOp::kCheckpointEnd, vbid_, high_seqno_ + 1));
  AccountLocked(static_cast<int64_t>(ckpt.memory_bytes()) - static_cast<int64_t>(before));
  OpenCheckpointLocked();
  if (ckpt.has_declared_snapshot() && ckpt.declared_end() > high_seqno_) {
    // A replica's snapshot is not complete yet: its next items belong to it too.
    checkpoints_.back()->DeclareSnapshot(ckpt.declared_start(), ckpt.declared_end(),
                                         ckpt.is_disk());
  }
  if (ckpt.num_cursors() == 0) return;
  // Cursors that read every mutation of the closed checkpoint would only step over its end: move
  // them now so they do not keep it alive. Their snapshot state is unchanged (last_seqno_ is the
  // closed checkpoint's end, i.e. the new one's start - 1).
  const auto open = std::prev(checkpoints_.end());
  ForEachCursorLocked([&](Cursor& c) REQUIRES(mu_) {
    if (c.checkpoint_ == closed && c.mutations_read_ == ckpt.num_mutations()) {
      PlaceCursorLocked(c, open, (*open)->begin(), 0);
    }
  });
}

template <typename F>
void CheckpointManager::ForEachCursorLocked(F&& f) {
  for (auto& entry : cursors_) {
    if (entry.second->attached_) f(*entry.second);
  }
  if (persistence_backup_ != nullptr && persistence_backup_->attached_) f(*persistence_backup_);
}

void CheckpointManager::PlaceCursorLocked(Cursor& c, CheckpointList::iterator ckpt,
                                          CheckpointItems::iterator item, size_t mutations_read) {
  if (c.attached_) (*c.checkpoint_)->RemoveCursor();
  (*ckpt)->AddCursor();
  c.attached_ = true;
  c.checkpoint_ = ckpt;
  c.item_ = item;
  c.mutations_read_ = mutations_read;
}

void CheckpointManager::DetachCursorLocked(Cursor& c) {
  if (!c.attached_) return;
  (*c.checkpoint_)->RemoveCursor();
  c.attached_ = false;
}

void CheckpointManager::CopyPositionLocked(Cursor& dst, const Cursor& src) {
  assert(src.attached_);
  PlaceCursorLocked(dst, src.checkpoint_, src.item_, src.mutations_read_);
  dst.last_seqno_ = src.last_seqno_;
  dst.last_snapshot_ = src.last_snapshot_;
}

bool CheckpointManager::IsRegisteredLocked(const Cursor& c) const {
  if (!c.attached_) return false;
  const auto it = cursors_.find(c.name());
  return it != cursors_.end() && it->second.get() == &c;
}

// ---- writers ----

uint64_t CheckpointManager::Queue(std::shared_ptr<Item> item,
                                  const std::function<void(Item&)>& pre_link) {
  assert(item != nullptr && !item->IsMeta());
  QueuedItem replaced;  // a superseded version, released after the lock
  MutexLock lock(&mu_);
  if (checkpoints_.back()->has_declared_snapshot()) {
    // A promoted replica writes its own seqnos: they belong to no producer's snapshot.
    if (checkpoints_.back()->num_mutations() > 0) {
      CloseOpenCheckpointLocked();
    }
    checkpoints_.back()->ClearDeclaredSnapshot();
  }
  MaybeCloseForSizeLocked();
  const uint64_t seqno = ++high_seqno_;
  item->by_seqno = seqno;
  if (pre_link) pre_link(*item);
  replaced = AppendLocked(std::move(item));
  return seqno;
}

bool CheckpointManager::QueueWithSeqno(std::shared_ptr<Item> item) {
  assert(item != nullptr && !item->IsMeta());
  QueuedItem replaced;  // a superseded version, released after the lock
  MutexLock lock(&mu_);
  if (item->by_seqno <= high_seqno_) return false;
  MaybeCloseForSizeLocked();
  high_seqno_ = item->by_seqno;
  replaced = AppendLocked(std::move(item));
  return true;
}

void CheckpointManager::MaybeCloseForSizeLocked() {
  if (checkpoints_.back()->memory_bytes() > config_.max_size_bytes &&
      checkpoints_.back()->num_mutations() > 0 && checkpoints_.size() < config_.max_checkpoints) {
    CloseOpenCheckpointLocked();
  }
}

QueuedItem CheckpointManager::AppendLocked(std::shared_ptr<Item> item) {
  Checkpoint& open = *checkpoints_.back();
  QueuedItem replaced;
  const size_t before = open.memory_bytes();
  const Checkpoint::Appended appended = open.AppendMutation(std::move(item));
  if (appended.replaced.has_value()) {
    const CheckpointItems::iterator old = *appended.replaced;
    if (open.num_cursors() > 0) {
      // Seqnos order elements within a checkpoint (checkpoint.h, "seqno order"), so a cursor whose
      // element has a higher seqno than the removed one had read it.
      const uint64_t old_seqno = (*old)->by_seqno;
      ForEachCursorLocked([&](Cursor& c) REQUIRES(mu_) {
        if (c.checkpoint_->get() != &open) return;
        if (c.item_ == old) {
          c.item_ = std::prev(old);
          --c.mutations_read_;
        } else if (old_seqno < (*c.item_)->by_seqno) {
          --c.mutations_read_;
        }
      });
    }
    replaced = open.Erase(old);
  }
  AccountLocked(static_cast<int64_t>(open.memory_bytes()) - static_cast<int64_t>(before));
  return replaced;
}

void CheckpointManager::CreateSnapshot(uint64_t start, uint64_t end, bool disk) {
  MutexLock lock(&mu_);
  if (checkpoints_.back()->num_mutations() > 0) CloseOpenCheckpointLocked();
  checkpoints_.back()->DeclareSnapshot(start, end, disk);
}

void CheckpointManager::ExtendSnapshot(uint64_t end) {
  MutexLock lock(&mu_);
  Checkpoint& open = *checkpoints_.back();
  open.DeclareSnapshot(open.has_declared_snapshot() ? open.declared_start() : high_seqno_ + 1, end,
                       open.is_disk());
}

void CheckpointManager::QueueSetVBucketState(VBucketState state) {
  // The seqno the next mutation will get keeps elements ordered by seqno (checkpoint.h).
  MutexLock lock(&mu_);
  auto meta = std::make_shared<Item>();
  meta->op = QueueOp::kSetVBucketState;
  meta->vbid = vbid_;
  meta->by_seqno = high_seqno_ + 1;
  meta->flags = static_cast<uint32_t>(state);
  Checkpoint& open = *checkpoints_.back();
  const size_t before = open.memory_bytes();
  open.AppendMeta(std::move(meta));
  AccountLocked(static_cast<int64_t>(open.memory_bytes()) - static_cast<int64_t>(before));
}

void CheckpointManager::CreateNewCheckpoint() {
  MutexLock lock(&mu_);
  if (checkpoints_.back()->num_mutations() > 0) CloseOpenCheckpointLocked();
}

uint64_t CheckpointManager::GetHighSeqno() const {
  MutexLock lock(&mu_);
  return high_seqno_;
}

// ---- cursors ----

CursorRegistration CheckpointManager::PositionCursorLocked(Cursor& c, uint64_t last_read_seqno) {
  const uint64_t last_read = std::min(last_read_seqno, high_seqno_);
  c.last_seqno_ = last_read;
  c.last_snapshot_ = {last_read, last_read};
  CursorRegistration reg;
  for (auto it = checkpoints_.begin(); it != checkpoints_.end(); ++it) {
    Checkpoint& ckpt = **it;
    if (last_read < ckpt.start_seqno()) {
      // Everything of this checkpoint is new to the cursor: start at its beginning. Only a gap
      // before the oldest checkpoint can reach here with last_read + 1 < start (ranges are
      // contiguous).
      PlaceCursorLocked(c, it, ckpt.begin(), 0);
      reg.needs_backfill = last_read + 1 < ckpt.start_seqno();
      reg.next_seqno = ckpt.start_seqno();
      return reg;
    }
    if (!ckpt.is_open() && last_read >= ckpt.end_seqno()) continue;  // all read
    // last_read is inside this checkpoint: stop on the last element before the first mutation
    // above last_read (for a closed checkpoint one exists: its last mutation is its end).
    auto pos = ckpt.begin();
    auto next = std::next(pos);
    size_t read = 0;
    for (; next != ckpt.end(); pos = next, ++next) {
      if ((*next)->IsMeta()) continue;
      if ((*next)->by_seqno > last_read) break;
      ++read;
    }
    PlaceCursorLocked(c, it, pos, read);
    reg.next_seqno = next == ckpt.end() ? high_seqno_ + 1 : (*next)->by_seqno;
    return reg;
  }
  assert(false && "the open checkpoint always accepts the cursor");
  return reg;
}

CursorRegistration CheckpointManager::RegisterCursor(std::string name, uint64_t last_read_seqno,
                                                     bool droppable,
                                                     std::function<void()> on_dropped) {
  const bool is_persistence = name == kPersistenceCursor;
  std::shared_ptr<Cursor> cursor = NewCursor(std::move(name), droppable && !is_persistence,
                                             is_persistence ? nullptr : std::move(on_dropped));
  // Destroyed after the lock is released (their callbacks' captures may call back in).
  std::shared_ptr<Cursor> replaced;
  std::unique_ptr<Cursor> old_backup;
  MutexLock lock(&mu_);
  CursorRegistration reg = PositionCursorLocked(*cursor, last_read_seqno);
  reg.cursor = cursor;
  auto [it, inserted] = cursors_.try_emplace(cursor->name(), cursor);
  if (!inserted) {
    // The new cursor is placed before the old one is detached, so a checkpoint both are in stays
    // referenced throughout (removal is explicit anyway).
    DetachCursorLocked(*it->second);
    replaced = std::exchange(it->second, cursor);
  }
  if (is_persistence) {
    persistence_ = cursor;
    if (persistence_backup_ != nullptr) {
      DetachCursorLocked(*persistence_backup_);
      old_backup = std::move(persistence_backup_);
    }
  }
  return reg;
}

void CheckpointManager::RemoveCursor(const std::weak_ptr<Cursor>& cursor) {
  std::shared_ptr<Cursor> c = cursor.lock();
  if (c == nullptr) return;
  std::shared_ptr<Cursor> removed;  // destroyed after the lock is released
  MutexLock lock(&mu_);
  if (c == persistence_ || !IsRegisteredLocked(*c)) return;
  DetachCursorLocked(*c);
  auto it = cursors_.find(c->name());
  removed = std::move(it->second);
  cursors_.erase(it);
}

CursorItems CheckpointManager::ReadLocked(Cursor& c, size_t max_items) {
  CursorItems out;
  CheckpointSnapshot* snap = nullptr;  // the snapshot of the current checkpoint, once started
  size_t n = 0;
  for (;;) {
    Checkpoint& ckpt = **c.checkpoint_;
    const auto next = std::next(c.item_);
    if (next == ckpt.end()) {
      if (ckpt.is_open()) break;  // caught up
      const auto following = std::next(c.checkpoint_);
      PlaceCursorLocked(c, following, (*following)->begin(), 0);
      snap = nullptr;
      continue;
    }
    const QueuedItem& item = *next;
    if (item->IsMeta()) {
      c.item_ = next;
      continue;
    }
    if (n == max_items) {
      out.more_available = true;
      break;
    }
    if (snap == nullptr) {
      snap = &out.snapshots.emplace_back();
      snap->checkpoint_id = ckpt.id();
      snap->start = ckpt.has_declared_snapshot() ? ckpt.declared_start()
                                                 : std::max(ckpt.start_seqno(), c.last_seqno_ + 1);
      // For the open checkpoint, lowered below (unless a replica's marker declared more).
      snap->end = std::max(ckpt.end_seqno(), ckpt.declared_end());
      snap->items.reserve(std::min(max_items - n, ckpt.num_mutations() - c.mutations_read_));
      c.last_snapshot_.start =
          ckpt.has_declared_snapshot() ? ckpt.declared_start() : ckpt.start_seqno();
    }
    snap->items.push_back(item);
    c.item_ = next;
    ++c.mutations_read_;
    c.last_seqno_ = item->by_seqno;
    ++n;
    if (ckpt.is_open()) snap->end = std::max(item->by_seqno, ckpt.declared_end());
    c.last_snapshot_.end = snap->end;
  }
  return out;
}

CursorItems CheckpointManager::GetItemsForCursor(const std::weak_ptr<Cursor>& cursor,
                                                 size_t max_items) {
  std::shared_ptr<Cursor> c = cursor.lock();  // released after the lock (may be the last ref)
  if (c == nullptr) return {};
  MutexLock lock(&mu_);
  if (!IsRegisteredLocked(*c)) return {};
  return ReadLocked(*c, max_items);
}

size_t CheckpointManager::NumItemsAfterLocked(const Cursor& c) const {
  size_t n = (*c.checkpoint_)->num_mutations() - c.mutations_read_;
  for (auto it = std::next(c.checkpoint_); it != checkpoints_.end(); ++it) {
    n += (*it)->num_mutations();
  }
  return n;
}

size_t CheckpointManager::NumItemsForCursor(const std::weak_ptr<Cursor>& cursor) const {
  std::shared_ptr<Cursor> c = cursor.lock();
  if (c == nullptr) return 0;
  MutexLock lock(&mu_);
  if (!IsRegisteredLocked(*c)) return 0;
  return NumItemsAfterLocked(*c);
}

// ---- the flusher ----

CursorItems CheckpointManager::GetItemsForPersistence(size_t max_items) {
  MutexLock lock(&mu_);
  if (persistence_backup_ == nullptr) {
    persistence_backup_ = std::unique_ptr<Cursor>(
        new Cursor(std::string(kPersistenceCursor), /*droppable=*/false, nullptr));
    CopyPositionLocked(*persistence_backup_, *persistence_);
  }
  return ReadLocked(*persistence_, max_items);
}

void CheckpointManager::PersistenceCommitted() {
  MutexLock lock(&mu_);
  if (persistence_backup_ == nullptr) return;
  DetachCursorLocked(*persistence_backup_);
  persistence_backup_.reset();
}

void CheckpointManager::PersistenceFailed() {
  MutexLock lock(&mu_);
  if (persistence_backup_ == nullptr) return;
  CopyPositionLocked(*persistence_, *persistence_backup_);
  DetachCursorLocked(*persistence_backup_);
  persistence_backup_.reset();
}

size_t CheckpointManager::NumItemsForPersistence() const {
  MutexLock lock(&mu_);
  return NumItemsAfterLocked(*persistence_);
}

SeqnoRange CheckpointManager::GetPersistenceSnapshotRange() const {
  MutexLock lock(&mu_);
  return persistence_->last_snapshot_;
}

// ---- memory ----

size_t CheckpointManager::RemoveUnrefLocked(CheckpointList* freed) {
  size_t bytes = 0;
  while (checkpoints_.size() > 1) {
    const Checkpoint& oldest = *checkpoints_.front();
    if (oldest.is_open() || oldest.num_cursors() > 0) break;
    bytes += oldest.memory_bytes();
    freed->splice(freed->end(), checkpoints_, checkpoints_.begin());
  }
  AccountLocked(-static_cast<int64_t>(bytes));
  return bytes;
}

size_t CheckpointManager::RemoveClosedUnrefCheckpoints() {
  CheckpointList freed;  // destroyed after the lock is released
  MutexLock lock(&mu_);
  return RemoveUnrefLocked(&freed);
}

size_t CheckpointManager::DropCursorsInOldestCheckpoint() {
  CheckpointList freed;
  std::vector<std::function<void()>> callbacks;
  size_t num_dropped = 0;
  {
    // Dropped cursors die when this scope ends, after the lock is released and before the
    // callbacks run, so their weak_ptrs have expired by then.
    std::vector<std::shared_ptr<Cursor>> dropped;
    MutexLock lock(&mu_);
    auto oldest = std::find_if(checkpoints_.begin(), checkpoints_.end(),
                               [](const auto& ckpt) { return ckpt->num_cursors() > 0; });
    assert(oldest != checkpoints_.end());  // the persistence cursor is always somewhere
    if (oldest == checkpoints_.begin() && (*oldest)->is_open() && (*oldest)->num_mutations() > 0) {
      // The only checkpoint is pinned: close it, so that it can be freed once its readers are
      // gone and later items go to a new one. Caught-up cursors move to the new one.
      CloseOpenCheckpointLocked();
      oldest = checkpoints_.begin();
    }
    bool pinned = (*oldest)->is_open() || (*oldest)->num_cursors() == 0;
    ForEachCursorLocked([&](const Cursor& c) REQUIRES(mu_) {
      if (c.checkpoint_ == oldest && !c.droppable_) pinned = true;
    });
    if (!pinned) {
      for (auto it = cursors_.begin(); it != cursors_.end();) {
        Cursor& c = *it->second;
        if (c.attached_ && c.checkpoint_ == oldest) {
          DetachCursorLocked(c);
          if (c.on_dropped_) callbacks.push_back(std::move(c.on_dropped_));
          dropped.push_back(std::move(it->second));
          it = cursors_.erase(it);
        } else {
          ++it;
        }
      }
    }
    RemoveUnrefLocked(&freed);
    num_dropped = dropped.size();
  }
  for (auto& callback : callbacks) callback();
  return num_dropped;
}

size_t CheckpointManager::MemoryUsage() const {
  MutexLock lock(&mu_);
  return memory_bytes_;
}

CheckpointStats CheckpointManager::GetStats() const {
  MutexLock lock(&mu_);
  CheckpointStats s;
  s.num_checkpoints = checkpoints_.size();
  for (const auto& ckpt : checkpoints_) s.num_items += ckpt->num_mutations();
  s.num_open_checkpoint_items = checkpoints_.back()->num_mutations();
  s.memory_bytes = memory_bytes_;
  s.num_cursors = cursors_.size();
  s.open_checkpoint_id = checkpoints_.back()->id();
  s.high_seqno = high_seqno_;
  s.persistence_cursor_seqno = persistence_->last_seqno_;
  s.items_for_persistence = NumItemsAfterLocked(*persistence_);
  return s;
}

}  // namespace sluice::engine
