#!/usr/bin/env bash
# Rebalance throughput under load: a third node added to a populated 2-node cluster and the data
# rebalanced onto it (then, optionally, removed again), timed, with a light writer running
# throughout; sluice against its own DCP read floor and against Redis Cluster. (Issue 14:
# "Rebalance in and out under load ... Moving 1M items is timed", and RESULTS.md's "Rebalance
# throughput".)
#
# 1. sluice: etcd and nodes n1, n2 (`sluiced --etcd`), `sluice cluster init --replicas 1
#    --vbuckets $VBUCKETS`; ITEMS keys x VALUE_SIZE bytes written with `sluice load --populate`
#    sent to each node in turn (each node takes the keys of the vbuckets it is active for and
#    answers NOT_MY_VBUCKET to the rest: the two populate counts add up to ITEMS), persisted and
#    replicated. Then n3 starts, `sluice cluster add n3`, `sluice_rebalance_writer` starts (a
#    smart client writing new keys at WRITER_RATE/s, following the map), and `sluice cluster
#    rebalance` is timed from its start to its exit (the `rebalance` key `done`). What moved comes
#    from the maps in etcd before and after: every chain that gained a node is one copy of that
#    vbucket's items (its high seqno on its active: every key is written once, so seqnos are items)
#    sent by the old active over DCP. After it: the writer's refusals (TMPFAIL and NOT_MY_VBUCKET
#    are retried; anything else is an error) and its read-back of every acknowledged key; the
#    active item count (`curr_items` summed over the nodes) = ITEMS + the writer's keys; every
#    replica's high seqno equals its active's (waited for, at most 60 s).
#    The floor: `sluice drain` of the same vbuckets from the nodes that hold them besides n3 (n1's
#    and n2's share at once, each a plain DCP read of what the rebalance copied).
#    REBALANCE_OUT=1: `sluice cluster remove n3` and a second timed rebalance, checked the same way.
# 2. Redis: 4 redis-servers made 2 primaries with 1 replica each (`cluster addslotsrange`, `meet`,
#    `replicate`: `redis-cli --cluster create` wants 3 primaries),
#    the same ITEMS keys and values sent with `redis-cli --pipe` to each primary in
#    turn (each takes its slots' keys and answers MOVED to the rest); then a third primary (and a
#    replica of it) joins with `redis-cli --cluster add-node`, the writer starts, and
#    `redis-cli --cluster rebalance --cluster-use-empty-masters` is timed; moved = the keys the
#    new primary holds afterwards (less the writer's). REBALANCE_OUT=1: `--cluster-weight
#    NEW=0` moves them back, timed.
#
# No numeric target in the issue: the ratios are reported. Checks (reported as verdicts): no
# writer error beyond retried TMPFAIL / NOT_MY_VBUCKET, no acknowledged write lost, the item count,
# every replica converged.
#
# Usage: bench/rebalance.sh [BUILD_DIR]                (default: build; a RelWithDebInfo build)
# Environment (defaults in brackets):
#   ITEMS [1000000]   VALUE_SIZE [100]   VBUCKETS [1024]   WRITER_RATE [1000] writes/s
#   MOVES_PER_NODE [the cluster's default, 4] (settings rebalance_moves_per_node)
#   REBALANCE_OUT [1]   SIDES ["sluice redis"]   QUICK=1 (ITEMS=100000; RESULTS.md says so)
#   LOG_LEVEL [warn]   KEEP_LOGS=DIR   REDIS_SERVER / REDIS_CLI [from PATH]   ETCD [from PATH]
#   RESULTS [bench/RESULTS.md]; RESULTS=/dev/null to not record
set -euo pipefail

