// File: server/console_state.h
//
// The data behind the read-only web console (server/console_page.h, served on the metrics port
// by server/metrics_server.h): one JSON document describing this node as it sees the cluster,
// which the page fetches about once a second (GET /console/state.json):
//
//   {"node": "a", "time_ms": <wall clock>, "node_ids": ["a", "b", ...] (serverList order),
//    "config": <the cluster config clients get: nodesExt, vBucketServerMap, rev, revEpoch>,
//    "health": {"a": "up", "b": "down", ...},        (every node of the config, see below)
//    "replication": [{"from","to","connected","items_remaining","unacked_bytes"}, ...],
//    "dcp": {"connections", "running_backfills", "items_remaining",
//            "list": [{"name","type","items_sent","items_remaining","paused"}, ...]},
//    "ops": {"total": <gets + sets + deletes since start>, "curr_items", "mem_used"},
//    "rebalance": {"running": false}}
//
// Health is what this node can tell: itself is "up"; a peer is "up" while one of this node's
// replication connections with it is established (a link this node pulls from it, or a DCP
// producer named `replication:<me>-><peer>:...` it opened here), "down" when a link this node
// pulls from it is not connected, and "unknown" otherwise (no replication between the two).
// Replication per pair: `to` = this node for the links it pulls (unacked bytes known here);
// `from` = this node for the producers its replicas opened (items_remaining: the changes not yet
// sent to that replica, kv_engine's stream `items_remaining` summed over the connection).
//
// Thread safety: any thread (the metrics HTTP workers); reads only thread-safe sources.
#pragma once

#include <string>

#include "server/server_context.h"

namespace sluice::server {

// The console's JSON for a page opened at `host` (the address the browser dialled: the config
// names it on a node alone).
std::string ConsoleStateJson(ServerContext& ctx, const std::string& host);

}  // namespace sluice::server
