// File: dcp/queue_release.cc
#include "dcp/queue_release.h"

#include <utility>

#include "executor/task.h"

namespace sluice::dcp {

void ReleaseQueuesInBackground(executor::Executor& executor,
                               std::vector<std::deque<DcpMessage>> queues) {
  if (queues.empty()) return;
  executor.Schedule(executor::MakeTask(executor::TaskGroup::kNonIO, "DcpQueueRelease",
                                       [queues = std::move(queues)](executor::Task&) mutable {
                                         queues.clear();
                                         return false;
                                       }));
}

}  // namespace sluice::dcp
