#!/usr/bin/env bash
# Failover under load: the time from SIGKILLing a node that holds actives to the first successful
# write to one of its vbuckets, TRIALS times per side, sluice against Redis Cluster; plus the
# acknowledged writes each failover lost. (Issue 14: "Failover under load", and RESULTS.md's
# "Failover time distribution".)
#
# Each trial is one run of `sluice_failover_probe` (bench/failover_probe.cc): a durable writer
# (sluice: SET with durability `majority`; Redis: SET + `WAIT 1 <WAIT_TIMEOUT_MS>`) and a plain
# writer write keys spread over every vbucket / slot, following NOT_MY_VBUCKET and the cluster
# config (sluice) or MOVED and CLUSTER SLOTS (Redis); after WARMUP s the probe SIGKILLs the
# node owning the vbuckets (slots) of its turn (the trial number modulo the owners, sorted by
# address), times kill -> first write acknowledged by another node to a vbucket (slot) the
# victim owned, per writer, and once both recovered (or the plain one and DURABLE_GRACE s later)
# reads every acknowledged key back.
#
# 1. sluice: etcd (heartbeat 10 ms, election 100 ms: what lets a lease be 1 s) and 3 nodes
#    (`sluiced --etcd --node-ttl 1`), `sluice cluster init --replicas 1 --vbuckets $VBUCKETS`,
#    settings auto_failover_timeout=1 and auto_failover_max_count=1000. After each trial the
#    killed node is restarted on its data dir and port; the manager re-adds it (it was failed over
#    automatically) as a member holding nothing, and `sluice cluster rebalance` gives it its share
#    back before the next trial: every trial starts from 3 balanced, healthy nodes.
# 2. Redis: 6 redis-servers, `redis-cli --cluster create --cluster-replicas 1` (3 primaries, one
#    replica each), `cluster-node-timeout $NODE_TIMEOUT_MS`, no persistence. After each trial the
#    killed primary is restarted (it keeps nodes.conf, so its cluster identity; it comes back
#    empty) and rejoins as a replica of the promoted one; the next trial kills a primary again.
#
# Targets (issue 14): sluice p99 under 3 s with --node-ttl 1 and auto_failover_timeout=1; no
# acknowledged durable write lost; the ratio to Redis is reported.
#
# Usage: bench/failover.sh [BUILD_DIR]                 (default: build; a RelWithDebInfo build)
# Environment (defaults in brackets):
#   TRIALS [20] per side   VBUCKETS [64]   WARMUP [1] s   DURABLE_GRACE [3] s   VALUE_SIZE [100]
#   NODE_TIMEOUT_MS [1000] (Redis cluster-node-timeout)   WAIT_TIMEOUT_MS [1000] (Redis WAIT)
#   SIDES ["sluice redis"]   QUICK=1 (TRIALS=4; RESULTS.md says so)
#   LOG_LEVEL [warn] (the nodes')   KEEP_LOGS=DIR (copy the node, etcd and Redis logs and the
#   trials' JSON lines there; each trial's kill_unix_ms lines them up with the logs)
#   REDIS_SERVER / REDIS_CLI [from PATH]   ETCD [etcd from PATH]
#   RESULTS [bench/RESULTS.md]; RESULTS=/dev/null to not record
set -euo pipefail

BENCH=failover
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${1:-${BUILD_DIR:-build}}"
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
SLUICE="$BUILD_DIR/sluice"
PROBE="$BUILD_DIR/bench/sluice_failover_probe"

[[ "${QUICK:-0}" = 1 ]] && TRIALS="${TRIALS:-4}"
TRIALS="${TRIALS:-20}"
VBUCKETS="${VBUCKETS:-64}"
WARMUP="${WARMUP:-1}"
DURABLE_GRACE="${DURABLE_GRACE:-3}"
VALUE_SIZE="${VALUE_SIZE:-100}"
NODE_TIMEOUT_MS="${NODE_TIMEOUT_MS:-1000}"
WAIT_TIMEOUT_MS="${WAIT_TIMEOUT_MS:-1000}"
SIDES="${SIDES:-sluice redis}"
LOG_LEVEL="${LOG_LEVEL:-warn}"
REDIS_SERVER="${REDIS_SERVER:-$(command -v redis-server || true)}"
REDIS_CLI="${REDIS_CLI:-$(command -v redis-cli || true)}"
ETCD="${ETCD:-$(command -v etcd || true)}"
RESULTS="${RESULTS:-$ROOT/bench/RESULTS.md}"

