#include "server/console_page.h"

namespace sluice::server {
namespace {

// clang-format off
constexpr std::string_view kPage = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>sluice console</title>
<style>
  body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
  h1 { font-size: 1.3em; margin: 0 0 .2em; }
  h2 { font-size: 1.05em; margin: 1.4em 0 .4em; }
  #status { color: #666; }
  #status.error { color: #b00; }
  table { border-collapse: collapse; }
  th, td { padding: .25em .8em; border-bottom: 1px solid #ddd; text-align: left; }
  .badge { padding: .1em .5em; border-radius: .6em; font-size: .85em; color: #fff; }
  .up { background: #2a7; } .down { background: #c33; } .unknown { background: #999; }
  #map { display: grid; grid-template-columns: repeat(64, 10px); gap: 1px; }
  #map div { width: 10px; height: 10px; }
  .charts { display: flex; gap: 2em; flex-wrap: wrap; }
  canvas { background: #fff; border: 1px solid #ddd; }
  .legend span { display: inline-block; margin-right: 1em; }
  .swatch { display: inline-block; width: .8em; height: .8em; margin-right: .3em; }
</style>
</head>
<body>
<h1>sluice <span id="node"></span></h1>
<div id="status">connecting...</div>

<h2>Nodes</h2>
<table id="nodes"><thead><tr><th>node</th><th>address</th><th>health</th>
<th>active vbuckets</th><th>replica vbuckets</th></tr></thead><tbody></tbody></table>

<h2>vBucket map <span id="rev"></span></h2>
<div class="legend" id="legend"></div>
<div id="map"></div>

<h2>Replication</h2>
<table id="replication"><thead><tr><th>from</th><th>to</th><th>connected</th>
<th>items remaining</th><th>unacked bytes</th></tr></thead><tbody></tbody></table>

<h2>DCP</h2>
<div id="dcp-summary"></div>
<table id="dcp"><thead><tr><th>connection</th><th>type</th><th>items sent</th>
<th>items remaining</th><th>paused</th></tr></thead><tbody></tbody></table>

<h2>Rebalance</h2>
<div id="rebalance"></div>

<h2>Last five minutes</h2>
<div class="charts">
  <div><div>ops/s</div><canvas id="ops" width="360" height="90"></canvas></div>
  <div><div>replication items remaining</div><canvas id="lag" width="360" height="90"></canvas></div>
</div>

<script>
"use strict";
const COLORS = ["#3b7dd8", "#e08a1e", "#2aa876", "#c2458f", "#7a5fd1", "#b5a21b", "#1fa5b8",
                "#d1553f"];
const HISTORY = 300;
const history = { ops: [], lag: [] };
let previous = null;

function cell(row, text) {
  const td = document.createElement("td");
  if (text instanceof Node) td.appendChild(text); else td.textContent = String(text);
  row.appendChild(td);
  return td;
}

function badge(health) {
  const span = document.createElement("span");
  span.className = "badge " + health;
  span.textContent = health;
  return span;
}

function fill(id, rows, build) {
  const body = document.querySelector("#" + id + " tbody");
  body.replaceChildren();
  for (const r of rows) {
    const tr = document.createElement("tr");
    build(tr, r);
    body.appendChild(tr);
  }
}

function drawNodes(state) {
  const ids = state.node_ids || [];
  const map = (state.config.vBucketServerMap || {}).vBucketMap || [];
  const servers = (state.config.vBucketServerMap || {}).serverList || [];
  const counts = ids.map(() => ({ active: 0, replica: 0 }));
  for (const row of map) {
    row.forEach((n, i) => {
      if (n < 0 || n >= counts.length) return;
      if (i === 0) counts[n].active++; else counts[n].replica++;
    });
  }
  fill("nodes", ids.map((id, i) => ({ id, i })), (tr, { id, i }) => {
    const health = state.health[id] || "unknown";
    tr.dataset.node = id;
    tr.dataset.health = health;
    cell(tr, id + (id === state.node ? " (this node)" : ""));
    cell(tr, servers[i] || "");
    cell(tr, badge(health));
    cell(tr, counts[i].active);
    cell(tr, counts[i].replica);
  });
}

function drawMap(state) {
  const ids = state.node_ids || [];
  const map = (state.config.vBucketServerMap || {}).vBucketMap || [];
  const el = document.getElementById("map");
  el.dataset.rev = String(state.config.rev);
  document.getElementById("rev").textContent =
      "(rev " + state.config.rev + ", epoch " + state.config.revEpoch + ", " + map.length +
      " vbuckets)";
  const legend = document.getElementById("legend");
  legend.replaceChildren();
  ids.forEach((id, i) => {
    const span = document.createElement("span");
    span.innerHTML = '<i class="swatch"></i>';
    span.firstChild.style.background = COLORS[i % COLORS.length];
    span.append("active on " + id);
    legend.appendChild(span);
  });
  while (el.children.length > map.length) el.lastChild.remove();
  while (el.children.length < map.length) el.appendChild(document.createElement("div"));
  map.forEach((row, vb) => {
    const div = el.children[vb];
    const active = row[0] >= 0 ? ids[row[0]] : "";
    div.dataset.active = active || "none";
    div.style.background = row[0] >= 0 ? COLORS[row[0] % COLORS.length] : "#eee";
    div.title = "vb " + vb + ": " +
        row.map((n) => (n >= 0 ? ids[n] : "-")).join(" \u2192 ");
  });
}

function drawTables(state) {
  fill("replication", state.replication, (tr, r) => {
    tr.dataset.pair = r.from + "->" + r.to;
    cell(tr, r.from);
    cell(tr, r.to);
    cell(tr, r.connected ? "yes" : "no");
    cell(tr, r.items_remaining === undefined ? "" : r.items_remaining);
    cell(tr, r.unacked_bytes);
  });
  document.getElementById("dcp-summary").textContent =
      state.dcp.connections + " connections, " + state.dcp.running_backfills +
      " running backfills";
  fill("dcp", state.dcp.list, (tr, c) => {
    cell(tr, c.name);
    cell(tr, c.type);
    cell(tr, c.items_sent);
    cell(tr, c.items_remaining);
    cell(tr, c.paused ? "yes" : "no");
  });
  document.getElementById("rebalance").textContent = rebalanceText(state.rebalance);
}

// "running: 3 of 8 moves (37%) to a, b, c", "done: 8 of 8 moves", "failed: why", "none".
function rebalanceText(r) {
  if (!r || r.state === "none") return "none";
  const moves = r.moves_done + " of " + r.moves_total + " moves";
  const pct = r.moves_total > 0 ? " (" + Math.floor(100 * r.moves_done / r.moves_total) + "%)" : "";
  const to = r.nodes && r.nodes.length ? " to " + r.nodes.join(", ") : "";
  if (r.state === "failed") return "failed: " + (r.message || moves);
  if (r.state === "requested") return "requested" + to;
  return r.state + ": " + moves + (r.state === "running" ? pct : "") + to;
}

function chart(id, values) {
  const canvas = document.getElementById(id);
  const g = canvas.getContext("2d");
  g.clearRect(0, 0, canvas.width, canvas.height);
  const max = Math.max(1, ...values);
  g.strokeStyle = "#3b7dd8";
  g.beginPath();
  values.forEach((v, i) => {
    const x = (i / (HISTORY - 1)) * canvas.width;
    const y = canvas.height - 4 - (v / max) * (canvas.height - 16);
    if (i === 0) g.moveTo(x, y); else g.lineTo(x, y);
  });
  g.stroke();
  g.fillStyle = "#666";
  g.fillText("max " + Math.round(max) + ", now " + Math.round(values[values.length - 1] || 0),
             4, 10);
}

function record(state) {
  let lag = 0;
  for (const r of state.replication) lag += r.items_remaining || 0;
  if (previous && state.time_ms > previous.time_ms) {
    const ops = (state.ops.total - previous.ops.total) * 1000 / (state.time_ms - previous.time_ms);
    history.ops.push(Math.max(0, ops));
  }
  history.lag.push(lag);
  for (const k of Object.keys(history)) {
    while (history[k].length > HISTORY) history[k].shift();
  }
  previous = state;
  chart("ops", history.ops);
  chart("lag", history.lag);
}

async function refresh() {
  const status = document.getElementById("status");
  try {
    const res = await fetch("/console/state.json", { cache: "no-store" });
    if (!res.ok) throw new Error("HTTP " + res.status);
    const state = await res.json();
    document.getElementById("node").textContent = "\u2014 node " + state.node;
    drawNodes(state);
    drawMap(state);
    drawTables(state);
    record(state);
    status.className = "";
    status.textContent = "updated " + new Date(state.time_ms).toLocaleTimeString() + ", " +
        state.ops.curr_items + " items, " + state.ops.mem_used + " bytes in memory";
  } catch (e) {
    status.className = "error";
    status.textContent = "this node does not answer: " + e.message;
  }
}

refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
)html";
// clang-format on

}  // namespace

std::string_view ConsolePage() { return kPage; }

}  // namespace sluice::server
