// File: tools/cluster_etcd.h
//
// What the `sluice cluster` subcommands share: the etcd client made from --etcd / --timeout, the
// cluster's keys read at one revision, and the one translation of an etcd error into an exit code
// (etcd unreachable or not answering: 3, a connection error; anything else: 6).
//
// Thread safety: functions; each call runs on the caller's thread.
#pragma once

#include <memory>
#include <variant>

#include "cluster/cluster_keys.h"
#include "cluster/cluster_state.h"
#include "cluster/etcd_client.h"
#include "tools/command_line.h"
#include "tools/failure.h"

namespace sluice::tools {

Failure FailureFromEtcd(const Status& status, std::string_view doing);

// A client of --etcd whose calls wait at most --timeout.
std::variant<std::shared_ptr<cluster::EtcdClient>, Failure> OpenEtcd(const CommandLine& cmd);

// Every key of the cluster, read at one revision.
std::variant<cluster::ClusterState, Failure> ReadCluster(cluster::EtcdClient& client,
                                                         const cluster::ClusterKeys& keys);

}  // namespace sluice::tools