WORK="$(mktemp -d /tmp/sluice-bench.XXXXXX)"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
declare -A R
COMMANDS=()
ETCD_PID=""
declare -A REDIS_PID
cleanup() {
  local pid
  for pid in "${NODE_PID[@]}" "${REDIS_PID[@]}" $ETCD_PID; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ -n "${KEEP_LOGS:-}" ]]; then
    mkdir -p "$KEEP_LOGS"
    cp "$WORK"/*.err "$WORK"/*.log "$WORK"/*.trials "$KEEP_LOGS"/ 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

for bin in "$SLUICE" "$BUILD_DIR/sluiced" "$PROBE"; do
  [[ -x "$bin" ]] || die "no $bin: build first (make build)"
done
cluster_bench_preamble

# probe_then_reap WHAT: runs PROBE_CMD (its JSON in $out) and waits for the process it killed
# (victim_pid ADDRESS, defined by the side), with the shell's stderr closed meanwhile: bash
# prints a "Killed" notice there when it reaps a child that died of a signal.
probe_then_reap() {
  exec 3>&2 2>/dev/null
  out="$("${PROBE_CMD[@]}" 2>&3)" || { exec 2>&3 3>&-; die "$1: the probe failed"; }
  wait "$(victim_pid "$(json_field "$out" victim)")" || true
  exec 2>&3 3>&-
}

# ---- sluice ----
CLUSTER=bench
ETCD_FLAGS=()
# Every node is an active member, alive, holding actives and replicas; no rebalance under way.
sluice_balanced() {
  local rows
  rows="$(cluster_rows)"
  [[ "$(awk '$2 == "active" && $3 == "yes" && $4 > 0 && $5 > 0' <<<"$rows" | wc -l)" = 3 ]]
}
# ID is an active member again and alive (the manager re-added it).
sluice_rejoined() { cluster_rows | awk -v id="$1" '$1 == id && $2 == "active" && $3 == "yes" {f = 1} END {exit !f}'; }
sluice_manager() { "$SLUICE" cluster status "${ETCD_FLAGS[@]}" 2>/dev/null | sed -n 's/^manager: //p'; }

node_of() {  # node_of ADDRESS: the sluice node id listening there
  local id
  for id in "${!NODE_PORT[@]}"; do [[ "127.0.0.1:${NODE_PORT[$id]}" != "$1" ]] || echo "$id"; done
}
run_sluice() {
  victim_pid() { echo "${NODE_PID[$(node_of "$1")]}"; }
  local id trial out victim vid hosts pids manager start
  echo '{"users":[{"name":"bench","password":"bench"}]}' >"$WORK/users.json"
  start_etcd
  for id in n1 n2 n3; do start_etcd_node "$id"; done
  record "$SLUICE" cluster init --nodes n1,n2,n3 --replicas 1 --vbuckets "$VBUCKETS" "${ETCD_FLAGS[@]}"
  "$SLUICE" cluster init --nodes n1,n2,n3 --replicas 1 --vbuckets "$VBUCKETS" "${ETCD_FLAGS[@]}" \
    >/dev/null || die "sluice cluster init failed"
  record etcdctl --endpoints "$ETCD_URL" put "/sluice/$CLUSTER/settings" '{"auto_failover_timeout":1,"auto_failover_max_count":1000}'
  ETCDCTL_API=3 etcdctl --endpoints "$ETCD_URL" put "/sluice/$CLUSTER/settings" \
    '{"auto_failover_timeout":1,"auto_failover_max_count":1000}' >/dev/null
  wait_for 60 "3 balanced sluice nodes" sluice_balanced
  for ((trial = 0; trial < TRIALS; trial++)); do
    hosts=""
    pids=()
    for id in n1 n2 n3; do
      hosts+="${hosts:+,}127.0.0.1:${NODE_PORT[$id]}"
      pids+=(--pid "127.0.0.1:${NODE_PORT[$id]}=${NODE_PID[$id]}")
    done
    manager="$(sluice_manager)"
    PROBE_CMD=("$PROBE" --side sluice --hosts "$hosts" "${pids[@]}" --victim-rank "$trial"
      --prefix "t$trial-" --warmup "$WARMUP" --durable-grace "$DURABLE_GRACE" --value-size "$VALUE_SIZE")
    ((trial > 0)) || record "${PROBE_CMD[@]}"
    probe_then_reap "sluice trial $trial"
    victim="$(json_field "$out" victim)"
    vid="$(node_of "$victim")"
    echo "$out" | sed "s/}\$/,\"victim_id\":\"$vid\",\"manager\":$([[ $vid = "$manager" ]] && echo 1 || echo 0)}/" >>"$WORK/sluice.trials"
    log "sluice trial $trial: killed $vid$([[ $vid = "$manager" ]] && echo ' (the manager)'): first write $(json_field "$out" kill_to_first_write_ms) ms, durable $(json_field "$out" durable_first_ms) ms; lost plain $(json_field "$out" plain_lost), durable $(json_field "$out" durable_lost)"
    # Restore: restart, wait for the re-add, rebalance.
    start="$(now)"
    start_etcd_node "$vid"
    wait_for 60 "$vid re-added after its restart" sluice_rejoined "$vid"
    "$SLUICE" cluster rebalance --timeout 120 "${ETCD_FLAGS[@]}" >"$WORK/rebalance.out" 2>&1 ||
      die "rebalance after trial $trial failed: $(tail -3 "$WORK/rebalance.out")"
    wait_for 60 "3 balanced sluice nodes" sluice_balanced
    since "$start" >>"$WORK/sluice.restore"
  done
  for id in n3 n2 n1; do stop_node "$id"; done
  kill -TERM "$ETCD_PID" 2>/dev/null || true
  wait "$ETCD_PID" 2>/dev/null || true
  ETCD_PID=""
}

# ---- Redis ----
redis_args() {  # redis_args PORT: the server's flags
  echo "--port $1 --bind 127.0.0.1 --dir $WORK/redis-$1 --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout $NODE_TIMEOUT_MS --save '' --appendonly no"
}
start_redis() {  # start_redis PORT
  local port="$1"
  mkdir -p "$WORK/redis-$port"
  R[redis.cmd]="$REDIS_SERVER $(redis_args PORT | sed "s#$WORK#\$TMP#g")"
  "$REDIS_SERVER" --port "$port" --bind 127.0.0.1 --dir "$WORK/redis-$port" --cluster-enabled yes \
    --cluster-config-file nodes.conf --cluster-node-timeout "$NODE_TIMEOUT_MS" --save '' \
    --appendonly no >>"$WORK/redis-$port.log" 2>&1 &
  REDIS_PID[$port]=$!
  WAIT_LOG="$WORK/redis-$port.log" wait_for 30 "redis $port" redis_up "$port"
}
# A port for a cluster node: it and its cluster bus port (+10000) free, both below the ephemeral
# range (see fixed_port).
redis_free_port() {
  local port
  while true; do
    port=$((12000 + RANDOM % 10000))
    ss -Htan "sport = :$port or sport = :$((port + 10000))" | grep -q . || { echo "$port"; return; }
  done
}
redis_up() { "$REDIS_CLI" -p "$1" ping >/dev/null 2>&1; }
# The cluster is whole: state ok on every node, no node flagged fail, 3 primaries each with a
# replica whose link is up.
redis_healthy() {
  local port nodes
  for port in "${!REDIS_PID[@]}"; do
    "$REDIS_CLI" -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
  done
  nodes="$("$REDIS_CLI" -p "${REDIS_PORTS[0]}" cluster nodes 2>/dev/null)" || return 1
  ! awk '$3 ~ /fail/' <<<"$nodes" | grep -q . || return 1
  [[ "$(awk '$3 ~ /master/' <<<"$nodes" | wc -l)" = 3 && "$(awk '$3 ~ /slave/' <<<"$nodes" | wc -l)" = 3 ]] || return 1
  for port in "${!REDIS_PID[@]}"; do
    if "$REDIS_CLI" -p "$port" info replication | grep -q '^role:slave'; then
      "$REDIS_CLI" -p "$port" info replication | grep -q '^master_link_status:up' || return 1
    fi
  done
}

run_redis() {
  victim_pid() { echo "${REDIS_PID[${1##*:}]}"; }
  local port trial out victim hosts pids start create
  REDIS_PORTS=()
  for _ in 1 2 3 4 5 6; do REDIS_PORTS+=("$(redis_free_port)"); done
  for port in "${REDIS_PORTS[@]}"; do start_redis "$port"; done
  create=("$REDIS_CLI" --cluster create)
  for port in "${REDIS_PORTS[@]}"; do create+=("127.0.0.1:$port"); done
  create+=(--cluster-replicas 1 --cluster-yes)
  record "${create[@]}"
  "${create[@]}" >"$WORK/redis-create.log" 2>&1 || die "redis-cli --cluster create failed: $(tail -5 "$WORK/redis-create.log")"
  wait_for 60 "a healthy Redis Cluster" redis_healthy
  for ((trial = 0; trial < TRIALS; trial++)); do
    hosts=""
    pids=()
    for port in "${REDIS_PORTS[@]}"; do
      hosts+="${hosts:+,}127.0.0.1:$port"
      pids+=(--pid "127.0.0.1:$port=${REDIS_PID[$port]}")
    done
    PROBE_CMD=("$PROBE" --side redis --hosts "$hosts" "${pids[@]}" --victim-rank "$trial"
      --prefix "t$trial-" --warmup "$WARMUP" --durable-grace "$DURABLE_GRACE"
      --value-size "$VALUE_SIZE" --wait-timeout-ms "$WAIT_TIMEOUT_MS")
    ((trial > 0)) || record "${PROBE_CMD[@]}"
    probe_then_reap "redis trial $trial"
    victim="$(json_field "$out" victim)"
    port="${victim##*:}"
    echo "$out" | sed "s/}\$/,\"victim_id\":\"$port\",\"manager\":0}/" >>"$WORK/redis.trials"
    log "redis trial $trial: killed $port: first write $(json_field "$out" kill_to_first_write_ms) ms, durable $(json_field "$out" durable_first_ms) ms; lost plain $(json_field "$out" plain_lost), durable $(json_field "$out" durable_lost)"
    start="$(now)"
    start_redis "$port"
    wait_for 60 "Redis Cluster healthy again after trial $trial" redis_healthy
    since "$start" >>"$WORK/redis.restore"
  done
  for port in "${REDIS_PORTS[@]}"; do kill -TERM "${REDIS_PID[$port]}" 2>/dev/null || true; done
  wait "${REDIS_PID[@]}" 2>/dev/null || true
  REDIS_PID=()
}

for side in $SIDES; do
  log "$side: $TRIALS trials"
  "run_$side"
done

# ---- Figures ----
# stats FILE FIELD: "p50 p99 max n" of FIELD over the trials (>= 0 only), nearest rank.
stats() {
  grep -o "\"$2\":[-0-9.]*" "$1" | cut -d: -f2 | awk '$1 >= 0' | sort -n |
    awk '{v[NR] = $1} END {
      if (NR == 0) {print "- - - 0"; exit}
      p50 = v[int(0.5 * NR + 0.999999)]; p99 = v[int(0.99 * NR + 0.999999)]
      printf "%.0f %.0f %.0f %d\n", p50, p99, v[NR], NR }'
}
total() { grep -o "\"$2\":[0-9]*" "$1" | cut -d: -f2 | awk '{s += $1} END {print s + 0}'; }

for side in $SIDES; do
  f="$WORK/$side.trials"
  read -r "R[$side.p50]" "R[$side.p99]" "R[$side.max]" "R[$side.n]" <<<"$(stats "$f" kill_to_first_write_ms)"
  read -r "R[$side.dp50]" "R[$side.dp99]" "R[$side.dmax]" "R[$side.dn]" <<<"$(stats "$f" durable_first_ms)"
  for field in plain_acked durable_acked plain_lost durable_lost plain_lost_elsewhere durable_lost_elsewhere; do
    R[$side.$field]="$(total "$f" "$field")"
  done
  R[$side.oldest]="$(grep -v '"plain_lost":0,' "$f" | grep -o '"plain_lost_oldest_ms":[-0-9.]*' | cut -d: -f2 | sort -n | tail -1 || true)"
  R[$side.restore]="$(sort -n "$WORK/$side.restore" | awk '{v[NR] = $1} END {printf "%.1f-%.1f", v[1], v[NR]}')"
done

P99_VERDICT="(not run)"
if [[ " $SIDES " = *" sluice "* ]]; then
  P99_VERDICT="$(awk -v v="${R[sluice.p99]}" 'BEGIN { if (v < 3000) printf "met"; else printf "**missed** (%.2f s)", v / 1000 }')"
  LOSS_VERDICT="$([[ "${R[sluice.durable_lost]}" = 0 ]] && echo met || echo "**missed**")"
fi
QUICK_NOTE=""
[[ "$TRIALS" = 20 ]] || QUICK_NOTE=" — reduced run ($TRIALS trials)"

# trial_rows FILE: one table row per trial.
trial_rows() {
  local n=0 line
  while read -r line; do
    echo "| $n | $(json_field "$line" victim_id)$([[ "$(json_field "$line" manager)" = 1 ]] && echo ' (manager)') | $(json_field "$line" affected) | $(fmt0 "$(json_field "$line" kill_to_first_write_ms)") | $(fmt0 "$(json_field "$line" durable_first_ms)") | $(json_field "$line" plain_acked) / $(json_field "$line" durable_acked) | $(json_field "$line" plain_lost) / $(json_field "$line" durable_lost) |"
    n=$((n + 1))
  done <"$1"
}

REPORT="$WORK/report.md"
{
  echo
  echo "## $(date -u '+%Y-%m-%d %H:%M UTC') — Failover under load: SIGKILL of a node holding actives, sluice against Redis Cluster${QUICK_NOTE}"
  echo
  echo "- Machine: $(nproc) cores ($CPU_MODEL), ${RAM_GB} GB RAM, $(uname -sr); all nodes, etcd and the probe share the cores; load average at start $LOADAVG"
  echo "- Commit: $COMMIT; build: ${BUILD_TYPE:-unknown} ($(basename "$BUILD_DIR")); Redis ${R[redis.version]}; etcd ${R[etcd.version]}"
  echo "- Each trial (\`sluice_failover_probe\`): a durable writer and a plain writer (one write in flight each, ${VALUE_SIZE}-byte values, a new key per write over every vbucket / slot, each key retried until acknowledged, following the cluster map) run ${WARMUP} s; the probe SIGKILLs the owner of the trial's turn (trial number modulo the owners, by address) and times kill -> the first write acknowledged by another node to a vbucket (slot) the killed node owned; after the recovery it reads back every acknowledged key"
  [[ " $SIDES " != *" sluice "* ]] || echo "- sluice: etcd (\`--heartbeat-interval 10 --election-timeout 100\`, which lets a lease be 1 s) and 3 nodes \`${R[node.cmd]}\`, 1 replica, $VBUCKETS vbuckets, settings \`auto_failover_timeout\`=1, \`auto_failover_max_count\`=1000; durable = SET with durability \`majority\`. After each trial the killed node is restarted on its data dir, re-added by the manager and \`sluice cluster rebalance\`d back to its share (${R[sluice.restore]:-?} s per restore)"
  [[ " $SIDES " != *" redis "* ]] || echo "- Redis: 6 \`${R[redis.cmd]}\`, \`redis-cli --cluster create --cluster-replicas 1\` (3 primaries, 1 replica each); durable = SET + \`WAIT 1 $WAIT_TIMEOUT_MS\` (acknowledged when WAIT answers 1: the primary's only replica, the one a failover promotes, has the write). After each trial the killed primary is restarted (empty, same nodes.conf) and rejoins as a replica (${R[redis.restore]:-?} s per restore)"
  echo "- \`cluster-node-timeout\` $NODE_TIMEOUT_MS ms: the same second sluice gets (a 1 s lease, \`auto_failover_timeout\` 1 s). Redis's default is 15 s; below 1 s, a node stalled for a moment on these 2 shared cores (a fork, a full sync to the returning node) would be failed over spuriously, and a replica's failover delay (500 ms + up to 500 ms random + rank) does not shrink with it"
  echo
  echo "| side | trials | kill -> first write p50 ms | p99 ms | max ms | kill -> first durable write p50 / p99 / max ms | writes acknowledged plain / durable | lost plain (the oldest acknowledged, ms before the kill) | lost durable | lost, acknowledged by a node not killed |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for side in $SIDES; do
    name="sluice"
    [[ "$side" = sluice ]] || name="Redis Cluster"
    durable="${R[$side.dp50]} / ${R[$side.dp99]} / ${R[$side.dmax]}"
    [[ "${R[$side.dn]}" = "${R[$side.n]}" ]] || durable="$durable (${R[$side.dn]} of ${R[$side.n]} trials within ${DURABLE_GRACE} s of the plain writer)"
    echo "| $name | ${R[$side.n]} | ${R[$side.p50]} | ${R[$side.p99]} | ${R[$side.max]} | $durable | ${R[$side.plain_acked]} / ${R[$side.durable_acked]} | ${R[$side.plain_lost]}${R[$side.oldest]:+ ($(fmt1 "${R[$side.oldest]}"))} | ${R[$side.durable_lost]} | $((R[$side.plain_lost_elsewhere] + R[$side.durable_lost_elsewhere])) |"
  done
  echo
  if [[ " $SIDES " = *" sluice "* && " $SIDES " = *" redis "* ]]; then
    P50_RATIO="$(ratio "${R[redis.p50]}" "${R[sluice.p50]}")"
    P99_RATIO="$(ratio "${R[redis.p99]}" "${R[sluice.p99]}")"
  fi
  echo "| figure | measured | target | verdict |"
  echo "|---|---:|---:|---|"
  if [[ " $SIDES " = *" sluice "* ]]; then
    echo "| sluice kill -> first write p99 | $(fmt2 "$(awk -v v="${R[sluice.p99]}" 'BEGIN {print v / 1000}')") s | < 3 s | $P99_VERDICT |"
    echo "| sluice acknowledged durable writes lost | ${R[sluice.durable_lost]} of ${R[sluice.durable_acked]} | 0 | $LOSS_VERDICT |"
    echo "| sluice lost writes a node not killed acknowledged | $((R[sluice.plain_lost_elsewhere] + R[sluice.durable_lost_elsewhere])) | 0 | $([[ $((R[sluice.plain_lost_elsewhere] + R[sluice.durable_lost_elsewhere])) = 0 ]] && echo met || echo "**missed**") |"
  fi
  if [[ -n "${P50_RATIO:-}" ]]; then
    echo "| Redis / sluice kill -> first write, p50 | ${P50_RATIO}x | (reported) | |"
    echo "| Redis / sluice kill -> first write, p99 | ${P99_RATIO}x | (reported) | |"
  fi
  echo
  echo "Lost plain writes are those the killed node acknowledged before its replica had them (a plain write is acknowledged once in the active's memory); the oldest column says how long before the kill the oldest of them was acknowledged (negative: its answer, sent just before the kill, was read after it). A lost write acknowledged by a node that was not killed, or a lost durable write, would be a bug."
  [[ " $SIDES " != *" redis "* ]] || echo "Redis durable writes to the failed primary's slots cannot resume before the restore: the promoted replica has no replica of its own (the killed primary was its only partner, and replica migration only takes a replica from a primary with more than \`cluster-migration-barrier\` = 1), so \`WAIT 1\` answers 0 there; sluice's failover refills the replica slot on the third node, so \`majority\` writes resume with the plain ones."
  for side in $SIDES; do
    echo
    echo "Trials, $side (victim, vbuckets or slots it owned, kill -> first write ms, kill -> first durable write ms (-1: none in the trial), acknowledged plain / durable, lost plain / durable):"
    echo
    echo "| trial | killed | owned | first write ms | first durable ms | acknowledged | lost |"
    echo "|---:|---|---:|---:|---:|---:|---:|"
    trial_rows "$WORK/$side.trials"
  done
  echo
  echo "Commands (\$TMP is a fresh temporary directory; ports as in this run):"
  echo
  echo '```'
  [[ " $SIDES " != *" sluice "* ]] || printf '%s\n%s   # ID = n1, n2, n3\n' "${R[etcd.cmd]}" "${R[node.cmd]}"
  [[ " $SIDES " != *" redis "* ]] || echo "${R[redis.cmd]}   # x 6"
  printf '%s\n' "${COMMANDS[@]}"
  echo '```'
} >"$REPORT"
append_report "$REPORT"
