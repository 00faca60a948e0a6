#include "server/map_applier.h"

#include "common/logging.h"

namespace sluice::server {

Status MapApplier::ApplyMap(std::shared_ptr<const cluster::ClusterMap> map, int64_t rev,
                            int64_t epoch) {
  sources_->Set(map);
  if (feed_) feed_->RefreshNow();
  RETURN_IF_ERROR(ctx_.cluster().ApplyDynamicMap(std::move(map), rev, epoch));
  ctx_.OnVBucketMapChanged();
  if (feed_) feed_->RefreshNow();
  return Status::Ok();
}

void MapApplier::SetWritesFenced(bool fenced) {
  if (ctx_.bucket()) ctx_.bucket()->SetWritesFenced(fenced);
}

void MapApplier::SetWritesValidUntil(std::chrono::steady_clock::time_point until) {
  if (ctx_.bucket()) ctx_.bucket()->SetWritesValidUntil(until);
}

void MapApplier::OnStateChanged(std::string_view state) { ctx_.cluster().set_node_state(state); }

void MapApplier::OnRebalance(const std::optional<cluster::RebalanceStatus>& status) {
  ctx_.cluster().set_rebalance(status);
}

}  // namespace sluice::server