BENCH=rebalance
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${1:-${BUILD_DIR:-build}}"
[[ "$BUILD_DIR" = /* ]] || BUILD_DIR="$ROOT/$BUILD_DIR"
SLUICE="$BUILD_DIR/sluice"
WRITER="$BUILD_DIR/bench/sluice_rebalance_writer"

[[ "${QUICK:-0}" = 1 ]] && ITEMS="${ITEMS:-100000}"
ITEMS="${ITEMS:-1000000}"
VALUE_SIZE="${VALUE_SIZE:-100}"
VBUCKETS="${VBUCKETS:-1024}"
WRITER_RATE="${WRITER_RATE:-1000}"
MOVES_PER_NODE="${MOVES_PER_NODE:-}"
REBALANCE_OUT="${REBALANCE_OUT:-1}"
SIDES="${SIDES:-sluice redis}"
LOG_LEVEL="${LOG_LEVEL:-warn}"
REDIS_SERVER="${REDIS_SERVER:-$(command -v redis-server || true)}"
REDIS_CLI="${REDIS_CLI:-$(command -v redis-cli || true)}"
ETCD="${ETCD:-$(command -v etcd || true)}"
RESULTS="${RESULTS:-$ROOT/bench/RESULTS.md}"
# A 5 s lease (the default): a node starved of CPU for a moment by the rebalance on these shared
# cores must not lose its registration (failover.sh uses 1 s to time failovers).
NODE_TTL=5

WORK="$(mktemp -d /tmp/sluice-bench.XXXXXX)"
# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"
declare -A R
COMMANDS=()
ETCD_PID=""
WRITER_PID=""
declare -A REDIS_PID
cleanup() {
  local pid
  for pid in "${NODE_PID[@]}" "${REDIS_PID[@]}" $ETCD_PID $WRITER_PID; do kill -KILL "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ -n "${KEEP_LOGS:-}" ]]; then
    mkdir -p "$KEEP_LOGS"
    cp "$WORK"/*.err "$WORK"/*.log "$WORK"/*.json "$KEEP_LOGS"/ 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

for bin in "$SLUICE" "$BUILD_DIR/sluiced" "$WRITER"; do
  [[ -x "$bin" ]] || die "no $bin: build first (make build)"
done
cluster_bench_preamble

# ---- The writer (both sides) ----
# writer_start SIDE HOSTS PREFIX / writer_stop NAME: the writer's JSON in $WORK/NAME.writer.json
writer_start() {
  local cmd=("$WRITER" --side "$1" --hosts "$2" --prefix "$3" --rate "$WRITER_RATE" --value-size "$VALUE_SIZE")
  record "${cmd[@]}"
  "${cmd[@]}" >"$WORK/writer.out" 2>>"$WORK/writer.err" &
  WRITER_PID=$!
}
writer_stop() {
  kill -TERM "$WRITER_PID" 2>/dev/null || true
  wait "$WRITER_PID" || die "$1: the writer failed: $(tail -3 "$WORK/writer.err")"
  WRITER_PID=""
  cp "$WORK/writer.out" "$WORK/$1.writer.json"
}
# writer_figures NAME: R[NAME.acked], R[NAME.lost], R[NAME.refusals] (reason=count ...),
# R[NAME.errors] (refusals other than ALLOWED, a regex), R[NAME.longest_ms].
writer_figures() {
  local f="$WORK/$1.writer.json"
  R[$1.acked]="$(jq .acked "$f")"
  R[$1.lost]="$(jq .lost "$f")"
  R[$1.longest_ms]="$(fmt0 "$(jq .longest_retry_ms "$f")")"
  R[$1.refusals]="$(jq -r '.refusals | to_entries | map("\(.key) \(.value)") | join(", ")' "$f")"
  R[$1.errors]="$(jq --arg ok "$2" '[.refusals | to_entries[] | select(.key | test($ok) | not) | .value] | add // 0' "$f")"
}

# ---- sluice ----
CLUSTER=bench
ETCD_FLAGS=()
etcd_get() { ETCDCTL_API=3 etcdctl --endpoints "$ETCD_URL" get "/sluice/$CLUSTER/$1" --print-value-only; }
# sluice_nodes_ok N: N nodes active and alive, each holding actives and replicas, no rebalance.
sluice_nodes_ok() {
  [[ "$(cluster_rows | awk '$2 == "active" && $3 == "yes" && $4 > 0 && $5 > 0' | wc -l)" = "$1" ]]
}
# seqnos ID: node ID's "vbucket high_seqno" lines (its vbuckets that are not dead).
seqnos() {
  "$SLUICE" vbucket-seqnos --port "${NODE_PORT[$1]}" "${AUTH[@]}" --json |
    jq -r '.vbuckets[] | "\(.vbucket) \(.high_seqno)"'
}
# map_file NAME: the bucket's map in $WORK/NAME.map.json, and every node's seqnos in
# $WORK/NAME.seqnos (lines "node vbucket high_seqno").
snapshot() {
  local id
  etcd_get buckets/default/map >"$WORK/$1.map.json"
  : >"$WORK/$1.seqnos"
  for id in "${!NODE_PID[@]}"; do seqnos "$id" | sed "s/^/$id /" >>"$WORK/$1.seqnos"; done
}
# The replicas that differ from their active's high seqno in snapshot NAME ("vb node seqno active").
unconverged() {
  python3 - "$WORK/$1.map.json" "$WORK/$1.seqnos" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
seq = {}
for line in open(sys.argv[2]):
    node, vb, s = line.split()
    seq[(node, int(vb))] = int(s)
for vb, chain in enumerate(m["vbucket_map"]):
    active = seq.get((chain[0], vb))
    for r in chain[1:]:
        if r and seq.get((r, vb)) != active:
            print(vb, r, seq.get((r, vb)), active)
EOF
}
converged() { snapshot "$1" && [[ -z "$(unconverged "$1")" ]]; }
# moves BEFORE AFTER: what the rebalance copied: "vbuckets_changed copies items" and, in
# $WORK/AFTER.drain, one line per node besides the new ones: "node vbucket-list" of the moved
# vbuckets it holds after (the drain floor reads those).
moves() {
  python3 - "$WORK/$1.map.json" "$WORK/$2.map.json" "$WORK/$2.seqnos" "$WORK/$2.drain" <<'EOF'
import json, sys
before, after = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
seq = {}
for line in open(sys.argv[3]):
    node, vb, s = line.split()
    seq[(node, int(vb))] = int(s)
changed = copies = items = 0
drain = {}
for vb, (old, new) in enumerate(zip(before["vbucket_map"], after["vbucket_map"])):
    if old == new:
        continue
    changed += 1
    gained = [n for n in new if n and n not in old]
    n_items = seq[(new[0], vb)]
    copies += len(gained)
    items += n_items * len(gained)
    if gained:
        holder = next((n for n in new if n and n not in gained), None) or old[0]
        drain.setdefault(holder, []).append(vb)
with open(sys.argv[4], "w") as f:
    for node, vbs in sorted(drain.items()):
        f.write(node + " " + ",".join(map(str, vbs)) + "\n")
print(changed, copies, items)
EOF
}
active_items() {
  local id sum=0
  for id in "${!NODE_PID[@]}"; do
    sum=$((sum + $(json_field "$("$SLUICE" stats --port "${NODE_PORT[$id]}" "${AUTH[@]}" --json)" curr_items)))
  done
  echo "$sum"
}
# floor NAME: `sluice drain` of $WORK/NAME.drain's vbuckets from their holders at once.
floor() {
  local node vbs pids=() start cmd
  start="$(now)"
  while read -r node vbs; do
    cmd=("$SLUICE" drain --port "${NODE_PORT[$node]}" "${AUTH[@]}" --vbuckets "$vbs" --json)
    record "$SLUICE" drain --port "PORT($node)" "${AUTH[@]}" --vbuckets "(the moved vbuckets $node holds)" --json
    "${cmd[@]}" >"$WORK/$1.drain.$node.json" 2>>"$WORK/drain.err" &
    pids+=($!)
  done <"$WORK/$1.drain"
  for pid in "${pids[@]}"; do wait "$pid" || die "$1: a floor drain failed: $(tail -3 "$WORK/drain.err")"; done
  R[$1.drain_s]="$(since "$start")"
  R[$1.drain_items]="$(cat "$WORK/$1".drain.*.json | jq -s 'map(.items) | add')"
}
# timed_rebalance NAME: `sluice cluster rebalance` under the writer, then the checks and figures.
timed_rebalance() {
  local name="$1" before="$2" start hosts="" id items
  for id in n1 n2 n3; do hosts+="${hosts:+,}127.0.0.1:${NODE_PORT[$id]}"; done
  writer_start sluice "$hosts" "$name-"
  sleep 1
  record "$SLUICE" cluster rebalance "${ETCD_FLAGS[@]}"
  log "sluice $name: rebalancing"
  start="$(now)"
  "$SLUICE" cluster rebalance --timeout 3600 "${ETCD_FLAGS[@]}" >"$WORK/$name.rebalance.log" 2>&1 ||
    die "sluice $name: the rebalance failed: $(tail -3 "$WORK/$name.rebalance.log")"
  R[$name.seconds]="$(since "$start")"
  writer_stop "$name"
  writer_figures "$name" '^(Etmpfail|NotMyVbucket)$'  # McbpStatusName's spellings
  start="$(now)"
  wait_for 60 "sluice $name: every replica at its active's high seqno" converged "$name"
  R[$name.converge_s]="$(since "$start")"
  read -r "R[$name.changed]" "R[$name.copies]" "R[$name.items]" <<<"$(moves "$before" "$name")"
  items="$(active_items)"
  R[$name.count]="$items"
  WRITTEN=$((WRITTEN + R[$name.acked]))
  R[$name.count_expected]=$((ITEMS + WRITTEN))
  R[$name.items_s]="$(awk -v n="${R[$name.items]}" -v s="${R[$name.seconds]}" 'BEGIN {printf "%.0f", n / s}')"
  R[$name.mb_s]="$(awk -v n="${R[$name.items]}" -v v="$VALUE_SIZE" -v s="${R[$name.seconds]}" 'BEGIN {printf "%.1f", n * v / s / 1e6}')"
  floor "$name"
  R[$name.drain_items_s]="$(awk -v n="${R[$name.drain_items]}" -v s="${R[$name.drain_s]}" 'BEGIN {printf "%.0f", n / s}')"
  log "sluice $name: ${R[$name.changed]} chains changed, ${R[$name.items]} items copied in ${R[$name.seconds]} s (${R[$name.items_s]} items/s); drain of the same ${R[$name.drain_items]} items ${R[$name.drain_s]} s; writer ${R[$name.acked]} acked, lost ${R[$name.lost]}, refusals: ${R[$name.refusals]}; items $items (expected ${R[$name.count_expected]})"
}

run_sluice() {
  local id out populated=0 p
  WRITTEN=0
  echo '{"users":[{"name":"bench","password":"bench"}]}' >"$WORK/users.json"
  AUTH=(--user bench --password bench)
  start_etcd
  for id in n1 n2; do start_etcd_node "$id"; done
  record "$SLUICE" cluster init --nodes n1,n2 --replicas 1 --vbuckets "$VBUCKETS" "${ETCD_FLAGS[@]}"
  "$SLUICE" cluster init --nodes n1,n2 --replicas 1 --vbuckets "$VBUCKETS" "${ETCD_FLAGS[@]}" \
    >/dev/null || die "sluice cluster init failed"
  if [[ -n "$MOVES_PER_NODE" ]]; then
    record etcdctl put "/sluice/$CLUSTER/settings" "{\"rebalance_moves_per_node\":$MOVES_PER_NODE}"
    ETCDCTL_API=3 etcdctl --endpoints "$ETCD_URL" put "/sluice/$CLUSTER/settings" \
      "{\"rebalance_moves_per_node\":$MOVES_PER_NODE}" >/dev/null
  fi
  wait_for 60 "2 balanced sluice nodes" sluice_nodes_ok 2
  local start
  start="$(now)"
  for id in n1 n2; do
    local load=("$SLUICE" load --port "${NODE_PORT[$id]}" "${AUTH[@]}" --keys "$ITEMS"
      --value-size "$VALUE_SIZE" --populate --set-ratio 1 --ops 1 --connections 2 --pipeline 32 --json)
    record "${load[@]}"
    out="$("${load[@]}" 2>/dev/null)" || true  # the other node's keys answer NOT_MY_VBUCKET
    p="$(json_field "$out" populated)"
    [[ -n "$p" ]] || die "sluice load on $id failed"
    populated=$((populated + p))
  done
  R[sluice.load_s]="$(since "$start")"
  [[ "$populated" = "$ITEMS" ]] || die "the populate wrote $populated keys, not $ITEMS"
  for id in n1 n2; do PORT="${NODE_PORT[$id]}" wait_persisted >/dev/null; done
  wait_for 120 "sluice: replicas caught up after the load" converged before
  R[sluice.before_count]="$(active_items)"
  log "sluice: $ITEMS items loaded in ${R[sluice.load_s]} s"

  start_etcd_node n3
  record "$SLUICE" cluster add n3 "${ETCD_FLAGS[@]}"
  "$SLUICE" cluster add n3 "${ETCD_FLAGS[@]}" >/dev/null || die "sluice cluster add n3 failed"
  timed_rebalance sluice.in before
  wait_for 60 "3 balanced sluice nodes" sluice_nodes_ok 3
  if [[ "$REBALANCE_OUT" = 1 ]]; then
    record "$SLUICE" cluster remove n3 "${ETCD_FLAGS[@]}"
    "$SLUICE" cluster remove n3 "${ETCD_FLAGS[@]}" >/dev/null || die "sluice cluster remove n3 failed"
    timed_rebalance sluice.out sluice.in
  fi
  for id in n3 n2 n1; do stop_node "$id"; done
  kill -TERM "$ETCD_PID" 2>/dev/null || true
  wait "$ETCD_PID" 2>/dev/null || true
  ETCD_PID=""
}

# ---- Redis ----
redis_free_port() {
  local port
  while true; do
    port=$((12000 + RANDOM % 10000))
    ss -Htan "sport = :$port or sport = :$((port + 10000))" | grep -q . || { echo "$port"; return; }
  done
}
start_redis() {  # start_redis PORT
  local port="$1"
  mkdir -p "$WORK/redis-$port"
  R[redis.cmd]="$REDIS_SERVER --port PORT --bind 127.0.0.1 --dir \$TMP/redis-PORT --cluster-enabled yes --cluster-config-file nodes.conf --save '' --appendonly no"
  "$REDIS_SERVER" --port "$port" --bind 127.0.0.1 --dir "$WORK/redis-$port" --cluster-enabled yes \
    --cluster-config-file nodes.conf --save '' --appendonly no >>"$WORK/redis-$port.log" 2>&1 &
  REDIS_PID[$port]=$!
  WAIT_LOG="$WORK/redis-$port.log" wait_for 30 "redis $port" redis_up "$port"
}
redis_up() { "$REDIS_CLI" -p "$1" ping >/dev/null 2>&1; }
redis_id() { "$REDIS_CLI" -p "$1" cluster myid; }
redis_met() { [[ "$("$REDIS_CLI" -p "${REDIS_PORTS[0]}" cluster nodes | grep -vc fail)" = "$1" ]] && redis_ok_nodes; }
# redis_replicate R P: R becomes P's replica (refused until R has heard of P).
redis_replicate() { [[ "$("$REDIS_CLI" -p "$1" cluster replicate "$(redis_id "$2")")" = OK ]]; }
redis_ok_nodes() { "$REDIS_CLI" -p "${REDIS_PORTS[0]}" cluster info | grep -q '^cluster_known_nodes:4'; }
# A node's key count; waits while it answers LOADING (a replica loading its primary's copy).
redis_dbsize() {
  local n i
  for ((i = 0; i < 600; i++)); do
    n="$("$REDIS_CLI" -p "$1" dbsize 2>/dev/null || true)"
    [[ "$n" =~ ^[0-9]+$ ]] && { echo "$n"; return 0; }
    sleep 0.1
  done
  die "redis on port $1 answered no key count: $n"
}
# Every node of IN_CLUSTER agrees the cluster is ok and the slots all covered.
redis_ok() {
  local port
  for port in "${IN_CLUSTER[@]}"; do
    "$REDIS_CLI" -p "$port" cluster info 2>/dev/null | grep -q '^cluster_state:ok' || return 1
  done
  "$REDIS_CLI" --cluster check "127.0.0.1:${REDIS_PORTS[0]}" >/dev/null 2>&1
}
# Every replica's key count equals its primary's.
redis_converged() {
  local line primary replica
  while read -r replica primary; do
    [[ "$(redis_dbsize "$replica")" = "$(redis_dbsize "$primary")" ]] || return 1
  done <"$WORK/redis.pairs"
}
redis_total() {
  local port sum=0
  for port in "${PRIMARIES[@]}"; do sum=$((sum + $(redis_dbsize "$port"))); done
  echo "$sum"
}
# redis_rebalance NAME ARGS...: `redis-cli --cluster rebalance` under the writer, timed.
redis_rebalance() {
  local name="$1" start hosts="" port
  shift
  for port in "${PRIMARIES[@]}"; do hosts+="${hosts:+,}127.0.0.1:$port"; done
  writer_start redis "$hosts" "$name-"
  sleep 1
  record "$REDIS_CLI" --cluster rebalance "127.0.0.1:${PRIMARIES[0]}" "$@"
  log "redis $name: rebalancing"
  start="$(now)"
  "$REDIS_CLI" --cluster rebalance "127.0.0.1:${PRIMARIES[0]}" "$@" >"$WORK/$name.rebalance.log" 2>&1 ||
    die "redis $name: the rebalance failed: $(tail -3 "$WORK/$name.rebalance.log")"
  R[$name.seconds]="$(since "$start")"
  writer_stop "$name"
  writer_figures "$name" '^(MOVED|ASK|TRYAGAIN)$'
  start="$(now)"
  wait_for 120 "redis $name: replicas converged" redis_converged
  R[$name.converge_s]="$(since "$start")"
}

run_redis() {
  local port start new_id
  REDIS_PORTS=()
  for _ in 1 2 3 4 5 6; do REDIS_PORTS+=("$(redis_free_port)"); done
  for port in "${REDIS_PORTS[@]}"; do start_redis "$port"; done
  # Two primaries (redis-cli --cluster create wants three): half the slots each, every node met,
  # then one replica of each.
  R[redis.create]="redis-cli -p P1 cluster addslotsrange 0 8191; redis-cli -p P2 cluster addslotsrange 8192 16383; redis-cli -p P1 cluster meet 127.0.0.1 PORT (each other node); redis-cli -p R1 cluster replicate ID(P1); redis-cli -p R2 cluster replicate ID(P2)"
  PRIMARIES=("${REDIS_PORTS[0]}" "${REDIS_PORTS[1]}")
  IN_CLUSTER=("${REDIS_PORTS[@]:0:4}")
  "$REDIS_CLI" -p "${PRIMARIES[0]}" cluster addslotsrange 0 8191 >/dev/null
  "$REDIS_CLI" -p "${PRIMARIES[1]}" cluster addslotsrange 8192 16383 >/dev/null
  for port in "${REDIS_PORTS[@]:1:3}"; do "$REDIS_CLI" -p "${PRIMARIES[0]}" cluster meet 127.0.0.1 "$port" >/dev/null; done
  wait_for 30 "4 Redis nodes know each other" redis_met 4
  wait_for 30 "a replica of ${PRIMARIES[0]}" redis_replicate "${REDIS_PORTS[2]}" "${PRIMARIES[0]}"
  wait_for 30 "a replica of ${PRIMARIES[1]}" redis_replicate "${REDIS_PORTS[3]}" "${PRIMARIES[1]}"
  printf '%s %s\n%s %s\n' "${REDIS_PORTS[2]}" "${PRIMARIES[0]}" "${REDIS_PORTS[3]}" "${PRIMARIES[1]}" >"$WORK/redis.pairs"
  for port in "${REDIS_PORTS[@]:4:2}"; do kill -TERM "${REDIS_PID[$port]}"; wait "${REDIS_PID[$port]}" || true; unset "REDIS_PID[$port]"; done
  wait_for 60 "a healthy Redis Cluster" redis_ok
  wait_for 60 "the Redis replicas linked" redis_converged
  [[ "${#PRIMARIES[@]}" = 2 ]] || die "expected 2 Redis primaries, found ${#PRIMARIES[@]}"
  # The same keys and values as `sluice load` (key:<index zero-padded to the width of ITEMS-1>).
  python3 - "$ITEMS" "$VALUE_SIZE" >"$WORK/redis.resp" <<'EOF'
import sys
n, size = int(sys.argv[1]), int(sys.argv[2])
width = len(str(max(n - 1, 0)))
value = "x" * size
out = sys.stdout
for i in range(n):
    key = "key:" + str(i).zfill(width)
    out.write("*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, size, value))
EOF
  start="$(now)"
  for port in "${PRIMARIES[@]}"; do
    record "$REDIS_CLI" -p "$port" --pipe "<" "\$TMP/redis.resp"
    "$REDIS_CLI" -p "$port" --pipe <"$WORK/redis.resp" >"$WORK/redis-pipe-$port.log" 2>&1 || true  # MOVED for the other's keys
  done
  R[redis.load_s]="$(since "$start")"
  [[ "$(redis_total)" = "$ITEMS" ]] || die "Redis holds $(redis_total) keys, not $ITEMS"
  wait_for 120 "Redis replicas caught up after the load" redis_converged
  log "redis: $ITEMS items loaded in ${R[redis.load_s]} s"

  # The third primary and its replica.
  for port in "${REDIS_PORTS[@]:4:2}"; do rm -rf "$WORK/redis-$port"; start_redis "$port"; done
  record "$REDIS_CLI" --cluster add-node "127.0.0.1:${REDIS_PORTS[4]}" "127.0.0.1:${PRIMARIES[0]}"
  "$REDIS_CLI" --cluster add-node "127.0.0.1:${REDIS_PORTS[4]}" "127.0.0.1:${PRIMARIES[0]}" >"$WORK/redis-add.log" 2>&1 ||
    die "redis add-node failed: $(tail -3 "$WORK/redis-add.log")"
  IN_CLUSTER+=("${REDIS_PORTS[4]}")
  wait_for 30 "the new Redis primary known" redis_ok
  new_id="$(redis_id "${REDIS_PORTS[4]}")"
  record "$REDIS_CLI" --cluster add-node "127.0.0.1:${REDIS_PORTS[5]}" "127.0.0.1:${PRIMARIES[0]}" --cluster-slave --cluster-master-id NEW_ID
  "$REDIS_CLI" --cluster add-node "127.0.0.1:${REDIS_PORTS[5]}" "127.0.0.1:${PRIMARIES[0]}" --cluster-slave \
    --cluster-master-id "$new_id" >>"$WORK/redis-add.log" 2>&1 || die "redis add-node (replica) failed: $(tail -3 "$WORK/redis-add.log")"
  echo "${REDIS_PORTS[5]} ${REDIS_PORTS[4]}" >>"$WORK/redis.pairs"
  IN_CLUSTER+=("${REDIS_PORTS[5]}")
  wait_for 60 "the new Redis replica linked" bash -c "'$REDIS_CLI' -p ${REDIS_PORTS[5]} info replication | grep -q '^master_link_status:up'"
  wait_for 30 "a healthy Redis Cluster" redis_ok
  PRIMARIES+=("${REDIS_PORTS[4]}")

  redis_rebalance redis.in --cluster-use-empty-masters
  R[redis.in.items]="$(redis_dbsize "${REDIS_PORTS[4]}")"  # the writer's keys there included
  R[redis.in.count]="$(redis_total)"
  R[redis.in.count_expected]=$((ITEMS + R[redis.in.acked]))
  if [[ "$REBALANCE_OUT" = 1 ]]; then
    R[redis.out.items]="$(redis_dbsize "${REDIS_PORTS[4]}")"  # with the writer's keys so far
    redis_rebalance redis.out --cluster-weight "$new_id=0"
    R[redis.out.count]="$(redis_total)"
    R[redis.out.count_expected]=$((ITEMS + R[redis.in.acked] + R[redis.out.acked]))
    [[ "$(redis_dbsize "${REDIS_PORTS[4]}")" = 0 ]] || log "warning: the removed primary still holds $(redis_dbsize "${REDIS_PORTS[4]}") keys"
  fi
  for name in redis.in redis.out; do
    [[ -n "${R[$name.seconds]:-}" ]] || continue
    R[$name.items_s]="$(awk -v n="${R[$name.items]}" -v s="${R[$name.seconds]}" 'BEGIN {printf "%.0f", n / s}')"
    R[$name.mb_s]="$(awk -v n="${R[$name.items]}" -v v="$VALUE_SIZE" -v s="${R[$name.seconds]}" 'BEGIN {printf "%.1f", n * v / s / 1e6}')"
    log "redis $name: ${R[$name.items]} keys moved in ${R[$name.seconds]} s (${R[$name.items_s]} items/s); writer ${R[$name.acked]} acked, lost ${R[$name.lost]}, refusals: ${R[$name.refusals]}"
  done
  for port in "${REDIS_PORTS[@]}"; do kill -TERM "${REDIS_PID[$port]}" 2>/dev/null || true; done
  wait "${REDIS_PID[@]}" 2>/dev/null || true
  REDIS_PID=()
}

for side in $SIDES; do
  log "$side: $ITEMS items"
  "run_$side"
done

# ---- Report ----
PHASES="in"
[[ "$REBALANCE_OUT" != 1 ]] || PHASES="in out"
QUICK_NOTE=""
[[ "$ITEMS" = 1000000 ]] || QUICK_NOTE=" — reduced run ($ITEMS items)"
check() { [[ "$1" = "$2" ]] && echo met || echo "**missed** ($1, expected $2)"; }

REPORT="$WORK/report.md"
{
  echo
  echo "## $(date -u '+%Y-%m-%d %H:%M UTC') — Rebalance throughput: a third node in (and out) under a writer, $ITEMS items, sluice against its DCP read floor and Redis Cluster${QUICK_NOTE}"
  echo
  echo "- Machine: $(nproc) cores ($CPU_MODEL), ${RAM_GB} GB RAM, $(uname -sr); all nodes, etcd, the writer and the drains share the cores; load average at start $LOADAVG"
  echo "- Commit: $COMMIT; build: ${BUILD_TYPE:-unknown} ($(basename "$BUILD_DIR")); Redis ${R[redis.version]}; etcd ${R[etcd.version]}"
  echo "- Data: $ITEMS keys \`key:<index>\` x $VALUE_SIZE-byte values; the writer (\`sluice_rebalance_writer\`, one write in flight, ${WRITER_RATE} new keys/s, a smart client following the map / MOVED / ASK) runs from 1 s before each rebalance to its end, then reads every acknowledged key back"
  [[ " $SIDES " != *" sluice "* ]] || echo "- sluice: etcd and nodes \`${R[node.cmd]}\`, \`cluster init --nodes n1,n2 --replicas 1 --vbuckets $VBUCKETS\`, \`rebalance_moves_per_node\` ${MOVES_PER_NODE:-4 (default)}; loaded in ${R[sluice.load_s]} s, persisted and replicated; then n3 \`cluster add\`ed and \`cluster rebalance\`d$([[ "$REBALANCE_OUT" != 1 ]] || echo ", then \`cluster remove\`d and rebalanced again"). Time: the \`sluice cluster rebalance\` command, request to \`done\`. Moved: each chain that gained a node is one DCP copy of the vbucket's items (high seqno on its active) from the old active; items/s counts those copies (actives and replicas). Floor: \`sluice drain\` of the same vbuckets from the node(s) holding them besides the new one, both at once"
  [[ " $SIDES " != *" redis "* ]] || echo "- Redis: \`${R[redis.cmd]}\`, 2 primaries + 1 replica each (\`cluster addslotsrange\` halves, \`cluster meet\`, \`cluster replicate\`: \`--cluster create\` wants 3 primaries), loaded with \`redis-cli --pipe\` in ${R[redis.load_s]} s; a third primary and its replica added (\`--cluster add-node\`), \`--cluster rebalance --cluster-use-empty-masters\`$([[ "$REBALANCE_OUT" != 1 ]] || echo ", then \`--cluster rebalance --cluster-weight NEW=0\`"). Moved: the keys the third primary holds after the rebalance in (\`MIGRATE\`d from the primaries; its replica's copy is its own full sync, not counted)"
  echo
  echo "| side | phase | seconds | vbuckets (chains) changed / slots | items moved | items/s | MB/s (values) | floor: drain of the same items, items/s | rebalance / floor | writer acked | writer refusals (retried) | errors | lost | items after (expected) | replicas converged after |"
  echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|"
  for side in $SIDES; do
    for phase in $PHASES; do
      n="$side.$phase"
      if [[ "$side" = sluice ]]; then
        echo "| sluice | $phase | ${R[$n.seconds]} | ${R[$n.changed]} (${R[$n.copies]} copies) | ${R[$n.items]} | ${R[$n.items_s]} | ${R[$n.mb_s]} | ${R[$n.drain_items_s]} (${R[$n.drain_items]} in ${R[$n.drain_s]} s) | $(ratio "${R[$n.items_s]}" "${R[$n.drain_items_s]}") | ${R[$n.acked]} | ${R[$n.refusals]:-none} | ${R[$n.errors]} | ${R[$n.lost]} | ${R[$n.count]} (${R[$n.count_expected]}) | ${R[$n.converge_s]} s |"
      else
        echo "| Redis Cluster | $phase | ${R[$n.seconds]} | 5461 slots | ${R[$n.items]} | ${R[$n.items_s]} | ${R[$n.mb_s]} | | | ${R[$n.acked]} | ${R[$n.refusals]:-none} | ${R[$n.errors]} | ${R[$n.lost]} | ${R[$n.count]} (${R[$n.count_expected]}) | ${R[$n.converge_s]} s |"
      fi
    done
  done
  echo
  echo "| figure | measured | target | verdict |"
  echo "|---|---:|---:|---|"
  if [[ " $SIDES " = *" sluice "* ]]; then
    for phase in $PHASES; do
      n="sluice.$phase"
      echo "| sluice rebalance $phase items/s / drain of the same vbuckets | $(ratio "${R[$n.items_s]}" "${R[$n.drain_items_s]}")x | (reported) | |"
      [[ " $SIDES " != *" redis "* ]] || echo "| sluice / Redis Cluster rebalance $phase items/s | $(ratio "${R[$n.items_s]}" "${R[redis.$phase.items_s]}")x | (reported) | |"
      echo "| sluice $phase: writer errors beyond retried TMPFAIL / NOT_MY_VBUCKET | ${R[$n.errors]} | 0 | $(check "${R[$n.errors]}" 0) |"
      echo "| sluice $phase: acknowledged writes lost | ${R[$n.lost]} of ${R[$n.acked]} | 0 | $(check "${R[$n.lost]}" 0) |"
      echo "| sluice $phase: active items after | ${R[$n.count]} | ${R[$n.count_expected]} | $(check "${R[$n.count]}" "${R[$n.count_expected]}") |"
      echo "| sluice $phase: every replica at its active's high seqno | after ${R[$n.converge_s]} s | within 60 s | met |"
    done
  fi
  echo
  echo "Commands (\$TMP is a fresh temporary directory; PORT the node's):"
  echo
  echo '```'
  [[ " $SIDES " != *" sluice "* ]] || printf '%s\n%s   # ID = n1, n2, n3\n' "${R[etcd.cmd]}" "${R[node.cmd]}"
  [[ " $SIDES " != *" redis "* ]] || printf '%s   # x 4, then x 2 more\n%s\n' "${R[redis.cmd]}" "${R[redis.create]}"
  printf '%s\n' "${COMMANDS[@]}"
  echo '```'
} >"$REPORT"
append_report "$REPORT"
