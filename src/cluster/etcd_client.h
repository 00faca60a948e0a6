// File: cluster/etcd_client.h
//
// EtcdClient: sluice's client of etcd v3 (the consensus store that holds a cluster's membership,
// manager election and vbucket maps; docs/cluster.md) over etcd's JSON gateway. One blocking call
// per etcd RPC: Range, Put, DeleteRange, Txn, Compact and the lease calls. Watches are streams on
// their own threads: cluster/etcd_watch.h (one stream), cluster/prefix_mirror.h (a local copy of
// a prefix), built on this client's transport.
//
// Error model (docs/cluster.md "Errors"): every call returns Status/StatusOr.
//   kTempFail   etcd unreachable, no answer in time, no leader — retry later. The outcome of a
//               write that timed out is unknown; guard such writes with txn compares.
//   kNotFound   a lease that does not exist (expired or revoked).
//   kRange      a revision that was compacted away or lies in the future.
//   kInvalid    a request etcd refused as malformed (a bug on our side).
//   kIoError    an answer that is not the gateway's JSON (wrong port, a proxy's error page).
//   others      as codec::ErrcFromGrpcCode maps etcd's gRPC codes.
// A txn whose compares fail is not an error: TxnResult::succeeded is false.
//
// Ownership: shared (std::shared_ptr) by the components that call it from their own threads —
// lease keepers, elections, watchers, mirrors and the node agent that made it; it lives until the
// last of them lets go. Thread safety: thread-safe; calls may run concurrently.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>

#include "cluster/etcd_transport.h"
#include "cluster/etcd_types.h"
#include "common/status.h"

namespace sluice::cluster {

class EtcdClient {
 public:
  // kInvalid for bad options (no endpoint, a malformed or TLS one). Does not contact etcd.
  static StatusOr<std::shared_ptr<EtcdClient>> Create(EtcdOptions options);
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  // ---- KV ----
  // One key, or with options.prefix every key starting with `key`.
  StatusOr<RangeResult> Range(std::string_view key, const RangeOptions& options = {});
  // Convenience: the key-value of one key; kNotFound when it does not exist.
  StatusOr<EtcdKeyValue> Get(std::string_view key);
  StatusOr<PutResult> Put(std::string_view key, std::string_view value,
                          const PutOptions& options = {});
  StatusOr<DeleteResult> DeleteRange(std::string_view key, const DeleteOptions& options = {});
  // Runs request.success if every compare holds, else request.failure, atomically.
  StatusOr<TxnResult> Txn(const TxnRequest& request);
  // Discards the history before `revision` (watches and past reads below it then fail).
  Status Compact(int64_t revision);

  // ---- Leases ----
  // A new lease living `ttl` unless kept alive (etcd raises a TTL below its minimum).
  StatusOr<LeaseGrantResult> LeaseGrant(std::chrono::seconds ttl);
  // Renews the lease once; returns its TTL (seconds). kNotFound when the lease is gone.
  // `timeout` (if non-zero) bounds this call instead of the request timeout.
  StatusOr<int64_t> LeaseKeepAliveOnce(int64_t id, std::chrono::milliseconds timeout = {});
  // Ends the lease at once, deleting the keys under it. kNotFound when it is already gone.
  Status LeaseRevoke(int64_t id);
  // The lease's remaining TTL (and its keys with `keys`). kNotFound when it is gone.
  StatusOr<LeaseTimeToLiveResult> LeaseTimeToLive(int64_t id, bool keys = false);

  // The connection settings, for streams opened beside the client (cluster/etcd_watch.h).
  EtcdTransport& transport() { return *transport_; }

 private:
  explicit EtcdClient(std::unique_ptr<EtcdTransport> transport);

  const std::unique_ptr<EtcdTransport> transport_;
};

}  // namespace sluice::cluster
