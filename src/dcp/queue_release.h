// File: dcp/queue_release.h
//
// ReleaseQueuesInBackground: frees the ready queues of a disconnected producer's streams on a
// nonio thread instead of the connection's io thread.
//
// Why: a consumer that disconnects during a backfill can leave up to its backfill buffer (20 MiB
// by default) of items queued, tens of thousands of allocations. Freeing them takes milliseconds;
// on the io thread that stalls every other connection of the thread, and a hundred consumers
// hanging up together queue a hundred such frees behind each other (benchmark 5: 0.6 s before
// this). The running-backfill slots are given back before this (Producer::Disconnect), so nothing
// waits for the memory. Giving the freed memory back to the OS is the ConnMap's connection
// manager's job, once the burst of disconnects is over.
//
// Ownership: the queues move into a task scheduled on `executor` (TaskGroup::kNonIO); they are
// freed when it runs, or when an executor that is shutting down drops the task unrun.
// Thread safety: callable from any thread.
#pragma once

#include <deque>
#include <vector>

#include "dcp/dcp_message.h"
#include "executor/executor.h"

namespace sluice::dcp {

void ReleaseQueuesInBackground(executor::Executor& executor,
                               std::vector<std::deque<DcpMessage>> queues);

}  // namespace sluice::dcp
