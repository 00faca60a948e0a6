// File: server/console_page.h
//
// The read-only web console: one self-contained HTML page (no external scripts, styles or
// fonts) that the metrics port serves at GET /console (server/metrics_server.h). Its script
// fetches /console/state.json (server/console_state.h) once a second and draws:
//   - the nodes and their health (a row per node: data-node=<id>, data-health=up|down|unknown);
//   - the vbucket map, a cell per vbucket coloured by its active node (data-rev on the map, and
//     data-active=<id> on each cell, so a test can see the map change);
//   - replication per node pair (connected, items not yet sent, unacknowledged bytes);
//   - DCP connections and running backfills; rebalance progress;
//   - small charts of ops/s and of replication items remaining over the last five minutes, kept
//     in the browser.
//
// Thread safety: a constant.
#pragma once

#include <string_view>

namespace sluice::server {

std::string_view ConsolePage();

}  // namespace sluice::server
