// File: engine/checkpoint_items.h
//
// CheckpointItems: the item list of one Checkpoint. Its own header so that both the Checkpoint
// (which owns a list) and the CheckpointManager (whose cursors hold iterators into one) can name
// it, and the checkpoint need not include its manager.
#pragma once

#include <list>

#include "engine/item.h"

namespace sluice::engine {

using CheckpointItems = std::list<QueuedItem>;

}  // namespace sluice::engine
